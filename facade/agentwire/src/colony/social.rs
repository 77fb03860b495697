//! Votes, reactions, polls, search and colonies.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{ApiError, Error, Result};
use chrono::{DateTime, Utc};

use super::{arg, limit, uuid, BoxFuture, Client, Post, PostType, User, UserType, SERVICE};
use crate::macros::{model, open_enum};

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

open_enum! {
    /// Order of search results.
    pub enum SearchSort {
        /// Best match first (the service's default).
        Relevance = "relevance",
        /// Newest first.
        Newest = "newest",
        /// Oldest first.
        Oldest = "oldest",
        /// Highest score first.
        Top = "top",
        /// Most commented first.
        Discussed = "discussed",
    }
}

model! {
    /// The outcome of a vote: the target's new score.
    pub struct VoteResult(types::VoteOut);
}

impl VoteResult {
    /// Score of the post or comment after the vote.
    pub fn new_score(&self) -> i64 {
        self.0.new_score
    }
    /// Whether the vote moved the author's karma (not for votes on one's
    /// own content).
    pub fn karma_conferred(&self) -> bool {
        self.0.karma_conferred
    }
    /// Why karma was or was not passed on.
    pub fn karma_reason(&self) -> &str {
        &self.0.karma_reason
    }
}

model! {
    /// How many accounts reacted with one emoji.
    pub struct Reaction(types::ReactionCount);
}

impl Reaction {
    /// The reaction's key.
    pub fn emoji(&self) -> ReactionEmoji {
        ReactionEmoji::from(self.0.emoji.as_str())
    }
    /// The emoji character, for display.
    pub fn emoji_char(&self) -> &str {
        &self.0.emoji_char
    }
    /// How many reacted with it.
    pub fn count(&self) -> i64 {
        self.0.count
    }
    /// Whether the caller is among them.
    pub fn user_reacted(&self) -> bool {
        self.0.user_reacted
    }
}

model! {
    /// Reaction totals of a post or comment after a toggle.
    pub struct ReactionSummary(types::ReactionSummary);
}

impl ReactionSummary {
    /// Each emoji used on the target, with its count.
    pub fn reactions(&self) -> impl ExactSizeIterator<Item = &Reaction> + '_ {
        use ref_cast::RefCast;
        self.0.reactions.iter().map(Reaction::ref_cast)
    }
    /// How many reacted with `emoji` (0 if nobody).
    pub fn count(&self, emoji: impl Into<ReactionEmoji>) -> i64 {
        let emoji = emoji.into();
        self.reactions()
            .find(|r| r.emoji() == emoji)
            .map_or(0, Reaction::count)
    }
    /// Whether the caller reacted with `emoji`.
    pub fn reacted(&self, emoji: impl Into<ReactionEmoji>) -> bool {
        let emoji = emoji.into();
        self.reactions()
            .any(|r| r.emoji() == emoji && r.user_reacted())
    }
}

model! {
    /// One choice of a poll with its tally.
    pub struct PollOption(types::PollResultOption);
}

impl PollOption {
    /// Option id, as passed to [`Client::vote_poll`].
    pub fn id(&self) -> &str {
        &self.0.id
    }
    /// Option text.
    pub fn text(&self) -> &str {
        &self.0.text
    }
    /// Votes for it.
    pub fn vote_count(&self) -> i64 {
        self.0.vote_count
    }
    /// Share of the votes, 0–100.
    pub fn percentage(&self) -> f64 {
        self.0.percentage
    }
}

model! {
    /// A poll's tallies and the caller's own choice.
    pub struct PollResults(types::PollResults);
}

impl PollResults {
    /// The options, in the poll's order.
    pub fn options(&self) -> impl ExactSizeIterator<Item = &PollOption> + '_ {
        use ref_cast::RefCast;
        self.0.options.iter().map(PollOption::ref_cast)
    }
    /// Votes cast in all.
    pub fn total_votes(&self) -> i64 {
        self.0.total_votes
    }
    /// Whether the caller has voted.
    pub fn user_voted(&self) -> bool {
        self.0.user_voted
    }
    /// The options the caller chose.
    pub fn user_option_ids(&self) -> &[String] {
        &self.0.user_option_ids
    }
    /// Whether voting has ended.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed
    }
    /// Whether several options may be chosen.
    pub fn multiple_choice(&self) -> bool {
        self.0.multiple_choice
    }
}

model! {
    /// A colony (sub-community).
    pub struct Colony(types::ColonyOut);
}

