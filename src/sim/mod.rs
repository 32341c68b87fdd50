//! The simulated AWS control plane on loopback, for demo and tests: Lambda's event source mapping
//! API (restJson1), plus the two retention reads the bot needs, Kinesis `DescribeStreamSummary`
//! (awsJson1_1) and SQS `GetQueueAttributes` (awsJson1_0, query-compatible), all on one endpoint.

mod http;
#[cfg(test)]
mod retention_tests;
mod rpc;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use state::{Mapping, Queue, State, Stream, new_uuid, now_epoch_seconds};

/// Configuration of a [`Simulator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    pub region: String,
    pub account_id: String,
    /// How long `Enabling`/`Disabling` lasts after an update.
    pub transition_time: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            region: "us-east-1".to_string(),
            account_id: "123456789012".to_string(),
            transition_time: Duration::from_secs(2),
        }
    }
}

/// A mapping as the simulator currently sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct SimMapping {
    pub uuid: String,
    pub function_arn: String,
    pub event_source_arn: String,
    pub state: String,
    pub state_transition_reason: String,
}

/// An error that can be injected with [`Simulator::fail_next`].
///
/// The wire shape depends on the operation's service; the codes below are what the SDKs report
/// from `ProvideErrorMetadata::code()` (Lambda / Kinesis / SQS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimError {
    /// Lambda: 429 `TooManyRequestsException` (with `Retry-After: 1`); Kinesis and SQS: 400
    /// `ThrottlingException`.
    Throttled,
    /// 400 `ResourceInUseException` (all three services).
    InUse,
    /// Lambda: 404 `ResourceNotFoundException`; Kinesis: 400 `ResourceNotFoundException`; SQS:
    /// 400 `AWS.SimpleQueueService.NonExistentQueue` (the SDK's `QueueDoesNotExist`).
    NotFound,
    /// Lambda: 403 `AccessDeniedException`; Kinesis: 400 `AccessDeniedException`; SQS: 400
    /// `AccessDenied`.
    AccessDenied,
    /// Lambda: 500 `ServiceException`; Kinesis and SQS: 500 `InternalFailure`.
    ServiceError,
}

/// One request the simulator received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCall {
    /// `ListEventSourceMappings`, `GetEventSourceMapping`, `UpdateEventSourceMapping`,
    /// `DescribeStreamSummary`, `GetQueueAttributes`, or `UnknownOperation` for unrecognised
    /// routes and `x-amz-target`s.
    pub operation: String,
    /// The mapping UUID in the path, for Get and Update.
    pub uuid: Option<String>,
    /// The HTTP status returned.
    pub status: u16,
}

/// Shared core: immutable configuration plus the locked state. The router holds this.
#[derive(Debug)]
pub(crate) struct Core {
    region: String,
    account_id: String,
    state: Mutex<State>,
}

impl Core {
    /// Locks the state; a poisoned lock is recovered (nothing panics while holding it anyway).
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Aborts the server task when the last [`Simulator`] clone is dropped.
struct ServerGuard(tokio::task::JoinHandle<()>);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The simulated AWS control plane. Cheap to clone; all clones share one state and server.
///
/// Serves `ListEventSourceMappings`, `GetEventSourceMapping` and `UpdateEventSourceMapping` as
/// `aws-sdk-lambda` expects them, Kinesis `DescribeStreamSummary` as `aws-sdk-kinesis` expects
/// it and SQS `GetQueueAttributes` as `aws-sdk-sqs` expects it; point every SDK at
/// [`Simulator::endpoint_url`]. Every Kinesis stream and SQS queue named by a mapping exists
/// (24 h and 345600 s retention unless set otherwise); streams are looked up by name (an ARN must
/// carry the simulator's region and account), queues by the last segment of the queue URL (any
/// host; the account segment, if any, must be the simulator's). Mapping states
/// move through `Enabling`/`Disabling` for the configured transition time, resolved lazily on
/// every read. Injected faults are checked in the order throttling ([`Simulator::throttle_next`]),
/// queued errors ([`Simulator::fail_next`]), denial ([`Simulator::deny`]), before any normal
/// processing; every request is recorded in [`Simulator::calls`].
#[derive(Clone)]
pub struct Simulator {
    core: Arc<Core>,
    addr: SocketAddr,
    _server: Arc<ServerGuard>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("endpoint_url", &self.endpoint_url())
            .field("region", &self.core.region)
            .field("account_id", &self.core.account_id)
            .finish()
    }
}

