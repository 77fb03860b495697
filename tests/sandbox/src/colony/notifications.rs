//! Notifications, raised by the other areas when something happens to an
//! account's content (a comment, a reply, a mention, a vote) or to the
//! account itself (a follow).

use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::{Caller, ColonyResult};
use crate::fastapi::{bounded, ApiError, FastQuery};
use crate::Shared;

/// Every notification with its recipient, oldest first.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) items: Vec<(Uuid, types::Notification)>,
}

/// What a notification is about.
pub(crate) struct Event<'a> {
    pub(crate) recipient: Uuid,
    pub(crate) actor: Uuid,
    pub(crate) kind: &'a str,
    pub(crate) message: String,
    pub(crate) post_id: Option<Uuid>,
    pub(crate) comment_id: Option<Uuid>,
}

/// What a block silences: the blocker is not told about the blocked
/// user's comments, replies, mentions, reactions, awards, follows and tag
/// matches (money, moderation and security notices still arrive).
const SILENCED_BY_BLOCK: [&str; 7] = [
    "comment",
    "reply",
    "mention",
    "post_reaction",
    "award",
    "follow",
    "tag_match",
];

/// Records a notification, unless the actor is the recipient (nobody is
/// told about their own doing), either account is gone, or the recipient
/// blocked the actor and the kind is one a block silences.
pub(crate) fn notify(data: &mut super::Data, event: Event<'_>) {
    if event.recipient == event.actor || !data.accounts.contains_key(&event.recipient) {
        return;
    }
    if SILENCED_BY_BLOCK.contains(&event.kind) && data.users.blocks(event.recipient, event.actor) {
        return;
    }
    let Some(actor) = data.accounts.get(&event.actor).map(|a| &a.user) else {
        return;
    };
    let item = types::Notification {
        extra: Default::default(),
        actor: types::NotificationActor {
            extra: Default::default(),
            display_name: actor.display_name.clone(),
            id: actor.id,
            user_type: actor.user_type.to_string(),
            username: actor.username.clone(),
        },
        comment_id: event.comment_id,
        conversation_id: None,
        created_at: Utc::now(),
        id: Uuid::new_v4(),
        is_read: false,
        message: event.message,
        message_id: None,
        notification_type: event.kind.to_owned(),
        post_id: event.post_id,
    };
    super::stream::notified(data, event.recipient, &item);
    data.notifications.items.push((event.recipient, item));
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/notifications", get(list))
        .route("/api/v1/notifications/count", get(count))
        .route("/api/v1/me/unread", get(unread_summary))
        .route("/api/v1/notifications/read-all", post(read_all))
        .route(
            "/api/v1/notifications/{notification_id}/read",
            post(read_one),
        )
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    unread_only: Option<bool>,
    unread: Option<bool>,
    is_read: Option<bool>,
    limit: Option<i64>,
    offset: Option<usize>,
    page: Option<i64>,
}

async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastQuery(query): FastQuery<ListQuery>,
) -> ColonyResult<Json<Vec<types::Notification>>> {
    let limit = bounded("limit", query.limit, 50, 1, 100)?;
    let offset = match (query.offset, query.page) {
        (Some(o), _) => o,
        (None, Some(p)) if p >= 1 => (p as usize - 1) * limit,
        (None, Some(p)) => return Err(ApiError::query_range("page", p, 1, i64::MAX).into()),
        (None, None) => 0,
    };
    // unread_only (or its older name) wins over is_read.
    let want_read = match query.unread_only.or(query.unread) {
        Some(true) => Some(false),
        _ => query.is_read,
    };
    let data = shared.colony.lock();
    let items = data
        .notifications
        .items
        .iter()
        .rev()
        .filter(|(to, n)| *to == caller.0 && want_read.is_none_or(|r| n.is_read == r))
        .skip(offset)
        .take(limit)
        .map(|(_, n)| n.clone())
        .collect();
    Ok(Json(items))
}

/// Unread notifications of `user`.
fn unread_of(data: &super::Data, user: Uuid) -> usize {
    data.notifications
        .items
        .iter()
        .filter(|(to, n)| *to == user && !n.is_read)
        .count()
}

/// The unread notifications (direct messages are not counted), under the
/// name that says so and the deprecated `unread_count`.
async fn count(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<serde_json::Map<String, serde_json::Value>>> {
    let n = unread_of(&shared.colony.lock(), caller.0);
    let mut out = serde_json::Map::new();
    out.insert("unread_notifications".into(), n.into());
    out.insert("unread_count".into(), n.into());
    Ok(Json(out))
}

/// Both unread totals, each named by what it counts, and their sum.
async fn unread_summary(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::UnreadSummary>> {
    let data = shared.colony.lock();
    let notifications = unread_of(&data, caller.0) as i64;
    let messages = super::messages::unread_direct(&data, caller.0) as i64;
    Ok(Json(types::UnreadSummary {
        extra: Default::default(),
        unread_direct_messages: messages,
        unread_notifications: notifications,
        unread_total: notifications + messages,
    }))
}

async fn read_all(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<StatusCode> {
    let mut data = shared.colony.lock();
    for (to, n) in &mut data.notifications.items {
        if *to == caller.0 {
            n.is_read = true;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn read_one(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<StatusCode> {
    // The service answers 204 whether or not the id exists (or is someone
    // else's), so ids cannot be probed.
    if let Ok(id) = Uuid::parse_str(&id) {
        let mut data = shared.colony.lock();
        if let Some((_, n)) = data
            .notifications
            .items
            .iter_mut()
            .find(|(to, n)| *to == caller.0 && n.id == id)
        {
            n.is_read = true;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
