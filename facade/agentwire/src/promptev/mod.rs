//! Promptev: hosted AI agents you chat with over SSE, a knowledge base you
//! upload to and search, and orchestrations (teams of agents) you run.
//!
//! [`Client`] speaks the current product, `/api/v1`, as promptev 1.3.0
//! does: one `fk_…` API key per project, sent as `Authorization: Bearer`
//! (never in the URL). The previous product, which promptev 0.2.0 calls
//! with a `pv_sk_…` key in the path, keeps working and has its own client,
//! [`v02::Client`].
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use agentwire::promptev::{ChatEvent, Client, FileUpload};
//!
//! # async fn demo() -> agentwire::Result<()> {
//! let client = Client::new("fk_live_...")?;
//!
//! // A turn, streamed: typed frames, in order.
//! let mut turn = client.chat("support-bot", "What is our refund policy?").into_stream();
//! let mut conversation = None;
//! while let Some(event) = turn.next().await {
//!     match event? {
//!         ChatEvent::Conversation(c) => conversation = Some(c.id),
//!         ChatEvent::Token(t) => print!("{}", t.content),
//!         ChatEvent::ApprovalRequired(a) => println!("\nwaiting for approval of {}", a.tool_name),
//!         ChatEvent::Error(e) => println!("\nfailed: {}", e.message),
//!         _ => {}
//!     }
//! }
//!
//! // The next turn of the same conversation, with a file, collected whole.
//! let answer = client
//!     .chat("support-bot", "And what does this receipt say?")
//!     .conversation_id(conversation.unwrap_or_default())
//!     .file(FileUpload::new("receipt.png", std::fs::read("receipt.png").unwrap()))
//!     .answer()
//!     .await?;
//! println!("{}", answer.text);
//!
//! // Documents in, knowledge out; orchestration runs.
//! let results = client.upload_documents([FileUpload::read("handbook.pdf")?]).await?;
//! let hits = client.search_knowledge_base("search").field("query", "refund window").await?;
//! let started = client.run_orchestration("month-end-close").input("period", "2026-03")
//!     .idempotency_key("close-2026-03").await?;
//! let run = client.wait_for_run(&started.run_id).await?;
//! # Ok(()) }
//! ```
//!
//! **Retries.** A chat turn is billed once the service accepts it, so it is
//! sent exactly once. `run_orchestration` is retried (on 502/503/504 and
//! dropped connections) only when it carries an `Idempotency-Key`; reads
//! (`get_run`, `search_knowledge_base`) are retried; an upload is retried
//! only when its connection could not be made.
//!
//! **Errors.** The service's `{"error": {"message", "field"}}` (or an older
//! `detail`) becomes the error's message and [`Error::field`]: 400/422 are
//! [`Error::Validation`], 401/403 [`Error::Auth`], 402
//! [`Error::InsufficientCredits`], 404 [`Error::NotFound`], 429
//! [`Error::RateLimited`] with `retry_after`, 5xx [`Error::Server`], and any
//! other status (409, 413, 415…) [`Error::Api`], as promptev 1.3.0 sorts
//! them. What the service would refuse and still bill — an empty or
//! over-long message, too many or too large files, an empty slug — is
//! refused before sending as [`Error::InvalidArgument`].

mod connect;
mod events;
mod frames;
mod multipart;
pub mod v02;

use std::collections::HashMap;
use std::fmt;
use std::future::IntoFuture;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use agentwire_promptev_transport as transport;
use agentwire_promptev_transport::ClientInfo;
use agentwire_runtime::{
    BearerToken, Error, RateLimitInfo, Result, RetryClass, RetryConfig, Runtime, StatusClass,
};
use futures_util::StreamExt;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::config::{self, CommonOptions};
use crate::BoxFuture;

pub use events::{ChatEvent, ChatEventKind, ChatStream};
pub use multipart::{FileUpload, MAX_FILE_BYTES};

