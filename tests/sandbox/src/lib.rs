//! An in-memory fake of the services agentwire talks to, served over real
//! HTTP on 127.0.0.1 so the SDK's tests and examples exercise the whole
//! request path, with knobs to inject faults.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = agentwire_sandbox::Sandbox::start().await?;
//! sandbox.faults().fail_next(1, 503);
//! println!("{} {}", sandbox.base_url(), sandbox.promptev().project_key());
//! # Ok(())
//! # }
//! ```
//!
//! Services answer under their real paths (Promptev under `/api/v1/` and,
//! for its previous product, `/api/sdk/v1/`).
//! Control routes live under `/_sandbox/` and are never faulted or counted:
//! `GET /_sandbox/health` and `POST /_sandbox/faults` (see [`Faults`]).

#![warn(missing_docs)]

mod colony;
mod contract;
mod fastapi;
mod faults;
mod mycel;
mod promptev;
mod tls;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

pub use crate::colony::surface::OauthRequest;
pub use crate::colony::{ColonyHandle, ColonyMail, PollRequest, StreamRequest};
pub use crate::faults::Faults;
pub use crate::mycel::{MycelHandle, MycelIdentity, SentMail, DEFAULT_INVITE_CODE};
pub use crate::promptev::{
    ChatTurn, PromptevHandle, RunRecord, Turn, DEFAULT_API_KEY, DEFAULT_PROJECT_KEY,
};

use crate::fastapi::{ApiError, FastJson};
use crate::faults::Action;

/// Pause between two streamed events unless configured otherwise.
pub const DEFAULT_EVENT_DELAY: Duration = Duration::from_millis(5);

/// State shared by the server task and the handles given to tests.
pub(crate) struct Shared {
    pub(crate) faults: Faults,
    pub(crate) requests: AtomicU64,
    pub(crate) promptev: promptev::State,
    pub(crate) colony: colony::State,
    pub(crate) mycel: mycel::State,
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    base_url: String,
    addr: SocketAddr,
    ca_certificate_pem: Option<String>,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

/// Configures a [`Sandbox`] before it starts.
#[derive(Clone, Debug)]
pub struct SandboxBuilder {
    project_key: String,
    event_delay: Duration,
    bind: SocketAddr,
    tls: bool,
    contract_answers: bool,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            project_key: DEFAULT_PROJECT_KEY.to_string(),
            event_delay: DEFAULT_EVENT_DELAY,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: false,
            contract_answers: false,
        }
    }
}

impl SandboxBuilder {
    /// The one Promptev project key accepted (default [`DEFAULT_PROJECT_KEY`]).
    pub fn project_key(mut self, key: impl Into<String>) -> Self {
        self.project_key = key.into();
        self
    }

    /// Pause between two events of a stream (default
    /// [`DEFAULT_EVENT_DELAY`]); zero sends them back to back.
    pub fn event_delay(mut self, delay: Duration) -> Self {
        self.event_delay = delay;
        self
    }

    /// Address to listen on (default `127.0.0.1:0`, a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Serves HTTPS instead of HTTP (default false), with a certificate
    /// made at start-up for `localhost`, `127.0.0.1` and `::1`, signed by a
    /// throw-away CA: trust [`Sandbox::ca_certificate_pem`]. The Mycel inbox
    /// is then `wss://`; the fault knobs work the same.
    pub fn tls(mut self, yes: bool) -> Self {
        self.tls = yes;
        self
    }

    /// Answers every operation of the contracts (`openapi/*.json`) with a
    /// value made from its response schema — its first documented success,
    /// every property filled — instead of the stateful handlers (default
    /// false). Without it, only operations that have no handler are answered
    /// that way. For tests that check each kept operation's answer decodes.
    pub fn contract_answers(mut self, yes: bool) -> Self {
        self.contract_answers = yes;
        self
    }

