//! Settings every service client shares, and their validation.

use std::time::Duration;

use agentwire_runtime::{
    CircuitBreakerConfig, Error, RequestHook, ResponseHook, Result, RuntimeBuilder,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// The builder setters every service shares, written once. Expands inside an
/// `impl` of a builder that has a `common: CommonOptions` field.
macro_rules! common_builder_methods {
    () => {
        /// Retry policy: which statuses and failures are retried, how often,
        /// with which backoff. The default is the service's (see the
        /// client's `builder`); writes are retried only when that cannot
        /// run them twice.
        pub fn retry(mut self, retry: agentwire_runtime::RetryConfig) -> Self {
            self.common.retry = Some(retry);
            self
        }

        /// Caches successful GET answers for `ttl`; any successful write
        /// empties the cache (default: no cache). Streams are never cached.
        pub fn cache(mut self, ttl: std::time::Duration) -> Self {
            self.common.cache_ttl = Some(ttl);
            self
        }

        /// Longest time one HTTP attempt may take, from sending to the end of
        /// the body; also the longest silence tolerated inside a stream
        /// (default 30 s; Mycel 15 s, as mycel-sdk). Retries each get their
        /// own attempt; bound the whole call with [`deadline`](Self::deadline).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.timeout = Some(timeout);
            self
        }

        /// Longest time to establish a connection, TLS included (default 10 s).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.connect_timeout = Some(timeout);
            self
        }

        /// Longest time one call may take from start to finish, across every
        /// attempt and the waits between them (default: none, so a call is
        /// bounded by `timeout` × attempts plus the retry delays). Streams are
        /// bounded only until their response starts.
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.common.deadline = Some(deadline);
            self
        }

        /// Sends every request through this proxy (`http://`, `https://`;
        /// user and password may sit in the URL), the inbox WebSocket
        /// included. Without it, the `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
        /// and `NO_PROXY` variables are honoured, as by the Python SDKs.
        pub fn proxy(mut self, url: impl Into<String>) -> Self {
            self.common.proxy = Some(crate::config::ProxySetting::Url(
                secrecy::SecretString::from(url.into()),
            ));
            self
        }

        /// Connects directly, ignoring the proxy environment variables.
        pub fn no_proxy(mut self) -> Self {
            self.common.proxy = Some(crate::config::ProxySetting::None);
            self
        }

        /// Refuses response bodies longer than `bytes` with
        /// [`Error::BodyTooLarge`](crate::Error::BodyTooLarge), whatever the
        /// server announced (default 32 MiB). Streams are not buffered and
        /// not capped.
        pub fn max_body_bytes(mut self, bytes: u64) -> Self {
            self.common.max_body_bytes = Some(bytes);
            self
        }

        /// Adds a header sent with every request.
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.common.headers.push((name.into(), value.into()));
            self
        }

        /// Runs `hook` before every HTTP attempt (URLs arrive with secrets masked).
        pub fn on_request(
            mut self,
            hook: impl Fn(&agentwire_runtime::RequestInfo) + Send + Sync + 'static,
        ) -> Self {
            self.common.on_request.push(std::sync::Arc::new(hook));
            self
        }

        /// Runs `hook` after every HTTP attempt.
        pub fn on_response(
            mut self,
            hook: impl Fn(&agentwire_runtime::ResponseInfo) + Send + Sync + 'static,
        ) -> Self {
            self.common.on_response.push(std::sync::Arc::new(hook));
            self
        }

        /// Fails fast after `config.threshold` consecutive failures (off by default).
        pub fn circuit_breaker(mut self, config: agentwire_runtime::CircuitBreakerConfig) -> Self {
            self.common.circuit = Some(config);
            self
        }

        /// Uses this `reqwest::Client` for the connections instead of building
        /// one. Headers, the User-Agent, the attempt timeout and the deadline
        /// still apply; connection settings (`connect_timeout`, `proxy`,
        /// root certificates) are then the given client's, and setting them
        /// here as well is refused by `build()`.
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.common.http = Some(client);
            self
        }

        /// Also trusts the CA certificate(s) in `pem` (one certificate or a
        /// bundle), on top of the built-in roots: for a self-hosted server
        /// behind a private CA. May be called more than once. Invalid PEM, or
        /// PEM without a certificate, fails at `build()` with
        /// [`Error::Config`](crate::Error::Config), as does combining it with
        /// `http_client` (trust that client's roots instead).
        pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
            self.common.root_certificates.push(pem.as_ref().to_vec());
            self
        }
    };
}

pub(crate) use common_builder_methods;

