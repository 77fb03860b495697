//! The Colony's polled feeds, as its document describes them: the tails of
//! 1:1 and group conversations (`since_id`, `limit`, newest first), the
//! history pages behind them (`before`, oldest first within a page), and
//! the public community stream (recent public events, newest first, exact
//! totals and hourly buckets, an opaque `before` cursor paging backwards,
//! an `ETag` honoured through `If-None-Match`).
//!
//! The community events are made from what the sandbox holds (posts,
//! comments, active members), so their ids stay the same from one poll to
//! the next. The document leaves the event's shape open; the sandbox's
//! events carry `id`, `type`, `created_at`, `colony` and the subject's ids.
//!
//! Fault knobs aimed at these routes only ([`ColonyHandle::fail_next_poll`],
//! [`ColonyHandle::cut_next_poll`]) let a test break one poll while the
//! rest of its traffic goes through.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Timelike, Utc};
use futures::StreamExt as _;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest as _;
use uuid::Uuid;

use super::messages::{self, Conversation, Kind};
use super::{groups, Caller, ColonyError, ColonyHandle, ColonyResult};
use crate::fastapi::{bounded, ApiError, FastQuery};
use crate::Shared;

/// The community stream's event types, as the document lists them.
const EVENT_TYPES: [&str; 10] = [
    "post",
    "comment",
    "reaction",
    "tip",
    "award",
    "member",
    "colony",
    "achievement",
    "agent_model_updated",
    "agent_harness_updated",
];

/// One poll the sandbox answered (or broke), in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollRequest {
    /// Which feed: `conversation_tail`, `group_conversation_tail`,
    /// `conversation_history`, `group_conversation_history` or
    /// `community_stream`.
    pub feed: &'static str,
    /// The `since_id` sent (tails).
    pub since_id: Option<String>,
    /// The `before` sent (history pages, community stream pages).
    pub before: Option<String>,
    /// The `limit` sent.
    pub limit: Option<i64>,
    /// The `If-None-Match` sent.
    pub if_none_match: Option<String>,
    /// The status answered (a cut poll shows the status it would have had).
    pub status: u16,
    /// Whether a fault knob broke this poll.
    pub faulted: bool,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Fail(u16),
    Cut,
}

/// What the polled feeds remember.
#[derive(Default)]
pub(crate) struct Data {
    log: Vec<PollRequest>,
    faults: VecDeque<Fault>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/api/v1/messages/conversations/{username}/tail",
            get(conversation_tail),
        )
        .route(
            "/api/v1/messages/conversations/{username}/history",
            get(conversation_history),
        )
        .route("/api/v1/messages/groups/{conv_id}/tail", get(group_tail))
        .route(
            "/api/v1/messages/groups/{conv_id}/history",
            get(group_history),
        )
        .route("/api/v1/community-stream", get(community_stream))
}

#[derive(Debug, Deserialize)]
struct TailQuery {
    since_id: Option<String>,
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    before: Option<String>,
    limit: Option<i64>,
}

fn uuid_query(name: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| {
        ApiError::validation(
            vec![json!("query"), json!(name)],
            "Input should be a valid UUID",
            "uuid_parsing",
        )
    })
}

/// The 1:1 conversation between two users, if they have one.
fn direct(data: &messages::Data, a: Uuid, b: Uuid) -> Option<&Conversation> {
    data.conversations
        .values()
        .find(|c| matches!(&c.kind, Kind::Direct(pair) if pair.contains(&a) && pair.contains(&b)))
}

/// The messages of a conversation the history and tails show, oldest first
/// (a group's deleted messages are left out, as its history documents).
fn shown(data: &super::Data, conv: &Conversation) -> Vec<Uuid> {
    let mut ids: Vec<(DateTime<Utc>, Uuid)> = conv
        .order
        .iter()
        .filter_map(|id| data.messages.messages.get(id))
        .filter(|m| !(m.deleted && matches!(conv.kind, Kind::Group(_))))
        .map(|m| (m.created_at, m.id))
        .collect();
    ids.sort();
    ids.into_iter().map(|(_, id)| id).collect()
}

fn created(data: &super::Data, id: &Uuid) -> Option<DateTime<Utc>> {
    data.messages.messages.get(id).map(|m| m.created_at)
}

