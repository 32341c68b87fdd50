//! `slack::verify`: arbitrary secrets, clock, timestamp, signature and body.
//!
//! Invariants (an independent oracle, recomputed with `verify::sign`):
//! * `Verifier::verify` never panics;
//! * it succeeds only if the timestamp is a number within `MAX_CLOCK_SKEW` of the clock and the
//!   signature is `sign(secret, ts, body)` (hex in either case) for one of the configured secrets;
//! * conversely, such a signature is always accepted (so the oracle is not vacuous);
//! * the error is the documented one for each way of failing;
//! * `verify_headers` agrees with `verify` whenever both headers are present and readable.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue};
use lambda_pause::clock::ManualClock;
use lambda_pause::secrets::SigningSecret;
use lambda_pause::slack::verify::{
    MAX_CLOCK_SKEW, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier, VerifyError, sign,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

/// Slack's documented example; the default "now".
const BASE_NOW: u64 = 1_531_420_618;

#[derive(Arbitrary, Debug)]
enum Timestamp {
    /// Any text at all.
    Raw(String),
    /// `now + offset` written as a number, with optional decoration the parser may or may not
    /// accept (surrounding whitespace, `+` sign, leading zeros).
    Near {
        offset: i16,
        padding: u8,
        plus: bool,
        zeros: u8,
    },
}

#[derive(Arbitrary, Debug)]
enum Tweak {
    None,
    Uppercase,
    UppercasePrefix,
    FlipChar(u8),
    Truncate(u8),
    Append(char),
    DropPrefix,
    PadLeft,
}

#[derive(Arbitrary, Debug)]
enum Signature {
    /// Any text at all.
    Raw(String),
    /// The signature of this request (maybe with a different key or timestamp), maybe tweaked.
    Signed {
        /// Index into the configured secrets; out of range means `other_secret`.
        secret: u8,
        other_secret: String,
        /// Sign a different timestamp than the one sent.
        other_timestamp: Option<String>,
        /// Sign the untrimmed timestamp.
        untrimmed: bool,
        tweak: Tweak,
    },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// The rotation list (may be empty; secrets may be empty).
    secrets: Vec<String>,
    /// Clock: `BASE_NOW + shift` (wrapping in u32 keeps `SystemTime` arithmetic in range).
    shift: Option<u32>,
    timestamp: Timestamp,
    signature: Signature,
    /// The rest of the input, as is.
    body: &'a [u8],
}

fn render_timestamp(t: &Timestamp, now: u64) -> String {
    match t {
        Timestamp::Raw(s) => s.clone(),
        Timestamp::Near {
            offset,
            padding,
            plus,
            zeros,
        } => {
            let n = now.saturating_add_signed(i64::from(*offset));
            let pad = |bit: u8| match padding >> bit & 3 {
                0 => "",
                1 => " ",
                2 => "\t",
                _ => "\u{a0}",
            };
            format!(
                "{}{}{}{}{}",
                pad(0),
                if *plus { "+" } else { "" },
                "0".repeat(usize::from(zeros % 4)),
                n,
                pad(2)
            )
        }
    }
}

fn render_signature(s: &Signature, secrets: &[SigningSecret], ts: &str, body: &[u8]) -> String {
    match s {
        Signature::Raw(s) => s.clone(),
        Signature::Signed {
            secret,
            other_secret,
            other_timestamp,
            untrimmed,
            tweak,
        } => {
            let other;
            let key = match secrets.get(usize::from(*secret)) {
                Some(key) => key,
                None => {
                    other = SigningSecret::new(other_secret.clone());
                    &other
                }
            };
            let signed_ts = match other_timestamp {
                Some(t) => t.as_str(),
                None if *untrimmed => ts,
                None => ts.trim(),
            };
            let mut sig = sign(key, signed_ts, body);
            match tweak {
                Tweak::None => {}
                Tweak::Uppercase => sig = format!("v0={}", sig[3..].to_ascii_uppercase()),
                Tweak::UppercasePrefix => sig = sig.replacen("v0=", "V0=", 1),
                Tweak::FlipChar(i) => {
                    let i = 3 + usize::from(*i) % (sig.len() - 3);
                    let c = if &sig[i..=i] == "0" { "1" } else { "0" };
                    sig.replace_range(i..=i, c);
                }
                Tweak::Truncate(n) => sig.truncate(sig.len() - usize::from(*n) % sig.len()),
                Tweak::Append(c) => sig.push(*c),
                Tweak::DropPrefix => sig = sig[3..].to_string(),
                Tweak::PadLeft => sig.insert(0, ' '),
            }
            sig
        }
    }
}

/// The oracle: what `verify` must answer, computed without looking at its code paths.
fn expected(
    secrets: &[SigningSecret],
    now: u64,
    ts: &str,
    sig: &str,
    body: &[u8],
) -> Result<(), VerifyError> {
    let Ok(t) = ts.trim().parse::<u64>() else {
        return Err(VerifyError::BadTimestamp);
    };
    if now.abs_diff(t) > MAX_CLOCK_SKEW.as_secs() {
        return Err(VerifyError::Stale);
    }
    let Some(hex) = sig.strip_prefix("v0=") else {
        return Err(VerifyError::MalformedSignature);
    };
    // Accepted hex: an even number of hex digits, either case.
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(VerifyError::MalformedSignature);
    }
    let matches = secrets.iter().any(|secret| {
        let good = sign(secret, ts.trim(), body);
        good[3..].eq_ignore_ascii_case(hex)
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fuzz_target!(|input: Input<'_>| {
    let now = BASE_NOW.wrapping_add(u64::from(input.shift.unwrap_or(0)));
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(now)));
    let secrets: Vec<SigningSecret> = input
        .secrets
        .iter()
        .take(4)
        .map(|s| SigningSecret::new(s.clone()))
        .collect();
    let ts = render_timestamp(&input.timestamp, now);
    let body = input.body;
    let sig = render_signature(&input.signature, &secrets, &ts, body);

    let verifier = Verifier::new(secrets.clone(), clock);
    let got = verifier.verify(&ts, &sig, body);
    let want = expected(&secrets, now, &ts, &sig, body);
    assert_eq!(
        got,
        want,
        "verify(ts={ts:?}, sig={sig:?}, body={} bytes, {} secrets) disagrees with the oracle",
        body.len(),
        secrets.len()
    );
    if got.is_ok() {
        // Restating the headline invariant directly: success means this is `sign()`'s output.
        assert!(
            secrets
                .iter()
                .any(|s| sign(s, ts.trim(), body).eq_ignore_ascii_case(&sig)),
            "accepted a signature that no configured secret produces"
        );
    }

    // The header path: same answer whenever both headers can be carried and read as text.
    let (Ok(ts_value), Ok(sig_value)) = (
        HeaderValue::from_bytes(ts.as_bytes()),
        HeaderValue::from_bytes(sig.as_bytes()),
    ) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(TIMESTAMP_HEADER, ts_value);
    headers.insert(SIGNATURE_HEADER, sig_value);
    let from_headers = verifier.verify_headers(&headers, body);
    if ts.is_ascii() && sig.is_ascii() {
        assert_eq!(from_headers, got, "verify_headers disagrees with verify");
    } else {
        // Non-ASCII header values are not `to_str()`-able: treated as missing.
        assert_eq!(from_headers, Err(VerifyError::MissingHeaders));
    }
});
