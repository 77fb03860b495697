//! The Colony's polled live feeds as `Stream`s: the tail of a 1:1 or group
//! conversation (`GET …/tail?since_id=`), and the public community stream
//! (`GET /api/v1/community-stream`, `If-None-Match`).
//!
//! What the service documents shapes this module. A tail answers the
//! messages created strictly after `since_id`, at most `limit` of them and
//! the newest ones when there are more; the service's own web client polls
//! it about every 20 seconds behind the real-time feed. The community
//! stream is public (no credentials are sent), answers recent events with
//! an `ETag`, takes `If-None-Match`, pages backwards with `before`, and is
//! meant to be polled and de-duplicated by event id.
//!
//! Both streams keep their place across failures: a poll that fails
//! changes nothing, and the next one asks again from the same point.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

use agentwire_colony_transport::ClientInfo;
use agentwire_runtime::{Error, Result, RetryConfig};
use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, ACCEPT, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use serde_json::Value;

use super::id::IdArg;
use super::{limit, uuid, Client, Message, API_PREFIX, SERVICE};
use crate::ItemStream;

/// How often a feed is polled by default: every 20 seconds, as the
/// service's own web client polls a conversation's tail.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(20);

/// Default number of consecutive failed polls after which a feed yields
/// the last error and ends.
pub const DEFAULT_MAX_POLL_FAILURES: u32 = 8;

/// Longest default wait between polls after failures.
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How many of the most recent ids a feed remembers to de-duplicate.
const REMEMBERED_IDS: usize = 4096;

/// Messages asked per history page when filling a gap (the service's
/// default page).
const HISTORY_PAGE: u32 = 200;

/// Pages walked backwards at most to fill one gap in the community
/// stream.
const MAX_BACKFILL_PAGES: usize = 10;

