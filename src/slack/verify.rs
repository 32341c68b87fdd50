//! The signed-request check: Slack's v0 HMAC-SHA256 signature over the raw, size-limited body, as an axum extractor.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use sha2::Sha256;

use crate::clock::{Clock, unix_seconds};
use crate::secrets::SigningSecret;

/// How far a request's timestamp may be from now, either direction.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SIGNATURE_HEADER: &str = "x-slack-signature";

/// Why a request was not accepted as coming from Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature header")]
    MissingHeaders,
    #[error("timestamp is not a number")]
    BadTimestamp,
    #[error("timestamp is outside the allowed window")]
    Stale,
    #[error("signature is not in v0=<hex> form")]
    MalformedSignature,
    #[error("signature does not match")]
    Mismatch,
}

/// Checks Slack request signatures against one or more signing secrets (several during rotation).
pub struct Verifier {
    /// One HMAC per signing secret, already keyed: each check clones one instead of hashing
    /// the key again. (`Hmac`'s `Debug` shows no key material.)
    keyed: Vec<Hmac<Sha256>>,
    clock: Arc<dyn Clock>,
}

impl Verifier {
    pub fn new(secrets: Vec<SigningSecret>, clock: Arc<dyn Clock>) -> Self {
        let keyed = secrets
            .iter()
            .map(|secret| {
                Hmac::<Sha256>::new_from_slice(secret.expose())
                    .expect("HMAC accepts keys of any length")
            })
            .collect();
        Self { keyed, clock }
    }

    /// Verifies `signature` (`v0=<hex>`) over `v0:{timestamp}:{body}`.
    pub fn verify(&self, timestamp: &str, signature: &str, body: &[u8]) -> Result<(), VerifyError> {
        let ts: u64 = timestamp
            .trim()
            .parse()
            .map_err(|_| VerifyError::BadTimestamp)?;
        let now = unix_seconds(self.clock.now());
        if now.abs_diff(ts) > MAX_CLOCK_SKEW.as_secs() {
            return Err(VerifyError::Stale);
        }
        // An HMAC-SHA256 is 32 bytes: 64 hex digits.
        let mut expected = [0u8; 32];
        signature
            .strip_prefix("v0=")
            .and_then(|h| hex::decode_to_slice(h, &mut expected).ok())
            .ok_or(VerifyError::MalformedSignature)?;
        for keyed in &self.keyed {
            let mut mac = keyed.clone();
            mac.update(b"v0:");
            mac.update(timestamp.trim().as_bytes());
            mac.update(b":");
            mac.update(body);
            // `verify_slice` compares in constant time.
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
        Err(VerifyError::Mismatch)
    }

    /// Verifies a request from its headers.
    pub fn verify_headers(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        match (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)) {
            (Some(ts), Some(sig)) => self.verify(ts, sig, body),
            _ => Err(VerifyError::MissingHeaders),
        }
    }
}

/// Computes the `X-Slack-Signature` value for a body; used by our own test and demo clients.
pub fn sign(secret: &SigningSecret, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose()).expect("HMAC accepts keys of any length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The raw body of a request whose Slack signature checked out, with that signature (for replay checks).
///
/// The body is read up to `LIMIT` bytes (the route's limit). Rejects with 413 when it is longer,
/// 401 when the signature is missing, wrong or stale, and 400 when the body can't be read;
/// nothing else runs.
pub struct SignedBody<const LIMIT: usize>(pub Bytes, pub Signature);

/// A verified request's signature and timestamp: together they identify one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub value: String,
    pub timestamp: u64,
}