/// Per-attempt timeout unless a builder sets another (Mycel has its own).
#[cfg(any(feature = "colony", feature = "promptev"))]
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout unless a builder sets another.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the `proxy` / `no_proxy` setters chose.
pub(crate) enum ProxySetting {
    /// Every request through this proxy URL (kept secret: it may carry a
    /// password).
    Url(secrecy::SecretString),
    /// No proxy, whatever the environment says.
    None,
}

/// Options common to every service builder.
#[derive(Default)]
pub(crate) struct CommonOptions {
    pub retry: Option<agentwire_runtime::RetryConfig>,
    pub timeout: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub deadline: Option<Duration>,
    pub max_body_bytes: Option<u64>,
    pub proxy: Option<ProxySetting>,
    pub headers: Vec<(String, String)>,
    pub on_request: Vec<RequestHook>,
    pub on_response: Vec<ResponseHook>,
    pub circuit: Option<CircuitBreakerConfig>,
    pub cache_ttl: Option<Duration>,
    pub http: Option<reqwest::Client>,
    pub root_certificates: Vec<Vec<u8>>,
}

impl CommonOptions {
    /// The per-attempt timeout in force.
    pub(crate) fn attempt_timeout(&self, default: Duration) -> Duration {
        self.timeout.unwrap_or(default)
    }

    /// Applies hooks, breaker, cache, the attempt timeout, the deadline and
    /// the body cap to a runtime builder, and the headers when the caller's
    /// own HTTP client cannot carry them.
    pub(crate) fn apply(
        &self,
        mut rt: RuntimeBuilder,
        default_timeout: Duration,
        connection: &Connection,
    ) -> RuntimeBuilder {
        for h in &self.on_request {
            let h = h.clone();
            rt = rt.on_request(move |i| h(i));
        }
        for h in &self.on_response {
            let h = h.clone();
            rt = rt.on_response(move |i| h(i));
        }
        if let Some(c) = self.circuit {
            rt = rt.circuit_breaker(c);
        }
        if let Some(ttl) = self.cache_ttl {
            rt = rt.cache(ttl);
        }
        if let Some(d) = self.deadline {
            rt = rt.deadline(d);
        }
        if let Some(n) = self.max_body_bytes {
            rt = rt.max_body_bytes(n);
        }
        if let Some(headers) = &connection.runtime_headers {
            rt = rt.default_headers(headers.clone());
        }
        if let Some(stream_http) = &connection.stream_http {
            rt = rt.stream_client(stream_http.clone());
        }
        if let Some(t) = connection.client_timeout {
            rt = rt.client_timeout(t);
        }
        rt.timeout(self.attempt_timeout(default_timeout))
    }

    /// The HTTP client and a runtime builder configured from these options,
    /// for a service client whose runtime is built once.
    #[cfg(any(feature = "colony", feature = "promptev"))]
    pub(crate) fn runtime_and_http(
        &self,
        service: &'static str,
        default_timeout: Duration,
        user_agent: &str,
    ) -> Result<(RuntimeBuilder, reqwest::Client)> {
        let connection = self.connection(default_timeout, user_agent)?;
        let runtime = self.apply(
            agentwire_runtime::Runtime::builder(service),
            default_timeout,
            &connection,
        );
        Ok((runtime, connection.http))
    }