/// Every type of the Promptev contract (requests, answers, frames, enums),
/// of both products.
pub mod types {
    pub use agentwire_promptev_transport::types::*;
}
/// The builders of the contract's operations, as [`Client`] derefs to them.
pub use agentwire_promptev_transport::builder;
pub use agentwire_promptev_transport::types::{
    DocumentResult, KnowledgeAction, ModelOverride, OnBehalfOf, RunStatus, StartedRun, UploadMode,
};
/// The generated client every [`Client`] (and [`v02::Client`]) dereferences
/// to: one builder per operation of the contract, by its filter name.
pub use agentwire_promptev_transport::Client as Operations;

/// Where the current product lives. Until that host is moved onto the new
/// backend, it still serves the previous product: pass
/// [`CONSOLE_BASE_URL`] to [`ClientBuilder::base_url`] meanwhile.
pub const DEFAULT_BASE_URL: &str = "https://api.promptev.ai";
/// The host that serves the current product while [`DEFAULT_BASE_URL`]
/// still points at the previous one.
pub const CONSOLE_BASE_URL: &str = "https://console.promptev.ai";
/// Default per-request timeout; for a chat turn, the wait for the answer's
/// head and then between two reads, not the length of the answer.
pub const DEFAULT_TIMEOUT: Duration = config::DEFAULT_TIMEOUT;
/// The longest chat message, in characters (the service's own limit).
pub const MAX_MESSAGE_CHARS: usize = 20_000;
/// The most files one chat turn or one orchestration run may carry.
pub const MAX_FILES_PER_CALL: usize = 5;
/// The most files one [`Client::upload_documents`] call may carry.
pub const MAX_FILES_PER_UPLOAD: usize = 20;
pub(crate) const SERVICE: &str = "promptev";

const CHAT: &str = "chat";
const UPLOAD_DOCUMENTS: &str = "upload_documents";
const RUN_ORCHESTRATION: &str = "run_orchestration";

/// The retry policy of promptev 1.3.0: 2 retries on 502/503/504, 0.5 s
/// doubling (a `Retry-After` from the service wins, up to a minute), spent
/// only on calls that may be repeated (see the [module docs](self)).
pub fn default_retry() -> RetryConfig {
    RetryConfig::default()
        .with_max_retries(2)
        .with_base_delay(Duration::from_millis(500))
        .with_retry_on([502, 503, 504])
}

/// Configures a [`Client`].
///
/// ```
/// use std::time::Duration;
/// let client = agentwire::promptev::Client::builder("fk_live_example")
///     .base_url(agentwire::promptev::CONSOLE_BASE_URL)
///     .timeout(Duration::from_secs(10))
///     .max_retries(4)
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "https://console.promptev.ai");
/// ```
pub struct ClientBuilder {
    api_key: SecretString,
    base_url: String,
    common: CommonOptions,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &"[REDACTED]")
            .field("base_url", &self.base_url)
            .field("retry", &self.common.retry)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    config::common_builder_methods!();

    /// API base URL (default [`DEFAULT_BASE_URL`]; see [`CONSOLE_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Number of retries of the calls that may be repeated (default 2),
    /// keeping the rest of the policy (default [`default_retry`]).
    pub fn max_retries(mut self, n: u32) -> Self {
        connect::set_max_retries(&mut self.common, n);
        self
    }

    /// Validates the settings and creates the client.
    pub fn build(self) -> Result<Client> {
        let key = self.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(Error::Config(
                "the Promptev API key is empty (Settings → API keys)".into(),
            ));
        }
        let (base_url, runtime, transport) = connect::connect(
            &self.common,
            &self.base_url,
            Arc::new(BearerToken::new(key)),
            |runtime| {
                runtime
                    // Each accepted turn is billed: never a second attempt.
                    .retry_class(&[CHAT], RetryClass::Never)
                    // A POST that only reads.
                    .retry_class(&["search_knowledge_base"], RetryClass::ReplaySafe)
                    .status_class(402, StatusClass::InsufficientCredits)
            },
        )?;
        Ok(Client {
            inner: Arc::new(Inner {
                base_url,
                runtime,
                transport,
            }),
        })
    }
}

struct Inner {
    base_url: String,
    runtime: Runtime,
    transport: transport::Client,
}

