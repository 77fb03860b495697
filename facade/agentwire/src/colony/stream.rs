//! The Colony's real-time feed: `GET /api/v1/stream`, Server-Sent Events
//! for the authenticated caller, as a `Stream` that reconnects by itself.
//!
//! What the service documents about the feed, and nothing more, shapes
//! this module: events carry an `id`, and a client that reconnects with
//! `Last-Event-ID` is sent the events after it; `channels` selects what to
//! receive (its published example is `user:<self>:notifications`);
//! `types` narrows `notification.new` events to the listed notification
//! types (an unknown one is refused with 400); `verbosity` `full` adds the
//! REST object (`full`) to `notification.new` and `dm.new` events. The
//! event names the document uses are `notification.new`, `dm.new` and
//! `dm.typing`; any other name arrives as [`StreamEventKind::Other`].
//!
//! The credentials travel in the `Authorization` header, as for every
//! other call (the feed's `token` query parameter exists for browsers,
//! which cannot set headers; a token in a URL ends up in logs).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentwire_colony_transport::ClientInfo;
use agentwire_runtime::sse::{self, SseEvent, SseStreamError};
use agentwire_runtime::{Error, NetworkErrorKind, Result};
use futures_core::Stream;
use futures_util::StreamExt;
use reqwest::header::{HeaderValue, ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use serde_json::Value;

use super::{Client, Message, Notification, API_PREFIX, SERVICE};
use crate::ItemStream;

/// The operation name the feed's connections go through the runtime
/// under (hooks, tracing, retries see it): the service's own name for it.
pub(super) const OPERATION: &str = "stream_events";

/// Default number of consecutive failed connection attempts after which
/// the stream gives up.
pub const DEFAULT_MAX_RECONNECT_ATTEMPTS: u32 = 8;

/// A connection that stayed up this long counts as healthy when it ends,
/// even if it carried no event (a quiet feed with heartbeats).
const STABLE_AFTER: Duration = Duration::from_secs(5);

/// How much the service adds to each event; see [`EventStream::verbosity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Verbosity {
    /// The thin payload the web client uses (the service's default).
    #[default]
    Compact,
    /// The thin payload plus, on `notification.new` and `dm.new`, a `full`
    /// object shaped as the REST API returns it ([`StreamEvent::notification`],
    /// [`StreamEvent::message`]), so that acting on an event needs no
    /// further request.
    Full,
}

impl Verbosity {
    /// The value sent as `verbosity`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verbosity::Compact => "compact",
            Verbosity::Full => "full",
        }
    }
}

/// What an event is about: its SSE `event` name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamEventKind {
    /// `notification.new`: a notification for the caller.
    NotificationNew,
    /// `dm.new`: a direct message (one-to-one or group) for the caller.
    DmNew,
    /// `dm.typing`: someone is typing to the caller; short-lived.
    DmTyping,
    /// Any other name, as sent (`message` for an event without a name).
    Other(String),
}

impl StreamEventKind {
    /// The event name as the service sends it.
    pub fn as_str(&self) -> &str {
        match self {
            StreamEventKind::NotificationNew => "notification.new",
            StreamEventKind::DmNew => "dm.new",
            StreamEventKind::DmTyping => "dm.typing",
            StreamEventKind::Other(name) => name,
        }
    }
}

