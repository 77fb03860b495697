//! Walks over the listings colony-sdk 1.38 offers as iterators: echoes,
//! wiki pages, direct conversations, notifications, follows and a user's
//! comments, each as a lazy stream.
//!
//! The service pages these routes in two ways, and each walk follows the
//! rule colony-sdk applies to its route:
//!
//! - wrapped pages (`{items, total, has_more}`): the offset advances by the
//!   rows received and the walk ends when `has_more` is false or a page is
//!   empty (echoes, wiki pages, follows, a user's comments);
//! - bare arrays (conversations, notifications), which carry no `has_more`:
//!   the offset advances by the page size and the walk ends on a short page.
//!   These lists are newest first, so a row arriving mid-walk pushes an
//!   already-seen row onto the next page: rows are de-duplicated by `id`,
//!   and a full page made only of rows already seen ends the walk with an
//!   error, since it means the service is not honouring `offset`.

use std::collections::{HashSet, VecDeque};
use std::future::Future;

use agentwire_colony_transport::types;
use agentwire_runtime::{ApiError, Error, Result};

use super::{arg, limit, Client, Comment, Conversation, Notification, User, SERVICE};
use crate::pager::{paginate, Fetched};
use crate::ItemStream;

/// Largest page of the bare-array listings (conversations, notifications);
/// the service refuses more (422) rather than shortening the page.
const MAX_ROWS_PAGE: u32 = 100;
/// Largest page of the wiki listing.
const MAX_WIKI_PAGE: u32 = 200;
/// Largest page of the echo listing.
const MAX_ECHO_PAGE: u32 = 100;
/// Page size of the follow and user-comment walks, as colony-sdk sends it.
const FIXED_PAGE: u32 = 100;

impl Client {
    /// Walks the recent echoes (posts re-shared with a commentary), newest
    /// first, 30 per request by default.
    pub fn iter_echoes(&self) -> IterEchoes {
        IterEchoes {
            client: self.clone(),
            page_size: 30,
            max_results: None,
        }
    }

    /// Walks the wiki's pages (summaries, without their content), in title
    /// order, 50 per request by default; filter on the returned walk.
    pub fn iter_wiki_pages(&self) -> IterWikiPages {
        IterWikiPages {
            client: self.clone(),
            category: None,
            query: None,
            colony: None,
            page_size: 50,
            max_results: None,
        }
    }

    /// Walks the caller's direct conversations, most recent first, 50 per
    /// request by default. Each conversation is yielded once, even when new
    /// messages reorder the list during the walk.
    pub fn iter_conversations(&self) -> IterConversations {
        IterConversations {
            client: self.clone(),
            include_archived: false,
            page_size: 50,
            max_results: None,
        }
    }

    /// Walks the caller's notifications, newest first, 50 per request by
    /// default. Each notification is yielded once, even when new ones arrive
    /// during the walk. Marking notifications read while walking
    /// [`unread_only`](IterNotifications::unread_only) shifts the later pages,
    /// so some unread ones are then skipped.
    pub fn iter_notifications(&self) -> IterNotifications {
        IterNotifications {
            client: self.clone(),
            unread_only: false,
            page_size: 50,
            max_results: None,
        }
    }

    /// Walks the accounts the caller follows, 100 per request.
    pub fn iter_my_following(&self) -> IterFollows {
        IterFollows {
            client: self.clone(),
            followers: false,
            max_results: None,
        }
    }

    /// Walks the accounts that follow the caller, 100 per request.
    pub fn iter_my_followers(&self) -> IterFollows {
        IterFollows {
            client: self.clone(),
            followers: true,
            max_results: None,
        }
    }

    /// Walks one user's comments, newest first, 100 per request. Name the
    /// user with exactly one of [`IterUserComments::username`] or
    /// [`IterUserComments::user_id`].
    pub fn iter_user_comments(&self) -> IterUserComments {
        IterUserComments {
            client: self.clone(),
            username: None,
            user_id: None,
            max_results: None,
        }
    }
}

fn offset_of(offset: u64) -> Result<i64> {
    i64::try_from(offset).map_err(|_| Error::InvalidArgument {
        name: "offset",
        message: "too large".into(),
    })
}

