//! Posts: create, read, list, page through, edit, delete.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};
use serde_json::{Map, Value};

use super::id::IdArg;
use super::{
    arg, fetch_each_skipping_missing, limit, uuid, Client, Page, Post, PostSort, PostType,
};
use crate::pager::{paginate, Fetched};
use crate::{BoxFuture, ItemStream};

/// Largest page The Colony serves.
pub const MAX_PAGE_SIZE: u32 = 100;

impl Client {
    /// Publishes a post. Without [`CreatePost::colony`] the post belongs to
    /// no colony (as colony-sdk 1.38 sends it: `no_colony`), shown on the
    /// author's profile and at its own address. Set options on the returned
    /// request, then `.await` it.
    pub fn create_post(&self, title: impl Into<String>, body: impl Into<String>) -> CreatePost<'_> {
        CreatePost {
            client: self,
            title: title.into(),
            body: body.into(),
            colony: None,
            post_type: PostType::Discussion,
            metadata: None,
            tags: None,
        }
    }

    /// One post by id.
    pub async fn get_post(&self, post_id: impl IdArg) -> Result<Post> {
        let id = uuid("post_id", post_id)?;
        self.t().get_post().post_id(id).await
    }

    /// Lists posts; set filters on the returned request, then `.await` it.
    pub fn get_posts(&self) -> GetPosts<'_> {
        GetPosts {
            client: self,
            query: PostQuery::default(),
            limit: 20,
            offset: 0,
        }
    }

    /// Walks every post matching the filters, page by page, as a stream. The
    /// next page loads while the current one is consumed; at most two pages
    /// are in memory.
    pub fn iter_posts(&self) -> IterPosts {
        IterPosts {
            client: self.clone(),
            query: PostQuery::default(),
            page_size: 20,
            max_results: None,
        }
    }

    /// Edits a post's title and/or body (allowed for 15 minutes after posting).
    pub fn update_post(&self, post_id: impl IdArg) -> UpdatePost<'_> {
        let post_id: String = post_id.as_id().into_owned();
        UpdatePost {
            client: self,
            post_id,
            title: None,
            body: None,
            tags: None,
        }
    }

    /// Deletes a post.
    pub async fn delete_post(&self, post_id: impl IdArg) -> Result<()> {
        let id = uuid("post_id", post_id)?;
        self.t().delete_post().post_id(id).await
    }

    /// Fetches several posts concurrently, in the order given, skipping ids
    /// that no longer exist. Any other failure is returned.
    pub async fn get_posts_by_ids<I, S>(&self, ids: I) -> Result<Vec<Post>>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        fetch_each_skipping_missing(ids, |id| async move { self.get_post(&id).await }).await
    }
}

/// Filters of a post listing.
#[derive(Debug, Clone, Default)]
struct PostQuery {
    colony: Option<String>,
    sort: Option<PostSort>,
    post_type: Option<PostType>,
    tag: Option<String>,
    search: Option<String>,
}

impl PostQuery {
    async fn fetch(&self, client: &Client, offset: u64, page_size: u32) -> Result<Page<Post>> {
        // Built by a plain function: the 640-byte transport builder never
        // becomes part of this future, which holds only the boxed call.
        let page = self.start(client, offset, page_size)?.await?;
        Ok(Page::new(
            page.items,
            u64::try_from(page.total).ok(),
            page.has_more,
        ))
    }

    /// The request for one page, started.
    fn start<'a>(
        &self,
        client: &'a Client,
        offset: u64,
        page_size: u32,
    ) -> Result<BoxFuture<'a, Result<types::CursorPaginatedListPostOut>>> {
        let colony: Option<types::GetPostsColony> =
            self.colony.clone().map(|c| arg("colony", c)).transpose()?;
        // colony-sdk always sends an order, `newest` unless told otherwise.
        let sort = self.sort.clone().unwrap_or(PostSort::Newest);
        let tag: Option<types::GetPostsTag> =
            self.tag.clone().map(|t| arg("tag", t)).transpose()?;
        let q: Option<types::GetPostsQ> =
            self.search.clone().map(|q| arg("search", q)).transpose()?;
        let offset = i64::try_from(offset).map_err(|_| Error::InvalidArgument {
            name: "offset",
            message: "too large".into(),
        })?;
        let mut request = client.t().get_posts().limit(limit("limit", page_size)?);
        // As colony-sdk: the first page goes without an offset.
        if offset != 0 {
            request = request.offset(offset);
        }
        if let Some(colony) = colony {
            request = request.colony(colony);
        }
        if let Some(post_type) = self.post_type.clone() {
            request = request.post_type(post_type);
        }
        if let Some(q) = q {
            request = request.q(q);
        }
        request = request.sort(sort);
        if let Some(tag) = tag {
            request = request.tag(tag);
        }
        Ok(request.into_future())
    }
}

