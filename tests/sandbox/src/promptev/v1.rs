//! Promptev's current product, `/api/v1`, as promptev 1.3.0 calls it: a
//! Bearer `fk_…` key per project, chat turns streamed as one `data: <json>`
//! line per frame, documents, orchestration runs and the knowledge base,
//! with `{"error": {"message", "field"}}` refusals.
//!
//! Chat replies are deterministic: `[<agent name>] <message>`, then
//! ` (turn N)` from a conversation's second turn, ` (files: a, b)`,
//! ` for <subject>` and ` via <provider>/<model>` when the turn carried
//! them, streamed one word per `token` frame. Markers in the message ask for
//! the other frames: `[think]`, `[tool]`, `[sources]`, `[suggest]`,
//! `[artifact]`, `[approval]` (the stream waits until
//! [`PromptevHandle::approve`] or [`PromptevHandle::deny`]), `[new-kind]`
//! (a frame of a kind clients do not know), `[keepalive]` (comment lines),
//! `[error]` (an `error` frame instead of `done`) and `[all]` (every kind).
//!
//! Runs move one state per read: `running`, then `revising`, then
//! `delivered` with an output (`failed` with an error for the `failing-team`
//! orchestration).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Path, Request, State as AxumState};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::channel::{mpsc, oneshot};
use futures::SinkExt;
use serde_json::{json, Map, Value};

use super::PromptevHandle;
use crate::Shared;

/// The API key the sandbox's project accepts.
pub const DEFAULT_API_KEY: &str = "fk_sandbox_0123456789abcdef";

const MAX_MESSAGE_CHARS: usize = 20_000;
const MAX_FILES_PER_CALL: usize = 5;
const MAX_FILES_PER_UPLOAD: usize = 20;
const KNOWLEDGE_ACTIONS: [&str; 13] = [
    "discover",
    "search",
    "get_doc",
    "list",
    "query_meta",
    "compute",
    "get_chunks",
    "get_docs",
    "map_reduce",
    "traverse",
    "find_related",
    "get_neighbors",
    "community_summary",
];

/// What one chat turn carried, as the sandbox received it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatTurn {
    /// The message (as sent: the client trims it).
    pub message: String,
    /// Names of the files sent with it.
    pub files: Vec<String>,
    /// `on_behalf_of.subject`.
    pub subject: Option<String>,
    /// `on_behalf_of.groups`.
    pub groups: Option<Vec<String>>,
    /// `provider/model` of a per-call model.
    pub model: Option<String>,
    /// Tool ids of `tool_inputs`, sorted.
    pub tool_inputs: Vec<String>,
    /// Whether it came as `multipart/form-data`.
    pub multipart: bool,
}

/// An orchestration run as the sandbox keeps it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunRecord {
    /// The orchestration's slug.
    pub orchestration: String,
    /// The inputs it was started with.
    pub inputs: Map<String, Value>,
    /// `(input key, file name)` of each file part.
    pub files: Vec<(String, String)>,
    /// How many times it was read.
    pub reads: u32,
}

#[derive(Clone, Debug)]
struct Agent {
    name: String,
    published: bool,
    attachments: bool,
}

#[derive(Clone, Debug)]
struct Orchestration {
    published: bool,
    enabled: bool,
    /// `(key, required, file)`.
    inputs: Vec<(&'static str, bool, bool)>,
}

#[derive(Clone, Debug)]
struct Document {
    id: String,
    filename: String,
    text: String,
}

struct Conversation {
    slug: String,
    turns: Vec<ChatTurn>,
}

#[derive(Default)]
struct Inner {
    api_key: String,
    event_delay: Duration,
    agents: HashMap<String, Agent>,
    conversations: HashMap<String, Conversation>,
    documents: Vec<Document>,
    orchestrations: HashMap<String, Orchestration>,
    runs: HashMap<String, RunRecord>,
    run_keys: HashMap<String, String>,
    approvals: HashMap<String, oneshot::Sender<bool>>,
    credits: Option<u64>,
    next: u64,
}

/// The current product's in-memory data.
pub(crate) struct State {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("v1::State").finish_non_exhaustive()
    }
}

