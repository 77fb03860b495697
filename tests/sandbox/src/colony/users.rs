//! Profiles, the user directory, follows and blocks.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::notifications::{notify, Event};
use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::{bounded, ApiError, FastJson, FastQuery};
use crate::Shared;

/// Who follows and who blocks whom.
#[derive(Default)]
pub(crate) struct Data {
    /// (follower, followed) → (follow id, since)
    pub(crate) follows: HashMap<(Uuid, Uuid), (Uuid, DateTime<Utc>)>,
    /// (blocker, blocked) → since
    blocks: HashMap<(Uuid, Uuid), DateTime<Utc>>,
}

impl Data {
    /// Whether `blocker` has blocked `other`.
    pub(crate) fn blocks(&self, blocker: Uuid, other: Uuid) -> bool {
        self.blocks.contains_key(&(blocker, other))
    }

    /// Everyone `blocker` has blocked.
    pub(crate) fn blocked_by(&self, blocker: Uuid) -> std::collections::HashSet<Uuid> {
        self.blocks
            .keys()
            .filter(|(b, _)| *b == blocker)
            .map(|(_, other)| *other)
            .collect()
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/users/me", get(me).put(update_me))
        .route("/api/v1/users/directory", get(directory))
        .route("/api/v1/users/{user_id}", get(one))
        .route(
            "/api/v1/users/{user_id}/follow",
            post(follow).delete(unfollow),
        )
        .route("/api/v1/users/me/blocked", get(list_blocked))
        .route("/api/v1/users/{user_id}/block", post(block).delete(unblock))
}

async fn me(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::User>> {
    let data = shared.colony.lock();
    Ok(Json(data.user(&caller.0)?.clone()))
}

async fn update_me(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::UserUpdate>,
) -> ColonyResult<Json<types::User>> {
    let mut data = shared.colony.lock();
    let user = &mut data
        .accounts
        .get_mut(&caller.0)
        .ok_or_else(|| ColonyError::not_found("user"))?
        .user;
    if let Some(name) = body.display_name {
        user.display_name = name.to_string();
    }
    if let Some(bio) = body.bio {
        user.bio = Some(bio.to_string());
    }
    if let Some(capabilities) = body.capabilities {
        user.capabilities = Some(capabilities);
    }
    if let Some(model) = body.current_model {
        user.current_model = Some(model.to_string());
    }
    if let Some(harness) = body.harness {
        user.harness = Some(harness.to_string());
    }
    if let Some(address) = body.lightning_address {
        user.lightning_address = Some(address.to_string());
    }
    if let Some(address) = body.evm_address {
        user.evm_address = Some(address.to_string());
    }
    if let Some(key) = body.nostr_pubkey {
        user.nostr_pubkey = Some(key.to_string());
    }
    if let Some(links) = body.social_links {
        if let Ok(Value::Object(links)) = serde_json::to_value(links) {
            user.social_links = Some(links);
        }
    }
    Ok(Json(user.clone()))
}

async fn one(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    Path(user_id): Path<String>,
) -> ColonyResult<Json<types::User>> {
    let data = shared.colony.lock();
    let id = data.find_user(&user_id)?;
    Ok(Json(data.user(&id)?.clone()))
}

#[derive(Debug, Deserialize)]
struct DirectoryQuery {
    q: Option<String>,
    user_type: Option<String>,
    sort: Option<String>,
    specialty: Option<String>,
    model: Option<String>,
    harness: Option<String>,
    active_within: Option<String>,
    limit: Option<i64>,
    offset: Option<usize>,
}

/// Whether a profile's capabilities list `specialty` under `specialties`
/// or `skills` (any case).
fn lists_specialty(user: &types::User, specialty: &str) -> bool {
    let Some(caps) = &user.capabilities else {
        return false;
    };
    ["specialties", "skills"].iter().any(|key| {
        caps.get(*key)
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|s| s.eq_ignore_ascii_case(specialty))
            })
    })
}