    /// The extra headers and the User-Agent, checked.
    fn headers(&self, user_agent: &str) -> Result<HeaderMap> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_str(user_agent)
                .map_err(|_| Error::Config("invalid User-Agent".into()))?,
        );
        for (name, value) in &self.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
            // The value is not echoed: extra headers often carry credentials.
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| Error::Config(format!("invalid value for header {name:?}")))?;
            v.set_sensitive(true);
            headers.insert(n, v);
        }
        Ok(headers)
    }

    /// The HTTP clients: the caller's, or two built with the connect
    /// timeout, the proxy and the headers as defaults, one of them (for
    /// streams, which may stay open as long as data keeps arriving) with the
    /// attempt timeout as read timeout, the other with it as total timeout.
    /// A caller's client keeps its own
    /// defaults, so the headers are then left to the runtime, which adds them
    /// to each request.
    pub(crate) fn connection(
        &self,
        default_timeout: Duration,
        user_agent: &str,
    ) -> Result<Connection> {
        let headers = self.headers(user_agent)?;
        if let Some(c) = &self.http {
            let conflicting = [
                ("connect_timeout", self.connect_timeout.is_some()),
                ("proxy", self.proxy.is_some()),
                ("add_root_certificate", !self.root_certificates.is_empty()),
            ];
            if let Some((name, _)) = conflicting.iter().find(|(_, set)| *set) {
                return Err(Error::Config(format!(
                    "`{name}` cannot apply to a client given with `http_client`: \
                     configure it on that reqwest::Client instead"
                )));
            }
            return Ok(Connection {
                http: c.clone(),
                stream_http: None,
                client_timeout: None,
                runtime_headers: Some(headers),
            });
        }
        // Made once for both clients: parsing the roots and building the
        // store is most of what building a client costs.
        let tls = crate::tls::Tls::new(&self.root_certificates)?;
        let attempt = self.attempt_timeout(default_timeout);
        // `streams`: a client for long-lived answers, with a read timeout and
        // no total one; otherwise each request is bounded by the attempt
        // timeout, applied by the client so that the runtime need not store
        // it on every request (see `RuntimeBuilder::client_timeout`).
        let make = |streams: bool| -> Result<reqwest::Client> {
            let builder = tls
                .apply(reqwest::Client::builder())
                .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
                .default_headers(headers.clone());
            let mut builder = if streams {
                builder.read_timeout(attempt)
            } else {
                builder.timeout(attempt)
            };
            match &self.proxy {
                Some(ProxySetting::Url(url)) => builder = builder.proxy(proxy(url)?),
                Some(ProxySetting::None) => builder = builder.no_proxy(),
                None => {}
            }
            builder.build().map_err(|e| {
                Error::Config(format!("cannot build the HTTP client: {}", e.without_url()))
            })
        };
        // Streams, which have no total timeout, go out on a second client
        // whose reads time out.
        let stream_http = make(true)?;
        Ok(Connection {
            http: make(false)?,
            stream_http: Some(stream_http),
            client_timeout: Some(attempt),
            runtime_headers: None,
        })
    }
}

/// The HTTP client of a service client, and the headers the runtime adds
/// itself when that client is the caller's.
#[derive(Clone)]
pub(crate) struct Connection {
    pub http: reqwest::Client,
    /// The client streams are sent with (a read timeout), when agentwire
    /// built the clients; `None` with the caller's own client.
    pub stream_http: Option<reqwest::Client>,
    /// The total timeout `http` applies to each request itself, when
    /// agentwire built it (see `RuntimeBuilder::client_timeout`).
    pub client_timeout: Option<Duration>,
    pub runtime_headers: Option<HeaderMap>,
}

/// Checks a proxy URL without ever echoing it: it may hold a password.
fn proxy(url: &secrecy::SecretString) -> Result<reqwest::Proxy> {
    use secrecy::ExposeSecret;
    let raw = url.expose_secret().trim();
    let parsed =
        reqwest::Url::parse(raw).map_err(|e| Error::Config(format!("invalid proxy URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "invalid proxy URL: the scheme must be http or https, not {:?}",
            parsed.scheme()
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config("invalid proxy URL: no host".into()));
    }
    reqwest::Proxy::all(parsed)
        .map_err(|e| Error::Config(format!("invalid proxy URL: {}", e.without_url())))
}

/// Reads an optional environment variable: unset or blank is `None`; a
/// value that is not UTF-8 is a configuration error naming the variable.
pub(crate) fn env_var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Ok(Some(v.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(format!(
            "the environment variable {name} is not valid UTF-8"
        ))),
    }
}

/// Reads a required environment variable, naming it when it is missing.
pub(crate) fn required_env(name: &str) -> Result<String> {
    env_var(name)?.ok_or_else(|| {
        Error::Config(format!(
            "the environment variable {name} is not set (or is empty)"
        ))
    })
}

/// Checks and normalizes a base URL: http(s), a host, no query or fragment,
/// no trailing slash.
pub(crate) fn base_url(raw: &str) -> Result<String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("invalid base URL {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "invalid base URL {raw:?}: the scheme must be http or https"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config(format!("invalid base URL {raw:?}: no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "invalid base URL {raw:?}: it must not have a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Rejects empty identifiers before they become an empty path segment.
#[cfg(any(feature = "mycel", feature = "promptev"))]
pub(crate) fn non_empty(name: &'static str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(Error::InvalidArgument {
            name,
            message: "must not be empty".into(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_normalized() {
        assert_eq!(
            base_url("https://api.promptev.ai/").unwrap(),
            "https://api.promptev.ai"
        );
        assert_eq!(
            base_url("http://127.0.0.1:8080/api/v1").unwrap(),
            "http://127.0.0.1:8080/api/v1"
        );
        for bad in [
            "",
            "api.promptev.ai",
            "ftp://x",
            "http://",
            "https://x/?a=1",
            "not a url",
        ] {
            assert!(
                matches!(base_url(bad), Err(Error::Config(_))),
                "{bad:?} accepted"
            );
        }
    }
}
