//! How each service proves who is calling.
//!
//! - [`NoAuth`]: nothing to add.
//! - [`PathKey`]: the key sits in the URL path (Promptev); the strategy only
//!   registers it with the redactor so URLs never show it.
//! - [`BearerToken`]: a fixed `Authorization: Bearer` token (Mycel).
//! - [`TokenExchange`]: an API key exchanged for a short-lived JWT, refreshed
//!   before it expires and once on a 401, with one exchange (retried on
//!   transient failures) shared by every concurrent request, optional
//!   two-factor codes and an optional on-disk cache (The Colony).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::header::{HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::error::{CODE_2FA_INVALID, CODE_2FA_REQUIRED};
use crate::redact::Redactor;
use crate::retry::RetryConfig;
use crate::token_cache::TokenCache;

/// The runtime's one boxed future (auth strategies are used as trait
/// objects, so `authorize` returns one).
pub use crate::call::BoxFuture;

/// Why credentials could not be attached.
#[derive(Debug)]
pub enum AuthFailure {
    /// The credential endpoint answered with an error; it is returned to the
    /// caller as the response of the operation, so it maps to a typed error.
    Response(reqwest::Response),
    /// The credential endpoint could not be reached.
    Transport(reqwest::Error),
}

/// What a strategy may use while authorizing.
pub struct AuthContext<'a> {
    /// The HTTP client of the transport.
    pub client: &'a reqwest::Client,
    /// Where new secrets (tokens) must be registered.
    pub redactor: &'a Redactor,
    /// The client's retry policy, for strategies that make their own
    /// requests (the token exchange).
    pub retry: &'a RetryConfig,
    /// Headers every request of the client carries (User-Agent, the
    /// caller's extra headers), for those requests too.
    pub default_headers: &'a http::HeaderMap,
    /// Longest answer the client reads whole.
    pub max_body_bytes: u64,
}

/// A way of attaching credentials to requests.
pub trait AuthStrategy: Send + Sync + fmt::Debug + 'static {
    /// Adds credentials to `request`, fetching them first if needed.
    fn authorize<'a>(
        &'a self,
        cx: AuthContext<'a>,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>>;

    /// Called with the `Authorization` header of a request that got a 401. Returns
    /// whether fresh credentials will be used by the next `authorize`, in which
    /// case the runtime retries the request once.
    fn invalidate(&self, _sent_authorization: Option<&HeaderValue>) -> bool {
        false
    }

    /// Registers the strategy's long-lived secrets with the redactor.
    fn register_secrets(&self, _redactor: &Redactor) {}
}

/// The future of an `authorize` that had nothing left to wait for. It has
/// no size, so boxing it allocates nothing: a request whose credentials are
/// at hand costs no allocation for them.
struct Authorized;

impl std::future::Future for Authorized {
    type Output = Result<(), AuthFailure>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// No credentials.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuth;

impl AuthStrategy for NoAuth {
    fn authorize<'a>(
        &'a self,
        _cx: AuthContext<'a>,
        _request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        Box::pin(Authorized)
    }
}

/// A key that travels in the URL path; nothing to add to the request.
pub struct PathKey {
    key: SecretString,
}

impl PathKey {
    /// Wraps the key.
    pub fn new(key: impl Into<String>) -> Self {
        PathKey {
            key: SecretString::from(key.into()),
        }
    }
}

impl fmt::Debug for PathKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PathKey([REDACTED])")
    }
}

impl AuthStrategy for PathKey {
    fn authorize<'a>(
        &'a self,
        _cx: AuthContext<'a>,
        _request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        Box::pin(Authorized)
    }

    fn register_secrets(&self, redactor: &Redactor) {
        redactor.add(self.key.expose_secret());
    }
}

/// A fixed bearer token.
pub struct BearerToken {
    token: SecretString,
    /// `Bearer <token>`, made once (marked sensitive); `None` when the token
    /// cannot travel in a header, in which case none is sent.
    header: Option<HeaderValue>,
}

