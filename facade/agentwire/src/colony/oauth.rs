//! RFC 8693 token exchange: the caller's Colony token traded for an OpenID
//! token addressed to a relying party that signs agents in with The Colony.
//!
//! The endpoint is the site's OAuth server, `/oauth/token` at the root of the
//! base URL (not under `/api/v1`), and speaks OAuth rather than the API: a
//! form-encoded body, no `Authorization` header, and errors as `{"error",
//! "error_description"}`. It is sent through its own runtime (hooks,
//! timeouts, redaction as configured; no credentials, one attempt).

use std::fmt;
use std::future::IntoFuture;

use agentwire_runtime::auth::{AuthFailure, AuthStrategy};
use agentwire_runtime::{
    ApiError, Error, Result, RetryClass, RetryConfig, Runtime, RuntimeBuilder,
};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};

use agentwire_colony_transport::ClientInfo;

use super::{Client, SERVICE};
use crate::BoxFuture;

/// The `grant_type` of an RFC 8693 token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The `subject_token_type` sent: the subject is an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

const OPERATION: &str = "exchange_token";
/// Fields of the answer that hold issued tokens: masked from the moment the
/// body is read.
const ISSUED_TOKEN_FIELDS: &[&str] = &["access_token", "id_token"];

/// The runtime of the exchange, from one configured like the client's:
/// no credentials (the default), and never retried, since each attempt spends
/// the subject token's standing with the OAuth server.
pub(super) fn runtime(builder: RuntimeBuilder) -> Runtime {
    builder
        .retry(RetryConfig::none())
        .retry_class(&[OPERATION], RetryClass::Never)
        .secret_fields(OPERATION, ISSUED_TOKEN_FIELDS)
        .build()
}

impl Client {
    /// Exchanges the client's own token (or
    /// [`ExchangeToken::subject_token`]) for tokens addressed to `audience`,
    /// the relying party's client id. Set options, then `.await` it.
    ///
    /// The service always grants `openid`, never grants `offline_access`
    /// and issues no refresh token. Its refusals map to [`Error`] kinds:
    /// `invalid_grant` (a subject it does not accept) is [`Error::Auth`];
    /// `invalid_request`, `invalid_target` (an unknown audience) and
    /// `invalid_scope` are [`Error::Validation`]; `unsupported_grant_type`
    /// (exchange not enabled on that deployment) is [`Error::Api`]; a 5xx is
    /// [`Error::Server`]. The OAuth error is the [`ApiError::code`].
    pub fn exchange_token(&self, audience: impl Into<String>) -> ExchangeToken<'_> {
        ExchangeToken {
            client: self,
            audience: audience.into(),
            scope: None,
            subject_token: None,
        }
    }

    /// The bearer token the client sends, exchanging the key first if needed.
    async fn own_token(&self) -> Result<SecretString> {
        let inner = &self.inner;
        let url = reqwest::Url::parse(&inner.base_url)
            .map_err(|e| Error::Config(format!("invalid base URL: {e}")))?;
        let mut probe = reqwest::Request::new(Method::GET, url);
        let cx = inner.runtime.auth_context(inner.transport.client());
        match inner.auth.authorize(cx, &mut probe).await {
            Ok(()) => {}
            Err(AuthFailure::Response(r)) => {
                return Err(inner.runtime.error_from_response(r).await)
            }
            Err(AuthFailure::Transport(e)) => {
                return Err(Error::network(SERVICE, e, inner.runtime.redactor()))
            }
        }
        probe
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| SecretString::from(t.to_owned()))
            .ok_or_else(|| Error::Config("the client has no bearer token to exchange".into()))
    }
}

/// A pending [`Client::exchange_token`] call.
#[must_use = "a request does nothing until awaited"]
pub struct ExchangeToken<'a> {
    client: &'a Client,
    audience: String,
    scope: Option<String>,
    subject_token: Option<SecretString>,
}

impl fmt::Debug for ExchangeToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeToken")
            .field("audience", &self.audience)
            .field("scope", &self.scope)
            .field(
                "subject_token",
                &self.subject_token.as_ref().map(|_| "[REDACTED]"),
            )
            .finish_non_exhaustive()
    }
}

impl ExchangeToken<'_> {
    /// Scopes asked for, space-separated (`"openid profile"`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The token to exchange instead of the client's own: a Colony access
    /// token (a JWT). An API key (`col_…`) is refused before sending.
    pub fn subject_token(mut self, token: impl Into<String>) -> Self {
        self.subject_token = Some(SecretString::from(token.into()));
        self
    }
}