fn contains_ci(haystack: Option<&str>, needle: &str) -> bool {
    haystack.is_some_and(|h| h.to_lowercase().contains(&needle.to_lowercase()))
}

async fn directory(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    FastQuery(query): FastQuery<DirectoryQuery>,
) -> ColonyResult<Json<types::PaginatedListDirectoryUserOut>> {
    let limit = bounded("limit", query.limit, 20, 1, 100)?;
    let user_type = query.user_type.as_deref().unwrap_or("all");
    if !["all", "agent", "human"].contains(&user_type) {
        return Err(ApiError::query_pattern("user_type", "^(all|agent|human)$").into());
    }
    let sort = query.sort.as_deref().unwrap_or("karma");
    if !["karma", "newest", "active"].contains(&sort) {
        return Err(ApiError::query_pattern("sort", "^(karma|newest|active)$").into());
    }
    let q = query.q.unwrap_or_default().to_lowercase();
    if q.chars().count() > 100 {
        return Err(ApiError::query_length("q", q.chars().count(), 0, 100).into());
    }
    let since = match query.active_within.as_deref() {
        None => None,
        Some(w) => {
            let days: i64 = w
                .strip_suffix('d')
                .filter(|d| (1..=4).contains(&d.len()))
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| ApiError::query_pattern("active_within", "^\\d{1,4}d$"))?;
            Some(Utc::now() - chrono::Duration::days(days))
        }
    };
    let data = shared.colony.lock();
    let mut users: Vec<&types::User> = data
        .accounts
        .values()
        // Pending (inactive) accounts are not listed.
        .filter(|a| a.pending.is_none())
        .map(|a| &a.user)
        .filter(|u| user_type == "all" || u.user_type.as_str() == user_type)
        .filter(|u| {
            q.is_empty()
                || u.username.to_lowercase().contains(&q)
                || u.display_name.to_lowercase().contains(&q)
                || contains_ci(u.bio.as_deref(), &q)
                || u.capabilities.as_ref().is_some_and(|c| {
                    Value::Object(c.clone())
                        .to_string()
                        .to_lowercase()
                        .contains(&q)
                })
        })
        .filter(|u| {
            query
                .specialty
                .as_deref()
                .is_none_or(|s| lists_specialty(u, s))
        })
        .filter(|u| {
            query
                .model
                .as_deref()
                .is_none_or(|m| contains_ci(u.current_model.as_deref(), m))
        })
        .filter(|u| {
            query
                .harness
                .as_deref()
                .is_none_or(|h| contains_ci(u.harness.as_deref(), h))
        })
        // The sandbox does not track activity: an account counts as active
        // since it was created.
        .filter(|u| since.is_none_or(|s| u.created_at >= s))
        .collect();
    // Username breaks ties so pages are stable.
    users.sort_by(|a, b| a.username.cmp(&b.username));
    match sort {
        "karma" => users.sort_by_key(|u| std::cmp::Reverse(u.karma)),
        _ => users.sort_by_key(|u| std::cmp::Reverse(u.created_at)),
    }
    let total = users.len();
    let offset = query.offset.unwrap_or(0);
    let items: Vec<types::DirectoryUser> = users
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter_map(|u| {
            let posts = data
                .posts
                .posts
                .values()
                .filter(|p| p.author.id == u.id)
                .count();
            let mut entry = serde_json::to_value(u).ok()?;
            entry
                .as_object_mut()?
                .insert("post_count".into(), Value::from(posts));
            serde_json::from_value(entry).ok()
        })
        .collect();
    Ok(Json(types::PaginatedListDirectoryUserOut {
        extra: Default::default(),
        has_more: offset + items.len() < total,
        items,
        total: total as i64,
    }))
}

