//! When and how long to wait before trying a request again.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use http::HeaderMap;

/// Default of [`RetryConfig::max_retry_after`]: one minute, as colony-sdk.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Retry policy: how many times, after how long, on which statuses.
///
/// The `n`-th retry waits `base_delay * 2^(n-1)`, capped at `max_delay`, with
/// jitter; a `Retry-After` header from the service replaces the computed delay
/// as long as it asks for at most `max_retry_after`. A longer `Retry-After`
/// (a daily quota answering "come back tomorrow") is not slept at all: the
/// response is returned at once, so a 429 becomes
/// [`Error::RateLimited`](crate::Error::RateLimited) carrying the wait the
/// service asked for. Requests that are not idempotent (POST, PATCH) are
/// retried only when they carry an `Idempotency-Key` the service deduplicates
/// on (see [`Idempotency`](crate::Idempotency)).
///
/// ```
/// use agentwire_runtime::RetryConfig;
/// use std::time::Duration;
///
/// let aggressive = RetryConfig::default()
///     .with_max_retries(5)
///     .with_base_delay(Duration::from_millis(500))
///     .with_retry_on([429, 500, 502, 503, 504]);
/// assert_eq!(aggressive.max_retries, 5);
/// assert_eq!(aggressive.max_retry_after, Duration::from_secs(60));
/// assert!(RetryConfig::none().max_retries == 0);
/// ```
///
/// The struct is `#[non_exhaustive]`: build it from [`RetryConfig::default`]
/// or [`RetryConfig::none`] and the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Retries after the first attempt; 0 disables retrying.
    pub max_retries: u32,
    /// Delay before the first retry.
    pub base_delay: Duration,
    /// Upper bound of a computed delay (a `Retry-After` may exceed it, up to
    /// `max_retry_after`).
    pub max_delay: Duration,
    /// Longest `Retry-After` that is waited out before retrying. When the
    /// service asks for longer, the request is not retried: its response is
    /// the result, at once.
    pub max_retry_after: Duration,
    /// Statuses that are retried.
    pub retry_on: BTreeSet<u16>,
    /// Whether a request that got no response (connection refused or reset,
    /// timeout) is retried, under the same idempotency rule.
    pub retry_network_errors: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 2,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            retry_on: [429, 502, 503, 504].into_iter().collect(),
            retry_network_errors: true,
        }
    }
}

impl RetryConfig {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        }
    }

    /// Sets the number of retries.
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the delay before the first retry.
    pub fn with_base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// Sets the cap of computed delays.
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// Sets the longest `Retry-After` that is waited out (default
    /// [`DEFAULT_MAX_RETRY_AFTER`]); a longer one ends the retries at once.
    pub fn with_max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Replaces the set of retried statuses.
    pub fn with_retry_on(mut self, statuses: impl IntoIterator<Item = u16>) -> Self {
        self.retry_on = statuses.into_iter().collect();
        self
    }

    /// Sets whether requests that got no response are retried.
    pub fn with_retry_network_errors(mut self, yes: bool) -> Self {
        self.retry_network_errors = yes;
        self
    }

    /// Delay before retry number `retry` (1-based), without jitter:
    /// `base_delay * 2^(retry-1)` capped at `max_delay`.
    pub fn nominal_delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The delay to sleep before retry number `retry`, or `None` when the
    /// server's `Retry-After` asks for more than `max_retry_after` (then the
    /// request must not be retried). A `Retry-After` within the cap is used
    /// as is; without one, the nominal delay with "equal jitter" (between half
    /// and all of it), so that many clients failing together do not retry in
    /// lockstep.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if let Some(d) = retry_after {
            return (d <= self.max_retry_after).then_some(d);
        }
        let nominal = self.nominal_delay(retry);
        let half = nominal / 2;
        Some(half + half.mul_f64(fastrand::f64()))
    }
}

