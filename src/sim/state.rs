//! The simulator's in-memory model: event source mappings, their time-driven states, the Kinesis
//! streams and SQS queues they read from, and injected faults.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{SimCall, SimError, SimMapping};

/// States in which AWS refuses updates with `ResourceInUseException`.
pub(crate) const TRANSITIONAL: [&str; 5] =
    ["Enabling", "Disabling", "Creating", "Updating", "Deleting"];

/// What kind of event source a mapping reads from, which decides its extra JSON fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceKind {
    Kinesis,
    DynamoDb,
    Kafka,
    Mq,
    Sqs,
    Other,
}

impl SourceKind {
    pub(crate) fn of(event_source_arn: &str) -> SourceKind {
        let service = event_source_arn.split(':').nth(2).unwrap_or("");
        match service {
            "kinesis" => SourceKind::Kinesis,
            "dynamodb" => SourceKind::DynamoDb,
            "kafka" => SourceKind::Kafka,
            "mq" => SourceKind::Mq,
            "sqs" => SourceKind::Sqs,
            _ => SourceKind::Other,
        }
    }

    fn is_stream(self) -> bool {
        matches!(self, SourceKind::Kinesis | SourceKind::DynamoDb)
    }
}

/// One event source mapping as the simulator stores it.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    pub(crate) uuid: String,
    pub(crate) function_arn: String,
    pub(crate) event_source_arn: String,
    pub(crate) kind: SourceKind,
    pub(crate) state: String,
    pub(crate) reason: String,
    pub(crate) last_modified: f64,
    pub(crate) batch_size: i32,
    pub(crate) maximum_record_age: Option<i32>,
    pub(crate) topics: Vec<String>,
    pub(crate) queues: Vec<String>,
    /// Target state and the instant it is reached (`None`: never).
    pub(crate) pending: Option<(String, Option<Instant>)>,
    pub(crate) stuck: bool,
}

impl Mapping {
    pub(crate) fn new(
        uuid: String,
        function_arn: String,
        event_source_arn: String,
        enabled: bool,
    ) -> Mapping {
        let kind = SourceKind::of(&event_source_arn);
        let batch_size = match kind {
            SourceKind::Sqs => 10,
            _ => 100,
        };
        let queues = match kind {
            SourceKind::Mq => vec!["queue".to_string()],
            _ => Vec::new(),
        };
        Mapping {
            uuid,
            function_arn,
            event_source_arn,
            kind,
            state: if enabled { "Enabled" } else { "Disabled" }.to_string(),
            reason: "USER_INITIATED".to_string(),
            last_modified: now_epoch_seconds(),
            batch_size,
            maximum_record_age: None,
            topics: Vec::new(),
            queues,
            pending: None,
            stuck: false,
        }
    }

    /// Applies a pending transition whose time has come (unless the mapping is stuck).
    pub(crate) fn settle(&mut self, now: Instant) {
        if self.stuck {
            return;
        }
        let due = match &self.pending {
            Some((_, Some(at))) => now >= *at,
            _ => false,
        };
        if due && let Some((target, _)) = self.pending.take() {
            self.state = target;
        }
    }

    pub(crate) fn is_transitional(&self) -> bool {
        TRANSITIONAL.contains(&self.state.as_str())
    }

    pub(crate) fn view(&self) -> SimMapping {
        SimMapping {
            uuid: self.uuid.clone(),
            function_arn: self.function_arn.clone(),
            event_source_arn: self.event_source_arn.clone(),
            state: self.state.clone(),
            state_transition_reason: self.reason.clone(),
        }
    }

