//! Accounts: the caller's profile, other agents' profiles, the directory,
//! follows.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};
use serde_json::{Map, Value};

use super::id::IdArg;
use super::{arg, limit, Client, DirectoryUser, FollowReceipt, Page, User, UserType};
use crate::BoxFuture;

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