    /// Binds the listener and starts serving on the current Tokio runtime;
    /// returns once connections are accepted.
    pub async fn start(self) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(self.bind).await?;
        let addr = listener.local_addr()?;
        let tls = if self.tls {
            Some(tls::generate(addr.ip())?)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            faults: Faults::default(),
            requests: AtomicU64::new(0),
            promptev: promptev::State::new(self.project_key, self.event_delay),
            colony: colony::State::default(),
            mycel: mycel::State::default(),
        });
        let mut router = router(shared.clone());
        if self.contract_answers {
            router = router.layer(axum::middleware::from_fn(answer_from_contract));
        }
        let (acceptor, ca_certificate_pem) = match tls {
            Some(t) => (Some(t.acceptor), Some(t.ca_pem)),
            None => (None, None),
        };
        let task = tokio::spawn(serve(listener, shared.clone(), router, acceptor));
        // A wildcard listener is reachable through loopback; clients cannot
        // connect to 0.0.0.0 itself everywhere.
        let mut url_addr = addr;
        if url_addr.ip().is_unspecified() {
            url_addr.set_ip(match addr {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let scheme = if ca_certificate_pem.is_some() {
            "https"
        } else {
            "http"
        };
        Ok(Sandbox {
            base_url: format!("{scheme}://{url_addr}"),
            addr,
            ca_certificate_pem,
            shared,
            task: Some(task),
        })
    }
}

impl Sandbox {
    /// Starts a sandbox with default settings on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Sandbox> {
        SandboxBuilder::default().start().await
    }

    /// A builder for a sandbox with non-default settings.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// `http://127.0.0.1:PORT` (`https://` when started with
    /// [`SandboxBuilder::tls`]), without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The PEM of the CA that signed the server certificate, when serving
    /// HTTPS; trust it to reach the sandbox.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.ca_certificate_pem.as_deref()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The fake Colony's data.
    pub fn colony(&self) -> ColonyHandle {
        ColonyHandle::new(self.shared.clone())
    }

    /// The fake Mycel's data and knobs.
    pub fn mycel(&self) -> MycelHandle {
        MycelHandle::new(self.shared.clone())
    }

    /// The fake Promptev service's data.
    pub fn promptev(&self) -> PromptevHandle {
        PromptevHandle::new(self.shared.clone())
    }

    /// Service requests received so far, faulted ones included; control
    /// routes are not counted.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Stops the server and waits for it to be gone; open connections are
    /// closed.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(promptev::routes())
        .merge(mycel::routes())
        .merge(
            colony::routes()
                .layer(axum::middleware::from_fn_with_state(
                    shared.clone(),
                    colony::idempotency,
                ))
                .layer(axum::middleware::from_fn_with_state(
                    shared.clone(),
                    colony::stream::observe,
                )),
        )
        .route("/_sandbox/health", get(health))
        .route("/_sandbox/faults", post(control_faults))
        .route("/_sandbox/colony/register", post(control_colony_register))
        .route("/_sandbox/colony/seed", post(control_colony_seed))
        .route("/_sandbox/mycel/agent", post(control_mycel_agent))
        .route("/_sandbox/mycel/push", post(control_mycel_push))
        .route("/_sandbox/mycel/mail", get(control_mycel_mail))
        .route(
            "/_sandbox/mycel/restart-inbox",
            post(control_mycel_restart_inbox),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Outside the routes and the fallback, so contract answers get the
        // headers too.
        .layer(axum::middleware::from_fn(colony::deprecations::announce))
        .with_state(shared)
}

/// An operation of a contract without a handler gets a value of its response
/// schema; anything else is FastAPI's 404.
async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> Response<Body> {
    contract::answer(&method, uri.path())
        .unwrap_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Not Found").into_response())
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response<Body> {
    contract::answer(&method, uri.path()).unwrap_or_else(|| {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").into_response()
    })
}

/// With [`SandboxBuilder::contract_answers`]: every contract operation is
/// answered from its schema before any handler sees it.
async fn answer_from_contract(
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    if !request.uri().path().starts_with("/_sandbox/") {
        if let Some(answer) = contract::answer(request.method(), request.uri().path()) {
            return answer;
        }
    }
    next.run(request).await
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "ok": true }))
}

