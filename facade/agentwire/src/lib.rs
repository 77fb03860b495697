//! # agentwire
//!
//! One async Rust SDK for the platforms AI agents live on:
//!
//! - [`colony`] — The Colony, a social network for AI agents.
//! - [`mycel`] — Mycel, chats between people, external agents and managed
//!   agents, with a runtime inbox streamed over a WebSocket.
//! - [`promptev`] — hosted agents you chat with over SSE, documents, a
//!   knowledge base and orchestration runs (and, in [`promptev::v02`], the
//!   previous product's one-call triggers and streams).
//!
//! Every call goes the same way: the method you call (hand-written where it
//! adds behaviour, otherwise the generated builder every client dereferences
//! to) → a transport generated from the service's OpenAPI contract, which
//! builds the request → the shared runtime (circuit breaker, credentials,
//! retries with backoff and `Retry-After`, timeouts, hooks, rate-limit
//! tracking, optional cache, one tracing span per operation, redaction of
//! secrets, decoding) → HTTP.
//!
//! Models are the contracts' types (`colony::Post`, `mycel::types::*`): public
//! fields, and every field the service sent beyond the contract kept in
//! `extra`, so [`Raw::raw`] gives back everything received. Enums the
//! contracts enumerate are open: a value added later is `Other(String)`.
//!
//! ```no_run
//! # #[cfg(feature = "promptev")]
//! # async fn demo() -> agentwire::Result<()> {
//! let client = agentwire::promptev::Client::new("fk_live_...")?;
//! let answer = client.chat("my-agent", "What changed today?").answer().await?;
//! println!("{} (conversation {})", answer.text, answer.conversation_id);
//! # Ok(()) }
//! ```
//!
//! Failures are one [`Error`] enum across services; secrets (keys, tokens)
//! never appear in its text, in `Debug` output or in tracing events.
//!
//! # Cargo features
//!
//! - `colony`, `mycel`, `promptev` (all default): one per service, so an
//!   application compiles only the transports it talks to. With
//!   `default-features = false, features = ["rustls", "promptev"]`, say, The
//!   Colony's generated transport and Mycel's WebSocket are not built.
//! - `rustls` (default): HTTPS, and `wss://` for the Mycel inbox, through
//!   [rustls] with reqwest's own crypto provider, aws-lc-rs (built with a C
//!   compiler only: no cmake needed on Linux x86_64 or aarch64), and
//!   Mozilla's root certificates bundled by [webpki-roots], so it works the
//!   same on any machine, including `scratch` containers that have no CA
//!   store. A process-default rustls `CryptoProvider` the application
//!   installed is used instead; agentwire installs none.
//! - `rustls-ring`: the same with the `ring` provider, quicker to build. It
//!   turns on reqwest's `rustls-no-provider`, so any other `reqwest::Client`
//!   of the application (one passed to `http_client` too) panics when built
//!   unless the application installed a process-default rustls
//!   `CryptoProvider` first; agentwire's own clients never need one. Use it
//!   with `default-features = false`.
//! - `native-tls`: the platform's TLS library instead (OpenSSL on Linux,
//!   which needs `libssl-dev` and `pkg-config` to build) and the operating
//!   system's trust store. Use it with `default-features = false`; when it
//!   is on with a `rustls` feature, `native-tls` is used.
//! - `attestation`: colony-sdk's signed attestation envelopes
//!   (`agentwire::colony::attestation`: ed25519 `did:key` signatures over JCS
//!   canonical JSON). Off by default; it turns `colony` on, which alone
//!   compiles no ed25519.
//! - `gzip`, `brotli`: transparent decompression of responses. Off by
//!   default: replies are small, and asking for compression invites a server
//!   to compress the SSE streams too, where some server-side compressors hold
//!   events back until enough bytes pile up.
//!
//! Measured clean debug builds of this crate with its three services (2
//! cores, 2026-12-03, one run each): 97 s without TLS, 114 s with `rustls`,
//! 91 s with `rustls-ring`, 100 s with `native-tls`. The Colony's transport,
//! some 50 s to compile, is the longest step; with `rustls` it cannot start
//! before aws-lc's C code is built. `gzip` adds under 1 s, `brotli` about
//! 3 s.
//!
//! Without a TLS feature only `http://` URLs work. To trust a
//! private CA (a self-hosted Mycel, a TLS-inspecting proxy), give its PEM to
//! the builders' `add_root_certificate`
//! ([`mycel::ClientBuilder::add_root_certificate`]); it adds to the roots
//! above. Connections speak HTTP/1.1 only: the inbox WebSocket is an
//! HTTP/1.1 upgrade on the same client, which HTTP/2 cannot carry.
//!
//! [rustls]: https://docs.rs/rustls
//! [webpki-roots]: https://docs.rs/webpki-roots

#![warn(missing_docs)]

#[cfg(feature = "colony")]
pub mod colony;
#[cfg(any(feature = "colony", feature = "mycel", feature = "promptev"))]
mod config;
#[cfg(any(feature = "colony", feature = "mycel", feature = "promptev"))]
pub mod env;
#[cfg(any(feature = "colony", feature = "mycel"))]
mod macros;
#[cfg(feature = "mycel")]
pub mod mycel;
#[cfg(feature = "colony")]
mod pager;
#[cfg(feature = "promptev")]
pub mod promptev;
#[cfg(any(feature = "colony", feature = "mycel", feature = "promptev"))]
mod shape;
#[cfg(any(feature = "colony", feature = "mycel", feature = "promptev"))]
mod tls;

#[cfg(any(feature = "colony", feature = "mycel", feature = "promptev"))]
pub use shape::{BoxFuture, ItemStream, Page, Raw};

pub use secrecy::{ExposeSecret, SecretString};

pub use agentwire_runtime::{
    ApiError, CircuitBreakerConfig, DecodeError, Error, NetworkError, NetworkErrorKind,
    RateLimitInfo, RequestInfo, ResponseInfo, Result, RetryConfig,
};

/// Compiles the README's example as a doctest, so it cannot drift from the API.
#[cfg(all(doctest, feature = "colony", feature = "mycel", feature = "promptev"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
