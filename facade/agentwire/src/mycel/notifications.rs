//! The runtime inbox: metadata-only notifications, drained over HTTP or
//! streamed over the `/api/runtime/inbox/subscribe` WebSocket.
//!
//! The stream reconnects by itself and resumes from the last seq it
//! yielded (the server replays what was missed), so across reconnects no
//! notification is lost or yielded twice. The backend keeps the seq in
//! memory: after it restarts, seqs start again at 1. The stream notices
//! (a frame at or below the last seq that it has not yielded), drains the
//! inbox over HTTP to pick up what the new numbering already held, and
//! carries on from the new seqs — again losing nothing and repeating
//! nothing. It does the same when the server can no longer replay from the
//! last seq (`replay_overflow`).
//!
//! A restart is noticed at the first frame of the new numbering that is at
//! or below the last seq yielded. One case the protocol cannot show: when
//! the restarted backend has numbered past the last seq before the stream
//! is back, its replay looks like a continuation, and what the new
//! numbering held at or below that seq is only in the inbox — chats stay
//! unread, so a [`Notifications::drain`] still reports them.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use agentwire_mycel_transport::types;
use agentwire_runtime::{Error, NetworkErrorKind, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

use super::{Client, Inbox, Notification, NotificationMetadata, SERVICE, STREAM_OPERATION};
use crate::ItemStream;

/// Longest wait the service accepts.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Default number of consecutive failed connection attempts after which
/// the stream gives up.
pub const DEFAULT_MAX_RECONNECT_ATTEMPTS: u32 = 8;
/// A connection that stayed up this long counts as healthy when it drops,
/// even if it carried nothing.
const STABLE_AFTER: Duration = Duration::from_secs(5);

/// The runtime inbox. See [`Client::notifications`].
#[derive(Debug, Clone, Copy)]
pub struct Notifications<'a> {
    pub(crate) client: &'a Client,
}

impl Notifications<'_> {
    /// Takes every queued notification at once (possibly none).
    pub async fn drain(&self) -> Result<Inbox> {
        let c = self.client;
        let out = c.authed()?.notifications_drain().await?;
        inbox(c, out.0)
    }

    /// Like [`drain`](Self::drain), but when nothing is queued waits up to
    /// `timeout` (at most [`MAX_WAIT`], and less than the client's request
    /// timeout) for something to arrive; may still return none.
    pub async fn wait(&self, timeout: Duration) -> Result<Inbox> {
        let c = self.client;
        if timeout > MAX_WAIT {
            return Err(Error::InvalidArgument {
                name: "timeout",
                message: format!("at most {} s", MAX_WAIT.as_secs()),
            });
        }
        let request_timeout = c
            .inner
            .settings
            .common
            .attempt_timeout(super::DEFAULT_TIMEOUT);
        if timeout >= request_timeout {
            return Err(Error::InvalidArgument {
                name: "timeout",
                message: format!(
                    "must be shorter than the client's request timeout ({:.1} s)",
                    request_timeout.as_secs_f64()
                ),
            });
        }
        let op = c.authed()?.notifications_wait();
        let out = op.timeout_seconds(timeout.as_secs_f64()).await?;
        inbox(c, out.0)
    }

    /// Streams notifications over the inbox WebSocket, starting after
    /// `since_seq` (`None`: only new ones; `Some(0)`: everything the server
    /// still holds). Configure reconnection on the returned value, then call
    /// [`InboxStream::into_stream`].
    pub fn stream(&self, since_seq: Option<i64>) -> InboxStream {
        InboxStream {
            client: self.client.clone(),
            since_seq,
            reconnect: true,
            max_attempts: DEFAULT_MAX_RECONNECT_ATTEMPTS,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            heartbeat: Some(DEFAULT_HEARTBEAT),
            recover: true,
        }
    }
}

/// The first frame of a stream that resumes from nothing.
const SUBSCRIBE_FRAME: &str = r#"{"type":"subscribe"}"#;

/// How many yielded notifications the stream remembers to recognise a
/// repeat.
const REMEMBERED: usize = 1024;

/// How long the inbox stream waits on a silent connection before it pings
/// the server; a second silent interval means the connection is dead.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

