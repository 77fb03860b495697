//! Chats: members with read positions and mute state, seq-numbered messages,
//! join requests, and each chat's workflow, workflow events and tasks.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_mycel_transport::types;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{Caller, Data as MycelData, MycelResult};
use crate::fastapi::{parse_body, ApiError, FastJson};
use crate::Shared;

/// What a send refused for being behind says (the service's wording).
const NOT_CAUGHT_UP: &str = "Chat advanced after your last read.";
/// Fields of a workflow event a PATCH may clear with an explicit `null`.
const CLEARABLE_EVENT_FIELDS: [&str; 6] = [
    "state",
    "decision_states",
    "rationales",
    "final_state",
    "metadata",
    "settled_at",
];
const TASK_STATUSES: [&str; 4] = ["pending", "in_progress", "completed", "cancelled"];

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_secs() -> f64 {
    chrono::Utc::now().timestamp_millis() as f64 / 1000.0
}

fn not_found(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
}

fn forbidden(msg: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, msg)
}

fn conflict(msg: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, msg)
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, msg)
}

#[derive(Debug, Clone)]
pub(crate) struct Member {
    user_id: String,
    last_read_seq: i64,
    muted: bool,
    mute_until: Option<f64>,
}

impl Member {
    fn new(user_id: &str, last_read_seq: i64) -> Self {
        Member {
            user_id: user_id.to_owned(),
            last_read_seq,
            muted: false,
            mute_until: None,
        }
    }

    fn is_muted(&self) -> bool {
        self.muted && self.mute_until.is_none_or(|t| t > now_secs())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Message {
    json: Value,
    seq: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Chat {
    id: String,
    title: Option<String>,
    kind: &'static str,
    owner_id: String,
    created_at: String,
    members: Vec<Member>,
    messages: Vec<Message>,
    join_requests: Vec<Value>,
    workflow: Option<Value>,
    workflow_events: Vec<Value>,
    tasks: Vec<Value>,
}

impl Chat {
    fn last_seq(&self) -> i64 {
        self.messages.last().map_or(0, |m| m.seq)
    }

    fn member(&self, user_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.user_id == user_id)
    }

    fn member_mut(&mut self, user_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.user_id == user_id)
    }

    fn is_member(&self, user_id: &str) -> bool {
        self.member(user_id).is_some()
    }

    fn unread_for(&self, user_id: &str) -> Vec<Value> {
        let read = self.member(user_id).map_or(0, |m| m.last_read_seq);
        self.messages
            .iter()
            .filter(|m| m.seq > read)
            .map(|m| m.json.clone())
            .collect()
    }
}

/// All chats, in creation order.
#[derive(Default)]
pub(crate) struct Data {
    chats: HashMap<String, Chat>,
    order: Vec<String>,
    /// Misbehaviour knob: message listings ignore `before`.
    pub(crate) stale_cursor: bool,
}

/// The summary a notification gives of a message: its start, never the
/// whole body.
fn summary(content: &str) -> String {
    const MAX: usize = 80;
    match content.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &content[..cut]),
        None => content.to_owned(),
    }
}

/// The inbox notification of a chat message for a member with `unread`
/// unread messages.
fn message_notification(message: &Value, unread: usize) -> Value {
    json!({
        "chat_id": message["chat_id"],
        "notification_type": "chat",
        "event_type": "chat.message",
        "message_id": message["id"],
        "message_seq": message["seq"],
        "sender_id": message["sender_id"],
        "sender_name": message["sender_name"],
        "summary": summary(message["content"].as_str().unwrap_or_default()),
        "source": "chat",
        "unread_count": unread,
    })
}

impl Data {
    /// One notification per chat `user` has unread messages in (and is not
    /// muted in), naming the latest of them: what the backend rebuilds from
    /// unread counts. They have no inbox seq.
    pub(crate) fn unread_notifications(&self, user: &str) -> Vec<Value> {
        self.order
            .iter()
            .filter_map(|id| self.chats.get(id))
            .filter(|c| c.member(user).is_some_and(|m| !m.is_muted()))
            .filter_map(|c| {
                let unread = c.unread_for(user);
                // The latest unread message that woke (or would wake) them:
                // not their own, not addressed to others only.
                let latest = unread.iter().rev().find(|m| {
                    m["sender_id"] != user
                        && (m["delivery_scope"] != "addressed"
                            || m["addressed_to_user_ids"]
                                .as_array()
                                .is_some_and(|to| to.iter().any(|u| u == user)))
                })?;
                Some(message_notification(latest, unread.len()))
            })
            .collect()
    }

