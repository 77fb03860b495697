//! One error type for every service.
//!
//! Each variant says what went wrong in terms a caller can act on (retry later,
//! fix the input, re-authenticate…). Responses from the service carry their
//! status, the service's machine-readable code and the parsed body. No variant
//! ever holds a secret: bodies and messages pass through the redactor and
//! transport errors lose their URL, which for some services contains a key.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::redact::Redactor;

/// The code of a 401 that asks for a two-factor code ([`Error::TwoFactorRequired`]).
pub const CODE_2FA_REQUIRED: &str = "AUTH_2FA_REQUIRED";
/// The code of a 401 that refuses a two-factor code ([`Error::TwoFactorInvalid`]).
pub const CODE_2FA_INVALID: &str = "AUTH_2FA_INVALID";

/// Result type of every agentwire operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a service answered when it refused a request.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// Which service answered (`"promptev"`, `"colony"`, `"mycel"`).
    pub service: &'static str,
    /// HTTP status code.
    pub status: u16,
    /// The service's machine-readable error code, when its body has one.
    pub code: Option<String>,
    /// A human-readable reason, taken from the body (`detail`, `message`…) or the
    /// status line.
    pub message: String,
    /// The body parsed as JSON, when it was JSON.
    pub body: Option<Value>,
}

impl ApiError {
    /// A refusal without a machine-readable code or body: for errors a
    /// facade reports in the service's terms (an unknown name looked up by
    /// a helper, say).
    pub fn new(service: &'static str, status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            service,
            status,
            code: None,
            message: message.into(),
            body: None,
        }
    }

    /// The request field the refusal is about, when the body names one
    /// (Promptev's `{"error": {"message", "field"}}`).
    pub fn field(&self) -> Option<&str> {
        self.body
            .as_ref()?
            .get("error")?
            .get("field")?
            .as_str()
            .filter(|f| !f.is_empty())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered {}", self.service, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Why no usable response arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkErrorKind {
    /// The connection could not be made (refused, DNS, TLS).
    Connect,
    /// The request or one read took longer than the configured timeout.
    Timeout,
    /// The connection broke while the response body was being read.
    Body,
    /// Anything else reqwest reported.
    Other,
}

/// Failure to get a complete response from the service.
#[derive(Debug, thiserror::Error)]
#[error("{service}: {message}")]
pub struct NetworkError {
    /// Which service was being called.
    pub service: &'static str,
    /// What kind of failure it was.
    pub kind: NetworkErrorKind,
    /// Redacted description.
    pub message: String,
    #[source]
    source: Option<reqwest::Error>,
}

/// A response arrived but could not be understood.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
#[error("{service}: cannot decode the response: {message}")]
pub struct DecodeError {
    /// Which service answered.
    pub service: &'static str,
    /// HTTP status of the response, when there was one.
    pub status: Option<u16>,
    /// What was wrong with it.
    pub message: String,
    /// The start of the body (redacted, at most 512 bytes), to help diagnose it.
    pub body_excerpt: String,
}

/// Longest [`DecodeError::body_excerpt`], in bytes.
const EXCERPT_BYTES: usize = 512;

/// The error a response body fails with once it exceeds the runtime's
/// [`max_body_bytes`](crate::RuntimeBuilder::max_body_bytes). It travels
/// inside a `reqwest::Error` (as its source) from wherever the body is read
/// back to [`Error::network`], which turns it into [`Error::BodyTooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyLimitExceeded {
    pub(crate) limit: u64,
}

impl fmt::Display for BodyLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the response body is larger than the limit of {} bytes",
            self.limit
        )
    }
}

impl std::error::Error for BodyLimitExceeded {}

