//! Mycel: chats between people, their external agent identities and managed
//! agents; relationships, join requests, workflows and tasks; and a runtime
//! inbox of notifications, drained over HTTP or streamed over a WebSocket.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use agentwire::mycel::{Client, ErrorExt};
//!
//! # async fn demo() -> agentwire::Result<()> {
//! let client = Client::new("http://127.0.0.1:8017")?.with_token("external-agent-token");
//!
//! let chat = client.chats().ensure_direct("target-user-id").await?;
//! let unread = client.messages().read(&chat.id).await?;
//! println!("{} unread", unread.len());
//! match client.messages().send(&chat.id, "hello from agentwire").await {
//!     Ok(sent) => println!("sent #{:?}", sent.seq),
//!     // Someone wrote since our last read: read, then decide again.
//!     Err(e) if e.is_not_caught_up() => {}
//!     Err(e) => return Err(e),
//! }
//!
//! let mut inbox = client.notifications().stream(None).into_stream();
//! while let Some(n) = inbox.next().await {
//!     let n = n?;
//!     println!("#{} {:?}", n.seq, n.metadata.chat_id);
//! }
//! # Ok(()) }
//! ```
//!
//! Identity always comes from the bearer token: no call takes the caller's
//! user id. The token is optional when building a client, because the
//! registration and login calls need none; any other call on a client
//! without one fails with [`Error::Config`] before anything is sent.
//!
//! # Which calls are retried
//!
//! mycel-sdk retries nothing. agentwire retries, per the [`RetryConfig`],
//! only what can be sent twice without the second answer lying:
//!
//! - every GET (chats, messages, unread, join targets and requests, tasks,
//!   workflows and their events, relationships, agents, whoami),
//!   [`Client::backend_info`], and the inbox stream's WebSocket handshake;
//! - nothing else. POSTs and PATCHes are never repeated (Mycel takes no
//!   idempotency key, so a message could be stored twice, an inbox drained
//!   twice). Neither are the PUT and DELETEs ([`Chats::set_workflow`],
//!   [`Chats::delete_workflow`], [`Chats::delete_workflow_event`],
//!   [`Chats::delete_task`]): repeated after an answer lost on the way back,
//!   a delete that did happen would come back as 404, and a versioned
//!   workflow change as a state conflict. Their failure is reported as it
//!   came (for a lost answer, [`Error::Network`]); read the state to learn
//!   what happened.
//!
//! The one exception, for every call: a connection that could not be made
//! at all (refused, DNS, TLS) is tried again, since nothing was sent.

use std::fmt;
use std::sync::Arc;

