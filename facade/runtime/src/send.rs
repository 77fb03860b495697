//! The request loop: one call from the built request to the final answer —
//! breaker, default headers, cache, credentials, idempotency key, per-attempt
//! timeout and deadline, hooks, retries with backoff, rate-limit bookkeeping,
//! all inside one tracing span.

use std::time::{Duration, Instant};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue, Method};
use tracing::Instrument;

use crate::auth::AuthFailure;
use crate::body::{cap_body, read_capped, read_whole, rebuild, Unread, Whole};
use crate::cache::CachedResponse;
use crate::circuit::CircuitBreaker;
use crate::error::Error;
use crate::hooks::{RequestInfo, ResponseHead, ResponseInfo};
use crate::rate_limit::RateLimitInfo;
use crate::{retry, Idempotency, Result, RetryClass, Runtime, IDEMPOTENCY_KEY};

/// [`IDEMPOTENCY_KEY`] as a header name, made once instead of parsed at
/// each lookup.
static IDEMPOTENCY_KEY_NAME: http::HeaderName = http::HeaderName::from_static(IDEMPOTENCY_KEY);

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

/// A copy of a request built by a generated operation, to send again, or
/// `None` if its body is a stream.
///
/// `reqwest::Request::try_clone` stores the copy's timeout in a fresh
/// extensions map even when there is none, then replaces that map with a
/// clone of the original's: two allocations thrown away on every call. A
/// generated request without a body (most reads) is copied field by field
/// instead. Its only extension can be its timeout, which reqwest lets us read
/// and set; a request of unknown origin, which may carry other extensions,
/// and one with a body, whose bytes `try_clone` shares, go through
/// `try_clone`.
fn copy_generated(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// Where the request the runtime sends came from, which decides how it is
/// copied for another attempt.
#[derive(Clone, Copy)]
pub(crate) enum Origin {
    /// Built by a generated operation's builder (see [`copy_generated`]).
    Generated,
    /// Handed to [`Runtime::execute`]: copied with `try_clone`.
    Caller,
}

/// Marks a response to a write that carried an `Idempotency-Key` of the
/// runtime's own making and was sent more than once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResentWithOwnKey;

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
pub(crate) enum Answer {
    Buffered(CachedResponse),
    Streamed(reqwest::Response),
}

impl Answer {
    pub(crate) fn status(&self) -> http::StatusCode {
        match self {
            Answer::Buffered(whole) => whole.status,
            Answer::Streamed(response) => response.status(),
        }
    }

    pub(crate) fn mark_resent(&mut self) {
        match self {
            Answer::Buffered(whole) => whole.resent = true,
            Answer::Streamed(response) => {
                response.extensions_mut().insert(ResentWithOwnKey);
            }
        }
    }

    /// The answer as a `reqwest::Response`, for code that reads it itself.
    pub(crate) fn into_response(self) -> reqwest::Response {
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
    /// The operation goes out with credentials (it is not one of the
    /// runtime's unauthenticated operations).
    authenticate: bool,
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
            .traced(
                client,
                Box::new(request),
                operation,
                streaming,
                Origin::Caller,
            )
            .await?
            .into_response())
    }

    /// One operation inside its tracing span.
    ///
    /// The request travels boxed from here to the attempt that sends it: each
    /// future of the path holds a pointer instead of its own 264-byte copy,
    /// so the boxed futures below stay small enough for the allocator's fast
    /// path and nothing large is copied from one level to the next. For the
    /// same reason the hot functions return `async move` blocks instead of
    /// being `async fn`s, which would store each argument twice.
    pub(crate) async fn traced(
        &self,
        client: &reqwest::Client,
        request: Box<reqwest::Request>,
        operation: &'static str,
        streaming: bool,
        origin: Origin,
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
        // Boxed once here, so the callers' futures stay small and the loop's
        // state is not copied from one future into the next.
        let (result, attempts) =
            Box::pin(self.execute_inner(client, request, operation, streaming, origin))
                .instrument(span.clone())
                .await;
        // Recorded once, at the end, on the span in hand.
        if attempts > 0 {
            span.record("attempts", attempts);
        }
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Ok(r) = &result {
            span.record("status", r.status().as_u16());
        }
        result
    }

    fn execute_inner<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: Box<reqwest::Request>,
        operation: &'static str,
        streaming: bool,
        origin: Origin,
    ) -> impl std::future::Future<Output = (Result<Answer>, u32)> + Send + 'a {
        let mut request = request;
        // A stream goes out on the client with a read timeout, if one is set.
        let client = match &self.inner.stream_client {
            Some(stream_client) if streaming => stream_client,
            _ => client,
        };
        async move {
            let inner = &*self.inner;
            if let Some(Err(failures)) = inner.circuit.as_ref().map(CircuitBreaker::admit) {
                let open = Error::CircuitOpen {
                    service: inner.service,
                    failures,
                };
                return (Err(open), 0);
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
                    return (Ok(Answer::Buffered(hit)), 0);
                }
            }

            let unauthenticated = inner.unauthenticated.contains(operation);
            let class = inner.retry_classes.get(operation).copied();
            let keyed_write = is_keyed_write(&method);
            let by_method = is_idempotent(&method);
            // Whether the caller gave its own key, looked up only where the
            // answer decides something (not for a plain read).
            let caller_key = match class.unwrap_or_default() {
                _ if keyed_write => request.headers().contains_key(&IDEMPOTENCY_KEY_NAME),
                RetryClass::ByMethod => {
                    !by_method && request.headers().contains_key(&IDEMPOTENCY_KEY_NAME)
                }
                RetryClass::NotReplaySafe => request.headers().contains_key(&IDEMPOTENCY_KEY_NAME),
                RetryClass::ReplaySafe | RetryClass::Never => false,
            };
            // Made now, attached by `attempt` once it knows the request carries
            // credentials: the same key on every attempt. An operation sent
            // without credentials never gets one (the service deduplicates per
            // account), even if a default header looks like credentials.
            let own_key = match inner.idempotency {
                Idempotency::AddKeyToWrites if !caller_key && !unauthenticated && keyed_write => {
                    fresh_idempotency_key()
                }
                _ => None,
            };
            let replay_safe = match class.unwrap_or_default() {
                RetryClass::ByMethod => by_method || caller_key,
                RetryClass::ReplaySafe => true,
                RetryClass::NotReplaySafe => caller_key,
                RetryClass::Never => false,
            };
            let single_attempt = class == Some(RetryClass::Never);

            // A body that cannot be cloned (a stream) gets exactly one attempt.
            let copy: fn(&reqwest::Request) -> Option<reqwest::Request> = match origin {
                Origin::Generated => copy_generated,
                Origin::Caller => reqwest::Request::try_clone,
            };
            // Kept in this (boxed) future itself rather than in a box of its own.
            let template = copy(&request);
            let mut this = request;
            let mut attempt: u32 = 1;
            let mut refreshed_auth = false;
            let mut sent_with_own_key: u32 = 0;
            loop {
                if !streaming {
                    // The runtime's per-attempt timeout (else the request's own),
                    // shortened to the time the deadline leaves.
                    let per_attempt = inner.timeout.or_else(|| this.timeout().copied());
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    let limit = match (per_attempt, left) {
                        (Some(t), Some(l)) => Some(t.min(l)),
                        (t, l) => t.or(l),
                    };
                    // The client's own timeout, if it is the same, needs no
                    // copy on the request.
                    let client_applies = this.timeout().is_none() && limit == inner.client_timeout;
                    if limit.is_some() && !client_applies {
                        *this.timeout_mut() = limit;
                    }
                }
                let policy = AttemptPolicy {
                    retries_left: !single_attempt && attempt <= inner.retry.max_retries,
                    replay_safe,
                    may_refresh: !refreshed_auth && !unauthenticated,
                    authenticate: !unauthenticated,
                    buffer_body: !streaming,
                };
                // Boxed: the attempt's state (the response being read, the
                // credentials' future) lives on the heap instead of being copied
                // into every future that awaits this loop.
                let (outcome, own_key_sent) = Box::pin(self.attempt(
                    client,
                    this,
                    operation,
                    attempt,
                    policy,
                    own_key.as_ref(),
                ))
                .await;
                sent_with_own_key += u32::from(own_key_sent);
                let resent = sent_with_own_key > 1;
                match outcome {
                    Outcome::Final(result) => {
                        return (self.conclude(result, &method, cache_key, resent), attempt);
                    }
                    Outcome::Again {
                        delay,
                        last,
                        auth_refresh,
                    } => {
                        let next = template.as_ref().and_then(copy).map(Box::new);
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
                            let last =
                                self.conclude(last.map(Answer::Streamed), &method, None, resent);
                            return (last, attempt);
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
    fn attempt<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: Box<reqwest::Request>,
        operation: &'static str,
        attempt: u32,
        policy: AttemptPolicy,
        own_key: Option<&'a HeaderValue>,
    ) -> impl std::future::Future<Output = (Outcome, bool)> + Send + 'a {
        let mut request = request;
        async move {
            let inner = &*self.inner;
            // Matched in place: a bound result would keep its 136 bytes in
            // this future across the sending and the reading.
            match if policy.authenticate {
                inner
                    .auth
                    .authorize(self.auth_context(client), &mut request)
                    .await
            } else {
                Ok(())
            } {
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
                    request
                        .headers_mut()
                        .insert(IDEMPOTENCY_KEY_NAME.clone(), key.clone());
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
            // Only what the head hooks need outlives the request (the response
            // keeps the URL).
            let head_of = (!inner.on_response_head.is_empty()).then(|| request.method().clone());
            let sent_at = Instant::now();
            let result = client.execute(*request).await;
            let elapsed = sent_at.elapsed();

            let outcome = match result {
                Ok(mut response) => {
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
                    if let Some(method) = &head_of {
                        let head = ResponseHead {
                            service: inner.service,
                            operation,
                            method,
                            attempt,
                            status: status.as_u16(),
                            headers: response.headers(),
                            url: response.url(),
                            redactor: &inner.redactor,
                        };
                        for hook in &inner.on_response_head {
                            hook(&head);
                        }
                    }

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
                    match read_whole(&mut response, inner.max_body_bytes).await {
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
                        Ok(Whole::TooLarge(failing)) => {
                            Outcome::Final(Ok(Answer::Streamed(failing)))
                        }
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
    /// reading its body (at most [`RuntimeBuilder::max_body_bytes`](crate::RuntimeBuilder::max_body_bytes) of it).
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
        Error::from_status_with(
            service,
            status.as_u16(),
            &headers,
            &body,
            redactor,
            &self.inner.status_classes,
        )
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method) -> reqwest::Request {
        let url = reqwest::Url::parse("http://example.test/api/v1/posts?limit=20").unwrap();
        let mut r = reqwest::Request::new(method, url);
        r.headers_mut()
            .insert("x-one", HeaderValue::from_static("1"));
        r.headers_mut()
            .append("x-one", HeaderValue::from_static("2"));
        *r.version_mut() = http::Version::HTTP_11;
        r
    }

    #[test]
    fn a_generated_request_is_copied_whole() {
        let mut original = request(Method::GET);
        *original.timeout_mut() = Some(Duration::from_millis(1500));
        let copy = copy_generated(&original).expect("no body: always copied");
        assert_eq!(copy.method(), Method::GET);
        assert_eq!(copy.url(), original.url());
        assert_eq!(copy.headers(), original.headers());
        assert_eq!(copy.version(), http::Version::HTTP_11);
        assert_eq!(copy.timeout(), Some(&Duration::from_millis(1500)));

        let untimed = copy_generated(&request(Method::DELETE)).unwrap();
        assert_eq!(untimed.method(), Method::DELETE);
        assert_eq!(untimed.timeout(), None);
    }

    #[test]
    fn a_body_is_copied_by_reqwest_and_a_stream_not_at_all() {
        let mut with_body = request(Method::POST);
        *with_body.body_mut() = Some(reqwest::Body::from("{\"title\":\"t\"}"));
        let copy = copy_generated(&with_body).expect("bytes can be sent again");
        assert_eq!(
            copy.body().and_then(reqwest::Body::as_bytes),
            Some(&b"{\"title\":\"t\"}"[..])
        );
        assert_eq!(copy.headers(), with_body.headers());

        let mut streamed = request(Method::POST);
        *streamed.body_mut() = Some(reqwest::Body::wrap_stream(futures_util::stream::iter([
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"chunk")),
        ])));
        assert!(copy_generated(&streamed).is_none());
    }
}

#[cfg(test)]
mod sizes {
    use super::*;

    fn get() -> reqwest::Request {
        reqwest::Request::new(
            Method::GET,
            reqwest::Url::parse("http://example.test/").unwrap(),
        )
    }

    /// Every future of the request path that is boxed stays under 1 KiB, the
    /// size from which glibc first merges its small freed blocks, and the
    /// one that only holds a boxed one stays small. Binding the unboxed future
    /// to a name first (`let f = ..; Box::pin(f).await`) would keep room for
    /// it in the state of the future awaiting it: `traced` grows from 168
    /// bytes to 1 488 that way.
    #[test]
    fn the_futures_of_the_request_path_stay_small() {
        static OP: crate::Operation =
            crate::Operation::new("op", "GET", "/", &[(200, 200)], crate::Reply::Json, &[]);
        let rt = Runtime::builder("test").build();
        let client = reqwest::Client::new();
        let policy = AttemptPolicy {
            retries_left: true,
            replay_safe: true,
            may_refresh: true,
            authenticate: true,
            buffer_body: true,
        };
        let traced = rt.traced(&client, Box::new(get()), "op", false, Origin::Generated);
        let inner = rt.execute_inner(&client, Box::new(get()), "op", false, Origin::Generated);
        let attempt = rt.attempt(&client, Box::new(get()), "op", 1, policy, None);
        let json = rt.json::<serde_json::Value>(&client, Ok(get()), &OP);
        let sizes = [
            ("traced", std::mem::size_of_val(&traced), 256),
            // The loop's future holds the retry copy of the request itself.
            ("execute_inner", std::mem::size_of_val(&inner), 1023),
            ("attempt", std::mem::size_of_val(&attempt), 1023),
            ("json", std::mem::size_of_val(&json), 1023),
        ];
        for (name, size, most) in sizes {
            assert!(size <= most, "{name}: {size} bytes, more than {most}");
        }
    }
}
