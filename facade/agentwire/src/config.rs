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
        /// Per-request timeout, also the connect timeout and the longest
        /// silence tolerated inside a stream (default 30 s).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.common.timeout = Some(timeout);
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

        /// Uses this `reqwest::Client` instead of building one (its own
        /// timeouts and headers then apply; `header` is ignored).
        pub fn http_client(mut self, client: reqwest::Client) -> Self {
            self.common.http = Some(client);
            self
        }

        /// Also trusts the CA certificate(s) in `pem` (one certificate or a
        /// bundle), on top of the built-in roots: for a self-hosted server
        /// behind a private CA. May be called more than once. Invalid PEM, or
        /// PEM without a certificate, fails at `build()` with
        /// [`Error::Config`](crate::Error::Config). Ignored when
        /// `http_client` supplies the client.
        pub fn add_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
            self.common.root_certificates.push(pem.as_ref().to_vec());
            self
        }
    };
}

pub(crate) use common_builder_methods;

/// Per-request timeout unless a builder sets another.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Options common to every service builder.
#[derive(Default)]
pub(crate) struct CommonOptions {
    pub timeout: Option<Duration>,
    pub headers: Vec<(String, String)>,
    pub on_request: Vec<RequestHook>,
    pub on_response: Vec<ResponseHook>,
    pub circuit: Option<CircuitBreakerConfig>,
    pub cache_ttl: Option<Duration>,
    pub http: Option<reqwest::Client>,
    pub root_certificates: Vec<Vec<u8>>,
}

impl CommonOptions {
    /// Applies hooks, breaker and cache to a runtime builder.
    pub(crate) fn apply(&self, mut rt: RuntimeBuilder) -> RuntimeBuilder {
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
        rt
    }

    /// The HTTP client: the caller's, or one built with the timeout as both
    /// connect and read timeout (a stream may stay open as long as data keeps
    /// arriving) and the extra headers as defaults.
    pub(crate) fn http_client(
        &self,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<reqwest::Client> {
        if let Some(c) = &self.http {
            return Ok(c.clone());
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::Config(format!("invalid header name {name:?}")))?;
            // The value is not echoed: extra headers often carry credentials.
            let v = HeaderValue::from_str(value)
                .map_err(|_| Error::Config(format!("invalid value for header {name:?}")))?;
            headers.insert(n, v);
        }
        crate::tls::configure(reqwest::Client::builder(), &self.root_certificates)?
            .connect_timeout(timeout)
            .read_timeout(timeout)
            .default_headers(headers)
            .user_agent(user_agent)
            .build()
            .map_err(|e| {
                Error::Config(format!("cannot build the HTTP client: {}", e.without_url()))
            })
    }
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