impl BearerToken {
    /// Wraps the token.
    pub fn new(token: impl Into<String>) -> Self {
        let token = SecretString::from(token.into());
        let header = bearer(token.expose_secret());
        BearerToken { token, header }
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([REDACTED])")
    }
}

fn bearer(token: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    v.set_sensitive(true);
    Some(v)
}

impl AuthStrategy for BearerToken {
    fn authorize<'a>(
        &'a self,
        _cx: AuthContext<'a>,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        if let Some(v) = &self.header {
            request.headers_mut().insert(AUTHORIZATION, v.clone());
        }
        Box::pin(Authorized)
    }

    fn register_secrets(&self, redactor: &Redactor) {
        redactor.add(self.token.expose_secret());
    }
}

/// Refresh this long before the token's announced expiry, so a request in
/// flight never carries a token that expires on the way (colony-sdk uses the
/// same 60 s margin for its on-disk cache). Tokens shorter-lived than twice
/// the margin are refreshed at half their lifetime instead.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime assumed when the service says nothing usable about it (The
/// Colony's tokens last 24 h; colony-sdk refreshes after 23 h).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(23 * 3600);
/// Longest lifetime believed, whatever `expires_in` or the `exp` claim says:
/// a token is exchanged again at least this often, and no absurd announced
/// lifetime can overflow a clock computation.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Limit of one exchange attempt, from sending to the end of the answer,
/// unless [`TokenExchange::with_timeout`] sets another.
pub const DEFAULT_EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Issued tokens kept registered with the redactor: the current one and the
/// one before it, which requests still in flight may carry. Older ones are
/// removed, so refreshes do not pile up copies of dead tokens.
const TOKENS_KEPT_REDACTED: usize = 2;

/// Where the one-time codes of a two-factor account come from.
///
/// Only the token exchange needs a code; every other request uses the token.
#[derive(Clone)]
#[non_exhaustive]
pub enum TotpSource {
    /// One code, sent with the first exchange only: the service accepts each
    /// code once, so a later exchange (after expiry, a refresh, a 401) fails
    /// with [`Error::TwoFactorRequired`](crate::Error::TwoFactorRequired)
    /// without sending anything.
    Fixed(SecretString),
    /// Called before every exchange attempt for the current code.
    Callback(Arc<dyn Fn() -> String + Send + Sync>),
}

impl fmt::Debug for TotpSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TotpSource::Fixed(_) => f.write_str("TotpSource::Fixed([REDACTED])"),
            TotpSource::Callback(_) => f.write_str("TotpSource::Callback(..)"),
        }
    }
}

/// Checks that `code` can be a one-time code, as colony-sdk does: 6 to 8
/// digits (a TOTP code) or 10 to 16 ASCII letters and digits (a recovery
/// code). Whitespace is refused rather than stripped, and a value that looks
/// like the base32 TOTP *secret* is named as such. The error says what is
/// wrong without repeating the value.
pub fn validate_totp_code(code: &str) -> Result<(), String> {
    if code.chars().any(char::is_whitespace) {
        return Err(
            "contains whitespace; a one-time code has none, so the value was assembled wrongly"
                .into(),
        );
    }
    let n = code.len();
    let digits = code.bytes().all(|b| b.is_ascii_digit());
    if digits && (6..=8).contains(&n) {
        return Ok(());
    }
    if (10..=16).contains(&n) && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(());
    }
    if digits && (3..6).contains(&n) {
        return Err(format!(
            "is {n} digits but a TOTP code has at least 6; a leading zero was probably lost \
             (keep the code a string)"
        ));
    }
    let body = code.trim_end_matches('=');
    if body.len() >= 16
        && body
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(format!(
            "looks like the TOTP secret ({n} base32 characters), not a one-time code; \
             pass a callback that returns the current code instead"
        ));
    }
    Err(
        "is not a one-time code: expected 6 to 8 digits or a 10 to 16 character recovery code"
            .into(),
    )
}