/// Every way an agentwire call can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401 or 403: the credentials are missing, wrong, expired or not allowed.
    #[error("authentication failed: {0}")]
    Auth(ApiError),
    /// 401 `AUTH_2FA_REQUIRED`: the account has two-factor authentication on
    /// and the token exchange carried no one-time code (none was configured,
    /// or the single fixed code was already spent on an earlier exchange).
    /// Configure a code source on the client (a callback for anything that
    /// runs longer than one exchange).
    #[error("two-factor code required: {0}")]
    TwoFactorRequired(ApiError),
    /// 401 `AUTH_2FA_INVALID`: the one-time code was refused (wrong, from a
    /// skewed clock, or already used in its window), or the code a callback
    /// produced cannot be a one-time code and was refused before sending. The
    /// API key is fine: wait for the next code instead of rotating it.
    #[error("two-factor code refused: {0}")]
    TwoFactorInvalid(ApiError),
    /// 402: the account is out of credits (Promptev). The fix is a top-up,
    /// not a retry, so it is not transient. Other services' 402s stay
    /// [`Error::Api`].
    #[error("insufficient credits: {0}")]
    InsufficientCredits(ApiError),
    /// 404.
    #[error("not found: {0}")]
    NotFound(ApiError),
    /// 409: the request conflicts with the current state (already voted, key reused…).
    #[error("conflict: {0}")]
    Conflict(ApiError),
    /// 400 or 422: the service rejected the input.
    #[error("invalid request: {0}")]
    Validation(ApiError),
    /// 429, after the configured retries.
    #[error("rate limited{}: {error}", retry_after.map(|d| format!(" (retry after {:.1}s)", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// How long the service asked the caller to wait, from `Retry-After`.
        retry_after: Option<Duration>,
        /// The response itself.
        error: ApiError,
    },
    /// 5xx, after the configured retries.
    #[error("server error: {0}")]
    Server(ApiError),
    /// Any other unsuccessful status.
    #[error("unexpected status: {0}")]
    Api(ApiError),
    /// No complete response: connection refused or dropped, timeout, DNS.
    #[error("network error: {0}")]
    Network(#[from] NetworkError),
    /// A response whose body does not match the contract.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A response body (success or error) larger than the client's
    /// [`max_body_bytes`](crate::RuntimeBuilder::max_body_bytes): reading
    /// stopped at the limit, or before reading when `Content-Length` already
    /// announced more. Not transient: the same request gets the same body.
    #[error("{service}: the response body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// Which service answered.
        service: &'static str,
        /// The limit in force, in bytes.
        limit: u64,
    },
    /// The circuit breaker is open after repeated failures; nothing was sent.
    #[error("{service}: circuit breaker open after {failures} consecutive failures; not sending")]
    CircuitOpen {
        /// Which service's breaker tripped.
        service: &'static str,
        /// Consecutive failures counted when it opened.
        failures: u32,
    },
    /// The service reported a failure inside a stream (an `error` event, a
    /// replay overflow…).
    #[error("{service} reported an error in the stream: {message}")]
    Stream {
        /// Which service sent it.
        service: &'static str,
        /// The event's text.
        message: String,
        /// The event as parsed JSON.
        raw: Value,
    },
    /// The client is misconfigured: bad base URL, missing credentials, invalid
    /// header, conflicting settings. Nothing else: a request that cannot be
    /// encoded is [`Error::InvalidArgument`], a background request that did
    /// not finish is [`Error::Interrupted`].
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A request the SDK ran in the background for the caller (the next page
    /// of a stream, fetched ahead) ended without an outcome: its task
    /// panicked, or was cancelled because the Tokio runtime is shutting down.
    #[error("a background request did not complete: {message}")]
    Interrupted {
        /// What the task reported.
        message: String,
    },
    /// An argument was rejected before sending: an empty id, a malformed UUID,
    /// a value longer than the contract allows.
    #[error("invalid argument `{name}`: {message}")]
    InvalidArgument {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it.
        message: String,
    },
}

