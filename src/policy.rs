//! The policy file: who may request and approve which pause or resume, where (pure: parsing, validation, matching).
//!
//! # Format
//!
//! ```toml
//! [slack]
//! audit_channel = "C0AUDIT"        # optional: every audited event is also posted here
//! allowed_team_ids = ["T0001"]     # optional: requests from other workspaces get 401
//! approval_timeout = "1h"          # pending approvals expire (default 1h)
//!
//! [aws]
//! region = "us-east-1"             # optional; otherwise the SDK chain decides
//!
//! [[rules]]
//! functions = ["orders-*", "arn:aws:lambda:us-east-1:123456789012:function:billing"]  # globs on name or ARN
//! channels = ["C2147483705"]       # channel ids; empty or absent = any channel
//! requesters = ["U111", "S0OPS"]   # user ids (U…/W…) or user group ids (S…); empty or absent = anyone
//! approvers = ["U222", "S0LEADS"]  # who may approve; the requester never approves their own request
//! require_approval = ["resume"]    # actions that need an approver: any of "pause", "resume" (default ["resume"])
//! ```
//!
//! # Semantics
//!
//! Without a policy file ([`Policy::allow_all`]) every member of the workspace may pause and
//! resume any function the AWS role can reach, with their own confirmation and no approvals.
//! With one, a request is allowed only by the *first* rule that matches its function and
//! channel: a later rule is never consulted, even when the requester is not among the first
//! matching rule's requesters. A file without rules allows nothing.
//!
//! # Validation
//!
//! Every section is optional. Unknown keys, TOML syntax errors, wrongly typed values, bad ids,
//! bad globs, bad durations and regions, and a rule that requires approval but has no approvers
//! (nobody could ever approve it) are all rejected with a [`PolicyError`] naming the file, the
//! line and column, and the problem. When a file has several problems, the earliest one in the
//! file is reported. Problems name keys by path, with 0-based array indices:
//! `rules[0].channels[1]` is the second channel of the first rule (which
//! [`Policy::describe`] and [`Rule::number`] call rule 1).
//!
//! # Globs
//!
//! `*` matches any run of characters (possibly empty) and `?` exactly one character; matching
//! is case-sensitive and covers the whole name or ARN. Every other character must be one that
//! can appear in a function name or ARN (`A-Z a-z 0-9 _ - . : $`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

use crate::command::{Action, Region, format_duration, parse_duration};
use crate::ids::{ChannelId, TeamId, UserId};

/// How long a pending approval waits when the file does not say.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// Shortest accepted `approval_timeout`.
pub const MIN_APPROVAL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest accepted `approval_timeout`.
pub const MAX_APPROVAL_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A problem in the policy file, located at a 1-based line and column (0:0 when the file
/// could not be read at all).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {problem}")]
pub struct PolicyError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// An English sentence naming the key, for an operator in a terminal.
    pub problem: String,
}

// ---------------------------------------------------------------------------------------------
// Principals and globs
// ---------------------------------------------------------------------------------------------

/// Someone named in `requesters` or `approvers`: a user, or a user group whose members the
/// caller resolves through Slack.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Principal {
    /// A user id, `U…` or `W…`.
    User(UserId),
    /// A user group id, `S…`.
    Group(String),
}

impl Principal {
    /// A user id (`^[UW][A-Z0-9]{2,}$`) or a user group id (`^S[A-Z0-9]{2,}$`).
    pub fn parse(s: &str) -> Option<Principal> {
        if is_user_id(s) {
            Some(Principal::User(UserId::new(s)))
        } else if is_group_id(s) {
            Some(Principal::Group(s.to_string()))
        } else {
            None
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        match self {
            Principal::User(user) => user.as_str(),
            Principal::Group(group) => group,
        }
    }

    /// Whether `user` is this principal: the user itself, or a member of the group.
    fn includes(&self, user: &UserId, members: &GroupMembers) -> bool {
        match self {
            Principal::User(id) => id == user,
            Principal::Group(group) => members.get(group).is_some_and(|set| set.contains(user)),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A function glob: `*` is any run of characters (possibly empty), `?` one character; the
/// rest is literal. Only buildable through [`Glob::parse`], so the pattern is plain ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// Validates a glob; the error is an English problem without the key (the caller adds it).
    pub fn parse(s: &str) -> Result<Glob, String> {
        if s.is_empty() {
            return Err("a function glob must not be empty".to_string());
        }
        if let Some(c) = s.chars().find(|&c| !is_glob_char(c)) {
            return Err(format!(
                "{} uses unsupported glob syntax {c:?}: only `*` and `?` are special, and every \
                 other character must be valid in a function name or ARN \
                 (letters, digits, `_`, `-`, `.`, `:`, `$`)",
                shown(s)
            ));
        }
        Ok(Glob(s.to_string()))
    }

    /// Whether the whole of `text` matches (case-sensitive).
    ///
    /// Iterative matching with a single backtrack point (the last `*`): O(pattern × text) in
    /// the worst case, never exponential.
    pub fn matches(&self, text: &str) -> bool {
        let pattern = self.0.as_bytes();
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut t) = (0, 0);
        // After the last `*` seen: where the pattern resumes, and where in the text that `*`'s
        // run currently ends.
        let mut backtrack: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some(b'*') => {
                    p += 1;
                    backtrack = Some((p, t));
                }
                Some(&b) if b == b'?' || char::from(b) == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match backtrack {
                    Some((resume, end)) => {
                        // Let the last `*` swallow one more character and retry.
                        backtrack = Some((resume, end + 1));
                        p = resume;
                        t = end + 1;
                    }
                    None => return false,
                },
            }
        }
        pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_glob_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '$' | '*' | '?')
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

/// Members of the user groups involved, as resolved by the caller: group id → user ids.
pub type GroupMembers = HashMap<String, HashSet<UserId>>;

/// One `[[rules]]` entry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based position in the file.
    pub number: usize,
    /// The line of its `[[rules]]` header (or inline table).
    pub line: usize,
    /// Never empty.
    pub functions: Vec<Glob>,
    /// Empty = any channel.
    pub channels: Vec<ChannelId>,
    /// Empty = anyone.
    pub requesters: Vec<Principal>,
    pub approvers: Vec<Principal>,
    /// No duplicates; never non-empty while `approvers` is empty.
    pub require_approval: Vec<Action>,
}

impl Rule {
    /// Whether any glob matches the function's name or its ARN (as given, and without a
    /// trailing `:qualifier`), and the channel is allowed (`channels` empty = any channel).
    ///
    /// Pass the ARN as AWS reports it when known: a rule written with ARNs matches nothing
    /// by name alone.
    pub fn matches(
        &self,
        function_name: &str,
        function_arn: Option<&str>,
        channel: &ChannelId,
    ) -> bool {
        let unqualified = function_arn.and_then(unqualified_arn);
        let function_matches = self.functions.iter().any(|glob| {
            glob.matches(function_name)
                || function_arn.is_some_and(|arn| glob.matches(arn))
                || unqualified.is_some_and(|arn| glob.matches(arn))
        });
        function_matches && (self.channels.is_empty() || self.channels.contains(channel))
    }

    /// Whether `action` needs an approver under this rule.
    pub fn needs_approval(&self, action: Action) -> bool {
        self.require_approval.contains(&action)
    }

    /// Group ids that must be expanded (via Slack) before checking `user` as requester.
    pub fn requester_groups(&self) -> Vec<&str> {
        groups(&self.requesters)
    }

    /// Group ids that must be expanded (via Slack) before checking `user` as approver.
    pub fn approver_groups(&self) -> Vec<&str> {
        groups(&self.approvers)
    }

    /// Whether `user` may request under this rule (`requesters` empty = anyone).
    pub fn allows_requester(&self, user: &UserId, members: &GroupMembers) -> bool {
        self.requesters.is_empty() || self.requesters.iter().any(|p| p.includes(user, members))
    }

