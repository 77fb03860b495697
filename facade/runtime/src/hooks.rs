//! Callbacks run around every HTTP attempt, for logging, metrics or tests.

use std::sync::Arc;
use std::time::Duration;

/// What is about to be sent. The URL is redacted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RequestInfo {
    /// Service name.
    pub service: &'static str,
    /// Public operation name (`trigger_agent`).
    pub operation: &'static str,
    /// HTTP method.
    pub method: http::Method,
    /// Request URL with secrets masked.
    pub url: String,
    /// 1 for the first attempt, 2 for the first retry…
    pub attempt: u32,
}

/// What came back for one attempt.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResponseInfo {
    /// The request this answers.
    pub request: RequestInfo,
    /// HTTP status, or `None` when no response arrived.
    pub status: Option<u16>,
    /// Time from sending to the response head (or the failure).
    pub elapsed: Duration,
    /// Whether the response came from the GET cache.
    pub from_cache: bool,
}

/// A callback run before each attempt.
pub type RequestHook = Arc<dyn Fn(&RequestInfo) + Send + Sync>;
/// A callback run after each attempt.
pub type ResponseHook = Arc<dyn Fn(&ResponseInfo) + Send + Sync>;

/// The head of one response as it arrived from the network, for callbacks
/// that read its headers (a facade noting what the service announces in
/// them). Borrowed, so nothing is copied for it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ResponseHead<'a> {
    /// Service name.
    pub service: &'static str,
    /// Public operation name (`get_posts`).
    pub operation: &'static str,
    /// HTTP method of the request.
    pub method: &'a http::Method,
    /// 1 for the first attempt, 2 for the first retry…
    pub attempt: u32,
    /// HTTP status.
    pub status: u16,
    /// The response's headers.
    pub headers: &'a http::HeaderMap,
    pub(crate) url: &'a reqwest::Url,
    pub(crate) redactor: &'a crate::Redactor,
}

impl<'a> ResponseHead<'a> {
    /// Path of the request URL, without the query, secrets masked. Made when
    /// asked for: most callbacks read only the headers.
    pub fn path(&self) -> std::borrow::Cow<'a, str> {
        self.redactor.redact(self.url.path())
    }
}

/// A callback run on the head of every response received (each attempt's;
/// not answers served from the cache, whose head was seen when it arrived).
pub type ResponseHeadHook = Arc<dyn Fn(&ResponseHead<'_>) + Send + Sync>;