/// A client of Promptev's current product for one project. Cheap to clone;
/// clones share the connection pool and runtime state.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("promptev::Client")
            .field("base_url", &self.inner.base_url)
            .field("api_key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// The contract's operations as builders, by their filter names, with the
/// key sent as a bearer token. (The 0.2 operations are reached, with their
/// key in the path, through [`v02::Client`].)
impl Deref for Client {
    type Target = transport::Client;

    fn deref(&self) -> &transport::Client {
        &self.inner.transport
    }
}

impl Client {
    /// A client with default settings.
    pub fn new(api_key: impl Into<String>) -> Result<Client> {
        Client::builder(api_key).build()
    }

    /// Starts configuring a client.
    pub fn builder(api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            api_key: SecretString::from(api_key.into()),
            base_url: DEFAULT_BASE_URL.to_owned(),
            common: CommonOptions::default(),
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Rate-limit headers of the latest response that carried them.
    pub fn last_rate_limit(&self) -> Option<RateLimitInfo> {
        self.inner.runtime.last_rate_limit()
    }

    /// Empties the GET cache (see [`ClientBuilder::cache`]).
    pub fn clear_cache(&self) {
        self.inner.runtime.clear_cache();
    }

    fn t(&self) -> &transport::Client {
        &self.inner.transport
    }

    /// One turn with the agent `slug` (in the key's project): set options,
    /// then stream it ([`Chat::into_stream`]) or collect it
    /// ([`Chat::answer`]). There is no session to open: pass the id of the
    /// first frame back as [`Chat::conversation_id`] to continue.
    pub fn chat(&self, slug: impl Into<String>, message: impl Into<String>) -> Chat {
        Chat {
            client: self.clone(),
            slug: slug.into(),
            body: transport::types::ApiChatBody {
                message: message.into(),
                conversation_id: None,
                model: None,
                on_behalf_of: None,
                tool_inputs: None,
                extra: Map::new(),
            },
            files: Vec::new(),
        }
    }

    /// Puts up to [`MAX_FILES_PER_UPLOAD`] files of at most
    /// [`MAX_FILE_BYTES`] each into the key's project corpus (the Uploads
    /// source its agents retrieve from), in the workspace's default ingest
    /// mode. One result per file, in order: a file that fails is reported in
    /// its row and does not fail the call.
    pub async fn upload_documents<I>(&self, files: I) -> Result<Vec<DocumentResult>>
    where
        I: IntoIterator,
        I::Item: Into<FileUpload>,
    {
        self.upload_documents_in(files, None).await
    }

    /// [`Client::upload_documents`] with an ingest mode: `graph` also
    /// extracts entities and relationships (the workspace needs a graph
    /// database for it).
    pub async fn upload_documents_in<I>(
        &self,
        files: I,
        mode: Option<UploadMode>,
    ) -> Result<Vec<DocumentResult>>
    where
        I: IntoIterator,
        I::Item: Into<FileUpload>,
    {
        if let Some(m) = &mode {
            if !matches!(m, UploadMode::Hybrid | UploadMode::Graph) {
                return Err(Error::InvalidArgument {
                    name: "mode",
                    message: "must be hybrid or graph".into(),
                });
            }
        }
        let files: Vec<FileUpload> = files.into_iter().map(Into::into).collect();
        if files.is_empty() {
            return Err(Error::InvalidArgument {
                name: "files",
                message: "attach at least one file".into(),
            });
        }
        if files.len() > MAX_FILES_PER_UPLOAD {
            return Err(Error::InvalidArgument {
                name: "files",
                message: format!("at most {MAX_FILES_PER_UPLOAD} files per upload"),
            });
        }
        for f in &files {
            f.check("files")?;
        }
        let mut parts: Vec<multipart::Part<'_>> = files
            .iter()
            .map(|file| multipart::Part::File {
                name: "files",
                file,
            })
            .collect();
        if let Some(m) = mode {
            parts.push(multipart::Part::Text {
                name: "mode",
                value: m.to_string(),
            });
        }
        let form = multipart::encode(&parts);
        let response = self
            .send_form("/api/v1/documents", form, None, UPLOAD_DOCUMENTS)
            .await?;
        let answer: transport::types::DocumentUploadResponse = self.json_of(response).await?;
        Ok(answer.results)
    }

    /// Puts one file into the key's project corpus; its own result.
    pub async fn upload_document(&self, file: impl Into<FileUpload>) -> Result<DocumentResult> {
        self.upload_documents([file.into()])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::decode(
                    SERVICE,
                    Some(200),
                    "the upload answer has no result for the file",
                    b"",
                    self.inner.runtime.redactor(),
                )
            })
    }

    /// Starts a run of the published orchestration `slug`; set its inputs
    /// (and files), then `.await` it. It answers once the run is recorded:
    /// follow it with [`Client::get_run`] or [`Client::wait_for_run`].
    pub fn run_orchestration(&self, slug: impl Into<String>) -> RunOrchestration<'_> {
        RunOrchestration {
            client: self,
            slug: slug.into(),
            inputs: Map::new(),
            files: Vec::new(),
            idempotency_key: None,
        }
    }

    /// What became of a run.
    pub async fn get_run(&self, run_id: &str) -> Result<RunStatus> {
        let run_id = run_id.trim();
        config::non_empty("run_id", run_id)?;
        self.t().get_run().run_id(run_id).await
    }

    /// Reads the run until it has stopped moving ([`RunStatusExt::is_done`]),
    /// every 2 seconds unless [`WaitForRun::interval`] says otherwise, and
    /// returns it. Bound the wait with a timeout of your own
    /// (`tokio::time::timeout`) if the run may take longer than you can.
    pub fn wait_for_run<'a>(&'a self, run_id: &'a str) -> WaitForRun<'a> {
        WaitForRun {
            client: self,
            run_id,
            interval: Duration::from_secs(2),
        }
    }

    /// Reads the key's project knowledge base with one of its actions
    /// ([`KnowledgeAction`]: `discover` first, `search`, `get_doc`…); set
    /// the action's fields, then `.await` the answer.
    pub fn search_knowledge_base(
        &self,
        action: impl Into<KnowledgeAction>,
    ) -> SearchKnowledgeBase<'_> {
        SearchKnowledgeBase {
            client: self,
            action: action.into(),
            fields: Map::new(),
        }
    }

    /// Sends a form the generated transport does not carry through the
    /// shared runtime, as an operation of its own; any status but 2xx is an
    /// [`Error`].
    async fn send_form(
        &self,
        path: &str,
        form: multipart::Form,
        idempotency_key: Option<&str>,
        operation: &'static str,
    ) -> Result<reqwest::Response> {
        let runtime = &self.inner.runtime;
        let t = self.t();
        let accept = if operation == CHAT {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut builder = t
            .client()
            .post(format!("{}{path}", t.baseurl()))
            .header(ACCEPT, HeaderValue::from_static(accept));
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key).map_err(|_| Error::InvalidArgument {
                name: "idempotency_key",
                message: "not a valid header value".into(),
            })?;
            builder = builder.header(agentwire_runtime::IDEMPOTENCY_KEY, value);
        }
        let content_type =
            HeaderValue::from_str(&form.content_type).map_err(|_| Error::InvalidArgument {
                name: "files",
                message: "the form's content type is not a valid header value".into(),
            })?;
        let request = builder
            .header(CONTENT_TYPE, content_type)
            .body(form.body)
            .build()
            .map_err(|e| Error::InvalidArgument {
                name: "request",
                message: runtime
                    .redactor()
                    .redact(&e.without_url().to_string())
                    .into_owned(),
            })?;
        let response = runtime.execute(t.client(), request, operation).await?;
        if !response.status().is_success() {
            return Err(runtime.error_from_response(response).await);
        }
        Ok(response)
    }

    async fn json_of<T: serde::de::DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T> {
        let runtime = &self.inner.runtime;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::network(SERVICE, e, runtime.redactor()))?;
        runtime.decode(status, &body)
    }
}