impl<S, const LIMIT: usize> FromRequest<S> for SignedBody<LIMIT>
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let too_large =
            || (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > LIMIT as u64) {
            // Refused before reading a byte of it.
            return Err(too_large());
        }
        let body = match Limited::new(body, LIMIT).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(too_large());
            }
            Err(_) => {
                return Err((StatusCode::BAD_REQUEST, "unreadable request body").into_response());
            }
        };
        let headers = &parts.headers;
        let verifier = Arc::<Verifier>::from_ref(state);
        match verifier.verify_headers(headers, &body) {
            Ok(()) => {
                let header = |name| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .trim()
                };
                let signature = Signature {
                    value: header(SIGNATURE_HEADER).to_owned(),
                    timestamp: header(TIMESTAMP_HEADER).parse().unwrap_or(0),
                };
                Ok(SignedBody(body, signature))
            }
            Err(err) => {
                tracing::warn!(reason = %err, "rejected a request that is not signed by Slack");
                Err((StatusCode::UNAUTHORIZED, "invalid request signature").into_response())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::time::{SystemTime, UNIX_EPOCH};

    /// Slack's documented example ("Verifying requests from Slack").
    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TIMESTAMP: &str = "1531420618";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    /// slack-morphism's verifier unit test vector.
    const MORPHISM_SECRET: &str = "fa2c05deeef5a4077494e89f54394de0";
    const MORPHISM_SIGNATURE: &str =
        "v0=baa91ef62d346e56607bbdd278a8acd570b91226854f15a382f43d33be42f666";

    fn clock_at(secs: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(secs)))
    }

    fn verifier(secrets: &[&str], now: u64) -> Verifier {
        Verifier::new(
            secrets.iter().map(|s| SigningSecret::new(*s)).collect(),
            clock_at(now),
        )
    }

    #[test]
    fn slack_documented_vector_verifies() {
        let v = verifier(&[SLACK_SECRET], 1531420618);
        assert_eq!(
            v.verify(SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY.as_bytes()),
            Ok(())
        );
        assert_eq!(
            sign(
                &SigningSecret::new(SLACK_SECRET),
                SLACK_TIMESTAMP,
                SLACK_BODY.as_bytes()
            ),
            SLACK_SIGNATURE
        );
    }

    #[test]
    fn slack_morphism_vector_verifies() {
        let v = verifier(&[MORPHISM_SECRET], 1531420618);
        assert_eq!(
            v.verify("1531420618", MORPHISM_SIGNATURE, b"test-body"),
            Ok(())
        );
    }

    #[test]
    fn any_secret_of_a_rotation_list_verifies() {
        let v = verifier(&["old-secret", SLACK_SECRET], 1531420618);
        assert_eq!(
            v.verify(SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn window_is_300_seconds_both_ways() {
        let ts = 1531420618;
        for (now, ok) in [
            (ts + 300, true),
            (ts - 300, true),
            (ts + 301, false),
            (ts - 301, false),
        ] {
            let v = verifier(&[SLACK_SECRET], now);
            let got = v.verify(SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY.as_bytes());
            assert_eq!(got.is_ok(), ok, "now = ts {:+}", now as i64 - ts as i64);
            if !ok {
                assert_eq!(got, Err(VerifyError::Stale));
            }
        }
    }

    #[test]
    fn tampering_is_detected() {
        let v = verifier(&[SLACK_SECRET], 1531420618);
        let mut body = SLACK_BODY.to_owned();
        body.push('x');
        assert_eq!(
            v.verify(SLACK_TIMESTAMP, SLACK_SIGNATURE, body.as_bytes()),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            v.verify("1531420619", SLACK_SIGNATURE, SLACK_BODY.as_bytes()),
            Err(VerifyError::Mismatch)
        );
        let wrong = verifier(&["another-secret"], 1531420618);
        assert_eq!(
            wrong.verify(SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY.as_bytes()),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn malformed_inputs_are_rejected_without_panicking() {
        let v = verifier(&[SLACK_SECRET], 1531420618);
        let body = SLACK_BODY.as_bytes();
        assert_eq!(
            v.verify("abc", SLACK_SIGNATURE, body),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            v.verify("", SLACK_SIGNATURE, body),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            v.verify("-1", SLACK_SIGNATURE, body),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            v.verify("99999999999999999999999", SLACK_SIGNATURE, body),
            Err(VerifyError::BadTimestamp)
        );
        for sig in ["", "v0=", "v1=abcd", "v0=zz", "a2114d57", "v0=a2114d5"] {
            let got = v.verify(SLACK_TIMESTAMP, sig, body);
            assert!(
                matches!(
                    got,
                    Err(VerifyError::MalformedSignature | VerifyError::Mismatch)
                ),
                "{sig}: {got:?}"
            );
        }
        let v0 = verifier(&[SLACK_SECRET], 0);
        assert_eq!(
            v0.verify(SLACK_TIMESTAMP, SLACK_SIGNATURE, body),
            Err(VerifyError::Stale)
        );
    }

    #[test]
    fn missing_headers_are_rejected() {
        let v = Verifier::new(
            vec![SigningSecret::new("s")],
            Arc::new(crate::clock::SystemClock),
        );
        assert_eq!(
            v.verify_headers(&HeaderMap::new(), b""),
            Err(VerifyError::MissingHeaders)
        );
        let now = unix_seconds(SystemTime::now()).to_string();
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, now.parse().unwrap());
        assert_eq!(v.verify_headers(&h, b""), Err(VerifyError::MissingHeaders));
        h.insert(
            SIGNATURE_HEADER,
            sign(&SigningSecret::new("s"), &now, b"").parse().unwrap(),
        );
        assert_eq!(v.verify_headers(&h, b""), Ok(()));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn a_correct_signature_verifies_and_any_flipped_byte_does_not(body in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<prop::sample::Index>()) {
                let v = verifier(&[SLACK_SECRET], 1531420618);
                let sig = sign(&SigningSecret::new(SLACK_SECRET), SLACK_TIMESTAMP, &body);
                prop_assert_eq!(v.verify(SLACK_TIMESTAMP, &sig, &body), Ok(()));
                if !body.is_empty() {
                    let mut tampered = body.clone();
                    tampered[flip.index(body.len())] ^= 0x01;
                    prop_assert_eq!(v.verify(SLACK_TIMESTAMP, &sig, &tampered), Err(VerifyError::Mismatch));
                }
            }

            #[test]
            fn junk_headers_never_panic_and_never_verify(ts in ".{0,30}", sig in ".{0,80}", body in proptest::collection::vec(any::<u8>(), 0..64)) {
                let v = verifier(&[SLACK_SECRET], 1531420618);
                prop_assert!(v.verify(&ts, &sig, &body).is_err());
            }
        }
    }
}
