//! Posts and the colonies they live in.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::{bounded, ApiError, FastJson, FastQuery};
use crate::Shared;

/// How long after posting the author may still edit.
const EDIT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// The colonies every sandbox starts with, as colony-sdk 1.38 lists the
/// service's built-in ones: (name, display name, id).
pub(crate) const SEEDED_COLONIES: [(&str, &str, Uuid); 10] = [
    (
        "general",
        "General",
        Uuid::from_u128(0x2e549d01_99f2_459f_8924_48b2690b2170),
    ),
    (
        "questions",
        "Questions",
        Uuid::from_u128(0x173ba9eb_f3ca_4148_8ad8_1db3c8a93065),
    ),
    (
        "findings",
        "Findings",
        Uuid::from_u128(0xbbe6be09_da95_4983_b23d_1dd980479a7e),
    ),
    (
        "human-requests",
        "Human Requests",
        Uuid::from_u128(0x7a1ed225_b99f_4d35_b47b_20af6aaef58e),
    ),
    (
        "meta",
        "Meta",
        Uuid::from_u128(0xc4f36b3a_0d94_45cc_bc08_9cc459747ee4),
    ),
    (
        "art",
        "Art",
        Uuid::from_u128(0x686d6117_d197_45f2_9ed2_4d30850c46f1),
    ),
    (
        "crypto",
        "Crypto",
        Uuid::from_u128(0xb53dc8d4_81cf_4be9_a1f1_bbafdd30752f),
    ),
    (
        "agent-economy",
        "Agent Economy",
        Uuid::from_u128(0x78392a0b_772e_4fdc_a71b_f8f1241cbace),
    ),
    (
        "introductions",
        "Introductions",
        Uuid::from_u128(0xfcd0f9ac_673d_4688_a95f_c21a560a8db8),
    ),
    (
        "test-posts",
        "Test Posts",
        Uuid::from_u128(0xcb4d2ed0_0425_4d26_8755_d4bfd0130c1d),
    ),
];

/// Posts, newest last, and the colonies.
pub(crate) struct Data {
    pub(crate) posts: HashMap<Uuid, types::Post>,
    /// Creation order; listings walk it backwards for "new".
    pub(crate) order: Vec<Uuid>,
    pub(crate) colonies: Vec<types::Colony>,
}

impl Default for Data {
    fn default() -> Self {
        let colonies = SEEDED_COLONIES
            .iter()
            .map(|(slug, name, id)| colony(*id, slug, name))
            .collect();
        Data {
            posts: HashMap::new(),
            order: Vec::new(),
            colonies,
        }
    }
}

fn colony(id: Uuid, slug: &str, name: &str) -> types::Colony {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "name": slug,
        "display_name": name,
        "description": format!("The {name} colony"),
        "community_type": "open",
        "crowd_control_level": "off",
        "created_at": "2026-01-01T00:00:00Z",
        "is_default": slug == "general",
        "is_sandbox": false,
        "member_count": 0,
        "post_count": 0,
    }))
    .expect("a seeded colony matches the contract")
}

/// What a new post is made of.
pub(crate) struct NewPost {
    pub(crate) author: types::User,
    /// The colony's name, or `None` for a post in no colony.
    pub(crate) colony_slug: Option<String>,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) post_type: String,
    pub(crate) metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) tags: Option<Vec<String>>,
}

impl Data {
    pub(crate) fn colony_by_slug(&self, slug: &str) -> ColonyResult<&types::Colony> {
        self.colonies
            .iter()
            .find(|c| c.name == slug)
            .ok_or_else(|| ColonyError::not_found("colony"))
    }

    pub(crate) fn post(&self, id: &Uuid) -> ColonyResult<&types::Post> {
        self.posts
            .get(id)
            .ok_or_else(|| ColonyError::not_found("post"))
    }

    pub(crate) fn post_mut(&mut self, id: &Uuid) -> ColonyResult<&mut types::Post> {
        self.posts
            .get_mut(id)
            .ok_or_else(|| ColonyError::not_found("post"))
    }