/// A page size within `1..=max`, named after the argument colony-sdk uses.
fn page_size(n: u32, max: u32) -> Result<u32> {
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(Error::InvalidArgument {
            name: "page_size",
            message: format!("must be between 1 and {max}"),
        })
    }
}

/// A stream that fails at once with `error`, for walks refused before any
/// request.
fn failed<T: Send + 'static>(error: Error) -> ItemStream<T> {
    Box::pin(futures_util::stream::once(async move { Err(error) }))
}

/// A pending [`Client::iter_echoes`] walk; finish with
/// [`IterEchoes::into_stream`].
#[must_use = "call into_stream() to walk the echoes"]
#[derive(Debug)]
pub struct IterEchoes {
    client: Client,
    page_size: u32,
    max_results: Option<u64>,
}

impl IterEchoes {
    /// Echoes fetched per request (1–100, default 30).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Stops after this many echoes.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The echoes, one at a time. A failed page ends the stream with its
    /// error.
    pub fn into_stream(self) -> ItemStream<types::EchoOut> {
        let size = match page_size(self.page_size, MAX_ECHO_PAGE) {
            Ok(n) => n,
            Err(e) => return failed(e),
        };
        let client = self.client;
        Box::pin(paginate(size, self.max_results, move |offset, n| {
            let client = client.clone();
            async move {
                let page = client
                    .t()
                    .get_echoes()
                    .limit(limit("page_size", n)?)
                    .offset(offset_of(offset)?)
                    .await?;
                Ok(Fetched {
                    items: page.items,
                    has_more: page.has_more,
                })
            }
        }))
    }
}

/// A pending [`Client::iter_wiki_pages`] walk; finish with
/// [`IterWikiPages::into_stream`].
#[must_use = "call into_stream() to walk the wiki"]
#[derive(Debug)]
pub struct IterWikiPages {
    client: Client,
    category: Option<String>,
    query: Option<String>,
    colony: Option<String>,
    page_size: u32,
    max_results: Option<u64>,
}

impl IterWikiPages {
    /// Only pages of this category (exact match).
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Only pages whose title or content contains this text (2–200
    /// characters; sent as `q`).
    pub fn query(mut self, text: impl Into<String>) -> Self {
        self.query = Some(text.into());
        self
    }

    /// Only pages of this colony, by its name (sent as the name: the wiki
    /// route takes names, not ids).
    pub fn colony(mut self, name: impl Into<String>) -> Self {
        self.colony = Some(name.into());
        self
    }

    /// Pages fetched per request (1–200, default 50).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Stops after this many pages.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The page summaries, one at a time. A failed request ends the stream
    /// with its error.
    pub fn into_stream(self) -> ItemStream<types::WikiPageListItem> {
        let size = match page_size(self.page_size, MAX_WIKI_PAGE) {
            Ok(n) => n,
            Err(e) => return failed(e),
        };
        if let Some(colony) = &self.colony {
            if colony.trim().is_empty() {
                return failed(Error::InvalidArgument {
                    name: "colony",
                    message: "is blank".into(),
                });
            }
        }
        let IterWikiPages {
            client,
            category,
            query,
            colony,
            max_results,
            ..
        } = self;
        Box::pin(paginate(size, max_results, move |offset, n| {
            let (client, category, query, colony) = (
                client.clone(),
                category.clone(),
                query.clone(),
                colony.clone(),
            );
            async move {
                let mut request = client
                    .t()
                    .get_wiki_pages()
                    .limit(limit("page_size", n)?)
                    .offset(offset_of(offset)?);
                if let Some(category) = category {
                    request = request.category(category);
                }
                if let Some(q) = query {
                    request = request.q(arg::<types::GetWikiPagesQ>("query", q)?);
                }
                if let Some(colony) = colony {
                    request = request.colony(arg::<types::GetWikiPagesColony>("colony", colony)?);
                }
                let page = request.await?;
                Ok(Fetched {
                    items: page.items,
                    has_more: page.has_more,
                })
            }
        }))
    }
}

/// A pending [`Client::iter_conversations`] walk; finish with
/// [`IterConversations::into_stream`].
#[must_use = "call into_stream() to walk the conversations"]
#[derive(Debug)]
pub struct IterConversations {
    client: Client,
    include_archived: bool,
    page_size: u32,
    max_results: Option<u64>,
}

impl IterConversations {
    /// Includes archived conversations (default: left out).
    pub fn include_archived(mut self, yes: bool) -> Self {
        self.include_archived = yes;
        self
    }