impl Error {
    /// The HTTP status, when the error came from a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Decode(d) => d.status,
            _ => self.api().map(|e| e.status),
        }
    }

    /// The service's machine-readable error code, when it sent one.
    pub fn code(&self) -> Option<&str> {
        self.api().and_then(|e| e.code.as_deref())
    }

    /// The request field the service said the refusal is about, when it
    /// named one.
    pub fn field(&self) -> Option<&str> {
        self.api().and_then(ApiError::field)
    }

    /// The parsed JSON body of the error response, when there was one.
    pub fn body(&self) -> Option<&Value> {
        match self {
            Error::Stream { raw, .. } => Some(raw),
            _ => self.api().and_then(|e| e.body.as_ref()),
        }
    }

    /// The response details, for errors that carry a response.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Auth(e)
            | Error::TwoFactorRequired(e)
            | Error::TwoFactorInvalid(e)
            | Error::NotFound(e)
            | Error::InsufficientCredits(e)
            | Error::Conflict(e)
            | Error::Validation(e)
            | Error::Server(e)
            | Error::Api(e)
            | Error::RateLimited { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// Whether trying again later could succeed (rate limits, 5xx, network).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::RateLimited { .. }
                | Error::Server(_)
                | Error::Network(_)
                | Error::CircuitOpen { .. }
        )
    }

    /// Maps a status and body to the right variant.
    #[cfg(test)]
    pub(crate) fn from_status(
        service: &'static str,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
        redactor: &Redactor,
    ) -> Error {
        Error::from_status_with(service, status, headers, body, redactor, &[])
    }

    /// Maps a status and body to the right variant; `classes` overrides the
    /// default variant of the statuses it lists (a service's own mapping).
    pub(crate) fn from_status_with(
        service: &'static str,
        status: u16,
        headers: &http::HeaderMap,
        body: &[u8],
        redactor: &Redactor,
        classes: &[(u16, StatusClass)],
    ) -> Error {
        let text = redactor.redact(&String::from_utf8_lossy(body)).into_owned();
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let (message, code) = match &parsed {
            Some(v) => describe_body(v),
            None => (
                text.chars().take(300).collect::<String>().trim().to_owned(),
                None,
            ),
        };
        let message = if message.is_empty() {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_owned()
        } else {
            message
        };
        let error = ApiError {
            service,
            status,
            code,
            message,
            body: parsed,
        };
        if let Some(&(_, class)) = classes.iter().find(|(s, _)| *s == status) {
            return class.into_error(error, headers);
        }
        match status {
            401 if error.code.as_deref() == Some(CODE_2FA_REQUIRED) => {
                Error::TwoFactorRequired(error)
            }
            401 if error.code.as_deref() == Some(CODE_2FA_INVALID) => {
                Error::TwoFactorInvalid(error)
            }
            401 | 403 => Error::Auth(error),
            404 => Error::NotFound(error),
            409 => Error::Conflict(error),
            400 | 422 => Error::Validation(error),
            429 => Error::RateLimited {
                retry_after: crate::retry::retry_after(headers),
                error,
            },
            500..=599 => Error::Server(error),
            _ => Error::Api(error),
        }
    }

    /// Wraps a transport failure, without its URL and with secrets masked. A
    /// body that failed because it outgrew the runtime's limit becomes
    /// [`Error::BodyTooLarge`].
    pub fn network(service: &'static str, err: reqwest::Error, redactor: &Redactor) -> Error {
        if let Some(limit) = body_limit_in(&err) {
            return Error::BodyTooLarge { service, limit };
        }
        let kind = if err.is_timeout() {
            NetworkErrorKind::Timeout
        } else if err.is_connect() {
            NetworkErrorKind::Connect
        } else if err.is_body() || err.is_decode() {
            NetworkErrorKind::Body
        } else {
            NetworkErrorKind::Other
        };
        // The URL may hold a key (Promptev puts it in the path): drop it, then
        // redact the remaining text in case a source error repeats it.
        let err = err.without_url();
        let mut message = redactor.redact(&err.to_string()).into_owned();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&err);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&redactor.redact(&s.to_string()));
            source = s.source();
        }
        Error::Network(NetworkError {
            service,
            kind,
            message,
            source: Some(err),
        })
    }

    /// A connection failure below HTTP (a WebSocket that broke, a socket
    /// closed mid-frame), with secrets masked.
    pub fn network_io(
        service: &'static str,
        kind: NetworkErrorKind,
        message: &str,
        redactor: &Redactor,
    ) -> Error {
        Error::Network(NetworkError {
            service,
            kind,
            message: redactor.redact(message).into_owned(),
            source: None,
        })
    }

    /// A response (or stream event) that does not match the contract.
    pub fn decode(
        service: &'static str,
        status: Option<u16>,
        message: impl Into<String>,
        body: &[u8],
        redactor: &Redactor,
    ) -> Error {
        // Redacted whole, then cut: cutting first would leave the start of a
        // secret that straddles the cut unrecognisable, and so unmasked.
        let text = String::from_utf8_lossy(body);
        let redacted = redactor.redact(&text);
        Error::Decode(DecodeError {
            service,
            status,
            message: redactor.redact(&message.into()).into_owned(),
            body_excerpt: prefix_on_char_boundary(&redacted, EXCERPT_BYTES).to_owned(),
        })
    }
}

