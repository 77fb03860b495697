//! The previous Promptev product, as promptev 0.2.0 calls it: agents run in
//! one call or streamed over SSE, addressed by the id on their Deploy tab,
//! with the project key (`pv_sk_…`) in every URL path. It keeps working
//! beside the current product ([`super::Client`]), at the same host.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use agentwire::promptev::v02::{AgentEventKind, Client};
//!
//! # async fn demo() -> agentwire::Result<()> {
//! let client = Client::new("pv_sk_...")?;
//!
//! // One blocking call; pass the session id back to keep the conversation.
//! let first = client.trigger_agent("support-bot", "Summarize ticket 42").await?;
//! let next = client
//!     .trigger_agent("support-bot", "And the customer's reply?")
//!     .session_id(&first.session_id)
//!     .await?;
//!
//! // Or stream the agent's thoughts, tool status and answer as they come.
//! let session = client.start_agent("support-bot").visitor("ava").await?;
//! let mut events = client.stream_agent(&session.agent_id, &session.session_token, "Any P1 bugs?");
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     match event.kind {
//!         AgentEventKind::Thoughts => println!("thinking: {}", event.output),
//!         AgentEventKind::Done => println!("answer: {}", event.output),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The project key is part of every URL path, so agentwire masks it in URLs,
//! errors, hooks and tracing output.
//!
//! Statuses map as promptev 0.2.0 maps them: 400 is [`Error::Validation`],
//! 401/403 [`Error::Auth`], 404 [`Error::NotFound`], 429
//! [`Error::RateLimited`], 5xx [`Error::Server`], and every other status —
//! 409 and 422 included — [`Error::Api`].

use std::fmt;
use std::future::IntoFuture;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use agentwire_promptev_transport as transport;
use agentwire_runtime::{
    Error, PathKey, RateLimitInfo, Result, RetryClass, RetryConfig, Runtime, StatusClass,
};
use futures_core::Stream;
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::frames::{decode_error, Frames, Framing};
use crate::config::{self, CommonOptions};
use crate::BoxFuture;

/// What the stream's events are about: the contract's open enum (values
/// Promptev adds later arrive as `Other` instead of failing).
pub use agentwire_promptev_transport::types::AgentEventDataType as AgentEventKind;

/// Where promptev 0.2.0 sends its calls (the same host as the current
/// product's [`super::DEFAULT_BASE_URL`]).
pub const DEFAULT_BASE_URL: &str = "https://api.promptev.ai";
/// Default per-request timeout (and read timeout of streams).
pub const DEFAULT_TIMEOUT: Duration = config::DEFAULT_TIMEOUT;
const SERVICE: &str = super::SERVICE;

/// The retry policy of Promptev's own SDK: 2 retries on 502/503/504, 0.5 s
/// doubling (a `Retry-After` from the service wins, up to a minute), the
/// same as the current product's [`super::default_retry`]. Promptev's
/// operations are POSTs without an idempotency key, so this budget is only
/// spent on connections that could not be made: once a trigger is sent, a
/// 5xx or a timeout is the answer, since the agent may have run.
pub fn default_retry() -> RetryConfig {
    super::default_retry()
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// let client = agentwire::promptev::v02::Client::builder("pv_sk_example_key")
///     .base_url("http://127.0.0.1:8080")
///     .timeout(Duration::from_secs(10))
///     .max_retries(4)
///     .header("X-Team", "research")
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:8080");
/// ```
pub struct ClientBuilder {
    project_key: SecretString,
    base_url: String,
    common: CommonOptions,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("project_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("retry", &self.common.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    config::common_builder_methods!();

    /// API base URL (default [`DEFAULT_BASE_URL`]); override for self-hosted
    /// deployments or the sandbox.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Number of retries on transient failures (default 2), keeping the
    /// rest of the retry policy (default [`default_retry`]).
    pub fn max_retries(mut self, n: u32) -> Self {
        super::connect::set_max_retries(&mut self.common, n);
        self
    }

    /// Validates the settings and creates the client.
    pub fn build(self) -> Result<Client> {
        let key = self.project_key.expose_secret();
        if key.trim().is_empty() {
            return Err(Error::Config("the Promptev project key is empty".into()));
        }
        let (base_url, runtime, transport) = super::connect::connect(
            &self.common,
            &self.base_url,
            std::sync::Arc::new(PathKey::new(key)),
            |runtime| {
                runtime
                    // A repeated stream POST is a repeated turn: promptev
                    // 0.2.0 sends it once, and so does agentwire.
                    .retry_class(&["stream_agent"], RetryClass::Never)
                    .status_class(422, StatusClass::Api)
            },
        )?;
        Ok(Client {
            project_key: self.project_key,
            base_url,
            runtime,
            transport,
        })
    }
}

/// A Promptev client for one project. Cheap to clone; clones share the
/// connection pool and runtime state.
#[derive(Clone)]
pub struct Client {
    project_key: SecretString,
    base_url: String,
    runtime: Runtime,
    transport: transport::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("promptev::v02::Client")
            .field("base_url", &self.base_url)
            .field("project_key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// The contract's operations as builders, by their filter names (the
/// project key still has to be set on the 0.2 ones; the methods below set
/// it). The current product's operations are reached through
/// [`super::Client`], which authenticates them.
/// Credentials, retries, hooks, rate-limit tracking and [`Error`] apply to
/// them as to every call.
impl Deref for Client {
    type Target = transport::Client;

    fn deref(&self) -> &transport::Client {
        &self.transport
    }
}

impl Client {
    /// A client with default settings.
    pub fn new(project_key: impl Into<String>) -> Result<Client> {
        Client::builder(project_key).build()
    }

    /// Starts configuring a client.
    pub fn builder(project_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            project_key: SecretString::from(project_key.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            common: CommonOptions::default(),
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Rate-limit headers of the latest response that carried them.
    pub fn last_rate_limit(&self) -> Option<RateLimitInfo> {
        self.runtime.last_rate_limit()
    }

    /// Empties the GET cache (see [`ClientBuilder::cache`]).
    pub fn clear_cache(&self) {
        self.runtime.clear_cache();
    }

    fn key(&self) -> &str {
        self.project_key.expose_secret()
    }

    /// Runs an agent to completion in one call. Tools run server-side; the
    /// result holds the final reply and the session id to continue with.
    ///
    /// Options (`session_id`, `variables`, `visitor`) are set on the returned
    /// request, which is awaited directly.
    pub fn trigger_agent(
        &self,
        agent_id: impl Into<String>,
        message: impl Into<String>,
    ) -> TriggerAgent<'_> {
        TriggerAgent {
            client: self,
            agent_id: agent_id.into(),
            body: transport::types::TriggerRequest {
                message: message.into(),
                session_id: None,
                variables: None,
                visitor: None,
                extra: Map::new(),
            },
        }
    }

    /// Opens a streaming session with an agent; see [`Client::stream_agent`].
    pub fn start_agent(&self, agent_id: impl Into<String>) -> StartAgent<'_> {
        StartAgent {
            client: self,
            agent_id: agent_id.into(),
            body: transport::types::StartRequest {
                platform: None,
                visitor: None,
                extra: Map::new(),
            },
        }
    }

    /// Sends `query` in a session and streams the agent's events: thoughts,
    /// tool status, approval requests, then `done` (or `error`), after which
    /// the stream ends. HTTP failures arrive as the stream's first item.
    ///
    /// Sent once, never retried: a repeated POST is a repeated turn.
    pub fn stream_agent(
        &self,
        agent_id: impl Into<String>,
        session_token: impl Into<String>,
        query: impl Into<String>,
    ) -> AgentStream {
        let client = self.clone();
        let agent_id = agent_id.into();
        let token = session_token.into();
        let body = transport::types::StreamRequest {
            query: query.into(),
            extra: Map::new(),
        };
        let opened = async move {
            config::non_empty("agent_id", &agent_id)?;
            config::non_empty("session_token", &token)?;
            client
                .transport
                .stream_agent()
                .project_key(client.key())
                .agent_id(agent_id)
                .session_token(token)
                .body(body)
                .await
        };
        AgentStream {
            frames: Frames::open(
                Box::pin(opened),
                self.runtime.redactor().clone(),
                &AGENT_FRAMING,
            ),
        }
    }

    /// Streams `query` and returns the text of the `done` event; an `error`
    /// event becomes [`Error::Stream`].
    pub async fn ask(
        &self,
        agent_id: impl Into<String>,
        session_token: impl Into<String>,
        query: impl Into<String>,
    ) -> Result<String> {
        let mut events = self.stream_agent(agent_id, session_token, query);
        while let Some(event) = events.next().await {
            let event = event?;
            match event.kind {
                AgentEventKind::Done => return Ok(event.output),
                AgentEventKind::Error => {
                    return Err(Error::Stream {
                        service: SERVICE,
                        message: event.output,
                        raw: event.raw,
                    })
                }
                _ => {}
            }
        }
        Err(AGENT_FRAMING.incomplete())
    }
}

/// A pending `trigger_agent` call; set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct TriggerAgent<'a> {
    client: &'a Client,
    agent_id: String,
    body: transport::types::TriggerRequest,
}

impl TriggerAgent<'_> {
    /// Continues the session of an earlier result, keeping its memory.
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.body.session_id = Some(session_id.into());
        self
    }

    /// Fills all of the agent's `{{...}}` prompt variables.
    pub fn variables(mut self, variables: Map<String, Value>) -> Self {
        self.body.variables = Some(variables);
        self
    }

    /// Fills one prompt variable.
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.body
            .variables
            .get_or_insert_with(Map::new)
            .insert(name.into(), value.into());
        self
    }

    /// Attributes the run to an end user (kept by the session when resumed).
    pub fn visitor(mut self, visitor: impl Into<String>) -> Self {
        self.body.visitor = Some(visitor.into());
        self
    }
}

impl<'a> IntoFuture for TriggerAgent<'a> {
    type Output = Result<AgentResult>;
    type IntoFuture = BoxFuture<'a, Result<AgentResult>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            config::non_empty("agent_id", &self.agent_id)?;
            let value = c
                .transport
                .trigger_agent()
                .project_key(c.key())
                .agent_id(self.agent_id)
                .body(self.body)
                .await?;
            // Unknown fields are kept in `extra`, so this is all that came.
            let raw = crate::Raw::raw(&value);
            Ok(AgentResult {
                response: value.response,
                session_id: value.session_id,
                raw,
            })
        })
    }
}

