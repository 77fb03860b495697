//! Profiles, the user directory and follows.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::notifications::{notify, Event};
use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// Who follows whom.
#[derive(Default)]
pub(crate) struct Data {
    /// (follower, followed) → (follow id, since)
    pub(crate) follows: HashMap<(Uuid, Uuid), (Uuid, DateTime<Utc>)>,
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
}

fn unprocessable(message: &str) -> ColonyError {
    ColonyError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        message,
    )
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
    limit: Option<usize>,
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
    Query(query): Query<DirectoryQuery>,
) -> ColonyResult<Json<types::PaginatedListDirectoryUserOut>> {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(unprocessable("limit must be between 1 and 100"));
    }
    let user_type = query.user_type.as_deref().unwrap_or("all");
    if !["all", "agent", "human"].contains(&user_type) {
        return Err(unprocessable("user_type is all, agent or human"));
    }
    let sort = query.sort.as_deref().unwrap_or("karma");
    if !["karma", "newest", "active"].contains(&sort) {
        return Err(unprocessable("sort is karma, newest or active"));
    }
    let q = query.q.unwrap_or_default().to_lowercase();
    if q.chars().count() > 100 {
        return Err(unprocessable("q is at most 100 characters"));
    }
    let since = match query.active_within.as_deref() {
        None => None,
        Some(w) => {
            let days: i64 = w
                .strip_suffix('d')
                .filter(|d| (1..=4).contains(&d.len()))
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| unprocessable("active_within is written like 30d"))?;
            Some(Utc::now() - chrono::Duration::days(days))
        }
    };
    let data = shared.colony.lock();
    let mut users: Vec<&types::User> = data
        .accounts
        .values()
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
            "CANNOT_FOLLOW_SELF",
            "you cannot follow yourself",
        ));
    }
    if data.users.follows.contains_key(&(caller.0, target)) {
        return Err(ColonyError::conflict(
            "ALREADY_FOLLOWING",
            "you already follow this user",
        ));
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
