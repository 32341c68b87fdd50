//! The audit trail's record: what happened, when, by whom, to which function and mapping; exported as JSON lines or CSV.

use serde::{Deserialize, Serialize};

use crate::command::Action;
use crate::ids::{ChannelId, MappingUuid, RequestId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Requested,
    Confirmed,
    Cancelled,
    ApprovalRequested,
    Approved,
    Denied,
    Expired,
    Applied,
    Settled,
    TimedOut,
    Failed,
    Refused,
    /// A reminder that a paused mapping's horizon is approaching (or passed).
    Reminded,
    /// The mapping changed outside the bot (re-enabled, or AWS changed its state).
    Drift,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Requested => "requested",
            AuditKind::Confirmed => "confirmed",
            AuditKind::Cancelled => "cancelled",
            AuditKind::ApprovalRequested => "approval_requested",
            AuditKind::Approved => "approved",
            AuditKind::Denied => "denied",
            AuditKind::Expired => "expired",
            AuditKind::Applied => "applied",
            AuditKind::Settled => "settled",
            AuditKind::TimedOut => "timed_out",
            AuditKind::Failed => "failed",
            AuditKind::Refused => "refused",
            AuditKind::Reminded => "reminded",
            AuditKind::Drift => "drift",
        }
    }

    pub fn parse(s: &str) -> Option<AuditKind> {
        ALL_KINDS.iter().copied().find(|k| k.as_str() == s)
    }
}

pub const ALL_KINDS: [AuditKind; 14] = [
    AuditKind::Requested,
    AuditKind::Confirmed,
    AuditKind::Cancelled,
    AuditKind::ApprovalRequested,
    AuditKind::Approved,
    AuditKind::Denied,
    AuditKind::Expired,
    AuditKind::Applied,
    AuditKind::Settled,
    AuditKind::TimedOut,
    AuditKind::Failed,
    AuditKind::Refused,
    AuditKind::Reminded,
    AuditKind::Drift,
];

/// One audited event. Stores assign `seq` (increasing, starting at 1); it is 0 before that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    /// Unix seconds.
    pub at: u64,
    pub kind: AuditKind,
    pub request: Option<RequestId>,
    pub action: Option<Action>,
    /// Who did it (the requester, the clicker, the approver); None for the bot's own steps.
    pub user: Option<UserId>,
    pub channel: Option<ChannelId>,
    /// The bare function name (no ARN prefix or qualifier), so history can be filtered by it.
    pub function: Option<String>,
    pub mapping: Option<MappingUuid>,
    pub source: Option<String>,
    /// The mapping's `State` before and after, as AWS spells it.
    pub before: Option<String>,
    pub after: Option<String>,
    /// The requester's reason.
    pub reason: Option<String>,
    /// Anything else worth keeping (an error, the approvers, the refusing rule).
    pub detail: Option<String>,
}

impl AuditEvent {
    pub fn new(kind: AuditKind, at: u64) -> Self {
        Self {
            seq: 0,
            at,
            kind,
            request: None,
            action: None,
            user: None,
            channel: None,
            function: None,
            mapping: None,
            source: None,
            before: None,
            after: None,
            reason: None,
            detail: None,
        }
    }
}

/// Which events to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    /// Only this bare function name.
    pub function: Option<String>,
    /// Only events at or after this unix time.
    pub since: Option<u64>,
    /// At most this many of the newest matching events (None: all).
    pub limit: Option<usize>,
}

impl AuditQuery {
    /// Whether an event matches the function and time filters (not the limit).
    pub fn matches(&self, e: &AuditEvent) -> bool {
        self.function
            .as_ref()
            .is_none_or(|f| e.function.as_ref() == Some(f))
            && self.since.is_none_or(|s| e.at >= s)
    }
}

/// CSV columns, in order.
pub const CSV_HEADER: &str = "seq,at,time,kind,request,action,user,channel,function,mapping,source,before,after,reason,detail";

/// One CSV line (RFC 4180 quoting), without the newline.
pub fn to_csv(e: &AuditEvent) -> String {
    let fields = [
        e.seq.to_string(),
        e.at.to_string(),
        rfc3339(e.at),
        e.kind.as_str().to_owned(),
        e.request
            .as_ref()
            .map(|r| r.to_string())
            .unwrap_or_default(),
        e.action.map(|a| a.as_str().to_owned()).unwrap_or_default(),
        e.user.as_ref().map(|u| u.to_string()).unwrap_or_default(),
        e.channel
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        e.function.clone().unwrap_or_default(),
        e.mapping
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
        e.source.clone().unwrap_or_default(),
        e.before.clone().unwrap_or_default(),
        e.after.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
        e.detail.clone().unwrap_or_default(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) || f.starts_with(['=', '+', '-', '@']) {
        // Quote, and defuse spreadsheet formulas in user-supplied text.
        let f = if f.starts_with(['=', '+', '-', '@']) {
            format!("'{f}")
        } else {
            f.to_owned()
        };
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_owned()
    }
}

/// `2026-12-03T14:05:00Z` for a unix time (UTC, no external crate).
pub fn rfc3339(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parses `--since`: a unix time, an RFC 3339 date or date-time in UTC (`2026-12-03`, `2026-12-03T14:00:00Z`), or a duration ago (`2h`, `7d`) given `now`.
pub fn parse_since(s: &str, now: u64) -> Option<u64> {
    if let Ok(n) = s.parse::<u64>() {
        return Some(n);
    }
    if let Some(d) = crate::command::parse_duration(s) {
        return Some(now.saturating_sub(d.as_secs()));
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, t.trim_end_matches('Z')),
        None => (s, "00:00:00"),
    };
    let mut dp = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (dp.next()??, dp.next()??, dp.next()??);
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut tp = time.split(':').map(|p| p.parse::<u64>().ok());
    let (hh, mm, ss) = (
        tp.next()??,
        tp.next().flatten().unwrap_or(0),
        tp.next().flatten().unwrap_or(0),
    );
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()
        .map(|days| days * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_parse_since() {
        for t in [0u64, 951_782_400, 1_764_770_700, 4_102_444_799] {
            let s = rfc3339(t);
            assert_eq!(parse_since(&s, 0), Some(t), "{s}");
        }
        assert_eq!(rfc3339(1_764_770_700), "2025-12-03T14:05:00Z");
        assert_eq!(parse_since("2026-12-03", 0), Some(1_796_256_000));
        assert_eq!(parse_since("2h", 10_000), Some(2_800));
        assert_eq!(parse_since("1700000000", 0), Some(1_700_000_000));
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-12-03T25:00:00Z",
            "2026-12",
        ] {
            assert_eq!(parse_since(bad, 0), None, "{bad}");
        }
    }

    #[test]
    fn csv_quotes_and_defuses() {
        let mut e = AuditEvent::new(AuditKind::Requested, 0);
        e.reason = Some("a, \"b\"".into());
        e.detail = Some("=HYPERLINK(\"x\")".into());
        let line = to_csv(&e);
        assert!(
            line.ends_with(",\"a, \"\"b\"\"\",\"'=HYPERLINK(\"\"x\"\")\""),
            "{line}"
        );
        assert!(line.split(',').count() >= CSV_HEADER.split(',').count());
    }

    #[test]
    fn kinds_round_trip() {
        for k in ALL_KINDS {
            assert_eq!(AuditKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
        }
    }
}