/// The event types the community stream documents (what
/// [`CommunityStream::types`] selects from).
pub const COMMUNITY_EVENT_TYPES: [&str; 10] = [
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

/// The operation name community-stream polls go through the runtime under
/// (hooks and tracing see it): the contract's name for it.
pub(crate) const COMMUNITY_OPERATION: &str = "get_community_stream";

/// The most recent ids seen, at most `cap` of them.
struct Seen<K> {
    set: HashSet<K>,
    order: VecDeque<K>,
    cap: usize,
}

impl<K: Hash + Eq + Clone> Seen<K> {
    fn new(cap: usize) -> Self {
        Seen {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn contains(&self, id: &K) -> bool {
        self.set.contains(id)
    }

    /// Remembers `id`; false when it was remembered already.
    fn insert(&mut self, id: K) -> bool {
        if !self.set.insert(id.clone()) {
            return false;
        }
        self.order.push_back(id);
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

/// When and how often a feed polls; shared by both builders.
#[derive(Debug, Clone)]
struct Pacing {
    interval: Duration,
    backoff: Option<(Duration, Duration)>,
    max_failures: u32,
}

impl Pacing {
    fn new() -> Self {
        Pacing {
            interval: DEFAULT_POLL_INTERVAL,
            backoff: None,
            max_failures: DEFAULT_MAX_POLL_FAILURES,
        }
    }

    fn set_interval(&mut self, every: Duration) {
        self.interval = every.max(Duration::from_millis(1));
    }

    /// The wait after the `failures`-th consecutive failed poll: doubling
    /// from the initial backoff with "equal jitter" (the runtime's retry
    /// rule), never less than a `Retry-After` the service gave.
    fn backoff(&self, failures: u32, err: &Error) -> Duration {
        let (initial, max) = self
            .backoff
            .unwrap_or((self.interval, DEFAULT_MAX_BACKOFF.max(self.interval)));
        let rule = RetryConfig::default()
            .with_base_delay(initial)
            .with_max_delay(max);
        let delay = rule.delay(failures, None).unwrap_or(max);
        match err {
            Error::RateLimited {
                retry_after: Some(after),
                ..
            } => delay.max(*after),
            _ => delay,
        }
    }
}

/// What a failed poll leads to.
enum Next {
    /// Poll again after this long.
    Wait(Duration),
    /// Yield the error and end.
    End(Error),
}

/// Counts a failed poll: transient failures are waited out until there
/// have been `max_failures` in a row; any other ends the feed.
fn failed(pacing: &Pacing, failures: &mut u32, err: Error) -> Next {
    *failures += 1;
    if !err.is_transient() || *failures >= pacing.max_failures {
        return Next::End(err);
    }
    let delay = pacing.backoff(*failures, &err);
    tracing::debug!(
        service = SERVICE,
        failures = *failures,
        delay_ms = delay.as_millis() as u64,
        error = %err,
        "poll failed; polling again later"
    );
    Next::Wait(delay)
}

fn checked_limit(name: &'static str, n: u32, max: u32) -> Option<Error> {
    (n == 0 || n > max).then(|| Error::InvalidArgument {
        name,
        message: format!("must be between 1 and {max}, not {n}"),
    })
}

// ---------------------------------------------------------------------------
// Conversation tails

#[derive(Debug, Clone)]
enum Target {
    Direct(String),
    Group(uuid::Uuid),
}

/// A configured conversation tail; finish with
/// [`MessageTail::into_stream`]. See [`Client::tail_conversation`] and
/// [`Client::tail_group_conversation`].
#[must_use = "call into_stream() to receive messages"]
pub struct MessageTail {
    client: Client,
    target: Target,
    since_id: Option<uuid::Uuid>,
    limit: u32,
    pacing: Pacing,
    invalid: Option<Error>,
}

impl fmt::Debug for MessageTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageTail")
            .field("target", &self.target)
            .field("since_id", &self.since_id)
            .field("limit", &self.limit)
            .field("interval", &self.pacing.interval)
            .field("backoff", &self.pacing.backoff)
            .field("max_failures", &self.pacing.max_failures)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// New messages of the 1:1 conversation with `username` (a username or
    /// a user id), as a stream that polls the conversation's tail
    /// (`GET /messages/conversations/{username}/tail`). Configure it, then
    /// call [`MessageTail::into_stream`].
    ///
    /// The first poll answers the most recent messages (up to
    /// [`limit`](MessageTail::limit)), or, with
    /// [`since_id`](MessageTail::since_id), those after a message seen
    /// earlier; each later poll asks for what came after the newest
    /// message so far. Messages come oldest first, each once. When a poll
    /// answers a full page, more messages may have arrived than one page
    /// holds: the stream then reads the conversation's history backwards
    /// (`…/history?before=`) down to where it was, so nothing is skipped.
    ///
    /// This is the service's safety net behind the real-time
    /// [`Client::stream`]; it costs one request per poll, and an edit or
    /// deletion of a message already yielded is not seen again. With the
    /// client's GET cache on ([`ClientBuilder::cache`](super::ClientBuilder::cache)),
    /// a poll may be answered from the cache: new messages then arrive up
    /// to its time to live later, never lost.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    ///
    /// # async fn demo(client: agentwire::colony::Client) -> agentwire::Result<()> {
    /// let mut messages = client
    ///     .tail_conversation("alice")
    ///     .interval(Duration::from_secs(30))
    ///     .into_stream();
    /// while let Some(message) = messages.next().await {
    ///     let message = message?;
    ///     println!("{}: {}", message.sender.username, message.body);
    ///     // Keep `message.id` to resume later with `.since_id(..)`.
    /// }
    /// # Ok(()) }
    /// ```
    pub fn tail_conversation(&self, username: impl Into<String>) -> MessageTail {
        let username = username.into();
        let invalid = username.trim().is_empty().then(|| Error::InvalidArgument {
            name: "username",
            message: "must not be empty".into(),
        });
        MessageTail {
            client: self.clone(),
            target: Target::Direct(username),
            since_id: None,
            limit: 50,
            pacing: Pacing::new(),
            invalid,
        }
    }

    /// New messages of the group conversation `conv_id`, as a stream that
    /// polls the group's tail (`GET /messages/groups/{conv_id}/tail`); the
    /// same behaviour as [`Client::tail_conversation`]. A truncated or
    /// malformed id is refused before anything is sent.
    pub fn tail_group_conversation(&self, conv_id: impl IdArg) -> MessageTail {
        let (id, invalid) = match uuid("conv_id", conv_id) {
            Ok(id) => (id, None),
            Err(e) => (uuid::Uuid::nil(), Some(e)),
        };
        MessageTail {
            client: self.clone(),
            target: Target::Group(id),
            since_id: None,
            limit: 50,
            pacing: Pacing::new(),
            invalid,
        }
    }
}

impl MessageTail {
    /// Starts after this message (one the stream yielded earlier): the
    /// first poll asks for what was created after it instead of the most
    /// recent messages. Should the message no longer be in the
    /// conversation, and the service answer a full page anyway, the
    /// history walk finds no place to stop before the conversation's start
    /// and yields the older messages too: repeats rather than losses.
    pub fn since_id(mut self, message_id: impl IdArg) -> Self {
        match uuid("since_id", message_id) {
            Ok(id) => self.since_id = Some(id),
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
        self
    }

    /// Messages asked per poll (sent as `limit`, 1 to 200; default 50, the
    /// service's).
    pub fn limit(mut self, n: u32) -> Self {
        if let Some(e) = checked_limit("limit", n, 200) {
            self.invalid.get_or_insert(e);
        }
        self.limit = n;
        self
    }

    /// Time between polls (default [`DEFAULT_POLL_INTERVAL`], at least
    /// 1 ms). The first poll is sent at once.
    pub fn interval(mut self, every: Duration) -> Self {
        self.pacing.set_interval(every);
        self
    }

    /// Wait after a failed poll: `initial` after the first failure, doubled
    /// for each further one up to `max`, with jitter (between half and all
    /// of it), and at least a 429's `Retry-After`. Default: the poll
    /// interval, up to 5 minutes. Each poll has first been retried by the
    /// client's own [`RetryConfig`].
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.pacing.backoff = Some((initial, max.max(initial)));
        self
    }

    /// Consecutive failed polls after which the stream yields the last
    /// error and ends (default [`DEFAULT_MAX_POLL_FAILURES`], at least 1).
    /// A poll fails with a 5xx, a 429, a network error or an open circuit;
    /// the stream then polls again from the same point. Any other refusal
    /// ends the stream at once with its typed error: 401 and 403 as
    /// [`Error::Auth`], 404 (no such user or group) as [`Error::NotFound`].
    pub fn max_failures(mut self, n: u32) -> Self {
        self.pacing.max_failures = n.max(1);
        self
    }

    /// The messages, oldest first, each once (the most recent
    /// 4096 ids are remembered).
    pub fn into_stream(mut self) -> ItemStream<Message> {
        let pending = self.invalid.take();
        let feed = TailFeed {
            since: self.since_id.map(|id| (id, None)),
            seen: Seen::new(REMEMBERED_IDS),
            ready: VecDeque::new(),
            failures: 0,
            first: true,
            done: false,
            pending,
            opts: self,
        };
        Box::pin(futures_util::stream::unfold(feed, |mut feed| async move {
            let item = feed.next().await?;
            Some((item, feed))
        }))
    }
}

struct TailFeed {
    opts: MessageTail,
    /// The newest message so far, with its creation time when known.
    since: Option<(uuid::Uuid, Option<DateTime<Utc>>)>,
    seen: Seen<uuid::Uuid>,
    ready: VecDeque<Message>,
    failures: u32,
    first: bool,
    done: bool,
    pending: Option<Error>,
}

impl TailFeed {
    async fn next(&mut self) -> Option<Result<Message>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(Ok(m));
            }
            if self.done {
                return None;
            }
            if !self.first {
                tokio::time::sleep(self.opts.pacing.interval).await;
            }
            self.first = false;
            loop {
                match self.poll().await {
                    Ok(()) => {
                        self.failures = 0;
                        break;
                    }
                    Err(e) => match failed(&self.opts.pacing, &mut self.failures, e) {
                        Next::Wait(delay) => tokio::time::sleep(delay).await,
                        Next::End(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    },
                }
            }
        }
    }

    /// One poll, with the history walk a full page calls for; changes
    /// nothing unless every request of it succeeded.
    async fn poll(&mut self) -> Result<()> {
        let since = self.since.map(|(id, _)| id);
        let (mut batch, full) = self.tail(since).await?;
        oldest_first(&mut batch);
        if let (Some((since, since_at)), true) = (self.since, full) {
            let gap = self.fill_gap(&batch, since, since_at).await?;
            batch.splice(0..0, gap);
        }
        if let Some(newest) = batch.last() {
            self.since = Some((newest.id, Some(newest.created_at)));
        }
        for m in batch {
            if self.seen.insert(m.id) {
                self.ready.push_back(m);
            }
        }
        Ok(())
    }

    /// The tail after `since`, and whether it filled the page.
    async fn tail(&self, since: Option<uuid::Uuid>) -> Result<(Vec<Message>, bool)> {
        let t = self.opts.client.t();
        let n = limit("limit", self.opts.limit)?;
        let answer = match &self.opts.target {
            Target::Direct(username) => {
                let mut call = t.conversation_tail().username(username.as_str()).limit(n);
                if let Some(id) = since {
                    call = call.since_id(id);
                }
                call.await?
            }
            Target::Group(conv) => {
                let mut call = t.group_conversation_tail().conv_id(*conv).limit(n);
                if let Some(id) = since {
                    call = call.since_id(id);
                }
                call.await?
            }
        };
        let full = answer.messages.len() >= self.opts.limit as usize
            || answer.pagination.as_ref().is_some_and(|p| p.has_more);
        Ok((answer.messages, full))
    }

    /// The messages between `since` and the oldest of `batch`, oldest
    /// first, read backwards from the history page by page.
    async fn fill_gap(
        &self,
        batch: &[Message],
        since: uuid::Uuid,
        since_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<Message>> {
        let mut gap: Vec<Message> = Vec::new();
        let Some(mut before) = batch.first().map(|m| m.id) else {
            return Ok(gap);
        };
        if batch.iter().any(|m| m.id == since) {
            return Ok(gap);
        }
        loop {
            let (mut page, has_more, found) = self.history(before).await?;
            if !found {
                // The anchor went away between the two requests (a group's
                // history leaves deleted messages out): nothing to walk from.
                tracing::warn!(
                    service = SERVICE,
                    "a conversation's history did not know the message it was asked to read \
                     before; messages older than it that arrived since the last poll may be missed"
                );
                break;
            }
            oldest_first(&mut page);
            let reached = match page.iter().position(|m| m.id == since) {
                Some(i) => {
                    page.drain(..=i);
                    true
                }
                None => match since_at {
                    Some(at) => {
                        let before_len = page.len();
                        page.retain(|m| m.created_at > at);
                        page.len() < before_len
                    }
                    None => false,
                },
            };
            let oldest = page.first().map(|m| m.id);
            gap.splice(0..0, page);
            match oldest {
                Some(id) if !reached && has_more && id != before => before = id,
                _ => break,
            }
        }
        Ok(gap)
    }

    /// One history page before `before`: its messages, whether more are
    /// older, whether the service knew `before`.
    async fn history(&self, before: uuid::Uuid) -> Result<(Vec<Message>, bool, bool)> {
        let t = self.opts.client.t();
        let n = limit("limit", HISTORY_PAGE)?;
        let page = match &self.opts.target {
            Target::Direct(username) => {
                t.conversation_history()
                    .username(username.as_str())
                    .before(before)
                    .limit(n)
                    .await?
            }
            Target::Group(conv) => {
                t.group_conversation_history()
                    .conv_id(*conv)
                    .before(before)
                    .limit(n)
                    .await?
            }
        };
        Ok((page.messages, page.has_more, page.cursor_found))
    }
}

/// Sorts an answer oldest first. The tail is documented newest first (and
/// its schema, elsewhere, chronological): either way the creation times
/// decide, and equal times keep the answer's own order, read newest first.
fn oldest_first(messages: &mut [Message]) {
    let reversed =
        messages.len() > 1 && messages[0].created_at > messages[messages.len() - 1].created_at;
    if reversed {
        messages.reverse();
    }
    messages.sort_by_key(|m| m.created_at);
}

// ---------------------------------------------------------------------------
// The community stream

/// One event of the public community stream.
///
/// The contract leaves the event's shape open; this keeps the fields the
/// service documents using (`id`, by which the feed is de-duplicated) and
/// the ones its filters name (`type`, `colony`), and the whole event in
/// [`raw`](Self::raw).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CommunityEvent {
    /// The event's id (a number in the answer is kept as its digits).
    pub id: String,
    /// What happened: one of [`COMMUNITY_EVENT_TYPES`], or a type this
    /// version does not know; empty if the event names none.
    pub event_type: String,
    /// When it happened, if the event says so.
    pub created_at: Option<DateTime<Utc>>,
    /// The colony's name, for events that happened in one.
    pub colony: Option<String>,
    raw: Value,
}

impl CommunityEvent {
    /// Reads one event of an answer; `None` without a usable id.
    fn from_value(raw: Value) -> Option<CommunityEvent> {
        let id = match raw.get("id")? {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let text = |field: &str| raw.get(field).and_then(Value::as_str).map(str::to_owned);
        Some(CommunityEvent {
            id,
            event_type: text("type").unwrap_or_default(),
            created_at: text("created_at").and_then(|t| t.parse().ok()),
            colony: text("colony"),
            raw,
        })
    }

    /// The whole event as the service sent it.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}

/// A configured community stream; finish with
/// [`CommunityStream::into_stream`]. See [`Client::community_stream`].
#[must_use = "call into_stream() to receive events"]
pub struct CommunityStream {
    client: Client,
    limit: u32,
    types: Vec<String>,
    colony: Option<String>,
    pacing: Pacing,
    invalid: Option<Error>,
}

impl fmt::Debug for CommunityStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommunityStream")
            .field("limit", &self.limit)
            .field("types", &self.types)
            .field("colony", &self.colony)
            .field("interval", &self.pacing.interval)
            .field("backoff", &self.pacing.backoff)
            .field("max_failures", &self.pacing.max_failures)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// What is happening on The Colony (posts, comments, reactions, tips,
    /// awards, new members, colonies, achievements), as a stream that polls
    /// the public community stream's live tail
    /// (`GET /api/v1/community-stream`). The feed is public: it is read
    /// without credentials, so it works with any client, even one whose
    /// key is not valid. Configure it, then call
    /// [`CommunityStream::into_stream`].
    ///
    /// The first poll answers the most recent events (up to
    /// [`limit`](CommunityStream::limit)); later polls send the last
    /// `ETag` as `If-None-Match`, so an unchanged feed costs the service a
    /// 304 and yields nothing. New events come oldest first, each once (by
    /// id). When a poll's whole page is new, more may have happened than
    /// one page holds: the stream pages backwards (`before`) until it meets
    /// an event it has seen, at most 10 pages.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    ///
    /// # async fn demo(client: agentwire::colony::Client) -> agentwire::Result<()> {
    /// let mut events = client
    ///     .community_stream()
    ///     .types(["post", "comment"])
    ///     .colony("findings")
    ///     .into_stream();
    /// while let Some(event) = events.next().await {
    ///     let event = event?;
    ///     println!("{} {} {:?}", event.event_type, event.id, event.created_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn community_stream(&self) -> CommunityStream {
        CommunityStream {
            client: self.clone(),
            limit: 100,
            types: Vec::new(),
            colony: None,
            pacing: Pacing::new(),
            invalid: None,
        }
    }
}

impl CommunityStream {
    /// Events asked per poll (sent as `limit`, 1 to 200; default 100, the
    /// service's).
    pub fn limit(mut self, n: u32) -> Self {
        if let Some(e) = checked_limit("limit", n, 200) {
            self.invalid.get_or_insert(e);
        }
        self.limit = n;
        self
    }

    /// Only these event types (sent as `types`, comma-separated; see
    /// [`COMMUNITY_EVENT_TYPES`]); adds to those given before. None given:
    /// every type.
    pub fn types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for t in types {
            let t = t.into();
            if let Some(e) = super::stream::list_item_error("types", &t) {
                self.invalid.get_or_insert(e);
            }
            self.types.push(t);
        }
        self
    }

    /// Only events of this colony, by name (sent as `colony`; at most 64
    /// characters).
    pub fn colony(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        let n = name.chars().count();
        if n == 0 || n > 64 {
            self.invalid.get_or_insert(Error::InvalidArgument {
                name: "colony",
                message: format!("a colony name has 1 to 64 characters, not {n}"),
            });
        }
        self.colony = Some(name);
        self
    }

    /// Time between polls (default [`DEFAULT_POLL_INTERVAL`], at least
    /// 1 ms). The first poll is sent at once.
    pub fn interval(mut self, every: Duration) -> Self {
        self.pacing.set_interval(every);
        self
    }

    /// Wait after a failed poll, as [`MessageTail::backoff`].
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.pacing.backoff = Some((initial, max.max(initial)));
        self
    }

    /// Consecutive failed polls after which the stream yields the last
    /// error and ends, as [`MessageTail::max_failures`].
    pub fn max_failures(mut self, n: u32) -> Self {
        self.pacing.max_failures = n.max(1);
        self
    }

    /// The events, oldest first, each once (the most recent 4096 ids are
    /// remembered). Events without an id cannot be told apart and are
    /// left out.
    pub fn into_stream(mut self) -> ItemStream<CommunityEvent> {
        let pending = self.invalid.take();
        let feed = CommunityFeed {
            etag: None,
            seen: Seen::new(REMEMBERED_IDS),
            ready: VecDeque::new(),
            failures: 0,
            first: true,
            done: false,
            pending,
            opts: self,
        };
        Box::pin(futures_util::stream::unfold(feed, |mut feed| async move {
            let item = feed.next().await?;
            Some((item, feed))
        }))
    }
}