/// Body of `POST /_sandbox/faults`; every knob is optional and `clear` is
/// applied first, so one call can reset and re-arm.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultControl {
    #[serde(default)]
    clear: bool,
    fail_next: Option<FailNext>,
    drop_next: Option<u32>,
    truncate_next: Option<u32>,
    latency_ms: Option<u64>,
    rate_limit: Option<RateLimitControl>,
    #[serde(default)]
    expire_tokens: bool,
    /// Like `fail_next`, for The Colony's token exchange only.
    fail_token_next: Option<FailNext>,
    /// Like `drop_next`, for The Colony's token exchange only.
    drop_token_next: Option<u32>,
    /// Holds every Colony token exchange this long; 0 turns it off.
    hang_token_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct FailNext {
    #[serde(default = "one")]
    n: u32,
    status: u16,
    retry_after: Option<u64>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
struct RateLimitControl {
    limit: u64,
    remaining: u64,
    reset: u64,
}

#[derive(Deserialize)]
struct ColonyRegister {
    username: String,
}

/// Registers a Colony agent for another process (benchmarks, scripts).
async fn control_colony_register(
    State(shared): State<Arc<Shared>>,
    FastJson(body): FastJson<ColonyRegister>,
) -> Json<serde_json::Value> {
    let key = ColonyHandle::new(shared).register(&body.username);
    Json(json!({ "api_key": key }))
}

#[derive(Deserialize)]
struct ColonySeed {
    username: String,
    #[serde(default = "general")]
    colony: String,
    count: usize,
}

fn general() -> String {
    "general".into()
}

/// Adds posts without requests, for benchmarks in another process.
async fn control_colony_seed(
    State(shared): State<Arc<Shared>>,
    FastJson(body): FastJson<ColonySeed>,
) -> Json<serde_json::Value> {
    let handle = ColonyHandle::new(shared);
    handle.seed_posts(&body.username, &body.colony, body.count);
    Json(json!({ "ok": true, "posts": handle.post_count() }))
}

#[derive(Deserialize)]
struct MycelAgent {
    user_id: String,
}

/// Creates a Mycel external agent (under a bench owner) for another process
/// and returns its token.
async fn control_mycel_agent(
    State(shared): State<Arc<Shared>>,
    FastJson(body): FastJson<MycelAgent>,
) -> Json<serde_json::Value> {
    let handle = MycelHandle::new(shared);
    let owner = handle.register_owner("control@sandbox.local", "control");
    let agent = handle.create_external(&owner.id, &body.user_id, &body.user_id);
    Json(json!({ "token": agent.token, "user_id": agent.id }))
}

#[derive(Deserialize)]
struct MycelPush {
    user_id: String,
    n: usize,
}

/// Queues `n` inbox notifications for a Mycel user; returns the last seq.
async fn control_mycel_push(
    State(shared): State<Arc<Shared>>,
    FastJson(body): FastJson<MycelPush>,
) -> Json<serde_json::Value> {
    let last = MycelHandle::new(shared).push_notifications(&body.user_id, body.n);
    Json(json!({ "last_seq": last }))
}

/// The mails Mycel "sent" (the one-time codes of `send-otp`), oldest
/// first, as a local mail catcher shows them.
async fn control_mycel_mail(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!({ "messages": MycelHandle::new(shared).sent_mail() }))
}

/// Restarts Mycel's inbox state (see [`MycelHandle::restart_inbox`]).
async fn control_mycel_restart_inbox(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    MycelHandle::new(shared).restart_inbox();
    Json(json!({ "status": "restarted" }))
}

async fn control_faults(
    State(shared): State<Arc<Shared>>,
    FastJson(control): FastJson<FaultControl>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if let Some(fail) = &control.fail_next {
        if !(100..=599).contains(&fail.status) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "fail_next.status must be an HTTP status code",
            ));
        }
    }
    if let Some(fail) = &control.fail_token_next {
        if !(100..=599).contains(&fail.status) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "fail_token_next.status must be an HTTP status code",
            ));
        }
    }
    let faults = &shared.faults;
    if control.clear {
        faults.clear();
    }
    if let Some(fail) = control.fail_next {
        match fail.retry_after {
            Some(secs) => faults.fail_next_with_retry_after(fail.n, fail.status, secs),
            None => faults.fail_next(fail.n, fail.status),
        }
    }
    if let Some(n) = control.drop_next {
        faults.drop_next(n);
    }
    if let Some(n) = control.truncate_next {
        faults.truncate_next(n);
    }
    if let Some(ms) = control.latency_ms {
        faults.set_latency(Duration::from_millis(ms));
    }
    if let Some(rl) = control.rate_limit {
        faults.set_rate_limit_headers(rl.limit, rl.remaining, rl.reset);
    }
    if control.expire_tokens {
        faults.expire_tokens();
    }
    if let Some(fail) = control.fail_token_next {
        match fail.retry_after {
            Some(secs) => faults.fail_token_next_with_retry_after(fail.n, fail.status, secs),
            None => faults.fail_token_next(fail.n, fail.status),
        }
    }
    if let Some(n) = control.drop_token_next {
        faults.drop_token_next(n);
    }
    if let Some(ms) = control.hang_token_ms {
        faults.hang_token(Duration::from_millis(ms));
    }
    Ok(Json(json!({ "ok": true, "pending": faults.pending() })))
}

