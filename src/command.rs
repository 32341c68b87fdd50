//! The `/lambda` command grammar: Slack's command text → [`Command`] or a typed [`ParseError`]; pure, no I/O, no wording.
//!
//! # Grammar
//!
//! The text is what Slack sends after `/lambda`:
//!
//! ```text
//! pause  <function> [<source>] [for <duration>] [--region <region>] [--force] [-- <reason>]
//! resume <function> [<source>] [--region <region>] [-- <reason>]
//! status [<function> [<source>]] [--region <region>]
//! help
//! ```
//!
//! * Verbs are case-insensitive. Synonyms (`stop`, `enable`, `list`, `?`, …) are *not* verbs;
//!   they only produce a suggestion in [`ParseError::UnknownVerb`].
//! * `<function>`: see [`FunctionRef`]; `<source>`: see [`SourceRef`]; `<duration>`: see
//!   [`parse_duration`]; `<region>`: see [`Region`].
//! * Options (`--region <r>`, `--region=<r>`, `--force`, `for <duration>`) may appear anywhere
//!   after the verb and before the reason separator. Option names are ASCII case-insensitive,
//!   and a leading em/en dash (`—region`, macOS autocorrect of `--region`) counts as `--`.
//!   `for` is a keyword: a function or source literally named `for` cannot be addressed.
//! * A duration split by spaces is joined back when the result is valid
//!   (`for 1h 30m`, `for 2 h` → `1h30m`, `2h`).
//! * A lone `--` token, or a lone `—` (em dash) / `–` (en dash) token, starts the reason:
//!   everything after it in the original text, trimmed, with its inner spacing kept verbatim.
//! * Tokens are separated by any run of whitespace (ASCII or Unicode, including the
//!   non-breaking space U+00A0 that Slack clients insert), and by zero-width spaces.
//!
//! # Slack escaping
//!
//! Slack HTML-escapes `&`, `<` and `>` in the command text as `&amp;`, `&lt;` and `&gt;`, so a
//! raw `<` or `>` in the text is always Slack markup: mentions `<@U123>`, `<@U123|bob>`,
//! `<#C123|general>`, `<!here>`, `<!subteam^S1|team>`, and auto-links `<http://x.io|x.io>`,
//! `<mailto:a@b.io|a@b.io>`, `<http://x.io>`. The rules are:
//!
//! * **Tokens** (verb, function, source, option values): a whole token of the form `<…>` that
//!   is not a mention (`<@…>`, `<#…>`, `<!…>`) is unwrapped to the text the user typed, i.e.
//!   its label after `|` (`<http://orders.io|orders.io>` → `orders.io`), or, without a label,
//!   the whole inside (`<http://x.io>` → `http://x.io`, then rejected as a URL). Then `&lt;`,
//!   `&gt;` and `&amp;` are unescaped. A mention token is kept as is, and is rejected in a
//!   function or source position with [`FunctionProblem::LooksLikeMention`] /
//!   [`SourceProblem::LooksLikeMention`].
//! * **Reason**: `<…>` spans (mentions and links) are kept verbatim, because Slack renders
//!   them when the reason is echoed back; `&amp;`, `&lt;` and `&gt;` are unescaped everywhere
//!   else. The resulting reason may therefore contain literal `&`, `<` and `>` typed by the
//!   user *and* Slack markup: whoever posts it back to Slack must re-escape `&`, `<`, `>`
//!   outside `<…>` spans.

use std::fmt;
use std::time::Duration;

/// The verbs, in suggestion order.
pub const VERBS: [&str; 5] = ["pause", "resume", "status", "history", "help"];
/// The `--options`, in suggestion order.
pub const OPTIONS: [&str; 2] = ["--region", "--force"];
/// Longest accepted reason, in characters (Unicode scalar values), after unescaping.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest accepted pause duration (365 days).
pub const MAX_DURATION: Duration = Duration::from_secs(365 * DAY);
/// Longest function name (without ARN prefix or qualifier).
pub const MAX_FUNCTION_NAME_LEN: usize = 64;
/// Longest function qualifier (alias or version).
pub const MAX_QUALIFIER_LEN: usize = 128;
/// Longest short source name.
pub const MAX_SOURCE_NAME_LEN: usize = 256;
/// Longest source ARN.
pub const MAX_SOURCE_ARN_LEN: usize = 2048;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// Words people type instead of a verb, and the verb they mean. Only ever suggested.
const VERB_SYNONYMS: [(&str, &str); 19] = [
    ("stop", "pause"),
    ("disable", "pause"),
    ("suspend", "pause"),
    ("halt", "pause"),
    ("start", "resume"),
    ("enable", "resume"),
    ("unpause", "resume"),
    ("continue", "resume"),
    ("list", "status"),
    ("show", "status"),
    ("state", "status"),
    ("info", "status"),
    ("log", "history"),
    ("logs", "history"),
    ("audit", "history"),
    ("?", "help"),
    ("--help", "help"),
    ("-h", "help"),
    ("usage", "help"),
];

/// A parsed `/lambda` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Pause(Operation),
    Resume(Operation),
    Status(StatusQuery),
    /// `history [<function>]`: the latest audit entries.
    History(Option<FunctionRef>),
    Help,
}

/// What a pause/resume does to the event source mapping(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Action {
    Pause,
    Resume,
}

impl Action {
    /// The verb: `"pause"` or `"resume"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Resume => "resume",
        }
    }

    /// The `Enabled` state the mapping(s) should end up in: pause → `false`, resume → `true`.
    pub fn target_enabled(&self) -> bool {
        matches!(self, Action::Resume)
    }
}

/// A `pause` or `resume` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub action: Action,
    pub function: FunctionRef,
    /// Restrict to one event source; `None` = all mappings of the function.
    pub source: Option<SourceRef>,
    /// Only the explicit `--region`; a full function ARN's region is in [`FunctionRef::region`]
    /// (the two are checked to agree).
    pub region: Option<Region>,
    /// `for <duration>` (pause only): resume automatically after this long.
    pub duration: Option<Duration>,
    /// `--force` (pause only).
    pub force: bool,
    /// The text after `--`, see the module docs for escaping.
    pub reason: Option<String>,
}

/// A `status` request; all parts optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    pub function: Option<FunctionRef>,
    pub source: Option<SourceRef>,
    /// Only the explicit `--region` (see [`Operation::region`]).
    pub region: Option<Region>,
}

/// Why a command text was rejected. No wording here: `slack/messages.rs` renders these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The text is empty or only whitespace.
    Empty,
    /// The first word is not a verb; `suggestion` is the verb the user probably meant.
    UnknownVerb {
        verb: String,
        suggestion: Option<&'static str>,
    },
    /// `pause`/`resume` without a function.
    MissingFunction { verb: Action },
    /// The function argument is not a valid function name/ARN.
    InvalidFunction {
        value: String,
        problem: FunctionProblem,
    },
    /// The source argument is not a valid ARN, UUID or name.
    InvalidSource {
        value: String,
        problem: SourceProblem,
    },
    /// The `--region` value does not look like an AWS region.
    InvalidRegion { value: String },
    /// The `for` value is not a valid duration (syntax, zero, or over [`MAX_DURATION`]).
    InvalidDuration { value: String },
    /// `for` or `--region` without a value; `option` is `"for"` or `"--region"`.
    MissingValue { option: &'static str },
    /// An unknown `--option` (`option` as typed, without `=value`); `suggestion` is
    /// `"--region"` or `"--force"` (edit distance), `"for"` (for `--for`) or `"help"` (for
    /// `--help`, meaning the `help` verb).
    UnknownOption {
        option: String,
        suggestion: Option<&'static str>,
    },
    /// `for`, `--region` or `--force` given twice; `what` is that keyword.
    Duplicate { what: &'static str },
    /// A word that does not belong here (extra positional, option not valid for this verb,
    /// reason on status/help, anything after `help`).
    UnexpectedArgument { value: String },
    /// The reason separator with nothing after it.
    EmptyReason,
    /// The reason is longer than [`MAX_REASON_CHARS`]; `len` is its length in characters.
    ReasonTooLong { len: usize },
    /// `arn` names a region other than `expected` (which came from `--region`, or from the
    /// function ARN when `arn` is the source ARN).
    RegionMismatch { expected: String, arn: String },
}

/// Which rule a function argument broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionProblem {
    /// The function name is empty (e.g. `:live`, or an ARN ending in `function:`).
    Empty,
    /// The function name is longer than [`MAX_FUNCTION_NAME_LEN`] characters.
    TooLong,
    /// The function name contains a character outside `[A-Za-z0-9_-]`.
    BadCharacter(char),
    /// The qualifier after `:` is empty, too long, or has characters outside `[A-Za-z0-9_$-]`
    /// (this includes a second `:`).
    BadQualifier,
    /// Starts with `arn:` but is not shaped `arn:<partition>:lambda:<region>:<account>:function:<name>`.
    BadArn,
    /// A well-formed ARN of something other than a Lambda function (an SQS queue, a layer, …).
    NotAFunctionArn,
    /// The region field of a function ARN is not a region.
    BadRegion,
    /// The account field of a full or partial ARN is not 12 digits.
    BadAccount,
    /// A Slack mention (`<@U…>`, `<#C…>`, `<!here>`, `@name`, `#channel`).
    LooksLikeMention,
    /// A URL (`http://…`, `mailto:…`), typically an un-labelled Slack auto-link.
    LooksLikeUrl,
}