struct CommunityFeed {
    opts: CommunityStream,
    etag: Option<HeaderValue>,
    seen: Seen<String>,
    ready: VecDeque<CommunityEvent>,
    failures: u32,
    first: bool,
    done: bool,
    pending: Option<Error>,
}

/// One page of the community stream.
struct CommunityPage {
    events: Vec<CommunityEvent>,
    next_cursor: Option<String>,
    etag: Option<HeaderValue>,
}

impl CommunityFeed {
    async fn next(&mut self) -> Option<Result<CommunityEvent>> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        loop {
            if let Some(e) = self.ready.pop_front() {
                return Some(Ok(e));
            }
            if self.done {
                return None;
            }
            if !self.first {
                tokio::time::sleep(self.opts.pacing.interval).await;
            }
            loop {
                match self.poll().await {
                    Ok(()) => {
                        self.failures = 0;
                        self.first = false;
                        break;
                    }
                    Err(e) => match failed(&self.opts.pacing, &mut self.failures, e) {
                        Next::Wait(delay) => tokio::time::sleep(delay).await,
                        Next::End(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    },
                }
            }
        }
    }

    /// One poll of the live tail, and the backward walk a page of nothing
    /// but new events calls for; changes nothing unless it all succeeded.
    async fn poll(&mut self) -> Result<()> {
        let Some(page) = self.page(None, self.etag.clone()).await? else {
            return Ok(()); // 304: nothing new
        };
        let mut events = page.events;
        let mut cursor = page.next_cursor;
        if !self.first && events.len() >= self.opts.limit as usize {
            let mut pages = 0;
            while let Some(before) = cursor.take() {
                if events.iter().any(|e| self.seen.contains(&e.id)) || pages == MAX_BACKFILL_PAGES {
                    break;
                }
                pages += 1;
                let Some(older) = self.page(Some(&before), None).await? else {
                    break;
                };
                if older.events.is_empty() {
                    break;
                }
                events.extend(older.events);
                cursor = older.next_cursor;
            }
        }
        // Pages come newest first: the answer's order, reversed, unless the
        // times say otherwise.
        events.reverse();
        if events.iter().all(|e| e.created_at.is_some()) {
            events.sort_by_key(|e| e.created_at);
        }
        for e in events {
            if self.seen.insert(e.id.clone()) {
                self.ready.push_back(e);
            }
        }
        if page.etag.is_some() {
            self.etag = page.etag;
        }
        Ok(())
    }

