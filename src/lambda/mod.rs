//! Talking to the Lambda control plane: SDK clients per region, the event source mapping model, typed errors, paced calls.

pub mod apply;
pub mod horizon;
pub mod resolve;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::types::EventSourceMappingConfiguration;
use serde::{Deserialize, Serialize};

use crate::ids::MappingUuid;

/// Builds the HTTPS client the SDK uses: rustls on ring (no aws-lc, no OpenSSL).
fn http_client() -> aws_sdk_lambda::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Lambda clients, one per region, sharing one SDK configuration and one call pacer.
#[derive(Clone)]
pub struct Lambda {
    base: SdkConfig,
    clients: Arc<Mutex<HashMap<String, aws_sdk_lambda::Client>>>,
    pacer: Pacer,
    listings: Arc<Listings>,
}

impl Lambda {
    /// The standard AWS SDK chain (env, profile, web identity, instance role; `AWS_ENDPOINT_URL_LAMBDA`).
    /// Retries are ours (see `apply`), so the SDK's are off.
    pub async fn from_env(region: Option<String>) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts());
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        Self::from_sdk_config(loader.load().await)
    }

    /// A fixed endpoint with static credentials: for the simulator, moto and tests.
    pub async fn for_endpoint(endpoint_url: &str, region: &str) -> Self {
        let creds = aws_sdk_lambda::config::Credentials::new(
            "AKIDLAMBDAPAUSELOCAL",
            "local-secret",
            None,
            None,
            "lambda-pause-local",
        );
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint_url)
            .credentials_provider(creds)
            .http_client(http_client())
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts())
            .load()
            .await;
        Self::from_sdk_config(config)
    }

    pub fn from_sdk_config(base: SdkConfig) -> Self {
        Self {
            base,
            clients: Arc::default(),
            pacer: Pacer::new(DEFAULT_CALLS_PER_SECOND),
            listings: Arc::default(),
        }
    }

    /// Limits this process's Lambda control-plane calls to `per_second` (the account allows 15/s in total).
    pub fn with_rate_limit(mut self, per_second: f64) -> Self {
        self.pacer = Pacer::new(per_second);
        self
    }

    /// A Kinesis client for `region` (retention lookups).
    pub fn kinesis(&self, region: Option<&str>) -> aws_sdk_kinesis::Client {
        let mut conf = aws_sdk_kinesis::config::Builder::from(&self.base);
        if let Some(region) = region.map(str::to_owned).or_else(|| self.default_region()) {
            conf = conf.region(Region::new(region));
        }
        aws_sdk_kinesis::Client::from_conf(conf.build())
    }

    /// An SQS client for `region` (retention lookups).
    pub fn sqs(&self, region: Option<&str>) -> aws_sdk_sqs::Client {
        let mut conf = aws_sdk_sqs::config::Builder::from(&self.base);
        if let Some(region) = region.map(str::to_owned).or_else(|| self.default_region()) {
            conf = conf.region(Region::new(region));
        }
        aws_sdk_sqs::Client::from_conf(conf.build())
    }

    /// Changes whenever any shared listing is replaced or dropped (see [`LambdaClient::recent_listing`]).
    pub fn listings_generation(&self) -> u64 {
        self.listings
            .generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The region used when a command names none.
    pub fn default_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    /// A client for `region`, or the default region.
    pub fn client(&self, region: Option<&str>) -> LambdaClient {
        let key = region.map(str::to_owned).or_else(|| self.default_region());
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients
            .entry(key.clone().unwrap_or_default())
            .or_insert_with(|| {
                let mut conf = aws_sdk_lambda::config::Builder::from(&self.base);
                if let Some(region) = key.clone() {
                    conf = conf.region(Region::new(region));
                }
                aws_sdk_lambda::Client::from_conf(conf.build())
            })
            .clone();
        LambdaClient {
            inner: client,
            region: key,
            pacer: self.pacer.clone(),
            listings: Arc::clone(&self.listings),
        }
    }
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// Default share of the account's 15 calls/s control-plane limit this bot may use.
pub const DEFAULT_CALLS_PER_SECOND: f64 = 5.0;

/// Spaces calls out so this process never exceeds a fixed rate, however many tasks call at once.
#[derive(Clone)]
struct Pacer {
    interval: Duration,
    next: Arc<tokio::sync::Mutex<tokio::time::Instant>>,
}

impl Pacer {
    fn new(per_second: f64) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            DEFAULT_CALLS_PER_SECOND
        };
        Self {
            // A hair over 1/rate, so no closed 1 s window ever holds more than `per_second` calls.
            interval: Duration::from_secs_f64(1.0 / per_second) + Duration::from_millis(1),
            next: Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now())),
        }
    }

    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// One region's client. Every call waits its turn at the pacer, and errors come back typed.
