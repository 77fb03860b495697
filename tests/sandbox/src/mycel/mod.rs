//! Mycel, in memory: owners registered with an invite code and an emailed
//! one-time code, external agent identities with their own tokens, managed
//! agents and their threads, and the stateful areas in the submodules (chats
//! and messages, relationships, the runtime inbox).
//!
//! Identity always comes from the bearer token. Errors are FastAPI-shaped,
//! `{"detail": "..."}`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use agentwire_mycel_transport::types;
use axum::extract::{FromRequestParts, State as AxumState};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::fastapi::{ApiError, FastJson};
use crate::Shared;

mod chats;
mod inbox;
mod relationships;

/// The invite code every sandbox starts with.
pub const DEFAULT_INVITE_CODE: &str = "INVITE-1";

/// Sandbox providers a thread may ask for.
const SANDBOX_PROVIDERS: [&str; 4] = ["local", "docker", "e2b", "daytona"];

/// Result of a Mycel handler.
pub(crate) type MycelResult<T> = Result<T, ApiError>;

/// One identity: a registered owner, an external agent or a managed agent.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) name: String,
    /// "human", "external" or "mycel_agent".
    pub(crate) kind: &'static str,
    pub(crate) email: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) mycel_id: u64,
    /// Who created this identity (external and managed agents).
    pub(crate) owner_id: Option<String>,
    pub(crate) description: String,
    /// A guest owner: made without invite code, email or password.
    pub(crate) guest: bool,
}

impl User {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "type": self.kind,
            "email": self.email,
            "mycel_id": self.mycel_id,
            "avatar": null,
            "owner_user_id": self.owner_id,
            "is_guest": self.guest,
        })
    }
}

/// One email the sandbox "sent" (it sends none), as a local mail catcher
/// keeps it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SentMail {
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
    /// The one-time code the mail carries.
    pub code: String,
}

/// An emailed code waiting to be verified.
#[derive(Debug, Clone)]
struct PendingOtp {
    code: String,
    password: String,
    invite_code: String,
}

/// Everything Mycel holds.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) users: HashMap<String, User>,
    tokens: HashMap<String, String>,
    invite_codes: HashSet<String>,
    otps: HashMap<String, PendingOtp>,
    /// temp token → (email, password, invite code)
    temp_tokens: HashMap<String, (String, String, String)>,
    threads: Vec<Value>,
    /// Every mail "sent", oldest first.
    outbox: Vec<SentMail>,
    next_id: u64,
    pub(crate) chats: chats::Data,
    pub(crate) relationships: relationships::Data,
    pub(crate) inbox: inbox::Data,
}

impl Data {
    /// A fresh id with a readable prefix.
    pub(crate) fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_{}", self.next_id)
    }

    fn issue_token(&mut self, user_id: &str) -> String {
        let token = format!("mycel_tok_{}", uuid::Uuid::new_v4().simple());
        self.tokens.insert(token.clone(), user_id.to_owned());
        token
    }

    fn add_user(&mut self, user: User) {
        self.users.insert(user.id.clone(), user);
    }

    pub(crate) fn user(&self, id: &str) -> MycelResult<&User> {
        self.users
            .get(id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("User not found: {id}")))
    }

    pub(crate) fn name_of(&self, id: &str) -> String {
        self.users
            .get(id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| "unknown".into())
    }

    fn create_owner(&mut self, email: &str, password: &str) -> User {
        let id = self.id("u");
        let user = User {
            mycel_id: 100_000 + self.next_id,
            id,
            name: email.split('@').next().unwrap_or(email).to_owned(),
            kind: "human",
            email: Some(email.to_owned()),
            password: Some(password.to_owned()),
            owner_id: None,
            description: String::new(),
            guest: false,
        };
        self.add_user(user.clone());
        user
    }

    fn create_guest(&mut self, display_name: Option<&str>) -> User {
        let id = self.id("guest");
        let name = display_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(|| format!("Guest {}", self.next_id), str::to_owned);
        let user = User {
            mycel_id: 100_000 + self.next_id,
            id,
            name,
            kind: "human",
            email: None,
            password: None,
            owner_id: None,
            description: String::new(),
            guest: true,
        };
        self.add_user(user.clone());
        user
    }

    fn create_external(
        &mut self,
        owner: &str,
        user_id: &str,
        display_name: &str,
    ) -> MycelResult<String> {
        if user_id.trim().is_empty() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "user_id must not be empty",
            ));
        }
        if self.users.contains_key(user_id) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("User id already taken: {user_id}"),
            ));
        }
        self.next_id += 1;
        self.add_user(User {
            id: user_id.to_owned(),
            name: display_name.to_owned(),
            kind: "external",
            email: None,
            password: None,
            mycel_id: 100_000 + self.next_id,
            owner_id: Some(owner.to_owned()),
            description: String::new(),
            guest: false,
        });
        Ok(self.issue_token(user_id))
    }

    fn create_agent(&mut self, owner: &str, name: &str, description: &str) -> User {
        self.next_id += 1;
        let user = User {
            id: format!("m_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            name: name.to_owned(),
            kind: "mycel_agent",
            email: None,
            password: None,
            mycel_id: 100_000 + self.next_id,
            owner_id: Some(owner.to_owned()),
            description: description.to_owned(),
            guest: false,
        };
        self.add_user(user.clone());
        user
    }
}

