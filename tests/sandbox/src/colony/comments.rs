//! Comments on posts: flat pages, the reply tree, the context pack, edits.
//! Writing one notifies the post's author, the parent comment's author and
//! anyone @mentioned.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::notifications::{notify, Event};
use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::{bounded, ApiError, FastJson, FastQuery};
use crate::Shared;

/// How long after writing the author may still edit.
const EDIT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// Comments of the context pack.
const CONTEXT_COMMENTS: usize = 20;

/// Other posts of the context pack.
const CONTEXT_RELATED: usize = 5;

/// Every comment, in creation order.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) comments: HashMap<Uuid, types::Comment>,
    order: Vec<Uuid>,
}

impl Data {
    pub(crate) fn comment(&self, id: &Uuid) -> ColonyResult<&types::Comment> {
        self.comments
            .get(id)
            .ok_or_else(|| ColonyError::not_found("comment"))
    }

    pub(crate) fn comment_mut(&mut self, id: &Uuid) -> ColonyResult<&mut types::Comment> {
        self.comments
            .get_mut(id)
            .ok_or_else(|| ColonyError::not_found("comment"))
    }

    /// A post's comments, oldest first.
    pub(crate) fn of_post(&self, post_id: Uuid) -> Vec<&types::Comment> {
        self.order
            .iter()
            .filter_map(|id| self.comments.get(id))
            .filter(|c| c.post_id == post_id)
            .collect()
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/posts/{post_id}/comments", get(list).post(create))
        .route("/api/v1/posts/{post_id}/context", get(context))
        .route("/api/v1/posts/{post_id}/conversation", get(conversation))
        .route("/api/v1/comments/{comment_id}", put(update))
}

fn id_of(raw: &str, what: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found(what))
}

/// Usernames written as `@name` in a text.
fn mentions(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        rest = &rest[at + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

async fn create(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(post_id): Path<String>,
    FastJson(body): FastJson<types::CommentCreate>,
) -> ColonyResult<(StatusCode, Json<types::Comment>)> {
    let post_id = id_of(&post_id, "post")?;
    let mut data = shared.colony.lock();
    let post = data.posts.post(&post_id)?.clone();
    let author = data.user(&caller.0)?.clone();
    let parent_author = match body.parent_id {
        None => None,
        Some(parent) => {
            let parent = data.comments.comment(&parent)?;
            if parent.post_id != post_id {
                return Err(ColonyError::bad_request(
                    "PARENT_NOT_IN_POST",
                    "the parent comment belongs to another post",
                ));
            }
            Some(parent.author.id)
        }
    };
    let now = Utc::now();
    let text = body.body.to_string();
    let comment = types::Comment {
        extra: Default::default(),
        author,
        body: text.clone(),
        client: body.client.map(|c| c.to_string()),
        cognition: None,
        content_warnings: Vec::new(),
        created_at: now,
        held: false,
        held_explanation: None,
        id: Uuid::new_v4(),
        notarised_at: None,
        parent_id: body.parent_id,
        post_id,
        safe_text: Some(text.clone()),
        score: 0,
        source: "api".into(),
        updated_at: now,
    };
    data.comments.order.push(comment.id);
    data.comments.comments.insert(comment.id, comment.clone());
    let stored = data.posts.post_mut(&post_id)?;
    stored.comment_count += 1;
    stored.last_comment_at = Some(now);

    // Each account hears about a comment once, by its most specific reason.
    let by = &comment.author.username;
    let mut told: HashSet<Uuid> = HashSet::from([caller.0]);
    if let Some(parent_author) = parent_author {
        told.insert(parent_author);
        notify(
            &mut data,
            Event {
                recipient: parent_author,
                actor: caller.0,
                kind: "reply",
                message: format!("{by} replied to your comment on \"{}\"", post.title),
                post_id: Some(post_id),
                comment_id: Some(comment.id),
            },
        );
    }
    if told.insert(post.author.id) {
        notify(
            &mut data,
            Event {
                recipient: post.author.id,
                actor: caller.0,
                kind: "comment",
                message: format!("{by} commented on your post \"{}\"", post.title),
                post_id: Some(post_id),
                comment_id: Some(comment.id),
            },
        );
    }
    for name in mentions(&text) {
        let Some(user) = data.by_username.get(&name).copied() else {
            continue;
        };
        if told.insert(user) {
            notify(
                &mut data,
                Event {
                    recipient: user,
                    actor: caller.0,
                    kind: "mention",
                    message: format!("{by} mentioned you on \"{}\"", post.title),
                    post_id: Some(post_id),
                    comment_id: Some(comment.id),
                },
            );
        }
    }
    Ok((StatusCode::CREATED, Json(comment)))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    page: Option<i64>,
    offset: Option<usize>,
    limit: Option<i64>,
    sort: Option<String>,
}

async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    Path(post_id): Path<String>,
    FastQuery(query): FastQuery<ListQuery>,
) -> ColonyResult<Json<types::CommentListResponse>> {
    let limit = bounded("limit", query.limit, 20, 1, 100)?;
    let page = bounded("page", query.page, 1, 1, i64::MAX)?;
    // An explicit offset wins over page.
    let offset = query.offset.unwrap_or((page - 1) * limit);
    let post_id = id_of(&post_id, "post")?;
    let data = shared.colony.lock();
    data.posts.post(&post_id)?;
    let mut all = data.comments.of_post(post_id);
    match query.sort.as_deref() {
        None | Some("oldest") => {}
        Some("newest") => all.reverse(),
        Some("best") | Some("top") => all.sort_by_key(|c| std::cmp::Reverse(c.score)),
        Some(_) => {
            return Err(ApiError::query_pattern("sort", "^(oldest|newest|best|top)$").into())
        }
    }
    let total = all.len();
    let items: Vec<types::Comment> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|c| types::Comment {
            // Lists leave out the markup-free copy.
            safe_text: None,
            ..c.clone()
        })
        .collect();
    Ok(Json(types::CommentListResponse {
        extra: Default::default(),
        has_more: offset + items.len() < total,
        items,
        page: (offset / limit + 1) as i64,
        total: total as i64,
    }))
}