#[derive(Clone)]
struct Token {
    /// `Bearer <token>`, marked sensitive, ready to attach (cloning it only
    /// bumps a reference count).
    header: HeaderValue,
    refresh_at: Instant,
}

/// An unsuccessful answer of the token endpoint, read whole so that every
/// caller waiting on the exchange can be handed its own copy.
#[derive(Clone)]
struct Refusal {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: bytes::Bytes,
}

impl Refusal {
    fn to_response(&self) -> reqwest::Response {
        let mut r = http::Response::new(self.body.clone());
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers.clone();
        reqwest::Response::from(r)
    }

    /// A refusal made here, in The Colony's error envelope, for failures
    /// found before or after talking to the endpoint.
    fn local(status: http::StatusCode, code: &str, message: &str) -> Refusal {
        let body = serde_json::json!({ "detail": { "message": message, "code": code } });
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        Refusal {
            status,
            headers,
            body: bytes::Bytes::from(body.to_string()),
        }
    }
}

/// How one exchange round ended, before it is published.
enum RoundError {
    Refused(Box<Refusal>),
    Unreachable(reqwest::Error),
    /// The answer was longer than the client reads whole.
    TooLarge(http::StatusCode, u64),
}

/// How the latest round ended, for the callers that waited on it.
#[derive(Clone)]
enum Settled {
    Token(HeaderValue),
    Refused(Refusal),
    Unreachable(Arc<reqwest::Error>),
    TooLarge(http::StatusCode, u64),
}

impl Settled {
    async fn replay(self) -> Result<HeaderValue, AuthFailure> {
        match self {
            Settled::Token(h) => Ok(h),
            Settled::Refused(r) => Err(AuthFailure::Response(r.to_response())),
            Settled::Unreachable(e) => Err(shared_transport_error(e).await),
            Settled::TooLarge(status, limit) => Err(AuthFailure::Response(
                crate::body::failing_body(status, http::HeaderMap::new(), limit),
            )),
        }
    }
}

#[derive(Default)]
struct Rounds {
    /// Rounds finished so far.
    completed: u64,
    /// The outcome of the latest one, when there is one to share.
    last: Option<Settled>,
}

/// The failure of an exchange that several callers waited on. Its source is
/// the original transport error, so `is_timeout`/`is_connect` still answer
/// for it.
#[derive(Debug)]
struct SharedExchangeFailure(Arc<reqwest::Error>);

impl fmt::Display for SharedExchangeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the token exchange these requests waited on failed")
    }
}

impl std::error::Error for SharedExchangeFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A `reqwest::Error` for one more caller of a failed exchange. reqwest
/// errors cannot be cloned or built, so one is obtained from a body that
/// fails with [`SharedExchangeFailure`].
async fn shared_transport_error(e: Arc<reqwest::Error>) -> AuthFailure {
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter([Err::<bytes::Bytes, _>(
        SharedExchangeFailure(e),
    )]));
    match reqwest::Response::from(http::Response::new(body))
        .bytes()
        .await
    {
        Err(err) => AuthFailure::Transport(err.without_url()),
        Ok(_) => AuthFailure::Response(
            Refusal::local(
                http::StatusCode::BAD_GATEWAY,
                "TOKEN_EXCHANGE_FAILED",
                "the token exchange failed",
            )
            .to_response(),
        ),
    }
}

