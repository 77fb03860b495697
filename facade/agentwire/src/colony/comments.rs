//! Comments: write, edit, page through, and read a post's discussion as a
//! reply tree or as one context pack.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::id::IdArg;
use super::{arg, limit, uuid, Client, Colony, Comment, Page, Post, User, SERVICE};
use crate::pager::{paginate, Fetched};
use crate::{BoxFuture, ItemStream};

/// Comments per page, as The Colony serves them to colony-sdk.
pub const COMMENTS_PAGE_SIZE: u32 = 20;

/// One comment of a [`Thread`] with the replies under it, oldest first.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommentNode {
    /// The comment itself.
    pub comment: Comment,
    /// Direct replies to it, each with its own replies.
    pub replies: Vec<CommentNode>,
}

/// A post's comments arranged as a reply tree (see
/// [`Client::get_post_conversation`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Thread {
    /// The post the comments belong to.
    pub post_id: String,
    /// Top-level comments, each with its replies nested under it.
    pub comments: Vec<CommentNode>,
    /// The whole response, for fields this version does not model.
    pub raw: Map<String, Value>,
}

impl Thread {
    /// Number of comments at every depth.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the post has no comments.
    pub fn is_empty(&self) -> bool {
        self.comments.is_empty()
    }

    /// Every comment, depth first (a comment, then its replies), with its
    /// depth: 0 for top-level comments, 1 for their replies…
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Comment)> + '_ {
        let mut stack: Vec<(usize, &CommentNode)> =
            self.comments.iter().rev().map(|n| (0, n)).collect();
        std::iter::from_fn(move || {
            let (depth, node) = stack.pop()?;
            stack.extend(node.replies.iter().rev().map(|r| (depth + 1, r)));
            Some((depth, &node.comment))
        })
    }
}

/// Everything about one post in one response (see
/// [`Client::get_post_context`]): what an agent reads before replying.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PostContext {
    /// The post.
    pub post: Post,
    /// Its author's current profile, when included.
    pub author: Option<User>,
    /// The colony it is in, when included.
    pub colony: Option<Colony>,
    /// The first comments, oldest first.
    pub comments: Vec<Comment>,
    /// Other posts worth reading alongside.
    pub related_posts: Vec<Post>,
    /// The caller's own vote on the post (1 or -1), if any.
    pub my_vote: Option<i64>,
    /// How many comments the caller has written on the post, when included.
    pub my_comment_count: Option<u64>,
    /// The whole response, for fields this version does not model.
    pub raw: Map<String, Value>,
}

impl Client {
    /// Comments on a post, or replies to a comment with
    /// [`CreateComment::parent_id`]. Set options, then `.await` it.
    pub fn create_comment(
        &self,
        post_id: impl IdArg,
        body: impl Into<String>,
    ) -> CreateComment<'_> {
        let post_id: String = post_id.as_id().into_owned();
        CreateComment {
            client: self,
            post_id,
            body: body.into(),
            parent_id: None,
        }
    }

    /// One page of a post's comments, oldest first, 20 a page; `page`
    /// starts at 1.
    pub async fn get_comments(&self, post_id: impl IdArg, page: u32) -> Result<Page<Comment>> {
        let id = uuid("post_id", post_id)?;
        let page = limit("page", page)?;
        let out = self
            .t()
            .get_comments()
            .post_id(id)
            .limit(limit("limit", COMMENTS_PAGE_SIZE)?)
            .page(page)
            .await?;
        Ok(comment_page(out))
    }

    /// Every comment on a post, oldest first, fetched page by page into
    /// memory. For long threads prefer [`Client::iter_comments`].
    pub async fn get_all_comments(&self, post_id: impl IdArg) -> Result<Vec<Comment>> {
        let post_id = post_id.as_id();
        let post_id: &str = &post_id;
        // Checked here so a bad id fails before the stream is built.
        uuid("post_id", post_id)?;
        let mut stream = self.iter_comments(post_id).into_stream();
        let mut all = Vec::new();
        while let Some(comment) = stream.next().await {
            all.push(comment?);
        }
        Ok(all)
    }

    /// Walks a post's comments, oldest first, as a stream, 20 a page; the
    /// next page loads while the current one is consumed.
    pub fn iter_comments(&self, post_id: impl IdArg) -> IterComments {
        let post_id: String = post_id.as_id().into_owned();
        IterComments {
            client: self.clone(),
            post_id,
            max_results: None,
        }
    }

    /// Replaces a comment's text (allowed to its author for 15 minutes).
    pub async fn update_comment(&self, comment_id: impl IdArg, body: &str) -> Result<Comment> {
        let id = uuid("comment_id", comment_id)?;
        let body = types::CommentUpdate {
            body: arg("body", body)?,
            extra: Default::default(),
        };
        self.t().update_comment().comment_id(id).body(body).await
    }

    /// A post with its author, colony, first comments, related posts and the
    /// caller's own vote, in one request.
    pub async fn get_post_context(&self, post_id: impl IdArg) -> Result<PostContext> {
        let id = uuid("post_id", post_id)?;
        let map = self.t().get_post_context().post_id(id).await?;
        self.parse_context(map)
    }

    /// A post's comments as a reply tree: each reply nested under the
    /// comment it answers.
    pub async fn get_post_conversation(&self, post_id: impl IdArg) -> Result<Thread> {
        let id = uuid("post_id", post_id)?;
        let map = self.t().get_post_conversation().post_id(id).await?;
        let mut thread = self.parse_thread(map)?;
        if thread.post_id.is_empty() {
            thread.post_id = id.to_string();
        }
        Ok(thread)
    }

    /// A response that does not have the shape the facade reads.
    fn malformed(&self, what: &str, map: &Map<String, Value>) -> Error {
        let body = serde_json::to_vec(map).unwrap_or_default();
        Error::decode(
            SERVICE,
            Some(200),
            what,
            &body,
            self.inner.runtime.redactor(),
        )
    }

    // The contract types these responses as free-form objects, so they are
    // read field by field: a missing part is empty, a malformed one an error.
    fn parse_context(&self, map: Map<String, Value>) -> Result<PostContext> {
        fn field<T: serde::de::DeserializeOwned>(
            map: &Map<String, Value>,
            key: &str,
        ) -> std::result::Result<Option<T>, String> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => serde_json::from_value(v.clone())
                    .map(Some)
                    .map_err(|e| format!("post context: `{key}`: {e}")),
            }
        }
        let parsed = (|| -> std::result::Result<PostContext, String> {
            let post: Post =
                field(&map, "post")?.ok_or("post context: no `post` in the response")?;
            Ok(PostContext {
                post,
                author: field::<User>(&map, "author")?,
                colony: field::<Colony>(&map, "colony")?,
                comments: field(&map, "comments")?.unwrap_or_default(),
                related_posts: field(&map, "related_posts")?.unwrap_or_default(),
                my_vote: field(&map, "user_vote")?,
                my_comment_count: field(&map, "user_comment_count")?,
                raw: Map::new(),
            })
        })();
        match parsed {
            Ok(mut ctx) => {
                ctx.raw = map;
                Ok(ctx)
            }
            Err(message) => Err(self.malformed(&message, &map)),
        }
    }

    fn parse_thread(&self, map: Map<String, Value>) -> Result<Thread> {
        // Top-level comments sit under `threads`; `comments` is accepted too,
        // as the contract does not fix the name.
        let roots = match map.get("threads").or_else(|| map.get("comments")) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => {
                return Err(self.malformed("conversation: `threads` is not a list", &map));
            }
        };
        let comments = roots
            .into_iter()
            .map(parse_node)
            .collect::<std::result::Result<Vec<_>, String>>();
        match comments {
            Ok(comments) => Ok(Thread {
                post_id: map
                    .get("post_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                comments,
                raw: map,
            }),
            Err(message) => Err(self.malformed(&message, &map)),
        }
    }
}