    pub(crate) fn is_muted(&self, chat_id: &str, user_id: &str) -> bool {
        self.chats
            .get(chat_id)
            .and_then(|c| c.member(user_id))
            .is_some_and(Member::is_muted)
    }

    pub(crate) fn message_count(&self, chat_id: &str) -> usize {
        self.chats.get(chat_id).map_or(0, |c| c.messages.len())
    }

    pub(crate) fn seed(&mut self, chat_id: &str, sender_id: &str, sender_name: &str, n: usize) {
        let Some(chat) = self.chats.get_mut(chat_id) else {
            return;
        };
        for i in 0..n {
            let seq = chat.last_seq() + 1;
            let json = message_json(
                &format!("msg_{chat_id}_{seq}"),
                chat_id,
                seq,
                sender_id,
                sender_name,
                &format!("seeded message {i}"),
                &types::SendMessageBody {
                    extra: Default::default(),
                    addressed_to_user_ids: None,
                    content: String::new(),
                    delivery_scope: "broadcast".into(),
                    enforce_caught_up: false,
                    mentioned_ids: None,
                    reply_to: None,
                },
            );
            chat.messages.push(Message { json, seq });
        }
    }
}

fn message_json(
    id: &str,
    chat_id: &str,
    seq: i64,
    sender_id: &str,
    sender_name: &str,
    content: &str,
    body: &types::SendMessageBody,
) -> Value {
    json!({
        "id": id,
        "chat_id": chat_id,
        "seq": seq,
        "sender_id": sender_id,
        "sender_name": sender_name,
        "content": content,
        "message_type": "human",
        "mentioned_ids": body.mentioned_ids.clone().unwrap_or_default(),
        "reply_to": body.reply_to,
        "delivery_scope": body.delivery_scope,
        "addressed_to_user_ids": body.addressed_to_user_ids,
        "created_at": now_iso(),
    })
}

fn chat_json(data: &MycelData, chat: &Chat, viewer: &str) -> Value {
    let members: Vec<Value> = chat
        .members
        .iter()
        .map(|m| {
            let user = data.users.get(&m.user_id);
            json!({
                "id": m.user_id,
                "name": user.map(|u| u.name.clone()).unwrap_or_default(),
                "type": user.map(|u| u.kind).unwrap_or("unknown"),
                "avatar_url": null,
                "muted": m.is_muted(),
                "mute_until": m.mute_until,
                "last_read_seq": m.last_read_seq,
            })
        })
        .collect();
    json!({
        "id": chat.id,
        "title": chat.title,
        "kind": chat.kind,
        "status": "active",
        "owner_id": chat.owner_id,
        "created_at": chat.created_at,
        "members": members,
        "member_count": chat.members.len(),
        "last_seq": chat.last_seq(),
        "unread_count": chat.unread_for(viewer).len(),
    })
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/chats", get(list_chats).post(create_chat))
        .route("/api/chats/{chat_id}", get(get_chat))
        .route("/api/chats/{chat_id}/join-target", get(join_target))
        .route("/api/chats/{chat_id}/members", post(add_member))
        .route(
            "/api/chats/{chat_id}/join-requests",
            get(list_join_requests).post(request_join),
        )
        .route(
            "/api/chats/{chat_id}/join-requests/{request_id}/approve",
            post(approve_join),
        )
        .route(
            "/api/chats/{chat_id}/join-requests/{request_id}/reject",
            post(reject_join),
        )
        .route(
            "/api/chats/{chat_id}/messages",
            get(list_messages).post(send_message),
        )
        .route("/api/chats/{chat_id}/messages/unread", get(unread))
        .route("/api/chats/{chat_id}/messages/read", post(read))
        .route("/api/chats/{chat_id}/read", post(mark_read))
        .route("/api/chats/{chat_id}/mute", post(mute))
        .route(
            "/api/chats/{chat_id}/workflow",
            get(get_workflow).put(set_workflow).delete(delete_workflow),
        )
        .route(
            "/api/chats/{chat_id}/workflow/events",
            get(list_events).post(create_event),
        )
        .route(
            "/api/chats/{chat_id}/workflow/events/{event_id}",
            get(get_event).patch(update_event).delete(delete_event),
        )
        .route(
            "/api/chats/{chat_id}/tasks",
            get(list_tasks).post(create_task),
        )
        .route(
            "/api/chats/{chat_id}/tasks/{task_id}",
            get(get_task).patch(update_task).delete(delete_task),
        )
}