    /// Whether `user` is among the approvers (directly or through a group). This does not
    /// exclude the requester: see [`Policy::may_approve`].
    pub fn is_approver(&self, user: &UserId, members: &GroupMembers) -> bool {
        self.approvers.iter().any(|p| p.includes(user, members))
    }
}

fn groups(principals: &[Principal]) -> Vec<&str> {
    principals
        .iter()
        .filter_map(|p| match p {
            Principal::Group(group) => Some(group.as_str()),
            Principal::User(_) => None,
        })
        .collect()
}

/// `arn:<partition>:lambda:<region>:<account>:function:<name>:<qualifier>` → the ARN without
/// `:<qualifier>`; `None` for anything else.
fn unqualified_arn(arn: &str) -> Option<&str> {
    let fields: Vec<&str> = arn.split(':').collect();
    if fields.len() == 8 && fields[0] == "arn" && fields[5] == "function" {
        arn.rfind(':').map(|colon| &arn[..colon])
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The policy
// ---------------------------------------------------------------------------------------------

/// The effective policy: a parsed file, or [`Policy::allow_all`] without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The file it came from; `None` only for [`Policy::allow_all`].
    pub file: Option<String>,
    pub audit_channel: Option<ChannelId>,
    /// Empty = any workspace.
    pub allowed_team_ids: Vec<TeamId>,
    pub approval_timeout: Duration,
    /// A valid region (see [`Region::parse`]); `None` = the AWS SDK's default chain decides.
    pub region: Option<String>,
    pub rules: Vec<Rule>,
}

/// The outcome of [`Policy::decide`] for a new request. No wording: another module words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; `rule` is None only without a policy file.
    Allowed {
        rule: Option<usize>,
        needs_approval: bool,
    },
    /// No rule matches this function in this channel.
    NoRule,
    /// Rule `rule` matched, but `user` is not among its requesters.
    NotARequester { rule: usize },
}

/// The outcome of [`Policy::may_approve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproverCheck {
    Allowed,
    /// The approver is the requester: nobody approves their own request.
    IsRequester,
    NotAnApprover,
    /// No rule has that number (or there is no policy file, hence no rules).
    NoSuchRule,
}

impl Policy {
    /// No policy file: everyone may do everything, no approvals, default approval timeout 1h.
    pub fn allow_all() -> Policy {
        Policy {
            file: None,
            audit_channel: None,
            allowed_team_ids: Vec::new(),
            approval_timeout: DEFAULT_APPROVAL_TIMEOUT,
            region: None,
            rules: Vec::new(),
        }
    }

    /// True iff built by [`Policy::allow_all`] (`file == None`).
    pub fn is_allow_all(&self) -> bool {
        self.file.is_none()
    }

    /// Parses and validates the text of a policy file; `file` names it in errors and in
    /// [`Policy::file`]. The first problem in file order is reported.
    pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyError> {
        let source = Source { text, file };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let spanned = text.get(span.clone()).unwrap_or_default();
            source.error_at(span.start, toml_problem(e.message(), spanned))
        })?;
        Validator { source }.policy(raw)
    }

    /// Reads and parses a policy file. I/O errors are reported at line 0, column 0.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let file = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Policy::parse(&text, &file),
            Err(e) => Err(PolicyError {
                file,
                line: 0,
                column: 0,
                problem: format!("cannot read the policy file: {e}"),
            }),
        }
    }

    /// `allowed_team_ids` empty = any team; a request without a team (org-wide install) is
    /// allowed only when the list is empty.
    pub fn team_allowed(&self, team: Option<&TeamId>) -> bool {
        self.allowed_team_ids.is_empty()
            || team.is_some_and(|team| self.allowed_team_ids.contains(team))
    }

    /// The first rule matching the function and channel; with allow_all, None and `decide`
    /// says allowed.
    pub fn rule_for(
        &self,
        function_name: &str,
        function_arn: Option<&str>,
        channel: &ChannelId,
    ) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|rule| rule.matches(function_name, function_arn, channel))
    }

    /// The whole decision for a new request, given resolved group members (pass an empty map
    /// when no rule needs groups).
    pub fn decide(
        &self,
        action: Action,
        function_name: &str,
        function_arn: Option<&str>,
        channel: &ChannelId,
        user: &UserId,
        members: &GroupMembers,
    ) -> Decision {
        if self.is_allow_all() {
            return Decision::Allowed {
                rule: None,
                needs_approval: false,
            };
        }
        match self.rule_for(function_name, function_arn, channel) {
            None => Decision::NoRule,
            Some(rule) if !rule.allows_requester(user, members) => {
                Decision::NotARequester { rule: rule.number }
            }
            Some(rule) => Decision::Allowed {
                rule: Some(rule.number),
                needs_approval: rule.needs_approval(action),
            },
        }
    }

    /// Whether `approver` may approve/deny a request by `requester` under rule number `rule`
    /// (1-based). The requester is refused even when they are an approver.
    pub fn may_approve(
        &self,
        rule: usize,
        approver: &UserId,
        requester: &UserId,
        members: &GroupMembers,
    ) -> ApproverCheck {
        let Some(rule) = self.rules.iter().find(|r| r.number == rule) else {
            return ApproverCheck::NoSuchRule;
        };
        if approver == requester {
            ApproverCheck::IsRequester
        } else if rule.is_approver(approver, members) {
            ApproverCheck::Allowed
        } else {
            ApproverCheck::NotAnApprover
        }
    }

    /// A readable description of the effective rules for `lambda-pause check-config`
    /// (multi-line plain text, ending with a newline).
    pub fn describe(&self) -> String {
        let Some(file) = &self.file else {
            return "No policy file: every member of the workspace may pause and resume any \
                    function the AWS role can reach, with their own confirmation and no approvals.\n"
                .to_string();
        };
        let mut out = format!("Policy file: {file}\n");
        if self.allowed_team_ids.is_empty() {
            out.push_str("Workspaces: any\n");
        } else {
            out.push_str(&format!(
                "Workspaces: {} only (requests from other workspaces, or from an org-wide install \
                 without a workspace, are refused)\n",
                join(&self.allowed_team_ids)
            ));
        }
        match &self.audit_channel {
            Some(channel) => out.push_str(&format!("Audit channel: {channel}\n")),
            None => out.push_str("Audit channel: none\n"),
        }
        out.push_str(&format!(
            "Approval timeout: {} (pending approvals expire after this)\n",
            format_duration(self.approval_timeout)
        ));
        match &self.region {
            Some(region) => out.push_str(&format!("AWS region: {region}\n")),
            None => out.push_str("AWS region: not set (the AWS SDK's default chain decides)\n"),
        }
        if self.rules.is_empty() {
            out.push_str(
                "Rules: none, so nothing is allowed: every pause and resume request will be refused.\n",
            );
            return out;
        }
        out.push_str(&format!(
            "Rules: {} (the first rule matching a request's function and channel decides; \
             nobody approves their own request)\n",
            self.rules.len()
        ));
        for rule in &self.rules {
            out.push_str(&format!("Rule {} (line {}):\n", rule.number, rule.line));
            out.push_str(&format!("  functions: {}\n", join(&rule.functions)));
            out.push_str(&format!(
                "  channels: {}\n",
                or_else(&rule.channels, "any channel")
            ));
            out.push_str(&format!(
                "  requesters: {}\n",
                or_else(&rule.requesters, "anyone")
            ));
            out.push_str(&format!(
                "  approvers: {}\n",
                or_else(&rule.approvers, "none")
            ));
            let needs = |action| rule.needs_approval(action);
            let approval = match (needs(Action::Pause), needs(Action::Resume)) {
                (false, false) => {
                    "nothing (pause and resume need only the requester's confirmation)"
                }
                (true, false) => "pause (resume needs only the requester's confirmation)",
                (false, true) => "resume (pause needs only the requester's confirmation)",
                (true, true) => "pause, resume",
            };
            out.push_str(&format!("  needs approval: {approval}\n"));
        }
        out
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_else<T: fmt::Display>(items: &[T], empty: &str) -> String {
    if items.is_empty() {
        empty.to_string()
    } else {
        join(items)
    }
}

// ---------------------------------------------------------------------------------------------
// Ids
// ---------------------------------------------------------------------------------------------

/// `^[<first>][A-Z0-9]{2,}$`
fn has_id_shape(s: &str, first: &[u8]) -> bool {
    match s.as_bytes() {
        [head, rest @ ..] => {
            first.contains(head)
                && rest.len() >= 2
                && rest
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        [] => false,
    }
}

fn is_channel_id(s: &str) -> bool {
    has_id_shape(s, b"CGD")
}

fn is_user_id(s: &str) -> bool {
    has_id_shape(s, b"UW")
}

fn is_group_id(s: &str) -> bool {
    has_id_shape(s, b"S")
}

fn is_team_id(s: &str) -> bool {
    has_id_shape(s, b"TE")
}

/// A value quoted for a message: in backticks, escaped, and cut when very long.
fn shown(s: &str) -> String {
    const MAX: usize = 80;
    let escaped: String = s.escape_debug().collect();
    if escaped.chars().count() > MAX {
        format!("`{}…`", escaped.chars().take(MAX).collect::<String>())
    } else {
        format!("`{escaped}`")
    }
}

// ---------------------------------------------------------------------------------------------
// The raw file, as TOML gives it
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    slack: Option<Spanned<TableOr<RawSlack>>>,
    aws: Option<Spanned<TableOr<RawAws>>>,
    rules: Option<Spanned<ListOr<TableOr<RawRule>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSlack {
    audit_channel: Option<Spanned<Scalar>>,
    allowed_team_ids: Option<Spanned<ListOr<Scalar>>>,
    approval_timeout: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAws {
    region: Option<Spanned<Scalar>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    functions: Option<Spanned<ListOr<Scalar>>>,
    channels: Option<Spanned<ListOr<Scalar>>>,
    requesters: Option<Spanned<ListOr<Scalar>>>,
    approvers: Option<Spanned<ListOr<Scalar>>>,
    require_approval: Option<Spanned<ListOr<Scalar>>>,
}

/// What a value was when it was not what we wanted, for messages.
enum Found {
    Str(String),
    Kind(&'static str),
}

impl Found {
    fn describe(&self) -> &'static str {
        match self {
            Found::Str(_) => "a string",
            Found::Kind(kind) => kind,
        }
    }
}

/// A value that should be a string; anything else is kept as what it was, so that the
/// validator can name the key in its message.
enum Scalar {
    Str(String),
    Other(Found),
}

/// A value that should be a table deserializing to `T`; anything else is kept as what it was.
/// (A derived struct alone would also accept an array of its fields, positionally.)
enum TableOr<T> {
    Table(T),
    Other(Found),
}

/// A value that should be an array of `T`; anything else is kept as what it was.
enum ListOr<T> {
    List(Vec<Spanned<T>>),
    Other(Found),
}

/// Consumes a table (or TOML date-time, which serde sees as a one-key table) and names it.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Found, A::Error> {
    let mut kind = "a table";
    while let Some(key) = map.next_key::<String>()? {
        if key == "$__toml_private_datetime" {
            kind = "a date-time";
        }
        map.next_value::<IgnoredAny>()?;
    }
    Ok(Found::Kind(kind))
}

/// Consumes an array.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Found, A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(Found::Kind("an array"))
}

/// Visits booleans and numbers into [`Found`].
macro_rules! visit_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::from(Found::Kind("a boolean")))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::from(Found::Kind("an integer")))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::from(Found::Kind("an integer")))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::from(Found::Kind("a float")))
        }
    };
}

