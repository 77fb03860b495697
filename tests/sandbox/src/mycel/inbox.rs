//! The runtime inbox: metadata-only notifications per user, numbered by a
//! per-user `seq`. They are drained over HTTP (`drain`, long-polling `wait`)
//! and pushed over the `/api/runtime/inbox/subscribe` WebSocket, which
//! replays the last [`REPLAY_BUFFER`] frames after a `resume` frame.
//!
//! As in the backend, the numbering lives in memory only: a restart of the
//! inbox state ([`Data::restart`]) starts every user's seq at 1 again and
//! forgets what was queued, while chats keep their unread counts — so drain
//! and wait rebuild a chat notification for every unread chat that nothing
//! queued names.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;
use tokio::sync::mpsc;

use super::{Caller, MycelResult};
use crate::fastapi::ApiError;
use crate::Shared;

/// Notify frames kept per user for replay.
pub(crate) const REPLAY_BUFFER: usize = 256;

/// One serialized notify frame.
#[derive(Debug, Clone)]
struct Frame {
    seq: i64,
    text: String,
}

#[derive(Default)]
struct UserInbox {
    seq: i64,
    /// The last frames, for replay.
    replay: VecDeque<Frame>,
    /// Metadata not drained yet.
    pending: Vec<Value>,
    /// Open sockets.
    sockets: Vec<mpsc::UnboundedSender<Frame>>,
}

/// Every user's inbox.
#[derive(Default)]
pub(crate) struct Data {
    users: HashMap<String, UserInbox>,
}

impl Data {
    /// Records one notification for `user` and returns its seq. Callers wake
    /// long-polling waits after releasing the lock.
    pub(crate) fn push(&mut self, user: &str, metadata: Value) -> i64 {
        let inbox = self.users.entry(user.to_owned()).or_default();
        inbox.seq += 1;
        let seq = inbox.seq;
        let fingerprint = hex::encode(sha2::Sha256::digest(metadata.to_string().as_bytes()));
        let ts = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
        let text = json!({
            "type": "notify",
            "seq": seq,
            "fingerprint": fingerprint,
            "ts": ts,
            "metadata": metadata,
        })
        .to_string();
        let frame = Frame { seq, text };
        inbox.replay.push_back(frame.clone());
        if inbox.replay.len() > REPLAY_BUFFER {
            inbox.replay.pop_front();
        }
        let mut queued = metadata;
        if let Value::Object(m) = &mut queued {
            m.insert("seq".into(), json!(seq));
        }
        inbox.pending.push(queued);
        inbox.sockets.retain(|s| s.send(frame.clone()).is_ok());
        seq
    }

    /// What a backend restart does to the inbox: every seq starts again at
    /// 1, the replay buffers and the queues are gone, and so are the open
    /// sockets (their senders are dropped, which ends them).
    pub(crate) fn restart(&mut self) {
        self.users.clear();
    }

    pub(crate) fn seq(&self, user: &str) -> i64 {
        self.users.get(user).map_or(0, |u| u.seq)
    }

    pub(crate) fn connections(&self) -> usize {
        self.users
            .values()
            .map(|u| u.sockets.iter().filter(|s| !s.is_closed()).count())
            .sum()
    }

    fn take_pending(&mut self, user: &str) -> Vec<Value> {
        self.users
            .get_mut(user)
            .map(|u| std::mem::take(&mut u.pending))
            .unwrap_or_default()
    }
}

/// What a drain or a wait hands out: the queued notifications, then one
/// rebuilt from the unread count of every unread chat none of them names.
fn hand_out(data: &mut super::Data, user: &str) -> Vec<Value> {
    let mut items = data.inbox.take_pending(user);
    let named: std::collections::HashSet<String> = items
        .iter()
        .filter(|i| i["notification_type"] == "chat")
        .filter_map(|i| i["chat_id"].as_str().map(str::to_owned))
        .collect();
    let rebuilt: Vec<Value> = data
        .chats
        .unread_notifications(user)
        .into_iter()
        .filter(|n| n["chat_id"].as_str().is_some_and(|c| !named.contains(c)))
        .collect();
    items.extend(rebuilt);
    items
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/runtime/inbox/drain", post(drain))
        .route("/api/runtime/inbox/wait", post(wait))
        .route("/api/runtime/inbox/subscribe", get(subscribe))
}

fn batch(items: Vec<Value>) -> Json<Value> {
    Json(json!({ "count": items.len(), "notifications": items }))
}

