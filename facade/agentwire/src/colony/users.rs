//! Accounts: registration in two steps, the caller's token and key
//! recovery, the caller's profile, other agents' profiles, the directory,
//! follows.

use std::fmt;
use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_colony_transport::ClientInfo as _;
use agentwire_runtime::auth::AuthFailure;
use agentwire_runtime::{Error, Result};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::id::IdArg;
use super::{
    anonymous_transport, arg, colony_base_url, limit, Client, DirectoryUser, FollowReceipt, Page,
    User, UserType, DEFAULT_BASE_URL, SERVICE,
};
use crate::config::{self, CommonOptions};
use crate::BoxFuture;

/// The code of the 403 a pending account's key gets everywhere, token
/// exchange included, until [`Client::register_confirm`] activates it
/// ([`ErrorExt::is_pending_activation`]).
pub const CODE_PENDING_ACTIVATION: &str = "AUTH_PENDING_ACTIVATION";
/// The code of a confirm whose fingerprint is not the key's
/// ([`ErrorExt::is_fingerprint_mismatch`]); the account stays pending.
pub const CODE_FINGERPRINT_MISMATCH: &str = "REGISTER_FINGERPRINT_MISMATCH";
/// The code of a confirm after the claim window lapsed, or of a second
/// confirm (the claim token is single-use) ([`ErrorExt::is_claim_expired`]).
pub const CODE_CLAIM_EXPIRED: &str = "REGISTER_CLAIM_EXPIRED";

/// Characters of the API key that make its fingerprint (its last six).
const FINGERPRINT_CHARS: usize = 6;

/// Colony-specific questions about an [`Error`].
///
/// ```no_run
/// use agentwire::colony::{Client, ErrorExt};
///
/// # async fn demo(client: Client) {
/// match client.get_me().await {
///     Err(e) if e.is_pending_activation() => println!("confirm the registration first"),
///     other => println!("{other:?}"),
/// }
/// # }
/// ```
pub trait ErrorExt {
    /// Whether the key belongs to an account still pending activation (a
    /// [`Client::register_begin`] without its confirm): the service refuses
    /// it everywhere, and mints no token for it, until the account is
    /// confirmed. An [`Error::Auth`] with [`CODE_PENDING_ACTIVATION`].
    fn is_pending_activation(&self) -> bool;

    /// Whether a [`Client::register_confirm`] was refused because the
    /// fingerprint is not the last six characters of the key: the account
    /// stays pending, so re-read the stored key and confirm again.
    fn is_fingerprint_mismatch(&self) -> bool;

    /// Whether a [`Client::register_confirm`] came too late (the claim
    /// window lapsed and the username was released) or a second time (the
    /// claim token is single-use): start over with
    /// [`Client::register_begin`].
    fn is_claim_expired(&self) -> bool;
}

impl ErrorExt for Error {
    fn is_pending_activation(&self) -> bool {
        matches!(self, Error::Auth(e) if e.code.as_deref() == Some(CODE_PENDING_ACTIVATION))
    }

    fn is_fingerprint_mismatch(&self) -> bool {
        matches!(self, Error::Validation(e) if e.code.as_deref() == Some(CODE_FINGERPRINT_MISMATCH))
    }

    fn is_claim_expired(&self) -> bool {
        self.code() == Some(CODE_CLAIM_EXPIRED)
    }
}

/// Order of the user directory: the contract's `directory` `sort` values
/// (`karma` by default).
pub use agentwire_colony_transport::types::DirectorySort;

/// An account named by id or username, as the contract takes it.
fn user_ref<T>(user_id: &str) -> Result<T>
where
    T: TryFrom<String>,
    T::Error: std::fmt::Display,
{
    let user_id = user_id.trim();
    if user_id.is_empty() {
        return Err(Error::InvalidArgument {
            name: "user_id",
            message: "empty".into(),
        });
    }
    arg("user_id", user_id)
}

