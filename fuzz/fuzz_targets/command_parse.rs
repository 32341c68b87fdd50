//! `command::parse`: arbitrary command text (what Slack sends after `/lambda`).
//!
//! Invariants:
//! * `parse` (and the value parsers it uses) never panics;
//! * what it accepts is well-formed (the property tests' checks, plus: the parts re-validate,
//!   durations and `--force` only on pause, durations in range);
//! * round trip: the accepted command rendered back to canonical text (verb, function, source,
//!   `for`, `--region`, `--force`, `-- reason`, Slack-escaped) parses to the same `Command`.
//!   The crate has no renderer of its own, so `render` below is one written to the grammar in
//!   the module docs.
#![no_main]

use lambda_pause::command::{
    Action, Command, FunctionRef, MAX_DURATION, MAX_REASON_CHARS, Operation, Region, SourceRef,
    StatusQuery, VERBS, format_duration, parse, parse_duration, suggest,
};
use libfuzzer_sys::fuzz_target;

/// Slack's escaping of `&`, `<`, `>`.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Re-escapes a reason: `<…>` spans (found as the parser finds them) verbatim, the rest escaped.
fn escape_outside_markup(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let close = open + close;
        out.push_str(&escape(&rest[..open]));
        out.push_str(&rest[open..=close]);
        rest = &rest[close + 1..];
    }
    out.push_str(&escape(rest));
    out
}

/// A positional value as a token. A value that would read as a keyword or an option (a
/// function literally named `for` or `--force`, reachable through a Slack link label) is
/// written as a labelled link, which the tokenizer unwraps to its label.
fn token(value: &str) -> String {
    let escaped = escape(value);
    let keyword_like = value.eq_ignore_ascii_case("for")
        || value.starts_with("--")
        || value.starts_with(['\u{2014}', '\u{2013}']);
    if keyword_like {
        format!("<https://example.invalid|{escaped}>")
    } else {
        escaped
    }
}

fn render(cmd: &Command) -> String {
    let mut words: Vec<String> = Vec::new();
    match cmd {
        Command::Help => words.push("help".into()),
        Command::History(function) => {
            words.push("history".into());
            words.extend(function.iter().map(|f| token(f.as_str())));
        }
        Command::Status(StatusQuery {
            function,
            source,
            region,
        }) => {
            words.push("status".into());
            words.extend(function.iter().map(|f| token(f.as_str())));
            words.extend(source.iter().map(|s| token(s.as_str())));
            if let Some(region) = region {
                words.push(format!("--region {region}"));
            }
        }
        Command::Pause(op) | Command::Resume(op) => {
            words.push(op.action.as_str().into());
            words.push(token(op.function.as_str()));
            words.extend(op.source.iter().map(|s| token(s.as_str())));
            if let Some(d) = op.duration {
                words.push(format!("for {}", format_duration(d)));
            }
            if let Some(region) = &op.region {
                words.push(format!("--region {region}"));
            }
            if op.force {
                words.push("--force".into());
            }
            if let Some(reason) = &op.reason {
                words.push(format!("-- {}", escape_outside_markup(reason)));
            }
        }
    }
    words.join(" ")
}

fn check_function(f: &FunctionRef) {
    assert_eq!(FunctionRef::parse(f.as_str()).as_ref(), Ok(f));
    // The accessors re-split the validated string; none may panic, and the name is non-empty.
    assert!(!f.name().is_empty());
    let _ = (f.qualifier(), f.account());
    if let Some(region) = f.region() {
        assert!(
            Region::parse(region).is_some(),
            "function ARN region {region:?}"
        );
    }
}

fn check_source(s: &SourceRef) {
    assert_eq!(SourceRef::parse(s.as_str()).as_ref(), Ok(s));
    if let Some(region) = s.region() {
        assert!(
            Region::parse(region).is_some(),
            "source ARN region {region:?}"
        );
    }
}

fn check_region(r: &Region) {
    assert_eq!(Region::parse(r.as_str()).as_ref(), Some(r));
}

fn check_operation(op: &Operation) {
    check_function(&op.function);
    op.source.iter().for_each(check_source);
    op.region.iter().for_each(check_region);
    if let Some(d) = op.duration {
        assert_eq!(op.action, Action::Pause, "a duration on resume");
        assert!(!d.is_zero() && d <= MAX_DURATION, "duration {d:?}");
        assert_eq!(parse_duration(&format_duration(d)), Some(d));
    }
    if op.force {
        assert_eq!(op.action, Action::Pause, "--force on resume");
    }
    if let Some(reason) = &op.reason {
        assert!(!reason.trim().is_empty(), "blank reason");
        assert!(
            reason.chars().count() <= MAX_REASON_CHARS,
            "reason too long"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // The value parsers on each whitespace-separated word, as the unit tests do.
    for word in text.split_whitespace().take(8) {
        if let Ok(f) = FunctionRef::parse(word) {
            let _ = (f.name(), f.qualifier(), f.region(), f.account());
        }
        let _ = SourceRef::parse(word).map(|s| s.region().map(str::len));
        let _ = Region::parse(word);
        let _ = suggest(word, &VERBS);
        if let Some(d) = parse_duration(word) {
            assert!(!d.is_zero() && d <= MAX_DURATION);
            assert_eq!(parse_duration(&format_duration(d)), Some(d), "{word:?}");
        }
    }

    let Ok(cmd) = parse(&text) else {
        return;
    };
    match &cmd {
        Command::Pause(op) => {
            assert_eq!(op.action, Action::Pause);
            check_operation(op);
        }
        Command::Resume(op) => {
            assert_eq!(op.action, Action::Resume);
            check_operation(op);
        }
        Command::Status(q) => {
            q.function.iter().for_each(check_function);
            q.source.iter().for_each(check_source);
            q.region.iter().for_each(check_region);
            assert!(q.source.is_none() || q.function.is_some());
        }
        Command::History(f) => f.iter().for_each(check_function),
        Command::Help => {}
    }

    let rendered = render(&cmd);
    let again = parse(&rendered);
    assert_eq!(
        again.as_ref(),
        Ok(&cmd),
        "round trip failed:\n  text:     {text:?}\n  rendered: {rendered:?}"
    );
});