/// Which rule a source argument broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceProblem {
    /// Empty value.
    Empty,
    /// A name longer than [`MAX_SOURCE_NAME_LEN`], or an ARN longer than [`MAX_SOURCE_ARN_LEN`].
    TooLong,
    /// A name character outside `[A-Za-z0-9._-]`, or a space/control/non-ASCII character in an ARN.
    BadCharacter(char),
    /// Starts with `arn:` but is not `arn:<partition>:<service>:<region>:<account>:<resource>`.
    BadArn,
    /// A Slack mention.
    LooksLikeMention,
    /// A URL.
    LooksLikeUrl,
}

// ---------------------------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------------------------

/// A function name, `name:qualifier`, full ARN or partial ARN, validated.
///
/// * `orders-fn` — name `[A-Za-z0-9_-]{1,64}`
/// * `orders-fn:live`, `orders-fn:$LATEST`, `orders-fn:7` — qualifier `[A-Za-z0-9_$-]{1,128}`
/// * `arn:aws:lambda:us-east-1:123456789012:function:orders-fn[:qualifier]` — partition `aws[a-z-]*`
/// * `123456789012:function:orders-fn[:qualifier]` — partial ARN
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionRef(String);

struct FunctionParts<'a> {
    region: Option<&'a str>,
    account: Option<&'a str>,
    name: &'a str,
    qualifier: Option<&'a str>,
}

impl FunctionRef {
    /// Validates `s` (already unescaped) as a function reference.
    pub fn parse(s: &str) -> Result<FunctionRef, FunctionProblem> {
        split_function(s).map(|_| FunctionRef(s.to_string()))
    }

    /// The reference exactly as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bare function name, without ARN prefix or qualifier.
    pub fn name(&self) -> &str {
        self.parts().map_or(self.0.as_str(), |p| p.name)
    }

    /// The alias or version after the name, if any.
    pub fn qualifier(&self) -> Option<&str> {
        self.parts().and_then(|p| p.qualifier)
    }

    /// The region of a full ARN.
    pub fn region(&self) -> Option<&str> {
        self.parts().and_then(|p| p.region)
    }

    /// The account of a full or partial ARN.
    pub fn account(&self) -> Option<&str> {
        self.parts().and_then(|p| p.account)
    }

    fn parts(&self) -> Option<FunctionParts<'_>> {
        // Always `Some`: the string was validated by `parse`.
        split_function(&self.0).ok()
    }
}

impl fmt::Display for FunctionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn split_function(s: &str) -> Result<FunctionParts<'_>, FunctionProblem> {
    if s.is_empty() {
        return Err(FunctionProblem::Empty);
    }
    if looks_like_mention(s) {
        return Err(FunctionProblem::LooksLikeMention);
    }
    if looks_like_url(s) {
        return Err(FunctionProblem::LooksLikeUrl);
    }
    let parts = if has_arn_prefix(s) {
        split_function_arn(s)?
    } else {
        let fields: Vec<&str> = s.splitn(4, ':').collect();
        if fields.len() >= 3 && fields[1] == "function" {
            // Partial ARN: <account>:function:<name>[:<qualifier>]
            if !is_account(fields[0]) {
                return Err(FunctionProblem::BadAccount);
            }
            FunctionParts {
                region: None,
                account: Some(fields[0]),
                name: fields[2],
                qualifier: fields.get(3).copied(),
            }
        } else {
            let (name, qualifier) = match s.split_once(':') {
                Some((name, qualifier)) => (name, Some(qualifier)),
                None => (s, None),
            };
            FunctionParts {
                region: None,
                account: None,
                name,
                qualifier,
            }
        }
    };
    validate_function_name(parts.name)?;
    if let Some(qualifier) = parts.qualifier {
        validate_qualifier(qualifier)?;
    }
    Ok(parts)
}

/// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`
fn split_function_arn(s: &str) -> Result<FunctionParts<'_>, FunctionProblem> {
    let fields: Vec<&str> = s.splitn(8, ':').collect();
    if fields[0] != "arn" || fields.len() < 3 || !is_partition(fields[1]) {
        return Err(FunctionProblem::BadArn);
    }
    if fields[2] != "lambda" {
        return Err(FunctionProblem::NotAFunctionArn);
    }
    if fields.len() < 7 {
        return Err(match fields.get(5) {
            Some(kind) if *kind != "function" => FunctionProblem::NotAFunctionArn,
            _ => FunctionProblem::BadArn,
        });
    }
    if fields[5] != "function" {
        return Err(FunctionProblem::NotAFunctionArn);
    }
    if Region::parse(fields[3]).is_none() {
        return Err(FunctionProblem::BadRegion);
    }
    if !is_account(fields[4]) {
        return Err(FunctionProblem::BadAccount);
    }
    Ok(FunctionParts {
        region: Some(fields[3]),
        account: Some(fields[4]),
        name: fields[6],
        qualifier: fields.get(7).copied(),
    })
}

fn validate_function_name(name: &str) -> Result<(), FunctionProblem> {
    if name.is_empty() {
        return Err(FunctionProblem::Empty);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return Err(FunctionProblem::BadCharacter(c));
    }
    if name.len() > MAX_FUNCTION_NAME_LEN {
        return Err(FunctionProblem::TooLong);
    }
    Ok(())
}

fn validate_qualifier(qualifier: &str) -> Result<(), FunctionProblem> {
    let ok = !qualifier.is_empty()
        && qualifier.len() <= MAX_QUALIFIER_LEN
        && qualifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '-'));
    if ok {
        Ok(())
    } else {
        Err(FunctionProblem::BadQualifier)
    }
}

/// The event source of a mapping: its ARN, the mapping's UUID, or a short name
/// (stream/table/queue/topic/cluster name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceRef {
    /// `arn:<partition>:<service>:<region>:<account>:<resource…>` (region/account may be empty).
    Arn(String),
    /// An event source mapping UUID, lowercased.
    Uuid(String),
    /// `[A-Za-z0-9._-]{1,256}`, matched against the end of the source ARNs.
    Name(String),
}

impl SourceRef {
    /// Classifies and validates `s` (already unescaped). A UUID is normalised to lowercase.
    pub fn parse(s: &str) -> Result<SourceRef, SourceProblem> {
        if s.is_empty() {
            return Err(SourceProblem::Empty);
        }
        if looks_like_mention(s) {
            return Err(SourceProblem::LooksLikeMention);
        }
        if looks_like_url(s) {
            return Err(SourceProblem::LooksLikeUrl);
        }
        if has_arn_prefix(s) {
            validate_source_arn(s)?;
            return Ok(SourceRef::Arn(s.to_string()));
        }
        if is_uuid(s) {
            return Ok(SourceRef::Uuid(s.to_ascii_lowercase()));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(SourceProblem::BadCharacter(c));
        }
        if s.len() > MAX_SOURCE_NAME_LEN {
            return Err(SourceProblem::TooLong);
        }
        Ok(SourceRef::Name(s.to_string()))
    }

    /// The ARN, UUID or name.
    pub fn as_str(&self) -> &str {
        match self {
            SourceRef::Arn(s) | SourceRef::Uuid(s) | SourceRef::Name(s) => s,
        }
    }

