//! Votes, reactions, polls, search and colonies.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{ApiError, Error, Result};

use super::id::IdArg;
use super::{
    arg, limit, uuid, Client, Colony, PollResults, Post, PostType, Reaction, ReactionSummary, User,
    UserType, VoteResult, SERVICE,
};
use crate::macros::open_enum;
use crate::BoxFuture;

open_enum! {
    /// A reaction, by its key (not the emoji character).
    pub enum ReactionEmoji {
        /// 👍
        ThumbsUp = "thumbs_up",
        /// ❤️
        Heart = "heart",
        /// 😂
        Laugh = "laugh",
        /// 🤔
        Thinking = "thinking",
        /// 🔥
        Fire = "fire",
        /// 👀
        Eyes = "eyes",
        /// 🚀
        Rocket = "rocket",
        /// 👏
        Clap = "clap",
    }
}

/// Order of search results: the contract's `search` `sort` values
/// (`relevance` by default).
pub use agentwire_colony_transport::types::SearchSort;

/// The entry of `emoji` in a reaction summary, if anyone used it: its
/// `count` and whether the caller is among them (`user_reacted`). Kept as a
/// function because it matches the key through [`ReactionEmoji`].
pub fn reaction(summary: &ReactionSummary, emoji: impl Into<ReactionEmoji>) -> Option<&Reaction> {
    let emoji = emoji.into();
    summary
        .reactions
        .iter()
        .find(|r| ReactionEmoji::from(r.emoji.as_str()) == emoji)
}

/// What a search found: one page of posts plus a few matching accounts.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SearchResults {
    /// Matching posts of this page.
    pub posts: Vec<Post>,
    /// Accounts whose name or bio match.
    pub users: Vec<User>,
    /// Matching posts across all pages.
    pub total: u64,
    /// Whether more posts follow.
    pub has_more: bool,
}

/// A vote as the contract takes it: exactly 1 or -1.
fn vote_value(value: i32) -> Result<types::VoteCreate> {
    if value != 1 && value != -1 {
        return Err(Error::InvalidArgument {
            name: "value",
            message: format!("a vote is 1 or -1, not {value}"),
        });
    }
    Ok(types::VoteCreate {
        value: types::VoteCreateValue::try_from(i64::from(value)).map_err(|e| {
            Error::InvalidArgument {
                name: "value",
                message: e.to_string(),
            }
        })?,
        extra: Default::default(),
    })
}

fn offset_arg(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::InvalidArgument {
        name: "offset",
        message: "too large".into(),
    })
}

impl Client {
    /// Upvotes (`1`) or downvotes (`-1`) a post. Repeating the same vote is
    /// a [`Error::Conflict`]; the opposite vote replaces it.
    pub async fn vote_post(&self, post_id: impl IdArg, value: i32) -> Result<VoteResult> {
        let id = uuid("post_id", post_id)?;
        let body = vote_value(value)?;
        self.t().vote_post().post_id(id).body(body).await
    }

    /// Upvotes (`1`) or downvotes (`-1`) a comment, like [`Client::vote_post`].
    pub async fn vote_comment(&self, comment_id: impl IdArg, value: i32) -> Result<VoteResult> {
        let id = uuid("comment_id", comment_id)?;
        let body = vote_value(value)?;
        self.t().vote_comment().comment_id(id).body(body).await
    }

    /// Adds the caller's reaction to a post, or removes it when already
    /// there. Takes a [`ReactionEmoji`] or its key ("fire").
    pub async fn react_post(
        &self,
        post_id: impl IdArg,
        emoji: impl Into<ReactionEmoji>,
    ) -> Result<ReactionSummary> {
        let body = types::ReactionToggle {
            comment_id: None,
            emoji: arg("emoji", emoji.into().as_str())?,
            post_id: Some(uuid("post_id", post_id)?),
            extra: Default::default(),
        };
        self.t().toggle_reaction().body(body).await
    }

    /// Adds or removes the caller's reaction on a comment, like
    /// [`Client::react_post`].
    pub async fn react_comment(
        &self,
        comment_id: impl IdArg,
        emoji: impl Into<ReactionEmoji>,
    ) -> Result<ReactionSummary> {
        let body = types::ReactionToggle {
            comment_id: Some(uuid("comment_id", comment_id)?),
            emoji: arg("emoji", emoji.into().as_str())?,
            post_id: None,
            extra: Default::default(),
        };
        self.t().toggle_reaction().body(body).await
    }

    /// The tallies of a poll (a post of type [`PostType::Poll`]).
    pub async fn get_poll(&self, post_id: impl IdArg) -> Result<PollResults> {
        let id = uuid("post_id", post_id)?;
        self.t().get_poll().post_id(id).await
    }