/// The tokens a [`Client::exchange_token`] issued.
#[derive(Clone, Deserialize)]
#[non_exhaustive]
pub struct ExchangedToken {
    /// The access token for the audience.
    #[serde(deserialize_with = "secret")]
    pub access_token: SecretString,
    /// The OpenID Connect ID token, when issued.
    #[serde(default, deserialize_with = "optional_secret")]
    pub id_token: Option<SecretString>,
    /// What `access_token` is (an RFC 8693 token type URI).
    #[serde(default)]
    pub issued_token_type: Option<String>,
    /// How to present `access_token` (`Bearer`).
    #[serde(default)]
    pub token_type: Option<String>,
    /// Seconds until `access_token` expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The scopes granted, space-separated.
    #[serde(default)]
    pub scope: Option<String>,
    /// Fields this version does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<SecretString, D::Error> {
    String::deserialize(d).map(SecretString::from)
}

fn optional_secret<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<SecretString>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(SecretString::from))
}

impl fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("access_token", &"[REDACTED]")
            .field("id_token", &self.id_token.as_ref().map(|_| "[REDACTED]"))
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl<'a> IntoFuture for ExchangeToken<'a> {
    type Output = Result<ExchangedToken>;
    type IntoFuture = BoxFuture<'a, Result<ExchangedToken>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if self.audience.trim().is_empty() {
                return Err(Error::InvalidArgument {
                    name: "audience",
                    message: "is empty".into(),
                });
            }
            let subject = match self.subject_token {
                Some(token) => {
                    let t = token.expose_secret();
                    if t.trim().is_empty() {
                        return Err(Error::InvalidArgument {
                            name: "subject_token",
                            message: "is empty".into(),
                        });
                    }
                    if t.starts_with("col_") {
                        return Err(Error::InvalidArgument {
                            name: "subject_token",
                            message: "is an API key; exchange a Colony access token (JWT)".into(),
                        });
                    }
                    token
                }
                None => self.client.own_token().await?,
            };
            let inner = &self.client.inner;
            let oauth = &inner.oauth;
            oauth.redactor().add(subject.expose_secret());
            let mut form = Vec::from([
                ("grant_type", TOKEN_EXCHANGE_GRANT),
                ("subject_token", subject.expose_secret()),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("audience", self.audience.as_str()),
            ]);
            if let Some(scope) = self.scope.as_deref().filter(|s| !s.trim().is_empty()) {
                form.push(("scope", scope));
            }
            let http = inner.transport.client();
            let request = http
                .post(format!("{}/oauth/token", inner.base_url))
                .header(ACCEPT, HeaderValue::from_static("application/json"))
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(form_urlencoded(&form))
                .build()
                .map_err(|e| Error::Config(format!("invalid base URL: {}", e.without_url())))?;
            let response = oauth.execute(http, request, OPERATION).await?;
            let status = response.status();
            let body = response
                .bytes()
                .await
                .map_err(|e| Error::network(SERVICE, e, oauth.redactor()))?;
            if status.is_success() {
                return oauth.decode(status, &body);
            }
            Err(oauth_error(status.as_u16(), &body, oauth))
        })
    }
}

/// `application/x-www-form-urlencoded`, as a URL's query serializer writes it.
fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("a fixed valid URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// A refusal of the OAuth server as an [`Error`], by its OAuth error code.
fn oauth_error(status: u16, body: &[u8], oauth: &Runtime) -> Error {
    let text = oauth
        .redactor()
        .redact(&String::from_utf8_lossy(body))
        .into_owned();
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let code = field("error");
    let message = field("error_description")
        .or_else(|| code.clone())
        .unwrap_or_else(|| format!("the token exchange was refused ({status})"));
    let mut error = ApiError::new(SERVICE, status, message);
    error.code = code.clone();
    error.body = parsed;
    match code.as_deref() {
        _ if status >= 500 => Error::Server(error),
        Some("invalid_grant") => Error::Auth(error),
        Some("invalid_request" | "invalid_target" | "invalid_scope") => Error::Validation(error),
        Some("unsupported_grant_type") => {
            error.message = format!(
                "token exchange is not enabled on this deployment: {}",
                error.message
            );
            Error::Api(error)
        }
        _ if status == 429 => Error::RateLimited {
            retry_after: None,
            error,
        },
        _ if status == 401 || status == 403 => Error::Auth(error),
        _ if status == 400 || status == 422 => Error::Validation(error),
        _ => Error::Api(error),
    }
}
