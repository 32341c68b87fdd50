//! How long unprocessed records survive while a mapping is paused: the source's retention, or the mapping's `MaximumRecordAgeInSeconds`, whichever is shorter.

use std::time::Duration;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};

use super::{Lambda, Mapping, SourceKind};

/// DynamoDB Streams keep records for exactly 24 hours.
pub const DYNAMODB_STREAM_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// What limits how long records survive a pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cause {
    /// The Kinesis stream's `RetentionPeriodHours`.
    KinesisRetention,
    /// DynamoDB Streams' fixed 24 hours.
    DynamoDbStream,
    /// The SQS queue's `MessageRetentionPeriod`.
    SqsRetention,
    /// The mapping's `MaximumRecordAgeInSeconds`: older records are dropped (or sent to the failure destination) on resume.
    MaximumRecordAge,
}

/// Why the horizon is not known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unknown {
    /// Kafka, MSK, MQ and DocumentDB keep records by their own settings, which the bot does not read.
    NotReadable(SourceKind),
    /// The bot's role may not read the retention (`action` is the missing IAM action).
    NoPermission { action: String },
    /// The lookup failed for another reason.
    LookupFailed { message: String },
}

/// How long a paused mapping's unprocessed records survive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Horizon {
    Known { secs: u64, cause: Cause },
    Unknown(Unknown),
}

impl Horizon {
    pub fn limit(&self) -> Option<Duration> {
        match self {
            Horizon::Known { secs, .. } => Some(Duration::from_secs(*secs)),
            Horizon::Unknown(_) => None,
        }
    }
}

/// The shorter of a source retention and the mapping's maximum record age (pure).
pub fn combine(
    retention: Result<(u64, Cause), Unknown>,
    maximum_record_age: Option<i32>,
) -> Horizon {
    let max_age = maximum_record_age.filter(|s| *s > 0).map(|s| s as u64);
    match (retention, max_age) {
        (Ok((secs, _)), Some(age)) if age < secs => Horizon::Known {
            secs: age,
            cause: Cause::MaximumRecordAge,
        },
        (Ok((secs, cause)), _) => Horizon::Known { secs, cause },
        (Err(_), Some(age)) => Horizon::Known {
            secs: age,
            cause: Cause::MaximumRecordAge,
        },
        (Err(why), None) => Horizon::Unknown(why),
    }
}

/// Looks up the horizon of one mapping (one Kinesis or SQS read at most).
pub async fn horizon(aws: &Lambda, region: Option<&str>, mapping: &Mapping) -> Horizon {
    let retention = match (mapping.kind(), mapping.source_arn.as_deref()) {
        (SourceKind::KinesisStream, Some(arn)) => kinesis_retention(aws, region, arn).await,
        (SourceKind::DynamoDbStream, _) => {
            Ok((DYNAMODB_STREAM_RETENTION.as_secs(), Cause::DynamoDbStream))
        }
        (SourceKind::SqsQueue, Some(arn)) => sqs_retention(aws, region, arn).await,
        (kind, _) => Err(Unknown::NotReadable(kind)),
    };
    // MaximumRecordAgeInSeconds applies to stream sources only.
    let max_age = matches!(
        mapping.kind(),
        SourceKind::KinesisStream | SourceKind::DynamoDbStream
    )
    .then_some(mapping.maximum_record_age)
    .flatten();
    combine(retention, max_age)
}

/// `arn:aws:kinesis:R:A:stream/NAME[/consumer/…]` → the stream's ARN.
fn stream_arn(arn: &str) -> String {
    match arn.find("/consumer/") {
        Some(i) => arn[..i].to_owned(),
        None => arn.to_owned(),
    }
}

async fn kinesis_retention(
    aws: &Lambda,
    region: Option<&str>,
    arn: &str,
) -> Result<(u64, Cause), Unknown> {
    let region = arn.split(':').nth(3).filter(|r| !r.is_empty()).or(region);
    let out = aws
        .kinesis(region)
        .describe_stream_summary()
        .stream_arn(stream_arn(arn))
        .send()
        .await
        .map_err(|e| {
            classify(
                e.code(),
                e.message(),
                &e.to_string(),
                "kinesis:DescribeStreamSummary",
            )
        })?;
    let hours = out
        .stream_description_summary()
        .map(|s| s.retention_period_hours())
        .unwrap_or(24);
    Ok((
        u64::try_from(hours).unwrap_or(24) * 3600,
        Cause::KinesisRetention,
    ))
}