/// Percent-encodes one path segment (everything but RFC 3986's unreserved
/// characters).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A pending chat turn; see [`Client::chat`].
#[must_use = "a chat turn does nothing until streamed or answered"]
pub struct Chat {
    client: Client,
    slug: String,
    body: transport::types::ApiChatBody,
    files: Vec<FileUpload>,
}

impl fmt::Debug for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chat")
            .field("slug", &self.slug)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Chat {
    /// Continues a conversation: the id of an earlier turn's first frame.
    /// It gives the agent its memory of the thread and, with "ask once"
    /// approvals, keeps a tool from asking on every turn.
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.body.conversation_id = Some(id.into());
        self
    }

    /// Makes the turn for an end user of yours, recorded as the
    /// conversation's actor; retrieval keeps the key's own grant.
    pub fn on_behalf_of(mut self, subject: impl Into<String>) -> Self {
        self.body.on_behalf_of = Some(OnBehalfOf {
            subject: subject.into(),
            groups: None,
            extra: Map::new(),
        });
        self
    }

    /// [`Chat::on_behalf_of`] with the end user's groups as you assert them:
    /// they are intersected with the key's grant, so they can only narrow
    /// what the agent may retrieve.
    pub fn on_behalf_of_groups<G, S>(mut self, subject: impl Into<String>, groups: G) -> Self
    where
        G: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.body.on_behalf_of = Some(OnBehalfOf {
            subject: subject.into(),
            groups: Some(groups.into_iter().map(Into::into).collect()),
            extra: Map::new(),
        });
        self
    }

    /// Runs this one turn on another model the workspace has connected (its
    /// own provider key is used; nothing is stored).
    pub fn model(mut self, provider: impl Into<String>, model: impl Into<String>) -> Self {
        self.body.model = Some(ModelOverride {
            provider: provider.into(),
            model: model.into(),
            extra: Map::new(),
        });
        self
    }

    /// Overrides, for this turn, what the tool `tool_id` is set up with, by
    /// place: `{"headers": {..}, "query": {..}, "body": {..}, "path": {..}}`
    /// for an HTTP tool, `{"headers": {..}, "arguments": {..}}` for an MCP
    /// server. Put secrets in `headers`: they never appear in the stream.
    pub fn tool_input(mut self, tool_id: impl Into<String>, places: Map<String, Value>) -> Self {
        self.body
            .tool_inputs
            .get_or_insert_with(HashMap::new)
            .insert(tool_id.into(), places);
        self
    }

    /// Adds a file for the agent to read on this turn (at most
    /// [`MAX_FILES_PER_CALL`]; the agent must have chat attachments on).
    /// With files, the message may be empty.
    pub fn file(mut self, file: impl Into<FileUpload>) -> Self {
        self.files.push(file.into());
        self
    }

    /// Adds several files; see [`Chat::file`].
    pub fn files<I>(mut self, files: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<FileUpload>,
    {
        self.files.extend(files.into_iter().map(Into::into));
        self
    }

    /// Sends the turn (once: it is billed) and streams its frames. A
    /// refusal, local or from the service, is the stream's first item.
    pub fn into_stream(self) -> ChatStream {
        let redactor = self.client.inner.runtime.redactor().clone();
        ChatStream::open(Box::pin(self.open()), redactor)
    }

    /// Sends the turn and collects it: the answer (every `token` frame's
    /// text), the conversation's id, and what else came. Waits through
    /// approvals. An `error` frame is [`Error::Stream`].
    pub async fn answer(self) -> Result<ChatAnswer> {
        let mut stream = self.into_stream();
        let mut answer = ChatAnswer {
            conversation_id: String::new(),
            text: String::new(),
            events: Vec::new(),
        };
        while let Some(event) = stream.next().await {
            let event = event?;
            match &event {
                ChatEvent::Conversation(c) => answer.conversation_id = c.id.clone(),
                ChatEvent::Token(t) => answer.text.push_str(&t.content),
                ChatEvent::Error(e) => {
                    return Err(Error::Stream {
                        service: SERVICE,
                        message: e.message.clone(),
                        raw: event.raw(),
                    })
                }
                _ => {}
            }
            let done = matches!(event, ChatEvent::Done(_));
            answer.events.push(event);
            if done {
                return Ok(answer);
            }
        }
        Err(events::CHAT_FRAMING.incomplete())
    }

    /// The checks promptev 1.3.0 makes before sending, then the request.
    async fn open(self) -> Result<reqwest::Response> {
        let Chat {
            client,
            slug,
            mut body,
            files,
        } = self;
        config::non_empty("slug", &slug)?;
        if files.len() > MAX_FILES_PER_CALL {
            return Err(Error::InvalidArgument {
                name: "files",
                message: format!("at most {MAX_FILES_PER_CALL} files per turn"),
            });
        }
        for f in &files {
            f.check("files")?;
        }
        let text = body.message.trim();
        if text.is_empty() && files.is_empty() {
            return Err(Error::InvalidArgument {
                name: "message",
                message: "say something to the agent, or attach a file".into(),
            });
        }
        if text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Error::InvalidArgument {
                name: "message",
                message: format!("at most {MAX_MESSAGE_CHARS} characters"),
            });
        }
        if text.len() != body.message.len() {
            body.message = text.to_owned();
        }
        if files.is_empty() {
            return client.t().chat().slug(slug).body(body).await;
        }
        let payload = serde_json::to_string(&body).map_err(|e| Error::InvalidArgument {
            name: "body",
            message: e.to_string(),
        })?;
        let mut parts = vec![multipart::Part::Text {
            name: "payload",
            value: payload,
        }];
        parts.extend(files.iter().map(|file| multipart::Part::File {
            name: "files",
            file,
        }));
        let path = format!("/api/v1/agents/{}/chat", encode_segment(&slug));
        client
            .send_form(&path, multipart::encode(&parts), None, CHAT)
            .await
    }
}