/// Mycel's state inside the sandbox.
pub(crate) struct State {
    data: Mutex<Data>,
    /// Woken on every new inbox notification (long-polling waits).
    pub(crate) wake: tokio::sync::Notify,
    /// Bumped to drop every open inbox socket.
    pub(crate) disconnect: tokio::sync::watch::Sender<u64>,
    /// Bumped to make open inbox sockets go silent, as a half-open
    /// connection does: nothing read, nothing written, no pong.
    pub(crate) freeze: tokio::sync::watch::Sender<u64>,
}

impl Default for State {
    fn default() -> Self {
        let mut data = Data::default();
        data.invite_codes.insert(DEFAULT_INVITE_CODE.to_owned());
        State {
            data: Mutex::new(data),
            wake: tokio::sync::Notify::new(),
            disconnect: tokio::sync::watch::channel(0).0,
            freeze: tokio::sync::watch::channel(0).0,
        }
    }
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Data> {
        // Handlers leave `Data` consistent between statements run under the
        // lock, so a poisoned lock is still usable.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller(pub(crate) String);

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "Not authenticated"))?;
        let data = shared.mycel.lock();
        data.tokens
            .get(token)
            .filter(|id| data.users.contains_key(*id))
            .map(|id| Caller(id.clone()))
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "Invalid token"))
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/auth/send-otp", post(send_otp))
        .route("/api/auth/verify-otp", post(verify_otp))
        .route("/api/auth/complete-register", post(complete_register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/guest", post(create_guest_owner))
        .route("/openapi.json", get(openapi))
        .route("/api/auth/me", get(me))
        .route("/api/auth/external-users", post(create_external_user))
        .route("/api/panel/agents", get(list_agents).post(create_agent))
        .route("/api/threads", post(create_thread))
        .merge(chats::routes())
        .merge(relationships::routes())
        .merge(inbox::routes())
}

async fn send_otp(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::SendOtpRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    if !data.invite_codes.contains(&body.invite_code) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid invite code",
        ));
    }
    if data
        .users
        .values()
        .any(|u| u.email.as_deref() == Some(body.email.as_str()))
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Email already registered",
        ));
    }
    let code = format!("{:06}", uuid::Uuid::new_v4().as_u128() % 1_000_000);
    data.outbox.push(SentMail {
        to: body.email.clone(),
        subject: "Your Mycel verification code".into(),
        body: format!("Your Mycel verification code is {code}."),
        code: code.clone(),
    });
    data.otps.insert(
        body.email.clone(),
        PendingOtp {
            code,
            password: body.password,
            invite_code: body.invite_code,
        },
    );
    Ok(Json(json!({ "status": "sent", "email": body.email })))
}

async fn verify_otp(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::VerifyOtpRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let pending = match data.otps.get(&body.email) {
        Some(p) if p.code == body.token => p.clone(),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Invalid or expired code",
            ))
        }
    };
    data.otps.remove(&body.email);
    let temp = format!("mycel_tmp_{}", uuid::Uuid::new_v4().simple());
    data.temp_tokens.insert(
        temp.clone(),
        (body.email.clone(), pending.password, pending.invite_code),
    );
    Ok(Json(json!({ "temp_token": temp, "email": body.email })))
}

async fn complete_register(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::CompleteRegisterRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let Some((email, password, invite)) = data.temp_tokens.get(&body.temp_token).cloned() else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid or expired temporary token",
        ));
    };
    if invite != body.invite_code || !data.invite_codes.contains(&invite) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Invalid invite code",
        ));
    }
    // Invite codes are single-use.
    data.invite_codes.remove(&invite);
    data.temp_tokens.remove(&body.temp_token);
    let user = data.create_owner(&email, &password);
    let token = data.issue_token(&user.id);
    Ok(Json(json!({ "token": token, "user": user.to_json() })))
}