/// Counts a caller between "saw no token" and "got the exchange lock".
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An API key exchanged for a bearer token at `token_url` with a JSON body
/// `{"api_key": key}` (plus `"totp_code"` for two-factor accounts); the
/// answer's `access_token` is used until shortly before `expires_in` (or the
/// token's own `exp` claim) runs out, at most [`MAX_TOKEN_LIFETIME`].
///
/// **One exchange at a time.** Callers that find no usable token wait for the
/// exchange in progress and all receive its outcome — the token, or the same
/// error — instead of starting their own.
///
/// **Retries.** An exchange is retried with the client's [`RetryConfig`]
/// (or [`TokenExchange::with_retry`]'s): on its statuses except 429, and on
/// connection failures when it retries those. A 429 is never retried here:
/// the token endpoint counts attempts, so retrying would extend the refusal
/// (colony-sdk made the same change). A `Retry-After` above the policy's
/// [`RetryConfig::max_retry_after`] ends the retries at once. Every attempt is
/// limited by [`TokenExchange::with_timeout`] (default
/// [`DEFAULT_EXCHANGE_TIMEOUT`]), so a hanging endpoint costs at most
/// `(max_retries + 1) × timeout` plus the delays, once for all callers.
///
/// **Secrets.** Each issued token is registered with the redactor; only the
/// current and the previous one stay registered.
pub struct TokenExchange {
    api_key: StdMutex<SecretString>,
    token_url: reqwest::Url,
    // Read on every request by every task, written once a day: readers do
    // not wait for one another.
    current: std::sync::RwLock<Option<Token>>,
    // Held across a round so that concurrent callers wait for one exchange
    // instead of starting their own.
    exchange: tokio::sync::Mutex<()>,
    rounds: StdMutex<Rounds>,
    waiting: AtomicUsize,
    exchanges: AtomicU64,
    retry: Option<RetryConfig>,
    timeout: Duration,
    totp: Option<TotpSource>,
    totp_spent: AtomicBool,
    cache: Option<TokenCache>,
    issued: StdMutex<VecDeque<SecretString>>,
    refused: StdMutex<Option<HeaderValue>>,
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("token_url", &self.token_url.as_str())
            .field("api_key", &"[REDACTED]")
            .field("totp", &self.totp)
            .field("cache", &self.cache.as_ref().map(TokenCache::dir))
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// When to refresh a token that lives `lifetime` from now.
fn refresh_deadline(lifetime: Duration) -> Instant {
    let lifetime = lifetime.min(MAX_TOKEN_LIFETIME);
    let early = REFRESH_MARGIN.min(lifetime / 2);
    let now = Instant::now();
    now.checked_add(lifetime - early).unwrap_or(now)
}

impl TokenExchange {
    /// Creates the strategy; no request is made until the first call.
    pub fn new(api_key: impl Into<String>, token_url: reqwest::Url) -> Self {
        TokenExchange {
            api_key: StdMutex::new(SecretString::from(api_key.into())),
            token_url,
            current: std::sync::RwLock::new(None),
            exchange: tokio::sync::Mutex::new(()),
            rounds: StdMutex::new(Rounds::default()),
            waiting: AtomicUsize::new(0),
            exchanges: AtomicU64::new(0),
            retry: None,
            timeout: DEFAULT_EXCHANGE_TIMEOUT,
            totp: None,
            totp_spent: AtomicBool::new(false),
            cache: None,
            issued: StdMutex::new(VecDeque::new()),
            refused: StdMutex::new(None),
        }
    }

    /// Retries exchanges with this policy instead of the one of the client
    /// making the request (429 is still never retried).
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Limits each exchange attempt, from sending to the end of the answer
    /// (default [`DEFAULT_EXCHANGE_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends a one-time code with each exchange, for two-factor accounts.
    pub fn with_totp(mut self, totp: TotpSource) -> Self {
        self.totp = Some(totp);
        self
    }

    /// Keeps tokens in `cache` across processes: a usable cached token is
    /// taken instead of exchanging, and every new token is written there.
    pub fn with_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The on-disk cache in use, if any.
    pub fn cache(&self) -> Option<&TokenCache> {
        self.cache.as_ref()
    }

    /// Requests sent to the token endpoint so far, retries included (a token
    /// read from the disk cache costs none).
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(Ordering::Relaxed)
    }