impl State {
    pub(crate) fn new(event_delay: Duration) -> State {
        let agent = |name: &str, published, attachments| Agent {
            name: name.into(),
            published,
            attachments,
        };
        let mut agents = HashMap::new();
        agents.insert("support-bot".into(), agent("Support", true, true));
        agents.insert("no-files-bot".into(), agent("Plain", true, false));
        agents.insert("draft-bot".into(), agent("Draft", false, true));
        let team = |published, enabled, inputs| Orchestration {
            published,
            enabled,
            inputs,
        };
        let mut orchestrations = HashMap::new();
        orchestrations.insert(
            "month-end-close".into(),
            team(true, true, vec![("period", true, false)]),
        );
        orchestrations.insert(
            "contract-review".into(),
            team(
                true,
                true,
                vec![
                    ("matter", true, false),
                    ("contract", true, true),
                    ("exhibits", false, true),
                ],
            ),
        );
        orchestrations.insert("failing-team".into(), team(true, true, vec![]));
        orchestrations.insert("paused-team".into(), team(true, false, vec![]));
        orchestrations.insert("draft-team".into(), team(false, true, vec![]));
        State {
            inner: Mutex::new(Inner {
                api_key: DEFAULT_API_KEY.into(),
                event_delay,
                agents,
                orchestrations,
                ..Inner::default()
            }),
        }
    }

