//! The service's rate-limit state as reported by its last response.

use http::{HeaderMap, HeaderName};

/// Rate-limit headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`) of the most
/// recent response that had any.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct RateLimitInfo {
    /// Requests allowed in the current window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets, as the service sent it (usually epoch seconds).
    pub reset: Option<u64>,
}

impl RateLimitInfo {
    /// Reads the headers; `None` when the response had none of them.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimitInfo> {
        // Looked up on every response: names made once, not parsed each time.
        static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
        static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
        static RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");
        let num = |name: &HeaderName| -> Option<u64> {
            headers
                .get(name)?
                .to_str()
                .ok()?
                .trim()
                .split('.')
                .next()?
                .parse()
                .ok()
        };
        let info = RateLimitInfo {
            limit: num(&LIMIT),
            remaining: num(&REMAINING),
            reset: num(&RESET),
        };
        (info != RateLimitInfo::default()).then_some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_headers_and_ignores_garbage() {
        let mut h = HeaderMap::new();
        assert_eq!(RateLimitInfo::from_headers(&h), None);
        h.insert("x-ratelimit-limit", "100".parse().unwrap());
        h.insert("x-ratelimit-remaining", "42".parse().unwrap());
        h.insert("x-ratelimit-reset", "1767225600.5".parse().unwrap());
        assert_eq!(
            RateLimitInfo::from_headers(&h),
            Some(RateLimitInfo {
                limit: Some(100),
                remaining: Some(42),
                reset: Some(1767225600)
            })
        );
        h.insert("x-ratelimit-remaining", "lots".parse().unwrap());
        assert_eq!(RateLimitInfo::from_headers(&h).unwrap().remaining, None);
    }
}