/// A pending `start_agent` call; set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct StartAgent<'a> {
    client: &'a Client,
    agent_id: String,
    body: transport::types::StartRequest,
}

impl StartAgent<'_> {
    /// Display name of the user (the service says "anonymous" otherwise).
    pub fn visitor(mut self, visitor: impl Into<String>) -> Self {
        self.body.visitor = Some(visitor.into());
        self
    }

    /// Where the session runs (the service says "sdk" otherwise).
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.body.platform = Some(platform.into());
        self
    }
}

impl<'a> IntoFuture for StartAgent<'a> {
    type Output = Result<AgentSession>;
    type IntoFuture = BoxFuture<'a, Result<AgentSession>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            config::non_empty("agent_id", &self.agent_id)?;
            let value = c
                .transport
                .start_agent()
                .project_key(c.key())
                .agent_id(self.agent_id.as_str())
                .body(self.body)
                .await?;
            let raw = crate::Raw::raw(&value);
            Ok(AgentSession {
                session_token: value.session_token,
                // Older deployments name it chatbot_id; fall back to what we asked for.
                agent_id: value.agent_id.or(value.chatbot_id).unwrap_or(self.agent_id),
                name: value.name,
                memory_enabled: value.memory_enabled,
                messages: value.messages.into_iter().map(Value::Object).collect(),
                raw,
            })
        })
    }
}

