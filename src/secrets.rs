//! Secret values (signing secrets, tokens, response URLs) in newtypes whose `Debug` never shows them.

use std::fmt;

/// A Slack signing secret. `Debug` prints `SigningSecret(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(String);

impl SigningSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// Parses `SLACK_SIGNING_SECRET`: one secret, or several separated by commas (rotation).
    pub fn parse_list(value: &str) -> Vec<SigningSecret> {
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SigningSecret::new)
            .collect()
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

/// A Slack bot token (`xoxb-…`). `Debug` prints `BotToken(***)`.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(String);

impl BotToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BotToken(***)")
    }
}

/// A Slack `response_url`: anyone holding it can post into the conversation, so it is a secret too.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ResponseUrl(String);

impl ResponseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseUrl(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let all = format!(
            "{:?} {:?} {:?}",
            SigningSecret::new("s3cr3t-signing"),
            BotToken::new("xoxb-s3cr3t"),
            ResponseUrl::new("https://hooks.slack.com/commands/s3cr3t")
        );
        assert!(!all.contains("s3cr3t"), "{all}");
    }

    #[test]
    fn signing_secret_list_accepts_rotation() {
        let list = SigningSecret::parse_list(" new , old,,");
        assert_eq!(
            list,
            vec![SigningSecret::new("new"), SigningSecret::new("old")]
        );
    }
}
