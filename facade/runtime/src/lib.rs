//! The request path shared by every agentwire service.
//!
//! Each generated transport routes every operation through [`Runtime`]: the
//! transport builds the `reqwest::Request`, the runtime sends it. In one place,
//! for all services, it owns:
//!
//! | concern | module |
//! |---|---|
//! | credentials per service | [`auth`] |
//! | retries, backoff, `Retry-After`, idempotency keys | [`retry`], [`Idempotency`] |
//! | per-request timeout | [`RuntimeBuilder::timeout`] |
//! | `on_request` / `on_response` callbacks | [`hooks`] |
//! | `X-RateLimit-*` state | [`rate_limit`] |
//! | opt-in circuit breaker | [`circuit`] |
//! | opt-in GET cache | `cache` |
//! | one tracing span per operation | [`Runtime::execute`] |
//! | secrets kept out of output | [`redact`] |
//! | one error type | [`error`] |
//!
//! Application code does not use this crate directly: the `agentwire` facade
//! re-exports what callers need.

#![warn(missing_docs)]

pub mod auth;
mod cache;
pub mod circuit;
pub mod error;
pub mod hooks;
pub mod rate_limit;
pub mod redact;
pub mod retry;
pub mod sse;
pub mod token_cache;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;
use progenitor_client::ResponseValue;
use tracing::Instrument;

pub use crate::auth::{AuthStrategy, BearerToken, NoAuth, PathKey, TokenExchange};
pub use crate::circuit::CircuitBreakerConfig;
pub use crate::error::{ApiError, DecodeError, Error, NetworkError, NetworkErrorKind, Result};
pub use crate::hooks::{RequestHook, RequestInfo, ResponseHook, ResponseInfo};
pub use crate::rate_limit::RateLimitInfo;
pub use crate::redact::Redactor;
pub use crate::retry::RetryConfig;

use crate::auth::{AuthContext, AuthFailure};
use crate::cache::{CachedResponse, ResponseCache};
use crate::circuit::CircuitBreaker;

/// Header that makes a write safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Prefix of the hook error that tells [`Runtime::finish`] the breaker is open.
const CIRCUIT_OPEN: &str = "agentwire: circuit open after ";

/// Which writes (POST, PATCH) may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Idempotency {
    /// Only writes that already carry an `Idempotency-Key`.
    KeyedOnly,
    /// Give every write without one a fresh key, then retry it like a read.
    /// For services that deduplicate on the key (The Colony).
    AddKeyToWrites,
    /// Retry writes as the service's own SDK does, key or not (Promptev,
    /// whose SDK retries its POSTs on 502/503/504).
    RetryAllWrites,
}

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    service: &'static str,
    auth: Arc<dyn AuthStrategy>,
    retry: RetryConfig,
    idempotency: Idempotency,
    timeout: Option<Duration>,
    streaming: BTreeSet<&'static str>,
    on_request: Vec<RequestHook>,
    on_response: Vec<ResponseHook>,
    circuit: Option<CircuitBreakerConfig>,
    cache_ttl: Option<Duration>,
    redactor: Redactor,
}