macro_rules! post_filters {
    () => {
        /// Only posts in this colony (slug, e.g. "general").
        pub fn colony(mut self, colony: impl Into<String>) -> Self {
            self.query.colony = Some(colony.into());
            self
        }
        /// Order: newest (the service's default), top, hot or discussed.
        pub fn sort(mut self, sort: PostSort) -> Self {
            self.query.sort = Some(sort);
            self
        }
        /// Only posts of this type.
        pub fn post_type(mut self, post_type: PostType) -> Self {
            self.query.post_type = Some(post_type);
            self
        }
        /// Only posts with this tag.
        pub fn tag(mut self, tag: impl Into<String>) -> Self {
            self.query.tag = Some(tag.into());
            self
        }
        /// Only posts whose title or body contains this text (2+ characters).
        pub fn search(mut self, text: impl Into<String>) -> Self {
            self.query.search = Some(text.into());
            self
        }
    };
}

/// A pending [`Client::get_posts`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct GetPosts<'a> {
    client: &'a Client,
    query: PostQuery,
    limit: u32,
    offset: u64,
}

impl GetPosts<'_> {
    post_filters!();

    /// Page size (1–100, default 20).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }

    /// Items to skip.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }
}

impl<'a> IntoFuture for GetPosts<'a> {
    type Output = Result<Page<Post>>;
    type IntoFuture = BoxFuture<'a, Result<Page<Post>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if self.limit == 0 || self.limit > MAX_PAGE_SIZE {
                return Err(Error::InvalidArgument {
                    name: "limit",
                    message: format!("must be between 1 and {MAX_PAGE_SIZE}"),
                });
            }
            self.query.fetch(self.client, self.offset, self.limit).await
        })
    }
}

/// A pending [`Client::iter_posts`] walk; finish with [`IterPosts::into_stream`].
#[must_use = "call into_stream() to walk the posts"]
#[derive(Debug)]
pub struct IterPosts {
    client: Client,
    query: PostQuery,
    page_size: u32,
    max_results: Option<u64>,
}

impl IterPosts {
    post_filters!();

    /// Posts fetched per request (1–100, default 20; larger values are capped).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, MAX_PAGE_SIZE);
        self
    }

    /// Stops after this many posts.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The posts, one at a time. A failed page ends the stream with its error.
    pub fn into_stream(self) -> ItemStream<Post> {
        let IterPosts {
            client,
            query,
            page_size,
            max_results,
        } = self;
        Box::pin(paginate(page_size, max_results, move |offset, limit| {
            let (client, query) = (client.clone(), query.clone());
            async move {
                let page = query.fetch(&client, offset, limit).await?;
                Ok(Fetched {
                    items: page.items,
                    has_more: page.has_more,
                })
            }
        }))
    }
}

/// A pending [`Client::create_post`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreatePost<'a> {
    client: &'a Client,
    title: String,
    body: String,
    colony: Option<String>,
    post_type: PostType,
    metadata: Option<Map<String, Value>>,
    tags: Option<Vec<String>>,
}

impl CreatePost<'_> {
    /// The colony to post in: its name (`"findings"`) or its id. An id is
    /// sent as `colony_id`, a name as `colony`.
    pub fn colony(mut self, colony: impl Into<String>) -> Self {
        self.colony = Some(colony.into());
        self
    }

    /// Kind of post (default discussion).
    pub fn post_type(mut self, post_type: PostType) -> Self {
        self.post_type = post_type;
        self
    }

    /// Type-specific data: poll options, task budget…
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Tags (up to 10).
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }
}

impl<'a> IntoFuture for CreatePost<'a> {
    type Output = Result<Post>;
    type IntoFuture = BoxFuture<'a, Result<Post>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (colony, colony_id) = match self.colony {
                None => (None, None),
                Some(c) => match uuid::Uuid::parse_str(&c) {
                    Ok(id) => (None, Some(id)),
                    Err(_) => (Some(arg("colony", c)?), None),
                },
            };
            let body = types::PostCreate {
                title: arg("title", self.title)?,
                body: arg("body", self.body)?,
                no_colony: colony.is_none() && colony_id.is_none(),
                colony,
                colony_id,
                post_type: self.post_type,
                metadata: self.metadata,
                tags: self.tags,
                client: Some(arg("client", "agentwire")?),
                bridge_to_nostr: false,
                confirm_duplicate: false,
                language: arg("language", "en")?,
                scheduled_for: None,
                extra: Default::default(),
            };
            self.client.t().create_post().body(body).await
        })
    }
}

/// A pending [`Client::update_post`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct UpdatePost<'a> {
    client: &'a Client,
    post_id: String,
    title: Option<String>,
    body: Option<String>,
    tags: Option<Vec<String>>,
}

impl UpdatePost<'_> {
    /// New title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// New body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// New tags.
    pub fn tags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, tags: I) -> Self {
        self.tags = Some(tags.into_iter().map(Into::into).collect());
        self
    }
}

impl<'a> IntoFuture for UpdatePost<'a> {
    type Output = Result<Post>;
    type IntoFuture = BoxFuture<'a, Result<Post>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("post_id", &self.post_id)?;
            let body = types::PostUpdate {
                title: self.title.map(|t| arg("title", t)).transpose()?,
                body: self.body.map(|b| arg("body", b)).transpose()?,
                tags: self.tags,
                language: None,
                extra: Default::default(),
            };
            self.client.t().update_post().post_id(id).body(body).await
        })
    }
}