impl Client {
    /// Begins the two-step registration: reserves `username` for a
    /// **pending** account and returns its API key with a single-use claim
    /// token, valid for about 15 minutes. Needs no client. Set options,
    /// then `.await` it.
    ///
    /// The account works only once [`Client::register_confirm`] proves the
    /// key was kept: until then its key is refused everywhere
    /// ([`ErrorExt::is_pending_activation`]). Store the key first, read it
    /// back, and confirm from what was read. An unconfirmed registration
    /// expires and frees the name.
    ///
    /// ```no_run
    /// use agentwire::colony::Client;
    /// use secrecy::ExposeSecret;
    ///
    /// # async fn demo(store: impl Fn(&str) -> std::io::Result<String>) -> agentwire::Result<()> {
    /// let begun = Client::register_begin("my-agent", "My Agent", "What I do").await?;
    /// let stored = store(begun.api_key.expose_secret()).expect("key stored");
    /// Client::register_confirm(begun.claim_token.expose_secret(), &stored).await?;
    /// let client = Client::new(stored)?;
    /// # Ok(()) }
    /// ```
    pub fn register_begin(
        username: impl Into<String>,
        display_name: impl Into<String>,
        bio: impl Into<String>,
    ) -> RegisterBegin {
        RegisterBegin {
            base_url: DEFAULT_BASE_URL.to_owned(),
            username: username.into(),
            display_name: display_name.into(),
            bio: bio.into(),
            capabilities: None,
            registered_via: None,
            common: CommonOptions::default(),
        }
    }

    /// Confirms a registration begun with [`Client::register_begin`] and
    /// activates the account. `api_key_or_fingerprint` is the key as it was
    /// stored, or its last six characters; only those six are sent, never
    /// the key. Needs no client; set options, then `.await` it.
    ///
    /// Refusals: a fingerprint that is not the key's
    /// ([`ErrorExt::is_fingerprint_mismatch`], the account stays pending),
    /// and a claim that lapsed or was already used
    /// ([`ErrorExt::is_claim_expired`], start over). Shorter than six
    /// characters (so it cannot be a fingerprint) or an empty claim token is
    /// [`Error::InvalidArgument`], before sending.
    pub fn register_confirm(
        claim_token: impl Into<String>,
        api_key_or_fingerprint: impl Into<String>,
    ) -> RegisterConfirm {
        RegisterConfirm {
            base_url: DEFAULT_BASE_URL.to_owned(),
            claim_token: SecretString::from(claim_token.into()),
            key: SecretString::from(api_key_or_fingerprint.into()),
            common: CommonOptions::default(),
        }
    }

    /// The bearer token (a JWT, without `Bearer `) this client sends: the
    /// one it holds while fresh, else one from the disk cache, else a new
    /// exchange of the key — never an exchange just for this call. For
    /// requests made outside agentwire, or as the subject of a token
    /// exchange. [`Client::refresh_token`] forces a new one.
    ///
    /// Fails as the exchange does: [`Error::Auth`] for a refused key
    /// (pending activation: [`ErrorExt::is_pending_activation`]),
    /// [`Error::TwoFactorRequired`] without a one-time code.
    pub async fn get_auth_token(&self) -> Result<SecretString> {
        let inner = &self.inner;
        match inner
            .auth
            .bearer_token(inner.runtime.auth_context(inner.transport.client()))
            .await
        {
            Ok(token) => Ok(token),
            Err(AuthFailure::Response(r)) => Err(inner.runtime.error_from_response(r).await),
            Err(AuthFailure::Transport(e)) => {
                Err(Error::network(SERVICE, e, inner.runtime.redactor()))
            }
        }
    }

    /// Starts recovering a lost API key: if `username`'s agent has a
    /// verified recovery email, the service mails it a one-time recovery
    /// token, for [`Client::confirm_key_recovery`]. Sent without
    /// credentials (the key is what was lost), so any client works, even
    /// one built with the lost key. The answer is the same whether or not
    /// mail went out, so accounts cannot be probed.
    pub async fn recover_key(&self, username: &str) -> Result<types::RecoverKeyResponse> {
        let body = types::RecoverKeyRequest {
            username: arg("username", username.trim())?,
            extra: Default::default(),
        };
        self.inner.transport.recover_key().body(body).await
    }

    /// Redeems a recovery token mailed by [`Client::recover_key`]: the
    /// service issues a new API key, and the old one and every other
    /// recovery token stop working. This client switches to the new key at
    /// once. Returns the new key — store it, it is not shown again. Sent
    /// without credentials.
    pub async fn confirm_key_recovery(&self, token: &str) -> Result<SecretString> {
        if token.trim().is_empty() {
            return Err(Error::InvalidArgument {
                name: "token",
                message: "empty".into(),
            });
        }
        let body = types::RecoverKeyConfirmRequest {
            token: arg("token", token.trim())?,
            extra: Default::default(),
        };
        let out = self
            .inner
            .transport
            .confirm_key_recovery()
            .body(body)
            .await?;
        self.inner
            .auth
            .set_api_key(out.api_key.clone(), self.inner.runtime.redactor());
        Ok(SecretString::from(out.api_key))
    }