fn inbox(c: &Client, answer: Map<String, Value>) -> Result<Inbox> {
    let counted = answer.get("count").is_some_and(|n| !n.is_null());
    let mut inbox: Inbox = c.decode(Value::Object(answer))?;
    if !counted {
        inbox.count = inbox.notifications.len() as u64;
    }
    Ok(inbox)
}

/// A configured inbox stream; finish with [`InboxStream::into_stream`].
#[must_use = "call into_stream() to receive notifications"]
#[derive(Debug)]
pub struct InboxStream {
    client: Client,
    since_seq: Option<i64>,
    reconnect: bool,
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    heartbeat: Option<Duration>,
    recover: bool,
}

impl InboxStream {
    /// Whether the stream recovers by itself when the backend's numbering
    /// restarted (a backend restart) or it can no longer replay from the
    /// last seq (`replay_overflow`): it then drains the inbox over HTTP and
    /// yields what it has not yielded yet, before carrying on (default
    /// true). Draining takes the queued notifications away from any other
    /// consumer of the same identity. Without it, both end the stream with
    /// [`Error::Stream`]: drain the inbox and re-read the chats, then
    /// stream again.
    pub fn recover_by_draining(mut self, yes: bool) -> Self {
        self.recover = yes;
        self
    }

    /// After `interval` without any frame the stream sends a WebSocket ping;
    /// when another `interval` passes with no frame at all (not even the
    /// pong), the connection counts as lost — a half-open TCP connection
    /// would otherwise wait forever. `None` turns this off. Default
    /// [`DEFAULT_HEARTBEAT`].
    pub fn heartbeat(mut self, interval: Option<Duration>) -> Self {
        self.heartbeat = interval.filter(|d| !d.is_zero());
        self
    }

    /// Whether to reconnect after a lost connection (default true). Without
    /// it, a lost connection ends the stream with [`Error::Network`].
    pub fn reconnect(mut self, yes: bool) -> Self {
        self.reconnect = yes;
        self
    }

    /// Consecutive failed connection attempts after which the stream yields
    /// the last error and ends (default [`DEFAULT_MAX_RECONNECT_ATTEMPTS`],
    /// at least 1). A connection that closes before carrying anything
    /// counts as a failed attempt.
    pub fn max_reconnect_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Pause before the first retry after a failure, doubled for each further
    /// failure up to `max` (default 250 ms, up to 30 s). The first reconnect
    /// after a healthy connection drops is immediate.
    pub fn reconnect_delay(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max.max(initial);
        self
    }

    /// The notifications, in seq order (after a backend restart, in the new
    /// numbering's order), each once. A notification is the same one when
    /// it names the same message of the same chat (`message_id`), else when
    /// every field that describes it is equal. Errors that end the stream:
    /// the error of the recovering drain, or [`Error::Stream`] for a
    /// restart or `replay_overflow` when
    /// [`recover_by_draining`](Self::recover_by_draining) is off; the
    /// connection error once reconnecting is off or has failed too often in
    /// a row; and any refusal of the handshake that retrying cannot fix
    /// (401, 403…).
    pub fn into_stream(self) -> ItemStream<Notification> {
        let state = Subscription {
            last_seq: self.since_seq,
            opts: self,
            socket: None,
            failures: 0,
            connected_at: Instant::now(),
            delivered: false,
            pinged: false,
            done: false,
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            recovered: VecDeque::new(),
        };
        Box::pin(futures_util::stream::unfold(state, |mut s| async move {
            let item = s.next().await?;
            Some((item, s))
        }))
    }
}

type Socket = WebSocketStream<reqwest::Upgraded>;

struct Subscription {
    opts: InboxStream,
    /// The last seq yielded (or the starting point): resumed from, and
    /// anything at or below it is a replay already seen.
    last_seq: Option<i64>,
    socket: Option<Socket>,
    /// Consecutive failed attempts.
    failures: u32,
    connected_at: Instant,
    /// Whether the current connection carried a notification.
    delivered: bool,
    /// Whether a heartbeat ping is waiting for any frame in return.
    pinged: bool,
    done: bool,
    /// Identities of the notifications yielded lately (see [`identity`]).
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    /// Notifications a recovering drain found, waiting to be yielded.
    recovered: VecDeque<Notification>,
}

