//! What both Promptev clients are built from: the HTTP client, the runtime
//! with the rules the two products share, and the transport on top.

use std::sync::Arc;

use agentwire_promptev_transport as transport;
use agentwire_runtime::{AuthStrategy, Idempotency, Result, Runtime, RuntimeBuilder, StatusClass};

use super::{default_retry, DEFAULT_TIMEOUT, SERVICE};
use crate::config::{self, CommonOptions};

const USER_AGENT: &str = concat!("agentwire/", env!("CARGO_PKG_VERSION"), " (promptev)");

/// One client's parts, for `base_url`: credentials from `auth`, the
/// caller's retry policy (else [`default_retry`]), writes retried only with
/// the caller's `Idempotency-Key`, a 409 as [`StatusClass::Api`], then the
/// product's own rules.
pub(super) fn connect(
    common: &CommonOptions,
    base_url: &str,
    auth: Arc<dyn AuthStrategy>,
    product_rules: impl FnOnce(RuntimeBuilder) -> RuntimeBuilder,
) -> Result<(String, Runtime, transport::Client)> {
    let base_url = config::base_url(base_url)?;
    let (runtime, http) = common.runtime_and_http(SERVICE, DEFAULT_TIMEOUT, USER_AGENT)?;
    let runtime = runtime
        .auth(auth)
        .retry(common.retry.clone().unwrap_or_else(default_retry))
        // Promptev's own SDKs retry their POSTs on 502/503/504 and on any
        // network error, but a POST may have done its work (run the agent,
        // started the run) before a 504 or a timeout. Promptev deduplicates
        // only on a caller's Idempotency-Key, so unkeyed POSTs are retried
        // only when the connection could not be made (nothing was sent).
        .idempotency(Idempotency::KeyedOnly)
        .status_class(409, StatusClass::Api);
    let runtime = product_rules(runtime).build();
    let transport = transport::Client::new_with_client(&base_url, http, runtime.clone());
    Ok((base_url, runtime, transport))
}

/// Sets the number of retries of the policy being configured, keeping the
/// rest of it (by default [`default_retry`]).
pub(super) fn set_max_retries(common: &mut CommonOptions, n: u32) {
    common.retry.get_or_insert_with(default_retry).max_retries = n;
}
