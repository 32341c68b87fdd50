//! Identifier newtypes: Slack users, channels and teams, and our own opaque request ids.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_newtype!(
    /// A Slack user id (`U…` or `W…`).
    UserId
);
id_newtype!(
    /// A Slack channel id (`C…`, `G…`, `D…`).
    ChannelId
);
id_newtype!(
    /// A Slack workspace id (`T…`).
    TeamId
);
id_newtype!(
    /// An event source mapping's UUID, as AWS gives it.
    MappingUuid
);

/// The opaque id of a request held by the server: 128 random bits, hex. It is what buttons carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(String);

impl RequestId {
    /// A new unguessable id.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        Self(hex::encode(bytes))
    }

    /// A stable id derived from another (e.g. the scheduled resume of a timed pause): unguessable
    /// as long as the original is, and the same every time it is derived.
    pub fn derived(from: &RequestId, purpose: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(from.0.as_bytes())
            .chain_update(b"/")
            .chain_update(purpose.as_bytes())
            .finalize();
        Self(hex::encode(&digest[..16]))
    }

    /// Accepts only the shape we generate (32 lowercase hex digits); anything else is not ours.
    pub fn parse(value: &str) -> Option<Self> {
        let ok = value.len() == 32
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_round_trip() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert_eq!(RequestId::parse(a.as_str()), Some(a));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = RequestId::generate();
        assert_eq!(RequestId::derived(&a, "x"), RequestId::derived(&a, "x"));
        assert_ne!(RequestId::derived(&a, "x"), RequestId::derived(&a, "y"));
        assert_ne!(RequestId::derived(&a, "x"), a);
        let d = RequestId::derived(&a, "x");
        assert_eq!(RequestId::parse(d.as_str()), Some(d));
    }

    #[test]
    fn request_id_rejects_foreign_shapes() {
        for bad in [
            "",
            "abc",
            &"A".repeat(32),
            &"g".repeat(32),
            &"a".repeat(33),
            "../../etc/passwd",
        ] {
            assert_eq!(RequestId::parse(bad), None, "{bad}");
        }
    }
}