/// A tail: the newest `limit` messages created strictly after `since_id`'s
/// (all of them without it, or when it is no message of this conversation),
/// newest first.
fn tail(
    data: &super::Data,
    conv: Option<&Conversation>,
    since: Option<Uuid>,
    limit: usize,
    viewer: Uuid,
) -> Value {
    let mut order = conv.map(|c| shown(data, c)).unwrap_or_default();
    let anchor = since
        .filter(|s| order.contains(s))
        .and_then(|s| created(data, &s));
    if let Some(at) = anchor {
        order.retain(|id| created(data, id).is_some_and(|c| c > at));
    }
    let full = order.len() >= limit;
    let newest: Vec<Value> = order
        .iter()
        .rev()
        .take(limit)
        .filter_map(|id| data.messages.messages.get(id))
        .map(|m| json!(messages::render(data, m, viewer)))
        .collect();
    json!({
        "messages": newest,
        "pagination": {"has_more": full, "total": 0},
    })
}

/// A history page: the `limit` messages just before `before`'s, oldest
/// first.
fn history(
    data: &super::Data,
    conv: Option<&Conversation>,
    before: Uuid,
    limit: usize,
    viewer: Uuid,
) -> Value {
    let order = conv.map(|c| shown(data, c)).unwrap_or_default();
    let Some(at) = order
        .contains(&before)
        .then(|| created(data, &before))
        .flatten()
    else {
        return json!({"messages": [], "has_more": false, "cursor_found": false});
    };
    let older: Vec<Uuid> = order
        .into_iter()
        .filter(|id| created(data, id).is_some_and(|c| c < at))
        .collect();
    let start = older.len().saturating_sub(limit);
    let page: Vec<Value> = older[start..]
        .iter()
        .filter_map(|id| data.messages.messages.get(id))
        .map(|m| json!(messages::render(data, m, viewer)))
        .collect();
    json!({"messages": page, "has_more": start > 0, "cursor_found": true})
}

/// What a handler's result answers.
fn respond(result: ColonyResult<(HeaderMap, Value)>) -> Response {
    match result {
        Ok((headers, body)) => {
            let mut r = Json(body).into_response();
            r.headers_mut().extend(headers);
            r
        }
        Err(e) => e.into_response(),
    }
}

/// Logs a poll and applies the armed fault, if any.
async fn answer(shared: &Shared, mut request: PollRequest, response: Response) -> Response {
    let fault = {
        let mut data = shared.colony.lock();
        let fault = data.polls.faults.pop_front();
        request.status = response.status().as_u16();
        request.faulted = fault.is_some();
        data.polls.log.push(request);
        fault
    };
    match fault {
        None => response,
        Some(Fault::Fail(status)) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (code, Json(json!({"detail": format!("injected {status}")}))).into_response()
        }
        Some(Fault::Cut) => cut(response).await,
    }
}

/// The head and half of the body, then a broken connection.
async fn cut(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let full = http_body_util::BodyExt::collect(body)
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
    let half = full.slice(..full.len() / 2);
    let chunks = futures::stream::iter([Ok::<Bytes, std::io::Error>(half)]).chain(
        futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(std::io::Error::other("poll cut by sandbox fault"))
        }),
    );
    Response::from_parts(parts, Body::from_stream(chunks))
}

fn request(feed: &'static str) -> PollRequest {
    PollRequest {
        feed,
        since_id: None,
        before: None,
        limit: None,
        if_none_match: None,
        status: 0,
        faulted: false,
    }
}

async fn conversation_tail(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(username): Path<String>,
    FastQuery(query): FastQuery<TailQuery>,
) -> Response {
    let mut log = request("conversation_tail");
    log.since_id = query.since_id.clone();
    log.limit = query.limit;
    let result = (|| -> ColonyResult<(HeaderMap, Value)> {
        let limit = bounded("limit", query.limit, 50, 1, 200)?;
        let since = query
            .since_id
            .as_deref()
            .map(|s| uuid_query("since_id", s))
            .transpose()?;
        let data = shared.colony.lock();
        let other = data.find_user(&username)?;
        let conv = direct(&data.messages, caller.0, other);
        Ok((HeaderMap::new(), tail(&data, conv, since, limit, caller.0)))
    })();
    answer(&shared, log, respond(result)).await
}

async fn conversation_history(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(username): Path<String>,
    FastQuery(query): FastQuery<HistoryQuery>,
) -> Response {
    let mut log = request("conversation_history");
    log.before = query.before.clone();
    log.limit = query.limit;
    let result = (|| -> ColonyResult<(HeaderMap, Value)> {
        let limit = bounded("limit", query.limit, 200, 1, 500)?;
        let before = query
            .before
            .as_deref()
            .ok_or_else(|| ApiError::missing_query("before"))?;
        let before = uuid_query("before", before)?;
        let data = shared.colony.lock();
        let other = data.find_user(&username)?;
        let conv = direct(&data.messages, caller.0, other);
        Ok((
            HeaderMap::new(),
            history(&data, conv, before, limit, caller.0),
        ))
    })();
    answer(&shared, log, respond(result)).await
}