    /// The mapping as the Lambda API renders it (PascalCase).
    pub(crate) fn to_json(&self, region: &str, account_id: &str) -> Value {
        let mut m = Map::new();
        m.insert("UUID".into(), json!(self.uuid));
        m.insert("EventSourceArn".into(), json!(self.event_source_arn));
        m.insert("FunctionArn".into(), json!(self.function_arn));
        m.insert("State".into(), json!(self.state));
        m.insert("StateTransitionReason".into(), json!(self.reason));
        m.insert("LastModified".into(), json!(self.last_modified));
        m.insert("BatchSize".into(), json!(self.batch_size));
        m.insert("MaximumBatchingWindowInSeconds".into(), json!(0));
        m.insert(
            "EventSourceMappingArn".into(),
            json!(format!(
                "arn:aws:lambda:{region}:{account_id}:event-source-mapping:{}",
                self.uuid
            )),
        );
        if self.kind.is_stream() {
            m.insert("StartingPosition".into(), json!("LATEST"));
            m.insert(
                "MaximumRecordAgeInSeconds".into(),
                json!(self.maximum_record_age.unwrap_or(-1)),
            );
            m.insert("ParallelizationFactor".into(), json!(1));
            m.insert("BisectBatchOnFunctionError".into(), json!(false));
            m.insert("MaximumRetryAttempts".into(), json!(-1));
            m.insert("TumblingWindowInSeconds".into(), json!(0));
            m.insert("FunctionResponseTypes".into(), json!([]));
        } else if let Some(age) = self.maximum_record_age {
            m.insert("MaximumRecordAgeInSeconds".into(), json!(age));
        }
        if self.kind == SourceKind::Kafka {
            m.insert("StartingPosition".into(), json!("LATEST"));
        }
        if self.kind == SourceKind::Kafka || !self.topics.is_empty() {
            m.insert("Topics".into(), json!(self.topics));
        }
        if self.kind == SourceKind::Mq || !self.queues.is_empty() {
            m.insert("Queues".into(), json!(self.queues));
        }
        Value::Object(m)
    }
}

/// Retention of a stream created implicitly (by a mapping), in hours.
pub(crate) const DEFAULT_KINESIS_RETENTION_HOURS: i32 = 24;
/// `MessageRetentionPeriod` of a queue created implicitly (by a mapping), in seconds (4 days).
pub(crate) const DEFAULT_SQS_RETENTION_SECONDS: i64 = 345_600;

/// A simulated Kinesis data stream.
#[derive(Clone, Debug)]
pub(crate) struct Stream {
    pub(crate) retention_hours: i32,
    /// Epoch seconds.
    pub(crate) created: f64,
}

/// A simulated SQS queue.
#[derive(Clone, Debug)]
pub(crate) struct Queue {
    pub(crate) retention_seconds: i64,
    /// Epoch seconds.
    pub(crate) created: f64,
}

/// The stream name in a Kinesis stream or consumer ARN
/// (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME[/consumer/C:TS]`), with region and account.
pub(crate) fn parse_kinesis_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, "kinesis", region, account, resource] = parts.as_slice() else {
        return None;
    };
    let name = resource.strip_prefix("stream/")?;
    let name = name.split('/').next().unwrap_or_default();
    (!name.is_empty()).then_some((*region, *account, name))
}

/// The queue name in an SQS queue ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
pub(crate) fn parse_sqs_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _, "sqs", _, _, name] = parts.as_slice() else {
        return None;
    };
    (!name.is_empty() && !name.contains(['/', ':'])).then_some(*name)
}

/// Everything mutable behind the simulator's single lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) transition_time: Duration,
    /// In insertion order, which is also the listing order.
    pub(crate) mappings: Vec<Mapping>,
    pub(crate) index: HashMap<String, usize>,
    pub(crate) throttle: usize,
    /// Per operation, a queue of (error, remaining count).
    pub(crate) failures: HashMap<String, VecDeque<(SimError, usize)>>,
    pub(crate) denied: HashSet<String>,
    pub(crate) calls: Vec<SimCall>,
    pub(crate) update_counts: HashMap<String, usize>,
    /// Kinesis streams by name.
    pub(crate) streams: HashMap<String, Stream>,
    /// SQS queues by name.
    pub(crate) queues: HashMap<String, Queue>,
}

impl State {
    pub(crate) fn new(transition_time: Duration) -> State {
        State {
            transition_time,
            mappings: Vec::new(),
            index: HashMap::new(),
            throttle: 0,
            failures: HashMap::new(),
            denied: HashSet::new(),
            calls: Vec::new(),
            update_counts: HashMap::new(),
            streams: HashMap::new(),
            queues: HashMap::new(),
        }
    }

    /// Adds a mapping, creating the Kinesis stream or SQS queue it reads from if needed.
    pub(crate) fn insert(&mut self, mapping: Mapping) {
        match mapping.kind {
            SourceKind::Kinesis => {
                if let Some((_, _, name)) = parse_kinesis_arn(&mapping.event_source_arn) {
                    self.streams
                        .entry(name.to_string())
                        .or_insert_with(|| Stream {
                            retention_hours: DEFAULT_KINESIS_RETENTION_HOURS,
                            created: now_epoch_seconds(),
                        });
                }
            }
            SourceKind::Sqs => {
                if let Some(name) = parse_sqs_arn(&mapping.event_source_arn) {
                    self.queues
                        .entry(name.to_string())
                        .or_insert_with(|| Queue {
                            retention_seconds: DEFAULT_SQS_RETENTION_SECONDS,
                            created: now_epoch_seconds(),
                        });
                }
            }
            _ => {}
        }
        self.index.insert(mapping.uuid.clone(), self.mappings.len());
        self.mappings.push(mapping);
    }