/// A whole chat turn, collected by [`Chat::answer`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChatAnswer {
    /// The conversation's id, for [`Chat::conversation_id`] next turn.
    pub conversation_id: String,
    /// The answer: every `token` frame's content, in order.
    pub text: String,
    /// Every frame of the turn, in order, ending with `done`.
    pub events: Vec<ChatEvent>,
}

impl ChatAnswer {
    /// The approvals the turn waited for.
    pub fn approvals(&self) -> impl Iterator<Item = &types::ApprovalRequiredEvent> {
        self.events.iter().filter_map(|e| match e {
            ChatEvent::ApprovalRequired(a) => Some(a),
            _ => None,
        })
    }

    /// What the turn cost, when the service said.
    pub fn usage(&self) -> Option<&types::UsageEvent> {
        self.events.iter().find_map(|e| match e {
            ChatEvent::Usage(u) => Some(u),
            _ => None,
        })
    }
}

/// A pending orchestration run; see [`Client::run_orchestration`].
#[must_use = "a request does nothing until awaited"]
pub struct RunOrchestration<'a> {
    client: &'a Client,
    slug: String,
    inputs: Map<String, Value>,
    files: Vec<(String, FileUpload)>,
    idempotency_key: Option<String>,
}

impl fmt::Debug for RunOrchestration<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOrchestration")
            .field("slug", &self.slug)
            .field("inputs", &self.inputs.keys().collect::<Vec<_>>())
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl RunOrchestration<'_> {
    /// Sets one of the orchestration's declared inputs (a scalar or a flat
    /// list of them). A required one left out is refused with its key as
    /// [`Error::field`].
    pub fn input(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.inputs.insert(key.into(), value.into());
        self
    }

    /// Sets several inputs.
    pub fn inputs(mut self, inputs: Map<String, Value>) -> Self {
        self.inputs.extend(inputs);
        self
    }

    /// Fills the input `key`, declared `File(s)`, with a file (call again
    /// for several; at most [`MAX_FILES_PER_CALL`] in all).
    pub fn file(mut self, key: impl Into<String>, file: impl Into<FileUpload>) -> Self {
        self.files.push((key.into(), file.into()));
        self
    }

    /// A key of yours that makes the start safe to repeat: a retry with it
    /// returns the run already started. With one, agentwire retries the
    /// start on 502/503/504 and dropped connections; without, it sends it
    /// once.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