#[derive(Clone)]
pub struct LambdaClient {
    inner: aws_sdk_lambda::Client,
    region: Option<String>,
    pacer: Pacer,
    listings: Arc<Listings>,
}

/// A function's full listing, shared for a short while by everyone who needs it: statuses of the
/// same function and settle polls of concurrent requests cost AWS one call, not one each.
pub type Listing = Arc<Result<Vec<Mapping>, LambdaError>>;

/// One function's latest listing and when it was made, behind the lock its next fetch holds.
type Slot = Arc<SlotInner>;

/// The latest listing (read without waiting) and the lock a fetch holds (single flight).
#[derive(Default)]
struct SlotInner {
    latest: Mutex<Option<(tokio::time::Instant, Listing)>>,
    fetch: tokio::sync::Mutex<()>,
}

impl SlotInner {
    fn fresh(&self, max_age: Duration) -> Option<Listing> {
        self.fresh_since(max_age).map(|(_, listing)| listing)
    }

    fn fresh_since(&self, max_age: Duration) -> Option<(tokio::time::Instant, Listing)> {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(at, _)| at.elapsed() <= max_age)
            .map(|(at, listing)| (*at, Arc::clone(listing)))
    }
}

/// Most functions whose listings are kept at once (old ones are dropped first).
const LISTINGS_CAPACITY: usize = 1024;

/// Recent listings per (region, function). Each slot's async lock makes concurrent askers wait
/// for the one call in flight instead of making their own (single flight).
#[derive(Default)]
struct Listings {
    slots: Mutex<HashMap<(String, String), Slot>>,
    /// Bumped whenever any listing is replaced or dropped: whatever was rendered from listings
    /// at one generation is current while it has not moved.
    generation: std::sync::atomic::AtomicU64,
    /// How many settle loops are polling each (region, function) right now.
    settling: Mutex<HashMap<(String, String), usize>>,
}

/// Counts one settle loop as polling a function until dropped.
pub struct SettlingGuard {
    listings: Arc<Listings>,
    key: (String, String),
}

impl Drop for SettlingGuard {
    fn drop(&mut self) {
        let mut settling = self
            .listings
            .settling
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = settling.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                settling.remove(&self.key);
            }
        }
    }
}

impl Listings {
    fn bump(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    fn slot(&self, key: (String, String)) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= LISTINGS_CAPACITY && !slots.contains_key(&key) {
            // Drop slots nobody is using (their listings are stale soon anyway).
            slots.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        Arc::clone(slots.entry(key).or_default())
    }
}

impl LambdaClient {
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn listing_key(&self, function: &str) -> (String, String) {
        (self.region.clone().unwrap_or_default(), function.to_owned())
    }

    /// Every mapping of `function`, from a listing at most `max_age` old: made now (once, however
    /// many ask at the same moment) or shared with whoever asked shortly before.
    pub async fn list_shared(&self, function: &str, max_age: Duration, retry: &Backoff) -> Listing {
        let slot = self.listings.slot(self.listing_key(function));
        if let Some(listing) = slot.fresh(max_age) {
            return listing;
        }
        let _fetching = slot.fetch.lock().await;
        // Whoever held the lock before may just have made one.
        if let Some(listing) = slot.fresh(max_age) {
            return listing;
        }
        let listing = Arc::new(resolve::list_all(self, function, None, retry).await);
        *slot.latest.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((tokio::time::Instant::now(), Arc::clone(&listing)));
        self.listings.bump();
        listing
    }

    /// Drops the shared listing of `function` (after the bot changed one of its mappings, so the
    /// next status shows the change).
    pub fn forget_listing(&self, function: &str) {
        let key = self.listing_key(function);
        self.listings
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        self.listings.bump();
    }