    /// Conversations fetched per request (1–100, default 50).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Stops after this many conversations.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The conversations, one at a time. A failed request, or a full page
    /// of conversations already yielded, ends the stream with an error.
    pub fn into_stream(self) -> ItemStream<Conversation> {
        let size = match page_size(self.page_size, MAX_ROWS_PAGE) {
            Ok(n) => n,
            Err(e) => return failed(e),
        };
        let (client, archived) = (self.client, self.include_archived);
        walk_rows(
            size,
            self.max_results,
            |c: &Conversation| c.id,
            move |offset, n| {
                let client = client.clone();
                async move {
                    let request = client
                        .t()
                        .list_conversations()
                        .limit(limit("page_size", n)?)
                        .offset(offset_of(offset)?);
                    // Absent means left out, as colony-sdk sends it.
                    if archived {
                        request.include_archived(true).await
                    } else {
                        request.await
                    }
                }
            },
        )
    }
}

/// A pending [`Client::iter_notifications`] walk; finish with
/// [`IterNotifications::into_stream`].
#[must_use = "call into_stream() to walk the notifications"]
#[derive(Debug)]
pub struct IterNotifications {
    client: Client,
    unread_only: bool,
    page_size: u32,
    max_results: Option<u64>,
}

impl IterNotifications {
    /// Only notifications not yet read (default: all).
    pub fn unread_only(mut self, yes: bool) -> Self {
        self.unread_only = yes;
        self
    }

    /// Notifications fetched per request (1–100, default 50).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Stops after this many notifications.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The notifications, one at a time. A failed request, or a full page
    /// of notifications already yielded, ends the stream with an error.
    pub fn into_stream(self) -> ItemStream<Notification> {
        let size = match page_size(self.page_size, MAX_ROWS_PAGE) {
            Ok(n) => n,
            Err(e) => return failed(e),
        };
        let (client, unread_only) = (self.client, self.unread_only);
        walk_rows(
            size,
            self.max_results,
            |n: &Notification| n.id,
            move |offset, n| {
                let client = client.clone();
                async move {
                    let request = client
                        .t()
                        .get_notifications()
                        .limit(limit("page_size", n)?)
                        .offset(offset_of(offset)?);
                    if unread_only {
                        request.unread_only(true).await
                    } else {
                        request.await
                    }
                }
            },
        )
    }
}

/// A pending [`Client::iter_my_following`] or [`Client::iter_my_followers`]
/// walk; finish with [`IterFollows::into_stream`].
#[must_use = "call into_stream() to walk the accounts"]
#[derive(Debug)]
pub struct IterFollows {
    client: Client,
    followers: bool,
    max_results: Option<u64>,
}

impl IterFollows {
    /// Stops after this many accounts.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The accounts, one at a time. A failed page ends the stream with its
    /// error.
    pub fn into_stream(self) -> ItemStream<User> {
        let (client, followers) = (self.client, self.followers);
        Box::pin(paginate(FIXED_PAGE, self.max_results, move |offset, n| {
            let client = client.clone();
            async move {
                let (n, offset) = (limit("limit", n)?, offset_of(offset)?);
                let page = if followers {
                    client
                        .t()
                        .get_my_followers()
                        .limit(n)
                        .offset(offset)
                        .await?
                } else {
                    client
                        .t()
                        .get_my_following()
                        .limit(n)
                        .offset(offset)
                        .await?
                };
                Ok(Fetched {
                    items: page.items,
                    has_more: page.has_more,
                })
            }
        }))
    }
}

/// A pending [`Client::iter_user_comments`] walk; finish with
/// [`IterUserComments::into_stream`].
#[must_use = "call into_stream() to walk the comments"]
#[derive(Debug)]
pub struct IterUserComments {
    client: Client,
    username: Option<String>,
    user_id: Option<String>,
    max_results: Option<u64>,
}

impl IterUserComments {
    /// The user, by username.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = Some(username.into());
        self
    }

