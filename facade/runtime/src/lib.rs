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
//! | the loop from request to final answer, in one span | `send` |
//! | bodies read once, under the cap | `body` |
//! | credentials per service | [`auth`] |
//! | retries, backoff, `Retry-After`, idempotency keys | [`retry`], [`RetryClass`], [`Idempotency`] |
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
mod body;
mod cache;
mod call;
pub mod circuit;
pub mod error;
pub mod hooks;
mod query;
pub mod rate_limit;
pub mod redact;
pub mod retry;
mod send;
pub mod sse;
pub mod token_cache;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;

pub use crate::auth::{AuthStrategy, BearerToken, NoAuth, PathKey, TokenExchange};
pub use crate::call::{BoxFuture, Operation, Reply};
pub use crate::circuit::CircuitBreakerConfig;
pub use crate::error::{
    ApiError, DecodeError, Error, NetworkError, NetworkErrorKind, Result, StatusClass,
};
pub use crate::hooks::{
    RequestHook, RequestInfo, ResponseHead, ResponseHeadHook, ResponseHook, ResponseInfo,
};
pub use crate::query::QueryString;
pub use crate::rate_limit::RateLimitInfo;
pub use crate::redact::Redactor;
pub use crate::retry::{RetryClass, RetryConfig};
pub use crate::send::resent_with_own_key;