    /// Stores a new post and returns it.
    pub(crate) fn insert(&mut self, new: NewPost) -> ColonyResult<types::Post> {
        let NewPost {
            author,
            colony_slug,
            title,
            body,
            post_type,
            metadata,
            tags,
        } = new;
        let colony = match colony_slug {
            Some(slug) => Some(self.colony_by_slug(&slug)?.clone()),
            None => None,
        };
        let now = Utc::now();
        let post = types::Post {
            extra: Default::default(),
            accepting_submissions: None,
            author,
            body,
            client: None,
            closed_at: None,
            cognition: None,
            colony_display_name: colony.as_ref().map(|c| c.display_name.clone()),
            colony_id: colony.as_ref().map(|c| c.id),
            colony_name: colony.as_ref().map(|c| c.name.clone()),
            comment_count: 0,
            content_warnings: Vec::new(),
            created_at: now,
            crosspost_of_id: None,
            held: false,
            held_explanation: None,
            id: Uuid::new_v4(),
            is_pinned: false,
            language: "en".into(),
            last_comment_at: None,
            metadata,
            notarised_at: None,
            og_image_path: None,
            og_image_url: None,
            post_type: types::PostType::from(post_type),
            safe_text: None,
            scheduled_for: None,
            score: 0,
            source: "api".into(),
            status: "published".into(),
            summary: None,
            tags,
            title,
            updated_at: now,
        };
        self.order.push(post.id);
        self.posts.insert(post.id, post.clone());
        if let Some(colony) = colony {
            if let Some(c) = self.colonies.iter_mut().find(|c| c.id == colony.id) {
                c.post_count += 1;
            }
        }
        Ok(post)
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/posts", get(list).post(create))
        .route(
            "/api/v1/posts/{post_id}",
            get(one).put(update).delete(remove),
        )
}

fn post_id(raw: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found("post"))
}

async fn create(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::PostCreate>,
) -> ColonyResult<(StatusCode, Json<types::Post>)> {
    let mut data = shared.colony.lock();
    let author = data.user(&caller.0)?.clone();
    // The service never reads a missing colony as "no colony": that takes
    // `no_colony`; a post naming none goes to `general`, as it always did.
    let slug = match (body.no_colony, body.colony, body.colony_id) {
        (true, None, None) => None,
        (true, _, _) => {
            return Err(ColonyError::bad_request(
                "INVALID_INPUT",
                "no_colony cannot be combined with colony or colony_id",
            ))
        }
        (false, Some(name), _) => Some(name.to_string()),
        (false, None, Some(id)) => Some(
            data.posts
                .colonies
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.name.clone())
                .ok_or_else(|| ColonyError::not_found("colony"))?,
        ),
        (false, None, None) => Some("general".into()),
    };
    let post = data.posts.insert(NewPost {
        author,
        colony_slug: slug,
        title: body.title.to_string(),
        body: body.body.to_string(),
        post_type: body.post_type.to_string(),
        metadata: body.metadata,
        tags: body.tags,
    })?;
    super::webhooks::post_created(&shared, &mut data, &post);
    Ok((StatusCode::CREATED, Json(post)))
}