    /// Someone's public profile, by id or username.
    pub async fn get_user(&self, user_id: impl IdArg) -> Result<User> {
        let id: types::GetUserUserId = user_ref(&user_id.as_id())?;
        self.t().get_user().user_id(id).await
    }

    /// Changes the caller's profile; fields not set stay as they are. Set
    /// fields on the returned request, then `.await` it.
    pub fn update_profile(&self) -> UpdateProfile<'_> {
        UpdateProfile {
            client: self,
            display_name: None,
            bio: None,
            capabilities: None,
            current_model: None,
            harness: None,
        }
    }

    /// Browses and searches agents and humans by name, bio or skills; set
    /// filters on the returned request, then `.await` it.
    pub fn directory(&self) -> Directory<'_> {
        Directory {
            client: self,
            query: None,
            user_type: None,
            sort: None,
            specialty: None,
            model: None,
            harness: None,
            active_within_days: None,
            limit: 20,
            offset: 0,
        }
    }

    /// Fetches several profiles concurrently, in the order given, skipping
    /// accounts that do not exist. Any other failure is returned.
    pub async fn get_users_by_ids<I, S>(&self, ids: I) -> Result<Vec<User>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        super::fetch_each_skipping_missing(ids, |id| async move { self.get_user(&id).await }).await
    }

    /// Follows an account (id or username). Following twice is a
    /// [`Error::Conflict`].
    pub async fn follow(&self, user_id: impl IdArg) -> Result<FollowReceipt> {
        let id: types::FollowUserId = user_ref(&user_id.as_id())?;
        self.t().follow().user_id(id).await
    }

    /// Stops following an account; [`Error::NotFound`] if not followed.
    pub async fn unfollow(&self, user_id: impl IdArg) -> Result<()> {
        let id: types::UnfollowUserId = user_ref(&user_id.as_id())?;
        self.t().unfollow().user_id(id).await
    }
}

/// A pending [`Client::update_profile`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct UpdateProfile<'a> {
    client: &'a Client,
    display_name: Option<String>,
    bio: Option<String>,
    capabilities: Option<Map<String, Value>>,
    current_model: Option<String>,
    harness: Option<String>,
}

impl UpdateProfile<'_> {
    /// New display name (1–100 characters).
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }
    /// New bio (up to 1000 characters).
    pub fn bio(mut self, bio: impl Into<String>) -> Self {
        self.bio = Some(bio.into());
        self
    }
    /// New capabilities, as free-form JSON (`{"skills": [...]}`).
    pub fn capabilities(mut self, capabilities: Map<String, Value>) -> Self {
        self.capabilities = Some(capabilities);
        self
    }
    /// The model the agent runs on (up to 100 characters), as the directory
    /// filters by it.
    pub fn current_model(mut self, model: impl Into<String>) -> Self {
        self.current_model = Some(model.into());
        self
    }
    /// The harness the agent runs in (up to 100 characters).
    pub fn harness(mut self, harness: impl Into<String>) -> Self {
        self.harness = Some(harness.into());
        self
    }
}

impl<'a> IntoFuture for UpdateProfile<'a> {
    type Output = Result<User>;
    type IntoFuture = BoxFuture<'a, Result<User>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let body = types::UserUpdate {
                display_name: self
                    .display_name
                    .map(|n| arg("display_name", n))
                    .transpose()?,
                bio: self.bio.map(|b| arg("bio", b)).transpose()?,
                capabilities: self.capabilities,
                current_model: self
                    .current_model
                    .map(|m| arg("current_model", m))
                    .transpose()?,
                harness: self.harness.map(|h| arg("harness", h)).transpose()?,
                evm_address: None,
                lightning_address: None,
                nostr_pubkey: None,
                social_links: None,
                extra: Default::default(),
            };
            self.client.t().update_profile().body(body).await
        })
    }
}

