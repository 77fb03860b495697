//! An opt-in circuit breaker: after `threshold` consecutive failures the
//! service is considered down and calls fail at once, without touching the
//! network, until a probe succeeds.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CircuitBreakerConfig {
    /// Consecutive failed calls (5xx or no response, after retries) that open it.
    pub threshold: u32,
    /// How long it stays open before one call is let through as a probe. A
    /// success closes it; a failure keeps it open for another cooldown.
    pub cooldown: Duration,
}

impl CircuitBreakerConfig {
    /// Opens after `threshold` failures, probes after 30 s.
    pub fn new(threshold: u32) -> Self {
        CircuitBreakerConfig {
            threshold: threshold.max(1),
            cooldown: Duration::from_secs(30),
        }
    }

    /// Sets the cooldown.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }
}

#[derive(Debug)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    config: CircuitBreakerConfig,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub(crate) fn new(config: CircuitBreakerConfig) -> Self {
        CircuitBreaker {
            config,
            state: Mutex::new(State {
                failures: 0,
                open_until: None,
            }),
        }
    }

    /// `Err(failures)` when the call must not be sent.
    pub(crate) fn admit(&self) -> Result<(), u32> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.open_until {
            Some(until) if Instant::now() < until => Err(s.failures),
            Some(_) => {
                // Half-open: this caller is the probe; others keep failing fast
                // until it reports back.
                s.open_until = Some(Instant::now() + self.config.cooldown);
                Ok(())
            }
            None => Ok(()),
        }
    }

    pub(crate) fn record(&self, success: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if success {
            s.failures = 0;
            s.open_until = None;
        } else {
            s.failures = s.failures.saturating_add(1);
            if s.failures >= self.config.threshold {
                s.open_until = Some(Instant::now() + self.config.cooldown);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_closes_on_success() {
        let cb = CircuitBreaker::new(CircuitBreakerConfig::new(3));
        for _ in 0..2 {
            cb.record(false);
            assert!(cb.admit().is_ok());
        }
        cb.record(false);
        assert_eq!(cb.admit(), Err(3));
        cb.record(true);
        assert!(cb.admit().is_ok());
    }

    #[test]
    fn a_success_resets_the_count() {
        let cb = CircuitBreaker::new(CircuitBreakerConfig::new(2));
        cb.record(false);
        cb.record(true);
        cb.record(false);
        assert!(cb.admit().is_ok());
    }

    #[test]
    fn after_cooldown_one_probe_passes() {
        let cb = CircuitBreaker::new(CircuitBreakerConfig::new(1).with_cooldown(Duration::ZERO));
        cb.record(false);
        assert!(
            cb.admit().is_ok(),
            "cooldown of zero lets the probe through"
        );
    }
}