    /// Switches to a new API key (after a key rotation) and drops the token
    /// obtained with the old one, in memory and in the disk cache.
    pub fn set_api_key(&self, key: impl Into<String>, redactor: &Redactor) {
        let key = key.into();
        redactor.add(&key);
        let old = std::mem::replace(&mut *lock(&self.api_key), SecretString::from(key));
        if let Some(cache) = &self.cache {
            cache.remove(self.token_url.as_str(), old.expose_secret());
        }
        self.forget();
    }

    /// Exchanges the key for a new token now (never taken from the disk
    /// cache; the new one is written there), retrying with the
    /// [`TokenExchange::with_retry`] policy or [`RetryConfig::default`].
    pub async fn refresh(&self, cx: AuthContext<'_>) -> Result<(), AuthFailure> {
        self.forget();
        self.token(&cx, false).await.map(|_| ())
    }

    /// The bearer token requests are sent with (without `Bearer `): the
    /// current one while it is fresh, else one from the disk cache, else a
    /// new exchange — the same token every request would use, never an
    /// extra exchange.
    pub async fn bearer_token(&self, cx: AuthContext<'_>) -> Result<SecretString, AuthFailure> {
        let header = self.token(&cx, true).await?;
        let text = header.to_str().unwrap_or_default();
        let token = text.strip_prefix("Bearer ").unwrap_or(text);
        Ok(SecretString::from(token.to_owned()))
    }

    /// Forgets the current token; the next request exchanges the key again.
    pub fn forget(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn fresh_token(&self) -> Option<HeaderValue> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
            .map(|t| t.header.clone())
    }

    fn key(&self) -> SecretString {
        SecretString::from(lock(&self.api_key).expose_secret().to_owned())
    }

    fn key_is(&self, key: &SecretString) -> bool {
        lock(&self.api_key).expose_secret() == key.expose_secret()
    }

    async fn token(
        &self,
        cx: &AuthContext<'_>,
        use_disk: bool,
    ) -> Result<HeaderValue, AuthFailure> {
        if let Some(t) = self.fresh_token() {
            return Ok(t);
        }
        let waiting = Waiting::enter(&self.waiting);
        let seen = lock(&self.rounds).completed;
        let _guard = self.exchange.lock().await;
        drop(waiting);
        // Someone else may have finished an exchange while we waited: its
        // outcome is ours, success or failure.
        if let Some(t) = self.fresh_token() {
            return Ok(t);
        }
        let settled = {
            let rounds = lock(&self.rounds);
            (rounds.completed != seen)
                .then(|| rounds.last.clone())
                .flatten()
        };
        if let Some(settled) = settled {
            return settled.replay().await;
        }

        let key = self.key();
        let result = match use_disk.then(|| self.token_on_disk(cx, &key)).flatten() {
            Some(header) => Ok(header),
            None => self.round(cx, &key).await,
        };

        let shared = {
            let mut rounds = lock(&self.rounds);
            rounds.completed += 1;
            match result {
                Ok(header) => {
                    rounds.last = Some(Settled::Token(header.clone()));
                    return Ok(header);
                }
                Err(RoundError::Refused(refusal)) => {
                    let response = refusal.to_response();
                    rounds.last = Some(Settled::Refused(*refusal));
                    return Err(AuthFailure::Response(response));
                }
                Err(RoundError::TooLarge(status, limit)) => {
                    rounds.last = Some(Settled::TooLarge(status, limit));
                    return Err(AuthFailure::Response(crate::body::failing_body(
                        status,
                        http::HeaderMap::new(),
                        limit,
                    )));
                }
                // Nobody waited: the caller gets the original error.
                Err(RoundError::Unreachable(e)) if self.waiting.load(Ordering::SeqCst) == 0 => {
                    rounds.last = None;
                    return Err(AuthFailure::Transport(e));
                }
                Err(RoundError::Unreachable(e)) => {
                    let e = Arc::new(e);
                    rounds.last = Some(Settled::Unreachable(e.clone()));
                    e
                }
            }
        };
        Err(shared_transport_error(shared).await)
    }