/// The chat, if the caller is one of its members.
fn member_chat<'a>(data: &'a MycelData, chat_id: &str, caller: &str) -> MycelResult<&'a Chat> {
    let chat = data
        .chats
        .chats
        .get(chat_id)
        .ok_or_else(|| not_found("Chat"))?;
    if !chat.is_member(caller) {
        return Err(forbidden("Not a participant of this chat"));
    }
    Ok(chat)
}

fn member_chat_mut<'a>(
    data: &'a mut MycelData,
    chat_id: &str,
    caller: &str,
) -> MycelResult<&'a mut Chat> {
    let chat = data
        .chats
        .chats
        .get_mut(chat_id)
        .ok_or_else(|| not_found("Chat"))?;
    if !chat.is_member(caller) {
        return Err(forbidden("Not a participant of this chat"));
    }
    Ok(chat)
}

async fn list_chats(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let list: Vec<Value> = data
        .chats
        .order
        .iter()
        .filter_map(|id| data.chats.chats.get(id))
        .filter(|c| c.is_member(&caller.0))
        .map(|c| chat_json(&data, c, &caller.0))
        .collect();
    Ok(Json(Value::Array(list)))
}

async fn create_chat(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::CreateChatBody>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let mut others: Vec<String> = Vec::new();
    for id in body.user_ids {
        if id == caller.0 {
            return Err(bad_request(
                "user_ids lists the other participants; the caller is added by the server",
            ));
        }
        data.user(&id)?;
        if !others.contains(&id) {
            others.push(id);
        }
    }
    let kind = match (body.kind.as_str(), others.len()) {
        ("direct", 1) | ("auto", 1) => "direct",
        ("direct", _) => {
            return Err(bad_request(
                "A direct chat has exactly one other participant",
            ))
        }
        ("auto", _) | ("group", _) => "group",
        (other, _) => return Err(bad_request(format!("Unknown chat kind: {other}"))),
    };
    if kind == "direct" {
        let existing = data
            .chats
            .order
            .iter()
            .filter_map(|id| data.chats.chats.get(id))
            .find(|c| c.kind == "direct" && c.is_member(&caller.0) && c.is_member(&others[0]));
        if let Some(chat) = existing {
            return Ok(Json(chat_json(&data, chat, &caller.0)));
        }
    } else {
        // A group needs at least a visit relationship with every other
        // person; managed agents are ordinary participants.
        for other in &others {
            let is_agent = data
                .users
                .get(other)
                .is_some_and(|u| u.kind == "mycel_agent");
            if !is_agent && !data.relationships.allows_group(&caller.0, other) {
                return Err(forbidden(&format!(
                    "No relationship with {other}: request one and have it approved first"
                )));
            }
        }
    }
    let id = data.id("chat");
    let mut members = vec![Member::new(&caller.0, 0)];
    members.extend(others.iter().map(|o| Member::new(o, 0)));
    let chat = Chat {
        id: id.clone(),
        title: body.title,
        kind,
        owner_id: caller.0.clone(),
        created_at: now_iso(),
        members,
        messages: Vec::new(),
        join_requests: Vec::new(),
        workflow: None,
        workflow_events: Vec::new(),
        tasks: Vec::new(),
    };
    let out = chat_json(&data, &chat, &caller.0);
    data.chats.chats.insert(id.clone(), chat);
    data.chats.order.push(id);
    Ok(Json(out))
}

async fn get_chat(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    Ok(Json(chat_json(&data, chat, &caller.0)))
}

async fn join_target(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = data
        .chats
        .chats
        .get(&chat_id)
        .ok_or_else(|| not_found("Chat"))?;
    if chat.kind != "group" {
        return Err(bad_request("Only group chats can be joined"));
    }
    let pending = chat
        .join_requests
        .iter()
        .any(|r| r["requester_id"] == caller.0.as_str() && r["status"] == "pending");
    Ok(Json(json!({
        "chat_id": chat.id,
        "title": chat.title,
        "kind": chat.kind,
        "owner_id": chat.owner_id,
        "owner_name": data.name_of(&chat.owner_id),
        "member_count": chat.members.len(),
        "is_member": chat.is_member(&caller.0),
        "has_pending_request": pending,
    })))
}

