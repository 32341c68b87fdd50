//! Outgoing Slack calls: the Web API (`chat.postMessage`, `chat.postEphemeral`, `chat.update`) and `response_url` replies, with retries.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use url::Url;

use super::messages::Message;
use crate::ids::{ChannelId, UserId};
use crate::secrets::{BotToken, ResponseUrl};

type Connector = SlackClientHyperConnector<HttpsConnector<HttpConnector>>;

/// The longest one Slack call may take before it counts as failed (and is retried).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Slack's Web API base when `SLACK_API_URL` is not set.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";

/// A failed Slack call.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Slack answered `ok: false` (e.g. `not_in_channel`, `channel_not_found`, `invalid_auth`).
    #[error("Slack API error `{0}`")]
    Api(String),
    #[error("Slack rate limited the call")]
    RateLimited,
    #[error("Slack answered HTTP {0}")]
    Http(u16),
    #[error("could not reach Slack: {0}")]
    Network(String),
    #[error("bad URL: {0}")]
    Url(String),
}

impl SlackError {
    fn from_client(err: SlackClientError) -> Self {
        match err {
            SlackClientError::ApiError(e) => SlackError::Api(e.code),
            SlackClientError::RateLimitError(_) => SlackError::RateLimited,
            SlackClientError::HttpError(e) => SlackError::Http(e.status_code.as_u16()),
            other => SlackError::Network(other.to_string()),
        }
    }

    /// Worth trying again later (rate limits, 5xx, network), as opposed to a refusal.
    pub fn is_transient(&self) -> bool {
        match self {
            SlackError::RateLimited | SlackError::Network(_) => true,
            SlackError::Http(status) => *status >= 500,
            SlackError::Api(code) => matches!(
                code.as_str(),
                "internal_error"
                    | "fatal_error"
                    | "service_unavailable"
                    | "request_timeout"
                    | "ratelimited"
            ),
            SlackError::Url(_) => false,
        }
    }
}

/// How a `response_url` reply shows up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Respond {
    /// A new message only the user sees.
    Ephemeral,
    /// A new message everyone in the channel sees.
    InChannel,
    /// Replaces the message that held the clicked button (so it can't be clicked again).
    ReplaceOriginal,
}

#[derive(Serialize)]
struct ResponseUrlBody<'a> {
    #[serde(flatten)]
    content: &'a SlackMessageContent,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_type: Option<&'static str>,
    replace_original: bool,
}

/// The Slack Web API client (slack-morphism over hyper + rustls; `http://` allowed for local stand-ins).
#[derive(Clone)]
pub struct Slack {
    client: Arc<SlackClient<Connector>>,
    token: Arc<SlackApiToken>,
    retry_pause: Duration,
}