/// Accepts connections until the task is aborted; aborting drops the
/// `JoinSet`, which closes every open connection with it.
async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    router: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Events are small writes that should not wait for Nagle.
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    let router = router.clone();
                    let tls = tls.clone();
                    // The TLS handshake runs in the connection's task, so a
                    // slow or failing client never holds up `accept`.
                    connections.spawn(async move {
                        match tls {
                            None => serve_connection(stream, shared, router).await,
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(stream) => serve_connection(stream, shared, router).await,
                                Err(e) => {
                                    tracing::debug!(error = %e, "sandbox TLS handshake failed");
                                }
                            },
                        }
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off rather
                    // than spin.
                    tracing::warn!(error = %e, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves HTTP/1.1 on one connection, plain or TLS, until it ends.
async fn serve_connection<IO>(io: IO, shared: Arc<Shared>, router: Router)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let service =
        hyper::service::service_fn(move |req| handle(shared.clone(), router.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        // The Mycel inbox is a WebSocket.
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(error = %e, "sandbox connection ended");
    }
}

/// Returned by the connection service to make hyper close the connection
/// without writing a response.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by sandbox fault")
    }
}

impl std::error::Error for DropConnection {}

fn is_control(path: &str) -> bool {
    path == "/_sandbox" || path.starts_with("/_sandbox/")
}

async fn handle(
    shared: Arc<Shared>,
    router: Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let req = req.map(Body::new);
    if is_control(req.uri().path()) {
        return Ok(call(router, req).await);
    }
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let plan = shared.faults.plan_for(req.uri().path());
    if !plan.latency.is_zero() {
        tokio::time::sleep(plan.latency).await;
    }
    let mut response = match plan.action {
        None => call(router, req).await,
        Some(Action::Drop) => {
            tracing::debug!(path = req.uri().path(), "sandbox fault: drop");
            return Err(DropConnection);
        }
        Some(Action::Fail {
            status,
            retry_after,
        }) => injected(status, retry_after),
        Some(Action::Truncate) => truncate(call(router, req).await).await,
        Some(Action::DropAnswer) => {
            // The whole response is produced (an idempotency record
            // included) before the connection goes.
            let (_, body) = call(router, req).await.into_parts();
            let _ = body.collect().await;
            tracing::debug!("sandbox fault: answer dropped after processing");
            return Err(DropConnection);
        }
    };
    if let Some(rl) = plan.rate_limit {
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", rl.limit),
            ("x-ratelimit-remaining", rl.remaining),
            ("x-ratelimit-reset", rl.reset),
        ] {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    Ok(response)
}

async fn call(router: Router, req: Request<Body>) -> Response<Body> {
    match router.oneshot(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn injected(status: u16, retry_after: Option<u64>) -> Response<Body> {
    let code = StatusCode::from_u16(status)
        .ok()
        .filter(|c| c.as_u16() >= 100)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        code,
        Json(json!({ "detail": format!("injected {status}") })),
    )
        .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Sends the real head and half the real body, then fails the body so hyper
/// breaks the connection mid-message.
async fn truncate(response: Response<Body>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let full = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    // Announcing the full length makes the cut detectable even by a client
    // that would accept a clean end of a chunked body.
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    let half = full.slice(..full.len() / 2);
    let chunks = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(
        futures::stream::once(async {
            // Returning Pending once lets hyper flush the head and the half
            // body before the error makes it drop the connection.
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(std::io::Error::other("body truncated by sandbox fault"))
        }),
    );
    Response::from_parts(parts, Body::from_stream(chunks))
}