/// `arn:aws:sqs:R:A:NAME` → `https://sqs.R.amazonaws.com/A/NAME` (no `sqs:GetQueueUrl` needed).
fn queue_url(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "sqs", region, account, name] => {
            let domain = if partition.starts_with("aws-cn") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            Some(format!("https://sqs.{region}.{domain}/{account}/{name}"))
        }
        _ => None,
    }
}

async fn sqs_retention(
    aws: &Lambda,
    region: Option<&str>,
    arn: &str,
) -> Result<(u64, Cause), Unknown> {
    let url = queue_url(arn).ok_or_else(|| Unknown::LookupFailed {
        message: format!("{arn} is not an SQS queue ARN"),
    })?;
    let region = arn.split(':').nth(3).filter(|r| !r.is_empty()).or(region);
    let out = aws
        .sqs(region)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod)
        .send()
        .await
        .map_err(|e| {
            classify(
                e.code(),
                e.message(),
                &e.to_string(),
                "sqs:GetQueueAttributes",
            )
        })?;
    let secs = out
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod))
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| Unknown::LookupFailed {
            message: "the queue reported no MessageRetentionPeriod".into(),
        })?;
    Ok((secs, Cause::SqsRetention))
}

fn classify(code: Option<&str>, message: Option<&str>, fallback: &str, action: &str) -> Unknown {
    let code = code.unwrap_or_default();
    if code.contains("AccessDenied")
        || code.contains("NotAuthorized")
        || code == "UnauthorizedOperation"
    {
        Unknown::NoPermission {
            action: action.to_owned(),
        }
    } else {
        let message = match message {
            Some(m) if !m.is_empty() => format!("{code}: {m}"),
            _ if !code.is_empty() => code.to_owned(),
            _ => fallback.to_owned(),
        };
        Unknown::LookupFailed { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3600;

    #[test]
    fn the_shorter_limit_wins() {
        assert_eq!(
            combine(Ok((48 * H, Cause::KinesisRetention)), None),
            Horizon::Known {
                secs: 48 * H,
                cause: Cause::KinesisRetention
            }
        );
        assert_eq!(
            combine(Ok((48 * H, Cause::KinesisRetention)), Some(3600)),
            Horizon::Known {
                secs: H,
                cause: Cause::MaximumRecordAge
            }
        );
        assert_eq!(
            combine(Ok((24 * H, Cause::DynamoDbStream)), Some(7 * 24 * 3600)),
            Horizon::Known {
                secs: 24 * H,
                cause: Cause::DynamoDbStream
            }
        );
        assert_eq!(
            combine(Ok((24 * H, Cause::KinesisRetention)), Some(-1)),
            Horizon::Known {
                secs: 24 * H,
                cause: Cause::KinesisRetention
            },
            "-1 means no limit"
        );
        let denied = Unknown::NoPermission {
            action: "kinesis:DescribeStreamSummary".into(),
        };
        assert_eq!(
            combine(Err(denied.clone()), Some(600)),
            Horizon::Known {
                secs: 600,
                cause: Cause::MaximumRecordAge
            }
        );
        assert_eq!(combine(Err(denied.clone()), None), Horizon::Unknown(denied));
    }

    #[test]
    fn arns_map_to_what_the_apis_take() {
        assert_eq!(
            stream_arn(
                "arn:aws:kinesis:us-east-1:123456789012:stream/orders/consumer/c1:1700000000"
            ),
            "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
        );
        assert_eq!(
            stream_arn("arn:aws:kinesis:us-east-1:123456789012:stream/orders"),
            "arn:aws:kinesis:us-east-1:123456789012:stream/orders"
        );
        assert_eq!(
            queue_url("arn:aws:sqs:eu-west-1:123456789012:orders-retry").as_deref(),
            Some("https://sqs.eu-west-1.amazonaws.com/123456789012/orders-retry")
        );
        assert_eq!(
            queue_url("arn:aws-cn:sqs:cn-north-1:123456789012:q").as_deref(),
            Some("https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q")
        );
        assert_eq!(queue_url("arn:aws:kinesis:us-east-1:1:stream/x"), None);
    }

    #[test]
    fn access_denied_codes_name_the_action() {
        for code in [
            "AccessDeniedException",
            "AccessDenied",
            "com.amazonaws.sqs#AccessDenied",
        ] {
            assert_eq!(
                classify(Some(code), None, "", "sqs:GetQueueAttributes"),
                Unknown::NoPermission {
                    action: "sqs:GetQueueAttributes".into()
                }
            );
        }
        assert!(
            matches!(classify(Some("ResourceNotFoundException"), Some("Stream x not found"), "", "a"), Unknown::LookupFailed { message } if message.contains("not found"))
        );
    }
}