impl<'a> IntoFuture for RunOrchestration<'a> {
    type Output = Result<StartedRun>;
    type IntoFuture = BoxFuture<'a, Result<StartedRun>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            let slug = self.slug.trim();
            config::non_empty("slug", slug)?;
            let key = self.idempotency_key.filter(|k| !k.is_empty());
            for (input, file) in &self.files {
                config::non_empty("files", input)?;
                file.check("files")?;
            }
            if self.files.len() > MAX_FILES_PER_CALL {
                return Err(Error::InvalidArgument {
                    name: "files",
                    message: format!("at most {MAX_FILES_PER_CALL} files per run"),
                });
            }
            if self.files.is_empty() {
                let mut op = c
                    .t()
                    .run_orchestration()
                    .slug(slug)
                    .body(transport::types::RunInputs(self.inputs));
                if let Some(key) = key {
                    op = op.idempotency_key(key);
                }
                return op.await;
            }
            let mut parts = vec![multipart::Part::Text {
                name: "payload",
                value: Value::Object(self.inputs).to_string(),
            }];
            parts.extend(
                self.files
                    .iter()
                    .map(|(input, file)| multipart::Part::File { name: input, file }),
            );
            let path = format!("/api/v1/orchestrations/{}/run", encode_segment(slug));
            let response = c
                .send_form(
                    &path,
                    multipart::encode(&parts),
                    key.as_deref(),
                    RUN_ORCHESTRATION,
                )
                .await?;
            c.json_of(response).await
        })
    }
}