async fn group_tail(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastQuery(query): FastQuery<TailQuery>,
) -> Response {
    let mut log = request("group_conversation_tail");
    log.since_id = query.since_id.clone();
    log.limit = query.limit;
    let result = (|| -> ColonyResult<(HeaderMap, Value)> {
        let limit = bounded("limit", query.limit, 50, 1, 200)?;
        let since = query
            .since_id
            .as_deref()
            .map(|s| uuid_query("since_id", s))
            .transpose()?;
        let id = groups::conv_id(&id)?;
        let data = shared.colony.lock();
        let (conv, _) = groups::member_of(&data.messages, &id, caller.0)?;
        Ok((
            HeaderMap::new(),
            tail(&data, Some(conv), since, limit, caller.0),
        ))
    })();
    answer(&shared, log, respond(result)).await
}

async fn group_history(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastQuery(query): FastQuery<HistoryQuery>,
) -> Response {
    let mut log = request("group_conversation_history");
    log.before = query.before.clone();
    log.limit = query.limit;
    let result = (|| -> ColonyResult<(HeaderMap, Value)> {
        let limit = bounded("limit", query.limit, 200, 1, 500)?;
        let before = query
            .before
            .as_deref()
            .ok_or_else(|| ApiError::missing_query("before"))?;
        let before = uuid_query("before", before)?;
        let id = groups::conv_id(&id)?;
        let data = shared.colony.lock();
        let (conv, _) = groups::member_of(&data.messages, &id, caller.0)?;
        Ok((
            HeaderMap::new(),
            history(&data, Some(conv), before, limit, caller.0),
        ))
    })();
    answer(&shared, log, respond(result)).await
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    limit: Option<i64>,
    types: Option<String>,
    colony: Option<String>,
    before: Option<String>,
    cursor: Option<String>,
}

/// One public event, with what it is sorted by.
struct Event {
    at: DateTime<Utc>,
    id: String,
    kind: &'static str,
    colony: Option<String>,
    body: Value,
}

/// Every public event the sandbox's state makes, newest first.
fn events(data: &super::Data) -> Vec<Event> {
    let mut out = Vec::new();
    for post in data.posts.posts.values() {
        out.push(Event {
            at: post.created_at,
            id: format!("post:{}", post.id),
            kind: "post",
            colony: post.colony_name.clone(),
            body: json!({
                "post_id": post.id,
                "title": post.title,
                "author": post.author.username,
            }),
        });
    }
    for comment in data.comments.comments.values() {
        let colony = data
            .posts
            .posts
            .get(&comment.post_id)
            .and_then(|p| p.colony_name.clone());
        out.push(Event {
            at: comment.created_at,
            id: format!("comment:{}", comment.id),
            kind: "comment",
            colony,
            body: json!({
                "comment_id": comment.id,
                "post_id": comment.post_id,
                "author": comment.author.username,
            }),
        });
    }
    for account in data.accounts.values().filter(|a| a.pending.is_none()) {
        out.push(Event {
            at: account.user.created_at,
            id: format!("member:{}", account.user.id),
            kind: "member",
            colony: None,
            body: json!({"user_id": account.user.id, "username": account.user.username}),
        });
    }
    out.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
    out
}

fn hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(at)
}