use agentwire_mycel_transport as transport;
use agentwire_runtime::{
    BearerToken, Error, Idempotency, Result, RetryClass, RetryConfig, Runtime,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::config::{self, CommonOptions};

mod agents;
mod auth;
mod backend;
mod chats;
mod messages;
mod models;
mod notifications;
mod relationships;
mod tasks;

pub use agents::*;
pub use auth::*;
pub use backend::*;
pub use chats::*;
pub use messages::*;
pub use models::*;
pub use notifications::*;
pub use relationships::*;
pub use tasks::*;

pub use crate::ItemStream;
/// The transport's operation builders (see [`Client`]'s `Deref`).
pub use agentwire_mycel_transport::builder;
/// The generated client every [`Client`] dereferences to: one builder per
/// operation of the contract, by its filter name.
pub use agentwire_mycel_transport::Client as Operations;

/// Every type of the Mycel contract, as the transport generates it: request
/// bodies for the long tail (see [`Client`]'s `Deref`), the inbox frames,
/// the open enums.
pub mod types {
    pub use agentwire_mycel_transport::types::*;
}

const SERVICE: &str = "mycel";
/// Per-attempt timeout unless the builder sets another: mycel-sdk 0.1.83's.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// Connect timeout unless the builder sets another: mycel-sdk 0.1.83's.
pub const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = crate::config::DEFAULT_CONNECT_TIMEOUT;
/// The inbox WebSocket handshake, as the runtime names the operation.
const STREAM_OPERATION: &str = "notifications_stream";
/// Idempotent by HTTP's rules, yet never sent twice: repeated after a lost
/// answer, they would report a change that did happen as a failure (404 for
/// a delete, 409 for a versioned workflow change).
const UNREPEATABLE: &[&str] = &[
    "chats_workflow_set",
    "chats_workflow_delete",
    "chats_workflow_events_delete",
    "chats_tasks_delete",
];
/// The `code` agentwire gives the 409 Mycel answers to a send with
/// `enforce_caught_up` when the caller has not read the latest messages.
pub const NOT_CAUGHT_UP: &str = "not_caught_up";
/// How that refusal's `detail` starts.
const NOT_CAUGHT_UP_DETAIL: &str = "Chat advanced after your last read";
/// The `code` agentwire gives the 409 Mycel answers to a workflow change
/// made with an `expected_state_version` the workflow (or event) has moved
/// past.
pub const STATE_CONFLICT: &str = "state_conflict";

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// let client = agentwire::mycel::Client::builder("http://127.0.0.1:8017")
///     .token("mycel-token")
///     .timeout(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:8017");
/// assert!(client.has_token());
/// ```
pub struct ClientBuilder {
    base_url: String,
    token: Option<SecretString>,
    common: CommonOptions,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("retry", &self.common.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    config::common_builder_methods!();

    /// The bearer token of an owner or an external agent identity.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// Validates the settings and creates the client. No request is made.
    pub fn build(self) -> Result<Client> {
        let base_url = config::base_url(&self.base_url)?;
        if let Some(t) = &self.token {
            if t.expose_secret().trim().is_empty() {
                return Err(Error::Config("the Mycel token is empty".into()));
            }
        }
        let connection = self.common.connection(
            DEFAULT_TIMEOUT,
            concat!("agentwire/", env!("CARGO_PKG_VERSION"), " (mycel)"),
        )?;
        let settings = Arc::new(Settings {
            base_url,
            // mycel-sdk's policy; only reads and other idempotent calls are
            // retried (Mycel takes no idempotency key).
            retry: self.common.retry.clone().unwrap_or_default(),
            common: self.common,
            connection,
        });
        Ok(Client::assemble(settings, self.token))
    }
}

/// What every client built from one builder shares.
struct Settings {
    base_url: String,
    retry: RetryConfig,
    common: CommonOptions,
    connection: config::Connection,
}

struct Inner {
    settings: Arc<Settings>,
    token: Option<SecretString>,
    runtime: Runtime,
    transport: transport::Client,
}

/// A Mycel client, acting as the identity of its bearer token. Cheap to
/// clone; reach the API through its resource groups ([`Client::chats`],
/// [`Client::messages`]…), and any other operation of the contract as a
/// builder of the generated transport, which the client dereferences to
/// (`client.chats_tasks_list().chat_id(id).await`; see the `Deref` impl).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mycel::Client")
            .field("base_url", &self.inner.settings.base_url)
            .field("token", &self.inner.token.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the Mycel backend at `base_url` (always explicit: there
    /// is no public default), without a token; add one with
    /// [`Client::with_token`].
    pub fn new(base_url: impl Into<String>) -> Result<Client> {
        Client::builder(base_url).build()
    }

    /// Starts configuring a client of the backend at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            token: None,
            common: CommonOptions::default(),
        }
    }

    /// The same backend and settings, acting as the identity of `token`
    /// (an owner's, or an external agent's from
    /// [`Users::create_external`]).
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client::assemble(
            self.inner.settings.clone(),
            Some(SecretString::from(token.into())),
        )
    }

    fn assemble(settings: Arc<Settings>, token: Option<SecretString>) -> Client {
        // A blank token is no token: calls then fail before sending.
        let token = token.filter(|t| !t.expose_secret().trim().is_empty());
        let mut rt = settings
            .common
            .apply(
                Runtime::builder(SERVICE),
                DEFAULT_TIMEOUT,
                &settings.connection,
            )
            .retry(settings.retry.clone())
            // Mycel does not deduplicate on a key: retrying a POST could
            // post twice.
            .idempotency(Idempotency::KeyedOnly)
            .retry_class(UNREPEATABLE, RetryClass::NotReplaySafe)
            .streaming_operations(&[STREAM_OPERATION]);
        if let Some(t) = &token {
            rt = rt.auth(Arc::new(BearerToken::new(t.expose_secret())));
        }
        let runtime = rt.build();
        let transport = transport::Client::new_with_client(
            &settings.base_url,
            settings.connection.http.clone(),
            runtime.clone(),
        );
        Client {
            inner: Arc::new(Inner {
                settings,
                token,
                runtime,
                transport,
            }),
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.settings.base_url
    }

    /// Whether the client carries a bearer token.
    pub fn has_token(&self) -> bool {
        self.inner.token.is_some()
    }

    /// Rate-limit headers of the latest response that carried them.
    pub fn last_rate_limit(&self) -> Option<agentwire_runtime::RateLimitInfo> {
        self.inner.runtime.last_rate_limit()
    }

    /// Empties the GET cache (see [`ClientBuilder::cache`]).
    pub fn clear_cache(&self) {
        self.inner.runtime.clear_cache();
    }

    /// Owner registration and login (no token needed).
    pub fn auth(&self) -> Auth<'_> {
        Auth { client: self }
    }

    /// External agent identities.
    pub fn users(&self) -> Users<'_> {
        Users { client: self }
    }

    /// The caller's own identity.
    pub fn me(&self) -> Me<'_> {
        Me { client: self }
    }

    /// Chats, members, join requests, mute, workflows and tasks.
    pub fn chats(&self) -> Chats<'_> {
        Chats { client: self }
    }

    /// Chat messages: history, unread, read positions, sending.
    pub fn messages(&self) -> Messages<'_> {
        Messages { client: self }
    }

    /// User-to-user relationships.
    pub fn relationships(&self) -> Relationships<'_> {
        Relationships { client: self }
    }

    /// The runtime inbox.
    pub fn notifications(&self) -> Notifications<'_> {
        Notifications { client: self }
    }

    /// Runtime threads of managed agents.
    pub fn threads(&self) -> Threads<'_> {
        Threads { client: self }
    }

    /// The owner panel's managed agents.
    pub fn agents(&self) -> Agents<'_> {
        Agents { client: self }
    }

    fn t(&self) -> &transport::Client {
        &self.inner.transport
    }

    fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// Fails before any request when the call needs a token and there is none.
    fn need_token(&self) -> Result<()> {
        if self.inner.token.is_some() {
            Ok(())
        } else {
            Err(Error::Config(
                "this Mycel call needs a bearer token: build the client with \
                 `.token(..)` or use `Client::with_token`"
                    .into(),
            ))
        }
    }

    /// The transport, for a call that needs the token (all but registration
    /// and login).
    fn authed(&self) -> Result<&transport::Client> {
        self.need_token()?;
        Ok(self.t())
    }

    /// Turns an untyped answer into one of the facade's models.
    fn decode<T: serde::de::DeserializeOwned>(&self, value: Value) -> Result<T> {
        // Some endpoints answer `null` where an acknowledgement is expected:
        // every field then takes its default.
        let value = if value.is_null() {
            Value::Object(Default::default())
        } else {
            value
        };
        T::deserialize(&value).map_err(|e| self.decode_error(e.to_string(), &value))
    }

    /// Turns an untyped list answer into models. The list may also come
    /// wrapped in an object under `key` (`{"agents": [...]}`).
    fn decode_list<T: serde::de::DeserializeOwned>(
        &self,
        value: Value,
        key: &str,
    ) -> Result<Vec<T>> {
        let items = match value {
            Value::Array(items) => items,
            Value::Object(mut m) => match m.remove(key).or_else(|| m.remove("items")) {
                Some(Value::Array(items)) => items,
                _ => {
                    return Err(
                        self.decode_error(format!("expected a list of {key}"), &Value::Object(m))
                    )
                }
            },
            other => return Err(self.decode_error(format!("expected a list of {key}"), &other)),
        };
        items.into_iter().map(|v| self.decode(v)).collect()
    }

    fn decode_error(&self, message: impl Into<String>, value: &Value) -> Error {
        Error::decode(
            SERVICE,
            Some(200),
            message,
            value.to_string().as_bytes(),
            self.runtime().redactor(),
        )
    }

    /// Registers a secret the service handed out, so it never shows in output.
    fn keep_secret(&self, secret: &str) {
        self.runtime().redactor().add(secret);
    }
}

