//! Fault injection: knobs that make the next service requests fail, stall,
//! vanish or arrive broken, so the SDK's retry and error paths can be tested
//! against a real HTTP exchange.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// One armed fault, taken by a single request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Answer `status` with `{"detail":"injected <status>"}`.
    Fail {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Close the connection before any response is written.
    Drop,
    /// Send the response head and half the body, then break the connection.
    Truncate,
    /// Let the service process the request, then close the connection
    /// without writing its response: the answer is lost on the way back.
    DropAnswer,
}

/// `X-RateLimit-*` values added to every service response while set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) limit: u64,
    pub(crate) remaining: u64,
    pub(crate) reset: u64,
}

/// The Colony's key → token exchange, which the token knobs target.
pub(crate) const TOKEN_PATH: &str = "/api/v1/auth/token";

#[derive(Debug, Default)]
struct State {
    // Run-length encoded so that `fail_next(u32::MAX, ..)` costs one entry.
    queue: VecDeque<(Action, u32)>,
    latency: Duration,
    rate_limit: Option<RateLimit>,
    /// Faults for token exchanges only, taken before the shared queue.
    token_queue: VecDeque<(Action, u32)>,
    token_latency: Duration,
}

/// What the server should do to one service request, decided when it arrives.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) latency: Duration,
    pub(crate) action: Option<Action>,
    pub(crate) rate_limit: Option<RateLimit>,
}

/// The sandbox's fault knobs.
///
/// Pending failures, drops and truncations form one queue consumed in the
/// order they were armed: each service request takes at most one. Latency and
/// rate-limit headers apply to every service request until cleared. Control
/// routes under `/_sandbox/` are never affected.
///
/// Cloning gives another handle on the same knobs.
///
/// The `*_token_*` knobs affect only The Colony's token exchange
/// (`POST /api/v1/auth/token`), which takes them before the shared queue.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
    token_epoch: Arc<AtomicU64>,
    token_requests: Arc<AtomicU64>,
}

impl Faults {
    // A panic while holding the lock cannot leave `State` inconsistent (every
    // update is a single assignment or push), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, action: Action, n: u32) {
        if n > 0 {
            self.lock().queue.push_back((action, n));
        }
    }

    /// Makes the next `n` service requests answer `status` with the JSON body
    /// `{"detail":"injected <status>"}`. A code outside 100..=999 is sent as 500.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.push(
            Action::Fail {
                status,
                retry_after: None,
            },
            n,
        );
    }

    /// Like [`Faults::fail_next`], and the responses carry
    /// `Retry-After: <retry_after_secs>`.
    pub fn fail_next_with_retry_after(&self, n: u32, status: u16, retry_after_secs: u64) {
        self.push(
            Action::Fail {
                status,
                retry_after: Some(retry_after_secs),
            },
            n,
        );
    }

    /// Delays every service request by `d` before it is answered; zero turns
    /// the delay off.
    pub fn set_latency(&self, d: Duration) {
        self.lock().latency = d;
    }

    /// Makes the next `n` service requests close their connection without
    /// writing any response.
    pub fn drop_next(&self, n: u32) {
        self.push(Action::Drop, n);
    }

    /// Makes the next `n` service requests send their real response head and
    /// half of the body, then break the connection.
    pub fn truncate_next(&self, n: u32) {
        self.push(Action::Truncate, n);
    }

    /// Makes the next `n` token exchanges answer `status` with
    /// `{"detail":"injected <status>"}`; other requests are not affected.
    pub fn fail_token_next(&self, n: u32, status: u16) {
        self.push_token(
            Action::Fail {
                status,
                retry_after: None,
            },
            n,
        );
    }

    /// Like [`Faults::fail_token_next`], with `Retry-After: <retry_after_secs>`.
    pub fn fail_token_next_with_retry_after(&self, n: u32, status: u16, retry_after_secs: u64) {
        self.push_token(
            Action::Fail {
                status,
                retry_after: Some(retry_after_secs),
            },
            n,
        );
    }

    /// Makes the next `n` token exchanges close their connection without
    /// any response.
    pub fn drop_token_next(&self, n: u32) {
        self.push_token(Action::Drop, n);
    }

    /// Holds every token exchange for `d` before answering it (a hanging
    /// endpoint, for a `d` longer than the client's timeout); zero turns it
    /// off.
    pub fn hang_token(&self, d: Duration) {
        self.lock().token_latency = d;
    }

    /// Token exchange requests received so far, faulted ones included.
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::SeqCst)
    }

    fn push_token(&self, action: Action, n: u32) {
        if n > 0 {
            self.lock().token_queue.push_back((action, n));
        }
    }

    /// Makes the next `n` service requests be processed as usual — their
    /// effects happen — and then close their connection without writing the
    /// response, as when an answer is lost on the way back.
    pub fn drop_answer_next(&self, n: u32) {
        self.push(Action::DropAnswer, n);
    }

    /// Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
    /// `X-RateLimit-Reset` to every service response until [`Faults::clear`].
    pub fn set_rate_limit_headers(&self, limit: u64, remaining: u64, reset: u64) {
        self.lock().rate_limit = Some(RateLimit {
            limit,
            remaining,
            reset,
        });
    }

    /// Invalidates every token issued so far by services that issue tokens:
    /// they compare the epoch a token was issued in with
    /// [`Faults::token_epoch`]. Promptev's session tokens are not affected.
    pub fn expire_tokens(&self) {
        self.token_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The number of times [`Faults::expire_tokens`] has been called; a token
    /// issued in an earlier epoch is expired.
    pub fn token_epoch(&self) -> u64 {
        self.token_epoch.load(Ordering::SeqCst)
    }

    /// Removes every pending fault (token ones included), the latencies and
    /// the rate-limit headers. The token epoch and the token request count
    /// are kept: expired tokens stay expired.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.queue.clear();
        state.latency = Duration::ZERO;
        state.rate_limit = None;
        state.token_queue.clear();
        state.token_latency = Duration::ZERO;
    }

    /// Number of requests that pending failures, drops and truncations will
    /// still affect (token exchange ones included).
    pub fn pending(&self) -> u64 {
        let state = self.lock();
        state
            .queue
            .iter()
            .chain(state.token_queue.iter())
            .map(|(_, n)| u64::from(*n))
            .sum()
    }

    /// Takes the fault for one arriving service request to `path`.
    pub(crate) fn plan_for(&self, path: &str) -> Plan {
        let is_token = path == TOKEN_PATH;
        if is_token {
            self.token_requests.fetch_add(1, Ordering::SeqCst);
        }
        let mut state = self.lock();
        let mut action = None;
        if is_token {
            action = take(&mut state.token_queue);
        }
        if action.is_none() {
            action = take(&mut state.queue);
        }
        let latency = if is_token {
            state.latency.saturating_add(state.token_latency)
        } else {
            state.latency
        };
        Plan {
            latency,
            action,
            rate_limit: state.rate_limit,
        }
    }
}