impl Subscription {
    async fn next(&mut self) -> Option<Result<Notification>> {
        loop {
            if let Some(n) = self.recovered.pop_front() {
                return Some(Ok(n));
            }
            if self.done {
                return None;
            }
            let Some(socket) = self.socket.as_mut() else {
                match connect(&self.opts.client, self.last_seq).await {
                    Ok(socket) => {
                        self.socket = Some(socket);
                        self.connected_at = Instant::now();
                        self.delivered = false;
                        self.pinged = false;
                    }
                    Err(e) => {
                        let retry = self.opts.reconnect && e.is_transient();
                        if let Some(e) = self.failed(e, retry).await {
                            return Some(Err(e));
                        }
                    }
                }
                continue;
            };
            let received = match self.opts.heartbeat {
                None => socket.next().await,
                Some(interval) => match tokio::time::timeout(interval, socket.next()).await {
                    Ok(received) => received,
                    Err(_) if self.pinged => Some(Err(tokio_tungstenite::tungstenite::Error::Io(
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no frame for {:.1?} after a heartbeat ping", interval),
                        ),
                    ))),
                    Err(_) => match socket.send(Frame::Ping(Default::default())).await {
                        Ok(()) => {
                            self.pinged = true;
                            continue;
                        }
                        Err(e) => Some(Err(e)),
                    },
                },
            };
            if matches!(received, Some(Ok(_))) {
                self.pinged = false;
            }
            let lost = match received {
                Some(Ok(Frame::Text(text))) => match self.on_text(text.as_str()) {
                    Seen::Yield(item) => return Some(item),
                    Seen::Skip => continue,
                    Seen::Recover { frame, why } => match self.recover(frame, why).await {
                        Some(err) => return Some(Err(err)),
                        None => continue,
                    },
                },
                Some(Ok(Frame::Close(_))) | None => "the server closed the inbox stream".to_owned(),
                Some(Ok(_)) => continue,
                Some(Err(e)) => format!("the inbox stream broke: {e}"),
            };
            self.socket = None;
            let err = network_failure(&self.opts.client, lost);
            if !self.opts.reconnect {
                self.done = true;
                return Some(Err(err));
            }
            if self.delivered || self.connected_at.elapsed() >= STABLE_AFTER {
                self.failures = 0;
            } else if let Some(e) = self.failed(err, true).await {
                return Some(Err(e));
            }
        }
    }

    /// Counts a failed attempt: returns the error when the stream should end
    /// with it, else waits before the next attempt.
    async fn failed(&mut self, err: Error, retry: bool) -> Option<Error> {
        self.failures += 1;
        if !retry || self.failures >= self.opts.max_attempts {
            self.done = true;
            self.socket = None;
            return Some(err);
        }
        let exp = self.failures.saturating_sub(1).min(16);
        let delay = self
            .opts
            .initial_delay
            .saturating_mul(1u32 << exp)
            .min(self.opts.max_delay);
        tracing::debug!(
            service = SERVICE,
            attempt = self.failures,
            delay_ms = delay.as_millis() as u64,
            "inbox stream reconnecting"
        );
        tokio::time::sleep(delay).await;
        None
    }

    /// Remembers a yielded notification, forgetting the oldest beyond
    /// [`REMEMBERED`].
    fn remember(&mut self, n: &Notification) {
        let id = identity(&n.metadata);
        if self.seen.insert(id.clone()) {
            self.seen_order.push_back(id);
            if self.seen_order.len() > REMEMBERED {
                if let Some(old) = self.seen_order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }

    /// Yields `n` as the newest notification.
    fn deliver(&mut self, n: Notification) -> Seen {
        self.last_seq = Some(n.seq);
        self.delivered = true;
        self.failures = 0;
        self.remember(&n);
        Seen::Yield(Ok(n))
    }

    /// Drains the inbox after a restart of the backend's numbering (`frame`:
    /// the first frame of the new one) or a replay overflow, and queues what
    /// was not yielded yet, in seq order. Returns the error that ends the
    /// stream, if any.
    async fn recover(&mut self, frame: Option<Notification>, why: Value) -> Option<Error> {
        let c = self.opts.client.clone();
        if !self.opts.recover {
            self.done = true;
            self.socket = None;
            return Some(Error::Stream {
                service: SERVICE,
                message: match &frame {
                    Some(f) => format!(
                        "the inbox numbering restarted (seq {} after {}): the backend restarted; \
                         drain the inbox and re-read the chats, then stream again",
                        f.seq,
                        self.last_seq.unwrap_or_default()
                    ),
                    None => overflow_message(&why),
                },
                raw: why,
            });
        }
        tracing::debug!(
            service = SERVICE,
            last_seq = self.last_seq,
            restart = frame.is_some(),
            "inbox stream recovering by a drain"
        );
        let drained = match c.notifications().drain().await {
            Ok(inbox) => inbox.notifications,
            Err(e) => {
                self.done = true;
                self.socket = None;
                return Some(e);
            }
        };
        // In the new numbering the last seq yielded means nothing: what
        // counts from now on is the newest seq the backend has handed out.
        let restart = frame.is_some();
        let base = frame.as_ref().map_or(self.last_seq.unwrap_or(0), |f| f.seq);
        let mut found: Vec<Notification> = drained
            .into_iter()
            .map(|m| Notification {
                fingerprint: None,
                seq: m.seq.unwrap_or(base),
                ts: None,
                type_: "notify".into(),
                metadata: m,
                extra: Map::new(),
            })
            .collect();
        if let Some(f) = frame {
            let id = identity(&f.metadata);
            match found.iter_mut().find(|n| identity(&n.metadata) == id) {
                // The frame itself carries more (fingerprint, time).
                Some(same) => *same = f,
                None => found.push(f),
            }
        }
        found.sort_by_key(|n| n.seq);
        let top = found.iter().map(|n| n.seq).max();
        self.last_seq = match (restart, top) {
            // The new numbering: its newest seq, whatever came before.
            (true, top) => Some(top.map_or(base, |t| t.max(base))),
            (false, Some(t)) => Some(self.last_seq.map_or(t, |l| l.max(t))),
            (false, None) => self.last_seq,
        };
        let batch: Vec<Notification> = found
            .into_iter()
            .filter(|n| !self.seen.contains(&identity(&n.metadata)))
            .collect();
        for n in &batch {
            self.remember(n);
        }
        if !batch.is_empty() {
            self.delivered = true;
            self.failures = 0;
        }
        self.recovered.extend(batch);
        None
    }

    fn on_text(&mut self, text: &str) -> Seen {
        let c = &self.opts.client;
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.done = true;
                return Seen::Yield(Err(Error::decode(
                    SERVICE,
                    None,
                    format!("an inbox frame is not JSON: {e}"),
                    text.as_bytes(),
                    c.runtime().redactor(),
                )));
            }
        };
        match value.get("type").and_then(Value::as_str) {
            Some("notify") => {
                let frame: Notification = match serde_json::from_value(value.clone()) {
                    Ok(f) => f,
                    Err(e) => {
                        self.done = true;
                        return Seen::Yield(Err(c.decode_error(
                            format!("a notify frame does not decode: {e}"),
                            &value,
                        )));
                    }
                };
                match self.last_seq {
                    Some(last) if frame.seq <= last => {
                        if self.seen.contains(&identity(&frame.metadata)) {
                            // Replayed after a reconnect but yielded already.
                            Seen::Skip
                        } else {
                            // Not a replay: the backend numbers from 1 again.
                            Seen::Recover {
                                why: json!({"type": "restart", "seq": frame.seq, "last_seq": last}),
                                frame: Some(frame),
                            }
                        }
                    }
                    _ => self.deliver(frame),
                }
            }
            Some("replay_overflow") => Seen::Recover {
                frame: None,
                why: value,
            },
            // Frames of kinds added later are not ours to interpret.
            _ => Seen::Skip,
        }
    }
}

