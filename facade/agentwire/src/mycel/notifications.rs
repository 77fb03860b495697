//! The runtime inbox: metadata-only notifications, drained over HTTP or
//! streamed over the `/api/runtime/inbox/subscribe` WebSocket.
//!
//! The stream reconnects by itself and resumes from the last seq it
//! yielded (the server replays what was missed), so across reconnects no
//! notification is lost or yielded twice.

use std::time::{Duration, Instant};

use agentwire_mycel_transport::types;
use agentwire_runtime::{Error, NetworkErrorKind, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

use super::{Client, Inbox, Notification, SERVICE, STREAM_OPERATION};
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
            .attempt_timeout(crate::config::DEFAULT_TIMEOUT);
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
        }
    }
}

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
}

impl InboxStream {
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

    /// The notifications, in seq order. Errors that end the stream:
    /// [`Error::Stream`] when the server can no longer replay from the last
    /// seq (`replay_overflow`: drain the inbox and re-read the chats, then
    /// stream again), the connection error once reconnecting is off or has
    /// failed too often in a row, and any refusal of the handshake that
    /// retrying cannot fix (401, 403…).
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
}

impl Subscription {
    async fn next(&mut self) -> Option<Result<Notification>> {
        loop {
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
                    Some(item) => return Some(item),
                    None => continue,
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

    fn on_text(&mut self, text: &str) -> Option<Result<Notification>> {
        let c = &self.opts.client;
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.done = true;
                return Some(Err(Error::decode(
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
                        return Some(Err(c.decode_error(
                            format!("a notify frame does not decode: {e}"),
                            &value,
                        )));
                    }
                };
                if self.last_seq.is_some_and(|last| frame.seq <= last) {
                    // Replayed after a reconnect but yielded already.
                    return None;
                }
                self.last_seq = Some(frame.seq);
                self.delivered = true;
                self.failures = 0;
                Some(Ok(frame))
            }
            Some("replay_overflow") => {
                self.done = true;
                self.socket = None;
                let since = value.get("since_seq").and_then(Value::as_i64);
                let oldest = value.get("oldest_seq").and_then(Value::as_i64);
                Some(Err(Error::Stream {
                    service: SERVICE,
                    message: format!(
                        "replay_overflow: the inbox cannot replay after seq {} (the oldest it \
                         still holds is {}); drain the inbox and re-read the chats, then \
                         stream again",
                        since.map_or("?".into(), |s| s.to_string()),
                        oldest.map_or("?".into(), |s| s.to_string()),
                    ),
                    raw: value,
                }))
            }
            // Frames of kinds added later are not ours to interpret.
            _ => None,
        }
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
    if let Some(since) = since_seq {
        let resume = types::RuntimeInboxResumeFrame {
            since_seq: since,
            type_: "resume".into(),
            extra: Map::new(),
        };
        let resume = serde_json::to_string(&resume).unwrap_or_default();
        if let Err(e) = socket.send(Frame::Text(resume.into())).await {
            return Err(network_failure(
                client,
                format!("cannot send the resume frame: {e}"),
            ));
        }
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