use crate::auth::AuthContext;
use crate::body::{read_capped, Unread};
use crate::cache::ResponseCache;
use crate::circuit::CircuitBreaker;

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
/// after a 401 is not a retry either: the service refused the request. An
/// operation's [`RetryClass`] can say otherwise: a POST that only reads is
/// [`RetryClass::ReplaySafe`], and under [`RetryClass::NotReplaySafe`] a PUT
/// or DELETE follows this rule too.
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
    client_timeout: Option<Duration>,
    deadline: Option<Duration>,
    max_body_bytes: u64,
    default_headers: HeaderMap,
    streaming: BTreeSet<&'static str>,
    stream_client: Option<reqwest::Client>,
    retry_classes: HashMap<&'static str, RetryClass>,
    status_classes: Vec<(u16, StatusClass)>,
    secret_fields: Vec<(&'static str, &'static [&'static str])>,
    on_request: Vec<RequestHook>,
    on_response: Vec<ResponseHook>,
    on_response_head: Vec<ResponseHeadHook>,
    unauthenticated: BTreeSet<&'static str>,
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

    /// Declares that every HTTP client handed to this runtime's calls
    /// (except the [`RuntimeBuilder::stream_client`]) already bounds each
    /// request by `timeout`, set with reqwest's `ClientBuilder::timeout`.
    /// An attempt whose limit is exactly that — the per-attempt
    /// [`RuntimeBuilder::timeout`] with no nearer deadline — is then sent as
    /// it is, instead of carrying the same limit as its own timeout, which
    /// reqwest stores in a map allocated for each request. A limit that
    /// differs (a deadline close by, another timeout) is still set on the
    /// request, where it overrides the client's. Default: none.
    pub fn client_timeout(mut self, timeout: Duration) -> Self {
        self.client_timeout = Some(timeout);
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

    /// The HTTP client streaming operations are sent with, in place of the
    /// one each call passes: one with a read timeout, since a stream gets no
    /// total timeout. Every other operation is bounded by the per-attempt
    /// [`RuntimeBuilder::timeout`] and needs no read timeout, whose timer
    /// would cost each request a second one.
    pub fn stream_client(mut self, client: reqwest::Client) -> Self {
        self.stream_client = Some(client);
        self
    }

    /// Names operations whose response is a long-lived stream: they get no
    /// total timeout (the read timeout of the client they are sent with still
    /// applies, see [`RuntimeBuilder::stream_client`]) and are never cached.
    pub fn streaming_operations(mut self, ops: &[&'static str]) -> Self {
        self.streaming.extend(ops.iter().copied());
        self
    }

    /// Puts `ops` in retry class `class` (default [`RetryClass::ByMethod`]):
    /// whether they may be sent again after a retryable status, a timeout
    /// or a failed connection. A later call naming the same operation
    /// replaces its class.
    ///
    /// ```
    /// use agentwire_runtime::{RetryClass, Runtime};
    ///
    /// let _runtime = Runtime::builder("promptev")
    ///     .retry_class(&["chat"], RetryClass::Never)
    ///     .retry_class(&["search_knowledge_base"], RetryClass::ReplaySafe)
    ///     .build();
    /// ```
    pub fn retry_class(mut self, ops: &[&'static str], class: RetryClass) -> Self {
        self.retry_classes
            .extend(ops.iter().map(|&operation| (operation, class)));
        self
    }

    /// For the deprecated methods, each formerly a set of its own: puts
    /// `ops` in `class` unless an earlier call put them in one that wins
    /// ([`RetryClass::precedence`]), so that, as before, the order of the
    /// calls does not matter.
    fn join_class(mut self, ops: &[&'static str], class: RetryClass) -> Self {
        for &operation in ops {
            let current = self.retry_classes.entry(operation).or_default();
            if class.precedence() > current.precedence() {
                *current = class;
            }
        }
        self
    }

    /// Names operations that are sent exactly once, whatever the retry
    /// policy: [`RetryClass::Never`].
    #[deprecated(note = "use retry_class(ops, RetryClass::Never)")]
    pub fn single_attempt_operations(self, ops: &[&'static str]) -> Self {
        self.join_class(ops, RetryClass::Never)
    }

    /// Names operations sent with a write method (POST) that only read:
    /// [`RetryClass::ReplaySafe`].
    #[deprecated(note = "use retry_class(ops, RetryClass::ReplaySafe)")]
    pub fn replay_safe_operations(self, ops: &[&'static str]) -> Self {
        self.join_class(ops, RetryClass::ReplaySafe)
    }

    /// Makes a refusal with `status` the variant `class` names, instead of
    /// the default mapping (for a service whose own SDK sorts statuses
    /// differently: Promptev's 402 is [`Error::InsufficientCredits`]).
    pub fn status_class(mut self, status: u16, class: StatusClass) -> Self {
        self.status_classes.retain(|(s, _)| *s != status);
        self.status_classes.push((status, class));
        self
    }

    /// Names operations that must not be sent twice although their method
    /// is idempotent by HTTP's rules: [`RetryClass::NotReplaySafe`].
    #[deprecated(note = "use retry_class(ops, RetryClass::NotReplaySafe)")]
    pub fn unrepeatable_operations(self, ops: &[&'static str]) -> Self {
        self.join_class(ops, RetryClass::NotReplaySafe)
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

    /// Adds a callback run on the head (status and headers) of every
    /// response received, attempt by attempt, before its body is read.
    pub fn on_response_head(
        mut self,
        hook: impl Fn(&ResponseHead<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_response_head.push(Arc::new(hook));
        self
    }

    /// Names operations the service serves to anyone: they are sent without
    /// credentials (the auth strategy is not asked, so no token is fetched
    /// for them, and a 401 does not trigger a refresh).
    pub fn unauthenticated_operations(mut self, ops: &[&'static str]) -> Self {
        self.unauthenticated.extend(ops.iter().copied());
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
                client_timeout: self.client_timeout,
                deadline: self.deadline,
                max_body_bytes: self.max_body_bytes,
                default_headers: self.default_headers,
                streaming: self.streaming,
                stream_client: self.stream_client,
                retry_classes: self.retry_classes,
                status_classes: self.status_classes,
                secret_fields: self.secret_fields,
                on_request: self.on_request,
                on_response: self.on_response,
                on_response_head: self.on_response_head,
                unauthenticated: self.unauthenticated,
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
    client_timeout: Option<Duration>,
    deadline: Option<Duration>,
    max_body_bytes: u64,
    default_headers: HeaderMap,
    streaming: BTreeSet<&'static str>,
    stream_client: Option<reqwest::Client>,
    retry_classes: HashMap<&'static str, RetryClass>,
    status_classes: Vec<(u16, StatusClass)>,
    secret_fields: Vec<(&'static str, &'static [&'static str])>,
    on_request: Vec<RequestHook>,
    on_response: Vec<ResponseHook>,
    on_response_head: Vec<ResponseHeadHook>,
    unauthenticated: BTreeSet<&'static str>,
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

impl Runtime {
    /// Starts building the runtime of `service`.
    pub fn builder(service: &'static str) -> RuntimeBuilder {
        RuntimeBuilder {
            service,
            auth: Arc::new(NoAuth),
            retry: RetryConfig::default(),
            idempotency: Idempotency::KeyedOnly,
            timeout: None,
            client_timeout: None,
            deadline: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            default_headers: HeaderMap::new(),
            streaming: BTreeSet::new(),
            stream_client: None,
            retry_classes: HashMap::new(),
            status_classes: Vec::new(),
            secret_fields: Vec::new(),
            on_request: Vec::new(),
            on_response: Vec::new(),
            on_response_head: Vec::new(),
            unauthenticated: BTreeSet::new(),
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
}