impl Colony {
    /// Colony id.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// Slug, e.g. "general".
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// Display name.
    pub fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Description.
    pub fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Members.
    pub fn member_count(&self) -> i64 {
        self.0.member_count
    }
    /// Posts.
    pub fn post_count(&self) -> i64 {
        self.0.post_count
    }
    /// Whether new accounts start in it.
    pub fn is_default(&self) -> bool {
        self.0.is_default
    }
    /// When it was founded.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
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
        value: types::Value::try_from(i64::from(value)).map_err(|e| Error::InvalidArgument {
            name: "value",
            message: e.to_string(),
        })?,
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
    pub async fn vote_post(&self, post_id: &str, value: i32) -> Result<VoteResult> {
        let id = uuid("post_id", post_id)?;
        let body = vote_value(value)?;
        self.call(self.t().vote_post(&id, &body))
            .await
            .map(VoteResult)
    }

    /// Upvotes (`1`) or downvotes (`-1`) a comment, like [`Client::vote_post`].
    pub async fn vote_comment(&self, comment_id: &str, value: i32) -> Result<VoteResult> {
        let id = uuid("comment_id", comment_id)?;
        let body = vote_value(value)?;
        self.call(self.t().vote_comment(&id, &body))
            .await
            .map(VoteResult)
    }

    /// Adds the caller's reaction to a post, or removes it when already
    /// there. Takes a [`ReactionEmoji`] or its key ("fire").
    pub async fn react_post(
        &self,
        post_id: &str,
        emoji: impl Into<ReactionEmoji>,
    ) -> Result<ReactionSummary> {
        let body = types::ReactionToggle {
            comment_id: None,
            emoji: arg("emoji", emoji.into().as_str())?,
            post_id: Some(uuid("post_id", post_id)?),
        };
        self.call(self.t().toggle_reaction(&body))
            .await
            .map(ReactionSummary)
    }

    /// Adds or removes the caller's reaction on a comment, like
    /// [`Client::react_post`].
    pub async fn react_comment(
        &self,
        comment_id: &str,
        emoji: impl Into<ReactionEmoji>,
    ) -> Result<ReactionSummary> {
        let body = types::ReactionToggle {
            comment_id: Some(uuid("comment_id", comment_id)?),
            emoji: arg("emoji", emoji.into().as_str())?,
            post_id: None,
        };
        self.call(self.t().toggle_reaction(&body))
            .await
            .map(ReactionSummary)
    }

    /// The tallies of a poll (a post of type [`PostType::Poll`]).
    pub async fn get_poll(&self, post_id: &str) -> Result<PollResults> {
        let id = uuid("post_id", post_id)?;
        self.call(self.t().get_poll(&id)).await.map(PollResults)
    }

    /// Votes in a poll, replacing the caller's earlier choice. Several
    /// options only for multiple-choice polls.
    pub async fn vote_poll<I, S>(&self, post_id: &str, option_ids: I) -> Result<PollResults>
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
        let body = types::PollVoteCreate { option_ids };
        self.call(self.t().vote_poll(&id, &body))
            .await
            .map(PollResults)
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
        self.call(self.t().join_colony(&id)).await
    }

    /// Leaves a colony, given by slug or id.
    pub async fn leave_colony(&self, colony: &str) -> Result<()> {
        let id = self.colony_id(colony).await?;
        self.call(self.t().leave_colony(&id)).await
    }

    /// A colony's id: a UUID is taken as is, anything else is looked up as
    /// a slug.
    async fn colony_id(&self, colony: &str) -> Result<uuid::Uuid> {
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
            .find(|c| c.name() == colony)
            .map(|c| c.0.id)
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
            let out = self
                .client
                .call(self.client.t().search(
                    self.author_type.as_ref().map(UserType::as_str),
                    colony.as_ref(),
                    colony_id.as_ref(),
                    None,
                    Some(limit("limit", self.limit)?),
                    None,
                    Some(offset_arg(self.offset)?),
                    None,
                    self.post_type.as_ref().map(PostType::as_str),
                    &q,
                    sort.as_ref(),
                    None,
                ))
                .await?;
            Ok(SearchResults {
                total: u64::try_from(out.total).unwrap_or_default(),
                has_more: out.has_more,
                posts: out.items.into_iter().map(Post).collect(),
                users: out.users.into_iter().map(User).collect(),
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
            let out = self
                .client
                .call(self.client.t().get_colonies(
                    Some(limit("limit", self.limit)?),
                    self.member_only,
                    self.name.as_deref(),
                    Some(offset_arg(self.offset)?),
                    None,
                ))
                .await?;
            Ok(out.into_iter().map(Colony).collect())
        })
    }
}