    /// A usable token from the disk cache, made current.
    fn token_on_disk(&self, cx: &AuthContext<'_>, key: &SecretString) -> Option<HeaderValue> {
        let cache = self.cache.as_ref()?;
        let hit = cache.load(self.token_url.as_str(), key.expose_secret(), REFRESH_MARGIN)?;
        let header = bearer(&hit.token)?;
        if lock(&self.refused).as_ref() == Some(&header) {
            return None;
        }
        let left = Duration::try_from_secs_f64(hit.expiry - crate::token_cache::unix_now()).ok()?;
        self.remember_issued(&hit.token, cx.redactor);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Token {
            header: header.clone(),
            refresh_at: refresh_deadline(left),
        });
        tracing::debug!("token taken from the disk cache");
        Some(header)
    }

    /// One exchange round: attempts with retries until a token or a final
    /// failure.
    async fn round(
        &self,
        cx: &AuthContext<'_>,
        key: &SecretString,
    ) -> Result<HeaderValue, RoundError> {
        let retry = self.retry.as_ref().unwrap_or(cx.retry);
        let fixed_code = match &self.totp {
            Some(TotpSource::Fixed(code)) => {
                if self.totp_spent.swap(true, Ordering::SeqCst) {
                    return Err(RoundError::Refused(Box::new(Refusal::local(
                        http::StatusCode::UNAUTHORIZED,
                        CODE_2FA_REQUIRED,
                        "the fixed two-factor code was already used by an earlier token \
                         exchange and cannot be replayed (each code is accepted once); \
                         configure a callback that returns the current code",
                    ))));
                }
                Some(code.expose_secret().to_owned())
            }
            _ => None,
        };
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let code = match &self.totp {
                Some(TotpSource::Callback(next)) => {
                    let code = next();
                    if let Err(why) = validate_totp_code(&code) {
                        return Err(RoundError::Refused(Box::new(Refusal::local(
                            http::StatusCode::UNAUTHORIZED,
                            CODE_2FA_INVALID,
                            &format!(
                                "the code returned by the two-factor callback {why}; \
                                 it was not sent"
                            ),
                        ))));
                    }
                    Some(code)
                }
                _ => fixed_code.clone(),
            };
            let mut body = serde_json::json!({ "api_key": key.expose_secret() });
            if let Some(code) = code {
                body["totp_code"] = Value::String(code);
            }
            let may_retry = attempt <= retry.max_retries;
            self.exchanges.fetch_add(1, Ordering::Relaxed);
            let sent = cx
                .client
                .post(self.token_url.clone())
                .headers(cx.default_headers.clone())
                .timeout(self.timeout)
                .json(&body)
                .send()
                .await;
            drop(body);
            let read = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match crate::read_capped(response, cx.max_body_bytes).await {
                        Ok(body) => Ok(Refusal {
                            status,
                            headers,
                            body,
                        }),
                        Err(crate::Unread::TooLarge) => {
                            return Err(RoundError::TooLarge(status, cx.max_body_bytes))
                        }
                        Err(crate::Unread::Failed(e)) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let answer = match read {
                Ok(answer) => answer,
                Err(e) => {
                    let e = e.without_url();
                    if may_retry && retry.retry_network_errors {
                        let delay = retry.delay(attempt, None).unwrap_or(retry.max_delay);
                        tracing::debug!(
                            attempt,
                            timeout = e.is_timeout(),
                            delay_ms = delay.as_millis() as u64,
                            "token exchange got no answer; retrying"
                        );
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(RoundError::Unreachable(e));
                }
            };
            if answer.status.is_success() {
                return self.accept(answer, key, cx.redactor);
            }
            let status = answer.status.as_u16();
            if may_retry && status != 429 && retry.retry_on.contains(&status) {
                let after = crate::retry::retry_after(&answer.headers);
                if let Some(delay) = retry.delay(attempt, after) {
                    tracing::debug!(
                        attempt,
                        status,
                        delay_ms = delay.as_millis() as u64,
                        "token exchange refused; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            return Err(RoundError::Refused(Box::new(answer)));
        }
    }

    /// Reads a successful answer and makes its token current.
    fn accept(
        &self,
        answer: Refusal,
        key: &SecretString,
        redactor: &Redactor,
    ) -> Result<HeaderValue, RoundError> {
        let parsed: Option<Value> = serde_json::from_slice(&answer.body).ok();
        let Some(token) = parsed
            .as_ref()
            .and_then(|v| v.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            // Hand the malformed answer back as the operation's response: it is
            // mapped to a typed error with the body excerpt.
            return Err(RoundError::Refused(Box::new(Refusal {
                status: http::StatusCode::BAD_GATEWAY,
                ..answer
            })));
        };
        self.remember_issued(&token, redactor);
        let lifetime = token_lifetime(parsed.as_ref(), &token);
        let Some(header) = bearer(&token) else {
            return Err(RoundError::Refused(Box::new(Refusal::local(
                http::StatusCode::BAD_GATEWAY,
                "TOKEN_NOT_A_HEADER",
                "the issued token is not a valid header value",
            ))));
        };
        // A key rotated during the exchange: this token belongs to the old
        // key; hand it to the callers that waited but keep it nowhere.
        if self.key_is(key) {
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Token {
                header: header.clone(),
                refresh_at: refresh_deadline(lifetime),
            });
            if let Some(cache) = &self.cache {
                cache.store(
                    self.token_url.as_str(),
                    key.expose_secret(),
                    &token,
                    crate::token_cache::unix_now() + lifetime.as_secs_f64(),
                );
            }
        }
        Ok(header)
    }

    /// Registers a token with the redactor and unregisters the ones issued
    /// before the previous one.
    fn remember_issued(&self, token: &str, redactor: &Redactor) {
        redactor.add(token);
        let mut issued = lock(&self.issued);
        if issued.iter().any(|t| t.expose_secret() == token) {
            return;
        }
        issued.push_back(SecretString::from(token.to_owned()));
        while issued.len() > TOKENS_KEPT_REDACTED {
            if let Some(old) = issued.pop_front() {
                redactor.remove(old.expose_secret());
            }
        }
    }
}

/// How long a token lives: `expires_in` (a number, or a numeric string) when
/// it is a positive finite number of seconds, else the JWT's `exp` claim,
/// else [`DEFAULT_TOKEN_LIFETIME`]; never more than [`MAX_TOKEN_LIFETIME`].
fn token_lifetime(answer: Option<&Value>, token: &str) -> Duration {
    let announced = answer
        .and_then(|v| v.get("expires_in"))
        .and_then(|v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        })
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| Duration::from_secs_f64(s.min(MAX_TOKEN_LIFETIME.as_secs_f64())));
    announced
        .or_else(|| jwt_lifetime(token))
        .unwrap_or(DEFAULT_TOKEN_LIFETIME)
        .min(MAX_TOKEN_LIFETIME)
}

