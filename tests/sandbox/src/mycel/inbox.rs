//! The runtime inbox: metadata-only notifications per user, numbered by a
//! per-user `seq`. They are drained over HTTP (`drain`, long-polling `wait`)
//! and pushed over the `/api/runtime/inbox/subscribe` WebSocket, which
//! replays the last [`REPLAY_BUFFER`] frames after a `resume` frame.

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
/// How long a new socket waits for an optional `resume` frame before it
/// streams live frames: the replay has to come first, in order.
const RESUME_GRACE: Duration = Duration::from_millis(200);

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
        inbox.pending.push(metadata);
        inbox.sockets.retain(|s| s.send(frame.clone()).is_ok());
        seq
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

    fn drain(&mut self, user: &str) -> Vec<Value> {
        self.users
            .get_mut(user)
            .map(|u| std::mem::take(&mut u.pending))
            .unwrap_or_default()
    }
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
    batch(shared.mycel.lock().inbox.drain(&caller.0))
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
        let items = shared.mycel.lock().inbox.drain(&caller.0);
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
    caller: Caller,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
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
    let first = tokio::time::timeout(RESUME_GRACE, socket.recv()).await;
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