async fn add_member(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::ChatMemberAddBody>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    data.user(&body.user_id)?;
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    if chat.kind != "group" {
        return Err(bad_request("Members can only be added to group chats"));
    }
    if chat.owner_id != caller.0 {
        return Err(forbidden("Only the chat owner can add members"));
    }
    if chat.is_member(&body.user_id) {
        return Err(conflict("Already a member"));
    }
    let last = chat.last_seq();
    chat.members.push(Member::new(&body.user_id, last));
    let chat = chat.clone();
    Ok(Json(chat_json(&data, &chat, &caller.0)))
}

/// Writes a system message into a chat (join-request bookkeeping).
fn system_message(chat: &mut Chat, text: &str) {
    let seq = chat.last_seq() + 1;
    let json = json!({
        "id": format!("msg_{}_{seq}", chat.id),
        "chat_id": chat.id,
        "seq": seq,
        "sender_id": null,
        "sender_name": "system",
        "content": text,
        "message_type": "system",
        "mentioned_ids": [],
        "reply_to": null,
        "delivery_scope": "broadcast",
        "addressed_to_user_ids": null,
        "created_at": now_iso(),
    });
    chat.messages.push(Message { json, seq });
}

async fn list_join_requests(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    if chat.owner_id != caller.0 {
        return Err(forbidden("Only the chat owner can see join requests"));
    }
    Ok(Json(Value::Array(chat.join_requests.clone())))
}

async fn request_join(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::ChatJoinRequestBody>,
) -> MycelResult<Json<Value>> {
    let request = {
        let mut data = shared.mycel.lock();
        let id = data.id("jr");
        let name = data.name_of(&caller.0);
        let chat = data
            .chats
            .chats
            .get_mut(&chat_id)
            .ok_or_else(|| not_found("Chat"))?;
        if chat.kind != "group" {
            return Err(bad_request("Only group chats can be joined"));
        }
        if chat.is_member(&caller.0) {
            return Err(conflict("Already a member"));
        }
        if chat
            .join_requests
            .iter()
            .any(|r| r["requester_id"] == caller.0.as_str() && r["status"] == "pending")
        {
            return Err(conflict("Join request already pending"));
        }
        let request = json!({
            "id": id,
            "chat_id": chat_id,
            "requester_id": caller.0,
            "requester_name": name,
            "message": body.message,
            "status": "pending",
            "created_at": now_iso(),
        });
        chat.join_requests.push(request.clone());
        system_message(chat, &format!("{name} asked to join"));
        let owner = chat.owner_id.clone();
        data.inbox.push(
            &owner,
            json!({
                "chat_id": chat_id,
                "notification_type": "chat",
                "event_type": "chat.join_request",
                "request_id": request["id"],
                "sender_id": caller.0,
                "sender_name": name,
                "source": "chat",
            }),
        );
        request
    };
    shared.mycel.wake.notify_waiters();
    Ok(Json(request))
}

async fn settle_join(
    shared: &Shared,
    caller: &str,
    chat_id: &str,
    request_id: &str,
    approve: bool,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, chat_id, caller)?;
    if chat.owner_id != caller {
        return Err(forbidden("Only the chat owner can answer join requests"));
    }
    let last = chat.last_seq();
    let request = chat
        .join_requests
        .iter_mut()
        .find(|r| r["id"] == request_id)
        .ok_or_else(|| not_found("Join request"))?;
    if request["status"] != "pending" {
        return Err(conflict("Join request already settled"));
    }
    request["status"] = json!(if approve { "approved" } else { "rejected" });
    request["settled_at"] = json!(now_iso());
    let request = request.clone();
    let requester = request["requester_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = request["requester_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if approve {
        chat.members.push(Member::new(&requester, last));
        system_message(chat, &format!("{name} joined"));
    }
    Ok(Json(request))
}

async fn approve_join(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, request_id)): Path<(String, String)>,
) -> MycelResult<Json<Value>> {
    settle_join(&shared, &caller.0, &chat_id, &request_id, true).await
}

async fn reject_join(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, request_id)): Path<(String, String)>,
) -> MycelResult<Json<Value>> {
    settle_join(&shared, &caller.0, &chat_id, &request_id, false).await
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    before: Option<String>,
}