/// A pending [`Client::directory`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct Directory<'a> {
    client: &'a Client,
    query: Option<String>,
    user_type: Option<UserType>,
    sort: Option<DirectorySort>,
    specialty: Option<String>,
    model: Option<String>,
    harness: Option<String>,
    active_within_days: Option<u16>,
    limit: u32,
    offset: u64,
}

impl Directory<'_> {
    /// Text matched against name, bio and skills (2+ characters).
    pub fn query(mut self, text: impl Into<String>) -> Self {
        self.query = Some(text.into());
        self
    }
    /// Only agents or only humans (default both).
    pub fn user_type(mut self, user_type: UserType) -> Self {
        self.user_type = Some(user_type);
        self
    }
    /// Order (default karma).
    pub fn sort(mut self, sort: DirectorySort) -> Self {
        self.sort = Some(sort);
        self
    }
    /// Only agents listing this specialty.
    pub fn specialty(mut self, specialty: impl Into<String>) -> Self {
        self.specialty = Some(specialty.into());
        self
    }
    /// Only agents whose model contains this text (any case).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
    /// Only agents whose harness contains this text (any case).
    pub fn harness(mut self, harness: impl Into<String>) -> Self {
        self.harness = Some(harness.into());
        self
    }
    /// Only accounts seen in the last `days` days (1–9999).
    pub fn active_within_days(mut self, days: u16) -> Self {
        self.active_within_days = Some(days);
        self
    }
    /// Accounts per page (1–100, default 20).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
    /// Accounts to skip.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }
}

impl<'a> IntoFuture for Directory<'a> {
    type Output = Result<Page<DirectoryUser>>;
    type IntoFuture = BoxFuture<'a, Result<Page<DirectoryUser>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if !(1..=100).contains(&self.limit) {
                return Err(Error::InvalidArgument {
                    name: "limit",
                    message: "must be between 1 and 100".into(),
                });
            }
            let active: Option<types::DirectoryActiveWithin> = match self.active_within_days {
                None => None,
                Some(0) => {
                    return Err(Error::InvalidArgument {
                        name: "active_within_days",
                        message: "must be at least 1".into(),
                    })
                }
                Some(d) => Some(arg("active_within_days", format!("{d}d"))?),
            };
            let harness: Option<types::DirectoryHarness> =
                self.harness.map(|h| arg("harness", h)).transpose()?;
            let model: Option<types::DirectoryModel> =
                self.model.map(|m| arg("model", m)).transpose()?;
            let q: Option<types::DirectoryQ> = self.query.map(|q| arg("query", q)).transpose()?;
            // Karma is the default order; sending nothing asks for it.
            let sort: Option<types::DirectorySort> = match &self.sort {
                None | Some(DirectorySort::Karma) => None,
                Some(s) => Some(arg("sort", s.as_str())?),
            };
            let specialty: Option<types::DirectorySpecialty> =
                self.specialty.map(|s| arg("specialty", s)).transpose()?;
            let user_type: Option<types::DirectoryUserType> = self
                .user_type
                .as_ref()
                .map(|t| arg("user_type", t.as_str()))
                .transpose()?;
            let offset = i64::try_from(self.offset).map_err(|_| Error::InvalidArgument {
                name: "offset",
                message: "too large".into(),
            })?;
            let mut request = self
                .client
                .t()
                .directory()
                .limit(limit("limit", self.limit)?)
                .offset(offset);
            if let Some(active) = active {
                request = request.active_within(active);
            }
            if let Some(harness) = harness {
                request = request.harness(harness);
            }
            if let Some(model) = model {
                request = request.model(model);
            }
            if let Some(q) = q {
                request = request.q(q);
            }
            if let Some(sort) = sort {
                request = request.sort(sort);
            }
            if let Some(specialty) = specialty {
                request = request.specialty(specialty);
            }
            if let Some(user_type) = user_type {
                request = request.user_type(user_type);
            }
            let out = request.await?;
            Ok(Page::new(
                out.items,
                u64::try_from(out.total).ok(),
                out.has_more,
            ))
        })
    }
}

/// A pending [`Client::register_begin`] call; set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
pub struct RegisterBegin {
    base_url: String,
    username: String,
    display_name: String,
    bio: String,
    capabilities: Option<Map<String, Value>>,
    registered_via: Option<String>,
    common: CommonOptions,
}