    /// The mapping with `uuid`, with any elapsed transition applied.
    pub(crate) fn get_mut(&mut self, uuid: &str) -> Option<&mut Mapping> {
        let i = *self.index.get(uuid)?;
        let m = self.mappings.get_mut(i)?;
        m.settle(Instant::now());
        Some(m)
    }

    pub(crate) fn settle_all(&mut self) {
        let now = Instant::now();
        for m in &mut self.mappings {
            m.settle(now);
        }
    }

    /// The injected fault for one request of `operation`, consuming it: throttling first, then
    /// queued failures, then denial.
    pub(crate) fn take_fault(&mut self, operation: &str) -> Option<SimError> {
        if self.throttle > 0 {
            self.throttle -= 1;
            return Some(SimError::Throttled);
        }
        if let Some(e) = self.take_failure(operation) {
            return Some(e);
        }
        self.denied
            .contains(operation)
            .then_some(SimError::AccessDenied)
    }

    /// Consumes one injected failure for `operation`, if any is queued.
    pub(crate) fn take_failure(&mut self, operation: &str) -> Option<SimError> {
        let queue = self.failures.get_mut(operation)?;
        let front = queue.front_mut()?;
        let error = front.0;
        front.1 = front.1.saturating_sub(1);
        if front.1 == 0 {
            queue.pop_front();
        }
        Some(error)
    }
}

/// Seconds since the Unix epoch, to the millisecond.
pub(crate) fn now_epoch_seconds() -> f64 {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    // Millisecond counts stay far below 2^53 for the foreseeable future.
    (millis as f64) / 1000.0
}

/// A random version-4 UUID, lowercase 8-4-4-4-12.
pub(crate) fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        fallback_random(&mut bytes);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Used only if the OS random source fails: a counter mixed with the clock (unique, not secret).
fn fallback_random(bytes: &mut [u8; 16]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mixed = nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ count;
    bytes[..8].copy_from_slice(&mixed.to_be_bytes());
    bytes[8..].copy_from_slice(&count.to_be_bytes());
}

/// A function reference as accepted by `FunctionName`: name, `name:qualifier`, full or partial ARN.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FunctionRef<'a> {
    pub(crate) region: Option<&'a str>,
    pub(crate) account: Option<&'a str>,
    pub(crate) name: &'a str,
    pub(crate) qualifier: Option<&'a str>,
}

impl<'a> FunctionRef<'a> {
    /// Parses any accepted form; `None` if malformed.
    pub(crate) fn parse(s: &'a str) -> Option<FunctionRef<'a>> {
        let parts: Vec<&str> = s.split(':').collect();
        let r = match parts.as_slice() {
            [name] => FunctionRef {
                region: None,
                account: None,
                name,
                qualifier: None,
            },
            [name, q] => FunctionRef {
                region: None,
                account: None,
                name,
                qualifier: Some(q),
            },
            [account, "function", name] => FunctionRef {
                region: None,
                account: Some(account),
                name,
                qualifier: None,
            },
            [account, "function", name, q] => FunctionRef {
                region: None,
                account: Some(account),
                name,
                qualifier: Some(q),
            },
            ["arn", _, "lambda", region, account, "function", name] => FunctionRef {
                region: Some(region),
                account: Some(account),
                name,
                qualifier: None,
            },
            ["arn", _, "lambda", region, account, "function", name, q] => FunctionRef {
                region: Some(region),
                account: Some(account),
                name,
                qualifier: Some(q),
            },
            _ => return None,
        };
        let empty = |o: Option<&str>| o.is_some_and(str::is_empty);
        if r.name.is_empty() || empty(r.qualifier) || empty(r.region) || empty(r.account) {
            return None;
        }
        Some(r)
    }

    /// Whether `self` (a filter) designates the function `arn` (a mapping's full function ARN).
    pub(crate) fn matches(&self, arn: &FunctionRef<'_>) -> bool {
        let field = |want: Option<&str>, have: Option<&str>| want.is_none() || want == have;
        self.name == arn.name
            && self.qualifier == arn.qualifier
            && field(self.region, arn.region)
            && field(self.account, arn.account)
    }
}