impl Simulator {
    /// Binds `127.0.0.1:0` and serves the simulated API on the current tokio runtime until the
    /// last clone is dropped (or the runtime shuts down).
    pub async fn start(config: SimConfig) -> std::io::Result<Simulator> {
        let core = Arc::new(Core {
            region: config.region,
            account_id: config.account_id,
            state: Mutex::new(State::new(config.transition_time)),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = http::router(core.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "simulated lambda server stopped");
            }
        });
        Ok(Simulator {
            core,
            addr,
            _server: Arc::new(ServerGuard(server)),
        })
    }

    /// `http://127.0.0.1:PORT`, for the SDK's `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The same service as a router, for callers that want to serve it themselves.
    pub fn router(&self) -> axum::Router {
        http::router(self.core.clone())
    }

    /// `arn:aws:lambda:{region}:{account}:function:{name}`; `name` may carry `:qualifier`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.core.region, self.core.account_id
        )
    }

    /// `arn:aws:kinesis:{region}:{account}:stream/{stream}`.
    pub fn kinesis_arn(&self, stream: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{stream}",
            self.core.region, self.core.account_id
        )
    }

    /// `arn:aws:sqs:{region}:{account}:{queue}`.
    pub fn sqs_arn(&self, queue: &str) -> String {
        format!(
            "arn:aws:sqs:{}:{}:{queue}",
            self.core.region, self.core.account_id
        )
    }

    /// `arn:aws:dynamodb:{region}:{account}:table/{table}/stream/2026-01-01T00:00:00.000`.
    pub fn dynamodb_stream_arn(&self, table: &str) -> String {
        format!(
            "arn:aws:dynamodb:{}:{}:table/{table}/stream/2026-01-01T00:00:00.000",
            self.core.region, self.core.account_id
        )
    }

    /// `arn:aws:kafka:{region}:{account}:cluster/{cluster}/abcd1234-ab12-cd34-ef56-abcdef123456-1`.
    pub fn msk_arn(&self, cluster: &str) -> String {
        format!(
            "arn:aws:kafka:{}:{}:cluster/{cluster}/abcd1234-ab12-cd34-ef56-abcdef123456-1",
            self.core.region, self.core.account_id
        )
    }

    /// Adds a mapping from `event_source_arn` to function `function` (a name, optionally
    /// "name:alias", or a full function ARN); returns its UUID.
    pub fn add_mapping(&self, function: &str, event_source_arn: &str, enabled: bool) -> String {
        self.insert(function, event_source_arn, enabled, None)
    }

    /// Same as [`Simulator::add_mapping`], with Kafka topics.
    pub fn add_kafka_mapping(
        &self,
        function: &str,
        cluster_arn: &str,
        topic: &str,
        enabled: bool,
    ) -> String {
        self.insert(function, cluster_arn, enabled, Some(topic))
    }

    fn insert(
        &self,
        function: &str,
        event_source_arn: &str,
        enabled: bool,
        topic: Option<&str>,
    ) -> String {
        let function_arn = if function.starts_with("arn:") {
            function.to_string()
        } else {
            self.function_arn(function)
        };
        let mut st = self.core.lock();
        let mut uuid = new_uuid();
        while st.index.contains_key(&uuid) {
            uuid = new_uuid();
        }
        let mut m = Mapping::new(
            uuid.clone(),
            function_arn,
            event_source_arn.to_string(),
            enabled,
        );
        if let Some(t) = topic {
            m.topics = vec![t.to_string()];
        }
        st.insert(m);
        uuid
    }

    /// Sets a Kinesis stream's retention (creating the stream if it does not exist).
    pub fn set_kinesis_retention(&self, stream: &str, hours: i32) {
        self.core
            .lock()
            .streams
            .entry(stream.to_string())
            .or_insert_with(|| Stream {
                retention_hours: hours,
                created: now_epoch_seconds(),
            })
            .retention_hours = hours;
    }

    /// Sets an SQS queue's MessageRetentionPeriod (creating the queue if it does not exist).
    pub fn set_sqs_retention(&self, queue: &str, seconds: i64) {
        self.core
            .lock()
            .queues
            .entry(queue.to_string())
            .or_insert_with(|| Queue {
                retention_seconds: seconds,
                created: now_epoch_seconds(),
            })
            .retention_seconds = seconds;
    }

    /// Removes a Kinesis stream (later reads get the not-found error). Adding a mapping on it
    /// recreates it.
    pub fn delete_stream(&self, stream: &str) {
        self.core.lock().streams.remove(stream);
    }

    /// Removes a queue (later reads get the not-found error). Adding a mapping on it recreates it.
    pub fn delete_queue(&self, queue: &str) {
        self.core.lock().queues.remove(queue);
    }

    /// `https://sqs.{region}.amazonaws.com/{account}/{queue}`, the URL `GetQueueAttributes` takes.
    pub fn sqs_queue_url(&self, queue: &str) -> String {
        format!(
            "https://sqs.{}.amazonaws.com/{}/{queue}",
            self.core.region, self.core.account_id
        )
    }

    /// Sets `MaximumRecordAgeInSeconds` (-1 means infinite). Unknown UUIDs are ignored.
    pub fn set_maximum_record_age(&self, uuid: &str, seconds: i32) {
        if let Some(m) = self.core.lock().get_mut(uuid) {
            m.maximum_record_age = Some(seconds);
        }
    }

    /// Current view of a mapping (with any elapsed transition applied), None if unknown.
    pub fn mapping(&self, uuid: &str) -> Option<SimMapping> {
        self.core.lock().get_mut(uuid).map(|m| m.view())
    }

    /// Forces a state and reason (e.g. "Disabled" / "PROBLEM: Function call failed"), clearing
    /// any pending transition. Unknown UUIDs are ignored.
    pub fn set_state(&self, uuid: &str, state: &str, reason: &str) {
        if let Some(m) = self.core.lock().get_mut(uuid) {
            m.state = state.to_string();
            m.reason = reason.to_string();
            m.pending = None;
        }
    }

    /// Changes the transition time for future updates.
    pub fn set_transition_time(&self, d: Duration) {
        self.core.lock().transition_time = d;
    }

    /// While `stuck`, the mapping never leaves its transitional state after an update; setting
    /// it back to false lets it settle (if its time has come) on the next read.
    pub fn set_stuck(&self, uuid: &str, stuck: bool) {
        let mut st = self.core.lock();
        if let Some(i) = st.index.get(uuid).copied()
            && let Some(m) = st.mappings.get_mut(i)
        {
            m.stuck = stuck;
        }
    }

    /// The next `n` requests (any recognised operation, any service) are throttled: Lambda gets
    /// 429 `TooManyRequestsException`, Kinesis and SQS 400 `ThrottlingException`.
    pub fn throttle_next(&self, n: usize) {
        let mut st = self.core.lock();
        st.throttle = st.throttle.saturating_add(n);
    }

    /// The next `n` requests of one operation ("ListEventSourceMappings" |
    /// "GetEventSourceMapping" | "UpdateEventSourceMapping" | "DescribeStreamSummary" |
    /// "GetQueueAttributes") fail with `error`. Repeated calls queue up in order.
    pub fn fail_next(&self, operation: &str, n: usize, error: SimError) {
        if n == 0 {
            return;
        }
        self.core
            .lock()
            .failures
            .entry(operation.to_string())
            .or_default()
            .push_back((error, n));
    }

    /// Denies an operation (any of those of [`Simulator::fail_next`]) until
    /// [`Simulator::allow`] is called: `AccessDeniedException` (Lambda, Kinesis) or
    /// `AccessDenied` (SQS), with IAM's "is not authorized to perform" message.
    pub fn deny(&self, operation: &str) {
        self.core.lock().denied.insert(operation.to_string());
    }

    /// Lifts a [`Simulator::deny`].
    pub fn allow(&self, operation: &str) {
        self.core.lock().denied.remove(operation);
    }

    /// Every request received, in order (including failed ones).
    pub fn calls(&self) -> Vec<SimCall> {
        self.core.lock().calls.clone()
    }

    /// Number of successful (202) UpdateEventSourceMapping calls for one UUID, including
    /// no-op ones (e.g. disabling an already disabled mapping).
    pub fn update_count(&self, uuid: &str) -> usize {
        self.core
            .lock()
            .update_counts
            .get(uuid)
            .copied()
            .unwrap_or(0)
    }
}