    /// Counts the caller as polling `function` (until the guard is dropped), so concurrent
    /// settle loops know to share one listing instead of reading mappings one by one.
    pub fn settling(&self, function: &str) -> SettlingGuard {
        let key = self.listing_key(function);
        *self
            .listings
            .settling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default() += 1;
        SettlingGuard {
            listings: Arc::clone(&self.listings),
            key,
        }
    }

    /// How many settle loops are polling `function` now.
    pub fn settling_count(&self, function: &str) -> usize {
        let key = self.listing_key(function);
        self.listings
            .settling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// A listing of `function` at most `max_age` old, if one is at hand (never waits, never calls AWS).
    pub fn recent_listing(&self, function: &str, max_age: Duration) -> Option<Listing> {
        self.recent_listing_since(function, max_age)
            .map(|(_, listing)| listing)
    }

    /// [`Self::recent_listing`] with the moment it was made.
    pub fn recent_listing_since(
        &self,
        function: &str,
        max_age: Duration,
    ) -> Option<(tokio::time::Instant, Listing)> {
        self.listings
            .slot(self.listing_key(function))
            .fresh_since(max_age)
    }

    /// `ListEventSourceMappings`, one page.
    pub async fn list_page(
        &self,
        function: &str,
        source_arn: Option<&str>,
        marker: Option<String>,
    ) -> Result<(Vec<Mapping>, Option<String>), LambdaError> {
        self.pacer.wait().await;
        let out = self
            .inner
            .list_event_source_mappings()
            .function_name(function)
            .set_event_source_arn(source_arn.map(str::to_owned))
            .set_marker(marker)
            .max_items(100)
            .send()
            .await
            .map_err(|e| LambdaError::from_sdk("ListEventSourceMappings", e))?;
        let mappings = out
            .event_source_mappings()
            .iter()
            .filter_map(Mapping::from_aws)
            .collect();
        Ok((mappings, out.next_marker().map(str::to_owned)))
    }

    /// `GetEventSourceMapping`.
    pub async fn get(&self, uuid: &MappingUuid) -> Result<Mapping, LambdaError> {
        self.pacer.wait().await;
        let out = self
            .inner
            .get_event_source_mapping()
            .uuid(uuid.as_str())
            .send()
            .await
            .map_err(|e| LambdaError::from_sdk("GetEventSourceMapping", e))?;
        Mapping::from_parts(
            out.uuid(),
            out.event_source_arn(),
            out.function_arn(),
            out.state(),
            out.state_transition_reason(),
            out.topics(),
            out.queues(),
            out.maximum_record_age_in_seconds(),
        )
        .ok_or_else(|| LambdaError::Unexpected {
            message: format!("GetEventSourceMapping for {uuid} returned no mapping"),
        })
    }

    /// `UpdateEventSourceMapping` with only `Enabled` set. A response without a UUID is an error
    /// (some stand-ins answer an unknown UUID with an empty 200).
    pub async fn set_enabled(
        &self,
        uuid: &MappingUuid,
        enabled: bool,
    ) -> Result<Mapping, LambdaError> {
        self.pacer.wait().await;
        let out = self
            .inner
            .update_event_source_mapping()
            .uuid(uuid.as_str())
            .enabled(enabled)
            .send()
            .await
            .map_err(|e| LambdaError::from_sdk("UpdateEventSourceMapping", e))?;
        Mapping::from_parts(
            out.uuid(),
            out.event_source_arn(),
            out.function_arn(),
            out.state(),
            out.state_transition_reason(),
            out.topics(),
            out.queues(),
            out.maximum_record_age_in_seconds(),
        )
        .ok_or_else(|| LambdaError::NotFound {
            message: format!("UpdateEventSourceMapping for {uuid} returned no mapping"),
        })
    }
}

/// What kind of event source a mapping reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceKind {
    KinesisStream,
    DynamoDbStream,
    SqsQueue,
    Msk,
    SelfManagedKafka,
    AmazonMq,
    DocumentDb,
    Other,
}

/// An event source mapping as we need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub uuid: MappingUuid,
    /// Absent for self-managed Kafka.
    pub source_arn: Option<String>,
    pub function_arn: String,
    /// `State` exactly as AWS spells it (`Enabled`, `Disabling`, …).
    pub state: String,
    pub state_transition_reason: Option<String>,
    /// Kafka topics / MQ queues, which users also call the source by.
    pub topics: Vec<String>,
    /// `MaximumRecordAgeInSeconds` (streams only; -1 or absent: no limit).
    #[serde(default)]
    pub maximum_record_age: Option<i32>,
}