impl Slack {
    /// `api_url` is the Web API base (`https://slack.com/api/`); a method's URL is the base + its name.
    pub fn new(api_url: &str, token: &BotToken) -> Result<Self, SlackError> {
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let https = match builder.with_native_roots() {
            Ok(b) => b,
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots(),
        }
        .https_or_http()
        .enable_http1()
        .build();
        Url::parse(api_url).map_err(|e| SlackError::Url(format!("SLACK_API_URL: {e}")))?;
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(api_url.trim_end_matches('/'));
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            token: Arc::new(SlackApiToken::new(SlackApiTokenValue::new(
                token.expose().to_owned(),
            ))),
            retry_pause: Duration::from_millis(500),
        })
    }

    /// Shortens the pause between retries (tests).
    pub fn with_retry_pause(mut self, pause: Duration) -> Self {
        self.retry_pause = pause;
        self
    }

    /// Runs a call up to 3 times while it fails transiently (rate limits, 5xx, network).
    async fn retrying<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, SlackError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SlackClientError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Slack answers in well under a second; a call that hangs is treated as a network failure.
            let outcome = match tokio::time::timeout(CALL_TIMEOUT, call()).await {
                Ok(result) => result.map_err(|raw| {
                    let retry_after = match &raw {
                        SlackClientError::RateLimitError(e) => e.retry_after,
                        _ => None,
                    };
                    (SlackError::from_client(raw), retry_after)
                }),
                Err(_) => Err((
                    SlackError::Network(format!("no answer within {}s", CALL_TIMEOUT.as_secs())),
                    None,
                )),
            };
            match outcome {
                Ok(v) => return Ok(v),
                Err((err, retry_after)) => {
                    if !err.is_transient() || attempt >= 3 {
                        tracing::warn!(call = what, error = %err, "Slack call failed");
                        return Err(err);
                    }
                    let pause = retry_after
                        .unwrap_or(self.retry_pause * attempt)
                        .min(Duration::from_secs(30));
                    tracing::info!(call = what, error = %err, ?pause, "Slack call failed; retrying");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// `chat.postMessage`; returns the message's `ts`.
    pub async fn post_message(
        &self,
        channel: &ChannelId,
        message: &Message,
        thread_ts: Option<&str>,
    ) -> Result<String, SlackError> {
        let req = SlackApiChatPostMessageRequest::new(
            SlackChannelId::new(channel.to_string()),
            message.content(),
        )
        .opt_thread_ts(thread_ts.map(|t| SlackTs::new(t.to_owned())));
        let session = self.client.open_session(&self.token);
        let res = self
            .retrying("chat.postMessage", || session.chat_post_message(&req))
            .await?;
        Ok(res.ts.to_string())
    }

    /// `chat.postEphemeral`: a message only `user` sees.
    pub async fn post_ephemeral(
        &self,
        channel: &ChannelId,
        user: &UserId,
        message: &Message,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId::new(channel.to_string()),
            SlackUserId::new(user.to_string()),
            message.content(),
        );
        let session = self.client.open_session(&self.token);
        self.retrying("chat.postEphemeral", || session.chat_post_ephemeral(&req))
            .await?;
        Ok(())
    }

    /// `chat.update` of a message the bot posted.
    pub async fn update_message(
        &self,
        channel: &ChannelId,
        ts: &str,
        message: &Message,
    ) -> Result<(), SlackError> {
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId::new(channel.to_string()),
            message.content(),
            SlackTs::new(ts.to_owned()),
        );
        let session = self.client.open_session(&self.token);
        self.retrying("chat.update", || session.chat_update(&req))
            .await?;
        Ok(())
    }

    /// Looks for a message this bot posted in `channel` (in `thread_ts`'s thread when given)
    /// since `oldest` (unix seconds) whose content (as JSON) `matches`; returns its `ts`.
    /// Used before posting again a message whose earlier delivery may have landed (a crash
    /// between Slack's answer and our record of it). Needs `channels:history`/`groups:history`.
    pub async fn find_posted(
        &self,
        channel: &ChannelId,
        thread_ts: Option<&str>,
        oldest: u64,
        matches: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, SlackError> {
        let channel = SlackChannelId::new(channel.to_string());
        let oldest = SlackTs::new(format!("{oldest}.000000"));
        let session = self.client.open_session(&self.token);
        let messages = match thread_ts {
            Some(thread) => {
                let req = SlackApiConversationsRepliesRequest::new(
                    channel,
                    SlackTs::new(thread.to_owned()),
                )
                .with_oldest(oldest)
                .with_limit(200);
                self.retrying("conversations.replies", || {
                    session.conversations_replies(&req)
                })
                .await?
                .messages
            }
            None => {
                let req = SlackApiConversationsHistoryRequest::new()
                    .with_channel(channel)
                    .with_oldest(oldest)
                    .with_limit(200);
                self.retrying("conversations.history", || {
                    session.conversations_history(&req)
                })
                .await?
                .messages
            }
        };
        Ok(messages
            .into_iter()
            .find(|m| {
                m.sender.bot_id.is_some()
                    && serde_json::to_string(&m.content).is_ok_and(|c| matches(&c))
            })
            .map(|m| m.origin.ts.to_string()))
    }

    /// `usergroups.users.list`: the members of a user group (`S…`).
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<UserId>, SlackError> {
        let req = SlackApiUserGroupsUsersListRequest::new(SlackUserGroupId::new(group.to_owned()));
        let session = self.client.open_session(&self.token);
        let res = self
            .retrying("usergroups.users.list", || {
                session.usergroups_users_list(&req)
            })
            .await?;
        Ok(res
            .users
            .into_iter()
            .map(|u| UserId::new(u.to_string()))
            .collect())
    }

    /// Replies through a `response_url` (no token is sent; the URL is never logged).
    pub async fn respond(
        &self,
        url: &ResponseUrl,
        message: &Message,
        how: Respond,
    ) -> Result<(), SlackError> {
        let url = Url::parse(url.expose())
            .map_err(|_| SlackError::Url("response_url is not a URL".into()))?;
        let content = message.content();
        let body = ResponseUrlBody {
            content: &content,
            response_type: match how {
                Respond::Ephemeral => Some("ephemeral"),
                Respond::InChannel => Some("in_channel"),
                Respond::ReplaceOriginal => None,
            },
            replace_original: how == Respond::ReplaceOriginal,
        };
        let span = tracing::debug_span!("slack response_url");
        self.retrying("response_url", || {
            let context = SlackClientApiCallContext {
                rate_control_params: None,
                token: None,
                tracing_span: &span,
                is_sensitive_url: true,
            };
            self.client
                .http_api
                .connector
                .http_post_uri::<_, SlackApiPostWebhookMessageResponse>(url.clone(), &body, context)
        })
        .await?;
        Ok(())
    }
}