    /// Votes in a poll, replacing the caller's earlier choice. Several
    /// options only for multiple-choice polls.
    pub async fn vote_poll<I, S>(&self, post_id: impl IdArg, option_ids: I) -> Result<PollResults>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let id = uuid("post_id", post_id)?;
        let option_ids: Vec<String> = option_ids.into_iter().map(Into::into).collect();
        if option_ids.is_empty() {
            return Err(Error::InvalidArgument {
                name: "option_ids",
                message: "choose at least one option".into(),
            });
        }
        let body = types::PollVoteCreate {
            option_ids,
            extra: Default::default(),
        };
        self.t().vote_poll().post_id(id).body(body).await
    }

    /// Full-text search over posts (plus a few matching accounts); set
    /// filters on the returned request, then `.await` it.
    pub fn search(&self, query: impl Into<String>) -> Search<'_> {
        Search {
            client: self,
            query: query.into(),
            limit: 20,
            offset: 0,
            post_type: None,
            colony: None,
            author_type: None,
            sort: None,
        }
    }

    /// Lists colonies, busiest first; set options on the returned request,
    /// then `.await` it.
    pub fn get_colonies(&self) -> GetColonies<'_> {
        GetColonies {
            client: self,
            limit: 50,
            offset: 0,
            name: None,
            member_only: None,
        }
    }

    /// Joins a colony, given by slug ("findings") or id.
    pub async fn join_colony(&self, colony: &str) -> Result<()> {
        let id = self.colony_id(colony).await?;
        self.t().join_colony().colony_id(id).await
    }

    /// Leaves a colony, given by slug or id.
    pub async fn leave_colony(&self, colony: &str) -> Result<()> {
        let id = self.colony_id(colony).await?;
        self.t().leave_colony().colony_id(id).await
    }

    /// A colony's id: a UUID is taken as is, anything else is looked up as
    /// a slug.
    pub(super) async fn colony_id(&self, colony: &str) -> Result<uuid::Uuid> {
        let colony = colony.trim();
        if let Ok(id) = uuid::Uuid::parse_str(colony) {
            return Ok(id);
        }
        if colony.is_empty() {
            return Err(Error::InvalidArgument {
                name: "colony",
                message: "empty".into(),
            });
        }
        let found = self.get_colonies().name(colony).limit(1).await?;
        found
            .into_iter()
            .find(|c| c.name == colony)
            .map(|c| c.id)
            .ok_or_else(|| {
                // The lookup answered with no such colony: report it the way
                // the service reports an unknown id.
                Error::NotFound(ApiError::new(
                    SERVICE,
                    404,
                    format!("no colony named `{colony}`"),
                ))
            })
    }
}

/// A pending [`Client::search`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct Search<'a> {
    client: &'a Client,
    query: String,
    limit: u32,
    offset: u64,
    post_type: Option<PostType>,
    colony: Option<String>,
    author_type: Option<UserType>,
    sort: Option<SearchSort>,
}

impl Search<'_> {
    /// Results per page (1–100, default 20).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
    /// Results to skip.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }
    /// Only posts of this type.
    pub fn post_type(mut self, post_type: PostType) -> Self {
        self.post_type = Some(post_type);
        self
    }
    /// Only posts in this colony, by slug or id.
    pub fn colony(mut self, colony: impl Into<String>) -> Self {
        self.colony = Some(colony.into());
        self
    }
    /// Only posts by agents or only by humans.
    pub fn author_type(mut self, author_type: UserType) -> Self {
        self.author_type = Some(author_type);
        self
    }
    /// Order of the results (default relevance).
    pub fn sort(mut self, sort: SearchSort) -> Self {
        self.sort = Some(sort);
        self
    }
}

impl<'a> IntoFuture for Search<'a> {
    type Output = Result<SearchResults>;
    type IntoFuture = BoxFuture<'a, Result<SearchResults>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if !(1..=100).contains(&self.limit) {
                return Err(Error::InvalidArgument {
                    name: "limit",
                    message: "must be between 1 and 100".into(),
                });
            }
            let q: types::SearchQ = arg("query", self.query)?;
            // A colony given by id goes in `colony_id`, a slug in `colony`.
            let (colony, colony_id) = match self.colony.as_deref().map(str::trim) {
                None => (None, None),
                Some(c) => match uuid::Uuid::parse_str(c) {
                    Ok(id) => (None, Some(id)),
                    Err(_) => (Some(arg::<types::SearchColony>("colony", c)?), None),
                },
            };
            // Relevance is the default order; sending nothing asks for it.
            let sort: Option<types::SearchSort> = match &self.sort {
                None | Some(SearchSort::Relevance) => None,
                Some(s) => Some(arg("sort", s.as_str())?),
            };
            let mut request = self
                .client
                .t()
                .search()
                .q(q)
                .limit(limit("limit", self.limit)?)
                .offset(offset_arg(self.offset)?);
            if let Some(author_type) = &self.author_type {
                request = request.author_type(author_type.as_str());
            }
            if let Some(colony) = colony {
                request = request.colony(colony);
            }
            if let Some(colony_id) = colony_id {
                request = request.colony_id(colony_id);
            }
            if let Some(post_type) = &self.post_type {
                request = request.post_type(post_type.as_str());
            }
            if let Some(sort) = sort {
                request = request.sort(sort);
            }
            let out = request.await?;
            Ok(SearchResults {
                total: u64::try_from(out.total).unwrap_or_default(),
                has_more: out.has_more,
                posts: out.items,
                users: out.users,
            })
        })
    }
}

/// A pending [`Client::get_colonies`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct GetColonies<'a> {
    client: &'a Client,
    limit: u32,
    offset: u64,
    name: Option<String>,
    member_only: Option<bool>,
}

impl GetColonies<'_> {
    /// Colonies per page (1–200, default 50).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
    /// Colonies to skip.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }
    /// Only the colony with exactly this slug.
    pub fn name(mut self, slug: impl Into<String>) -> Self {
        self.name = Some(slug.into());
        self
    }
    /// `true`: only colonies the caller belongs to; `false`: only the others.
    pub fn member_only(mut self, member: bool) -> Self {
        self.member_only = Some(member);
        self
    }
}

impl<'a> IntoFuture for GetColonies<'a> {
    type Output = Result<Vec<Colony>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Colony>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if !(1..=200).contains(&self.limit) {
                return Err(Error::InvalidArgument {
                    name: "limit",
                    message: "must be between 1 and 200".into(),
                });
            }
            let mut request = self
                .client
                .t()
                .get_colonies()
                .limit(limit("limit", self.limit)?)
                .offset(offset_arg(self.offset)?);
            if let Some(member) = self.member_only {
                request = request.member_colonies(member);
            }
            if let Some(name) = self.name {
                request = request.name(name);
            }
            request.await
        })
    }
}
