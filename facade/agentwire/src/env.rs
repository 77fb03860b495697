//! Clients configured from the environment, with the variables the services'
//! own SDKs and command lines already use.
//!
//! | service | variable | required | meaning |
//! |---|---|---|---|
//! | The Colony | `COLONY_API_KEY` | yes | the agent's API key (`col_…`), as colony-sdk's container image reads it |
//! | The Colony | `COLONY_BASE_URL` | no | another host (default [`colony::DEFAULT_BASE_URL`]); `/api/v1` may be included |
//! | Mycel | `MYCEL_BASE_URL` | yes | the backend, as mycel-cli reads it (Mycel has no public default) |
//! | Mycel | `MYCEL_TOKEN` | no | the bearer token of an owner or external agent; without it only sign-up and login calls work |
//! | Mycel | `MYCEL_PROXY` | no | a proxy for every request and the inbox WebSocket, as mycel-cli reads it |
//! | Promptev | `PROMPTEV_API_KEY` | yes | the project's API key (`fk_…`) of the current product ([`promptev::Client`]; agentwire's name: promptev 1.3.0 reads no variable) |
//! | Promptev 0.2 | `PROMPTEV_PROJECT_KEY` | yes | the project key (`pv_sk_…`) of the previous product ([`promptev::v02::Client`]) |
//! | Promptev | `PROMPTEV_BASE_URL` | no | another host, for either client (default [`promptev::DEFAULT_BASE_URL`]) |
//!
//! Every client also honours `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and
//! `NO_PROXY` unless a builder sets `proxy` or `no_proxy`. A blank variable
//! counts as unset; a missing required one is an [`Error::Config`] that
//! names it. Values are never echoed in errors.

#[cfg(feature = "colony")]
use crate::colony;
use crate::config::{env_var, required_env};
#[cfg(feature = "mycel")]
use crate::mycel;
#[cfg(feature = "promptev")]
use crate::promptev;
#[cfg(doc)]
use agentwire_runtime::Error;
use agentwire_runtime::Result;

/// `COLONY_API_KEY`.
pub const COLONY_API_KEY: &str = "COLONY_API_KEY";
/// `COLONY_BASE_URL`.
pub const COLONY_BASE_URL: &str = "COLONY_BASE_URL";
/// `MYCEL_BASE_URL`.
pub const MYCEL_BASE_URL: &str = "MYCEL_BASE_URL";
/// `MYCEL_TOKEN`.
pub const MYCEL_TOKEN: &str = "MYCEL_TOKEN";
/// `MYCEL_PROXY`.
pub const MYCEL_PROXY: &str = "MYCEL_PROXY";
/// `PROMPTEV_API_KEY`.
pub const PROMPTEV_API_KEY: &str = "PROMPTEV_API_KEY";
/// `PROMPTEV_PROJECT_KEY`.
pub const PROMPTEV_PROJECT_KEY: &str = "PROMPTEV_PROJECT_KEY";
/// `PROMPTEV_BASE_URL`.
pub const PROMPTEV_BASE_URL: &str = "PROMPTEV_BASE_URL";

#[cfg(feature = "colony")]
impl colony::ClientBuilder {
    /// A builder from `COLONY_API_KEY` and, when set, `COLONY_BASE_URL`
    /// (see [the table](crate::env)); adjust it further before `build()`.
    pub fn from_env() -> Result<colony::ClientBuilder> {
        let mut builder = colony::Client::builder(required_env(COLONY_API_KEY)?);
        if let Some(url) = env_var(COLONY_BASE_URL)? {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }
}

#[cfg(feature = "colony")]
impl colony::Client {
    /// A client from the environment (see [the table](crate::env)).
    ///
    /// ```no_run
    /// // COLONY_API_KEY=col_... cargo run
    /// let colony = agentwire::colony::Client::from_env()?;
    /// # Ok::<(), agentwire::Error>(())
    /// ```
    pub fn from_env() -> Result<colony::Client> {
        colony::ClientBuilder::from_env()?.build()
    }
}

#[cfg(feature = "mycel")]
impl mycel::ClientBuilder {
    /// A builder from `MYCEL_BASE_URL` and, when set, `MYCEL_TOKEN` and
    /// `MYCEL_PROXY` (see [the table](crate::env)).
    pub fn from_env() -> Result<mycel::ClientBuilder> {
        let mut builder = mycel::Client::builder(required_env(MYCEL_BASE_URL)?);
        if let Some(token) = env_var(MYCEL_TOKEN)? {
            builder = builder.token(token);
        }
        if let Some(proxy) = env_var(MYCEL_PROXY)? {
            builder = builder.proxy(proxy);
        }
        Ok(builder)
    }
}

#[cfg(feature = "mycel")]
impl mycel::Client {
    /// A client from the environment (see [the table](crate::env)).
    pub fn from_env() -> Result<mycel::Client> {
        mycel::ClientBuilder::from_env()?.build()
    }
}

#[cfg(feature = "promptev")]
impl promptev::ClientBuilder {
    /// A builder from `PROMPTEV_API_KEY` and, when set,
    /// `PROMPTEV_BASE_URL` (see [the table](crate::env)).
    pub fn from_env() -> Result<promptev::ClientBuilder> {
        let mut builder = promptev::Client::builder(required_env(PROMPTEV_API_KEY)?);
        if let Some(url) = env_var(PROMPTEV_BASE_URL)? {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }
}

#[cfg(feature = "promptev")]
impl promptev::Client {
    /// A client from the environment (see [the table](crate::env)).
    pub fn from_env() -> Result<promptev::Client> {
        promptev::ClientBuilder::from_env()?.build()
    }
}

#[cfg(feature = "promptev")]
impl promptev::v02::ClientBuilder {
    /// A builder from `PROMPTEV_PROJECT_KEY` and, when set,
    /// `PROMPTEV_BASE_URL` (see [the table](crate::env)).
    pub fn from_env() -> Result<promptev::v02::ClientBuilder> {
        let mut builder = promptev::v02::Client::builder(required_env(PROMPTEV_PROJECT_KEY)?);
        if let Some(url) = env_var(PROMPTEV_BASE_URL)? {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }
}

#[cfg(feature = "promptev")]
impl promptev::v02::Client {
    /// A client from the environment (see [the table](crate::env)).
    pub fn from_env() -> Result<promptev::v02::Client> {
        promptev::v02::ClientBuilder::from_env()?.build()
    }
}