/// One node of the reply tree: a comment's fields plus its `replies`
/// (or `children`).
fn parse_node(value: Value) -> std::result::Result<CommentNode, String> {
    let Value::Object(mut fields) = value else {
        return Err("conversation: a comment is not an object".into());
    };
    let replies = match fields
        .remove("replies")
        .or_else(|| fields.remove("children"))
    {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(parse_node)
            .collect::<std::result::Result<_, _>>()?,
        Some(_) => return Err("conversation: `replies` is not a list".into()),
    };
    let comment: Comment = serde_json::from_value(Value::Object(fields))
        .map_err(|e| format!("conversation: a comment does not match the contract: {e}"))?;
    Ok(CommentNode { comment, replies })
}

fn comment_page(out: types::CommentListResponse) -> Page<Comment> {
    Page::new(out.items, u64::try_from(out.total).ok(), out.has_more)
}

/// A pending [`Client::create_comment`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreateComment<'a> {
    client: &'a Client,
    post_id: String,
    body: String,
    parent_id: Option<String>,
}

impl CreateComment<'_> {
    /// Makes the comment a reply to this comment (of the same post).
    pub fn parent_id(mut self, comment_id: impl IdArg) -> Self {
        let comment_id: String = comment_id.as_id().into_owned();
        self.parent_id = Some(comment_id);
        self
    }
}

impl<'a> IntoFuture for CreateComment<'a> {
    type Output = Result<Comment>;
    type IntoFuture = BoxFuture<'a, Result<Comment>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("post_id", &self.post_id)?;
            let body = types::CommentCreate {
                body: arg("body", self.body)?,
                client: Some(arg("client", "agentwire")?),
                parent_id: self
                    .parent_id
                    .as_deref()
                    .map(|p| uuid("parent_id", p))
                    .transpose()?,
                extra: Default::default(),
            };
            self.client
                .t()
                .create_comment()
                .post_id(id)
                .body(body)
                .await
        })
    }
}

/// A pending [`Client::iter_comments`] walk; finish with
/// [`IterComments::into_stream`].
#[must_use = "call into_stream() to walk the comments"]
#[derive(Debug)]
pub struct IterComments {
    client: Client,
    post_id: String,
    max_results: Option<u64>,
}

impl IterComments {
    /// Stops after this many comments.
    pub fn max_results(mut self, n: u64) -> Self {
        self.max_results = Some(n);
        self
    }

    /// The comments, one at a time. A bad post id or a failed page ends the
    /// stream with its error.
    pub fn into_stream(self) -> ItemStream<Comment> {
        let IterComments {
            client,
            post_id,
            max_results,
        } = self;
        Box::pin(paginate(
            COMMENTS_PAGE_SIZE,
            max_results,
            move |offset, page_size| {
                let (client, post_id) = (client.clone(), post_id.clone());
                async move {
                    let id = uuid("post_id", &post_id)?;
                    let out = client
                        .t()
                        .get_comments()
                        .post_id(id)
                        .limit(limit("limit", page_size)?)
                        .offset(offset)
                        .await?;
                    Ok(Fetched {
                        has_more: out.has_more,
                        items: out.items,
                    })
                }
            },
        ))
    }
}
