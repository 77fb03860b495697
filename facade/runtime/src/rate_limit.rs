//! The service's rate-limit state as reported by its last response.

use http::{HeaderMap, HeaderValue};

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
    ///
    /// One pass over the response's headers, comparing names, instead of a
    /// hashed lookup per name: this runs on every response, and a response
    /// carries a handful of headers. As with a lookup, the first value of
    /// each name counts.
    pub fn from_headers(headers: &HeaderMap) -> Option<RateLimitInfo> {
        let num = |value: &HeaderValue| -> Option<u64> {
            value.to_str().ok()?.trim().split('.').next()?.parse().ok()
        };
        let (mut limit, mut remaining, mut reset) = (None, None, None);
        for (name, value) in headers {
            let slot = match name.as_str() {
                "x-ratelimit-limit" => &mut limit,
                "x-ratelimit-remaining" => &mut remaining,
                "x-ratelimit-reset" => &mut reset,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(num(value));
            }
        }
        let info = RateLimitInfo {
            limit: limit.flatten(),
            remaining: remaining.flatten(),
            reset: reset.flatten(),
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
        // As a lookup would: only the first value of a name counts.
        h.insert("x-ratelimit-limit", "lots".parse().unwrap());
        h.append("x-ratelimit-limit", "7".parse().unwrap());
        assert_eq!(RateLimitInfo::from_headers(&h).unwrap().limit, None);
        h.insert("x-ratelimit-reset", "9".parse().unwrap());
        h.append("x-ratelimit-reset", "lots".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        assert_eq!(RateLimitInfo::from_headers(&h).unwrap().reset, Some(9));
    }
}