impl std::fmt::Debug for RuntimeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeBuilder")
            .field("service", &self.service)
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RuntimeBuilder {
    /// Sets the credentials strategy (default: none).
    pub fn auth(mut self, auth: Arc<dyn AuthStrategy>) -> Self {
        self.auth = auth;
        self
    }

    /// Sets the retry policy (default: [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets which writes may be retried (default: [`Idempotency::KeyedOnly`]).
    pub fn idempotency(mut self, policy: Idempotency) -> Self {
        self.idempotency = policy;
        self
    }

    /// Limits each attempt of a non-streaming operation to `timeout`, from
    /// sending to the end of the body (default: none here; facades set one).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Names operations whose response is a long-lived stream: they get no
    /// total timeout (the client's read timeout still applies) and are never
    /// cached.
    pub fn streaming_operations(mut self, ops: &[&'static str]) -> Self {
        self.streaming.extend(ops.iter().copied());
        self
    }

    /// Adds a callback run before every attempt.
    pub fn on_request(mut self, hook: impl Fn(&RequestInfo) + Send + Sync + 'static) -> Self {
        self.on_request.push(Arc::new(hook));
        self
    }

    /// Adds a callback run after every attempt.
    pub fn on_response(mut self, hook: impl Fn(&ResponseInfo) + Send + Sync + 'static) -> Self {
        self.on_response.push(Arc::new(hook));
        self
    }

    /// Enables the circuit breaker.
    pub fn circuit_breaker(mut self, config: CircuitBreakerConfig) -> Self {
        self.circuit = Some(config);
        self
    }

    /// Enables the GET cache with the given time to live.
    pub fn cache(mut self, ttl: Duration) -> Self {
        self.cache_ttl = Some(ttl);
        self
    }

    /// Registers an extra secret to mask in all output.
    pub fn secret(self, secret: &str) -> Self {
        self.redactor.add(secret);
        self
    }

    /// Finishes the runtime.
    pub fn build(self) -> Runtime {
        self.auth.register_secrets(&self.redactor);
        Runtime {
            inner: Arc::new(Inner {
                service: self.service,
                auth: self.auth,
                retry: self.retry,
                idempotency: self.idempotency,
                timeout: self.timeout,
                streaming: self.streaming,
                on_request: self.on_request,
                on_response: self.on_response,
                circuit: self.circuit.map(CircuitBreaker::new),
                cache: self.cache_ttl.map(ResponseCache::new),
                rate_limit: Mutex::new(None),
                redactor: self.redactor,
            }),
        }
    }
}

struct Inner {
    service: &'static str,
    auth: Arc<dyn AuthStrategy>,
    retry: RetryConfig,
    idempotency: Idempotency,
    timeout: Option<Duration>,
    streaming: BTreeSet<&'static str>,
    on_request: Vec<RequestHook>,
    on_response: Vec<ResponseHook>,
    circuit: Option<CircuitBreaker>,
    cache: Option<ResponseCache>,
    rate_limit: Mutex<Option<RateLimitInfo>>,
    redactor: Redactor,
}

/// The shared request path of one service client. Cheap to clone; clones share
/// state (token, rate-limit info, breaker, cache).
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("service", &self.inner.service)
            .field("auth", &self.inner.auth)
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// A final response: read whole inside the attempt (everything but streams
/// and error answers), or still streaming.
enum Reply {
    Buffered(CachedResponse),
    Streamed(reqwest::Response),
}

impl Reply {
    fn status(&self) -> http::StatusCode {
        match self {
            Reply::Buffered(whole) => whole.status,
            Reply::Streamed(response) => response.status(),
        }
    }
}

#[derive(Clone, Copy)]
struct AttemptPolicy {
    may_retry: bool,
    may_refresh: bool,
    /// Read the whole body inside the attempt, so that a connection that
    /// breaks mid-body is retried like one that broke before the head.
    buffer_body: bool,
}

/// What one attempt leads to.
enum Outcome {
    /// This is the operation's result.
    Final(reqwest::Result<Reply>),
    /// Worth another attempt after `delay`; `last` is returned if no further
    /// attempt can be made.
    Again {
        delay: Duration,
        last: reqwest::Result<reqwest::Response>,
        auth_refresh: bool,
    },
}

impl Runtime {
    /// Starts building the runtime of `service`.
    pub fn builder(service: &'static str) -> RuntimeBuilder {
        RuntimeBuilder {
            service,
            auth: Arc::new(NoAuth),
            retry: RetryConfig::default(),
            idempotency: Idempotency::KeyedOnly,
            timeout: None,
            streaming: BTreeSet::new(),
            on_request: Vec::new(),
            on_response: Vec::new(),
            circuit: None,
            cache_ttl: None,
            redactor: Redactor::default(),
        }
    }

    /// The service this runtime serves.
    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// The redactor holding this client's secrets.
    pub fn redactor(&self) -> &Redactor {
        &self.inner.redactor
    }

    /// The rate-limit headers of the latest response that had them.
    pub fn last_rate_limit(&self) -> Option<RateLimitInfo> {
        self.inner
            .rate_limit
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Empties the GET cache (no-op when caching is off).
    pub fn clear_cache(&self) {
        if let Some(c) = &self.inner.cache {
            c.clear();
        }
    }

    /// The retry policy in force.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// Called by the transport before each operation (progenitor's `pre`
    /// hook). Fails fast when the circuit breaker is open.
    pub fn before_send(
        &self,
        _request: &mut reqwest::Request,
        _operation: &'static str,
    ) -> std::result::Result<(), String> {
        match self.inner.circuit.as_ref().map(CircuitBreaker::admit) {
            Some(Err(failures)) => Err(format!("{CIRCUIT_OPEN}{failures}")),
            _ => Ok(()),
        }
    }

    /// Sends one operation: credentials, idempotency key, timeout, hooks,
    /// retries, rate-limit bookkeeping, breaker and cache — all inside one
    /// tracing span named `agentwire.operation`.
    ///
    /// It returns the final response whatever its status; mapping statuses to
    /// [`Error`] happens in [`Runtime::finish`], after the transport has had its
    /// say. The URL never enters the span: for Promptev it contains the key.
    pub async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let span = tracing::info_span!(
            "agentwire.operation",
            service = self.inner.service,
            operation,
            method = %request.method(),
            status = tracing::field::Empty,
            attempts = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self
            .execute_inner(client, request, operation)
            .instrument(span.clone())
            .await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Ok(r) = &result {
            span.record("status", r.status().as_u16());
        }
        result
    }

    async fn execute_inner(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
    ) -> reqwest::Result<reqwest::Response> {
        let inner = &*self.inner;
        let method = request.method().clone();
        let streaming = inner.streaming.contains(operation);
        if !streaming {
            if let Some(t) = inner.timeout {
                *request.timeout_mut() = Some(t);
            }
        }

        let cache_key = match (&inner.cache, &method) {
            (Some(_), &Method::GET) if !streaming => Some(request.url().as_str().to_owned()),
            _ => None,
        };
        if let (Some(cache), Some(key)) = (&inner.cache, &cache_key) {
            if let Some(hit) = cache.get(key) {
                tracing::debug!("served from cache");
                let _ = RAW_BODY.try_with(|cell| *cell.borrow_mut() = Some(hit.body.clone()));
                let info = self.request_info(&request, operation, 1);
                self.emit_response(info, Some(hit.status.as_u16()), Duration::ZERO, true);
                return Ok(rebuild(hit));
            }
        }

        let writes_retry = match inner.idempotency {
            Idempotency::RetryAllWrites => true,
            Idempotency::AddKeyToWrites => {
                if !is_idempotent(&method) && !request.headers().contains_key(IDEMPOTENCY_KEY) {
                    if let Ok(v) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                        request.headers_mut().insert(IDEMPOTENCY_KEY, v);
                    }
                }
                true
            }
            Idempotency::KeyedOnly => request.headers().contains_key(IDEMPOTENCY_KEY),
        };
        let may_retry = is_idempotent(&method) || writes_retry;

        // A body that cannot be cloned (a stream) gets exactly one attempt.
        let template = request.try_clone();
        let mut this = request;
        let mut attempt: u32 = 1;
        let mut refreshed_auth = false;
        loop {
            tracing::Span::current().record("attempts", attempt);
            let retry = AttemptPolicy {
                may_retry: may_retry && attempt <= inner.retry.max_retries,
                may_refresh: !refreshed_auth,
                buffer_body: !streaming,
            };
            match self.attempt(client, this, operation, attempt, retry).await {
                Outcome::Final(result) => {
                    return match result {
                        Ok(reply) => {
                            self.record_circuit(!reply.status().is_server_error());
                            Ok(self.settle(reply, &method, cache_key))
                        }
                        Err(e) => {
                            self.record_circuit(false);
                            Err(e.without_url())
                        }
                    };
                }
                Outcome::Again {
                    delay,
                    last,
                    auth_refresh,
                } => {
                    let Some(next) = template.as_ref().and_then(reqwest::Request::try_clone) else {
                        return last.map_err(reqwest::Error::without_url);
                    };
                    drop(last);
                    if auth_refresh {
                        // Not a retry in RetryConfig's sense: the one refresh
                        // on 401 happens whatever the policy says.
                        refreshed_auth = true;
                    } else {
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                    }
                    this = next;
                }
            }
        }
    }

    /// One HTTP attempt and the decision about what to do next.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
        attempt: u32,
        policy: AttemptPolicy,
    ) -> Outcome {
        let inner = &*self.inner;
        let cx = AuthContext {
            client,
            redactor: &inner.redactor,
            retry: &inner.retry,
        };
        match inner.auth.authorize(cx, &mut request).await {
            Ok(()) => {}
            Err(AuthFailure::Response(r)) => {
                tracing::debug!(status = r.status().as_u16(), "credential exchange refused");
                return Outcome::Final(Ok(Reply::Streamed(r)));
            }
            Err(AuthFailure::Transport(e)) => return Outcome::Final(Err(e)),
        }
        let info = self.request_info(&request, operation, attempt);
        if let Some(info) = &info {
            for hook in &inner.on_request {
                hook(info);
            }
        }
        // The credential that was sent, to tell the auth strategy which token
        // failed (a cheap, reference-counted copy).
        let sent_auth = policy
            .may_refresh
            .then(|| request.headers().get(http::header::AUTHORIZATION).cloned())
            .flatten();
        let sent_at = Instant::now();
        let result = client.execute(request).await;
        let elapsed = sent_at.elapsed();

        match result {
            Ok(response) => {
                let status = response.status();
                tracing::debug!(
                    attempt,
                    status = status.as_u16(),
                    elapsed_ms = elapsed.as_millis() as u64,
                    "response"
                );
                if let Some(rl) = RateLimitInfo::from_headers(response.headers()) {
                    *inner.rate_limit.lock().unwrap_or_else(|p| p.into_inner()) = Some(rl);
                }
                self.emit_response(info, Some(status.as_u16()), elapsed, false);

                if status == http::StatusCode::UNAUTHORIZED
                    && policy.may_refresh
                    && inner.auth.invalidate(sent_auth.as_ref())
                {
                    tracing::debug!("401: refreshing credentials and retrying once");
                    return Outcome::Again {
                        delay: Duration::ZERO,
                        last: Ok(response),
                        auth_refresh: true,
                    };
                }
                if policy.may_retry && inner.retry.retry_on.contains(&status.as_u16()) {
                    let delay = inner
                        .retry
                        .delay(attempt, retry::retry_after(response.headers()));
                    tracing::debug!(
                        attempt,
                        status = status.as_u16(),
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    return Outcome::Again {
                        delay,
                        last: Ok(response),
                        auth_refresh: false,
                    };
                }
                if !policy.buffer_body || !status.is_success() {
                    return Outcome::Final(Ok(Reply::Streamed(response)));
                }
                match read_whole(response).await {
                    Ok(whole) => Outcome::Final(Ok(Reply::Buffered(whole))),
                    Err(e) => self.after_failure(e, attempt, policy),
                }
            }
            Err(e) => {
                self.emit_response(info, None, elapsed, false);
                self.after_failure(e, attempt, policy)
            }
        }
    }

    /// No complete response: retry when allowed, else this is the result.
    fn after_failure(&self, e: reqwest::Error, attempt: u32, policy: AttemptPolicy) -> Outcome {
        tracing::debug!(
            attempt,
            timeout = e.is_timeout(),
            connect = e.is_connect(),
            body = e.is_body() || e.is_decode(),
            "no complete response"
        );
        if policy.may_retry && self.inner.retry.retry_network_errors {
            let delay = self.inner.retry.delay(attempt, None);
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, "retrying");
            return Outcome::Again {
                delay,
                last: Err(e),
                auth_refresh: false,
            };
        }
        Outcome::Final(Err(e))
    }

    /// Cache and raw-body bookkeeping on the final response, then the
    /// response handed to the transport.
    fn settle(
        &self,
        reply: Reply,
        method: &Method,
        cache_key: Option<String>,
    ) -> reqwest::Response {
        let status = reply.status();
        if let Some(cache) = &self.inner.cache {
            if !is_safe(method) && status.is_success() {
                cache.clear();
            }
        }
        match reply {
            Reply::Streamed(response) => response,
            Reply::Buffered(whole) => {
                if status.is_success() {
                    let _ = RAW_BODY.try_with(|cell| *cell.borrow_mut() = Some(whole.body.clone()));
                    if let (Some(cache), Some(key)) = (&self.inner.cache, cache_key) {
                        cache.put(key, whole.clone());
                    }
                }
                rebuild(whole)
            }
        }
    }

    fn record_circuit(&self, success: bool) {
        if let Some(c) = &self.inner.circuit {
            c.record(success);
        }
    }

    /// What hooks are told about a request; `None` when there are no hooks,
    /// so the hot path does not format and redact a URL nobody reads.
    fn request_info(
        &self,
        request: &reqwest::Request,
        operation: &'static str,
        attempt: u32,
    ) -> Option<RequestInfo> {
        if self.inner.on_request.is_empty() && self.inner.on_response.is_empty() {
            return None;
        }
        Some(RequestInfo {
            service: self.inner.service,
            operation,
            method: request.method().clone(),
            url: self
                .inner
                .redactor
                .redact(request.url().as_str())
                .into_owned(),
            attempt,
        })
    }

    fn emit_response(
        &self,
        request: Option<RequestInfo>,
        status: Option<u16>,
        elapsed: Duration,
        from_cache: bool,
    ) {
        let Some(request) = request else {
            return;
        };
        if self.inner.on_response.is_empty() {
            return;
        }
        let info = ResponseInfo {
            request,
            status,
            elapsed,
            from_cache,
        };
        for hook in &self.inner.on_response {
            hook(&info);
        }
    }

    /// Turns what a transport call returned into agentwire's result: the typed
    /// value, or the [`Error`] variant for the failure.
    pub async fn finish<T, E: serde::Serialize>(
        &self,
        result: std::result::Result<ResponseValue<T>, progenitor_client::Error<E>>,
    ) -> Result<ResponseValue<T>> {
        use progenitor_client::Error as P;
        let service = self.inner.service;
        let redactor = &self.inner.redactor;
        match result {
            Ok(v) => Ok(v),
            Err(P::Custom(msg)) => match msg.strip_prefix(CIRCUIT_OPEN) {
                Some(n) => Err(Error::CircuitOpen {
                    service,
                    failures: n.parse().unwrap_or(0),
                }),
                None => Err(Error::Config(redactor.redact(&msg).into_owned())),
            },
            Err(P::InvalidRequest(msg)) => Err(Error::Config(redactor.redact(&msg).into_owned())),
            Err(P::CommunicationError(e))
            | Err(P::InvalidUpgrade(e))
            | Err(P::ResponseBodyError(e)) => Err(Error::network(service, e, redactor)),
            Err(P::InvalidResponsePayload(body, e)) => {
                Err(Error::decode(service, None, e.to_string(), &body, redactor))
            }
            Err(P::ErrorResponse(rv)) => {
                let status = rv.status().as_u16();
                let headers = rv.headers().clone();
                let body = serde_json::to_vec(&rv.into_inner()).unwrap_or_default();
                Err(Error::from_status(
                    service, status, &headers, &body, redactor,
                ))
            }
            Err(P::UnexpectedResponse(response)) => Err(self.error_from_response(response).await),
        }
    }

    /// Maps an unsuccessful (or undocumented) response to an [`Error`],
    /// reading its body.
    pub async fn error_from_response(&self, response: reqwest::Response) -> Error {
        let service = self.inner.service;
        let redactor = &self.inner.redactor;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => return Error::network(service, e, redactor),
        };
        if status.is_success() {
            return Error::decode(
                service,
                Some(status.as_u16()),
                format!("status {status} is not the one the contract documents"),
                &body,
                redactor,
            );
        }
        Error::from_status(service, status.as_u16(), &headers, &body, redactor)
    }
}

tokio::task_local! {
    static RAW_BODY: std::cell::RefCell<Option<bytes::Bytes>>;
}

/// Runs `fut` (one transport call) and also returns the raw body of its final
/// successful response, so facades can offer the JSON exactly as the service
/// sent it — including fields the contract does not know yet — without
/// parsing twice. Streaming operations capture nothing.
pub async fn capture_body<F: std::future::Future>(fut: F) -> (F::Output, Option<bytes::Bytes>) {
    RAW_BODY
        .scope(std::cell::RefCell::new(None), async move {
            let out = fut.await;
            let raw = RAW_BODY.with(|cell| cell.borrow_mut().take());
            (out, raw)
        })
        .await
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

async fn read_whole(response: reqwest::Response) -> reqwest::Result<CachedResponse> {
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(reqwest::Error::without_url)?;
    Ok(CachedResponse {
        status,
        headers,
        body,
    })
}

fn rebuild(cached: CachedResponse) -> reqwest::Response {
    let mut r = http::Response::new(cached.body);
    *r.status_mut() = cached.status;
    *r.headers_mut() = cached.headers;
    reqwest::Response::from(r)
}