async fn login(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::LoginRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let found = data
        .users
        .values()
        .find(|u| {
            u.password.as_deref() == Some(body.password.as_str())
                && (u.email.as_deref() == Some(body.identifier.as_str())
                    || u.mycel_id.to_string() == body.identifier)
        })
        .cloned();
    let Some(user) = found else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid credentials",
        ));
    };
    let token = data.issue_token(&user.id);
    Ok(Json(json!({ "token": token, "user": user.to_json() })))
}

async fn create_guest_owner(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::CreateGuestOwnerRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let user = data.create_guest(body.display_name.as_deref());
    let token = data.issue_token(&user.id);
    Ok(Json(json!({ "token": token, "user": user.to_json() })))
}

/// The backend's own description of itself, as FastAPI serves it.
async fn openapi() -> axum::response::Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../../../../openapi/upstream/mycel.json"),
    )
        .into_response()
}

async fn me(AxumState(shared): AxumState<Arc<Shared>>, caller: Caller) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    Ok(Json(data.user(&caller.0)?.to_json()))
}

async fn create_external_user(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::CreateExternalUserRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    if data.user(&caller.0)?.kind != "human" {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Only an owner account can create external identities",
        ));
    }
    let token = data.create_external(&caller.0, &body.user_id, &body.display_name)?;
    Ok(Json(json!({
        "user_id": body.user_id,
        "display_name": body.display_name,
        "owner_user_id": caller.0,
        "token": token,
    })))
}

fn agent_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "description": u.description,
        "owner_user_id": u.owner_id,
        "status": "active",
    })
}

async fn list_agents(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let mut agents: Vec<&User> = data
        .users
        .values()
        .filter(|u| u.kind == "mycel_agent" && u.owner_id.as_deref() == Some(caller.0.as_str()))
        .collect();
    agents.sort_by_key(|u| u.mycel_id);
    let items: Vec<Value> = agents.into_iter().map(agent_json).collect();
    Ok(Json(json!({ "agents": items, "count": items.len() })))
}

async fn create_agent(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::CreateAgentRequest>,
) -> MycelResult<Json<Value>> {
    if body.name.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "Name is required"));
    }
    let mut data = shared.mycel.lock();
    let agent = data.create_agent(&caller.0, &body.name, &body.description);
    Ok(Json(agent_json(&agent)))
}

async fn create_thread(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::CreateThreadRequest>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let agent = data.user(&body.agent_user_id)?.clone();
    if agent.kind != "mycel_agent" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "agent_user_id is not a managed agent",
        ));
    }
    if agent.owner_id.as_deref() != Some(caller.0.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Agent does not belong to you",
        ));
    }
    if !SANDBOX_PROVIDERS.contains(&body.sandbox.as_str()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Unknown sandbox provider: {}", body.sandbox),
        ));
    }
    if let Some(m) = body.bind_mounts.iter().find(|m| !m.target.starts_with('/')) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("Mount target must be an absolute path: {}", m.target),
        ));
    }
    let id = data.id("thread");
    let sandbox_id = body
        .existing_sandbox_id
        .clone()
        .unwrap_or_else(|| format!("sbx_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
    let thread = json!({
        "thread_id": id,
        "agent_user_id": agent.id,
        "sandbox": body.sandbox,
        "sandbox_id": sandbox_id,
        "sandbox_template_id": body.sandbox_template_id,
        "agent": body.agent,
        "bind_mounts": body.bind_mounts,
        "cwd": body.cwd,
        "model": body.model,
        "status": "created",
    });
    data.threads.push(thread.clone());
    Ok(Json(thread))
}

/// Test-side access to the fake Mycel.
#[derive(Clone)]
pub struct MycelHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MycelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MycelHandle").finish_non_exhaustive()
    }
}

/// An identity created through [`MycelHandle`], with its bearer token.
#[derive(Debug, Clone)]
pub struct MycelIdentity {
    /// The user id.
    pub id: String,
    /// Its bearer token.
    pub token: String,
}