/// The final reply of [`Client::trigger_agent`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AgentResult {
    /// The agent's reply.
    pub response: String,
    /// Pass back with [`TriggerAgent::session_id`] to continue the conversation.
    pub session_id: String,
    /// The whole response as the service sent it.
    pub raw: Value,
}

/// A streaming session opened by [`Client::start_agent`].
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct AgentSession {
    /// Token for [`Client::stream_agent`]; it identifies the conversation.
    pub session_token: String,
    /// The agent's id.
    pub agent_id: String,
    /// The agent's display name.
    pub name: String,
    /// Whether the agent keeps context between messages.
    pub memory_enabled: bool,
    /// Earlier turns, when the session is being resumed.
    pub messages: Vec<Value>,
    /// The whole response as the service sent it.
    pub raw: Value,
}

impl fmt::Debug for AgentSession {
    // The session token grants access to the conversation: keep it out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentSession")
            .field("session_token", &"[REDACTED]")
            .field("agent_id", &self.agent_id)
            .field("name", &self.name)
            .field("memory_enabled", &self.memory_enabled)
            .field("messages", &self.messages.len())
            .finish()
    }
}

/// One event of an agent stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AgentEvent {
    /// What the event is about.
    pub kind: AgentEventKind,
    /// Its text.
    pub output: String,
    /// The event's JSON as sent.
    pub raw: Value,
}

impl AgentEvent {
    /// Whether the stream ends after this event (`done` or `error`).
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, AgentEventKind::Done | AgentEventKind::Error)
    }

    /// Parses the `data` of one server-sent event.
    pub fn from_data(data: &str) -> Result<AgentEvent> {
        let raw: Value = serde_json::from_str(data)
            .map_err(|e| decode_error(format!("agent event is not JSON: {e}"), data))?;
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .map(AgentEventKind::from)
            .unwrap_or_else(|| AgentEventKind::Other("unknown".into()));
        let output = match raw.get("output") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        Ok(AgentEvent { kind, output, raw })
    }
}

static AGENT_FRAMING: Framing<AgentEvent> = Framing {
    decode: AgentEvent::from_data,
    ends_stream: AgentEvent::is_terminal,
    incomplete: "the event stream ended before a done or error event",
};

/// The events of one agent reply; see [`Client::stream_agent`].
///
/// Ends after the `done` or `error` event. A malformed event is reported as an
/// [`Error::Decode`] item and the stream goes on; a broken connection is an
/// [`Error::Network`] item and the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct AgentStream {
    frames: Frames<AgentEvent>,
}

impl fmt::Debug for AgentStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentStream").finish_non_exhaustive()
    }
}

impl Stream for AgentStream {
    type Item = Result<AgentEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.frames).poll_next(cx)
    }
}