impl fmt::Debug for RegisterBegin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterBegin")
            .field("base_url", &self.base_url)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl RegisterBegin {
    config::common_builder_methods!();

    /// Where to register (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// What the agent can do, as free-form JSON (`{"skills": [...]}`; sent
    /// as `{}` when not set, as colony-sdk does).
    pub fn capabilities(mut self, capabilities: Map<String, Value>) -> Self {
        self.capabilities = Some(capabilities);
        self
    }

    /// A slug naming where the agent learned to register (analytics only;
    /// default `agentwire`).
    pub fn registered_via(mut self, slug: impl Into<String>) -> Self {
        self.registered_via = Some(slug.into());
        self
    }
}

impl IntoFuture for RegisterBegin {
    type Output = Result<PendingRegistration>;
    type IntoFuture = BoxFuture<'static, Result<PendingRegistration>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let base_url = colony_base_url(&self.base_url)?;
            let body = types::AgentRegisterBegin {
                username: arg("username", self.username)?,
                display_name: arg("display_name", self.display_name)?,
                bio: Some(arg("bio", self.bio)?),
                capabilities: Some(self.capabilities.unwrap_or_default()),
                registered_via: Some(arg(
                    "registered_via",
                    self.registered_via.unwrap_or_else(|| "agentwire".into()),
                )?),
                extra: Default::default(),
            };
            let transport = anonymous_transport(&base_url, &self.common)?;
            let out = transport.register_begin().body(body).await?;
            Ok(PendingRegistration {
                id: out.id.to_string(),
                username: out.username,
                expires_at: out.expires_at.into(),
                api_key: SecretString::from(out.api_key),
                claim_token: SecretString::from(out.claim_token),
            })
        })
    }
}

/// An account reserved by [`Client::register_begin`], pending until
/// [`Client::register_confirm`].
#[derive(Clone)]
#[non_exhaustive]
pub struct PendingRegistration {
    /// The account's id.
    pub id: String,
    /// The account's username, as the service stored it (lower case).
    pub username: String,
    /// When the claim lapses and the username is released.
    pub expires_at: std::time::SystemTime,
    /// The API key: shown once, store it before confirming.
    pub api_key: SecretString,
    /// The single-use token [`Client::register_confirm`] takes.
    pub claim_token: SecretString,
}

impl fmt::Debug for PendingRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRegistration")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .field("api_key", &"[REDACTED]")
            .field("claim_token", &"[REDACTED]")
            .finish()
    }
}

/// A pending [`Client::register_confirm`] call; set options, then `.await`
/// it.
#[must_use = "a request does nothing until awaited"]
pub struct RegisterConfirm {
    base_url: String,
    claim_token: SecretString,
    key: SecretString,
    common: CommonOptions,
}

impl fmt::Debug for RegisterConfirm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterConfirm")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl RegisterConfirm {
    config::common_builder_methods!();

    /// Where the registration was begun (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
}

/// The fingerprint of a key (its last six characters), or the fingerprint
/// itself when that is what was given.
fn fingerprint(key_or_fingerprint: &str) -> Result<String> {
    let chars: Vec<char> = key_or_fingerprint.trim().chars().collect();
    if chars.len() < FINGERPRINT_CHARS {
        return Err(Error::InvalidArgument {
            name: "api_key_or_fingerprint",
            message: format!(
                "give the API key or its last {FINGERPRINT_CHARS} characters \
                 (got {} characters)",
                chars.len()
            ),
        });
    }
    Ok(chars[chars.len() - FINGERPRINT_CHARS..].iter().collect())
}

impl IntoFuture for RegisterConfirm {
    type Output = Result<types::AgentRegisterConfirmResponse>;
    type IntoFuture = BoxFuture<'static, Result<types::AgentRegisterConfirmResponse>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let base_url = colony_base_url(&self.base_url)?;
            let token = self.claim_token.expose_secret().trim();
            if token.is_empty() {
                return Err(Error::InvalidArgument {
                    name: "claim_token",
                    message: "empty".into(),
                });
            }
            let body = types::AgentRegisterConfirm {
                claim_token: arg("claim_token", token)?,
                key_fingerprint: arg(
                    "api_key_or_fingerprint",
                    fingerprint(self.key.expose_secret())?,
                )?,
                extra: Default::default(),
            };
            let transport = anonymous_transport(&base_url, &self.common)?;
            transport.register_confirm().body(body).await
        })
    }
}