async fn list_messages(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> MycelResult<Json<Value>> {
    let limit = match q.limit.as_deref() {
        None => 50,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => n as usize,
            _ => {
                return Err(ApiError::validation(
                    vec!["query".into(), "limit".into()],
                    "Input should be between 1 and 200",
                    "less_than_equal",
                ))
            }
        },
    };
    let before = match q.before.as_deref() {
        None | Some("") => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            ApiError::validation(
                vec!["query".into(), "before".into()],
                "Input should be a message seq",
                "int_parsing",
            )
        })?),
    };
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    let before = if data.chats.stale_cursor {
        None
    } else {
        before
    };
    let older: Vec<&Message> = chat
        .messages
        .iter()
        .filter(|m| before.is_none_or(|b| m.seq < b))
        .collect();
    let start = older.len().saturating_sub(limit);
    let page: Vec<Value> = older[start..].iter().map(|m| m.json.clone()).collect();
    Ok(Json(Value::Array(page)))
}

async fn send_message(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::SendMessageBody>,
) -> MycelResult<Json<Value>> {
    if body.content.trim().is_empty() {
        return Err(bad_request("Content cannot be empty"));
    }
    let message = {
        let mut data = shared.mycel.lock();
        let id = data.id("msg");
        let sender_name = data.name_of(&caller.0);
        let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
        let last = chat.last_seq();
        let read = chat.member(&caller.0).map_or(0, |m| m.last_read_seq);
        if body.enforce_caught_up && read < last {
            return Err(conflict(NOT_CAUGHT_UP));
        }
        if let Some(reply) = &body.reply_to {
            if !chat.messages.iter().any(|m| m.json["id"] == reply.as_str()) {
                return Err(bad_request("reply_to is not a message of this chat"));
            }
        }
        let recipients: Vec<String> = match body.delivery_scope.as_str() {
            "broadcast" => chat
                .members
                .iter()
                .map(|m| m.user_id.clone())
                .filter(|u| *u != caller.0)
                .collect(),
            "addressed" => {
                let to = body.addressed_to_user_ids.clone().unwrap_or_default();
                if to.is_empty() {
                    return Err(bad_request(
                        "addressed_to_user_ids is required when delivery_scope is addressed",
                    ));
                }
                if let Some(stranger) = to.iter().find(|u| !chat.is_member(u)) {
                    return Err(bad_request(format!("{stranger} is not a chat member")));
                }
                to
            }
            other => {
                return Err(ApiError::validation(
                    vec!["body".into(), "delivery_scope".into()],
                    &format!("Input should be 'addressed' or 'broadcast', not {other:?}"),
                    "enum",
                ))
            }
        };
        let seq = last + 1;
        let json = message_json(
            &id,
            &chat_id,
            seq,
            &caller.0,
            &sender_name,
            &body.content,
            &body,
        );
        chat.messages.push(Message {
            json: json.clone(),
            seq,
        });
        if let Some(me) = chat.member_mut(&caller.0) {
            me.last_read_seq = seq;
        }
        // Mute is receiver-side quiet mode: stored, but no wake-up, and a
        // mention does not override it.
        let wake: Vec<(String, usize)> = recipients
            .iter()
            .filter_map(|u| chat.member(u))
            .filter(|m| !m.is_muted())
            .map(|m| (m.user_id.clone(), chat.unread_for(&m.user_id).len()))
            .collect();
        for (user, unread) in wake {
            data.inbox.push(&user, message_notification(&json, unread));
        }
        json
    };
    shared.mycel.wake.notify_waiters();
    Ok(Json(message))
}

async fn unread(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    Ok(Json(Value::Array(chat.unread_for(&caller.0))))
}

async fn read(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let unread = chat.unread_for(&caller.0);
    let last = chat.last_seq();
    if let Some(me) = chat.member_mut(&caller.0) {
        me.last_read_seq = last;
    }
    Ok(Json(Value::Array(unread)))
}