    // Every update is made under one lock and cannot be left half done, so a
    // poisoned lock still holds consistent data.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn next_id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}", self.next)
    }

    /// The key check and the credit every request costs.
    fn admit(&mut self, headers: &HeaderMap) -> Result<(), V1Error> {
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if sent != Some(self.api_key.as_str()) {
            return Err(V1Error::new(
                StatusCode::UNAUTHORIZED,
                "Invalid or missing API key",
            ));
        }
        match &mut self.credits {
            Some(0) => Err(V1Error::new(
                StatusCode::PAYMENT_REQUIRED,
                "The workspace is out of credits",
            )),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl PromptevHandle {
    fn v1(&self) -> MutexGuard<'_, Inner> {
        self.shared.promptev.v1.lock()
    }

    /// The API key (`fk_…`) the current product accepts.
    pub fn api_key(&self) -> String {
        self.v1().api_key.clone()
    }

    /// Adds (or replaces) a published agent of the current product;
    /// `attachments` says whether it takes files in chat.
    pub fn add_chat_agent(&self, slug: &str, name: &str, attachments: bool) {
        self.v1().agents.insert(
            slug.into(),
            Agent {
                name: name.into(),
                published: true,
                attachments,
            },
        );
    }

    /// The turns of a conversation, as received; `None` when unknown.
    pub fn chat_turns(&self, conversation_id: &str) -> Option<Vec<ChatTurn>> {
        self.v1()
            .conversations
            .get(conversation_id)
            .map(|c| c.turns.clone())
    }

    /// Approvals a chat turn is waiting on, sorted.
    pub fn pending_approvals(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.v1().approvals.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Approves a waiting tool call: its turn goes on. False when no turn
    /// waits on `approval_id`.
    pub fn approve(&self, approval_id: &str) -> bool {
        self.decide(approval_id, true)
    }

    /// Denies a waiting tool call: its turn goes on without the tool.
    pub fn deny(&self, approval_id: &str) -> bool {
        self.decide(approval_id, false)
    }

    fn decide(&self, approval_id: &str, approved: bool) -> bool {
        let sender = self.v1().approvals.remove(approval_id);
        sender.is_some_and(|s| s.send(approved).is_ok())
    }

    /// Names of the documents uploaded, in order.
    pub fn document_names(&self) -> Vec<String> {
        self.v1()
            .documents
            .iter()
            .map(|d| d.filename.clone())
            .collect()
    }

    /// A run as the sandbox keeps it.
    pub fn run(&self, run_id: &str) -> Option<RunRecord> {
        self.v1().runs.get(run_id).cloned()
    }

    /// Number of runs started (a repeated start with the same
    /// `Idempotency-Key` starts none).
    pub fn run_count(&self) -> usize {
        self.v1().runs.len()
    }

    /// Limits the requests to `/api/v1` still paid for before they answer
    /// 402; `None` (the default) means unlimited.
    pub fn set_credits(&self, credits: Option<u64>) {
        self.v1().credits = credits;
    }
}

/// A refusal in the current product's shape.
#[derive(Debug)]
pub(crate) struct V1Error {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl V1Error {
    fn new(status: StatusCode, message: impl Into<String>) -> V1Error {
        V1Error {
            status,
            message: message.into(),
            field: None,
        }
    }

    fn field(status: StatusCode, field: &str, message: impl Into<String>) -> V1Error {
        V1Error {
            status,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    fn invalid(field: &str, message: impl Into<String>) -> V1Error {
        V1Error::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let mut error = json!({ "message": self.message });
        if let Some(f) = self.field {
            error["field"] = f.into();
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/agents/{slug}/chat", post(chat))
        .route("/api/v1/documents", post(upload))
        .route("/api/v1/orchestrations/{slug}/run", post(run))
        .route("/api/v1/runs/{run_id}", get(get_run))
        .route("/api/v1/knowledge", post(knowledge))
}

/// A received file part.
struct FilePart {
    field: String,
    name: String,
    bytes: Bytes,
}

/// A JSON body or a `multipart/form-data` one: its `payload` part's JSON,
/// its file parts and its other text parts.
struct Form {
    json: Value,
    files: Vec<FilePart>,
    text: HashMap<String, String>,
    multipart: bool,
}

async fn read_form(req: Request) -> Result<Form, V1Error> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let bytes = Bytes::from_request(req, &())
            .await
            .map_err(|r| V1Error::new(r.status(), r.body_text()))?;
        let json = if bytes.is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| V1Error::invalid("body", format!("not JSON: {e}")))?
        };
        return Ok(Form {
            json,
            files: Vec::new(),
            text: HashMap::new(),
            multipart: false,
        });
    }
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|r| V1Error::invalid("body", r.body_text()))?;
    let mut form = Form {
        json: Value::Object(Map::new()),
        files: Vec::new(),
        text: HashMap::new(),
        multipart: true,
    };
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| V1Error::invalid("body", e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| V1Error::invalid("body", e.body_text()))?;
        match file_name {
            Some(file_name) => form.files.push(FilePart {
                field: name,
                name: file_name,
                bytes,
            }),
            None if name == "payload" => {
                form.json = serde_json::from_slice(&bytes)
                    .map_err(|e| V1Error::invalid("payload", format!("not JSON: {e}")))?;
            }
            None => {
                form.text
                    .insert(name, String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    Ok(form)
}

fn str_field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn frame(v: Value) -> String {
    format!("data: {v}\n\n")
}

/// What a chat stream sends: a ready chunk, or a wait for a decision.
enum Step {
    Chunk(String),
    Approval(oneshot::Receiver<bool>, String),
}

async fn chat(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, V1Error> {
    shared.promptev.v1.lock().admit(&headers)?;
    let form = read_form(req).await?;
    let body = form.json;
    let message = str_field(&body, "message").unwrap_or_default().to_owned();
    let mut inner = shared.promptev.v1.lock();
    let agent = inner
        .agents
        .get(&slug)
        .filter(|a| a.published)
        .cloned()
        .ok_or_else(|| V1Error::new(StatusCode::NOT_FOUND, "Agent not found"))?;
    if message.trim().is_empty() && form.files.is_empty() {
        return Err(V1Error::invalid(
            "message",
            "Say something, or attach a file",
        ));
    }
    if message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(V1Error::invalid("message", "The message is too long"));
    }
    if form.files.len() > MAX_FILES_PER_CALL {
        return Err(V1Error::invalid("files", "At most 5 files per turn"));
    }
    if !form.files.is_empty() && !agent.attachments {
        return Err(V1Error::new(
            StatusCode::CONFLICT,
            "This agent does not take chat attachments",
        ));
    }
    if let Some(f) = form.files.iter().find(|f| f.name.ends_with(".exe")) {
        return Err(V1Error::field(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "files",
            format!("{} is a file type this agent cannot take", f.name),
        ));
    }
    let model = match body.get("model").filter(|m| !m.is_null()) {
        Some(m) => {
            let provider = str_field(m, "provider").unwrap_or_default();
            let name = str_field(m, "model").unwrap_or_default();
            if !matches!(provider, "openai" | "anthropic") {
                return Err(V1Error::field(
                    StatusCode::BAD_REQUEST,
                    "model",
                    format!("The workspace has no provider {provider:?}"),
                ));
            }
            Some(format!("{provider}/{name}"))
        }
        None => None,
    };
    let behalf = body.get("on_behalf_of").filter(|b| !b.is_null());
    let subject = behalf
        .and_then(|b| str_field(b, "subject"))
        .map(str::to_owned);
    let groups = behalf
        .and_then(|b| b.get("groups"))
        .and_then(Value::as_array)
        .map(|g| {
            g.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
    let mut tool_inputs: Vec<String> = body
        .get("tool_inputs")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    tool_inputs.sort();
    let conversation_id = match str_field(&body, "conversation_id") {
        Some(id) => {
            let owned = inner.conversations.get(id).is_some_and(|c| c.slug == slug);
            if !owned {
                return Err(V1Error::new(
                    StatusCode::NOT_FOUND,
                    "Conversation not found",
                ));
            }
            id.to_owned()
        }
        None => {
            let id = inner.next_id("conv");
            inner.conversations.insert(
                id.clone(),
                Conversation {
                    slug: slug.clone(),
                    turns: Vec::new(),
                },
            );
            id
        }
    };
    let turn = ChatTurn {
        message: message.clone(),
        files: form.files.iter().map(|f| f.name.clone()).collect(),
        subject: subject.clone(),
        groups,
        model: model.clone(),
        tool_inputs: tool_inputs.clone(),
        multipart: form.multipart,
    };
    let Some(conversation) = inner.conversations.get_mut(&conversation_id) else {
        return Err(V1Error::new(
            StatusCode::NOT_FOUND,
            "Conversation not found",
        ));
    };
    conversation.turns.push(turn.clone());
    let turn_no = conversation.turns.len();

    let mut text = format!("[{}] {}", agent.name, message.trim());
    if turn_no > 1 {
        text.push_str(&format!(" (turn {turn_no})"));
    }
    if !turn.files.is_empty() {
        text.push_str(&format!(" (files: {})", turn.files.join(", ")));
    }
    if let Some(s) = &subject {
        text.push_str(&format!(" for {s}"));
    }
    if let Some(m) = &model {
        text.push_str(&format!(" via {m}"));
    }
    if !tool_inputs.is_empty() {
        text.push_str(&format!(" with inputs for {}", tool_inputs.join(", ")));
    }

    let all = message.contains("[all]");
    let has = |marker: &str| all || message.contains(marker);
    let mut steps = vec![Step::Chunk(frame(
        json!({"type": "conversation", "id": conversation_id}),
    ))];
    if message.contains("[keepalive]") {
        steps.push(Step::Chunk(": ping\n\n".into()));
    }
    if has("[think]") {
        steps.push(Step::Chunk(frame(
            json!({"type": "thinking", "content": "Considering the question."}),
        )));
    }
    let mut units = 1;
    if has("[sources]") {
        steps.push(Step::Chunk(frame(
            json!({"type": "step", "name": "retrieving", "status": "started", "detail": null}),
        )));
        let items: Vec<Value> = inner
            .documents
            .iter()
            .take(3)
            .map(|d| json!({"name": d.filename, "document_id": d.id}))
            .chain(std::iter::once(
                json!({"name": "Refund policy.pdf", "document_id": "doc_policy"}),
            ))
            .collect();
        steps.push(Step::Chunk(frame(
            json!({"type": "step", "name": "retrieving", "status": "completed"}),
        )));
        steps.push(Step::Chunk(frame(
            json!({"type": "sources", "items": items}),
        )));
    }
    if has("[tool]") {
        units += 1;
        steps.push(Step::Chunk(frame(json!({
            "type": "tool_call", "id": "call_1", "name": "lookup_order", "args": {"order": "A-1"}
        }))));
        steps.push(Step::Chunk(frame(json!({
            "type": "tool_result", "id": "call_1", "name": "lookup_order", "ok": true,
            "summary": "Order A-1 shipped"
        }))));
    }
    if has("[approval]") {
        let approval_id = inner.next_id("appr");
        let (tx, rx) = oneshot::channel();
        inner.approvals.insert(approval_id.clone(), tx);
        steps.push(Step::Chunk(frame(json!({
            "type": "approval_required", "approval_id": approval_id, "tool_name": "send_email",
            "args": {"to": "ceo@acme.example"}, "reason": "Sends mail outside the team",
            "channel": "inline", "expires_at": "2026-12-01T12:00:00Z"
        }))));
        steps.push(Step::Approval(rx, approval_id));
        units += 1;
    }
    if has("[artifact]") {
        steps.push(Step::Chunk(frame(json!({
            "type": "artifact", "id": "file_1", "name": "summary.pdf", "mime": "application/pdf",
            "size": 2048, "kind": "document", "exports": ["docx", "md"], "url": null
        }))));
    }
    if has("[new-kind]") {
        steps.push(Step::Chunk(frame(
            json!({"type": "handoff", "to": "billing-bot"}),
        )));
    }
    if message.contains("[error]") {
        steps.push(Step::Chunk(frame(
            json!({"type": "error", "message": "The model provider failed"}),
        )));
    } else {
        let words: Vec<&str> = text.split(' ').collect();
        for (i, word) in words.iter().enumerate() {
            let content = if i + 1 < words.len() {
                format!("{word} ")
            } else {
                (*word).to_owned()
            };
            steps.push(Step::Chunk(frame(
                json!({"type": "token", "content": content}),
            )));
        }
        if has("[suggest]") {
            steps.push(Step::Chunk(frame(json!({
                "type": "suggestions", "questions": ["What about exchanges?", "How long does a refund take?"]
            }))));
        }
        steps.push(Step::Chunk(frame(json!({
            "type": "usage", "units": units, "tokens": {"input": 12, "output": words.len()},
            "tool_calls": units - 1
        }))));
        steps.push(Step::Chunk(frame(json!({"type": "done"}))));
    }
    let delay = inner.event_delay;
    drop(inner);

    let (mut tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(4);
    tokio::spawn(async move {
        for (i, step) in steps.into_iter().enumerate() {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let chunk = match step {
                Step::Chunk(c) => c,
                Step::Approval(decision, id) => {
                    let approved = decision.await.unwrap_or(false);
                    frame(json!({
                        "type": "tool_result", "id": id, "name": "send_email", "ok": approved,
                        "summary": if approved { "Mail sent" } else { "Denied by an approver" }
                    }))
                }
            };
            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(rx),
    )
        .into_response())
}

async fn upload(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    req: Request,
) -> Result<Json<Value>, V1Error> {
    shared.promptev.v1.lock().admit(&headers)?;
    let form = read_form(req).await?;
    if !form.multipart {
        return Err(V1Error::invalid(
            "files",
            "Send the files as multipart/form-data",
        ));
    }
    let mode = form.text.get("mode").map(String::as_str);
    if let Some(m) = mode {
        if !matches!(m, "hybrid" | "graph") {
            return Err(V1Error::invalid("mode", "Mode must be hybrid or graph"));
        }
    }
    let files: Vec<&FilePart> = form.files.iter().filter(|f| f.field == "files").collect();
    if files.is_empty() {
        return Err(V1Error::invalid("files", "Attach at least one file"));
    }
    if files.len() > MAX_FILES_PER_UPLOAD {
        return Err(V1Error::invalid("files", "At most 20 files per upload"));
    }
    let mut inner = shared.promptev.v1.lock();
    let mut results = Vec::new();
    for f in files {
        let failure = if f.name.ends_with(".exe") {
            Some("unsupported file type")
        } else if f.bytes.is_empty() {
            Some("the file is empty")
        } else {
            None
        };
        let row = match failure {
            Some(error) => json!({
                "filename": f.name, "status": "failed", "document_id": null,
                "chunks": 0, "units": 0, "error": error
            }),
            None => {
                let id = inner.next_id("doc");
                let chunks = f.bytes.len().div_ceil(1000);
                let mb = f.bytes.len().div_ceil(1024 * 1024).max(1);
                inner.documents.push(Document {
                    id: id.clone(),
                    filename: f.name.clone(),
                    text: String::from_utf8_lossy(&f.bytes).into_owned(),
                });
                json!({
                    "filename": f.name, "status": "ok", "document_id": id,
                    "chunks": chunks, "units": if mode == Some("graph") { mb * 5 } else { mb },
                    "error": null
                })
            }
        };
        results.push(row);
    }
    Ok(Json(json!({ "results": results })))
}

async fn run(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    req: Request,
) -> Result<Response, V1Error> {
    shared.promptev.v1.lock().admit(&headers)?;
    let form = read_form(req).await?;
    let mut inner = shared.promptev.v1.lock();
    let team = inner
        .orchestrations
        .get(&slug)
        .filter(|o| o.published)
        .cloned()
        .ok_or_else(|| V1Error::new(StatusCode::NOT_FOUND, "Orchestration not found"))?;
    if !team.enabled {
        return Err(V1Error::new(
            StatusCode::CONFLICT,
            "This orchestration is switched off",
        ));
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(run_id) = key.as_ref().and_then(|k| inner.run_keys.get(k)) {
        let started = json!({"run_id": run_id, "status": "accepted"});
        return Ok((StatusCode::ACCEPTED, Json(started)).into_response());
    }
    let Value::Object(inputs) = form.json else {
        return Err(V1Error::invalid("body", "The inputs must be an object"));
    };
    if form.files.len() > MAX_FILES_PER_CALL {
        return Err(V1Error::invalid("files", "At most 5 files per run"));
    }
    for part in &form.files {
        match team.inputs.iter().find(|(k, _, _)| *k == part.field) {
            Some((_, _, true)) => {}
            _ => {
                return Err(V1Error::invalid(
                    &part.field,
                    format!("{} is not a file input of this orchestration", part.field),
                ))
            }
        }
    }
    for (key, required, file) in &team.inputs {
        if *file && inputs.contains_key(*key) {
            return Err(V1Error::invalid(key, format!("{key} takes a file")));
        }
        let given = if *file {
            form.files.iter().any(|p| p.field == *key)
        } else {
            inputs.contains_key(*key)
        };
        if *required && !given {
            return Err(V1Error::invalid(key, format!("{key} is required")));
        }
    }
    let run_id = inner.next_id("run");
    inner.runs.insert(
        run_id.clone(),
        RunRecord {
            orchestration: slug,
            inputs,
            files: form
                .files
                .iter()
                .map(|f| (f.field.clone(), f.name.clone()))
                .collect(),
            reads: 0,
        },
    );
    if let Some(k) = key {
        inner.run_keys.insert(k, run_id.clone());
    }
    let started = json!({"run_id": run_id, "status": "accepted"});
    Ok((StatusCode::ACCEPTED, Json(started)).into_response())
}

async fn get_run(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, V1Error> {
    let mut inner = shared.promptev.v1.lock();
    inner.admit(&headers)?;
    let run = inner
        .runs
        .get_mut(&run_id)
        .ok_or_else(|| V1Error::new(StatusCode::NOT_FOUND, "Run not found"))?;
    run.reads += 1;
    let failing = run.orchestration == "failing-team";
    let (status, output, error) = match run.reads {
        1 => ("running", Value::Null, Value::Null),
        2 => ("revising", Value::Null, Value::Null),
        _ if failing => ("failed", Value::Null, "An agent of the team failed".into()),
        _ => {
            let mut parts: Vec<String> = run
                .inputs
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned)))
                .collect();
            parts.extend(run.files.iter().map(|(k, n)| format!("{k}:{n}")));
            (
                "delivered",
                format!("{} done ({})", run.orchestration, parts.join(", ")).into(),
                Value::Null,
            )
        }
    };
    Ok(Json(json!({
        "run_id": run_id, "orchestration": run.orchestration, "status": status,
        "created_at": "2026-12-01T09:00:00Z", "output": output, "error": error
    })))
}

async fn knowledge(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    req: Request,
) -> Result<Json<Value>, V1Error> {
    shared.promptev.v1.lock().admit(&headers)?;
    let form = read_form(req).await?;
    let body = form.json;
    let action = str_field(&body, "action").unwrap_or_default();
    if !KNOWLEDGE_ACTIONS.contains(&action) {
        return Err(V1Error::invalid(
            "action",
            format!("Unknown action {action:?}"),
        ));
    }
    let inner = shared.promptev.v1.lock();
    let doc_json = |d: &Document| json!({"document_id": d.id, "document_name": d.filename});
    let answer = match action {
        "discover" => json!({
            "documents": inner.documents.len(), "sources": ["Uploads"], "actions": KNOWLEDGE_ACTIONS
        }),
        "search" => {
            let query = str_field(&body, "query")
                .filter(|q| !q.trim().is_empty())
                .ok_or_else(|| V1Error::invalid("query", "search needs a query"))?;
            let top_k = body.get("top_k").and_then(Value::as_u64).unwrap_or(5) as usize;
            let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
            let mut hits: Vec<(usize, &Document)> = inner
                .documents
                .iter()
                .map(|d| {
                    let text = d.text.to_lowercase();
                    (
                        words.iter().filter(|w| text.contains(w.as_str())).count(),
                        d,
                    )
                })
                .filter(|(n, _)| *n > 0)
                .collect();
            hits.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
            let hits: Vec<Value> = hits
                .into_iter()
                .take(top_k)
                .map(|(n, d)| {
                    let mut hit = doc_json(d);
                    hit["chunk_text"] = d.text.chars().take(200).collect::<String>().into();
                    hit["score"] = json!(n as f64 / words.len().max(1) as f64);
                    hit
                })
                .collect();
            json!({ "hits": hits })
        }
        "get_doc" => {
            let id = str_field(&body, "document_id")
                .ok_or_else(|| V1Error::invalid("document_id", "get_doc needs a document_id"))?;
            let d = inner
                .documents
                .iter()
                .find(|d| d.id == id)
                .ok_or_else(|| V1Error::new(StatusCode::NOT_FOUND, "Document not found"))?;
            let mut doc = doc_json(d);
            doc["text"] = d.text.clone().into();
            json!({ "document": doc })
        }
        "list" => {
            let docs: Vec<Value> = inner.documents.iter().map(doc_json).collect();
            json!({ "documents": docs, "cursor": null })
        }
        other => json!({ "action": other, "result": [] }),
    };
    Ok(Json(answer))
}