    /// The region field of an ARN source, when not empty.
    pub fn region(&self) -> Option<&str> {
        match self {
            SourceRef::Arn(arn) => arn.split(':').nth(3).filter(|r| !r.is_empty()),
            SourceRef::Uuid(_) | SourceRef::Name(_) => None,
        }
    }
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn validate_source_arn(s: &str) -> Result<(), SourceProblem> {
    if let Some(c) = s.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(SourceProblem::BadCharacter(c));
    }
    if s.len() > MAX_SOURCE_ARN_LEN {
        return Err(SourceProblem::TooLong);
    }
    let fields: Vec<&str> = s.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = fields[..] else {
        return Err(SourceProblem::BadArn);
    };
    let ok = arn == "arn"
        && is_partition(partition)
        && !service.is_empty()
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && (region.is_empty() || Region::parse(region).is_some())
        && (account.is_empty() || is_account(account))
        && !resource.is_empty();
    if ok {
        Ok(())
    } else {
        Err(SourceProblem::BadArn)
    }
}

/// An AWS region code such as `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Region(String);

impl Region {
    /// Accepts `<2 lowercase letters>-<lowercase word>[-<lowercase word>…]-<1-2 digits>`.
    /// Rejects uppercase, availability zones (`us-east-1a`) and anything longer than 32 bytes.
    pub fn parse(s: &str) -> Option<Region> {
        if s.len() > 32 {
            return None;
        }
        let parts: Vec<&str> = s.split('-').collect();
        let (first, rest) = parts.split_first()?;
        let (last, middle) = rest.split_last()?;
        let lower = |p: &str| p.bytes().all(|b| b.is_ascii_lowercase());
        let ok = first.len() == 2
            && lower(first)
            && !middle.is_empty()
            && middle
                .iter()
                .all(|p| (2..=12).contains(&p.len()) && lower(p))
            && (1..=2).contains(&last.len())
            && last.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Region(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn has_arn_prefix(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("arn:"))
}

/// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, …
fn is_partition(s: &str) -> bool {
    s.strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// 8-4-4-4-12 hex digits, any case.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn looks_like_mention(s: &str) -> bool {
    ["<@", "<#", "<!", "@", "#"]
        .iter()
        .any(|p| s.starts_with(p))
}

fn looks_like_url(s: &str) -> bool {
    s.contains("://")
        || s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("mailto:"))
}

// ---------------------------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------------------------

/// Duration grammar on its own (`1h30m`), shared with other callers.
///
/// One or more `<digits><unit>` with units `d`, `h`, `m`, `s` (ASCII case-insensitive), each
/// at most once and in that order; no spaces. The total must be > 0 and ≤ [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut previous_rank: Option<u8> = None;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        // `digits` ASCII bytes: a char boundary.
        let (number, tail) = rest.split_at(digits);
        let number: u64 = number.parse().ok()?;
        let mut chars = tail.chars();
        let (rank, unit) = match chars.next()?.to_ascii_lowercase() {
            'd' => (0, DAY),
            'h' => (1, HOUR),
            'm' => (2, MINUTE),
            's' => (3, 1),
            _ => return None,
        };
        if previous_rank.is_some_and(|previous| rank <= previous) {
            return None;
        }
        previous_rank = Some(rank);
        total = total.checked_add(number.checked_mul(unit)?)?;
        rest = chars.as_str();
    }
    let duration = Duration::from_secs(total);
    (total > 0 && duration <= MAX_DURATION).then_some(duration)
}

/// Renders a duration back in the same grammar ("1h30m"), for messages.
///
/// Whole seconds only (sub-second parts are dropped); zero renders as `"0s"`. For any value
/// `parse_duration` accepts, `parse_duration(&format_duration(d)) == Some(d)`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, suffix) in [(DAY, 'd'), (HOUR, 'h'), (MINUTE, 'm'), (1, 's')] {
        let n = secs / unit;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push(suffix);
        }
        secs %= unit;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Suggestions
// ---------------------------------------------------------------------------------------------