async fn mark_read(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::MarkReadBody>,
) -> MycelResult<Json<Value>> {
    if body.up_to_seq < 0 {
        return Err(ApiError::validation(
            vec!["body".into(), "up_to_seq".into()],
            "Input should be greater than or equal to 0",
            "greater_than_equal",
        ));
    }
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    // Up to the given seq, never past the latest message, never backwards.
    let target = body.up_to_seq.min(chat.last_seq());
    let mut read = 0;
    if let Some(me) = chat.member_mut(&caller.0) {
        me.last_read_seq = me.last_read_seq.max(target);
        read = me.last_read_seq;
    }
    Ok(Json(
        json!({ "status": "ok", "chat_id": chat_id, "last_read_seq": read }),
    ))
}

async fn mute(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::MuteChatBody>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let owns_target = body.user_id == caller.0
        || data
            .users
            .get(&body.user_id)
            .is_some_and(|u| u.owner_id.as_deref() == Some(caller.0.as_str()));
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    if !owns_target && chat.owner_id != caller.0 {
        return Err(forbidden(
            "Only the chat owner, the member or its owner can change this mute",
        ));
    }
    let member = chat
        .member_mut(&body.user_id)
        .ok_or_else(|| not_found("Chat member"))?;
    member.muted = body.muted;
    member.mute_until = if body.muted { body.mute_until } else { None };
    Ok(Json(json!({
        "status": "ok",
        "chat_id": chat_id,
        "user_id": body.user_id,
        "muted": body.muted,
        "mute_until": member.mute_until,
    })))
}

async fn get_workflow(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    chat.workflow
        .clone()
        .map(Json)
        .ok_or_else(|| not_found("Workflow"))
}

async fn set_workflow(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::SetChatWorkflowBody>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let current = chat
        .workflow
        .as_ref()
        .and_then(|w| w["state_version"].as_i64())
        .unwrap_or(0);
    check_version("Workflow", body.expected_state_version, current)?;
    let workflow = json!({
        "chat_id": chat_id,
        "kind": body.kind,
        "state": body.state,
        "config": body.config,
        "state_version": current + 1,
        "updated_by": caller.0,
        "updated_at": now_iso(),
    });
    chat.workflow = Some(workflow.clone());
    Ok(Json(workflow))
}

async fn delete_workflow(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    chat.workflow.take().ok_or_else(|| not_found("Workflow"))?;
    Ok(Json(json!({ "status": "deleted", "chat_id": chat_id })))
}

async fn list_events(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    Ok(Json(Value::Array(chat.workflow_events.clone())))
}

async fn create_event(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::CreateChatWorkflowEventBody>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let id = data.id("wfe");
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let event = json!({
        "id": id,
        "chat_id": chat_id,
        "kind": body.kind,
        "state": "open",
        "requested_by_user_id": body.requested_by_user_id.unwrap_or_else(|| caller.0.clone()),
        "resource_refs": body.resource_refs,
        "decision_states": body.decision_states,
        "rationales": body.rationales,
        "final_state": body.final_state,
        "metadata": body.metadata,
        "settled_at": null,
        "state_version": 1,
        "created_at": now_iso(),
    });
    chat.workflow_events.push(event.clone());
    Ok(Json(event))
}

/// Optimistic concurrency: a change made from version `expected` is refused
/// once the state is at another version (0: there is none yet).
fn check_version(what: &str, expected: Option<i64>, current: i64) -> MycelResult<()> {
    match expected {
        Some(v) if v != current => Err(conflict(&format!(
            "{what} state version conflict: expected {v}, current {current}"
        ))),
        _ => Ok(()),
    }
}

/// The fields a PATCH body sends as an explicit `null`: "clear it", unlike
/// an omitted field.
fn nulls(raw: &[u8]) -> Vec<String> {
    serde_json::from_slice::<Map<String, Value>>(raw)
        .map(|m| {
            m.into_iter()
                .filter(|(_, v)| v.is_null())
                .map(|(k, _)| k)
                .collect()
        })
        .unwrap_or_default()
}

fn find<'a>(items: &'a mut [Value], id: &str, what: &str) -> MycelResult<&'a mut Value> {
    items
        .iter_mut()
        .find(|e| e["id"] == id)
        .ok_or_else(|| not_found(what))
}

async fn get_event(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, event_id)): Path<(String, String)>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    Ok(Json(
        find(&mut chat.workflow_events, &event_id, "Workflow event")?.clone(),
    ))
}

fn set_if<T: serde::Serialize>(target: &mut Value, key: &str, value: Option<T>) {
    if let Some(v) = value {
        target[key] = json!(v);
    }
}