impl MycelHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        MycelHandle { shared }
    }

    fn state(&self) -> &State {
        &self.shared.mycel
    }

    /// Adds an invite code accepted by `send-otp` (single-use).
    pub fn add_invite_code(&self, code: &str) {
        self.state().lock().invite_codes.insert(code.to_owned());
    }

    /// The one-time code "emailed" to `email` by `send-otp`, while unused.
    pub fn otp_for(&self, email: &str) -> Option<String> {
        self.state().lock().otps.get(email).map(|o| o.code.clone())
    }

    /// Every mail `send-otp` "sent" so far, oldest first — what a local
    /// mail catcher shows. The standalone sandbox serves the same list at
    /// `GET /_sandbox/mycel/mail`.
    pub fn sent_mail(&self) -> Vec<SentMail> {
        self.state().lock().outbox.clone()
    }

    /// Restarts the inbox state, as a backend restart does while clients
    /// are connected: every open inbox socket drops, every user's seq starts
    /// again at 1, replay buffers and queued notifications are gone. Chats,
    /// messages and read positions stay (they are not in the inbox), so
    /// drain and wait rebuild notifications of unread chats.
    pub fn restart_inbox(&self) {
        self.state().lock().inbox.restart();
        self.state().disconnect.send_modify(|n| *n += 1);
    }

    /// Registers an owner account directly (no OTP) and returns it with a token.
    pub fn register_owner(&self, email: &str, password: &str) -> MycelIdentity {
        let mut data = self.state().lock();
        let user = data.create_owner(email, password);
        let token = data.issue_token(&user.id);
        MycelIdentity { id: user.id, token }
    }

    /// Creates an external agent identity owned by `owner_id`. An id already
    /// taken gets a fresh token instead.
    pub fn create_external(&self, owner_id: &str, user_id: &str, name: &str) -> MycelIdentity {
        let mut data = self.state().lock();
        let token = match data.create_external(owner_id, user_id, name) {
            Ok(t) => t,
            Err(_) => data.issue_token(user_id),
        };
        MycelIdentity {
            id: user_id.to_owned(),
            token,
        }
    }

    /// Creates a managed agent owned by `owner_id`; returns its user id.
    pub fn create_agent(&self, owner_id: &str, name: &str) -> String {
        self.state().lock().create_agent(owner_id, name, "").id
    }

    /// Whether `user_id` is muted in `chat_id` right now.
    pub fn is_muted(&self, chat_id: &str, user_id: &str) -> bool {
        self.state().lock().chats.is_muted(chat_id, user_id)
    }

    /// Messages stored in a chat.
    pub fn message_count(&self, chat_id: &str) -> usize {
        self.state().lock().chats.message_count(chat_id)
    }

    /// Adds `n` messages from `sender_id` to a chat without any request (and
    /// without notifications), for pagination tests.
    pub fn seed_messages(&self, chat_id: &str, sender_id: &str, n: usize) {
        let mut data = self.state().lock();
        let name = data.name_of(sender_id);
        data.chats.seed(chat_id, sender_id, &name, n);
    }

    /// Makes message listings ignore `before`, so a client paging backwards
    /// gets the same page again (a cursor that never advances).
    pub fn set_stale_cursor(&self, on: bool) {
        self.state().lock().chats.stale_cursor = on;
    }

    /// Threads created so far.
    pub fn thread_count(&self) -> usize {
        self.state().lock().threads.len()
    }

    /// Queues `n` test notifications for `user_id` at once (seq numbered like
    /// any other); returns the last seq.
    pub fn push_notifications(&self, user_id: &str, n: usize) -> i64 {
        let last = {
            let mut data = self.state().lock();
            let mut last = 0;
            for i in 0..n {
                last = data.inbox.push(
                    user_id,
                    json!({
                        "notification_type": "test",
                        "event_type": "sandbox.ping",
                        "source": "sandbox",
                        "unread_count": i as i64 + 1,
                    }),
                );
            }
            last
        };
        self.state().wake.notify_waiters();
        last
    }

    /// Queues one notification whose metadata is exactly `metadata`, fields
    /// the contract does not name included; returns its seq.
    pub fn push_notification(&self, user_id: &str, metadata: Value) -> i64 {
        let seq = self.state().lock().inbox.push(user_id, metadata);
        self.state().wake.notify_waiters();
        seq
    }

    /// The latest inbox seq of a user (0 before the first notification).
    pub fn inbox_seq(&self, user_id: &str) -> i64 {
        self.state().lock().inbox.seq(user_id)
    }

    /// Inbox sockets open right now.
    pub fn inbox_connections(&self) -> usize {
        self.state().lock().inbox.connections()
    }

    /// Drops every open inbox WebSocket at once, without a closing handshake,
    /// as a network failure would. Sockets opened afterwards are unaffected.
    pub fn disconnect_inbox(&self) {
        self.state().disconnect.send_modify(|n| *n += 1);
    }

    /// Makes every open inbox WebSocket go silent without closing it — what a
    /// client sees when the network drops packets (a half-open connection).
    /// Sockets opened afterwards work normally.
    pub fn freeze_inbox(&self) {
        self.state().freeze.send_modify(|n| *n += 1);
    }
}