/// Closest candidate within edit distance 2 (ties: first in list), for "did you mean".
///
/// Case-insensitive; the distance is optimal string alignment (Levenshtein plus adjacent
/// transpositions), counted in characters.
pub fn suggest(word: &str, candidates: &[&'static str]) -> Option<&'static str> {
    const MAX_DISTANCE: usize = 2;
    let word: Vec<char> = word.to_lowercase().chars().collect();
    let mut best: Option<(usize, &'static str)> = None;
    for &candidate in candidates {
        let target: Vec<char> = candidate.to_lowercase().chars().collect();
        if word.len().abs_diff(target.len()) > MAX_DISTANCE {
            continue;
        }
        let distance = edit_distance(&word, &target);
        if distance <= MAX_DISTANCE && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

fn suggest_verb(verb: &str) -> Option<&'static str> {
    let lower = verb.to_lowercase();
    VERB_SYNONYMS
        .iter()
        .find(|(synonym, _)| *synonym == lower)
        .map(|&(_, verb)| verb)
        .or_else(|| suggest(&lower, &VERBS))
}

fn suggest_option(normalized: &str) -> Option<&'static str> {
    match normalized {
        "--for" => return Some("for"),
        "--help" | "--usage" => return Some("help"),
        _ => {}
    }
    suggest(normalized, &OPTIONS)
}

// ---------------------------------------------------------------------------------------------
// Tokenizer and Slack unescaping
// ---------------------------------------------------------------------------------------------

/// A whitespace-separated word of the original text, with its byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token<'a> {
    raw: &'a str,
    start: usize,
    end: usize,
}

fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

fn trim(s: &str) -> &str {
    s.trim_matches(is_space)
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        if is_space(c) {
            if let Some(s) = start.take() {
                tokens.push(Token {
                    raw: &text[s..i],
                    start: s,
                    end: i,
                });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        tokens.push(Token {
            raw: &text[s..],
            start: s,
            end: text.len(),
        });
    }
    tokens
}

const ESCAPES: [(&str, char); 3] = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')];

/// `&amp;` / `&lt;` / `&gt;` → `&` / `<` / `>`, in one pass (`&amp;lt;` → `&lt;`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    'outer: while let Some(c) = rest.chars().next() {
        if c == '&' {
            for (escape, plain) in ESCAPES {
                if let Some(tail) = rest.strip_prefix(escape) {
                    out.push(plain);
                    rest = tail;
                    continue 'outer;
                }
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Like [`unescape`], but `<…>` Slack markup spans are copied verbatim.
fn unescape_outside_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        let close = open + close;
        out.push_str(&unescape(&rest[..open]));
        out.push_str(&rest[open..=close]);
        rest = &rest[close + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

/// A token's value: `<…>` auto-links unwrapped to what the user typed, mentions kept as is,
/// then unescaped.
fn decode_token(raw: &str) -> String {
    let Some(inner) = raw.strip_prefix('<').and_then(|r| r.strip_suffix('>')) else {
        return unescape(raw);
    };
    if inner.starts_with(['@', '#', '!']) {
        return raw.to_string();
    }
    let shown = match inner.split_once('|') {
        Some((_, label)) if !label.is_empty() => label,
        Some((target, _)) => target,
        None => inner,
    };
    unescape(shown)
}

enum Kind<'a> {
    /// A lone `--`, `—` or `–`.
    ReasonSeparator,
    /// `--name` or `--name=value` (or with a leading em/en dash instead of `--`).
    Option {
        /// As typed, without `=value`.
        typed: &'a str,
        /// `--` + lowercased name.
        name: String,
        value: Option<&'a str>,
    },
    /// The `for` keyword.
    For,
    Word,
}

fn classify(raw: &str) -> Kind<'_> {
    if matches!(raw, "--" | "\u{2014}" | "\u{2013}") {
        return Kind::ReasonSeparator;
    }
    if raw.eq_ignore_ascii_case("for") {
        return Kind::For;
    }
    let body = raw
        .strip_prefix("--")
        .or_else(|| raw.strip_prefix('\u{2014}'))
        .or_else(|| raw.strip_prefix('\u{2013}'));
    match body {
        Some(body) => {
            let (name, value) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (body, None),
            };
            Kind::Option {
                typed: &raw[..raw.len() - body.len() + name.len()],
                name: format!("--{}", name.to_ascii_lowercase()),
                value,
            }
        }
        None => Kind::Word,
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

/// Parses the text Slack sends after `/lambda`. See the module docs for the grammar.
///
/// Errors are reported for the first offending word, left to right; then a missing function,
/// then the reason, then region consistency.
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let tokens = tokenize(text);
    let Some((verb, rest)) = tokens.split_first() else {
        return Err(ParseError::Empty);
    };
    match verb.raw.to_lowercase().as_str() {
        "pause" => parse_operation(Action::Pause, text, rest).map(Command::Pause),
        "resume" => parse_operation(Action::Resume, text, rest).map(Command::Resume),
        "status" => parse_status(text, rest).map(Command::Status),
        "history" => parse_history(text, rest).map(Command::History),
        "help" => match rest.first() {
            None => Ok(Command::Help),
            Some(token) => Err(unexpected(text, token)),
        },
        _ => {
            let verb = decode_token(verb.raw);
            Err(ParseError::UnknownVerb {
                suggestion: suggest_verb(&verb),
                verb,
            })
        }
    }
}

/// What a verb allows besides `<function> [<source>]` and `--region`.
struct Allowed {
    duration: bool,
    force: bool,
    reason: bool,
}

#[derive(Default)]
struct Args<'a> {
    function: Option<FunctionRef>,
    source: Option<SourceRef>,
    region: Option<Region>,
    duration: Option<Duration>,
    force: bool,
    /// Raw (still escaped) reason text, trimmed.
    reason: Option<&'a str>,
}

fn parse_operation(
    action: Action,
    text: &str,
    tokens: &[Token<'_>],
) -> Result<Operation, ParseError> {
    let pause = action == Action::Pause;
    let args = scan(
        text,
        tokens,
        &Allowed {
            duration: pause,
            force: pause,
            reason: true,
        },
    )?;
    let function = args
        .function
        .ok_or(ParseError::MissingFunction { verb: action })?;
    let reason = args.reason.map(validate_reason).transpose()?;
    check_regions(Some(&function), args.source.as_ref(), args.region.as_ref())?;
    Ok(Operation {
        action,
        function,
        source: args.source,
        region: args.region,
        duration: args.duration,
        force: args.force,
        reason,
    })
}

fn parse_status(text: &str, tokens: &[Token<'_>]) -> Result<StatusQuery, ParseError> {
    let args = scan(
        text,
        tokens,
        &Allowed {
            duration: false,
            force: false,
            reason: false,
        },
    )?;
    check_regions(
        args.function.as_ref(),
        args.source.as_ref(),
        args.region.as_ref(),
    )?;
    Ok(StatusQuery {
        function: args.function,
        source: args.source,
        region: args.region,
    })
}

fn parse_history(text: &str, tokens: &[Token<'_>]) -> Result<Option<FunctionRef>, ParseError> {
    if let Some(token) = tokens.get(1).filter(|t| !t.raw.starts_with("--")) {
        return Err(unexpected(text, token));
    }
    let query = parse_status(text, tokens)?;
    if let Some(source) = query.source {
        return Err(ParseError::UnexpectedArgument {
            value: source.to_string(),
        });
    }
    if let Some(region) = query.region {
        return Err(ParseError::UnexpectedArgument {
            value: format!("--region {region}"),
        });
    }
    Ok(query.function)
}

/// Walks the tokens after the verb: positionals (function, source), options, reason.
fn scan<'a>(
    text: &'a str,
    tokens: &[Token<'a>],
    allowed: &Allowed,
) -> Result<Args<'a>, ParseError> {
    let mut args = Args::default();
    let mut positionals = 0;
    let mut i = 0;
    while let Some(token) = tokens.get(i) {
        i += 1;
        match classify(token.raw) {
            Kind::ReasonSeparator => {
                if !allowed.reason {
                    return Err(unexpected(text, token));
                }
                args.reason = Some(trim(&text[token.end..]));
                break;
            }
            Kind::For => {
                if !allowed.duration {
                    return Err(unexpected(text, token));
                }
                if args.duration.is_some() {
                    return Err(ParseError::Duplicate { what: "for" });
                }
                let value = take_duration(tokens, &mut i)
                    .ok_or(ParseError::MissingValue { option: "for" })?;
                let duration =
                    parse_duration(&value).ok_or(ParseError::InvalidDuration { value })?;
                args.duration = Some(duration);
            }
            Kind::Option { typed, name, value } => match name.as_str() {
                "--region" => {
                    if args.region.is_some() {
                        return Err(ParseError::Duplicate { what: "--region" });
                    }
                    let value = match value {
                        Some(inline) => unescape(inline),
                        None => take_value(tokens, &mut i).unwrap_or_default(),
                    };
                    if value.is_empty() {
                        return Err(ParseError::MissingValue { option: "--region" });
                    }
                    let region =
                        Region::parse(&value).ok_or(ParseError::InvalidRegion { value })?;
                    args.region = Some(region);
                }
                "--force" => {
                    if !allowed.force || value.is_some() {
                        return Err(unexpected(text, token));
                    }
                    if args.force {
                        return Err(ParseError::Duplicate { what: "--force" });
                    }
                    args.force = true;
                }
                _ => {
                    return Err(ParseError::UnknownOption {
                        option: typed.to_string(),
                        suggestion: suggest_option(&name),
                    });
                }
            },
            Kind::Word => {
                let value = decode_token(token.raw);
                match positionals {
                    0 => match FunctionRef::parse(&value) {
                        Ok(function) => args.function = Some(function),
                        Err(problem) => return Err(ParseError::InvalidFunction { value, problem }),
                    },
                    1 => match SourceRef::parse(&value) {
                        Ok(source) => args.source = Some(source),
                        Err(problem) => return Err(ParseError::InvalidSource { value, problem }),
                    },
                    _ => return Err(ParseError::UnexpectedArgument { value }),
                }
                positionals += 1;
            }
        }
    }
    Ok(args)
}

/// The decoded value of `tokens[*i]` if it is a plain word (or `for`), advancing `i`.
fn take_value(tokens: &[Token<'_>], i: &mut usize) -> Option<String> {
    let value = peek_value(tokens, *i)?;
    *i += 1;
    Some(value)
}

fn peek_value(tokens: &[Token<'_>], i: usize) -> Option<String> {
    let token = tokens.get(i)?;
    matches!(classify(token.raw), Kind::Word | Kind::For).then(|| decode_token(token.raw))
}

/// The `for` value, re-joining a duration split by spaces (`1h 30m`, `2 h`, `1 h 30 m`) as
/// long as the joined text is a valid duration.
fn take_duration(tokens: &[Token<'_>], i: &mut usize) -> Option<String> {
    let mut value = take_value(tokens, i)?;
    while let Some(next) = peek_value(tokens, *i).filter(|next| !next.is_empty()) {
        let joined = format!("{value}{next}");
        if parse_duration(&joined).is_some() {
            value = joined;
            *i += 1;
            continue;
        }
        if next.bytes().all(|b| b.is_ascii_digit())
            && let Some(unit) = peek_value(tokens, *i + 1)
            && parse_duration(&format!("{joined}{unit}")).is_some()
        {
            value = format!("{joined}{unit}");
            *i += 2;
            continue;
        }
        break;
    }
    Some(value)
}

/// `UnexpectedArgument` for `token`: the decoded word, or for a reason separator the
/// separator and the reason after it.
fn unexpected(text: &str, token: &Token<'_>) -> ParseError {
    let value = match classify(token.raw) {
        Kind::ReasonSeparator => trim(&text[token.start..]).to_string(),
        _ => decode_token(token.raw),
    };
    ParseError::UnexpectedArgument { value }
}

fn validate_reason(raw: &str) -> Result<String, ParseError> {
    if raw.is_empty() {
        return Err(ParseError::EmptyReason);
    }
    let reason = unescape_outside_markup(raw);
    let len = reason.chars().count();
    if len > MAX_REASON_CHARS {
        return Err(ParseError::ReasonTooLong { len });
    }
    Ok(reason)
}

/// `--region`, the function ARN's region and the source ARN's region must agree.
fn check_regions(
    function: Option<&FunctionRef>,
    source: Option<&SourceRef>,
    region: Option<&Region>,
) -> Result<(), ParseError> {
    let mut expected = region.map(Region::as_str);
    let arns = [
        function.and_then(|f| Some((f.region()?, f.as_str()))),
        source.and_then(|s| Some((s.region()?, s.as_str()))),
    ];
    for (arn_region, arn) in arns.into_iter().flatten() {
        match expected {
            Some(expected) if expected != arn_region => {
                return Err(ParseError::RegionMismatch {
                    expected: expected.to_string(),
                    arn: arn.to_string(),
                });
            }
            Some(_) => {}
            None => expected = Some(arn_region),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:orders-fn";
    const SQS_ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders-queue";
    const UUID: &str = "a1b2c3d4-5678-90ab-cdef-11112222aaaa";

    fn func(s: &str) -> FunctionRef {
        FunctionRef::parse(s).unwrap()
    }

    fn region(s: &str) -> Option<Region> {
        Some(Region::parse(s).unwrap())
    }

    fn op(action: Action, function: &str) -> Operation {
        Operation {
            action,
            function: func(function),
            source: None,
            region: None,
            duration: None,
            force: false,
            reason: None,
        }
    }

    fn pause(function: &str) -> Operation {
        op(Action::Pause, function)
    }

    fn resume(function: &str) -> Operation {
        op(Action::Resume, function)
    }

    fn name(s: &str) -> Option<SourceRef> {
        Some(SourceRef::Name(s.to_string()))
    }

    fn reason(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    fn mins(m: u64) -> Option<Duration> {
        Some(Duration::from_secs(m * 60))
    }

    #[test]
    fn good_inputs() {
        let long_reason = "x".repeat(MAX_REASON_CHARS);
        let long_reason_text = format!("pause f -- {long_reason}");
        let cases: Vec<(&str, Command)> = vec![
            // verbs
            ("pause orders-fn", Command::Pause(pause("orders-fn"))),
            ("PAUSE orders-fn", Command::Pause(pause("orders-fn"))),
            ("  Pause \t orders-fn  ", Command::Pause(pause("orders-fn"))),
            ("resume orders-fn", Command::Resume(resume("orders-fn"))),
            ("ReSuMe orders-fn", Command::Resume(resume("orders-fn"))),
            ("help", Command::Help),
            ("history", Command::History(None)),
            (
                "HISTORY orders-fn",
                Command::History(Some(FunctionRef::parse("orders-fn").unwrap())),
            ),
            ("HELP  ", Command::Help),
            // functions
            (
                "pause arn:aws:lambda:us-east-1:123456789012:function:orders-fn",
                Command::Pause(pause(FN_ARN)),
            ),
            (
                "pause arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:orders-fn:live",
                Command::Pause(pause(
                    "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:orders-fn:live",
                )),
            ),
            (
                "pause orders-fn:live",
                Command::Pause(pause("orders-fn:live")),
            ),
            (
                "pause orders-fn:$LATEST",
                Command::Pause(pause("orders-fn:$LATEST")),
            ),
            ("pause orders-fn:7", Command::Pause(pause("orders-fn:7"))),
            (
                "pause 123456789012:function:orders-fn",
                Command::Pause(pause("123456789012:function:orders-fn")),
            ),
            (
                "pause 123456789012:function:orders-fn:live",
                Command::Pause(pause("123456789012:function:orders-fn:live")),
            ),
            ("pause Orders_Fn-2", Command::Pause(pause("Orders_Fn-2"))),
            // sources
            (
                "pause orders-fn arn:aws:sqs:us-east-1:123456789012:orders-queue",
                Command::Pause(Operation {
                    source: Some(SourceRef::Arn(SQS_ARN.to_string())),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn arn:aws:kafka:eu-west-1:123456789012:cluster/c1/0f2a-11",
                Command::Pause(Operation {
                    source: Some(SourceRef::Arn(
                        "arn:aws:kafka:eu-west-1:123456789012:cluster/c1/0f2a-11".to_string(),
                    )),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn A1B2C3D4-5678-90AB-CDEF-11112222AAAA",
                Command::Pause(Operation {
                    source: Some(SourceRef::Uuid(UUID.to_string())),
                    ..pause("orders-fn")
                }),
            ),
            (
                "resume orders-fn orders-queue.fifo",
                Command::Resume(Operation {
                    source: name("orders-queue.fifo"),
                    ..resume("orders-fn")
                }),
            ),
            // --region anywhere
            (
                "pause --region us-west-2 orders-fn",
                Command::Pause(Operation {
                    region: region("us-west-2"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn --region us-west-2",
                Command::Pause(Operation {
                    region: region("us-west-2"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn --region=us-west-2 q",
                Command::Pause(Operation {
                    region: region("us-west-2"),
                    source: name("q"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn --REGION eu-central-2",
                Command::Pause(Operation {
                    region: region("eu-central-2"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn \u{2014}region cn-north-1",
                Command::Pause(Operation {
                    region: region("cn-north-1"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause arn:aws:lambda:us-east-1:123456789012:function:orders-fn --region us-east-1",
                Command::Pause(Operation {
                    region: region("us-east-1"),
                    ..pause(FN_ARN)
                }),
            ),
            (
                "pause arn:aws:lambda:us-east-1:123456789012:function:orders-fn arn:aws:sqs:us-east-1:123456789012:orders-queue",
                Command::Pause(Operation {
                    source: Some(SourceRef::Arn(SQS_ARN.to_string())),
                    ..pause(FN_ARN)
                }),
            ),
            // durations
            (
                "pause orders-fn for 1h30m",
                Command::Pause(Operation {
                    duration: mins(90),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn FOR 1D12H",
                Command::Pause(Operation {
                    duration: mins(36 * 60),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn for 90s",
                Command::Pause(Operation {
                    duration: Some(Duration::from_secs(90)),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause for 2h orders-fn",
                Command::Pause(Operation {
                    duration: mins(120),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn for 1h 30m q",
                Command::Pause(Operation {
                    duration: mins(90),
                    source: name("q"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn for 2 h",
                Command::Pause(Operation {
                    duration: mins(120),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn for 1 h 30 m",
                Command::Pause(Operation {
                    duration: mins(90),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn for 365d",
                Command::Pause(Operation {
                    duration: Some(MAX_DURATION),
                    ..pause("orders-fn")
                }),
            ),
            // --force
            (
                "pause --force orders-fn",
                Command::Pause(Operation {
                    force: true,
                    ..pause("orders-fn")
                }),
            ),
            // everything, in a shuffled order
            (
                "pause --force orders-fn for 2h --region us-east-1 q -- bad deploy",
                Command::Pause(Operation {
                    force: true,
                    duration: mins(120),
                    region: region("us-east-1"),
                    source: name("q"),
                    reason: reason("bad deploy"),
                    ..pause("orders-fn")
                }),
            ),
            // reasons
            (
                "pause orders-fn -- R&amp;D says &lt;stop&gt; <@U123|bob> &amp;lt;",
                Command::Pause(Operation {
                    reason: reason("R&D says <stop> <@U123|bob> &lt;"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn -- see <https://x.io/a?b=1&amp;c=2|ticket> &amp; <!here>",
                Command::Pause(Operation {
                    reason: reason("see <https://x.io/a?b=1&amp;c=2|ticket> & <!here>"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn \u{2014} poison message",
                Command::Pause(Operation {
                    reason: reason("poison message"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "resume orders-fn \u{2013} fixed",
                Command::Resume(Operation {
                    reason: reason("fixed"),
                    ..resume("orders-fn")
                }),
            ),
            (
                "pause orders-fn --   a   b\u{a0}\u{a0}c  --  d  ",
                Command::Pause(Operation {
                    reason: reason("a   b\u{a0}\u{a0}c  --  d"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn -- for 1h --region nowhere",
                Command::Pause(Operation {
                    reason: reason("for 1h --region nowhere"),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause orders-fn -- 🚨 déploiement cassé",
                Command::Pause(Operation {
                    reason: reason("🚨 déploiement cassé"),
                    ..pause("orders-fn")
                }),
            ),
            (
                long_reason_text.as_str(),
                Command::Pause(Operation {
                    reason: Some(long_reason.clone()),
                    ..pause("f")
                }),
            ),
            // whitespace
            (
                "pause\u{a0}orders-fn\u{a0}for\u{a0}1h",
                Command::Pause(Operation {
                    duration: mins(60),
                    ..pause("orders-fn")
                }),
            ),
            (
                "pause\u{200B} orders-fn\n\tq",
                Command::Pause(Operation {
                    source: name("q"),
                    ..pause("orders-fn")
                }),
            ),
            // Slack auto-links
            ("pause <https://x|x>", Command::Pause(pause("x"))),
            (
                "pause orders-fn <http://orders.io|orders.io>",
                Command::Pause(Operation {
                    source: name("orders.io"),
                    ..pause("orders-fn")
                }),
            ),
            // status
            (
                "status",
                Command::Status(StatusQuery {
                    function: None,
                    source: None,
                    region: None,
                }),
            ),
            (
                "STATUS orders-fn",
                Command::Status(StatusQuery {
                    function: Some(func("orders-fn")),
                    source: None,
                    region: None,
                }),
            ),
            (
                "status orders-fn q --region eu-west-1",
                Command::Status(StatusQuery {
                    function: Some(func("orders-fn")),
                    source: name("q"),
                    region: region("eu-west-1"),
                }),
            ),
            (
                "status --region=ap-southeast-2",
                Command::Status(StatusQuery {
                    function: None,
                    source: None,
                    region: region("ap-southeast-2"),
                }),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Ok(expected), "input: {input:?}");
        }
    }

    fn invalid_function(value: &str, problem: FunctionProblem) -> ParseError {
        ParseError::InvalidFunction {
            value: value.to_string(),
            problem,
        }
    }

    fn invalid_source(value: &str, problem: SourceProblem) -> ParseError {
        ParseError::InvalidSource {
            value: value.to_string(),
            problem,
        }
    }

    fn unexpected_arg(value: &str) -> ParseError {
        ParseError::UnexpectedArgument {
            value: value.to_string(),
        }
    }

    fn unknown_verb(verb: &str, suggestion: Option<&'static str>) -> ParseError {
        ParseError::UnknownVerb {
            verb: verb.to_string(),
            suggestion,
        }
    }

    fn unknown_option(option: &str, suggestion: Option<&'static str>) -> ParseError {
        ParseError::UnknownOption {
            option: option.to_string(),
            suggestion,
        }
    }

    fn invalid_region(value: &str) -> ParseError {
        ParseError::InvalidRegion {
            value: value.to_string(),
        }
    }

    fn invalid_duration(value: &str) -> ParseError {
        ParseError::InvalidDuration {
            value: value.to_string(),
        }
    }

    #[test]
    fn bad_inputs() {
        use FunctionProblem as F;
        use SourceProblem as S;
        let long_name = "a".repeat(65);
        let long_name_text = format!("pause {long_name}");
        let long_qualifier_text = format!("pause f:{}", "q".repeat(129));
        let long_source = "s".repeat(257);
        let long_source_text = format!("pause f {long_source}");
        let too_long_reason_text = format!("pause f -- {}", "é".repeat(MAX_REASON_CHARS + 1));
        let cases: Vec<(&str, ParseError)> = vec![
            // Empty
            ("", ParseError::Empty),
            ("   ", ParseError::Empty),
            ("\u{a0}\t\n", ParseError::Empty),
            // UnknownVerb
            ("pase orders-fn", unknown_verb("pase", Some("pause"))),
            ("Pase orders-fn", unknown_verb("Pase", Some("pause"))),
            ("resmue orders-fn", unknown_verb("resmue", Some("resume"))),
            ("stauts", unknown_verb("stauts", Some("status"))),
            ("hlep", unknown_verb("hlep", Some("help"))),
            ("stop orders-fn", unknown_verb("stop", Some("pause"))),
            ("Disable orders-fn", unknown_verb("Disable", Some("pause"))),
            ("enable orders-fn", unknown_verb("enable", Some("resume"))),
            ("unpause orders-fn", unknown_verb("unpause", Some("resume"))),
            ("list", unknown_verb("list", Some("status"))),
            ("info orders-fn", unknown_verb("info", Some("status"))),
            ("?", unknown_verb("?", Some("help"))),
            ("--help", unknown_verb("--help", Some("help"))),
            ("-h", unknown_verb("-h", Some("help"))),
            ("frobnicate x", unknown_verb("frobnicate", None)),
            ("<@U1> pause", unknown_verb("<@U1>", None)),
            ("&lt;x&gt;", unknown_verb("<x>", None)),
            // MissingFunction
            (
                "pause",
                ParseError::MissingFunction {
                    verb: Action::Pause,
                },
            ),
            (
                "resume --region us-east-1",
                ParseError::MissingFunction {
                    verb: Action::Resume,
                },
            ),
            (
                "pause -- reason",
                ParseError::MissingFunction {
                    verb: Action::Pause,
                },
            ),
            (
                "pause --",
                ParseError::MissingFunction {
                    verb: Action::Pause,
                },
            ),
            // InvalidFunction, one per problem
            (
                "pause orders/fn",
                invalid_function("orders/fn", F::BadCharacter('/')),
            ),
            (
                "pause ordérs",
                invalid_function("ordérs", F::BadCharacter('é')),
            ),
            (
                "pause a&amp;b",
                invalid_function("a&b", F::BadCharacter('&')),
            ),
            (
                long_name_text.as_str(),
                invalid_function(&long_name, F::TooLong),
            ),
            (":live", unknown_verb(":live", None)),
            ("pause :live", invalid_function(":live", F::Empty)),
            ("pause <>", invalid_function("", F::Empty)),
            (
                "pause orders-fn:",
                invalid_function("orders-fn:", F::BadQualifier),
            ),
            (
                "pause orders-fn:a:b",
                invalid_function("orders-fn:a:b", F::BadQualifier),
            ),
            (
                "pause orders-fn:bad!",
                invalid_function("orders-fn:bad!", F::BadQualifier),
            ),
            (
                long_qualifier_text.as_str(),
                invalid_function(&long_qualifier_text[6..], F::BadQualifier),
            ),
            (
                "pause arn:aws:lambda:us-east-1:123:function:x",
                invalid_function("arn:aws:lambda:us-east-1:123:function:x", F::BadAccount),
            ),
            (
                "pause 12345:function:x",
                invalid_function("12345:function:x", F::BadAccount),
            ),
            (
                "pause arn:aws:lambda:useast1:123456789012:function:x",
                invalid_function(
                    "arn:aws:lambda:useast1:123456789012:function:x",
                    F::BadRegion,
                ),
            ),
            (
                "pause arn:aws:sqs:us-east-1:123456789012:q",
                invalid_function("arn:aws:sqs:us-east-1:123456789012:q", F::NotAFunctionArn),
            ),
            (
                "pause arn:aws:lambda:us-east-1:123456789012:layer:x",
                invalid_function(
                    "arn:aws:lambda:us-east-1:123456789012:layer:x",
                    F::NotAFunctionArn,
                ),
            ),
            (
                "pause arn:aws:lambda:us-east-1:123456789012:event-source-mapping:x",
                invalid_function(
                    "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:x",
                    F::NotAFunctionArn,
                ),
            ),
            (
                "pause arn:gcp:lambda:us-east-1:123456789012:function:x",
                invalid_function(
                    "arn:gcp:lambda:us-east-1:123456789012:function:x",
                    F::BadArn,
                ),
            ),
            (
                "pause arn:aws:lambda",
                invalid_function("arn:aws:lambda", F::BadArn),
            ),
            (
                "pause ARN:aws:lambda:us-east-1:123456789012:function:x",
                invalid_function(
                    "ARN:aws:lambda:us-east-1:123456789012:function:x",
                    F::BadArn,
                ),
            ),
            (
                "pause arn:aws:lambda:us-east-1:123456789012:function:",
                invalid_function("arn:aws:lambda:us-east-1:123456789012:function:", F::Empty),
            ),
            (
                "pause <@U1>",
                invalid_function("<@U1>", F::LooksLikeMention),
            ),
            (
                "pause <@U1|bob>",
                invalid_function("<@U1|bob>", F::LooksLikeMention),
            ),
            (
                "pause <#C1|general>",
                invalid_function("<#C1|general>", F::LooksLikeMention),
            ),
            (
                "pause <!here>",
                invalid_function("<!here>", F::LooksLikeMention),
            ),
            ("pause @bob", invalid_function("@bob", F::LooksLikeMention)),
            (
                "pause <http://x.io>",
                invalid_function("http://x.io", F::LooksLikeUrl),
            ),
            (
                "pause <mailto:a@b.io>",
                invalid_function("mailto:a@b.io", F::LooksLikeUrl),
            ),
            // InvalidSource, one per problem
            (
                "pause f <@U1>",
                invalid_source("<@U1>", S::LooksLikeMention),
            ),
            ("pause f a/b", invalid_source("a/b", S::BadCharacter('/'))),
            (
                "pause f f:live",
                invalid_source("f:live", S::BadCharacter(':')),
            ),
            (
                "pause f <mailto:a@b.io|a@b.io>",
                invalid_source("a@b.io", S::BadCharacter('@')),
            ),
            (
                long_source_text.as_str(),
                invalid_source(&long_source, S::TooLong),
            ),
            (
                "pause f arn:aws:sqs:q",
                invalid_source("arn:aws:sqs:q", S::BadArn),
            ),
            (
                "pause f arn:aws:sqs:us-east-1:1234:q",
                invalid_source("arn:aws:sqs:us-east-1:1234:q", S::BadArn),
            ),
            (
                "pause f arn:aws:sqs:us-east-1:123456789012:",
                invalid_source("arn:aws:sqs:us-east-1:123456789012:", S::BadArn),
            ),
            (
                "pause f arn:aws:sqs:us-east-1:123456789012:qü",
                invalid_source(
                    "arn:aws:sqs:us-east-1:123456789012:qü",
                    S::BadCharacter('ü'),
                ),
            ),
            (
                "pause f <http://x.io>",
                invalid_source("http://x.io", S::LooksLikeUrl),
            ),
            ("pause f <>", invalid_source("", S::Empty)),
            // InvalidRegion
            ("pause f --region useast1", invalid_region("useast1")),
            ("pause f --region US-EAST-1", invalid_region("US-EAST-1")),
            ("pause f --region us-east-1a", invalid_region("us-east-1a")),
            ("pause f --region us-east", invalid_region("us-east")),
            ("pause f --region=moon", invalid_region("moon")),
            ("status --region <@U1>", invalid_region("<@U1>")),
            ("status --region for", invalid_region("for")),
            // InvalidDuration
            ("pause f for 0s", invalid_duration("0s")),
            ("pause f for 0h0m", invalid_duration("0h0m")),
            ("pause f for 1m1h", invalid_duration("1m1h")),
            ("pause f for 1h1h", invalid_duration("1h1h")),
            ("pause f for 366d", invalid_duration("366d")),
            ("pause f for 1.5h", invalid_duration("1.5h")),
            ("pause f for 1w", invalid_duration("1w")),
            ("pause f for h", invalid_duration("h")),
            ("pause f for 30", invalid_duration("30")),
            ("pause f for 2 hours", invalid_duration("2")),
            (
                "pause f for 99999999999999999999999d",
                invalid_duration("99999999999999999999999d"),
            ),
            ("pause f for 1h½", invalid_duration("1h½")),
            // MissingValue
            ("pause f for", ParseError::MissingValue { option: "for" }),
            (
                "pause f for -- reason",
                ParseError::MissingValue { option: "for" },
            ),
            (
                "pause f for --force",
                ParseError::MissingValue { option: "for" },
            ),
            (
                "pause f --region",
                ParseError::MissingValue { option: "--region" },
            ),
            (
                "pause f --region=",
                ParseError::MissingValue { option: "--region" },
            ),
            (
                "pause f --region --force",
                ParseError::MissingValue { option: "--region" },
            ),
            (
                "status --region \u{2014} x",
                ParseError::MissingValue { option: "--region" },
            ),
            // UnknownOption
            (
                "pause f --regoin us-east-1",
                unknown_option("--regoin", Some("--region")),
            ),
            (
                "pause f --regoin=us-east-1",
                unknown_option("--regoin", Some("--region")),
            ),
            (
                "pause f --froce",
                unknown_option("--froce", Some("--force")),
            ),
            ("pause f --xyz", unknown_option("--xyz", None)),
            (
                "pause f \u{2014}regoin x",
                unknown_option("\u{2014}regoin", Some("--region")),
            ),
            ("pause f --for 1h", unknown_option("--for", Some("for"))),
            (
                "status --force2",
                unknown_option("--force2", Some("--force")),
            ),
            ("pause --help", unknown_option("--help", Some("help"))),
            (
                "pause f --Regoin=x",
                unknown_option("--Regoin", Some("--region")),
            ),
            // Duplicate
            (
                "pause f for 1h for 2h",
                ParseError::Duplicate { what: "for" },
            ),
            (
                "pause f --region us-east-1 --region=us-east-1",
                ParseError::Duplicate { what: "--region" },
            ),
            (
                "pause f --force --force",
                ParseError::Duplicate { what: "--force" },
            ),
            // UnexpectedArgument
            ("pause f q extra", unexpected_arg("extra")),
            ("pause f q bad deploy", unexpected_arg("bad")),
            ("pause f q <@U1>", unexpected_arg("<@U1>")),
            ("resume f for 1h", unexpected_arg("for")),
            ("resume f --force", unexpected_arg("--force")),
            ("pause f --force=yes", unexpected_arg("--force=yes")),
            ("status f q r", unexpected_arg("r")),
            ("status f for 1h", unexpected_arg("for")),
            ("status f --force", unexpected_arg("--force")),
            (
                "status f -- because  reasons ",
                unexpected_arg("-- because  reasons"),
            ),
            ("status \u{2014} x", unexpected_arg("\u{2014} x")),
            ("help me", unexpected_arg("me")),
            ("help pause", unexpected_arg("pause")),
            ("help --region us-east-1", unexpected_arg("--region")),
            ("help -- x", unexpected_arg("-- x")),
            ("help &amp;", unexpected_arg("&")),
            // EmptyReason
            ("pause f --", ParseError::EmptyReason),
            ("pause f \u{2014}  \u{a0} ", ParseError::EmptyReason),
            ("resume f \u{2013}", ParseError::EmptyReason),
            // ReasonTooLong
            (
                too_long_reason_text.as_str(),
                ParseError::ReasonTooLong { len: 501 },
            ),
            // RegionMismatch
            (
                "pause arn:aws:lambda:us-east-1:123456789012:function:orders-fn --region eu-west-1",
                ParseError::RegionMismatch {
                    expected: "eu-west-1".to_string(),
                    arn: FN_ARN.to_string(),
                },
            ),
            (
                "pause arn:aws:lambda:us-east-1:123456789012:function:orders-fn arn:aws:sqs:eu-west-1:123456789012:q",
                ParseError::RegionMismatch {
                    expected: "us-east-1".to_string(),
                    arn: "arn:aws:sqs:eu-west-1:123456789012:q".to_string(),
                },
            ),
            (
                "status f arn:aws:sqs:us-east-1:123456789012:orders-queue --region us-west-2",
                ParseError::RegionMismatch {
                    expected: "us-west-2".to_string(),
                    arn: SQS_ARN.to_string(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Err(expected), "input: {input:?}");
        }
    }

    #[test]
    fn function_ref_accessors() {
        let plain = func("orders-fn");
        assert_eq!(
            (
                plain.name(),
                plain.qualifier(),
                plain.region(),
                plain.account()
            ),
            ("orders-fn", None, None, None)
        );
        let alias = func("orders-fn:live");
        assert_eq!(
            (alias.name(), alias.qualifier()),
            ("orders-fn", Some("live"))
        );
        let full = func("arn:aws-cn:lambda:cn-north-1:123456789012:function:orders-fn:$LATEST");
        assert_eq!(full.name(), "orders-fn");
        assert_eq!(full.qualifier(), Some("$LATEST"));
        assert_eq!(full.region(), Some("cn-north-1"));
        assert_eq!(full.account(), Some("123456789012"));
        let partial = func("123456789012:function:orders-fn:7");
        assert_eq!(partial.name(), "orders-fn");
        assert_eq!(partial.qualifier(), Some("7"));
        assert_eq!(partial.region(), None);
        assert_eq!(partial.account(), Some("123456789012"));
        assert_eq!(full.to_string(), full.as_str());
        assert_eq!(
            FunctionRef::parse(&"a".repeat(64)).map(|f| f.name().len()),
            Ok(64)
        );
        assert!(FunctionRef::parse(&format!("f:{}", "q".repeat(128))).is_ok());
    }

    #[test]
    fn source_ref_and_region() {
        assert_eq!(
            SourceRef::parse(UUID),
            Ok(SourceRef::Uuid(UUID.to_string()))
        );
        let arn = SourceRef::parse(SQS_ARN).unwrap();
        assert_eq!(arn.region(), Some("us-east-1"));
        assert_eq!(arn.to_string(), SQS_ARN);
        // Empty region and account fields are fine (global resources).
        let s3 = SourceRef::parse("arn:aws:s3:::bucket").unwrap();
        assert_eq!(s3.region(), None);
        let global = SourceRef::parse("arn:aws:kafka:::cluster/x").unwrap();
        assert_eq!(global.region(), None);
        // 36 characters but not hex: a name
        let not_uuid = "g1b2c3d4-5678-90ab-cdef-11112222aaaa";
        assert_eq!(
            SourceRef::parse(not_uuid),
            Ok(SourceRef::Name(not_uuid.to_string()))
        );
        assert!(SourceRef::parse(&"s".repeat(256)).is_ok());

        for good in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-5",
            "us-isob-east-1",
            "il-central-1",
        ] {
            assert_eq!(
                Region::parse(good).map(|r| r.to_string()),
                Some(good.to_string())
            );
        }
        for bad in [
            "",
            "us",
            "us-1",
            "us-east",
            "useast-1",
            "us-east-1a",
            "USA-east-1",
            "us--1",
            "us-e-1",
            "us-east-123",
            "us-east-1 ",
            "ü-east-1",
        ] {
            assert_eq!(Region::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn action_helpers() {
        assert_eq!(Action::Pause.as_str(), "pause");
        assert_eq!(Action::Resume.as_str(), "resume");
        assert!(!Action::Pause.target_enabled());
        assert!(Action::Resume.target_enabled());
    }

    #[test]
    fn suggestions() {
        let cases: [(&str, &[&'static str], Option<&str>); 10] = [
            ("pase", &VERBS, Some("pause")),
            ("puase", &VERBS, Some("pause")),
            ("PAUS", &VERBS, Some("pause")),
            ("resum", &VERBS, Some("resume")),
            ("stats", &VERBS, Some("status")),
            ("hepl", &VERBS, Some("help")),
            ("xyzzy", &VERBS, None),
            ("", &VERBS, None),
            ("--regon", &OPTIONS, Some("--region")),
            ("ab", &["ac", "ad"], Some("ac")),
        ];
        for (word, candidates, expected) in cases {
            assert_eq!(suggest(word, candidates), expected, "{word:?}");
        }
        assert_eq!(suggest_verb("halt"), Some("pause"));
        assert_eq!(suggest_verb("Continue"), Some("resume"));
        assert_eq!(suggest_verb("usage"), Some("help"));
        let word: Vec<char> = "ca".chars().collect();
        let target: Vec<char> = "abc".chars().collect();
        assert_eq!(edit_distance(&word, &target), 3);
        assert_eq!(edit_distance(&[], &target), 3);
    }

    #[test]
    fn durations() {
        let good = [
            ("90s", 90),
            ("30m", 30 * MINUTE),
            ("2h", 2 * HOUR),
            ("1d", DAY),
            ("1h30m", HOUR + 30 * MINUTE),
            ("1d12h", DAY + 12 * HOUR),
            ("1d2h3m4s", DAY + 2 * HOUR + 3 * MINUTE + 4),
            ("0h5m", 5 * MINUTE),
            ("01H", HOUR),
            ("365d", 365 * DAY),
            ("364d23h59m60s", 365 * DAY),
        ];
        for (text, secs) in good {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_secs(secs)),
                "{text:?}"
            );
        }
        let bad = [
            "",
            "0s",
            "0d0h",
            "1",
            "h",
            "1x",
            "1h1h",
            "30m1h",
            "1s1m",
            "1h 30m",
            " 1h",
            "-1h",
            "+1h",
            "1.5h",
            "366d",
            "365d1s",
            "8761h",
            "18446744073709551615s",
            "99999999999999999999d",
            "1hé",
            "1ｈ",
        ];
        for text in bad {
            assert_eq!(parse_duration(text), None, "{text:?}");
        }
    }

    #[test]
    fn format_durations() {
        let cases = [
            (0, "0s"),
            (1, "1s"),
            (90, "1m30s"),
            (HOUR + 30 * MINUTE, "1h30m"),
            (DAY + 12 * HOUR, "1d12h"),
            (2 * DAY, "2d"),
            (DAY + 1, "1d1s"),
            (365 * DAY, "365d"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s");
        // Round trips, both ways.
        for secs in (1..=3 * DAY)
            .step_by(997)
            .chain([MAX_DURATION.as_secs(), 12_345_678])
        {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Some(d), "{secs}");
        }
        for text in ["1d12h", "1h30m", "45s", "2d3h4m5s", "365d"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn tokenizer_records_offsets() {
        let text = " pause\u{a0}ünïcode  x ";
        let tokens = tokenize(text);
        let raws: Vec<&str> = tokens.iter().map(|t| t.raw).collect();
        assert_eq!(raws, ["pause", "ünïcode", "x"]);
        for token in tokens {
            assert_eq!(&text[token.start..token.end], token.raw);
        }
    }

    #[test]
    fn slack_unescaping() {
        assert_eq!(
            unescape("a &amp;&lt;&gt; &amp;amp; &foo; &"),
            "a &<> &amp; &foo; &"
        );
        assert_eq!(decode_token("<http://x.io|x.io>"), "x.io");
        assert_eq!(decode_token("<http://x.io|>"), "http://x.io");
        assert_eq!(decode_token("<http://x.io>"), "http://x.io");
        assert_eq!(decode_token("<@U1|bob>"), "<@U1|bob>");
        assert_eq!(decode_token("<!subteam^S1|team>"), "<!subteam^S1|team>");
        assert_eq!(decode_token("a&amp;b"), "a&b");
        assert_eq!(decode_token("<"), "<");
        assert_eq!(
            unescape_outside_markup("&lt;b&gt; <@U1|a&amp;b> <unclosed &amp;"),
            "<b> <@U1|a&amp;b> <unclosed &"
        );
    }

    /// No input may panic: a deterministic fuzz over tricky fragments and multi-byte text.
    #[test]
    fn never_panics() {
        const FRAGMENTS: [&str; 32] = [
            "pause",
            "resume",
            "status",
            "help",
            "for",
            "--",
            "\u{2014}",
            "\u{2013}",
            "--region",
            "--region=",
            "--force",
            "--force=",
            "\u{2014}region",
            "<",
            ">",
            "|",
            "<@U1|b>",
            "<http://x|x>",
            "&amp;",
            "&lt",
            "arn:",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            ":",
            "1h",
            "30m",
            "é",
            "🚨",
            "\u{a0}",
            " ",
            "\u{200B}",
            "us-east-1",
            UUID,
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 10;
            let mut text = String::new();
            for _ in 0..len {
                text.push_str(FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize]);
                if next() % 2 == 0 {
                    text.push(' ');
                }
            }
            let _ = parse(&text);
            if let Some(first) = text.split_whitespace().next() {
                let _ = FunctionRef::parse(first).map(|f| {
                    (
                        f.name().len(),
                        f.qualifier().is_some(),
                        f.region().is_some(),
                    )
                });
                let _ = SourceRef::parse(first).map(|s| s.region().map(str::len));
                let _ = parse_duration(first);
                let _ = suggest(first, &VERBS);
            }
        }
    }
}

#[cfg(test)]
mod properties {
    //! Property tests: the grammar never panics, and what it accepts is well-formed.

    use super::*;
    use proptest::prelude::*;

    fn wordy() -> impl Strategy<Value = String> {
        let words = prop::sample::select(vec![
            "pause",
            "resume",
            "status",
            "history",
            "help",
            "for",
            "--region",
            "--region=us-east-1",
            "--force",
            "--",
            "—",
            "orders-fn",
            "orders-fn:live",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "orders",
            "<@U1>",
            "&amp;",
            "&lt;",
            "1h30m",
            "us-east-1",
            "\u{a0}",
            "é",
            "🚀",
            "<https://x|x>",
            "0\u{301}",
        ]);
        prop::collection::vec(prop_oneof![words.prop_map(str::to_owned), ".{0,12}"], 0..10)
            .prop_map(|w| w.join(" "))
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(text in ".{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn never_panics_on_command_like_text(text in wordy()) {
            if let Ok(Command::Pause(op) | Command::Resume(op)) = parse(&text) {
                prop_assert!(FunctionRef::parse(op.function.as_str()).is_ok());
                prop_assert!(op.reason.as_ref().is_none_or(|r| !r.trim().is_empty() && r.chars().count() <= 500));
            }
        }

        #[test]
        fn durations_round_trip(secs in 1u64..(365 * 86_400)) {
            let d = std::time::Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)), Some(d));
        }
    }
}
