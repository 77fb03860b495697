//! How each service proves who is calling.
//!
//! - [`NoAuth`]: nothing to add.
//! - [`PathKey`]: the key sits in the URL path (Promptev); the strategy only
//!   registers it with the redactor so URLs never show it.
//! - [`BearerToken`]: a fixed `Authorization: Bearer` token (Mycel).
//! - [`TokenExchange`]: an API key exchanged for a short-lived JWT, refreshed
//!   before it expires and once on a 401, with one exchange shared by every
//!   concurrent request (The Colony).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex as StdMutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::header::{HeaderValue, AUTHORIZATION};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::redact::Redactor;

/// A boxed future, as auth strategies are used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// No credentials.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAuth;

impl AuthStrategy for NoAuth {
    fn authorize<'a>(
        &'a self,
        _cx: AuthContext<'a>,
        _request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        Box::pin(async { Ok(()) })
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
        Box::pin(async { Ok(()) })
    }

    fn register_secrets(&self, redactor: &Redactor) {
        redactor.add(self.key.expose_secret());
    }
}

/// A fixed bearer token.
pub struct BearerToken {
    token: SecretString,
}

impl BearerToken {
    /// Wraps the token.
    pub fn new(token: impl Into<String>) -> Self {
        BearerToken {
            token: SecretString::from(token.into()),
        }
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
        if let Some(v) = bearer(self.token.expose_secret()) {
            request.headers_mut().insert(AUTHORIZATION, v);
        }
        Box::pin(async { Ok(()) })
    }

    fn register_secrets(&self, redactor: &Redactor) {
        redactor.add(self.token.expose_secret());
    }
}

/// Refresh this long before the token's announced expiry, so a request in
/// flight never carries a token that expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime assumed when the service says nothing about it.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(23 * 3600);

#[derive(Clone)]
struct Token {
    /// `Bearer <token>`, marked sensitive, ready to attach (cloning it only
    /// bumps a reference count).
    header: HeaderValue,
    refresh_at: Instant,
}

/// An API key exchanged for a bearer token at `token_url` with a JSON body
/// `{"api_key": key}`; the answer's `access_token` is used until shortly before
/// `expires_in` (or the token's own `exp` claim) runs out.
pub struct TokenExchange {
    api_key: StdMutex<SecretString>,
    token_url: reqwest::Url,
    current: StdMutex<Option<Token>>,
    // Held across the exchange so that concurrent callers wait for one
    // exchange instead of starting their own.
    exchange: tokio::sync::Mutex<()>,
    exchanges: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchange")
            .field("token_url", &self.token_url.as_str())
            .field("api_key", &"[REDACTED]")
            .finish()
    }
}

impl TokenExchange {
    /// Creates the strategy; no request is made until the first call.
    pub fn new(api_key: impl Into<String>, token_url: reqwest::Url) -> Self {
        TokenExchange {
            api_key: StdMutex::new(SecretString::from(api_key.into())),
            token_url,
            current: StdMutex::new(None),
            exchange: tokio::sync::Mutex::new(()),
            exchanges: Default::default(),
        }
    }

    /// Number of exchanges made so far.
    pub fn exchanges(&self) -> u64 {
        self.exchanges.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Switches to a new API key (after a key rotation) and drops the token
    /// obtained with the old one.
    pub fn set_api_key(&self, key: impl Into<String>, redactor: &Redactor) {
        let key = key.into();
        redactor.add(&key);
        *self.api_key.lock().unwrap_or_else(|p| p.into_inner()) = SecretString::from(key);
        self.forget();
    }

    /// Exchanges the key for a new token now.
    pub async fn refresh(
        &self,
        client: &reqwest::Client,
        redactor: &Redactor,
    ) -> Result<(), AuthFailure> {
        self.forget();
        self.token(&AuthContext { client, redactor })
            .await
            .map(|_| ())
    }

    /// Forgets the current token; the next request exchanges the key again.
    pub fn forget(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn fresh_token(&self) -> Option<HeaderValue> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        current
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
            .map(|t| t.header.clone())
    }

    async fn token(&self, cx: &AuthContext<'_>) -> Result<HeaderValue, AuthFailure> {
        if let Some(t) = self.fresh_token() {
            return Ok(t);
        }
        let _guard = self.exchange.lock().await;
        // Someone else may have finished an exchange while we waited.
        if let Some(t) = self.fresh_token() {
            return Ok(t);
        }
        let key = self
            .api_key
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expose_secret()
            .to_owned();
        self.exchanges
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let response = cx
            .client
            .post(self.token_url.clone())
            .json(&serde_json::json!({ "api_key": key }))
            .send()
            .await
            .map_err(|e| AuthFailure::Transport(e.without_url()))?;
        if !response.status().is_success() {
            return Err(AuthFailure::Response(response));
        }
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| AuthFailure::Transport(e.without_url()))?;
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let Some(token) = parsed
            .as_ref()
            .and_then(|v| v.get("access_token"))
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            // Hand the malformed answer back as the operation's response: it is
            // mapped to a typed decode error with the body excerpt.
            let mut rebuilt = http::Response::new(body);
            *rebuilt.status_mut() = if status.is_success() {
                http::StatusCode::BAD_GATEWAY
            } else {
                status
            };
            *rebuilt.headers_mut() = headers;
            return Err(AuthFailure::Response(reqwest::Response::from(rebuilt)));
        };
        cx.redactor.add(&token);
        let lifetime = parsed
            .as_ref()
            .and_then(|v| v.get("expires_in"))
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .or_else(|| jwt_lifetime(&token))
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let Some(header) = bearer(&token) else {
            let mut rebuilt = http::Response::new(bytes::Bytes::from_static(
                b"{\"detail\":\"the issued token is not a valid header value\"}",
            ));
            *rebuilt.status_mut() = http::StatusCode::BAD_GATEWAY;
            return Err(AuthFailure::Response(reqwest::Response::from(rebuilt)));
        };
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(Token {
            header: header.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
        });
        Ok(header)
    }
}

/// Time left before a JWT's `exp` claim, read without verifying the token
/// (the service verifies it; we only schedule the refresh).
fn jwt_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let exp = serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_f64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    (exp > now).then(|| Duration::from_secs_f64(exp - now))
}

impl AuthStrategy for TokenExchange {
    fn authorize<'a>(
        &'a self,
        cx: AuthContext<'a>,
        request: &'a mut reqwest::Request,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        Box::pin(async move {
            let header = self.token(&cx).await?;
            request.headers_mut().insert(AUTHORIZATION, header);
            Ok(())
        })
    }

    fn invalidate(&self, sent: Option<&HeaderValue>) -> bool {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        // Only the token that was refused is dropped: when a hundred requests
        // fail with the same stale token, the first drop triggers one
        // exchange and the others reuse its result.
        if let (Some(sent), Some(t)) = (sent, current.as_ref()) {
            if t.header == *sent {
                *current = None;
            }
        }
        true
    }

    fn register_secrets(&self, redactor: &Redactor) {
        redactor.add(
            self.api_key
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .expose_secret(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