/// The long tail: every operation of the contract, by the name the filter
/// (`openapi/mycel.filter.json`) gives it, as a builder of the generated
/// transport — `client.chats_tasks_list().chat_id(&chat.id).await`, or
/// `client.messages_send().chat_id(&chat.id).body(types::SendMessageBody {..})`.
/// Awaiting one goes through the same runtime as the facade's methods
/// (credentials, retries, timeouts, hooks, error mapping) and gives the
/// contract's type ([`serde_json::Value`] where the contract leaves the
/// answer untyped). The resource groups ([`Client::chats`],
/// [`Client::messages`]…) add positional arguments, typed models, checks
/// before sending (a token, non-empty ids), paging and the inbox stream; an
/// operation reached through here is sent as built, so without a token the
/// service answers 401.
impl std::ops::Deref for Client {
    type Target = transport::Client;

    fn deref(&self) -> &transport::Client {
        self.t()
    }
}

/// Mycel-specific questions about an [`Error`].
pub trait ErrorExt {
    /// Whether this is Mycel refusing a send made with `enforce_caught_up`
    /// because messages arrived after the caller's last read. Nothing was
    /// stored; read the chat, then send again if still relevant.
    fn is_not_caught_up(&self) -> bool;

    /// Whether this is Mycel refusing a workflow change made with an
    /// expected state version
    /// ([`SetWorkflow::expected_state_version`],
    /// [`UpdateWorkflowEvent::expected_state_version`]) because someone
    /// changed the workflow or event since that version was read. Nothing
    /// was changed; read it again, recompute, and retry if still relevant.
    fn is_state_conflict(&self) -> bool;
}

impl ErrorExt for Error {
    fn is_not_caught_up(&self) -> bool {
        matches!(self, Error::Conflict(e) if e.code.as_deref() == Some(NOT_CAUGHT_UP))
    }

    fn is_state_conflict(&self) -> bool {
        matches!(self, Error::Conflict(e) if e.code.as_deref() == Some(STATE_CONFLICT))
    }
}

/// Gives the caught-up refusal its code, so callers can match on it.
fn tag_not_caught_up(err: Error) -> Error {
    match err {
        Error::Conflict(mut e)
            if e.code.is_none() && e.message.starts_with(NOT_CAUGHT_UP_DETAIL) =>
        {
            e.code = Some(NOT_CAUGHT_UP.to_owned());
            Error::Conflict(e)
        }
        other => other,
    }
}

/// Gives the refusal of a versioned workflow change its code: on these calls
/// a 409 has no other meaning.
fn tag_state_conflict(err: Error) -> Error {
    match err {
        Error::Conflict(mut e) if e.code.is_none() => {
            e.code = Some(STATE_CONFLICT.to_owned());
            Error::Conflict(e)
        }
        other => other,
    }
}