async fn update(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(comment_id): Path<String>,
    FastJson(body): FastJson<types::CommentUpdate>,
) -> ColonyResult<Json<types::Comment>> {
    let id = id_of(&comment_id, "comment")?;
    let mut data = shared.colony.lock();
    let comment = data.comments.comment_mut(&id)?;
    if comment.author.id != caller.0 {
        return Err(ColonyError::forbidden("only the author may edit a comment"));
    }
    // Frozen for good once notarised, as a post (see posts.rs).
    if comment.notarised_at.is_some() {
        return Err(ColonyError::conflict(
            "CONFLICT",
            "this comment is notarised: it can never be edited again",
        ));
    }
    if Utc::now() - comment.created_at > EDIT_WINDOW {
        return Err(ColonyError::forbidden(
            "comments can only be edited for 15 minutes",
        ));
    }
    comment.body = body.body.to_string();
    comment.safe_text = Some(comment.body.clone());
    comment.updated_at = Utc::now();
    Ok(Json(comment.clone()))
}

/// The post, its author and colony, the first comments, a few other posts
/// of the colony, and what the caller did on the post.
async fn context(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(post_id): Path<String>,
) -> ColonyResult<Json<Map<String, Value>>> {
    let post_id = id_of(&post_id, "post")?;
    let data = shared.colony.lock();
    let post = data.posts.post(&post_id)?;
    let author = data.user(&post.author.id).ok();
    let colony = data
        .posts
        .colonies
        .iter()
        .find(|c| Some(c.id) == post.colony_id);
    let comments = data.comments.of_post(post_id);
    let mine = comments.iter().filter(|c| c.author.id == caller.0).count();
    let related: Vec<&types::Post> = data
        .posts
        .order
        .iter()
        .rev()
        .filter_map(|id| data.posts.posts.get(id))
        .filter(|p| p.id != post_id && p.colony_id == post.colony_id)
        .take(CONTEXT_RELATED)
        .collect();
    let vote = data.social.post_vote(post_id, caller.0);
    let out = json!({
        "post": post,
        "author": author,
        "colony": colony,
        "comments": comments.iter().take(CONTEXT_COMMENTS).collect::<Vec<_>>(),
        "comment_count": comments.len(),
        "related_posts": related,
        "user_vote": vote,
        "user_comment_count": mine,
    });
    match out {
        Value::Object(map) => Ok(Json(map)),
        _ => Err(ColonyError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "context is not an object",
        )),
    }
}

/// The comments as a tree: top-level comments under `threads`, each with
/// its `replies`, oldest first at every level.
async fn conversation(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    Path(post_id): Path<String>,
) -> ColonyResult<Json<Map<String, Value>>> {
    let post_id = id_of(&post_id, "post")?;
    let data = shared.colony.lock();
    data.posts.post(&post_id)?;
    let comments = data.comments.of_post(post_id);
    let mut children: HashMap<Option<Uuid>, Vec<&types::Comment>> = HashMap::new();
    for c in &comments {
        // A reply whose parent vanished is shown at the top level.
        let parent = c
            .parent_id
            .filter(|p| data.comments.comments.contains_key(p));
        children.entry(parent).or_default().push(c);
    }
    fn node(
        comment: &types::Comment,
        children: &HashMap<Option<Uuid>, Vec<&types::Comment>>,
    ) -> Value {
        let mut value = serde_json::to_value(comment).unwrap_or(Value::Null);
        let replies: Vec<Value> = children
            .get(&Some(comment.id))
            .map(|r| r.iter().map(|c| node(c, children)).collect())
            .unwrap_or_default();
        if let Value::Object(fields) = &mut value {
            fields.insert("replies".into(), Value::Array(replies));
        }
        value
    }
    let threads: Vec<Value> = children
        .get(&None)
        .map(|roots| roots.iter().map(|c| node(c, &children)).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    out.insert("post_id".into(), Value::from(post_id.to_string()));
    out.insert("comment_count".into(), Value::from(comments.len()));
    out.insert("threads".into(), Value::Array(threads));
    Ok(Json(out))
}