/// The [`Error`] variant a refusal status becomes, for a service whose
/// mapping differs from the default one
/// ([`RuntimeBuilder::status_class`](crate::RuntimeBuilder::status_class)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusClass {
    /// [`Error::Auth`].
    Auth,
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::Validation`].
    Validation,
    /// [`Error::InsufficientCredits`].
    InsufficientCredits,
    /// [`Error::RateLimited`], with `Retry-After` read.
    RateLimited,
    /// [`Error::Server`].
    Server,
    /// [`Error::Api`]: no more specific kind.
    Api,
}

impl StatusClass {
    fn into_error(self, error: ApiError, headers: &http::HeaderMap) -> Error {
        match self {
            StatusClass::Auth => Error::Auth(error),
            StatusClass::NotFound => Error::NotFound(error),
            StatusClass::Conflict => Error::Conflict(error),
            StatusClass::Validation => Error::Validation(error),
            StatusClass::InsufficientCredits => Error::InsufficientCredits(error),
            StatusClass::RateLimited => Error::RateLimited {
                retry_after: crate::retry::retry_after(headers),
                error,
            },
            StatusClass::Server => Error::Server(error),
            StatusClass::Api => Error::Api(error),
        }
    }
}

/// The limit carried by a [`BodyLimitExceeded`] anywhere in `err`'s chain.
fn body_limit_in(err: &reqwest::Error) -> Option<u64> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if let Some(exceeded) = s.downcast_ref::<BodyLimitExceeded>() {
            return Some(exceeded.limit);
        }
        source = s.source();
    }
    None
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char
/// boundary.
fn prefix_on_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Pulls a message and a machine-readable code out of the error bodies the
/// three services send: Promptev's `{"error":
/// {"message", "field"}}` (read before `detail`, as promptev 1.3.0 does),
/// FastAPI's `{"detail": "..."}`, `{"detail": {"message", "code"}}`,
/// validation lists `{"detail": [{"msg", "loc"}]}`, and plain `{"error": ...,
/// "code": ...}` shapes.
fn describe_body(v: &Value) -> (String, Option<String>) {
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let top_code = str_of(v.get("code")).or_else(|| str_of(v.get("error_code")));
    let error = v.get("error").and_then(Value::as_object);
    if let Some(message) = error.and_then(|e| str_of(e.get("message"))) {
        let code = top_code.or_else(|| error.and_then(|e| str_of(e.get("code"))));
        return (message, code);
    }
    describe_detail(v, top_code)
}

fn describe_detail(v: &Value, top_code: Option<String>) -> (String, Option<String>) {
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    match v.get("detail") {
        Some(Value::String(s)) => (s.clone(), top_code),
        Some(Value::Object(d)) => {
            let message = str_of(d.get("message"))
                .or_else(|| str_of(d.get("msg")))
                .or_else(|| str_of(d.get("detail")))
                .unwrap_or_else(|| Value::Object(d.clone()).to_string());
            let code = str_of(d.get("code"))
                .or_else(|| str_of(d.get("error_code")))
                .or(top_code);
            (message, code)
        }
        Some(Value::Array(items)) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| {
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                    match item.get("loc").and_then(Value::as_array) {
                        Some(loc) => {
                            let loc: Vec<String> = loc
                                .iter()
                                .map(|l| {
                                    l.as_str()
                                        .map(str::to_owned)
                                        .unwrap_or_else(|| l.to_string())
                                })
                                .collect();
                            format!("{}: {msg}", loc.join("."))
                        }
                        None => msg.to_owned(),
                    }
                })
                .collect();
            (parts.join("; "), top_code)
        }
        _ => {
            let message = str_of(v.get("message"))
                .or_else(|| str_of(v.get("error")))
                .or_else(|| v.get("error").and_then(|e| str_of(e.get("message"))))
                .unwrap_or_default();
            let code = top_code.or_else(|| v.get("error").and_then(|e| str_of(e.get("code"))));
            (message, code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(status: u16, body: &str) -> Error {
        Error::from_status(
            "svc",
            status,
            &http::HeaderMap::new(),
            body.as_bytes(),
            &Redactor::default(),
        )
    }

    #[test]
    fn statuses_map_to_variants() {
        assert!(matches!(err(400, "{}"), Error::Validation(_)));
        assert!(matches!(err(422, "{}"), Error::Validation(_)));
        assert!(matches!(err(401, "{}"), Error::Auth(_)));
        assert!(matches!(err(403, "{}"), Error::Auth(_)));
        assert!(matches!(err(404, "{}"), Error::NotFound(_)));
        assert!(matches!(err(409, "{}"), Error::Conflict(_)));
        assert!(matches!(
            err(429, "{}"),
            Error::RateLimited {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(err(500, "{}"), Error::Server(_)));
        assert!(matches!(err(503, "{}"), Error::Server(_)));
        assert!(matches!(err(418, "{}"), Error::Api(_)));
    }

    #[test]
    fn two_factor_codes_refine_a_401_only() {
        let required = err(
            401,
            r#"{"detail":{"message":"code needed","code":"AUTH_2FA_REQUIRED"}}"#,
        );
        assert!(
            matches!(required, Error::TwoFactorRequired(_)),
            "{required:?}"
        );
        assert_eq!(required.status(), Some(401));
        assert_eq!(required.code(), Some("AUTH_2FA_REQUIRED"));
        assert!(!required.is_transient());
        let invalid = err(
            401,
            r#"{"detail":{"message":"bad code","code":"AUTH_2FA_INVALID"}}"#,
        );
        assert!(matches!(invalid, Error::TwoFactorInvalid(_)), "{invalid:?}");
        assert_eq!(invalid.api().map(|e| e.message.as_str()), Some("bad code"));
        assert!(!invalid.is_transient());
        let forbidden = err(
            403,
            r#"{"detail":{"message":"x","code":"AUTH_2FA_INVALID"}}"#,
        );
        assert!(matches!(forbidden, Error::Auth(_)));
        let other = err(
            404,
            r#"{"detail":{"message":"x","code":"AUTH_2FA_REQUIRED"}}"#,
        );
        assert!(matches!(other, Error::NotFound(_)));
    }

    #[test]
    fn fastapi_string_detail_becomes_the_message() {
        let e = err(404, r#"{"detail":"Agent not found"}"#);
        assert_eq!(e.api().unwrap().message, "Agent not found");
        assert_eq!(e.body(), Some(&json!({"detail": "Agent not found"})));
        assert_eq!(
            e.to_string(),
            "not found: svc answered 404: Agent not found"
        );
    }

    #[test]
    fn structured_detail_gives_message_and_code() {
        let e = err(
            409,
            r#"{"detail":{"message":"Already voted","code":"ALREADY_VOTED"}}"#,
        );
        assert_eq!(e.code(), Some("ALREADY_VOTED"));
        assert_eq!(e.api().unwrap().message, "Already voted");
    }

    #[test]
    fn validation_lists_are_flattened() {
        let e = err(
            422,
            r#"{"detail":[{"loc":["body","message"],"msg":"field required","type":"missing"}]}"#,
        );
        assert_eq!(e.api().unwrap().message, "body.message: field required");
    }

    #[test]
    fn non_json_bodies_keep_their_text_and_empty_ones_the_reason() {
        assert_eq!(
            err(502, "Bad gateway from nginx").api().unwrap().message,
            "Bad gateway from nginx"
        );
        assert_eq!(err(503, "").api().unwrap().message, "Service Unavailable");
    }

    #[test]
    fn secrets_in_bodies_are_redacted() {
        let r = Redactor::default();
        r.add("pv_sk_fake_test_key_123");
        let e = Error::from_status(
            "svc",
            400,
            &http::HeaderMap::new(),
            br#"{"detail":"bad key pv_sk_fake_test_key_123"}"#,
            &r,
        );
        assert!(!format!("{e} {e:?}").contains("pv_sk_fake_test_key_123"));
    }

    #[test]
    fn io_failures_are_network_errors_without_secrets() {
        let r = Redactor::default();
        r.add("tok_secret_value");
        let e = Error::network_io(
            "mycel",
            NetworkErrorKind::Body,
            "socket reset (tok_secret_value)",
            &r,
        );
        assert!(matches!(&e, Error::Network(n) if n.kind == NetworkErrorKind::Body));
        assert!(!format!("{e} {e:?}").contains("tok_secret_value"));
    }

    #[test]
    fn a_secret_straddling_the_excerpt_cut_is_masked_whole() {
        let secret = "col_fake_straddling_secret_0123456789";
        let r = Redactor::default();
        r.add(secret);
        // The secret starts 5 bytes before the 512-byte cut.
        let body = format!("{}{secret} and more", "x".repeat(EXCERPT_BYTES - 5));
        let e = Error::decode("svc", Some(200), "bad", body.as_bytes(), &r);
        let Error::Decode(d) = &e else {
            panic!("{e:?}")
        };
        assert!(d.body_excerpt.len() <= EXCERPT_BYTES);
        assert!(d.body_excerpt.ends_with("[REDA"), "{}", d.body_excerpt);
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("col_f"), "{shown}");
    }

    #[test]
    fn excerpts_are_cut_on_a_char_boundary() {
        let body = "é".repeat(EXCERPT_BYTES);
        let e = Error::decode("svc", None, "bad", body.as_bytes(), &Redactor::default());
        let Error::Decode(d) = e else { panic!() };
        assert_eq!(d.body_excerpt, "é".repeat(EXCERPT_BYTES / 2));
        assert_eq!(prefix_on_char_boundary("aé", 2), "a");
        assert_eq!(prefix_on_char_boundary("", 2), "");
    }

    #[test]
    fn promptev_error_objects_give_message_and_field_before_detail() {
        let e = err(
            422,
            r#"{"error":{"message":"Say something","field":"message"},"detail":"older"}"#,
        );
        assert!(matches!(e, Error::Validation(_)));
        assert_eq!(e.api().unwrap().message, "Say something");
        assert_eq!(e.field(), Some("message"));
        let no_field = err(400, r#"{"error":{"message":"bad","field":null}}"#);
        assert_eq!(no_field.field(), None);
        assert_eq!(err(400, r#"{"detail":"x"}"#).field(), None);
        // A 402 is Api unless a service classes it otherwise.
        assert!(matches!(err(402, "{}"), Error::Api(_)));
    }

    #[test]
    fn status_classes_override_the_default_mapping() {
        let classes = [
            (402, StatusClass::InsufficientCredits),
            (422, StatusClass::Api),
            (418, StatusClass::RateLimited),
        ];
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        let with = |status| {
            Error::from_status_with("svc", status, &h, b"{}", &Redactor::default(), &classes)
        };
        let credits = with(402);
        assert!(matches!(credits, Error::InsufficientCredits(_)));
        assert!(!credits.is_transient());
        assert_eq!(credits.status(), Some(402));
        assert!(credits
            .to_string()
            .starts_with("insufficient credits: svc answered 402"));
        assert!(matches!(with(422), Error::Api(_)));
        assert!(
            matches!(with(418), Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3))
        );
        assert!(matches!(with(404), Error::NotFound(_)));
    }

    #[test]
    fn retry_after_is_read_for_429() {
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        let e = Error::from_status("svc", 429, &h, b"{}", &Redactor::default());
        assert!(
            matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
    }
}