/// How one operation may be retried, whatever its HTTP method suggests
/// (set with [`RuntimeBuilder::retry_class`](crate::RuntimeBuilder::retry_class)).
///
/// Every class stays inside the [`RetryConfig`] — its budget, its statuses,
/// its backoff — and none of them stops the one refresh of credentials after
/// a 401, which is not a retry (the service refused the request). "Once the
/// request may have reached the service" covers a retryable status, a
/// timeout, and a connection that broke after the request went out; a
/// connection that could not be made at all is not among them: nothing was
/// sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// The default, decided by the method: GET, HEAD, OPTIONS, PUT, DELETE
    /// and TRACE are retried; a POST or PATCH only when it carries an
    /// `Idempotency-Key` the service deduplicates on (the caller's, or the
    /// runtime's own under
    /// [`Idempotency::AddKeyToWrites`](crate::Idempotency::AddKeyToWrites)),
    /// or when its connection could not be made.
    #[default]
    ByMethod,
    /// Retried like a GET whatever the method: a POST that only reads
    /// (Promptev's knowledge search).
    ReplaySafe,
    /// Treated like a POST although the method is idempotent: after the
    /// request may have reached the service it is retried only when it
    /// carries an `Idempotency-Key` (the caller's, or the runtime's own); a
    /// connection that could not be made is still retried. For operations
    /// whose repeat after a lost answer would report something false — a
    /// DELETE that did happen answered 404 the second time, a PUT guarded by
    /// a version answered 409 — although the state ends the same (Mycel's
    /// workflow changes).
    NotReplaySafe,
    /// Sent exactly once: not after a retryable status, not after a
    /// timeout, not even after a connection that could not be made (a
    /// billed Promptev chat turn, which promptev's own SDK never repeats;
    /// an OAuth token exchange).
    Never,
}

impl RetryClass {
    /// Which class wins when the deprecated per-class builder methods name
    /// one operation twice: the stricter "sent once" first, then "replay
    /// safe", as when each was a set of its own.
    pub(crate) fn precedence(self) -> u8 {
        match self {
            RetryClass::ByMethod => 0,
            RetryClass::NotReplaySafe => 1,
            RetryClass::ReplaySafe => 2,
            RetryClass::Never => 3,
        }
    }
}

/// Parses `Retry-After` as delta-seconds (fractions tolerated) or an HTTP date
/// (a date in the past is zero). Delta-seconds saturate at one day.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nominal_delays_double_and_cap() {
        let c = RetryConfig::default();
        assert_eq!(c.nominal_delay(1), Duration::from_secs(1));
        assert_eq!(c.nominal_delay(2), Duration::from_secs(2));
        assert_eq!(c.nominal_delay(3), Duration::from_secs(4));
        assert_eq!(c.nominal_delay(5), Duration::from_secs(10));
        assert_eq!(c.nominal_delay(200), Duration::from_secs(10));
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let c = RetryConfig::default();
        for _ in 0..200 {
            let d = c.delay(2, None).unwrap();
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(2),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_wins_above_max_delay_up_to_max_retry_after() {
        let c = RetryConfig::default();
        // Above max_delay (10 s) but within max_retry_after (60 s): slept.
        assert_eq!(
            c.delay(1, Some(Duration::from_secs(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            c.delay(1, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(c.delay(1, Some(Duration::ZERO)), Some(Duration::ZERO));
    }

    #[test]
    fn a_retry_after_above_max_retry_after_means_no_retry() {
        let c = RetryConfig::default();
        assert_eq!(c.delay(1, Some(Duration::from_secs(61))), None);
        assert_eq!(c.delay(1, Some(Duration::from_secs(3600))), None);
        let lenient = c.with_max_retry_after(Duration::from_secs(7200));
        assert_eq!(
            lenient.delay(1, Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(3600))
        );
        let strict = RetryConfig::default().with_max_retry_after(Duration::ZERO);
        assert_eq!(strict.delay(1, Some(Duration::from_millis(1))), None);
        assert!(
            strict.delay(1, None).is_some(),
            "no header: backoff as usual"
        );
    }

    #[test]
    fn retry_after_parses_seconds_dates_and_rejects_garbage() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after", "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "-4".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        let future = SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(future).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            "Mon, 01 Jan 2001 00:00:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
    }
}
