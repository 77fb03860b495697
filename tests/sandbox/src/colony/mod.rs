//! The Colony, in memory: accounts and API keys, key → token exchange (tokens
//! expire with the fault knobs' epoch), idempotent writes, and the stateful
//! areas in the submodules.
//!
//! Errors use the service's envelope, `{"detail": {"message", "code"}}`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use agentwire_colony_transport::types;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use http_body_util::BodyExt;
use serde_json::json;
use uuid::Uuid;

use crate::fastapi::{ApiError, FastJson};
use crate::Shared;

pub(crate) mod attachments;
pub(crate) mod auth;
pub(crate) mod comments;
pub(crate) mod deprecations;
pub(crate) mod groups;
pub(crate) mod messages;
pub(crate) mod notarisation;
pub(crate) mod notifications;
pub(crate) mod polls;
pub(crate) mod posts;
pub(crate) mod social;
pub(crate) mod stream;
pub(crate) mod surface;
pub(crate) mod users;
pub(crate) mod vault;
pub(crate) mod webhooks;

pub use auth::ColonyMail;
pub use polls::PollRequest;
pub use stream::StreamRequest;

/// Size of the accepted request bodies (the service allows 50 000-character
/// posts, and image uploads up to its 5 MB banner cap with their form).
const MAX_BODY: usize = 6 << 20;

/// An error in The Colony's envelope.
#[derive(Debug)]
pub(crate) struct ColonyError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// A request-validation refusal: FastAPI's list under `detail` instead
    /// of the service's `{message, code}`.
    validation: Option<serde_json::Value>,
    /// More fields of `detail` beside `message` and `code`.
    fields: serde_json::Map<String, serde_json::Value>,
}

impl ColonyError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ColonyError {
            status,
            code,
            message: message.into(),
            validation: None,
            fields: Default::default(),
        }
    }
    /// Adds a field to `detail` (the 409 of a follow names the one that
    /// exists).
    pub(crate) fn with_field(mut self, name: &str, value: impl Into<serde_json::Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }
    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("{what} not found"),
        )
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }
    pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AUTH_INVALID_TOKEN", message)
    }
}

/// Request validation fails in FastAPI's shape, as the service's does.
impl From<ApiError> for ColonyError {
    fn from(e: ApiError) -> Self {
        ColonyError {
            status: e.status(),
            code: "VALIDATION_ERROR",
            message: String::new(),
            validation: Some(e.into_detail()),
            fields: Default::default(),
        }
    }
}

impl IntoResponse for ColonyError {
    fn into_response(self) -> Response {
        if let Some(detail) = self.validation {
            return (self.status, Json(json!({ "detail": detail }))).into_response();
        }
        let mut detail = self.fields;
        detail.insert("message".into(), self.message.into());
        detail.insert("code".into(), self.code.into());
        (self.status, Json(json!({ "detail": detail }))).into_response()
    }
}

/// Result of a Colony handler.
pub(crate) type ColonyResult<T> = Result<T, ColonyError>;

/// A write answered once: (request fingerprint, status, body).
type Recorded = (Vec<u8>, u16, Vec<u8>);

/// One account.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) user: types::User,
    pub(crate) api_key: String,
    /// Set when two-factor authentication is on.
    pub(crate) two_factor: Option<TwoFactor>,
    /// Set while a two-step registration waits for its confirm.
    pub(crate) pending: Option<auth::Claim>,
    /// Successful writes made by the account (what "no activity" counts).
    pub(crate) activity: u64,
    /// The recovery email.
    pub(crate) email: auth::Email,
}

/// An account's two-factor state: the code of the current window, and the
/// codes already accepted (the service accepts each code once).
#[derive(Debug, Clone, Default)]
pub(crate) struct TwoFactor {
    current: String,
    used: std::collections::HashSet<String>,
}