async fn drain(AxumState(shared): AxumState<Arc<Shared>>, caller: Caller) -> Json<Value> {
    batch(hand_out(&mut shared.mycel.lock(), &caller.0))
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout_seconds: Option<String>,
}

async fn wait(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(q): Query<WaitQuery>,
) -> MycelResult<Json<Value>> {
    let timeout = match q.timeout_seconds.as_deref() {
        None => 25.0,
        Some(s) => match s.parse::<f64>() {
            Ok(t) if (0.0..=30.0).contains(&t) => t,
            _ => {
                return Err(ApiError::validation(
                    vec!["query".into(), "timeout_seconds".into()],
                    "Input should be between 0 and 30",
                    "less_than_equal",
                ))
            }
        },
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(timeout);
    loop {
        // Registered before looking, so a push between the look and the
        // await still wakes this request.
        let notified = shared.mycel.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let items = hand_out(&mut shared.mycel.lock(), &caller.0);
        if !items.is_empty() {
            return Ok(batch(items));
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Ok(batch(Vec::new()));
        }
    }
}

async fn subscribe(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Result<Caller, ApiError>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
    // The backend closes with 1008 before accepting, which the HTTP
    // handshake answers as 403 — not FastAPI's 401 of the HTTP routes.
    let caller = caller.map_err(|_| ApiError::new(StatusCode::FORBIDDEN, "Not authenticated"))?;
    Ok(ws.on_upgrade(move |socket| serve_socket(shared, caller.0, socket)))
}

#[derive(Deserialize)]
struct ResumeFrame {
    #[serde(rename = "type")]
    kind: String,
    since_seq: i64,
}

async fn serve_socket(shared: Arc<Shared>, user: String, mut socket: WebSocket) {
    let mut disconnect = shared.mycel.disconnect.subscribe();
    disconnect.mark_unchanged();
    let mut freeze = shared.mycel.freeze.subscribe();
    freeze.mark_unchanged();
    let (tx, mut rx) = mpsc::unbounded_channel();
    shared
        .mycel
        .lock()
        .inbox
        .users
        .entry(user.clone())
        .or_default()
        .sockets
        .push(tx);

    // Highest seq written to this socket; live frames at or below it were
    // already sent by the replay.
    let mut sent: i64 = i64::MIN;
    // As the backend: nothing is streamed before the client's first frame,
    // which may take as long as it likes. A `resume` frame asks for the
    // replay; any other is skipped.
    let first = tokio::select! {
        biased;
        _ = disconnect.changed() => return,
        first = socket.recv() => first,
    };
    let first: Result<_, ()> = Ok(first);
    if let Ok(Some(Ok(Message::Text(text)))) = first {
        if let Ok(resume) = serde_json::from_str::<ResumeFrame>(text.as_str()) {
            if resume.kind == "resume" {
                let replay = {
                    let data = shared.mycel.lock();
                    let inbox = data.inbox.users.get(&user);
                    let oldest = inbox.and_then(|u| u.replay.front()).map(|f| f.seq);
                    match oldest {
                        Some(oldest) if resume.since_seq + 1 < oldest => Err(json!({
                            "type": "replay_overflow",
                            "since_seq": resume.since_seq,
                            "oldest_seq": oldest,
                        })),
                        _ => Ok(inbox
                            .map(|u| {
                                u.replay
                                    .iter()
                                    .filter(|f| f.seq > resume.since_seq)
                                    .cloned()
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default()),
                    }
                };
                match replay {
                    Err(overflow) => {
                        if socket
                            .send(Message::Text(overflow.to_string().into()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    Ok(frames) => {
                        for f in frames {
                            sent = f.seq;
                            if socket.send(Message::Text(f.text.into())).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        }
    } else if matches!(
        first,
        Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_))))
    ) {
        return;
    }

    loop {
        tokio::select! {
            // Knobs first: a test that freezes or drops the sockets and then
            // pushes must never see the push go out on the old socket.
            biased;
            // Dropping the socket without a close frame is what a network
            // failure looks like to the client.
            _ = disconnect.changed() => return,
            // Holding the socket without polling it: no frames, no pongs.
            _ = freeze.changed() => {
                let _ = disconnect.changed().await;
                return;
            }
            frame = rx.recv() => {
                let Some(frame) = frame else { return };
                if frame.seq <= sent {
                    continue;
                }
                sent = frame.seq;
                if socket.send(Message::Text(frame.text.into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Later client frames carry nothing the server acts on.
                Some(Ok(_)) => {}
            },
        }
    }
}