async fn community_stream(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    FastQuery(query): FastQuery<StreamQuery>,
) -> Response {
    let mut log = request("community_stream");
    log.limit = query.limit;
    log.before = query.before.clone().or_else(|| query.cursor.clone());
    log.if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let if_none_match = log.if_none_match.clone();
    let result = (|| -> ColonyResult<(HeaderMap, Value)> {
        let limit = bounded("limit", query.limit, 100, 1, 200)?;
        if let Some(c) = &query.colony {
            if c.chars().count() > 64 {
                return Err(ApiError::query_length("colony", c.chars().count(), 0, 64).into());
            }
        }
        if let (Some(b), Some(c)) = (&query.before, &query.cursor) {
            if b != c {
                return Err(ColonyError::bad_request(
                    "CONFLICTING_CURSORS",
                    "`cursor` is a deprecated alias of `before`; they differ",
                ));
            }
        }
        let before = query.before.as_ref().or(query.cursor.as_ref());
        let wanted: Vec<&str> = match query.types.as_deref() {
            None | Some("") => EVENT_TYPES.to_vec(),
            Some(list) => list.split(',').map(str::trim).collect(),
        };
        let data = shared.colony.lock();
        let matching: Vec<Event> = events(&data)
            .into_iter()
            .filter(|e| wanted.contains(&e.kind))
            .filter(|e| {
                query
                    .colony
                    .as_ref()
                    .is_none_or(|c| e.colony.as_ref() == Some(c))
            })
            .collect();
        drop(data);
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        let mut buckets: BTreeMap<DateTime<Utc>, BTreeMap<&str, u64>> = BTreeMap::new();
        for e in &matching {
            *totals.entry(e.kind).or_default() += 1;
            *buckets
                .entry(hour(e.at))
                .or_default()
                .entry(e.kind)
                .or_default() += 1;
        }
        // The cursor is the id of the last event of the previous page.
        let start = match before {
            Some(cursor) => matching
                .iter()
                .position(|e| &e.id == cursor)
                .map(|i| i + 1)
                .ok_or_else(|| ColonyError::bad_request("INVALID_CURSOR", "unknown cursor"))?,
            None => 0,
        };
        let page: Vec<&Event> = matching.iter().skip(start).take(limit).collect();
        let next = (start + page.len() < matching.len())
            .then(|| page.last().map(|e| e.id.clone()))
            .flatten();
        let events: Vec<Value> = page
            .iter()
            .map(|e| {
                let mut v = json!({
                    "id": e.id,
                    "type": e.kind,
                    "created_at": e.at,
                    "colony": e.colony,
                });
                if let (Value::Object(v), Value::Object(extra)) = (&mut v, &e.body) {
                    v.extend(extra.clone());
                }
                v
            })
            .collect();
        let buckets: Vec<Value> = buckets
            .into_iter()
            .map(|(hour, counts)| json!({"hour": hour, "counts": counts}))
            .collect();
        let body = json!({
            "events": events,
            "totals": totals,
            "buckets": buckets,
            "next_cursor": next,
            "oldest_cursor": next,
        });
        let etag = format!(
            "\"{:x}\"",
            sha2::Sha256::digest(body.to_string().as_bytes())
        );
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, v);
        }
        Ok((headers, body))
    })();
    // A match answers 304 with the ETag and no body.
    if let (Ok((headers, _)), Some(sent)) = (&result, &if_none_match) {
        let current = headers.get(header::ETAG).and_then(|v| v.to_str().ok());
        let matches = sent
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || Some(t) == current);
        if matches {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            response.headers_mut().extend(headers.clone());
            return answer(&shared, log, response).await;
        }
    }
    answer(&shared, log, respond(result)).await
}

impl ColonyHandle {
    /// Makes the next `n` polls of the tails, history pages or community
    /// stream answer `status` (the request is still logged, and changes
    /// nothing: these routes only read).
    pub fn fail_next_poll(&self, n: u32, status: u16) {
        let faults = &mut self.shared.colony.lock().polls.faults;
        faults.extend(std::iter::repeat_n(Fault::Fail(status), n as usize));
    }

    /// Cuts the next `n` polls: the head and half of the answer go out,
    /// then the connection breaks.
    pub fn cut_next_poll(&self, n: u32) {
        let faults = &mut self.shared.colony.lock().polls.faults;
        faults.extend(std::iter::repeat_n(Fault::Cut, n as usize));
    }

    /// Stores messages from `from` to `to` all at once (no poll sees only
    /// some of them), oldest first, and returns their ids; none if either
    /// user is unknown.
    pub fn seed_messages(&self, from: &str, to: &str, bodies: &[&str]) -> Vec<String> {
        let mut guard = self.shared.colony.lock();
        let data = &mut *guard;
        let (Ok(a), Ok(b)) = (data.find_user(from), data.find_user(to)) else {
            return Vec::new();
        };
        let conv = data.messages.direct_or_create(a, b);
        bodies
            .iter()
            .filter_map(|body| {
                let input = messages::MessageIn {
                    body: (*body).to_owned(),
                    attachment_ids: Vec::new(),
                    reply_to_message_id: None,
                };
                messages::post_message(data, conv, a, input).ok()
            })
            .map(|id| id.to_string())
            .collect()
    }

    /// Every poll of the tails, history pages and community stream so far,
    /// oldest first.
    pub fn poll_requests(&self) -> Vec<PollRequest> {
        self.shared.colony.lock().polls.log.clone()
    }
}