async fn update_event(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, event_id)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> MycelResult<Json<Value>> {
    let body: types::UpdateChatWorkflowEventBody = parse_body(&raw)?;
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let event = find(&mut chat.workflow_events, &event_id, "Workflow event")?;
    let current = event["state_version"].as_i64().unwrap_or(1);
    check_version("Workflow event", body.expected_state_version, current)?;
    for field in nulls(&raw) {
        if CLEARABLE_EVENT_FIELDS.contains(&field.as_str()) {
            event[field.as_str()] = Value::Null;
        }
    }
    event["state_version"] = json!(current + 1);
    set_if(event, "state", body.state);
    set_if(event, "decision_states", body.decision_states);
    set_if(event, "rationales", body.rationales);
    set_if(event, "final_state", body.final_state);
    set_if(event, "metadata", body.metadata);
    set_if(event, "settled_at", body.settled_at);
    Ok(Json(event.clone()))
}

async fn delete_event(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, event_id)): Path<(String, String)>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let before = chat.workflow_events.len();
    chat.workflow_events
        .retain(|e| e["id"] != event_id.as_str());
    if chat.workflow_events.len() == before {
        return Err(not_found("Workflow event"));
    }
    Ok(Json(json!({ "status": "deleted", "id": event_id })))
}

async fn list_tasks(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
) -> MycelResult<Json<Value>> {
    let data = shared.mycel.lock();
    let chat = member_chat(&data, &chat_id, &caller.0)?;
    Ok(Json(Value::Array(chat.tasks.clone())))
}

fn check_status(status: &str) -> MycelResult<()> {
    if TASK_STATUSES.contains(&status) {
        Ok(())
    } else {
        Err(bad_request(format!("Unknown task status: {status}")))
    }
}

async fn create_task(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(chat_id): Path<String>,
    FastJson(body): FastJson<types::CreateChatTaskBody>,
) -> MycelResult<Json<Value>> {
    check_status(&body.status)?;
    if body.subject.trim().is_empty() {
        return Err(bad_request("Subject is required"));
    }
    let mut data = shared.mycel.lock();
    let id = data.id("task");
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let now = now_iso();
    let task = json!({
        "id": id,
        "chat_id": chat_id,
        "subject": body.subject,
        "description": body.description,
        "status": body.status,
        "active_form": body.active_form,
        "owner": body.owner,
        "blocks": body.blocks,
        "blocked_by": body.blocked_by,
        "metadata": body.metadata,
        "created_by": caller.0,
        "created_at": now,
        "updated_at": now,
    });
    chat.tasks.push(task.clone());
    Ok(Json(task))
}

async fn get_task(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, task_id)): Path<(String, String)>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    Ok(Json(find(&mut chat.tasks, &task_id, "Task")?.clone()))
}

async fn update_task(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, task_id)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> MycelResult<Json<Value>> {
    let body: types::UpdateChatTaskBody = parse_body(&raw)?;
    if let Some(s) = &body.status {
        check_status(s)?;
    }
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let task = find(&mut chat.tasks, &task_id, "Task")?;
    for field in nulls(&raw) {
        match field.as_str() {
            "active_form" | "owner" => task[field.as_str()] = Value::Null,
            "blocks" | "blocked_by" => task[field.as_str()] = json!([]),
            "metadata" => task["metadata"] = json!({}),
            _ => {}
        }
    }
    set_if(task, "status", body.status);
    set_if(task, "subject", body.subject);
    set_if(task, "description", body.description);
    set_if(task, "active_form", body.active_form);
    set_if(task, "owner", body.owner);
    set_if(task, "blocks", body.blocks);
    set_if(task, "blocked_by", body.blocked_by);
    set_if::<Map<String, Value>>(task, "metadata", body.metadata);
    task["updated_at"] = json!(now_iso());
    Ok(Json(task.clone()))
}

async fn delete_task(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((chat_id, task_id)): Path<(String, String)>,
) -> MycelResult<Json<Value>> {
    let mut data = shared.mycel.lock();
    let chat = member_chat_mut(&mut data, &chat_id, &caller.0)?;
    let before = chat.tasks.len();
    chat.tasks.retain(|t| t["id"] != task_id.as_str());
    if chat.tasks.len() == before {
        return Err(not_found("Task"));
    }
    Ok(Json(json!({ "status": "deleted", "id": task_id })))
}
