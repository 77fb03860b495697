//! The request path shared by every agentwire service.
//!
//! Each generated transport routes every operation through [`Runtime`]: the
//! operation's builder makes the `reqwest::Request` and hands it, with a static
//! [`Operation`] describing it, to [`Runtime::json`] / [`Runtime::empty`] /
//! [`Runtime::response`] (module `call`); requests built by hand (uploads,
//! downloads, the WebSocket handshake) enter at [`Runtime::execute`]. Both go
//! through the same loop once, and the body is read once. In one place, for all
//! services, it owns:
//!
//! | concern | module |
//! |---|---|
//! | one operation: status against the contract, decoding | `call` |
//! | credentials per service | [`auth`] |
//! | retries, backoff, `Retry-After`, idempotency keys | [`retry`], [`Idempotency`] |
//! | per-attempt timeout, overall deadline | [`RuntimeBuilder::timeout`], [`RuntimeBuilder::deadline`] |
//! | a cap on buffered bodies | [`RuntimeBuilder::max_body_bytes`] |
//! | default headers on every request | [`RuntimeBuilder::default_headers`] |
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
mod call;
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

use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONTENT_LENGTH};
use http::{HeaderMap, HeaderValue, Method};
use tracing::Instrument;

pub use crate::auth::{AuthStrategy, BearerToken, NoAuth, PathKey, TokenExchange};
pub use crate::call::{BoxFuture, Operation, Reply};
pub use crate::circuit::CircuitBreakerConfig;
pub use crate::error::{ApiError, DecodeError, Error, NetworkError, NetworkErrorKind, Result};
pub use crate::hooks::{RequestHook, RequestInfo, ResponseHook, ResponseInfo};
pub use crate::rate_limit::RateLimitInfo;
pub use crate::redact::Redactor;
pub use crate::retry::RetryConfig;

use crate::auth::{AuthContext, AuthFailure};
use crate::cache::{CachedResponse, ResponseCache};
use crate::circuit::CircuitBreaker;
use crate::error::BodyLimitExceeded;

/// Header that makes a write safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Default of [`RuntimeBuilder::max_body_bytes`]: 32 MiB.
///
/// The largest bodies these JSON APIs send are file downloads: The Colony
/// caps DM attachments at 8 MB (colony-sdk 1.38.0, `upload_attachment`), so
/// four times that leaves room for growth while a runaway or hostile answer
/// cannot make one call hold more than this in memory.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// Which writes (POST, PATCH) may be retried, and which get an
/// `Idempotency-Key` from the runtime.
///
/// Whatever the policy, a write that is not idempotent by HTTP's rules and
/// carries no key the service deduplicates on is never sent twice — not
/// after a retryable status, not after a timeout or a connection that broke
/// once the request was on its way. The one exception is a connection that
/// could not be made at all (refused, DNS, TLS handshake): nothing was sent,
/// so trying again cannot duplicate anything. The one refresh of credentials
/// after a 401 is not a retry either: the service refused the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Idempotency {
    /// Writes are retried only when the caller gave them an
    /// `Idempotency-Key`.
    KeyedOnly,
    /// Authenticated writes (POST, PUT, PATCH, DELETE that carry an
    /// `Authorization` header once the auth strategy has run) without a key
    /// get a fresh one, the same on every attempt, and are retried like
    /// reads. For services that deduplicate on the key per account (The
    /// Colony). Unauthenticated writes (registering an account) get no key —
    /// the service would not deduplicate on it — and are treated as under
    /// [`Idempotency::KeyedOnly`].
    AddKeyToWrites,
    /// Formerly: retry every write, key or not. That could run a write twice
    /// (a 504 or a timeout says nothing about whether the service acted), so
    /// it now behaves exactly as [`Idempotency::KeyedOnly`].
    #[deprecated(note = "unkeyed writes are never retried; use Idempotency::KeyedOnly")]
    RetryAllWrites,
}

