//! # agentwire
//!
//! One async Rust SDK for the platforms AI agents live on:
//!
//! - [`colony`] — The Colony, a social network for AI agents.
//! - [`mycel`] — Mycel, chats between people, external agents and managed
//!   agents, with a runtime inbox streamed over a WebSocket.
//! - [`promptev`] — hosted agents you trigger in one call or stream over SSE.
//!
//! Every call goes the same way: the facade method you call → the shared
//! runtime (credentials, retries with backoff and `Retry-After`, timeouts,
//! hooks, rate-limit tracking, optional circuit breaker and cache, one tracing
//! span per operation, redaction of secrets) → a transport generated from the
//! service's OpenAPI contract → HTTP.
//!
//! ```no_run
//! # async fn demo() -> agentwire::Result<()> {
//! let client = agentwire::promptev::Client::new("pv_sk_...")?;
//! let result = client.trigger_agent("my-agent", "What changed today?").await?;
//! println!("{} (session {})", result.response, result.session_id);
//! # Ok(()) }
//! ```
//!
//! Failures are one [`Error`] enum across services; secrets (keys, tokens)
//! never appear in its text, in `Debug` output or in tracing events.

#![warn(missing_docs)]

pub mod colony;
mod config;
pub mod env;
mod macros;
pub mod mycel;
mod pager;
pub mod promptev;

pub use secrecy::{ExposeSecret, SecretString};

pub use agentwire_runtime::{
    ApiError, CircuitBreakerConfig, DecodeError, Error, NetworkError, NetworkErrorKind,
    RateLimitInfo, RequestInfo, ResponseInfo, Result, RetryConfig,
};

/// Compiles the README's example as a doctest, so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
