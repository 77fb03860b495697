//! Relationships between two users: none → pending (request) → visit
//! (approve) ⇄ hire (upgrade / downgrade); reject and revoke go back to none.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_mycel_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{Caller, MycelResult};
use crate::fastapi::{ApiError, FastJson};
use crate::Shared;

#[derive(Debug, Clone)]
struct Relationship {
    id: String,
    initiator: String,
    target: String,
    state: &'static str,
    message: Option<String>,
    created_at: String,
    updated_at: String,
}

impl Relationship {
    fn other(&self, viewer: &str) -> &str {
        if viewer == self.initiator {
            &self.target
        } else {
            &self.initiator
        }
    }

    fn involves(&self, user: &str) -> bool {
        self.initiator == user || self.target == user
    }

    fn to_json(&self, viewer: &str) -> Value {
        json!({
            "id": self.id,
            "other_user_id": self.other(viewer),
            "state": self.state,
            "is_requester": self.state == "pending" && viewer == self.initiator,
            "message": self.message,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// Every pair's relationship, one row per pair.
#[derive(Default)]
pub(crate) struct Data {
    rows: HashMap<String, Relationship>,
    order: Vec<String>,
}

impl Data {
    fn between(&self, a: &str, b: &str) -> Option<&Relationship> {
        self.rows.values().find(|r| r.involves(a) && r.involves(b))
    }

    /// Whether `a` may put `b` in a group chat: visit or hire.
    pub(crate) fn allows_group(&self, a: &str, b: &str) -> bool {
        self.between(a, b)
            .is_some_and(|r| matches!(r.state, "visit" | "hire"))
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/relationships", get(list))
        .route("/api/relationships/request", post(request))
        .route("/api/relationships/{id}/approve", post(approve))
        .route("/api/relationships/{id}/reject", post(reject))
        .route("/api/relationships/{id}/upgrade", post(upgrade))
        .route("/api/relationships/{id}/downgrade", post(downgrade))
        .route("/api/relationships/{id}/revoke", post(revoke))
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn list(AxumState(shared): AxumState<Arc<Shared>>, caller: Caller) -> Json<Value> {
    let data = shared.mycel.lock();
    let rows: Vec<Value> = data
        .relationships
        .order
        .iter()
        .filter_map(|id| data.relationships.rows.get(id))
        .filter(|r| r.involves(&caller.0) && r.state != "none")
        .map(|r| r.to_json(&caller.0))
        .collect();
    Json(Value::Array(rows))
}

async fn request(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::RelationshipRequestBody>,
) -> MycelResult<Json<Value>> {
    let out = {
        let mut data = shared.mycel.lock();
        if body.target_user_id == caller.0 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Cannot request relationship with yourself",
            ));
        }
        data.user(&body.target_user_id)?;
        let now = now_iso();
        let existing = data
            .relationships
            .between(&caller.0, &body.target_user_id)
            .map(|r| (r.id.clone(), r.state));
        let id = match existing {
            Some((_, state)) if state != "none" => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!("Invalid transition: state='{state}' event='request'"),
                ))
            }
            Some((id, _)) => id,
            None => {
                let id = data.id("rel");
                data.relationships.order.push(id.clone());
                id
            }
        };
        let row = Relationship {
            id: id.clone(),
            initiator: caller.0.clone(),
            target: body.target_user_id.clone(),
            state: "pending",
            message: body.message,
            created_at: now.clone(),
            updated_at: now,
        };
        let out = row.to_json(&caller.0);
        data.relationships.rows.insert(id.clone(), row);
        let name = data.name_of(&caller.0);
        data.inbox.push(
            &body.target_user_id,
            json!({
                "relationship_id": id,
                "notification_type": "relationship",
                "event_type": "relationship.request",
                "sender_id": caller.0,
                "sender_name": name,
                "source": "relationships",
            }),
        );
        out
    };
    shared.mycel.wake.notify_waiters();
    Ok(Json(out))
}

/// Who may do what, from which state, to which state.
fn transition(state: &'static str, event: &str, actor_is_initiator: bool) -> Option<&'static str> {
    match (state, event) {
        ("pending", "approve") if !actor_is_initiator => Some("visit"),
        ("pending", "reject") if !actor_is_initiator => Some("none"),
        ("pending", "revoke") if actor_is_initiator => Some("none"),
        ("visit" | "hire", "revoke") => Some("none"),
        ("visit", "upgrade") => Some("hire"),
        ("hire", "downgrade") => Some("visit"),
        _ => None,
    }
}

fn act(shared: &Shared, caller: &str, id: &str, event: &str) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let row = data
        .relationships
        .rows
        .get_mut(id)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Relationship not found"))?;
    if !row.involves(caller) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Not a party of this relationship",
        ));
    }
    let next = transition(row.state, event, row.initiator == caller).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("Invalid transition: state='{}' event='{event}'", row.state),
        )
    })?;
    row.state = next;
    row.updated_at = now_iso();
    Ok(Json(row.to_json(caller)))
}

async fn approve(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> MycelResult<Json<Value>> {
    act(&shared, &caller.0, &id, "approve")
}

async fn reject(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> MycelResult<Json<Value>> {
    act(&shared, &caller.0, &id, "reject")
}

async fn upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> MycelResult<Json<Value>> {
    act(&shared, &caller.0, &id, "upgrade")
}

async fn downgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> MycelResult<Json<Value>> {
    act(&shared, &caller.0, &id, "downgrade")
}

async fn revoke(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> MycelResult<Json<Value>> {
    act(&shared, &caller.0, &id, "revoke")
}