    /// The user, by id (a full UUID).
    pub fn user_id(mut self, user_id: impl super::IdArg) -> Self {
        self.user_id = Some(user_id.as_id().into_owned());
        self
    }

    /// Stops after this many comments.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The comments, one at a time. Naming no user, or both a username and
    /// an id, fails before any request.
    pub fn into_stream(self) -> ItemStream<Comment> {
        #[derive(Clone)]
        enum Who {
            Name(String),
            Id(uuid::Uuid),
        }
        let who = match (self.username, self.user_id) {
            (Some(_), Some(_)) | (None, None) => {
                return failed(Error::InvalidArgument {
                    name: "user",
                    message: "name the user by exactly one of username or user_id".into(),
                })
            }
            (Some(name), None) if name.trim().is_empty() => {
                return failed(Error::InvalidArgument {
                    name: "username",
                    message: "is empty".into(),
                })
            }
            (Some(name), None) => Who::Name(name),
            (None, Some(id)) => match super::uuid("user_id", id.as_str()) {
                Ok(id) => Who::Id(id),
                Err(e) => return failed(e),
            },
        };
        let client = self.client;
        Box::pin(paginate(FIXED_PAGE, self.max_results, move |offset, n| {
            let (client, who) = (client.clone(), who.clone());
            async move {
                let (n, offset) = (limit("limit", n)?, offset_of(offset)?);
                let page = match who {
                    Who::Name(name) => {
                        client
                            .t()
                            .list_user_comments_by_username()
                            .username(name)
                            .limit(n)
                            .offset(offset)
                            .await?
                    }
                    Who::Id(id) => {
                        client
                            .t()
                            .get_user_comments()
                            .user_id(arg::<types::GetUserCommentsUserId>(
                                "user_id",
                                id.to_string(),
                            )?)
                            .limit(n)
                            .offset(offset)
                            .await?
                    }
                };
                Ok(Fetched {
                    items: page.items,
                    has_more: page.has_more,
                })
            }
        }))
    }
}

/// Walks a newest-first listing served as bare arrays: `fetch(offset,
/// limit)` loads one page, the offset grows by the page size, rows already
/// yielded (by `id_of`) are dropped, and the walk ends on a short page or
/// after `max_results` rows.
fn walk_rows<T, F, Fut>(
    page_size: u32,
    max_results: Option<u64>,
    id_of: fn(&T) -> uuid::Uuid,
    fetch: F,
) -> ItemStream<T>
where
    T: Send + 'static,
    F: Fn(u64, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<T>>> + Send + 'static,
{
    struct Walk<T, F> {
        fetch: F,
        page_size: u32,
        remaining: Option<u64>,
        offset: u64,
        seen: HashSet<uuid::Uuid>,
        buffer: VecDeque<T>,
        done: bool,
    }
    let walk = Walk {
        fetch,
        page_size,
        remaining: max_results,
        offset: 0,
        seen: HashSet::new(),
        buffer: VecDeque::new(),
        done: false,
    };
    Box::pin(futures_util::stream::unfold(
        walk,
        move |mut w| async move {
            loop {
                if w.remaining == Some(0) {
                    return None;
                }
                if let Some(row) = w.buffer.pop_front() {
                    if let Some(r) = w.remaining.as_mut() {
                        *r -= 1;
                    }
                    return Some((Ok(row), w));
                }
                if w.done {
                    return None;
                }
                let rows = match (w.fetch)(w.offset, w.page_size).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        w.done = true;
                        return Some((Err(e), w));
                    }
                };
                let full = rows.len() >= w.page_size as usize;
                let fresh: VecDeque<T> = rows
                    .into_iter()
                    .filter(|row| w.seen.insert(id_of(row)))
                    .collect();
                if full && fresh.is_empty() {
                    w.done = true;
                    return Some((
                        Err(Error::Api(ApiError::new(
                            SERVICE,
                            200,
                            format!(
                                "the page at offset {} repeats rows already seen: \
                             the service is not honouring `offset`",
                                w.offset
                            ),
                        ))),
                        w,
                    ));
                }
                w.done = !full;
                w.offset += u64::from(w.page_size);
                w.buffer = fresh;
            }
        },
    ))
}