/// Time left before a JWT's `exp` claim, read without verifying the token
/// (the service verifies it; we only schedule the refresh), at most
/// [`MAX_TOKEN_LIFETIME`].
fn jwt_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let exp = serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_f64()?;
    let left = exp - crate::token_cache::unix_now();
    (left.is_finite() && left > 0.0)
        .then(|| Duration::from_secs_f64(left.min(MAX_TOKEN_LIFETIME.as_secs_f64())))
}

impl AuthStrategy for TokenExchange {
    fn authorize<'a>(
        &'a self,
        cx: AuthContext<'a>,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        // The usual case, a token in hand, costs no exchange future: that one
        // holds a whole HTTP exchange and would be allocated on every request.
        if let Some(header) = self.fresh_token() {
            request.headers_mut().insert(AUTHORIZATION, header);
            return Box::pin(Authorized);
        }
        Box::pin(async move {
            let header = self.token(&cx, true).await?;
            request.headers_mut().insert(AUTHORIZATION, header);
            Ok(())
        })
    }

    fn invalidate(&self, sent: Option<&HeaderValue>) -> bool {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        // Only the token that was refused is dropped: when a hundred requests
        // fail with the same stale token, the first drop triggers one
        // exchange and the others reuse its result.
        let mut dropped = false;
        if let (Some(sent), Some(t)) = (sent, current.as_ref()) {
            if t.header == *sent {
                *current = None;
                dropped = true;
            }
        }
        drop(current);
        if let (true, Some(sent)) = (dropped, sent) {
            // Never take this token from the disk again, in this process or
            // another one.
            *lock(&self.refused) = Some(sent.clone());
            if let (Some(cache), Some(token)) = (
                &self.cache,
                sent.to_str().ok().and_then(|s| s.strip_prefix("Bearer ")),
            ) {
                let key = self.key();
                cache.remove_if_holds(self.token_url.as_str(), key.expose_secret(), token);
            }
        }
        true
    }

    fn register_secrets(&self, redactor: &Redactor) {
        redactor.add(lock(&self.api_key).expose_secret());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwt_exp_is_read() {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        let payload = format!("{{\"sub\":\"agent\",\"exp\":{exp}}}");
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.as_bytes());
        let token = format!("eyJhbGciOiJIUzI1NiJ9.{enc}.sig");
        let left = jwt_lifetime(&token).unwrap();
        assert!(left > Duration::from_secs(3500) && left <= Duration::from_secs(3600));
        assert_eq!(jwt_lifetime("not-a-jwt"), None);
        assert_eq!(jwt_lifetime("a.!!!.c"), None);
    }

    #[test]
    fn lifetimes_are_clamped_or_defaulted() {
        let life = |answer: Value, token: &str| token_lifetime(Some(&answer), token);
        assert_eq!(life(json!({"expires_in": 1e20}), "t"), MAX_TOKEN_LIFETIME);
        assert_eq!(
            life(json!({"expires_in": "3600"}), "t"),
            Duration::from_secs(3600)
        );
        for bad in [
            json!(-5),
            json!(0),
            json!("NaN"),
            json!("inf"),
            json!("soon"),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(
                life(json!({ "expires_in": bad }), "t"),
                DEFAULT_TOKEN_LIFETIME
            );
        }
        let far = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1e300}"#);
        assert_eq!(
            jwt_lifetime(&format!("h.{far}.s")),
            Some(MAX_TOKEN_LIFETIME)
        );
        let past = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":-1e300}"#);
        assert_eq!(jwt_lifetime(&format!("h.{past}.s")), None);
        // Short tokens are refreshed at half their lifetime, never in the past.
        let soon = refresh_deadline(Duration::from_secs(10));
        assert!(soon > Instant::now());
        let _ = refresh_deadline(Duration::MAX);
    }

    #[test]
    fn totp_codes_are_checked_without_echoing_them() {
        for ok in ["000000", "12345678", "abcdef0123456789", "ABCDEFGHIJ"] {
            assert_eq!(validate_totp_code(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1",
            "01234",
            "123 456",
            "\t123456",
            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "12345678901234567",
            "１２３４５６",
        ] {
            let why = validate_totp_code(bad).unwrap_err();
            assert!(bad.len() < 6 || !why.contains(bad), "{why}");
        }
        assert!(validate_totp_code("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
            .unwrap_err()
            .contains("secret"));
        assert!(
            format!("{:?}", TotpSource::Fixed("123456".to_string().into())).contains("REDACTED")
        );
    }

    #[test]
    fn debug_hides_keys() {
        let s = format!(
            "{:?} {:?} {:?}",
            PathKey::new("pv_sk_abcdef123"),
            BearerToken::new("tok_abcdef123"),
            TokenExchange::new("col_abcdef123", "http://x/auth/token".parse().unwrap())
        );
        assert!(!s.contains("abcdef123"), "{s}");
    }
}