fn take(queue: &mut VecDeque<(Action, u32)>) -> Option<Action> {
    let (action, n) = queue.front_mut()?;
    let action = *action;
    *n -= 1;
    if *n == 0 {
        queue.pop_front();
    }
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_faults_hit_only_the_token_exchange_and_come_first() {
        let f = Faults::default();
        f.fail_next(1, 500);
        f.fail_token_next(2, 503);
        f.drop_token_next(1);
        f.hang_token(Duration::from_millis(7));
        assert_eq!(f.pending(), 4);
        let fail = |status| Action::Fail {
            status,
            retry_after: None,
        };
        assert_eq!(f.plan_for("/api/v1/posts").action, Some(fail(500)));
        assert_eq!(f.plan_for("/api/v1/posts").latency, Duration::ZERO);
        let token: Vec<_> = (0..4).map(|_| f.plan_for(TOKEN_PATH)).collect();
        assert_eq!(token[0].action, Some(fail(503)));
        assert_eq!(token[1].action, Some(fail(503)));
        assert_eq!(token[2].action, Some(Action::Drop));
        assert_eq!(token[3].action, None);
        assert!(token.iter().all(|p| p.latency == Duration::from_millis(7)));
        assert_eq!(f.token_requests(), 4);
        f.clear();
        assert_eq!(f.plan_for(TOKEN_PATH).latency, Duration::ZERO);
    }

    #[test]
    fn faults_are_taken_in_arming_order() {
        let f = Faults::default();
        f.fail_next(2, 503);
        f.drop_next(1);
        f.truncate_next(1);
        assert_eq!(f.pending(), 4);
        let taken: Vec<_> = (0..5).map(|_| f.plan_for("/x").action).collect();
        let fail = Action::Fail {
            status: 503,
            retry_after: None,
        };
        assert_eq!(
            taken,
            [
                Some(fail),
                Some(fail),
                Some(Action::Drop),
                Some(Action::Truncate),
                None
            ]
        );
    }

    #[test]
    fn huge_counts_do_not_allocate_per_request() {
        let f = Faults::default();
        f.fail_next(u32::MAX, 500);
        assert_eq!(f.pending(), u64::from(u32::MAX));
        f.clear();
        assert_eq!(f.pending(), 0);
        assert!(f.plan_for("/x").action.is_none());
    }

    #[test]
    fn clear_keeps_the_token_epoch() {
        let f = Faults::default();
        f.expire_tokens();
        f.set_latency(Duration::from_millis(5));
        f.set_rate_limit_headers(10, 9, 60);
        f.clear();
        let plan = f.plan_for("/x");
        assert_eq!(plan.latency, Duration::ZERO);
        assert!(plan.rate_limit.is_none());
        assert_eq!(f.token_epoch(), 1);
    }
}