impl Mapping {
    fn from_aws(m: &EventSourceMappingConfiguration) -> Option<Self> {
        Self::from_parts(
            m.uuid(),
            m.event_source_arn(),
            m.function_arn(),
            m.state(),
            m.state_transition_reason(),
            m.topics(),
            m.queues(),
            m.maximum_record_age_in_seconds(),
        )
    }

    // One argument per field AWS reports, from three differently shaped SDK outputs.
    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        uuid: Option<&str>,
        source_arn: Option<&str>,
        function_arn: Option<&str>,
        state: Option<&str>,
        reason: Option<&str>,
        topics: &[String],
        queues: &[String],
        maximum_record_age: Option<i32>,
    ) -> Option<Self> {
        let uuid = uuid.filter(|u| !u.is_empty())?;
        Some(Self {
            uuid: MappingUuid::new(uuid),
            source_arn: source_arn.map(str::to_owned),
            function_arn: function_arn.unwrap_or_default().to_owned(),
            state: state.unwrap_or("Unknown").to_owned(),
            state_transition_reason: reason.filter(|r| !r.is_empty()).map(str::to_owned),
            topics: topics.iter().chain(queues).cloned().collect(),
            maximum_record_age,
        })
    }

    /// The service part of the source ARN.
    pub fn kind(&self) -> SourceKind {
        let Some(arn) = &self.source_arn else {
            return SourceKind::SelfManagedKafka;
        };
        match arn.split(':').nth(2).unwrap_or_default() {
            "kinesis" => SourceKind::KinesisStream,
            "dynamodb" => SourceKind::DynamoDbStream,
            "sqs" => SourceKind::SqsQueue,
            "kafka" => SourceKind::Msk,
            "mq" => SourceKind::AmazonMq,
            "rds" => SourceKind::DocumentDb,
            _ => SourceKind::Other,
        }
    }

    /// The name people call the source by: the stream, table, queue, cluster or broker name.
    pub fn short_name(&self) -> String {
        let Some(arn) = &self.source_arn else {
            return self
                .topics
                .first()
                .cloned()
                .unwrap_or_else(|| self.uuid.to_string());
        };
        short_name_of(arn).unwrap_or_else(|| arn.clone())
    }

    /// Whether `name` names this mapping's source (its short name, a topic or a queue).
    pub fn is_named(&self, name: &str) -> bool {
        self.short_name() == name || self.topics.iter().any(|t| t == name)
    }

    /// The function name, from the function ARN (`…:function:NAME[:QUALIFIER]`).
    pub fn function_name(&self) -> &str {
        self.function_arn
            .split(":function:")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .unwrap_or(&self.function_arn)
    }

    /// Whether AWS changed the state on its own (anything but a user's update).
    pub fn reason_is_not_user_initiated(&self) -> bool {
        let Some(reason) = &self.state_transition_reason else {
            return false;
        };
        // AWS says `USER_INITIATED`; older APIs and stand-ins say "User action" / "User initiated".
        let folded: String = reason
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        !matches!(folded.as_str(), "userinitiated" | "useraction")
    }
}

/// The resource's name from an event source ARN.
pub fn short_name_of(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return None;
    }
    let (service, resource) = (parts[2], parts[5]);
    let segments: Vec<&str> = resource.split(['/', ':']).collect();
    let name = match (service, segments.as_slice()) {
        ("kinesis", ["stream", name, ..]) => name,
        ("dynamodb", ["table", name, ..]) => name,
        ("kafka", ["cluster", name, ..]) => name,
        ("mq", ["broker", name, ..]) => name,
        ("rds", ["cluster", name, ..]) => name,
        (_, [.., last]) => last,
        _ => return None,
    };
    (!name.is_empty()).then(|| (*name).to_owned())
}