/// What a text frame leads to.
enum Seen {
    Yield(Result<Notification>),
    Skip,
    /// Drain to recover: after a restart of the numbering (`frame`, its first
    /// frame) or a replay overflow (`frame` is `None`).
    Recover {
        frame: Option<Notification>,
        why: Value,
    },
}

fn overflow_message(frame: &Value) -> String {
    let since = frame.get("since_seq").and_then(Value::as_i64);
    let oldest = frame.get("oldest_seq").and_then(Value::as_i64);
    format!(
        "replay_overflow: the inbox cannot replay after seq {} (the oldest it still holds is \
         {}); drain the inbox and re-read the chats, then stream again",
        since.map_or("?".into(), |s| s.to_string()),
        oldest.map_or("?".into(), |s| s.to_string()),
    )
}

/// What makes two notifications the same one, whichever way they came (a
/// frame, a drain) and whatever seq they carry: the chat message they name,
/// else every field that describes them. The server's fingerprint is not
/// used: a drained notification may not carry it.
fn identity(m: &NotificationMetadata) -> String {
    match &m.message_id {
        Some(message) => json!(["message", m.chat_id, message, m.notification_type]).to_string(),
        None => json!([
            "fields",
            m.chat_id,
            m.event_type,
            m.message_seq,
            m.notification_type,
            m.relationship_id,
            m.request_id,
            m.sender_id,
            m.sender_name,
            m.summary,
            m.unread_count,
        ])
        .to_string(),
    }
}