/// Builds a [`Runtime`].
pub struct RuntimeBuilder {
    service: &'static str,
    auth: Arc<dyn AuthStrategy>,
    retry: RetryConfig,
    idempotency: Idempotency,
    timeout: Option<Duration>,
    deadline: Option<Duration>,
    max_body_bytes: u64,
    default_headers: HeaderMap,
    streaming: BTreeSet<&'static str>,
    secret_fields: Vec<(&'static str, &'static [&'static str])>,
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
            .field("deadline", &self.deadline)
            .field("max_body_bytes", &self.max_body_bytes)
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

    /// Bounds one call from start to finish — every attempt and every
    /// backoff sleep between them — to `deadline` (default: none).
    ///
    /// Each attempt of a non-streaming operation gets the smaller of
    /// [`RuntimeBuilder::timeout`] and the time left, so a server that never
    /// answers yields a `Network` error of kind `Timeout` at the deadline. A
    /// retry whose backoff (or `Retry-After`) would end past the deadline is
    /// not made: the last outcome is returned instead. Streaming operations
    /// get no timeout from it (a stream may legitimately outlive any
    /// deadline), but it still stops their retries. Fetching credentials
    /// (a token exchange) is not counted.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Caps every response body the runtime or a facade reads whole — the
    /// success bodies of non-streaming operations and every error body — at
    /// `bytes` (default [`DEFAULT_MAX_BODY_BYTES`]). A `Content-Length` above
    /// the cap fails before anything is read; a body without one, or longer
    /// than it announced, fails as soon as it passes the cap. Either way the
    /// call returns [`Error::BodyTooLarge`]. Streams (SSE, WebSocket) are not
    /// buffered and not capped here.
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Headers added to every request that does not already carry them
    /// (User-Agent, the caller's extra headers…), so that they are sent even
    /// through a caller-supplied `reqwest::Client` that lacks them. A name
    /// with several values is added with all of them. Replaces any headers
    /// set by an earlier call.
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// Names the JSON fields of `operation`'s successful answers that carry
    /// a secret the service just issued (a new API key): their string values
    /// are registered with the redactor as soon as the body is read, before
    /// anything can decode, print or hand it on — so an answer that fails to
    /// decode shows the secret masked in its error. Fields are found at any
    /// depth; a body that is not valid JSON is searched for
    /// `"field": "value"`.
    pub fn secret_fields(
        mut self,
        operation: &'static str,
        fields: &'static [&'static str],
    ) -> Self {
        self.secret_fields.push((operation, fields));
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
                deadline: self.deadline,
                max_body_bytes: self.max_body_bytes,
                default_headers: self.default_headers,
                streaming: self.streaming,
                secret_fields: self.secret_fields,
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
    deadline: Option<Duration>,
    max_body_bytes: u64,
    default_headers: HeaderMap,
    streaming: BTreeSet<&'static str>,
    secret_fields: Vec<(&'static str, &'static [&'static str])>,
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
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// The methods The Colony deduplicates on an `Idempotency-Key`.
fn is_keyed_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// A fresh `Idempotency-Key`, formatted without an intermediate `String`.
fn fresh_idempotency_key() -> Option<HeaderValue> {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).ok()
}

/// Marks a response to a write that carried an `Idempotency-Key` of the
/// runtime's own making and was sent more than once.
#[derive(Debug, Clone, Copy)]
struct ResentWithOwnKey;

/// Whether `response` answers a write that the runtime gave its own
/// `Idempotency-Key` and sent more than once (see
/// [`Idempotency::AddKeyToWrites`]).
///
/// On such a response, `Idempotent-Replay: true` may only mean that the
/// service replayed the answer to agentwire's own earlier attempt, whose
/// answer was lost on the way — not that the caller had made the request
/// before. Facades that report replays to the caller check this first.
pub fn resent_with_own_key(response: &reqwest::Response) -> bool {
    response.extensions().get::<ResentWithOwnKey>().is_some()
}

/// A final response: read whole inside the attempt (everything but streams
/// and error answers), or still streaming.
enum Answer {
    Buffered(CachedResponse),
    Streamed(reqwest::Response),
}

impl Answer {
    fn status(&self) -> http::StatusCode {
        match self {
            Answer::Buffered(whole) => whole.status,
            Answer::Streamed(response) => response.status(),
        }
    }

    fn mark_resent(&mut self) {
        match self {
            Answer::Buffered(whole) => whole.resent = true,
            Answer::Streamed(response) => {
                response.extensions_mut().insert(ResentWithOwnKey);
            }
        }
    }

    /// The answer as a `reqwest::Response`, for code that reads it itself.
    fn into_response(self) -> reqwest::Response {
        match self {
            Answer::Buffered(whole) => rebuild(whole),
            Answer::Streamed(response) => response,
        }
    }
}

#[derive(Clone, Copy)]
struct AttemptPolicy {
    /// The retry budget is not spent yet.
    retries_left: bool,
    /// Sending the request twice cannot do its work twice: the method is
    /// idempotent or the caller gave it a key the service deduplicates on.
    /// (A key of the runtime's own counts only once credentials are on.)
    replay_safe: bool,
    may_refresh: bool,
    /// Read the whole body inside the attempt, so that a connection that
    /// breaks mid-body is retried like one that broke before the head.
    buffer_body: bool,
}

/// What one attempt leads to.
enum Outcome {
    /// This is the operation's result.
    Final(reqwest::Result<Answer>),
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
            deadline: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            default_headers: HeaderMap::new(),
            streaming: BTreeSet::new(),
            secret_fields: Vec::new(),
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

    /// What an auth strategy may use while authorizing a request of this
    /// runtime, or when asked to refresh its credentials now.
    pub fn auth_context<'a>(&'a self, client: &'a reqwest::Client) -> AuthContext<'a> {
        AuthContext {
            client,
            redactor: &self.inner.redactor,
            retry: &self.inner.retry,
            default_headers: &self.inner.default_headers,
            max_body_bytes: self.inner.max_body_bytes,
        }
    }

    /// The retry policy in force.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// Sends one request built by hand (a multipart upload, a raw download,
    /// a WebSocket handshake): the same path as a generated operation —
    /// breaker, credentials, idempotency key, timeout, hooks, retries,
    /// rate-limit bookkeeping and cache, inside one tracing span named
    /// `agentwire.operation` — and returns the final response whatever its
    /// status ([`Runtime::error_from_response`] maps a failed one).
    ///
    /// The URL never enters the span: for Promptev it contains the key.
    pub async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
    ) -> Result<reqwest::Response> {
        let streaming = self.inner.streaming.contains(operation);
        Ok(self
            .traced(client, request, operation, streaming)
            .await?
            .into_response())
    }

    /// One operation inside its tracing span.
    async fn traced(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
        operation: &'static str,
        streaming: bool,
    ) -> Result<Answer> {
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
            .execute_inner(client, request, operation, streaming)
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
        streaming: bool,
    ) -> Result<Answer> {
        let inner = &*self.inner;
        if let Some(Err(failures)) = inner.circuit.as_ref().map(CircuitBreaker::admit) {
            return Err(Error::CircuitOpen {
                service: inner.service,
                failures,
            });
        }
        let deadline = inner.deadline.and_then(|d| Instant::now().checked_add(d));
        let method = request.method().clone();
        self.add_default_headers(request.headers_mut());

        let cache_key = match (&inner.cache, &method) {
            (Some(_), &Method::GET) if !streaming => Some(request.url().as_str().to_owned()),
            _ => None,
        };
        if let (Some(cache), Some(key)) = (&inner.cache, &cache_key) {
            if let Some(hit) = cache.get(key) {
                tracing::debug!("served from cache");
                let info = self.request_info(&request, operation, 1);
                self.emit_response(info, Some(hit.status.as_u16()), Duration::ZERO, true);
                return Ok(Answer::Buffered(hit));
            }
        }

        let caller_key = request.headers().contains_key(IDEMPOTENCY_KEY);
        // Made now, attached by `attempt` once it knows the request carries
        // credentials: the same key on every attempt.
        let own_key = match inner.idempotency {
            Idempotency::AddKeyToWrites if !caller_key && is_keyed_write(&method) => {
                fresh_idempotency_key()
            }
            _ => None,
        };
        let replay_safe = is_idempotent(&method) || caller_key;

        // A body that cannot be cloned (a stream) gets exactly one attempt.
        let template = request.try_clone();
        let mut this = request;
        let mut attempt: u32 = 1;
        let mut refreshed_auth = false;
        let mut sent_with_own_key: u32 = 0;
        loop {
            tracing::Span::current().record("attempts", attempt);
            if !streaming {
                // The runtime's per-attempt timeout (else the request's own),
                // shortened to the time the deadline leaves.
                let per_attempt = inner.timeout.or_else(|| this.timeout().copied());
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let limit = match (per_attempt, left) {
                    (Some(t), Some(l)) => Some(t.min(l)),
                    (t, l) => t.or(l),
                };
                if limit.is_some() {
                    *this.timeout_mut() = limit;
                }
            }
            let policy = AttemptPolicy {
                retries_left: attempt <= inner.retry.max_retries,
                replay_safe,
                may_refresh: !refreshed_auth,
                buffer_body: !streaming,
            };
            let (outcome, own_key_sent) = self
                .attempt(client, this, operation, attempt, policy, own_key.as_ref())
                .await;
            sent_with_own_key += u32::from(own_key_sent);
            let resent = sent_with_own_key > 1;
            match outcome {
                Outcome::Final(result) => {
                    return self.conclude(result, &method, cache_key, resent);
                }
                Outcome::Again {
                    delay,
                    last,
                    auth_refresh,
                } => {
                    let next = template.as_ref().and_then(reqwest::Request::try_clone);
                    let wait = if auth_refresh { Duration::ZERO } else { delay };
                    // No further attempt without a copy of the request, nor
                    // one that could only start once the deadline has passed.
                    let past_deadline = deadline.is_some_and(|d| {
                        Instant::now()
                            .checked_add(wait)
                            .is_none_or(|wake| wake >= d)
                    });
                    let Some(next) = next.filter(|_| !past_deadline) else {
                        if past_deadline {
                            tracing::debug!("deadline reached: returning the last outcome");
                        }
                        return self.conclude(last.map(Answer::Streamed), &method, None, resent);
                    };
                    drop(last);
                    if auth_refresh {
                        // Not a retry in RetryConfig's sense: the one refresh
                        // on 401 happens whatever the policy says.
                        refreshed_auth = true;
                    } else {
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                    }
                    this = next;
                }
            }
        }
    }

    /// Adds the default headers the request does not carry yet. Cloning a
    /// `HeaderName` or `HeaderValue` bumps a reference count at most.
    fn add_default_headers(&self, headers: &mut HeaderMap) {
        let defaults = &self.inner.default_headers;
        if defaults.is_empty() {
            return;
        }
        for name in defaults.keys() {
            if headers.contains_key(name) {
                continue;
            }
            for value in defaults.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
    }

    /// The operation's result: breaker bookkeeping, then [`Runtime::settle`].
    fn conclude(
        &self,
        result: reqwest::Result<Answer>,
        method: &Method,
        cache_key: Option<String>,
        resent_with_own_key: bool,
    ) -> Result<Answer> {
        match result {
            Ok(reply) => {
                self.record_circuit(!reply.status().is_server_error());
                let mut answer = self.settle(reply, method, cache_key);
                if resent_with_own_key {
                    answer.mark_resent();
                }
                Ok(answer)
            }
            Err(e) => {
                self.record_circuit(false);
                Err(Error::network(
                    self.inner.service,
                    e.without_url(),
                    &self.inner.redactor,
                ))
            }
        }
    }

    /// One HTTP attempt and the decision about what to do next; also says
    /// whether the runtime's own idempotency key went out with it.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        operation: &'static str,
        attempt: u32,
        policy: AttemptPolicy,
        own_key: Option<&HeaderValue>,
    ) -> (Outcome, bool) {
        let inner = &*self.inner;
        match inner
            .auth
            .authorize(self.auth_context(client), &mut request)
            .await
        {
            Ok(()) => {}
            Err(AuthFailure::Response(r)) => {
                tracing::debug!(status = r.status().as_u16(), "credential exchange refused");
                return (Outcome::Final(Ok(Answer::Streamed(r))), false);
            }
            Err(AuthFailure::Transport(e)) => return (Outcome::Final(Err(e)), false),
        }
        // The service deduplicates per account: a key on a request without
        // credentials would do nothing, so it is not sent and does not make
        // the write retryable.
        let own_key_sent = match own_key {
            Some(key) if request.headers().contains_key(AUTHORIZATION) => {
                request.headers_mut().insert(IDEMPOTENCY_KEY, key.clone());
                true
            }
            _ => false,
        };
        let may_retry = policy.retries_left && (policy.replay_safe || own_key_sent);
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
            .then(|| request.headers().get(AUTHORIZATION).cloned())
            .flatten();
        let sent_at = Instant::now();
        let result = client.execute(request).await;
        let elapsed = sent_at.elapsed();

        let outcome = match result {
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
                    return (
                        Outcome::Again {
                            delay: Duration::ZERO,
                            last: Ok(response),
                            auth_refresh: true,
                        },
                        own_key_sent,
                    );
                }
                if may_retry && inner.retry.retry_on.contains(&status.as_u16()) {
                    match inner
                        .retry
                        .delay(attempt, retry::retry_after(response.headers()))
                    {
                        Some(delay) => {
                            tracing::debug!(
                                attempt,
                                status = status.as_u16(),
                                delay_ms = delay.as_millis() as u64,
                                "retrying"
                            );
                            return (
                                Outcome::Again {
                                    delay,
                                    last: Ok(response),
                                    auth_refresh: false,
                                },
                                own_key_sent,
                            );
                        }
                        None => tracing::debug!(
                            status = status.as_u16(),
                            "Retry-After above max_retry_after: not retrying"
                        ),
                    }
                }
                if !policy.buffer_body || !status.is_success() {
                    return (Outcome::Final(Ok(Answer::Streamed(response))), own_key_sent);
                }
                match read_whole(response, inner.max_body_bytes).await {
                    Ok(Whole::Read(whole)) => {
                        // Before anything can decode, print or hand on the
                        // body: secrets it carries are masked from now on.
                        if let Some((_, fields)) =
                            inner.secret_fields.iter().find(|(op, _)| *op == operation)
                        {
                            inner.redactor.add_fields_of(&whole.body, fields);
                        }
                        Outcome::Final(Ok(Answer::Buffered(whole)))
                    }
                    // Not retried: the same request gets the same body.
                    Ok(Whole::TooLarge(failing)) => Outcome::Final(Ok(Answer::Streamed(failing))),
                    Err(e) => self.after_failure(e, attempt, may_retry, policy.retries_left),
                }
            }
            Err(e) => {
                self.emit_response(info, None, elapsed, false);
                self.after_failure(e, attempt, may_retry, policy.retries_left)
            }
        };
        (outcome, own_key_sent)
    }

    /// No complete response: retry when allowed, else this is the result. A
    /// request whose connection could not even be made was not sent, so it
    /// may be retried even when sending it twice would not be safe.
    fn after_failure(
        &self,
        e: reqwest::Error,
        attempt: u32,
        may_retry: bool,
        retries_left: bool,
    ) -> Outcome {
        tracing::debug!(
            attempt,
            timeout = e.is_timeout(),
            connect = e.is_connect(),
            body = e.is_body() || e.is_decode(),
            "no complete response"
        );
        let allowed = may_retry || (retries_left && e.is_connect());
        if allowed && self.inner.retry.retry_network_errors {
            if let Some(delay) = self.inner.retry.delay(attempt, None) {
                tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, "retrying");
                return Outcome::Again {
                    delay,
                    last: Err(e),
                    auth_refresh: false,
                };
            }
        }
        Outcome::Final(Err(e))
    }