/// A Lambda control-plane failure, classified for retries and for the person reading about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum LambdaError {
    #[error("not found: {message}")]
    NotFound { message: String },
    #[error("access denied: missing {action}: {message}")]
    AccessDenied { action: String, message: String },
    #[error("throttled: {message}")]
    Throttled { message: String },
    #[error("in use: {message}")]
    InUse { message: String },
    #[error("invalid parameter: {message}")]
    InvalidParameter { message: String },
    #[error("Lambda service error: {message}")]
    Service { message: String },
    #[error("could not reach Lambda: {message}")]
    Network { message: String },
    #[error("unexpected answer from Lambda: {message}")]
    Unexpected { message: String },
}

impl LambdaError {
    fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let message = err.message().unwrap_or_default().to_owned();
        match &err {
            SdkError::TimeoutError(_) => {
                return LambdaError::Network {
                    message: format!("{operation} timed out"),
                };
            }
            SdkError::DispatchFailure(f) => {
                let detail = std::error::Error::source(&err)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| format!("{f:?}"));
                return LambdaError::Network {
                    message: format!("{operation}: {detail}"),
                };
            }
            SdkError::ResponseError(_) | SdkError::ConstructionFailure(_) => {
                return LambdaError::Unexpected {
                    message: format!(
                        "{operation}: {}",
                        aws_sdk_lambda::error::DisplayErrorContext(&err)
                    ),
                };
            }
            _ => {}
        }
        let code = err.code().unwrap_or_default();
        let status = match &err {
            SdkError::ServiceError(e) => format!("{:?}", e.raw()),
            _ => String::new(),
        };
        match code {
            "ResourceNotFoundException" => LambdaError::NotFound { message },
            "AccessDeniedException"
            | "AccessDenied"
            | "UnauthorizedOperation"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException" => LambdaError::AccessDenied {
                action: denied_action(&message).unwrap_or_else(|| format!("lambda:{operation}")),
                message,
            },
            "TooManyRequestsException" | "ThrottlingException" | "Throttling" => {
                LambdaError::Throttled { message }
            }
            "ResourceInUseException" | "ResourceConflictException" => {
                LambdaError::InUse { message }
            }
            "InvalidParameterValueException" => LambdaError::InvalidParameter { message },
            "ServiceException" => LambdaError::Service { message },
            _ if status.contains("StatusCode(5") || status.contains("status: 5") => {
                LambdaError::Service {
                    message: format!("{code} {message}"),
                }
            }
            _ => LambdaError::Unexpected {
                message: format!("{operation}: {code} {message}").trim().to_owned(),
            },
        }
    }

    /// Worth trying again after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LambdaError::Throttled { .. }
                | LambdaError::Service { .. }
                | LambdaError::Network { .. }
        )
    }
}