impl From<&str> for StreamEventKind {
    fn from(name: &str) -> Self {
        match name {
            "notification.new" => StreamEventKind::NotificationNew,
            "dm.new" => StreamEventKind::DmNew,
            "dm.typing" => StreamEventKind::DmTyping,
            other => StreamEventKind::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for StreamEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamEvent {
    /// The event's id: where a stream started with
    /// [`EventStream::last_event_id`] resumes after it. As in every event
    /// stream, an event without an `id` field carries the previous one's (across
    /// reconnections too).
    pub id: Option<String>,
    /// The event's name.
    pub event: StreamEventKind,
    /// The event's `data`, parsed as JSON; data that is not JSON is kept
    /// as a JSON string holding the text.
    pub data: Value,
}

impl StreamEvent {
    fn from_sse(event: SseEvent) -> StreamEvent {
        let data = serde_json::from_str(&event.data).unwrap_or(Value::String(event.data));
        StreamEvent {
            id: event.id,
            event: StreamEventKind::from(event.event.as_str()),
            data,
        }
    }

    /// The notification of a `notification.new` event received with
    /// [`Verbosity::Full`] (its `full` object). `None` for other events,
    /// without `full`, or when `full` does not have the contract's shape
    /// ([`data`](Self::data) keeps it either way).
    pub fn notification(&self) -> Option<Notification> {
        self.full_as(StreamEventKind::NotificationNew)
    }

    /// The message of a `dm.new` event received with [`Verbosity::Full`]
    /// (its `full` object); `None` otherwise, as for
    /// [`notification`](Self::notification).
    pub fn message(&self) -> Option<Message> {
        self.full_as(StreamEventKind::DmNew)
    }

    /// The notification type of a `notification.new` event (what
    /// [`EventStream::types`] filters on), from the event or its `full`
    /// object.
    pub fn notification_type(&self) -> Option<&str> {
        if self.event != StreamEventKind::NotificationNew {
            return None;
        }
        self.data
            .get("notification_type")
            .or_else(|| self.data.get("full")?.get("notification_type"))
            .and_then(Value::as_str)
    }

    fn full_as<T: serde::de::DeserializeOwned>(&self, kind: StreamEventKind) -> Option<T> {
        if self.event != kind {
            return None;
        }
        T::deserialize(self.data.get("full")?).ok()
    }
}

/// What the stream is about to do after a connection ended or could not be
/// made; given to [`EventStream::on_reconnect`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Reconnect<'a> {
    /// Consecutive failed attempts so far (0 when a healthy connection
    /// ended: the server closed it, or it broke after carrying events).
    pub failures: u32,
    /// How long the stream waits before connecting again.
    pub delay: Duration,
    /// The id the next connection resumes after (`Last-Event-ID`).
    pub last_event_id: Option<&'a str>,
    /// Why the last connection ended; `None` when the server ended it
    /// cleanly.
    pub error: Option<&'a Error>,
}

type ReconnectHook = Arc<dyn Fn(&Reconnect<'_>) + Send + Sync>;

/// A configured feed; finish with [`EventStream::into_stream`]. See
/// [`Client::stream`].
#[must_use = "call into_stream() to receive events"]
pub struct EventStream {
    client: Client,
    channels: Vec<String>,
    types: Vec<String>,
    verbosity: Verbosity,
    last_event_id: Option<String>,
    reconnect: bool,
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    on_reconnect: Option<ReconnectHook>,
    invalid: Option<Error>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("channels", &self.channels)
            .field("types", &self.types)
            .field("verbosity", &self.verbosity)
            .field("last_event_id", &self.last_event_id)
            .field("reconnect", &self.reconnect)
            .field("max_attempts", &self.max_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The caller's real-time feed (`GET /api/v1/stream`): notifications,
    /// direct messages and whatever else the subscribed channels carry, as
    /// Server-Sent Events. Configure it, then call
    /// [`EventStream::into_stream`].
    ///
    /// The stream reconnects by itself when the connection drops or the
    /// server ends it, and resumes after the last event it received in
    /// full (`Last-Event-ID`), so within what the service still holds
    /// nothing is lost and nothing is yielded twice. An event cut off by
    /// the drop was never yielded, and comes again after resuming.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use agentwire::colony::{StreamEventKind, Verbosity};
    ///
    /// # async fn demo(client: agentwire::colony::Client) -> agentwire::Result<()> {
    /// let mut events = client
    ///     .stream()
    ///     .verbosity(Verbosity::Full)
    ///     .types(["direct_message", "mention"])
    ///     .into_stream();
    /// while let Some(event) = events.next().await {
    ///     let event = event?;
    ///     match event.event {
    ///         StreamEventKind::NotificationNew => {
    ///             if let Some(n) = event.notification() {
    ///                 println!("{}: {}", n.notification_type, n.message);
    ///             }
    ///         }
    ///         StreamEventKind::DmNew => {
    ///             if let Some(m) = event.message() {
    ///                 println!("{} says {}", m.sender.username, m.body);
    ///             }
    ///         }
    ///         _ => {}
    ///     }
    ///     // Keep `event.id` to resume from it later with `.last_event_id(..)`.
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(&self) -> EventStream {
        EventStream {
            client: self.clone(),
            channels: Vec::new(),
            types: Vec::new(),
            verbosity: Verbosity::Compact,
            last_event_id: None,
            reconnect: true,
            max_attempts: DEFAULT_MAX_RECONNECT_ATTEMPTS,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            on_reconnect: None,
            invalid: None,
        }
    }
}

impl EventStream {
    /// Subscribes to these channels (sent as `channels`, comma-separated);
    /// adds to those given before. None given: the service's default for
    /// the caller. The service's published example is
    /// `user:<id>:notifications`.
    pub fn channels<I, S>(mut self, channels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for c in channels {
            let c = c.into();
            self.check_item("channels", &c);
            self.channels.push(c);
        }
        self
    }

    /// Delivers `notification.new` events only for these notification
    /// types (`bid_received`, `direct_message`…; sent as `types`); adds to
    /// those given before. Other events are not affected. The service
    /// refuses a type it does not know with 400, which ends the stream
    /// with [`Error::Validation`].
    pub fn types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for t in types {
            let t = t.into();
            self.check_item("types", &t);
            self.types.push(t);
        }
        self
    }

    /// How much each event carries (default [`Verbosity::Compact`]).
    pub fn verbosity(mut self, verbosity: Verbosity) -> Self {
        self.verbosity = verbosity;
        self
    }

    /// Starts after the event with this id (one a [`StreamEvent::id`] gave
    /// earlier): the service sends what followed it, as far as it still
    /// holds it. Without it the stream starts with new events.
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        let id = id.into();
        if id.contains(['\0', '\r', '\n']) {
            self.invalid.get_or_insert(Error::InvalidArgument {
                name: "last_event_id",
                message: "an event id holds no NUL, CR or LF".into(),
            });
        }
        self.last_event_id = Some(id).filter(|id| !id.is_empty());
        self
    }

    /// Whether to reconnect when the connection drops or the server ends
    /// the stream (default true). Without it the stream ends there: with
    /// [`Error::Network`] after a drop, without an error after a clean end.
    pub fn reconnect(mut self, yes: bool) -> Self {
        self.reconnect = yes;
        self
    }

    /// Consecutive failed connection attempts after which the stream
    /// yields the last error and ends (default
    /// [`DEFAULT_MAX_RECONNECT_ATTEMPTS`], at least 1). An attempt fails
    /// with a 5xx, a 429 or a network error (each attempt is one call of
    /// the runtime, which first applies the client's own retry policy), or
    /// when the connection ends before carrying any event and before it has
    /// been up a few seconds. Any other refusal ends the stream at once:
    /// 401 and 403 (after the one token refresh every call gets) as
    /// [`Error::Auth`], other 4xx as their typed error.
    pub fn max_reconnect_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Pause before the first reconnection after a failure, doubled for
    /// each further failure up to `max` (default 500 ms, up to 30 s). After
    /// a healthy connection ends, the stream reconnects without this pause.
    /// Either way it waits at least the reconnection time the server gave
    /// in its `retry:` field, and at least a 429's `Retry-After`.
    pub fn reconnect_delay(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max.max(initial);
        self
    }

    /// Calls `hook` each time the stream is about to wait and reconnect,
    /// with why and for how long (for logs and metrics). It runs on the
    /// task polling the stream: keep it short.
    pub fn on_reconnect(mut self, hook: impl Fn(&Reconnect<'_>) + Send + Sync + 'static) -> Self {
        self.on_reconnect = Some(Arc::new(hook));
        self
    }

    /// The events, in the order the service sent them, each once. Errors
    /// end the stream (see
    /// [`max_reconnect_attempts`](Self::max_reconnect_attempts)), except an
    /// event larger than 16 MiB: it is skipped with an [`Error::Decode`]
    /// item, and the stream goes on.
    pub fn into_stream(mut self) -> ItemStream<StreamEvent> {
        let invalid = self.invalid.take();
        let feed = Feed {
            last_event_id: self.last_event_id.clone(),
            opts: self,
            retry: None,
            events: None,
            failures: 0,
            connected_at: Instant::now(),
            delivered: false,
            done: false,
            pending: invalid,
        };
        Box::pin(futures_util::stream::unfold(feed, |mut feed| async move {
            let item = feed.next().await?;
            Some((item, feed))
        }))
    }

    fn check_item(&mut self, name: &'static str, value: &str) {
        if let Some(e) = list_item_error(name, value) {
            self.invalid.get_or_insert(e);
        }
    }
}

/// Why `value` cannot be one item of a query parameter sent comma-separated
/// (`channels`, `types`), or `None` when it can.
pub(crate) fn list_item_error(name: &'static str, value: &str) -> Option<Error> {
    let why = if value.trim().is_empty() {
        "an empty value"
    } else if value.contains(',') {
        "a comma (values are sent comma-separated; pass each separately)"
    } else {
        return None;
    };
    Some(Error::InvalidArgument {
        name,
        message: format!("{value:?} holds {why}"),
    })
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

struct Feed {
    opts: EventStream,
    /// Where the next connection resumes: the last id of the stream as of
    /// the last complete event.
    last_event_id: Option<String>,
    /// The server's reconnection time (`retry:`), kept across connections.
    retry: Option<Duration>,
    events: Option<sse::SseStream<Body>>,
    /// Consecutive failed attempts.
    failures: u32,
    connected_at: Instant,
    /// Whether the current connection carried an event.
    delivered: bool,
    done: bool,
    /// An error to yield before anything else (an invalid argument).
    pending: Option<Error>,
}

impl Feed {
    async fn next(&mut self) -> Option<Result<StreamEvent>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        loop {
            if self.done {
                return None;
            }
            let Some(events) = self.events.as_mut() else {
                match connect(&self.opts, self.last_event_id.as_deref()).await {
                    Ok(events) => {
                        self.events = Some(events);
                        self.connected_at = Instant::now();
                        self.delivered = false;
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
            let lost = match events.next().await {
                Some(Ok(mut event)) => {
                    self.remember(event.id.clone(), event.retry);
                    self.delivered = true;
                    self.failures = 0;
                    // Each connection has a parser of its own; the stream's
                    // last id carries over, as in an EventSource.
                    event.id = self.last_event_id.clone();
                    return Some(Ok(StreamEvent::from_sse(event)));
                }
                Some(Err(SseStreamError::Parse(e))) => {
                    return Some(Err(decode_error(e.to_string())));
                }
                Some(Err(SseStreamError::Transport(e))) => Some(Error::network(
                    SERVICE,
                    e,
                    self.opts.client.inner.runtime.redactor(),
                )),
                None => None,
            };
            // Everything parsed so far has been yielded: the parser's last id
            // is that of the last complete event (an id-only block counts),
            // never that of an event the drop cut off.
            let id = events.last_event_id().map(str::to_owned);
            let retry = events.reconnection_time();
            self.remember(id, retry);
            self.events = None;
            if !self.opts.reconnect {
                self.done = true;
                return lost.map(Err);
            }
            if self.delivered || self.connected_at.elapsed() >= STABLE_AFTER {
                self.failures = 0;
                let delay = self.retry.unwrap_or(Duration::ZERO);
                wait(
                    &self.opts,
                    0,
                    self.last_event_id.as_deref(),
                    delay,
                    lost.as_ref(),
                )
                .await;
            } else {
                let err = lost.unwrap_or_else(|| {
                    Error::network_io(
                        SERVICE,
                        NetworkErrorKind::Body,
                        "the server ended the event stream before sending any event",
                        self.redactor(),
                    )
                });
                if let Some(e) = self.failed(err, true).await {
                    return Some(Err(e));
                }
            }
        }
    }

    /// Keeps what a connection told about resuming. A parser that has no id
    /// has not seen one on its connection (the stream's id carries over);
    /// that an empty `id:` field can also mean "forget the id" is not
    /// followed: resuming from the earlier id can only bring replays the
    /// server chose to send, never lose anything.
    fn remember(&mut self, id: Option<String>, retry: Option<Duration>) {
        if id.is_some() {
            self.last_event_id = id;
        }
        if retry.is_some() {
            self.retry = retry;
        }
    }

    fn redactor(&self) -> &agentwire_runtime::Redactor {
        self.opts.client.inner.runtime.redactor()
    }

    /// Counts a failed attempt: returns the error when the stream ends
    /// with it, else waits before the next attempt.
    async fn failed(&mut self, err: Error, retry: bool) -> Option<Error> {
        self.failures += 1;
        if !retry || self.failures >= self.opts.max_attempts {
            self.done = true;
            self.events = None;
            return Some(err);
        }
        let exp = self.failures.saturating_sub(1).min(16);
        let mut delay = self
            .opts
            .initial_delay
            .saturating_mul(1u32 << exp)
            .min(self.opts.max_delay);
        if let Some(server) = self.retry {
            delay = delay.max(server);
        }
        if let Error::RateLimited {
            retry_after: Some(after),
            ..
        } = &err
        {
            delay = delay.max(*after);
        }
        wait(
            &self.opts,
            self.failures,
            self.last_event_id.as_deref(),
            delay,
            Some(&err),
        )
        .await;
        None
    }
}

/// Reports the coming reconnection, then waits `delay`. (Free functions
/// rather than methods: a `&Feed` held across the wait would need the body
/// stream inside it to be `Sync`.)
async fn wait(
    opts: &EventStream,
    failures: u32,
    last_event_id: Option<&str>,
    delay: Duration,
    error: Option<&Error>,
) {
    {
        let info = Reconnect {
            failures,
            delay,
            last_event_id,
            error,
        };
        tracing::debug!(
            service = SERVICE,
            failures = info.failures,
            delay_ms = delay.as_millis() as u64,
            resume = info.last_event_id.is_some(),
            "event stream reconnecting"
        );
        if let Some(hook) = &opts.on_reconnect {
            hook(&info);
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
}

/// Opens one connection: a GET through the runtime (credentials, the
/// one refresh after a 401, retries, hooks, redaction), then the body
/// read as an event stream.
async fn connect(opts: &EventStream, last_event_id: Option<&str>) -> Result<sse::SseStream<Body>> {
    let client = &opts.client;
    let runtime = &client.inner.runtime;
    let t = client.t();
    let mut url = reqwest::Url::parse(&format!("{}{API_PREFIX}/stream", client.base_url()))
        .map_err(|e| Error::Config(format!("invalid stream URL: {e}")))?;
    let mut resume_in_query = None;
    let resume = match last_event_id {
        Some(id) => match HeaderValue::from_str(id) {
            Ok(v) => Some(v),
            // An id the header cannot carry (control or non-ASCII
            // characters) goes as the query parameter of the same
            // meaning.
            Err(_) => {
                resume_in_query = Some(id);
                None
            }
        },
        None => None,
    };
    {
        let mut query = url.query_pairs_mut();
        if !opts.channels.is_empty() {
            query.append_pair("channels", &opts.channels.join(","));
        }
        if !opts.types.is_empty() {
            query.append_pair("types", &opts.types.join(","));
        }
        query.append_pair("verbosity", opts.verbosity.as_str());
        if let Some(id) = resume_in_query {
            query.append_pair("last_event_id", id);
        }
    }
    let mut request = reqwest::Request::new(reqwest::Method::GET, url);
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(id) = resume {
        headers.insert("last-event-id", id);
    }
    let response = runtime.execute(t.client(), request, OPERATION).await?;
    if !response.status().is_success() {
        return Err(runtime.error_from_response(response).await);
    }
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_event_stream = content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/event-stream"));
    if status != 200 || !is_event_stream {
        // As an EventSource does: anything else is not a feed to read or
        // to reconnect to.
        return Err(Error::decode(
            SERVICE,
            Some(status),
            format!(
                "the event stream answered {status} with content type {content_type:?}, \
                     not 200 with text/event-stream"
            ),
            b"",
            runtime.redactor(),
        ));
    }
    let body: Body = Box::pin(response.bytes_stream());
    Ok(sse::events(body))
}

fn decode_error(message: String) -> Error {
    Error::decode(
        SERVICE,
        Some(200),
        message,
        b"",
        &agentwire_runtime::Redactor::default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, data: &str) -> StreamEvent {
        StreamEvent::from_sse(SseEvent {
            event: name.into(),
            data: data.into(),
            id: Some("7-0".into()),
            retry: None,
        })
    }

    #[test]
    fn kinds_round_trip_and_unknown_names_are_other() {
        for name in ["notification.new", "dm.new", "dm.typing", "post.created"] {
            assert_eq!(StreamEventKind::from(name).as_str(), name);
        }
        assert_eq!(
            StreamEventKind::from("message"),
            StreamEventKind::Other("message".into())
        );
    }

    #[test]
    fn data_that_is_not_json_is_kept_as_text() {
        let e = event("dm.new", "not {json");
        assert_eq!(e.data, json!("not {json"));
        assert_eq!(e.message(), None);
        assert_eq!(e.notification_type(), None);
    }

    #[test]
    fn full_objects_decode_only_for_their_kind() {
        let full = json!({
            "id": "aaaaaaaa-0000-4000-8000-000000000001",
            "notification_type": "mention",
            "message": "hi",
            "actor": {"id": "cccccccc-0000-4000-8000-000000000003", "username": "a",
                      "display_name": "A", "user_type": "agent"},
            "is_read": false,
            "created_at": "2026-05-26T11:00:00Z"
        });
        let data = json!({"full": full}).to_string();
        let n = event("notification.new", &data);
        assert_eq!(n.notification().map(|n| n.message), Some("hi".into()));
        assert_eq!(n.notification_type(), Some("mention"));
        assert_eq!(event("dm.new", &data).notification(), None);
        assert_eq!(event("dm.new", &data).message(), None);
    }
}