    /// Cache and raw-body bookkeeping on the final response, then the
    /// response handed to the transport. An error answer is handed on with
    /// its body capped, for whoever reads it.
    fn settle(&self, reply: Answer, method: &Method, cache_key: Option<String>) -> Answer {
        let status = reply.status();
        if let Some(cache) = &self.inner.cache {
            if !is_safe(method) && status.is_success() {
                cache.clear();
            }
        }
        match reply {
            Answer::Streamed(response) if !status.is_success() => {
                Answer::Streamed(cap_body(response, self.inner.max_body_bytes))
            }
            Answer::Streamed(response) => Answer::Streamed(response),
            Answer::Buffered(whole) => {
                if status.is_success() {
                    if let (Some(cache), Some(key)) = (&self.inner.cache, cache_key) {
                        cache.put(key, whole.clone());
                    }
                }
                Answer::Buffered(whole)
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

    /// Maps an unsuccessful (or undocumented) response to an [`Error`],
    /// reading its body (at most [`RuntimeBuilder::max_body_bytes`] of it).
    pub async fn error_from_response(&self, response: reqwest::Response) -> Error {
        let service = self.inner.service;
        let redactor = &self.inner.redactor;
        let limit = self.inner.max_body_bytes;
        let status = response.status();
        let headers = response.headers().clone();
        let body = match read_capped(response, limit).await {
            Ok(b) => b,
            Err(Unread::TooLarge) => return Error::BodyTooLarge { service, limit },
            Err(Unread::Failed(e)) => return Error::network(service, e, redactor),
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

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Why a body could not be read whole.
pub(crate) enum Unread {
    /// It is larger than the cap.
    TooLarge,
    /// The connection failed while reading it.
    Failed(reqwest::Error),
}

/// Reads a body whole, failing as soon as it passes `limit` bytes, or before
/// reading when its `Content-Length` already says it would.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Bytes, Unread> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(Unread::TooLarge);
    }
    // A body in one chunk (the usual case) is returned without a copy.
    let mut single: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut total: u64 = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Unread::Failed(e.without_url()))?
    {
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            return Err(Unread::TooLarge);
        }
        if let Some(first) = single.take() {
            let hint = announced.unwrap_or(total).clamp(total, limit);
            joined.reserve(usize::try_from(hint).unwrap_or(0));
            joined.extend_from_slice(&first);
            joined.extend_from_slice(&chunk);
        } else if joined.is_empty() {
            single = Some(chunk);
        } else {
            joined.extend_from_slice(&chunk);
        }
    }
    Ok(single.unwrap_or_else(|| joined.freeze()))
}

/// A successful body read inside the attempt.
enum Whole {
    Read(CachedResponse),
    /// Over the cap: a response with the same head whose body fails with
    /// [`BodyLimitExceeded`] when read, so the transport's own read maps it
    /// to [`Error::BodyTooLarge`].
    TooLarge(reqwest::Response),
}

async fn read_whole(response: reqwest::Response, limit: u64) -> reqwest::Result<Whole> {
    let status = response.status();
    let headers = response.headers().clone();
    match read_capped(response, limit).await {
        Ok(body) => Ok(Whole::Read(CachedResponse {
            status,
            headers,
            body,
            resent: false,
        })),
        Err(Unread::TooLarge) => Ok(Whole::TooLarge(failing_body(status, headers, limit))),
        Err(Unread::Failed(e)) => Err(e),
    }
}

/// A response whose body fails at once with [`BodyLimitExceeded`].
pub(crate) fn failing_body(
    status: http::StatusCode,
    mut headers: HeaderMap,
    limit: u64,
) -> reqwest::Response {
    headers.remove(CONTENT_LENGTH);
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::iter([
            Err::<Bytes, BodyLimitExceeded>(BodyLimitExceeded { limit }),
        ]));
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    reqwest::Response::from(r)
}

/// Hands on a response that someone else reads whole (an error answer), with
/// its body failing with [`BodyLimitExceeded`] past `limit` bytes.
fn cap_body(response: reqwest::Response, limit: u64) -> reqwest::Response {
    use http_body_util::BodyExt as _;

    if response.content_length().is_some_and(|n| n > limit) {
        return failing_body(response.status(), response.headers().clone(), limit);
    }
    let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let capped = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .map_err(move |e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Box::new(BodyLimitExceeded { limit }) as Box<dyn std::error::Error + Send + Sync>
            } else {
                e
            }
        });
    reqwest::Response::from(http::Response::from_parts(
        parts,
        reqwest::Body::wrap(capped),
    ))
}

fn rebuild(cached: CachedResponse) -> reqwest::Response {
    let mut r = http::Response::new(cached.body);
    *r.status_mut() = cached.status;
    *r.headers_mut() = cached.headers;
    if cached.resent {
        r.extensions_mut().insert(ResentWithOwnKey);
    }
    reqwest::Response::from(r)
}