async fn one(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::Post>> {
    let data = shared.colony.lock();
    Ok(Json(data.posts.post(&post_id(&id)?)?.clone()))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    colony: Option<String>,
    colony_name: Option<String>,
    post_type: Option<String>,
    tag: Option<String>,
    q: Option<String>,
    search: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<usize>,
}

async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastQuery(query): FastQuery<ListQuery>,
) -> ColonyResult<Json<types::CursorPaginatedListPostOut>> {
    let limit = bounded("limit", query.limit, 20, 1, 100)?;
    // The contract's pattern; `new` is the deprecated spelling of `newest`.
    if !matches!(
        query.sort.as_deref(),
        None | Some("newest" | "new" | "top" | "hot" | "discussed")
    ) {
        return Err(ApiError::query_pattern("sort", "^(newest|new|top|hot|discussed)$").into());
    }
    let offset = query.offset.unwrap_or(0);
    let data = shared.colony.lock();
    // A blocked user's posts stop appearing in the blocker's feed.
    let blocked = data.users.blocked_by(caller.0);
    let colony = query.colony.or(query.colony_name);
    let text = query.q.or(query.search).map(|t| t.to_lowercase());
    let unfiltered = colony.is_none()
        && query.post_type.is_none()
        && query.tag.is_none()
        && text.is_none()
        && blocked.is_empty()
        && !matches!(query.sort.as_deref(), Some("top" | "hot" | "discussed"));
    if unfiltered {
        // Newest first straight from the creation order: a page costs its own
        // size, not a scan of every post (benchmarks walk 100 000 of them).
        let order = &data.posts.order;
        let items: Vec<types::Post> = order
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|id| data.posts.posts.get(id).cloned())
            .collect();
        let has_more = offset + items.len() < order.len();
        return Ok(Json(types::CursorPaginatedListPostOut {
            extra: Default::default(),
            has_more,
            items,
            next_cursor: None,
            total: order.len() as i64,
        }));
    }
    let mut matching: Vec<&types::Post> = data
        .posts
        .order
        .iter()
        .rev()
        .filter_map(|id| data.posts.posts.get(id))
        .filter(|p| !blocked.contains(&p.author.id))
        .filter(|p| {
            colony
                .as_deref()
                .is_none_or(|c| p.colony_name.as_deref() == Some(c))
        })
        .filter(|p| {
            query
                .post_type
                .as_deref()
                .is_none_or(|t| p.post_type.as_str() == t)
        })
        .filter(|p| {
            query.tag.as_deref().is_none_or(|t| {
                p.tags
                    .as_ref()
                    .is_some_and(|tags| tags.iter().any(|x| x == t))
            })
        })
        .filter(|p| {
            text.as_deref().is_none_or(|t| {
                p.title.to_lowercase().contains(t) || p.body.to_lowercase().contains(t)
            })
        })
        .collect();
    match query.sort.as_deref() {
        Some("top") | Some("hot") => matching.sort_by_key(|p| std::cmp::Reverse(p.score)),
        Some("discussed") => matching.sort_by_key(|p| std::cmp::Reverse(p.comment_count)),
        _ => {}
    }
    let total = matching.len();
    let items: Vec<types::Post> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    let has_more = offset + items.len() < total;
    Ok(Json(types::CursorPaginatedListPostOut {
        extra: Default::default(),
        has_more,
        items,
        next_cursor: None,
        total: total as i64,
    }))
}

async fn update(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastJson(body): FastJson<types::PostUpdate>,
) -> ColonyResult<Json<types::Post>> {
    let mut data = shared.colony.lock();
    let post = data.posts.post_mut(&post_id(&id)?)?;
    if post.author.id != caller.0 {
        return Err(ColonyError::forbidden("only the author may edit a post"));
    }
    // Notarising freezes a post for good. The document names no status for
    // an edit of a frozen post; 409 (its `CONFLICT`) is the sandbox's choice.
    if post.notarised_at.is_some() {
        return Err(ColonyError::conflict(
            "CONFLICT",
            "this post is notarised: it can never be edited again",
        ));
    }
    if Utc::now() - post.created_at > EDIT_WINDOW {
        return Err(ColonyError::forbidden(
            "posts can only be edited for 15 minutes",
        ));
    }
    if let Some(t) = body.title {
        post.title = t.to_string();
    }
    if let Some(b) = body.body {
        post.body = b.to_string();
    }
    if let Some(tags) = body.tags {
        post.tags = Some(tags);
    }
    post.updated_at = Utc::now();
    Ok(Json(post.clone()))
}

async fn remove(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<StatusCode> {
    let id = post_id(&id)?;
    let mut data = shared.colony.lock();
    if data.posts.post(&id)?.author.id != caller.0 {
        return Err(ColonyError::forbidden("only the author may delete a post"));
    }
    data.posts.posts.remove(&id);
    data.posts.order.retain(|p| *p != id);
    Ok(StatusCode::NO_CONTENT)
}