/// `… is not authorized to perform: lambda:UpdateEventSourceMapping on resource …` → `lambda:UpdateEventSourceMapping`.
fn denied_action(message: &str) -> Option<String> {
    let rest = message.split("perform: ").nth(1)?;
    let action: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
        .collect();
    (action.contains(':')).then_some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(arn: Option<&str>, topics: &[&str]) -> Mapping {
        Mapping {
            uuid: MappingUuid::new("14e0db71-5d35-4eb5-b481-8945cf9d10c2"),
            source_arn: arn.map(str::to_owned),
            function_arn: "arn:aws:lambda:us-east-1:123456789012:function:orders-fn:live".into(),
            state: "Enabled".into(),
            state_transition_reason: Some("USER_INITIATED".into()),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            maximum_record_age: None,
        }
    }

    #[test]
    fn short_names_come_from_the_arn_resource() {
        let cases = [
            (
                "arn:aws:kinesis:us-east-1:123456789012:stream/orders",
                "orders",
                SourceKind::KinesisStream,
            ),
            (
                "arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/c1:1700000000",
                "orders",
                SourceKind::KinesisStream,
            ),
            (
                "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000",
                "Orders",
                SourceKind::DynamoDbStream,
            ),
            (
                "arn:aws:sqs:us-east-1:123456789012:orders-dlq",
                "orders-dlq",
                SourceKind::SqsQueue,
            ),
            (
                "arn:aws:kafka:us-east-1:123456789012:cluster/payments/abcd-1",
                "payments",
                SourceKind::Msk,
            ),
            (
                "arn:aws:mq:us-east-1:123456789012:broker:events:b-1234",
                "events",
                SourceKind::AmazonMq,
            ),
            (
                "arn:aws:rds:us-east-1:123456789012:cluster:docs",
                "docs",
                SourceKind::DocumentDb,
            ),
        ];
        for (arn, name, kind) in cases {
            let m = mapping(Some(arn), &[]);
            assert_eq!(m.short_name(), name, "{arn}");
            assert_eq!(m.kind(), kind, "{arn}");
            assert!(m.is_named(name));
        }
    }

    #[test]
    fn topics_name_kafka_mappings_too() {
        let m = mapping(
            Some("arn:aws:kafka:us-east-1:123456789012:cluster/payments/abcd-1"),
            &["refunds"],
        );
        assert!(m.is_named("refunds") && m.is_named("payments") && !m.is_named("orders"));
        let self_managed = mapping(None, &["clicks"]);
        assert_eq!(self_managed.kind(), SourceKind::SelfManagedKafka);
        assert_eq!(self_managed.short_name(), "clicks");
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_a_quarter() {
        let b = Backoff::standard();
        for retry in 0..6 {
            for _ in 0..20 {
                let j = b.jittered(retry);
                assert!(
                    j <= b.delay(retry) && j >= b.delay(retry).mul_f64(0.75),
                    "{j:?}"
                );
            }
        }
    }

    #[test]
    fn user_initiated_reasons_are_not_news() {
        let mut m = mapping(None, &[]);
        for (reason, news) in [
            ("USER_INITIATED", false),
            ("User initiated", false),
            ("User action", false),
            ("PROBLEM: Function call failed", true),
            ("APPROACHING_RETENTION", true),
        ] {
            m.state_transition_reason = Some(reason.into());
            assert_eq!(m.reason_is_not_user_initiated(), news, "{reason}");
        }
        m.state_transition_reason = None;
        assert!(!m.reason_is_not_user_initiated());
    }

    #[test]
    fn function_name_drops_arn_and_qualifier() {
        assert_eq!(mapping(None, &[]).function_name(), "orders-fn");
    }

    #[test]
    fn denied_action_is_read_from_the_message() {
        let msg = "User: arn:aws:sts::123456789012:assumed-role/lambda-pause/bot is not authorized to perform: lambda:UpdateEventSourceMapping on resource: arn:aws:lambda:us-east-1:123456789012:event-source-mapping:abc because no identity-based policy allows the lambda:UpdateEventSourceMapping action";
        assert_eq!(
            denied_action(msg).as_deref(),
            Some("lambda:UpdateEventSourceMapping")
        );
        assert_eq!(denied_action("Access denied"), None);
    }
}

/// Exponential backoff: `initial`, doubling up to `max`, at most `attempts` tries in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub attempts: u32,
}

impl Backoff {
    /// 1 s doubling to 10 s: what the control plane's 15 calls/s account limit asks of a good citizen.
    pub const fn standard() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
            attempts: 6,
        }
    }

    /// The pause before try number `retry` (0-based): doubling, capped at `max`.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(16));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// [`Backoff::delay`] with up to 25 % random jitter subtracted, so many waiters don't retry in lockstep.
    pub fn jittered(&self, retry: u32) -> Duration {
        let base = self.delay(retry);
        let mut byte = [0u8; 1];
        let fraction = if getrandom::fill(&mut byte).is_ok() {
            f64::from(byte[0]) / 255.0 * 0.25
        } else {
            0.0
        };
        base.mul_f64(1.0 - fraction)
    }
}

/// Runs `op`, retrying transient failures (throttling, 5xx, network) with `backoff`.
pub async fn with_retries<T, F, Fut>(backoff: &Backoff, mut op: F) -> Result<T, LambdaError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, LambdaError>>,
{
    let mut retry = 0;
    loop {
        match op().await {
            Err(e) if e.is_transient() && retry + 1 < backoff.attempts => {
                tracing::info!(error = %e, retry, "Lambda call failed; backing off");
                tokio::time::sleep(backoff.jittered(retry)).await;
                retry += 1;
            }
            other => return other,
        }
    }
}