impl From<Found> for Scalar {
    fn from(found: Found) -> Self {
        Scalar::Other(found)
    }
}

impl<T> From<Found> for ListOr<T> {
    fn from(found: Found) -> Self {
        ListOr::Other(found)
    }
}

impl<T> From<Found> for TableOr<T> {
    fn from(found: Found) -> Self {
        TableOr::Other(found)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
                Ok(Scalar::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar, A::Error> {
                drain_seq(seq).map(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(Self::Value::from)
            }
            visit_scalars!();
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListOr<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = ListOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ListOr<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<T>>()? {
                    items.push(item);
                }
                Ok(ListOr::List(items))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListOr<T>, E> {
                Ok(ListOr::Other(Found::Str(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(Self::Value::from)
            }
            visit_scalars!();
        }
        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for TableOr<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for TableVisitor<T> {
            type Value = TableOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TableOr<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(TableOr::Table)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<TableOr<T>, A::Error> {
                drain_seq(seq).map(TableOr::Other)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TableOr<T>, E> {
                Ok(TableOr::Other(Found::Str(v.to_string())))
            }
            visit_scalars!();
        }
        deserializer.deserialize_any(TableVisitor(std::marker::PhantomData))
    }
}

/// toml's own message, on one line, with our private type names replaced by what the
/// operator wrote; `spanned` is the text the error points at.
fn toml_problem(message: &str, spanned: &str) -> String {
    let one_line = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if one_line.contains("$__toml_private_datetime") {
        // A date-time where a table belongs: serde sees it as a table with one private key.
        return "expected a table, found a date-time".to_string();
    }
    if one_line == "duplicate key" && !spanned.trim().is_empty() {
        return format!("duplicate key {}", shown(spanned.trim()));
    }
    let problem = one_line
        .replace("struct RawFile", "a table")
        .replace("struct RawSlack", "the [slack] table")
        .replace("struct RawAws", "the [aws] table")
        .replace("struct RawRule", "a [[rules]] table");
    if problem.is_empty() {
        "invalid TOML".to_string()
    } else {
        problem
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/// The text being parsed, for turning byte offsets into lines and columns.
#[derive(Clone, Copy)]
struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    /// 1-based line and column (in characters) of a byte offset; out-of-range offsets are
    /// clamped.
    fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let mut line_text = &before[line_start..];
        if line_start == 0 {
            // A byte order mark is no column.
            line_text = line_text.strip_prefix('\u{feff}').unwrap_or(line_text);
        }
        let column = line_text.chars().count() + 1;
        (line, column)
    }

    fn error_at(&self, offset: usize, problem: impl Into<String>) -> PolicyError {
        let (line, column) = self.line_column(offset);
        PolicyError {
            file: self.file.to_string(),
            line,
            column,
            problem: problem.into(),
        }
    }

    fn error(&self, span: &Range<usize>, problem: impl Into<String>) -> PolicyError {
        self.error_at(span.start, problem)
    }
}

/// A string value with its key path (`rules[0].channels[1]`) and span.
struct Item<'a> {
    key: String,
    value: &'a str,
    span: Range<usize>,
}

struct Validator<'a> {
    source: Source<'a>,
}

impl Validator<'_> {
    fn policy(&self, raw: RawFile) -> Result<Policy, PolicyError> {
        // Validate every part, then report the problem that comes first in the file.
        let mut errors = Vec::new();
        let mut keep = |result: Result<(), PolicyError>| {
            if let Err(e) = result {
                errors.push(e);
            }
        };

        let mut policy = Policy {
            file: Some(self.source.file.to_string()),
            ..Policy::allow_all()
        };
        if let Some(slack) = &raw.slack {
            keep(
                self.table("slack", slack)
                    .and_then(|slack| self.slack(slack, &mut policy)),
            );
        }
        if let Some(aws) = &raw.aws {
            keep(self.table("aws", aws).and_then(|aws| {
                match &aws.region {
                    Some(region) => self
                        .region(region)
                        .map(|region| policy.region = Some(region)),
                    None => Ok(()),
                }
            }));
        }
        if let Some(rules) = &raw.rules {
            match rules.get_ref() {
                ListOr::List(items) => {
                    for (index, rule) in items.iter().enumerate() {
                        keep(self.rule(index, rule).map(|rule| policy.rules.push(rule)));
                    }
                }
                ListOr::Other(found) => keep(Err(self.source.error(
                    &rules.span(),
                    format!(
                        "rules: expected an array of tables (write each rule as a [[rules]] \
                         table), found {}",
                        found.describe()
                    ),
                ))),
            }
        }
        match errors.into_iter().min_by_key(|e| (e.line, e.column)) {
            Some(error) => Err(error),
            None => Ok(policy),
        }
    }

    fn slack(&self, raw: &RawSlack, policy: &mut Policy) -> Result<(), PolicyError> {
        let mut errors = Vec::new();
        if let Some(value) = &raw.audit_channel {
            match self.string("slack.audit_channel", value) {
                Ok(item) => match self.channel(&item) {
                    Ok(channel) => policy.audit_channel = Some(channel),
                    Err(e) => errors.push(e),
                },
                Err(e) => errors.push(e),
            }
        }
        if let Some(value) = &raw.allowed_team_ids {
            let result = self
                .strings("slack.allowed_team_ids", value)
                .and_then(|items| {
                    items
                        .iter()
                        .map(|item| self.team(item))
                        .collect::<Result<Vec<_>, _>>()
                });
            match result {
                Ok(teams) => policy.allowed_team_ids = teams,
                Err(e) => errors.push(e),
            }
        }
        if let Some(value) = &raw.approval_timeout {
            match self
                .string("slack.approval_timeout", value)
                .and_then(|item| self.timeout(&item))
            {
                Ok(timeout) => policy.approval_timeout = timeout,
                Err(e) => errors.push(e),
            }
        }
        match errors.into_iter().min_by_key(|e| (e.line, e.column)) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn region(&self, value: &Spanned<Scalar>) -> Result<String, PolicyError> {
        let item = self.string("aws.region", value)?;
        match Region::parse(item.value) {
            Some(region) => Ok(region.as_str().to_string()),
            None => Err(self.source.error(
                &item.span,
                format!(
                    "{}: {} is not an AWS region (like `us-east-1` or `eu-central-2`, in lowercase)",
                    item.key,
                    shown(item.value)
                ),
            )),
        }
    }

    fn timeout(&self, item: &Item<'_>) -> Result<Duration, PolicyError> {
        let Some(timeout) = parse_duration(item.value) else {
            return Err(self.source.error(
                &item.span,
                format!(
                    "{}: {} is not a duration (write it like `90s`, `30m`, `1h`, `1d` or `1h30m`, \
                     between 1 minute and 7 days)",
                    item.key,
                    shown(item.value)
                ),
            ));
        };
        if !(MIN_APPROVAL_TIMEOUT..=MAX_APPROVAL_TIMEOUT).contains(&timeout) {
            return Err(self.source.error(
                &item.span,
                format!(
                    "{}: {} is out of range: pending approvals must expire between 1 minute and \
                     7 days after the request",
                    item.key,
                    shown(item.value)
                ),
            ));
        }
        Ok(timeout)
    }

    fn rule(&self, index: usize, raw: &Spanned<TableOr<RawRule>>) -> Result<Rule, PolicyError> {
        let path = format!("rules[{index}]");
        let header = raw.span();
        let raw = self.table(&path, raw)?;
        let list = |name: &str, value| self.optional_strings(&format!("{path}.{name}"), value);

        let Some(functions_value) = &raw.functions else {
            return Err(self.source.error(
                &header,
                format!(
                    "{path}: `functions` is required: list the function names, ARNs or globs \
                     this rule covers"
                ),
            ));
        };
        let function_items = list("functions", &raw.functions)?;
        if function_items.is_empty() {
            return Err(self.source.error(
                &functions_value.span(),
                format!(
                    "{path}.functions: must not be empty: list at least one function name, ARN \
                     or glob"
                ),
            ));
        }
        let functions = function_items
            .iter()
            .map(|item| {
                Glob::parse(item.value).map_err(|problem| {
                    self.source
                        .error(&item.span, format!("{}: {problem}", item.key))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let channels = list("channels", &raw.channels)?
            .iter()
            .map(|item| self.channel(item))
            .collect::<Result<Vec<_>, _>>()?;
        let requesters = list("requesters", &raw.requesters)?
            .iter()
            .map(|item| self.principal(item))
            .collect::<Result<Vec<_>, _>>()?;
        let approvers = list("approvers", &raw.approvers)?
            .iter()
            .map(|item| self.principal(item))
            .collect::<Result<Vec<_>, _>>()?;
        let require_approval = match &raw.require_approval {
            None => vec![Action::Resume],
            Some(_) => self.actions(list("require_approval", &raw.require_approval)?)?,
        };

        if !require_approval.is_empty() && approvers.is_empty() {
            let actions = require_approval
                .iter()
                .map(|action| action.as_str())
                .collect::<Vec<_>>()
                .join(" and ");
            let verb = if require_approval.len() == 1 {
                "needs"
            } else {
                "need"
            };
            return Err(match &raw.require_approval {
                Some(value) => self.source.error(
                    &value.span(),
                    format!(
                        "{path}.require_approval: {actions} {verb} approval but the rule has no \
                         `approvers`, so nobody could ever approve it; add `approvers` or set \
                         `require_approval = []`"
                    ),
                ),
                None => self.source.error(
                    &header,
                    format!(
                        "{path}: resume needs approval by default (`require_approval` is absent) \
                         but the rule has no `approvers`, so nobody could ever approve it; add \
                         `approvers` or set `require_approval = []`"
                    ),
                ),
            });
        }

        let (line, _) = self.source.line_column(header.start);
        Ok(Rule {
            number: index + 1,
            line,
            functions,
            channels,
            requesters,
            approvers,
            require_approval,
        })
    }

    fn actions(&self, items: Vec<Item<'_>>) -> Result<Vec<Action>, PolicyError> {
        let mut actions = Vec::new();
        for item in &items {
            let action = match item.value {
                "pause" => Action::Pause,
                "resume" => Action::Resume,
                _ => {
                    return Err(self.source.error(
                        &item.span,
                        format!(
                            "{}: {} is not an action that can require approval (expected \
                             \"pause\" or \"resume\")",
                            item.key,
                            shown(item.value)
                        ),
                    ));
                }
            };
            if actions.contains(&action) {
                return Err(self.source.error(
                    &item.span,
                    format!("{}: {} is listed twice", item.key, shown(item.value)),
                ));
            }
            actions.push(action);
        }
        Ok(actions)
    }

    fn channel(&self, item: &Item<'_>) -> Result<ChannelId, PolicyError> {
        if is_channel_id(item.value) {
            return Ok(ChannelId::new(item.value));
        }
        let hint = if item.value.starts_with('#') {
            ": use the channel's id (in Slack: channel details, at the bottom), not its name"
        } else {
            ""
        };
        Err(self.source.error(
            &item.span,
            format!(
                "{}: {} is not a Slack channel id (C…, G… or D…){hint}",
                item.key,
                shown(item.value)
            ),
        ))
    }

    fn team(&self, item: &Item<'_>) -> Result<TeamId, PolicyError> {
        if is_team_id(item.value) {
            return Ok(TeamId::new(item.value));
        }
        Err(self.source.error(
            &item.span,
            format!(
                "{}: {} is not a Slack workspace (team) id (T… or E…)",
                item.key,
                shown(item.value)
            ),
        ))
    }

    fn principal(&self, item: &Item<'_>) -> Result<Principal, PolicyError> {
        if let Some(principal) = Principal::parse(item.value) {
            return Ok(principal);
        }
        let hint = if item.value.starts_with('@') {
            ": use the member or group id, not its name"
        } else {
            ""
        };
        Err(self.source.error(
            &item.span,
            format!(
                "{}: {} is not a Slack user id (U… or W…) or user group id (S…){hint}",
                item.key,
                shown(item.value)
            ),
        ))
    }

    /// A value that must be a table.
    fn table<'v, T>(
        &self,
        key: &str,
        value: &'v Spanned<TableOr<T>>,
    ) -> Result<&'v T, PolicyError> {
        match value.get_ref() {
            TableOr::Table(table) => Ok(table),
            TableOr::Other(found) => Err(self.source.error(
                &value.span(),
                format!("{key}: expected a table, found {}", found.describe()),
            )),
        }
    }

    /// A value that must be a string.
    fn string<'v>(&self, key: &str, value: &'v Spanned<Scalar>) -> Result<Item<'v>, PolicyError> {
        match value.get_ref() {
            Scalar::Str(s) => Ok(Item {
                key: key.to_string(),
                value: s,
                span: value.span(),
            }),
            Scalar::Other(found) => Err(self.source.error(
                &value.span(),
                format!("{key}: expected a string, found {}", found.describe()),
            )),
        }
    }

    /// An optional array of strings; absent = empty.
    fn optional_strings<'v>(
        &self,
        key: &str,
        value: &'v Option<Spanned<ListOr<Scalar>>>,
    ) -> Result<Vec<Item<'v>>, PolicyError> {
        match value {
            Some(value) => self.strings(key, value),
            None => Ok(Vec::new()),
        }
    }

    /// A value that must be an array of strings.
    fn strings<'v>(
        &self,
        key: &str,
        value: &'v Spanned<ListOr<Scalar>>,
    ) -> Result<Vec<Item<'v>>, PolicyError> {
        match value.get_ref() {
            ListOr::List(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| self.string(&format!("{key}[{index}]"), item))
                .collect(),
            ListOr::Other(Found::Str(s)) => Err(self.source.error(
                &value.span(),
                format!(
                    "{key}: expected an array of strings, found a string (write [{:?}])",
                    s
                ),
            )),
            ListOr::Other(found) => Err(self.source.error(
                &value.span(),
                format!(
                    "{key}: expected an array of strings, found {}",
                    found.describe()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"[slack]
audit_channel = "C0AUDIT"        # optional: every audited event is also posted here
allowed_team_ids = ["T0001"]     # optional: requests from other workspaces get 401
approval_timeout = "1h"          # pending approvals expire (default 1h)

[aws]
region = "us-east-1"             # optional; otherwise the SDK chain decides

[[rules]]
functions = ["orders-*", "arn:aws:lambda:us-east-1:123456789012:function:billing"]  # globs on name or ARN
channels = ["C2147483705"]       # channel ids; empty or absent = any channel
requesters = ["U111", "S0OPS"]   # user ids (U…/W…) or user group ids (S…); empty or absent = anyone
approvers = ["U222", "S0LEADS"]  # who may approve; the requester never approves their own request
require_approval = ["resume"]    # actions that need an approver: any of "pause", "resume" (default ["resume"])
"#;

    fn user(id: &str) -> UserId {
        UserId::new(id)
    }

    fn channel(id: &str) -> ChannelId {
        ChannelId::new(id)
    }

    fn glob(s: &str) -> Glob {
        Glob::parse(s).unwrap()
    }

    fn principal(s: &str) -> Principal {
        Principal::parse(s).unwrap()
    }

    fn parse(text: &str) -> Policy {
        Policy::parse(text, "policy.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    fn no_members() -> GroupMembers {
        GroupMembers::new()
    }

    fn members(group: &str, users: &[&str]) -> GroupMembers {
        let mut map = GroupMembers::new();
        map.insert(group.to_string(), users.iter().map(|u| user(u)).collect());
        map
    }

    #[test]
    fn the_contract_example_parses() {
        let policy = parse(EXAMPLE);
        assert_eq!(
            policy,
            Policy {
                file: Some("policy.toml".to_string()),
                audit_channel: Some(channel("C0AUDIT")),
                allowed_team_ids: vec![TeamId::new("T0001")],
                approval_timeout: Duration::from_secs(3600),
                region: Some("us-east-1".to_string()),
                rules: vec![Rule {
                    number: 1,
                    line: 9,
                    functions: vec![
                        glob("orders-*"),
                        glob("arn:aws:lambda:us-east-1:123456789012:function:billing"),
                    ],
                    channels: vec![channel("C2147483705")],
                    requesters: vec![
                        Principal::User(user("U111")),
                        Principal::Group("S0OPS".to_string()),
                    ],
                    approvers: vec![
                        Principal::User(user("U222")),
                        Principal::Group("S0LEADS".to_string()),
                    ],
                    require_approval: vec![Action::Resume],
                }],
            }
        );
        assert!(!policy.is_allow_all());
    }

    #[test]
    fn defaults() {
        let policy = parse("[[rules]]\nfunctions = [\"*\"]\napprovers = [\"U222\"]\n");
        assert_eq!(policy.approval_timeout, Duration::from_secs(3600));
        assert_eq!(policy.audit_channel, None);
        assert_eq!(policy.allowed_team_ids, Vec::<TeamId>::new());
        assert_eq!(policy.region, None);
        let rule = &policy.rules[0];
        assert_eq!(rule.require_approval, vec![Action::Resume]);
        assert!(rule.channels.is_empty() && rule.requesters.is_empty());
        assert_eq!((rule.number, rule.line), (1, 1));

        let empty = parse("");
        assert!(empty.rules.is_empty());
        assert_eq!(empty.approval_timeout, DEFAULT_APPROVAL_TIMEOUT);
        assert_eq!(empty.file.as_deref(), Some("policy.toml"));

        let no_approval = parse("[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\n");
        assert!(no_approval.rules[0].require_approval.is_empty());
        assert!(!no_approval.rules[0].needs_approval(Action::Resume));

        let other = parse("[slack]\napproval_timeout = \"1h30m\"\n[aws]\n");
        assert_eq!(other.approval_timeout, Duration::from_secs(5400));
        assert_eq!(other.region, None);
    }

    #[test]
    fn inline_rules_and_numbers() {
        let policy = parse(
            "rules = [\n  { functions = [\"a\"], require_approval = [] },\n  { functions = [\"b\"], approvers = [\"U1X\"], require_approval = [\"pause\", \"resume\"] },\n]\n",
        );
        assert_eq!(policy.rules.len(), 2);
        assert_eq!((policy.rules[0].number, policy.rules[0].line), (1, 2));
        assert_eq!((policy.rules[1].number, policy.rules[1].line), (2, 3));
        assert_eq!(
            policy.rules[1].require_approval,
            vec![Action::Pause, Action::Resume]
        );
    }

    /// (name, file text, expected line, expected column (0 = don't check), fragments of the problem)
    const ERRORS: &[(&str, &str, usize, usize, &[&str])] = &[
        (
            "unknown top-level key",
            "[slack]\napproval_timeout = \"1h\"\n\n[policy]\nx = 1\n",
            4,
            2,
            &["unknown field `policy`"],
        ),
        (
            "unknown key in [slack]",
            "[slack]\naudit = \"C0AUDIT\"\n",
            2,
            1,
            &["unknown field `audit`", "audit_channel"],
        ),
        (
            "unknown key in a rule",
            "[[rules]]\nfunctions = [\"*\"]\napprover = [\"U222\"]\n",
            3,
            1,
            &["unknown field `approver`", "`approvers`"],
        ),
        (
            "bad TOML",
            "[[rules]]\nfunctions = [\"*\"\n",
            2,
            17,
            &["expected `]`"],
        ),
        (
            "duplicate key",
            "[slack]\n[slack]\n",
            2,
            0,
            &["duplicate key `slack`"],
        ),
        (
            "duplicate key in a rule",
            "[[rules]]\nfunctions = [\"*\"]\nfunctions = [\"x\"]\n",
            3,
            1,
            &["duplicate key `functions`"],
        ),
        (
            "date-time instead of a table",
            "slack = 1979-05-27\n",
            1,
            0,
            &["expected a table, found a date-time"],
        ),
        (
            "byte order mark",
            "\u{feff}[aws]\nregion = \"x\"\n",
            2,
            10,
            &["aws.region"],
        ),
        (
            "byte order mark on line 1",
            "\u{feff}bad = 1\n",
            1,
            1,
            &["unknown field `bad`"],
        ),
        (
            "section of the wrong type",
            "slack = 5\n",
            1,
            9,
            &["slack: expected a table, found an integer"],
        ),
        (
            "rules of the wrong type",
            "rules = \"x\"\n",
            1,
            9,
            &["rules: expected an array of tables", "found a string"],
        ),
        (
            "rule of the wrong type",
            "rules = [5]\n",
            1,
            10,
            &["rules[0]: expected a table, found an integer"],
        ),
        (
            "bad channel id",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nchannels = [\"C2147483705\", \"c123\"]\n",
            4,
            28,
            &["rules[0].channels[1]", "`c123`", "not a Slack channel id"],
        ),
        (
            "channel name instead of id",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nchannels = [\"#incidents\"]\n",
            4,
            13,
            &["rules[0].channels[0]", "`#incidents`", "not its name"],
        ),
        (
            "channels not an array",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nchannels = \"C123\"\n",
            4,
            12,
            &[
                "rules[0].channels: expected an array of strings, found a string",
                "[\"C123\"]",
            ],
        ),
        (
            "channel not a string",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nchannels = [\"C123\", 5]\n",
            4,
            21,
            &["rules[0].channels[1]: expected a string, found an integer"],
        ),
        (
            "bad user id as requester",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\n\n[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nrequesters = [\"U111\", \"u222\"]\n",
            8,
            23,
            &["rules[1].requesters[1]", "`u222`", "not a Slack user id"],
        ),
        (
            "user name as requester",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nrequesters = [\"@bob\"]\n",
            4,
            15,
            &["rules[0].requesters[0]", "`@bob`", "not its name"],
        ),
        (
            "bad group id as requester",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\nrequesters = [\"S-OPS\"]\n",
            4,
            15,
            &["rules[0].requesters[0]", "`S-OPS`", "user group id"],
        ),
        (
            "bad group id as approver",
            "[[rules]]\nfunctions = [\"*\"]\napprovers = [\"U222\", \"Sx\"]\n",
            3,
            22,
            &["rules[0].approvers[1]", "`Sx`", "user group id (S…)"],
        ),
        (
            "bad team id",
            "[slack]\nallowed_team_ids = [\"T0001\", \"X0002\"]\n",
            2,
            30,
            &["slack.allowed_team_ids[1]", "`X0002`", "team"],
        ),
        (
            "bad audit channel",
            "[slack]\naudit_channel = \"U0AUDIT\"\n",
            2,
            17,
            &["slack.audit_channel", "`U0AUDIT`", "not a Slack channel id"],
        ),
        (
            "audit channel not a string",
            "[slack]\naudit_channel = [\"C0AUDIT\"]\n",
            2,
            17,
            &["slack.audit_channel: expected a string, found an array"],
        ),
        (
            "bad duration",
            "[slack]\napproval_timeout = \"1 hour\"\n",
            2,
            20,
            &["slack.approval_timeout", "`1 hour`", "not a duration"],
        ),
        (
            "duration of the wrong type",
            "[slack]\napproval_timeout = 3600\n",
            2,
            20,
            &["slack.approval_timeout: expected a string, found an integer"],
        ),
        (
            "date-time instead of a string",
            "[slack]\napproval_timeout = 1979-05-27\n",
            2,
            20,
            &["slack.approval_timeout: expected a string, found a date-time"],
        ),
        (
            "timeout too short",
            "[slack]\napproval_timeout = \"30s\"\n",
            2,
            20,
            &[
                "slack.approval_timeout",
                "`30s`",
                "out of range",
                "1 minute and 7 days",
            ],
        ),
        (
            "timeout too long",
            "[slack]\napproval_timeout = \"8d\"\n",
            2,
            20,
            &["slack.approval_timeout", "`8d`", "out of range"],
        ),
        (
            "bad region",
            "[aws]\nregion = \"US-EAST-1\"\n",
            2,
            10,
            &["aws.region", "`US-EAST-1`", "not an AWS region"],
        ),
        (
            "bad require_approval value",
            "[[rules]]\nfunctions = [\"*\"]\napprovers = [\"U222\"]\nrequire_approval = [\"approve\"]\n",
            4,
            21,
            &[
                "rules[0].require_approval[0]",
                "`approve`",
                "\"pause\" or \"resume\"",
            ],
        ),
        (
            "duplicate action",
            "[[rules]]\nfunctions = [\"*\"]\napprovers = [\"U222\"]\nrequire_approval = [\"resume\", \"pause\", \"resume\"]\n",
            4,
            40,
            &["rules[0].require_approval[2]", "`resume`", "listed twice"],
        ),
        (
            "bad glob character",
            "[[rules]]\nfunctions = [\"orders-*\", \"orders-[ab]\"]\nrequire_approval = []\n",
            2,
            26,
            &[
                "rules[0].functions[1]",
                "`orders-[ab]`",
                "unsupported glob syntax '['",
            ],
        ),
        (
            "glob with a space",
            "[[rules]]\nfunctions = [\"orders *\"]\nrequire_approval = []\n",
            2,
            14,
            &["rules[0].functions[0]", "unsupported glob syntax ' '"],
        ),
        (
            "empty glob",
            "[[rules]]\nfunctions = [\"\"]\nrequire_approval = []\n",
            2,
            14,
            &["rules[0].functions[0]", "must not be empty"],
        ),
        (
            "empty functions",
            "[[rules]]\nfunctions = []\nrequire_approval = []\n",
            2,
            13,
            &["rules[0].functions", "must not be empty"],
        ),
        (
            "missing functions",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\n\n[[rules]]\nchannels = [\"C123\"]\n",
            5,
            1,
            &["rules[1]", "`functions` is required"],
        ),
        (
            "require_approval without approvers",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = [\"pause\"]\n",
            3,
            20,
            &[
                "rules[0].require_approval",
                "pause needs approval",
                "no `approvers`",
            ],
        ),
        (
            "default require_approval without approvers",
            "\n[[rules]]\nfunctions = [\"*\"]\napprovers = []\n",
            2,
            1,
            &[
                "rules[0]",
                "resume needs approval by default",
                "no `approvers`",
                "require_approval = []",
            ],
        ),
        (
            "earliest problem in the file wins",
            "[[rules]]\nfunctions = [\"bad glob\"]\n\n[slack]\napproval_timeout = \"x\"\n",
            2,
            14,
            &["rules[0].functions[0]"],
        ),
        (
            "unicode columns count characters",
            "[[rules]]\nfunctions = [\"é\", \"é\"]\nrequire_approval = []\n",
            2,
            14,
            &["'é'"],
        ),
    ];

    #[test]
    fn validation_errors_name_line_and_key() {
        let mut failures = Vec::new();
        for (name, text, line, column, fragments) in ERRORS {
            let error = match Policy::parse(text, "p.toml") {
                Ok(policy) => {
                    failures.push(format!("{name}: accepted: {policy:?}"));
                    continue;
                }
                Err(error) => error,
            };
            let located = error.file == "p.toml"
                && error.line == *line
                && (*column == 0 || error.column == *column);
            let missing: Vec<_> = fragments
                .iter()
                .filter(|fragment| !error.problem.contains(*fragment))
                .collect();
            if !located || !missing.is_empty() || error.problem.contains('\n') {
                failures.push(format!(
                    "{name}: got {error} (expected line {line} column {column}; missing {missing:?})"
                ));
            }
            assert_eq!(
                error.to_string(),
                format!("p.toml:{}:{}: {}", error.line, error.column, error.problem)
            );
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn load_reads_the_file_and_reports_io_errors() {
        let dir = std::env::temp_dir().join(format!("lambda-pause-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("policy.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let policy = Policy::load(&path).unwrap();
        assert_eq!(policy.file, Some(path.display().to_string()));
        assert_eq!(policy.rules.len(), 1);

        let missing = dir.join("missing.toml");
        let error = Policy::load(&missing).unwrap_err();
        assert_eq!((error.line, error.column), (0, 0));
        assert_eq!(error.file, missing.display().to_string());
        assert!(
            error.problem.starts_with("cannot read the policy file: "),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn principals() {
        assert_eq!(
            Principal::parse("U111"),
            Some(Principal::User(user("U111")))
        );
        assert_eq!(
            Principal::parse("W0A1"),
            Some(Principal::User(user("W0A1")))
        );
        assert_eq!(
            Principal::parse("S0OPS"),
            Some(Principal::Group("S0OPS".to_string()))
        );
        for bad in [
            "", "U", "U1", "u111", "S0ops", "C111", "T111", "U11 ", "@bob", "Ü11",
        ] {
            assert_eq!(Principal::parse(bad), None, "{bad:?}");
        }
        assert_eq!(principal("S0OPS").to_string(), "S0OPS");
        assert_eq!(principal("U111").as_str(), "U111");
    }

    #[test]
    fn id_shapes() {
        assert!(is_channel_id("C2147483705") && is_channel_id("G01") && is_channel_id("D0X"));
        assert!(!is_channel_id("C1") && !is_channel_id("c123") && !is_channel_id("#general"));
        assert!(is_team_id("T0001") && is_team_id("E0001"));
        assert!(!is_team_id("T1") && !is_team_id("X0001") && !is_team_id(""));
    }

    #[test]
    fn glob_parsing() {
        for ok in [
            "*",
            "**",
            "?",
            "orders-*",
            "arn:aws:lambda:*:123456789012:function:billing",
            "fn:$LATEST",
            "a.b_c",
        ] {
            assert_eq!(
                Glob::parse(ok).map(|g| g.as_str().to_string()),
                Ok(ok.to_string())
            );
        }
        for (bad, ch) in [
            ("a[b]", '['),
            ("{a,b}", '{'),
            ("a b", ' '),
            ("a/b", '/'),
            ("a\\*", '\\'),
            ("é", 'é'),
            ("!a", '!'),
        ] {
            let problem = Glob::parse(bad).unwrap_err();
            assert!(
                problem.contains(&format!("unsupported glob syntax {ch:?}")),
                "{bad}: {problem}"
            );
        }
        assert!(Glob::parse("").unwrap_err().contains("empty"));
    }

    #[test]
    fn glob_matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("**", "x", true),
            ("", "", true),
            ("orders", "orders", true),
            ("orders", "Orders", false),
            ("orders", "orders-x", false),
            ("orders", "x-orders", false),
            ("orders-*", "orders-", true),
            ("orders-*", "orders-api", true),
            ("orders-*", "orders", false),
            ("*-api", "orders-api", true),
            ("*-api", "orders-api-2", false),
            ("o*s-api", "orders-api", true),
            ("o*s-api", "os-api", true),
            ("o*s-api", "o-api", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZcd", false),
            ("fn-?", "fn-1", true),
            ("fn-?", "fn-", false),
            ("fn-?", "fn-12", false),
            ("fn-?", "fn-é", true),
            ("??", "éé", true),
            ("*?", "", false),
            ("?*", "a", true),
            ("a*", "a*", true),
            ("*x*", "abxcd", true),
            ("*x*", "abcd", false),
            ("*a*a", "aaa", true),
            ("*ab", "aab", true),
        ];
        for (pattern, text, expected) in cases {
            // "" is not a valid glob, but the matcher must still behave.
            let glob = Glob(pattern.to_string());
            assert_eq!(glob.matches(text), *expected, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn pathological_glob_is_fast() {
        let glob = glob("*a*a*a*a*a*a*a*a*a*a*b");
        let text = "a".repeat(100_000);
        let started = std::time::Instant::now();
        assert!(!glob.matches(&text));
        assert!(glob.matches(&format!("{text}b")));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            !Glob::parse("*a*a*a*a*a*b")
                .unwrap()
                .matches(&"a".repeat(10_000))
        );
    }

    const MATCHING: &str = r#"
[[rules]]
functions = ["orders-admin"]
channels = ["C0ADMIN"]
require_approval = []

[[rules]]
functions = ["orders-*", "arn:aws:lambda:us-east-1:123456789012:function:billing"]
channels = ["C0OPS", "C0INC"]
requesters = ["U111", "S0OPS"]
approvers = ["U222", "S0LEADS"]

[[rules]]
functions = ["fn-?", "*-mid-*"]
approvers = ["U222"]
require_approval = ["pause", "resume"]

[[rules]]
functions = ["arn:aws:lambda:*:123456789012:function:*"]
channels = ["C0ARN"]
require_approval = []
"#;

    #[test]
    fn rule_matching() {
        let policy = parse(MATCHING);
        let billing = "arn:aws:lambda:us-east-1:123456789012:function:billing";
        let cases: &[(&str, Option<&str>, &str, Option<usize>)] = &[
            // first match wins: orders-admin in C0ADMIN is rule 1, elsewhere rule 2 (orders-*)
            ("orders-admin", None, "C0ADMIN", Some(1)),
            ("orders-admin", None, "C0OPS", Some(2)),
            ("orders-api", None, "C0INC", Some(2)),
            // channel restriction
            ("orders-api", None, "C0ADMIN", None),
            // ARN glob: exact, qualified, and not by name alone
            ("billing", Some(billing), "C0OPS", Some(2)),
            (
                "billing",
                Some("arn:aws:lambda:us-east-1:123456789012:function:billing:live"),
                "C0OPS",
                Some(2),
            ),
            ("billing", None, "C0OPS", None),
            (
                "billing",
                Some("arn:aws:lambda:us-east-1:999999999999:function:billing"),
                "C0OPS",
                None,
            ),
            (
                "billing-2",
                Some("arn:aws:lambda:us-east-1:123456789012:function:billing-2"),
                "C0OPS",
                None,
            ),
            // name glob also matches when an ARN is given
            (
                "orders-api",
                Some("arn:aws:lambda:eu-west-1:123456789012:function:orders-api"),
                "C0OPS",
                Some(2),
            ),
            // `?` and `*` in the middle, any channel
            ("fn-1", None, "C0ANY", Some(3)),
            ("fn-12", None, "C0ANY", None),
            ("a-mid-b", None, "C0ANY", Some(3)),
            ("amidb", None, "C0ANY", None),
            // wildcard in the ARN's region, qualified ARN
            (
                "x",
                Some("arn:aws:lambda:eu-west-1:123456789012:function:x:7"),
                "C0ARN",
                Some(4),
            ),
            ("nothing", None, "C0OPS", None),
        ];
        for (name, arn, chan, expected) in cases {
            let got = policy
                .rule_for(name, *arn, &channel(chan))
                .map(|r| r.number);
            assert_eq!(got, *expected, "{name} {arn:?} {chan}");
        }
    }

    #[test]
    fn unqualified_arns() {
        assert_eq!(
            unqualified_arn("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:f")
        );
        assert_eq!(
            unqualified_arn("arn:aws:lambda:us-east-1:123456789012:function:f"),
            None
        );
        assert_eq!(unqualified_arn("f:live"), None);
        assert_eq!(unqualified_arn(""), None);
    }

    #[test]
    fn decisions() {
        let policy = parse(MATCHING);
        let ops = members("S0OPS", &["U333"]);
        let allowed = |rule, needs_approval| Decision::Allowed {
            rule: Some(rule),
            needs_approval,
        };
        let c = channel;
        let cases: &[(Action, &str, &str, &str, &GroupMembers, Decision)] = &[
            (
                Action::Pause,
                "orders-api",
                "C0OPS",
                "U111",
                &ops,
                allowed(2, false),
            ),
            (
                Action::Resume,
                "orders-api",
                "C0OPS",
                "U111",
                &ops,
                allowed(2, true),
            ),
            // requester through a group
            (
                Action::Pause,
                "orders-api",
                "C0OPS",
                "U333",
                &ops,
                allowed(2, false),
            ),
            // not a requester: no fall-through to later rules
            (
                Action::Pause,
                "orders-api",
                "C0OPS",
                "U444",
                &ops,
                Decision::NotARequester { rule: 2 },
            ),
            // group not resolved by the caller
            (
                Action::Pause,
                "orders-api",
                "C0OPS",
                "U333",
                &GroupMembers::new(),
                Decision::NotARequester { rule: 2 },
            ),
            // no requesters = anyone; approvals by action
            (Action::Pause, "fn-1", "C0X", "U999", &ops, allowed(3, true)),
            (
                Action::Resume,
                "fn-1",
                "C0X",
                "U999",
                &ops,
                allowed(3, true),
            ),
            (
                Action::Resume,
                "orders-admin",
                "C0ADMIN",
                "U999",
                &ops,
                allowed(1, false),
            ),
            (
                Action::Pause,
                "unknown",
                "C0OPS",
                "U111",
                &ops,
                Decision::NoRule,
            ),
        ];
        for (action, function, chan, who, group_members, expected) in cases {
            let got = policy.decide(*action, function, None, &c(chan), &user(who), group_members);
            assert_eq!(got, *expected, "{action:?} {function} {chan} {who}");
        }

        let open = Policy::allow_all();
        assert!(open.is_allow_all());
        assert_eq!(open.rule_for("x", None, &c("C1X")), None);
        assert_eq!(
            open.decide(
                Action::Resume,
                "x",
                None,
                &c("C1X"),
                &user("U1X"),
                &no_members()
            ),
            Decision::Allowed {
                rule: None,
                needs_approval: false
            }
        );

        let closed = parse("[slack]\napproval_timeout = \"2h\"\n");
        assert_eq!(
            closed.decide(
                Action::Pause,
                "x",
                None,
                &c("C1X"),
                &user("U1X"),
                &no_members()
            ),
            Decision::NoRule
        );
    }

    #[test]
    fn groups_to_expand() {
        let policy = parse(MATCHING);
        assert_eq!(policy.rules[1].requester_groups(), vec!["S0OPS"]);
        assert_eq!(policy.rules[1].approver_groups(), vec!["S0LEADS"]);
        assert!(policy.rules[0].requester_groups().is_empty());
        assert!(policy.rules[2].approver_groups().is_empty());
    }

    #[test]
    fn approvals() {
        let policy = parse(MATCHING);
        let mut leads = members("S0LEADS", &["U555", "U111"]);
        leads.insert("S0OPS".to_string(), [user("U111")].into());
        let cases: &[(usize, &str, &str, ApproverCheck)] = &[
            (2, "U222", "U111", ApproverCheck::Allowed),
            // approver via group
            (2, "U555", "U111", ApproverCheck::Allowed),
            // the requester is refused even though they are an approver
            (2, "U222", "U222", ApproverCheck::IsRequester),
            // ... also when an approver through a group
            (2, "U555", "U555", ApproverCheck::IsRequester),
            (2, "U666", "U111", ApproverCheck::NotAnApprover),
            // rule 1 has no approvers
            (1, "U222", "U111", ApproverCheck::NotAnApprover),
            (3, "U222", "U111", ApproverCheck::Allowed),
            (0, "U222", "U111", ApproverCheck::NoSuchRule),
            (5, "U222", "U111", ApproverCheck::NoSuchRule),
            (usize::MAX, "U222", "U111", ApproverCheck::NoSuchRule),
        ];
        for (rule, approver, requester, expected) in cases {
            let got = policy.may_approve(*rule, &user(approver), &user(requester), &leads);
            assert_eq!(got, *expected, "rule {rule}: {approver} for {requester}");
        }
        assert!(policy.rules[1].is_approver(&user("U555"), &leads));
        assert!(!policy.rules[1].is_approver(&user("U555"), &no_members()));
        assert_eq!(
            Policy::allow_all().may_approve(1, &user("U222"), &user("U111"), &leads),
            ApproverCheck::NoSuchRule
        );
    }

    #[test]
    fn teams() {
        let open = parse("");
        let restricted = parse(EXAMPLE);
        let t1 = TeamId::new("T0001");
        let t2 = TeamId::new("T0002");
        assert!(open.team_allowed(Some(&t1)));
        assert!(open.team_allowed(None));
        assert!(Policy::allow_all().team_allowed(None));
        assert!(restricted.team_allowed(Some(&t1)));
        assert!(!restricted.team_allowed(Some(&t2)));
        assert!(!restricted.team_allowed(None));
    }

    #[test]
    fn describe_the_example() {
        let text = parse(EXAMPLE).describe();
        let expected = "\
Policy file: policy.toml
Workspaces: T0001 only (requests from other workspaces, or from an org-wide install without a workspace, are refused)
Audit channel: C0AUDIT
Approval timeout: 1h (pending approvals expire after this)
AWS region: us-east-1
Rules: 1 (the first rule matching a request's function and channel decides; nobody approves their own request)
Rule 1 (line 9):
  functions: orders-*, arn:aws:lambda:us-east-1:123456789012:function:billing
  channels: C2147483705
  requesters: U111, S0OPS
  approvers: U222, S0LEADS
  needs approval: resume (pause needs only the requester's confirmation)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn describe_other_shapes() {
        let text = parse(MATCHING).describe();
        for line in [
            "Workspaces: any\n",
            "Audit channel: none\n",
            "Approval timeout: 1h (",
            "AWS region: not set (the AWS SDK's default chain decides)\n",
            "Rules: 4 (",
            "Rule 1 (line 2):\n",
            "  channels: C0ADMIN\n",
            "  requesters: anyone\n",
            "  approvers: none\n",
            "  needs approval: nothing (pause and resume need only the requester's confirmation)\n",
            "Rule 3 (line 13):\n  functions: fn-?, *-mid-*\n  channels: any channel\n",
            "  needs approval: pause, resume\n",
            "  channels: C0OPS, C0INC\n",
        ] {
            assert!(text.contains(line), "{line:?} not in:\n{text}");
        }

        let empty = parse("[slack]\napproval_timeout = \"90m\"\n").describe();
        assert!(
            empty.contains("Rules: none, so nothing is allowed"),
            "{empty}"
        );
        assert!(empty.contains("Approval timeout: 1h30m"), "{empty}");

        let pause_only = parse(
            "[[rules]]\nfunctions = [\"*\"]\napprovers = [\"S0LEADS\"]\nrequire_approval = [\"pause\"]\n",
        )
        .describe();
        assert!(
            pause_only.contains(
                "  needs approval: pause (resume needs only the requester's confirmation)\n"
            ),
            "{pause_only}"
        );

        let open = Policy::allow_all().describe();
        assert!(open.starts_with(
            "No policy file: every member of the workspace may pause and resume any function"
        ));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "\u{feff}[slack]\n",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = []\r\nchannels = [\"c\"]\r\n",
            "rules = [[1, 2], {}]\n",
            "[slack]\nallowed_team_ids = [[\"T0001\"]]\n",
            "[slack]\nallowed_team_ids = {a = 1}\n",
            "[aws]\nregion = \"\"\n",
            "[slack]\napproval_timeout = \"99999999999999999999d\"\n",
            "[[rules]]\nfunctions = [\"*\"]\nrequire_approval = [\"\\u0000\\n\"]\napprovers = [\"U1X\"]\n",
            "x",
            "=",
            "[",
            "\"\\",
            "a = \"é",
            &"[".repeat(10_000),
            &format!("[[rules]]\nfunctions = [\"{}\"]\n", "é".repeat(1000)),
        ];
        for input in inputs {
            if let Err(e) = Policy::parse(input, "f") {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
                assert!(!e.problem.is_empty() && !e.problem.contains('\n'), "{e:?}");
                assert!(e.problem.chars().count() < 600, "{e:?}");
            }
        }
        let source = Source {
            text: "aé\nb",
            file: "f",
        };
        assert_eq!(source.line_column(0), (1, 1));
        assert_eq!(source.line_column(2), (1, 2)); // inside `é`: clamped back
        assert_eq!(source.line_column(3), (1, 3));
        assert_eq!(source.line_column(4), (2, 1));
        assert_eq!(source.line_column(999), (2, 2));
    }
}