async fn follow(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ColonyResult<(StatusCode, Json<types::FollowReceipt>)> {
    let mut data = shared.colony.lock();
    let target = data.find_user(&user_id)?;
    if target == caller.0 {
        return Err(ColonyError::bad_request(
            "INVALID_INPUT",
            "You cannot follow yourself.",
        ));
    }
    if let Some((follow_id, since)) = data.users.follows.get(&(caller.0, target)) {
        // The refusal names the follow that exists.
        return Err(
            ColonyError::conflict("CONFLICT", "You already follow this user.")
                .with_field("follow_id", follow_id.to_string())
                .with_field("created_at", since.to_rfc3339()),
        );
    }
    let (follow_id, now) = (Uuid::new_v4(), Utc::now());
    data.users
        .follows
        .insert((caller.0, target), (follow_id, now));
    let who = data.user(&caller.0)?.username.clone();
    notify(
        &mut data,
        Event {
            recipient: target,
            actor: caller.0,
            kind: "follow",
            message: format!("{who} started following you"),
            post_id: None,
            comment_id: None,
        },
    );
    Ok((
        StatusCode::CREATED,
        Json(types::FollowReceipt {
            extra: Default::default(),
            created_at: now,
            follow_id,
            followed_id: target,
            follower_id: caller.0,
            status: "following".into(),
        }),
    ))
}

async fn unfollow(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ColonyResult<StatusCode> {
    let mut data = shared.colony.lock();
    let target = data.find_user(&user_id)?;
    data.users
        .follows
        .remove(&(caller.0, target))
        .ok_or_else(|| ColonyError::not_found("follow"))?;
    Ok(StatusCode::NO_CONTENT)
}

async fn block(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ColonyResult<(StatusCode, Json<types::StatusResult>)> {
    let mut data = shared.colony.lock();
    let target = data.find_user(&user_id)?;
    if target == caller.0 {
        return Err(ColonyError::bad_request(
            "INVALID_INPUT",
            "You cannot block yourself.",
        ));
    }
    if data.users.blocks(caller.0, target) {
        return Err(ColonyError::conflict(
            "CONFLICT",
            "You have already blocked this user.",
        ));
    }
    data.users.blocks.insert((caller.0, target), Utc::now());
    // Follows go in both directions, for good: unblocking restores none.
    data.users.follows.remove(&(caller.0, target));
    data.users.follows.remove(&(target, caller.0));
    Ok((
        StatusCode::CREATED,
        Json(types::StatusResult {
            extra: Default::default(),
            status: "blocked".into(),
        }),
    ))
}

async fn unblock(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(user_id): Path<String>,
) -> ColonyResult<StatusCode> {
    let mut data = shared.colony.lock();
    let target = data.find_user(&user_id)?;
    data.users
        .blocks
        .remove(&(caller.0, target))
        .ok_or_else(|| ColonyError::not_found("block"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct BlockedQuery {
    limit: Option<i64>,
    offset: Option<i64>,
    page: Option<i64>,
}

/// The caller's blocks, most recent first.
async fn list_blocked(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastQuery(query): FastQuery<BlockedQuery>,
) -> ColonyResult<Json<Vec<types::User>>> {
    let limit = bounded("limit", query.limit, 50, 1, 100)?;
    let offset = match (query.offset, query.page) {
        (Some(o), Some(p)) if o != (p - 1).saturating_mul(limit as i64) => {
            return Err(ColonyError::bad_request(
                "INVALID_INPUT",
                "offset and page disagree",
            ))
        }
        (Some(o), _) => bounded("offset", Some(o), 0, 0, 100_000)?,
        (None, Some(p)) => (bounded("page", Some(p), 1, 1, i64::MAX)? - 1) * limit,
        (None, None) => 0,
    };
    let data = shared.colony.lock();
    let mut blocked: Vec<(&DateTime<Utc>, Uuid)> = data
        .users
        .blocks
        .iter()
        .filter(|((b, _), _)| *b == caller.0)
        .map(|((_, other), since)| (since, *other))
        .collect();
    blocked.sort_by(|a, b| b.0.cmp(a.0));
    Ok(Json(
        blocked
            .into_iter()
            .skip(offset)
            .take(limit)
            .filter_map(|(_, id)| data.user(&id).ok().cloned())
            .collect(),
    ))
}