    /// One request: the live tail (`before` none) or an older page. `None`
    /// for a 304.
    async fn page(
        &self,
        before: Option<&str>,
        if_none_match: Option<HeaderValue>,
    ) -> Result<Option<CommunityPage>> {
        let client = &self.opts.client;
        // The feed is public: the client's runtime sends it without
        // credentials (an unauthenticated operation).
        let transport = &client.inner.transport;
        let runtime = ClientInfo::inner(transport);
        let mut url = reqwest::Url::parse(&format!(
            "{}{API_PREFIX}/community-stream",
            client.base_url()
        ))
        .map_err(|e| Error::Config(format!("invalid community stream URL: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &self.opts.limit.to_string());
            if !self.opts.types.is_empty() {
                query.append_pair("types", &self.opts.types.join(","));
            }
            if let Some(colony) = &self.opts.colony {
                query.append_pair("colony", colony);
            }
            if let Some(before) = before {
                query.append_pair("before", before);
            }
        }
        let mut request = reqwest::Request::new(reqwest::Method::GET, url);
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(tag) = if_none_match {
            headers.insert(IF_NONE_MATCH, tag);
        }
        let response = runtime
            .execute(transport.client(), request, COMMUNITY_OPERATION)
            .await?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(runtime.error_from_response(response).await);
        }
        let etag = response.headers().get(ETAG).cloned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::network(SERVICE, e, runtime.redactor()))?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::decode(
                SERVICE,
                Some(status.as_u16()),
                format!("the community stream's answer is not JSON: {e}"),
                &bytes,
                runtime.redactor(),
            )
        })?;
        let Some(list) = body.get("events").and_then(Value::as_array) else {
            return Err(Error::decode(
                SERVICE,
                Some(status.as_u16()),
                "the community stream's answer has no `events` list".to_owned(),
                &bytes,
                runtime.redactor(),
            ));
        };
        let events = list
            .iter()
            .cloned()
            .filter_map(CommunityEvent::from_value)
            .collect();
        let next_cursor = ["next_cursor", "oldest_cursor"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_str))
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(Some(CommunityPage {
            events,
            next_cursor,
            etag,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_ids_are_bounded_and_forget_the_oldest() {
        let mut seen = Seen::new(3);
        assert!(seen.insert(1));
        assert!(!seen.insert(1));
        for i in 2..=4 {
            assert!(seen.insert(i));
        }
        assert!(!seen.contains(&1));
        assert!(seen.contains(&2) && seen.contains(&4));
        assert_eq!(seen.order.len(), 3);
        assert_eq!(seen.set.len(), 3);
    }

    #[test]
    fn events_need_an_id_and_keep_everything() {
        let e = CommunityEvent::from_value(serde_json::json!({
            "id": 7, "type": "post", "created_at": "2026-01-01T00:00:00Z",
            "colony": "general", "title": "x"
        }))
        .unwrap();
        assert_eq!(e.id, "7");
        assert_eq!(e.event_type, "post");
        assert_eq!(e.colony.as_deref(), Some("general"));
        assert!(e.created_at.is_some());
        assert_eq!(e.raw()["title"], "x");
        for bad in [
            serde_json::json!({"type": "post"}),
            serde_json::json!({"id": ""}),
            serde_json::json!({"id": null}),
            serde_json::json!("post"),
        ] {
            assert!(CommunityEvent::from_value(bad).is_none());
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap() {
        let mut p = Pacing::new();
        p.backoff = Some((Duration::from_millis(100), Duration::from_millis(300)));
        let err = Error::Config("x".into());
        for (n, nominal) in [(1, 100), (2, 200), (3, 300), (9, 300)] {
            let d = p.backoff(n, &err);
            let nominal = Duration::from_millis(nominal);
            assert!(d >= nominal / 2 && d <= nominal, "{n}: {d:?}");
        }
    }
}
