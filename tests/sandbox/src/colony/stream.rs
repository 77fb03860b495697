//! The real-time feed, `GET /api/v1/stream`: Server-Sent Events for the
//! caller, with ids, replay after `Last-Event-ID` from a bounded buffer,
//! heartbeat comments, and knobs that cut a connection in the middle of an
//! event, end streams cleanly, set `retry:` or write raw bytes.
//!
//! What the service documents: the `channels`, `token`, `verbosity`,
//! `types` and `last_event_id` parameters and the `Last-Event-ID` header;
//! replay of the events after the given id; `types` narrowing only
//! `notification.new` events, an unknown type refused with 400; `full`
//! verbosity adding the REST object to `notification.new` and `dm.new`;
//! the channel `user:<self>:notifications`; the event names
//! `notification.new`, `dm.new` and `dm.typing`.
//!
//! What the sandbox chooses where the document is silent, and the facade
//! does not depend on: ids `<unix ms>-<seq>` (as a Redis stream numbers its
//! entries); the channels `user:<id or username>:dm` (direct messages) and
//! `activity` (posts and comments, as `post.created` and `comment.created`,
//! the webhook names of those events); the caller's notifications and DM
//! channels when `channels` is empty; 403 for another account's channel and
//! 400 for an unknown one; the thin payloads (`id`, `notification_type` /
//! `conversation_id`, `sender`…); a `: keepalive` comment every 15 s.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentwire_colony_transport::types;
use axum::body::Body;
use axum::extract::{Query, Request, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::{ColonyError, ColonyHandle, ColonyResult};
use crate::Shared;

/// Events kept for replay unless [`ColonyHandle::set_stream_buffer`] says
/// otherwise.
const DEFAULT_BUFFER: usize = 1000;
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
/// The channel of posts and comments everywhere.
const ACTIVITY: &str = "activity";
/// Notification types the sandbox itself raises, beside the contract's
/// `WebhookEvent` names.
const SANDBOX_NOTIFICATION_TYPES: &[&str] = &["comment", "reply", "mention", "vote", "follow"];

/// One entry of the feed.
#[derive(Debug, Clone)]
enum Entry {
    Event(Event),
    /// Bytes written as they are to every connection (a test's garbage).
    Raw(Bytes),
}

#[derive(Debug, Clone)]
struct Event {
    id: String,
    channel: String,
    name: String,
    compact: Value,
    /// The REST object `verbosity=full` adds as `full`.
    full: Option<Value>,
    notification_type: Option<String>,
}

/// What the streams of the sandbox wake up on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tip {
    /// The newest entry's seq.
    seq: u64,
    /// Bumped by [`ColonyHandle::close_streams`].
    closes: u64,
}

/// One accepted connection, as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamRequest {
    /// The id it resumed after (`Last-Event-ID`, else `last_event_id`).
    pub last_event_id: Option<String>,
    /// Whether it authenticated with the `token` query parameter.
    pub token_in_url: bool,
    /// The channels it subscribed to, as resolved.
    pub channels: Vec<String>,
}

/// The feed's state.
pub(crate) struct Data {
    entries: VecDeque<(u64, Entry)>,
    next_seq: u64,
    capacity: usize,
    tip: watch::Sender<Tip>,
    cut_next: u32,
    retry: Option<Duration>,
    heartbeat: Duration,
    requests: Vec<StreamRequest>,
    open: Arc<AtomicUsize>,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            entries: VecDeque::new(),
            next_seq: 1,
            capacity: DEFAULT_BUFFER,
            tip: watch::Sender::new(Tip::default()),
            cut_next: 0,
            retry: None,
            heartbeat: DEFAULT_HEARTBEAT,
            requests: Vec::new(),
            open: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Data {
    fn push(&mut self, entry: Entry) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back((seq, entry));
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
        self.tip.send_modify(|t| t.seq = seq);
        seq
    }

    fn publish(
        &mut self,
        channel: String,
        name: &str,
        compact: Value,
        full: Option<Value>,
        notification_type: Option<String>,
    ) {
        let seq = self.next_seq;
        let id = format!("{}-{seq}", chrono::Utc::now().timestamp_millis());
        self.push(Entry::Event(Event {
            id,
            channel,
            name: name.to_owned(),
            compact,
            full,
            notification_type,
        }));
    }
}

fn notifications_channel(user: Uuid) -> String {
    format!("user:{user}:notifications")
}