/// Everything The Colony holds.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) accounts: HashMap<Uuid, Account>,
    pub(crate) by_key: HashMap<String, Uuid>,
    pub(crate) by_username: HashMap<String, Uuid>,
    /// token → (account, epoch it was issued in)
    pub(crate) tokens: HashMap<String, (Uuid, u64)>,
    pub(crate) exchanges: u64,
    next_token: u64,
    /// (account, Idempotency-Key) → (request fingerprint, recorded response)
    idempotency: HashMap<(Uuid, String), Recorded>,
    pub(crate) posts: posts::Data,
    pub(crate) messages: messages::Data,
    pub(crate) attachments: attachments::Data,
    pub(crate) comments: comments::Data,
    pub(crate) social: social::Data,
    pub(crate) users: users::Data,
    pub(crate) notifications: notifications::Data,
    pub(crate) vault: vault::Data,
    pub(crate) webhooks: webhooks::Data,
    pub(crate) surface: surface::Data,
    pub(crate) stream: stream::Data,
    pub(crate) auth: auth::Data,
    pub(crate) notarisation: notarisation::Data,
    pub(crate) polls: polls::Data,
}

/// The Colony's state inside the sandbox.
#[derive(Default)]
pub(crate) struct State {
    data: Mutex<Data>,
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Data> {
        // Every handler leaves `Data` consistent between statements it runs
        // under the lock, so a poisoned lock is still usable.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Data {
    /// Creates an account and returns its id and API key.
    pub(crate) fn create_account(
        &mut self,
        username: &str,
        display_name: &str,
        bio: Option<String>,
        capabilities: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> ColonyResult<(Uuid, String)> {
        if self.by_username.contains_key(username) {
            return Err(ColonyError::conflict(
                "USERNAME_TAKEN",
                "username already taken",
            ));
        }
        let id = Uuid::new_v4();
        let api_key = format!("col_sandbox_{}", id.simple());
        let user = types::User {
            extra: Default::default(),
            avatar_url: format!("https://thecolony.cc/avatars/{username}.png"),
            bio,
            capabilities,
            created_at: chrono::Utc::now(),
            current_model: None,
            display_name: display_name.to_owned(),
            evm_address: None,
            harness: None,
            id,
            karma: 0,
            last_active: None,
            lightning_address: None,
            nostr_pubkey: None,
            npub: None,
            social_links: None,
            team_role: None,
            trust_level: None,
            user_type: types::UserType::Agent,
            username: username.to_owned(),
        };
        self.accounts.insert(
            id,
            Account {
                user,
                api_key: api_key.clone(),
                two_factor: None,
                pending: None,
                activity: 0,
                email: Default::default(),
            },
        );
        self.by_key.insert(api_key.clone(), id);
        self.by_username.insert(username.to_owned(), id);
        Ok((id, api_key))
    }

    /// Hard-deletes an account: its key, tokens and claim stop working and
    /// its username is free again.
    pub(crate) fn remove_account(&mut self, id: Uuid) {
        let Some(account) = self.accounts.remove(&id) else {
            return;
        };
        self.by_key.remove(&account.api_key);
        self.by_username.remove(&account.user.username);
        self.tokens.retain(|_, (owner, _)| *owner != id);
        self.auth.claims.retain(|_, owner| *owner != id);
    }

    /// Gives an account a new API key; the old one stops working.
    pub(crate) fn replace_key(&mut self, id: Uuid) -> ColonyResult<String> {
        let new_key = format!("col_sandbox_{}", Uuid::new_v4().simple());
        let account = self
            .accounts
            .get_mut(&id)
            .ok_or_else(|| ColonyError::not_found("user"))?;
        let old = std::mem::replace(&mut account.api_key, new_key.clone());
        self.by_key.remove(&old);
        self.by_key.insert(new_key.clone(), id);
        Ok(new_key)
    }

    pub(crate) fn user(&self, id: &Uuid) -> ColonyResult<&types::User> {
        self.accounts
            .get(id)
            .map(|a| &a.user)
            .ok_or_else(|| ColonyError::not_found("user"))
    }

    /// Finds an active account by id or username. An account still pending
    /// its registration confirm is inactive: the service answers 404 for it,
    /// as for a user that does not exist.
    pub(crate) fn find_user(&self, id_or_name: &str) -> ColonyResult<Uuid> {
        let active = |id: &Uuid| self.accounts.get(id).is_some_and(|a| a.pending.is_none());
        if let Ok(id) = Uuid::parse_str(id_or_name) {
            if active(&id) {
                return Ok(id);
            }
        }
        self.by_username
            .get(id_or_name)
            .copied()
            .filter(active)
            .ok_or_else(|| ColonyError::not_found("user"))
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller(pub(crate) Uuid);

impl FromRequestParts<Arc<Shared>> for Caller {
    type Rejection = ColonyError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ColonyError::unauthorized("Not authenticated"))?;
        let epoch = shared.faults.token_epoch();
        let data = shared.colony.lock();
        match data.tokens.get(token) {
            Some((id, issued)) if *issued == epoch && data.accounts.contains_key(id) => {
                Ok(Caller(*id))
            }
            Some(_) => Err(ColonyError::unauthorized("Token expired")),
            None => Err(ColonyError::unauthorized("Invalid token")),
        }
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/token", post(token))
        .route("/api/v1/auth/rotate-key", post(rotate_key))
        .merge(auth::routes())
        .merge(posts::routes())
        .merge(messages::routes())
        .merge(groups::routes())
        .merge(attachments::routes())
        .merge(comments::routes())
        .merge(social::routes())
        .merge(users::routes())
        .merge(notifications::routes())
        .merge(vault::routes())
        .merge(webhooks::routes())
        .merge(surface::routes())
        .merge(stream::routes())
        .merge(deprecations::routes())
        .merge(notarisation::routes())
        .merge(polls::routes())
}

/// Replays writes that repeat an `Idempotency-Key`: same key and body → the
/// first response with `Idempotent-Replay: true`; same key, other body → 409.
/// Also counts each account's successful writes outside `/auth/`, which is
/// what the service calls activity (an account that has acted can no longer
/// delete itself).
pub(crate) async fn idempotency(
    AxumState(shared): AxumState<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let path = request.uri().path();
    let acting = (is_write && path.starts_with("/api/v1/") && !path.starts_with("/api/v1/auth/"))
        .then(|| bearer_owner(&shared, request.headers()))
        .flatten();
    let response = replay_or_run(&shared, request, next, is_write).await;
    if let Some(id) = acting {
        if response.status().is_success() {
            if let Some(account) = shared.colony.lock().accounts.get_mut(&id) {
                account.activity += 1;
            }
        }
    }
    response
}

/// The account a request's bearer token belongs to.
fn bearer_owner(shared: &Shared, headers: &axum::http::HeaderMap) -> Option<Uuid> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    shared.colony.lock().tokens.get(token).map(|(id, _)| *id)
}

async fn replay_or_run(shared: &Shared, request: Request, next: Next, is_write: bool) -> Response {
    let key = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (Some(key), true, true) = (key, is_write, request.uri().path().starts_with("/api/v1/"))
    else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = body.collect().await.map(|b| b.to_bytes()) else {
        return ColonyError::bad_request("BAD_BODY", "could not read the body").into_response();
    };
    if bytes.len() > MAX_BODY {
        return ColonyError::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE", "body too large")
            .into_response();
    }
    // Who is asking decides the key's scope; unauthenticated writes (register)
    // share one scope.
    let caller = bearer_owner(shared, &parts.headers).unwrap_or(Uuid::nil());
    let mut fingerprint = format!("{} {}\n", parts.method, parts.uri.path()).into_bytes();
    fingerprint.extend_from_slice(&bytes);
    let slot = (caller, key);
    if let Some((seen, status, body)) = shared.colony.lock().idempotency.get(&slot).cloned() {
        if seen != fingerprint {
            return ColonyError::conflict(
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with a different request",
            )
            .into_response();
        }
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        response
            .headers_mut()
            .insert("idempotent-replay", HeaderValue::from_static("true"));
        return response;
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = response.status();
    // Only settled outcomes are remembered: a 5xx must stay retryable.
    if status.is_server_error() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if status.is_success() {
        shared
            .colony
            .lock()
            .idempotency
            .insert(slot, (fingerprint, status.as_u16(), body.to_vec()));
    }
    Response::from_parts(parts, Body::from(body))
}

async fn register(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::AgentRegister>,
) -> ColonyResult<(StatusCode, Json<types::AgentRegisterResponse>)> {
    let mut data = shared.colony.lock();
    auth::purge_expired(&mut data);
    // Usernames are kept lower-case, as the service normalises them.
    let username = body.username.to_lowercase();
    let (id, api_key) = data.create_account(
        &username,
        body.display_name.as_str(),
        body.bio.map(|b| b.to_string()),
        body.capabilities,
    )?;
    Ok((
        StatusCode::CREATED,
        Json(types::AgentRegisterResponse {
            extra: Default::default(),
            api_key,
            id,
            important: "Store the API key now; it is not shown again.".into(),
            key_persistence_required: true,
            username,
        }),
    ))
}

async fn token(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::TokenRequest>,
) -> ColonyResult<Json<types::TokenResponse>> {
    let epoch = shared.faults.token_epoch();
    let mut data = shared.colony.lock();
    auth::purge_expired(&mut data);
    let id = *data.by_key.get(body.api_key.as_str()).ok_or_else(|| {
        ColonyError::new(
            StatusCode::UNAUTHORIZED,
            "AUTH_INVALID_KEY",
            "Invalid API key",
        )
    })?;
    if let Some(account) = data.accounts.get_mut(&id) {
        // A pending account's key is refused everywhere, and mints no token.
        if account.pending.is_some() {
            return Err(ColonyError::new(
                StatusCode::FORBIDDEN,
                "AUTH_PENDING_ACTIVATION",
                "This account is pending activation: confirm it with \
                 /auth/register/confirm before using its key.",
            ));
        }
        if let Some(two_factor) = account.two_factor.as_mut() {
            // The service's answers, in its error envelope (colony-sdk maps
            // these codes to its two-factor errors).
            let Some(code) = body.totp_code.as_ref().map(|c| c.to_string()) else {
                return Err(ColonyError::new(
                    StatusCode::UNAUTHORIZED,
                    "AUTH_2FA_REQUIRED",
                    "Two-factor authentication is enabled; a totp_code is required.",
                ));
            };
            if code != two_factor.current || !two_factor.used.insert(code) {
                return Err(ColonyError::new(
                    StatusCode::UNAUTHORIZED,
                    "AUTH_2FA_INVALID",
                    "Invalid 2FA code.",
                ));
            }
        }
    }
    data.exchanges += 1;
    data.next_token += 1;
    // JWT-shaped, so clients that read `exp` find one (24 h ahead).
    let exp = chrono::Utc::now().timestamp() + 24 * 3600;
    let claims = format!(r#"{{"sub":"{id}","exp":{exp},"n":{}}}"#, data.next_token);
    let token = format!(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.sandbox",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.as_bytes())
    );
    data.tokens.insert(token.clone(), (id, epoch));
    Ok(Json(types::TokenResponse {
        extra: Default::default(),
        access_token: token,
        token_type: "bearer".into(),
    }))
}

async fn rotate_key(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::RotateKeyResponse>> {
    let new_key = shared.colony.lock().replace_key(caller.0)?;
    Ok(Json(types::RotateKeyResponse {
        extra: Default::default(),
        api_key: new_key,
        message: "The previous key no longer works.".into(),
    }))
}

/// Test-side access to the fake Colony.
#[derive(Clone)]
pub struct ColonyHandle {
    shared: Arc<Shared>,
}

impl ColonyHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        ColonyHandle { shared }
    }

    /// Registers an agent directly and returns its API key.
    pub fn register(&self, username: &str) -> String {
        let mut data = self.shared.colony.lock();
        match data.create_account(username, username, None, None) {
            Ok((_, key)) => key,
            Err(_) => data
                .by_username
                .get(username)
                .and_then(|id| data.accounts.get(id))
                .map(|a| a.api_key.clone())
                .unwrap_or_default(),
        }
    }

    /// Account id of a username.
    pub fn user_id(&self, username: &str) -> Option<String> {
        self.shared
            .colony
            .lock()
            .by_username
            .get(username)
            .map(Uuid::to_string)
    }

    /// Turns two-factor authentication on for `username`, with `code` as the
    /// code of the current window: token exchanges then need `totp_code`, are
    /// refused with 401 `AUTH_2FA_REQUIRED` without one and 401
    /// `AUTH_2FA_INVALID` with a wrong or already used one. False if no such
    /// user.
    pub fn enable_2fa(&self, username: &str, code: &str) -> bool {
        self.with_two_factor(username, |t| {
            *t = Some(TwoFactor {
                current: code.to_owned(),
                used: Default::default(),
            })
        })
    }

    /// Moves a two-factor account to the next window, whose code is `code`
    /// (codes accepted before stay used). False if no such user or 2FA is off.
    pub fn set_2fa_code(&self, username: &str, code: &str) -> bool {
        let mut on = false;
        self.with_two_factor(username, |t| {
            if let Some(t) = t {
                t.current = code.to_owned();
                on = true;
            }
        }) && on
    }

    fn with_two_factor(&self, username: &str, f: impl FnOnce(&mut Option<TwoFactor>)) -> bool {
        let mut data = self.shared.colony.lock();
        let Some(id) = data.by_username.get(username).copied() else {
            return false;
        };
        data.accounts
            .get_mut(&id)
            .map(|a| f(&mut a.two_factor))
            .is_some()
    }

    /// Sets how long a registration begun with `/auth/register/begin` waits
    /// for its confirm (default 15 minutes), for registrations begun from
    /// now on. A zero window makes every new claim lapse at once.
    pub fn set_claim_window(&self, window: std::time::Duration) {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        self.shared.colony.lock().auth.claim_window = Some(window);
    }

    /// Lapses the claim window of `username`'s pending registration now, as
    /// if its 15 minutes had passed. False if no such pending account.
    pub fn expire_claim(&self, username: &str) -> bool {
        let mut data = self.shared.colony.lock();
        let Some(id) = data.by_username.get(username).copied() else {
            return false;
        };
        match data.accounts.get_mut(&id).and_then(|a| a.pending.as_mut()) {
            Some(claim) => {
                claim.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
                true
            }
            None => false,
        }
    }

    /// Makes `username`'s account older by `by` (its `created_at` moves
    /// back), for the rules that depend on an account's age. False if no
    /// such user.
    pub fn age_account(&self, username: &str, by: std::time::Duration) -> bool {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        let mut data = self.shared.colony.lock();
        let Some(id) = data.by_username.get(username).copied() else {
            return false;
        };
        data.accounts
            .get_mut(&id)
            .map(|a| a.user.created_at -= by)
            .is_some()
    }

    /// Every mail the sandbox "sent" (recovery-email verifications, key
    /// recovery tokens), oldest first; also at `GET /_sandbox/colony/mail`.
    pub fn sent_mail(&self) -> Vec<ColonyMail> {
        self.shared.colony.lock().auth.outbox.clone()
    }

    /// Key → token exchanges served so far.
    pub fn token_exchanges(&self) -> u64 {
        self.shared.colony.lock().exchanges
    }

    /// Sets an account's karma (vault writes need 10). False if no such user.
    pub fn set_karma(&self, username: &str, karma: i64) -> bool {
        let mut data = self.shared.colony.lock();
        let Some(id) = data.by_username.get(username).copied() else {
            return false;
        };
        data.accounts
            .get_mut(&id)
            .map(|a| a.user.karma = karma)
            .is_some()
    }

    /// Gives an account's vault this quota instead of the 10 MiB free tier
    /// (applied at once if already provisioned, else on the first write).
    pub fn set_vault_quota(&self, username: &str, bytes: u64) -> bool {
        let mut data = self.shared.colony.lock();
        let Some(id) = data.by_username.get(username).copied() else {
            return false;
        };
        data.vault.set_quota(id, bytes);
        true
    }

    /// Webhook deliveries started so far, failed ones included.
    pub fn webhook_deliveries(&self) -> u64 {
        self.shared.colony.lock().webhooks.deliveries()
    }

    /// Number of posts stored.
    pub fn post_count(&self) -> usize {
        self.shared.colony.lock().posts.posts.len()
    }

    /// Adds `n` posts by `username` to a colony without any request, for
    /// pagination tests. Titles are "Post 0", "Post 1"…
    pub fn seed_posts(&self, username: &str, colony: &str, n: usize) {
        let mut data = self.shared.colony.lock();
        let Some(author) = data
            .by_username
            .get(username)
            .and_then(|id| data.accounts.get(id))
            .map(|a| a.user.clone())
        else {
            return;
        };
        for i in 0..n {
            let _ = data.posts.insert(posts::NewPost {
                author: author.clone(),
                colony_slug: Some(colony.to_owned()),
                title: format!("Post {i}"),
                body: format!("Body of post {i}"),
                post_type: "discussion".into(),
                metadata: None,
                tags: None,
            });
        }
    }
}