/// Opens the inbox WebSocket. The handshake is an ordinary request through
/// the runtime (credentials, hooks, retries, redaction); the upgraded
/// connection then carries the frames.
async fn connect(client: &Client, since_seq: Option<i64>) -> Result<Socket> {
    client.need_token()?;
    let runtime = client.runtime();
    let redactor = runtime.redactor();
    let url = format!("{}/api/runtime/inbox/subscribe", client.base_url());
    let url =
        reqwest::Url::parse(&url).map_err(|e| Error::Config(format!("invalid inbox URL: {e}")))?;
    let key = generate_key();
    let mut request = reqwest::Request::new(reqwest::Method::GET, url);
    let headers = request.headers_mut();
    for (name, value) in [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", key.as_str()),
    ] {
        let value = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| Error::Config(format!("invalid {name} header")))?;
        headers.insert(name, value);
    }
    let response = runtime
        .execute(
            &client.inner.settings.connection.http,
            request,
            STREAM_OPERATION,
        )
        .await?;
    if response.status() != reqwest::StatusCode::SWITCHING_PROTOCOLS {
        return Err(runtime.error_from_response(response).await);
    }
    let accepted = response
        .headers()
        .get("sec-websocket-accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == derive_accept_key(key.as_bytes()));
    if !accepted {
        return Err(Error::decode(
            SERVICE,
            Some(101),
            "the inbox handshake answer has a wrong Sec-WebSocket-Accept",
            b"",
            redactor,
        ));
    }
    let upgraded = response
        .upgrade()
        .await
        .map_err(|e| Error::network(SERVICE, e, redactor))?;
    let mut socket = WebSocketStream::from_raw_socket(upgraded, Role::Client, None).await;
    // The backend reads the client's first frame before it streams
    // anything, with no deadline: a client that sends none waits forever.
    // With nothing to resume from, the first frame is one the backend has no
    // use for, which it skips.
    let first = match since_seq {
        Some(since) => serde_json::to_string(&types::RuntimeInboxResumeFrame {
            since_seq: since,
            type_: "resume".into(),
            extra: Map::new(),
        })
        .unwrap_or_default(),
        None => SUBSCRIBE_FRAME.to_owned(),
    };
    if let Err(e) = socket.send(Frame::Text(first.into())).await {
        return Err(network_failure(
            client,
            format!("cannot send the first inbox frame: {e}"),
        ));
    }
    Ok(socket)
}

/// An [`Error::Network`] for a failure below HTTP (a broken WebSocket), with
/// secrets masked like every other network error.
fn network_failure(client: &Client, what: String) -> Error {
    Error::network_io(
        SERVICE,
        NetworkErrorKind::Body,
        &what,
        client.runtime().redactor(),
    )
}