fn dm_channel(user: Uuid) -> String {
    format!("user:{user}:dm")
}

/// Raises `notification.new` for a notification just recorded.
pub(crate) fn notified(data: &mut super::Data, recipient: Uuid, n: &types::Notification) {
    let compact = json!({
        "id": n.id,
        "notification_type": n.notification_type,
        "post_id": n.post_id,
        "comment_id": n.comment_id,
    });
    let full = serde_json::to_value(n).ok();
    data.stream.publish(
        notifications_channel(recipient),
        "notification.new",
        compact,
        full,
        Some(n.notification_type.clone()),
    );
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/v1/stream", get(subscribe))
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    #[serde(default)]
    channels: String,
    token: Option<String>,
    verbosity: Option<String>,
    #[serde(default)]
    types: String,
    last_event_id: Option<String>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The account a token belongs to, as [`super::Caller`] decides it.
fn account_of(shared: &Shared, token: Option<&str>) -> ColonyResult<Uuid> {
    let token = token.ok_or_else(|| ColonyError::unauthorized("Not authenticated"))?;
    let epoch = shared.faults.token_epoch();
    let data = shared.colony.lock();
    match data.tokens.get(token) {
        Some((id, issued)) if *issued == epoch && data.accounts.contains_key(id) => Ok(*id),
        Some(_) => Err(ColonyError::unauthorized("Token expired")),
        None => Err(ColonyError::unauthorized("Invalid token")),
    }
}

/// The seq of an id the sandbox gave (`<ms>-<seq>`).
fn seq_of(id: &str) -> Option<u64> {
    let (_, seq) = id.split_once('-')?;
    seq.parse().ok()
}

async fn subscribe(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> ColonyResult<Response> {
    let header_token = bearer(&headers);
    let token_in_url = header_token.is_none() && query.token.is_some();
    let me = account_of(&shared, header_token.or(query.token.as_deref()))?;
    let full = match query.verbosity.as_deref().unwrap_or("compact") {
        "compact" => false,
        "full" => true,
        other => {
            return Err(ColonyError::bad_request(
                "INVALID_INPUT",
                format!("verbosity must be 'compact' or 'full', not {other:?}"),
            ))
        }
    };
    let mut types = HashSet::new();
    for t in query
        .types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let known = !matches!(types::WebhookEvent::from(t), types::WebhookEvent::Other(_))
            || SANDBOX_NOTIFICATION_TYPES.contains(&t);
        if !known {
            return Err(ColonyError::bad_request(
                "INVALID_INPUT",
                format!("unknown notification type {t:?}"),
            ));
        }
        types.insert(t.to_owned());
    }
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(query.last_event_id)
        .filter(|id| !id.is_empty());
    let after = match &resume {
        Some(id) => Some(seq_of(id).ok_or_else(|| {
            ColonyError::bad_request("INVALID_INPUT", format!("not an event id: {id:?}"))
        })?),
        None => None,
    };

    let mut data = shared.colony.lock();
    let channels = resolve_channels(&data, me, &query.channels)?;
    let stream = &mut data.stream;
    stream.requests.push(StreamRequest {
        last_event_id: resume,
        token_in_url,
        channels: channels.clone(),
    });
    let tip = stream.tip.subscribe();
    let cursor = after.unwrap_or(tip.borrow().seq);
    let closes = tip.borrow().closes;
    let open = Guard::new(stream.open.clone());
    let mut preamble = String::new();
    if let Some(retry) = stream.retry {
        preamble.push_str(&format!("retry: {}\n", retry.as_millis()));
    }
    preamble.push_str(": connected\n\n");
    let heartbeat = stream.heartbeat;
    drop(data);

    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let connection = Connection {
        shared: shared.clone(),
        channels: channels.into_iter().collect(),
        types,
        full,
        cursor,
        closes,
        tip,
        tx,
        heartbeat,
        _open: open,
    };
    tokio::spawn(connection.run(Bytes::from(preamble)));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// The channels a request names, checked and resolved to account ids.
fn resolve_channels(data: &super::Data, me: Uuid, raw: &str) -> ColonyResult<Vec<String>> {
    let names: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if names.is_empty() {
        return Ok(vec![notifications_channel(me), dm_channel(me)]);
    }
    let mut out = Vec::new();
    for name in names {
        if name == ACTIVITY {
            out.push(ACTIVITY.to_owned());
            continue;
        }
        let parts: Vec<&str> = name.split(':').collect();
        let ["user", who, kind @ ("notifications" | "dm")] = parts.as_slice() else {
            return Err(ColonyError::bad_request(
                "INVALID_INPUT",
                format!("unknown channel {name:?}"),
            ));
        };
        match data.find_user(who) {
            Ok(id) if id == me => out.push(format!("user:{me}:{kind}")),
            _ => {
                return Err(ColonyError::forbidden(format!(
                    "channel {name:?} belongs to another account"
                )))
            }
        }
    }
    Ok(out)
}

/// Counts an open connection for as long as it lives.
struct Guard(Arc<AtomicUsize>);

impl Guard {
    fn new(open: Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Guard(open)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Connection {
    shared: Arc<Shared>,
    channels: HashSet<String>,
    types: HashSet<String>,
    full: bool,
    /// The seq of the last entry written (or skipped).
    cursor: u64,
    /// [`Tip::closes`] when the connection opened.
    closes: u64,
    tip: watch::Receiver<Tip>,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    heartbeat: Duration,
    _open: Guard,
}

/// What to write next on a connection.
enum Step {
    Write(Vec<Bytes>),
    /// Write these, the first half of the next frame, then break the
    /// connection.
    Cut(Vec<Bytes>, Bytes),
    Close,
}

impl Connection {
    async fn run(mut self, preamble: Bytes) {
        if self.tx.send(Ok(preamble)).await.is_err() {
            return;
        }
        loop {
            match self.step() {
                Step::Close => return,
                Step::Cut(chunks, half) => {
                    for chunk in chunks {
                        if self.tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                    let _ = self.tx.send(Ok(half)).await;
                    // A pause lets hyper flush the half frame before the
                    // error makes it drop the connection.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    tracing::debug!("sandbox fault: event stream cut mid-event");
                    let _ = self
                        .tx
                        .send(Err(std::io::Error::other(
                            "event stream cut by sandbox fault",
                        )))
                        .await;
                    return;
                }
                Step::Write(chunks) => {
                    for chunk in chunks {
                        if self.tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            tokio::select! {
                changed = self.tip.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(self.heartbeat) => {
                    if self.tx.send(Ok(Bytes::from_static(b": keepalive\n\n"))).await.is_err() {
                        return;
                    }
                }
                _ = self.tx.closed() => return,
            }
        }
    }

    /// Takes the entries after the cursor that this connection delivers.
    fn step(&mut self) -> Step {
        let mut data = self.shared.colony.lock();
        let stream = &mut data.stream;
        if stream.tip.borrow().closes != self.closes {
            return Step::Close;
        }
        // Under the lock that every publication takes: whatever is
        // published after this step wakes the connection up.
        let _ = self.tip.borrow_and_update();
        let mut chunks = Vec::new();
        let mut cut = None;
        let from = self.cursor;
        for (seq, entry) in stream.entries.iter().filter(|(s, _)| *s > from) {
            let frame = match entry {
                Entry::Raw(bytes) => bytes.clone(),
                Entry::Event(e) if self.delivers(e) => self.frame(e),
                Entry::Event(_) => {
                    self.cursor = *seq;
                    continue;
                }
            };
            if matches!(entry, Entry::Event(_)) && stream.cut_next > 0 {
                cut = Some(frame.slice(..frame.len() / 2));
                break;
            }
            self.cursor = *seq;
            chunks.push(frame);
        }
        match cut {
            Some(half) => {
                stream.cut_next -= 1;
                Step::Cut(chunks, half)
            }
            None => Step::Write(chunks),
        }
    }

    fn delivers(&self, e: &Event) -> bool {
        if !self.channels.contains(&e.channel) {
            return false;
        }
        match (&e.notification_type, e.name.as_str()) {
            (Some(t), "notification.new") if !self.types.is_empty() => self.types.contains(t),
            _ => true,
        }
    }

    fn frame(&self, e: &Event) -> Bytes {
        let mut data = e.compact.clone();
        if let (true, Some(full), Some(map)) = (self.full, &e.full, data.as_object_mut()) {
            map.insert("full".into(), full.clone());
        }
        Bytes::from(format!(
            "id: {}\nevent: {}\ndata: {}\n\n",
            e.id, e.name, data
        ))
    }
}

/// Raises the feed's events for what a request did, from its answer:
/// `post.created` and `comment.created` on `activity`, `dm.new` to the
/// recipient of a direct message. A replayed answer (`Idempotent-Replay`)
/// raises nothing: the first one did.
pub(crate) async fn observe(
    AxumState(shared): AxumState<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let what = match (request.method(), segments.as_slice()) {
        (&Method::POST, ["api", "v1", "posts"]) => Observed::Post,
        (&Method::POST, ["api", "v1", "posts", _, "comments"]) => Observed::Comment,
        (&Method::POST, ["api", "v1", "messages", "send", to]) => Observed::Dm((*to).to_owned()),
        _ => return next.run(request).await,
    };
    let response = next.run(request).await;
    if !response.status().is_success() || response.headers().contains_key("idempotent-replay") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = body.collect().await.map(|b| b.to_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
        let mut data = shared.colony.lock();
        match what {
            Observed::Post => {
                let compact = json!({
                    "id": value["id"],
                    "title": value["title"],
                    "author": value["author"]["username"],
                    "colony": value["colony_name"],
                });
                data.stream
                    .publish(ACTIVITY.into(), "post.created", compact, None, None);
            }
            Observed::Comment => {
                let compact = json!({
                    "id": value["id"],
                    "post_id": value["post_id"],
                    "author": value["author"]["username"],
                });
                data.stream
                    .publish(ACTIVITY.into(), "comment.created", compact, None, None);
            }
            Observed::Dm(to) => {
                if let Ok(to) = data.find_user(&to) {
                    let compact = json!({
                        "id": value["id"],
                        "conversation_id": value["conversation_id"],
                        "sender": value["sender"]["username"],
                    });
                    data.stream
                        .publish(dm_channel(to), "dm.new", compact, Some(value), None);
                }
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

enum Observed {
    Post,
    Comment,
    Dm(String),
}

/// The feed's knobs and what it saw.
impl ColonyHandle {
    /// Cuts the next `n` events written on any stream connection: the
    /// first half of the frame goes out, then the connection breaks, as a
    /// network drop in the middle of an event. The cut event stays in the
    /// buffer, so a client resuming after the previous id gets it.
    pub fn cut_stream_next(&self, n: u32) {
        self.shared.colony.lock().stream.cut_next += n;
    }

    /// Ends every open stream connection cleanly (as a deploy would).
    pub fn close_streams(&self) {
        self.shared
            .colony
            .lock()
            .stream
            .tip
            .send_modify(|t| t.closes += 1);
    }

    /// The `retry:` reconnection time sent at the start of every new
    /// stream connection (none by default).
    pub fn set_stream_retry(&self, retry: Option<Duration>) {
        self.shared.colony.lock().stream.retry = retry;
    }

    /// How often an idle connection gets a `: keepalive` comment (default
    /// 15 s), for connections opened from now on.
    pub fn set_stream_heartbeat(&self, every: Duration) {
        self.shared.colony.lock().stream.heartbeat = every.max(Duration::from_millis(1));
    }

    /// How many entries the feed keeps for replay (default 1000); older
    /// ones are gone for a client resuming after them.
    pub fn set_stream_buffer(&self, entries: usize) {
        let mut data = self.shared.colony.lock();
        data.stream.capacity = entries.max(1);
        while data.stream.entries.len() > data.stream.capacity {
            data.stream.entries.pop_front();
        }
    }

    /// Publishes an event on `channel` (`user:<id>:notifications`,
    /// `user:<id>:dm`, `activity`) with `data` as its payload; returns its
    /// id.
    pub fn publish_stream_event(&self, channel: &str, event: &str, data: Value) -> String {
        let mut guard = self.shared.colony.lock();
        let stream = &mut guard.stream;
        stream.publish(channel.to_owned(), event, data, None, None);
        match stream.entries.back() {
            Some((_, Entry::Event(e))) => e.id.clone(),
            _ => String::new(),
        }
    }

    /// Writes `bytes` as they are on every stream connection, in order
    /// with the events (and again to a client that resumes before them).
    pub fn write_stream_bytes(&self, bytes: &[u8]) {
        self.shared
            .colony
            .lock()
            .stream
            .push(Entry::Raw(Bytes::copy_from_slice(bytes)));
    }

    /// Every stream connection accepted so far, oldest first.
    pub fn stream_requests(&self) -> Vec<StreamRequest> {
        self.shared.colony.lock().stream.requests.clone()
    }

    /// Stream connections open now.
    pub fn open_streams(&self) -> usize {
        self.shared.colony.lock().stream.open.load(Ordering::SeqCst)
    }
}