/// A pending wait for a run; see [`Client::wait_for_run`].
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct WaitForRun<'a> {
    client: &'a Client,
    run_id: &'a str,
    interval: Duration,
}

impl WaitForRun<'_> {
    /// The pause between two reads (default 2 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
}

impl<'a> IntoFuture for WaitForRun<'a> {
    type Output = Result<RunStatus>;
    type IntoFuture = BoxFuture<'a, Result<RunStatus>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            loop {
                let run = self.client.get_run(self.run_id).await?;
                if run.is_done() {
                    return Ok(run);
                }
                tokio::time::sleep(self.interval).await;
            }
        })
    }
}

/// A pending knowledge-base read; see [`Client::search_knowledge_base`].
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct SearchKnowledgeBase<'a> {
    client: &'a Client,
    action: KnowledgeAction,
    fields: Map<String, Value>,
}

impl SearchKnowledgeBase<'_> {
    /// Sets one of the action's fields (`query`, `top_k`, `document_id`,
    /// `source_ids`, `mode`, `limit`, `cursor`…). A null is left out.
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }

    /// Sets several fields.
    pub fn fields(mut self, fields: Map<String, Value>) -> Self {
        self.fields.extend(fields);
        self
    }
}

impl<'a> IntoFuture for SearchKnowledgeBase<'a> {
    type Output = Result<Map<String, Value>>;
    type IntoFuture = BoxFuture<'a, Result<Map<String, Value>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let action = match self.action {
                KnowledgeAction::Other(a) => KnowledgeAction::from(a.trim()),
                known => known,
            };
            config::non_empty("action", action.as_ref())?;
            let mut extra = self.fields;
            extra.retain(|_, v| !v.is_null());
            extra.remove("action");
            let answer = self
                .client
                .t()
                .search_knowledge_base()
                .body(transport::types::KnowledgeRequest { action, extra })
                .await?;
            Ok(answer.0)
        })
    }
}

/// What agentwire reads off a [`RunStatus`].
pub trait RunStatusExt {
    /// Whether the run has stopped moving: any status but `running`,
    /// `revising` or none.
    fn is_done(&self) -> bool;
}

impl RunStatusExt for RunStatus {
    fn is_done(&self) -> bool {
        !matches!(self.status.as_str(), "running" | "revising" | "")
    }
}

/// What agentwire reads off a [`DocumentResult`].
pub trait DocumentResultExt {
    /// Whether the file landed in the corpus: a status that is not
    /// `failed`, and no error.
    fn is_ok(&self) -> bool;
}

impl DocumentResultExt for DocumentResult {
    fn is_ok(&self) -> bool {
        !self.status.is_empty() && self.status != "failed" && self.error.is_none()
    }
}
