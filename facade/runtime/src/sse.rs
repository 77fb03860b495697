//! Server-Sent Events (`text/event-stream`) parsing.
//!
//! [`SseParser`] turns the bytes of an event stream into [`SseEvent`]s following the
//! WHATWG HTML "event stream interpretation" rules: UTF-8 with replacement of invalid
//! sequences, one leading byte order mark ignored, CRLF / CR / LF line endings (a CRLF
//! split across two chunks counts once), `:` comments, and the `event`, `data`, `id`
//! and `retry` fields. [`events`] adapts a byte stream such as an HTTP response body
//! into a stream of events.
//!
//! The parser is incremental and holds only the current partial line and the fields
//! of the event being built, never the stream; one event may take at most
//! [`SseParser::with_max_event_size`] bytes (16 MiB by default).
//!
//! ```
//! use agentwire_runtime::sse;
//! use futures_util::{stream, StreamExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In practice an HTTP response body, e.g. `response.bytes_stream()`.
//! let body = stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
//!     b"retry: 3000\nid: 7\ndata: hello\n\n",
//! ))]);
//! let mut events = sse::events(body);
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     assert_eq!((event.event.as_str(), event.data.as_str()), ("message", "hello"));
//! }
//! // Where to resume after a reconnection, and how long to wait before it.
//! assert_eq!(events.last_event_id(), Some("7"));
//! assert_eq!(events.reconnection_time(), Some(std::time::Duration::from_secs(3)));
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::mem;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_core::{FusedStream, Stream};

/// Default limit of [`SseParser::with_max_event_size`]: 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// Capacity a buffer may keep after use. One huge event must not pin its memory for
/// the rest of a stream that can stay open for hours.
const RETAINED_CAPACITY: usize = 64 * 1024;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// `bom_matched` value once the start of the stream has been settled either way.
const BOM_SETTLED: u8 = BOM.len() as u8;

/// One event dispatched by the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type: the last `event` field of the block, or `"message"` when the
    /// block had none or an empty one.
    pub event: String,
    /// The `data` fields of the block joined with `"\n"`.
    pub data: String,
    /// The stream's last event ID when this event was dispatched. It persists from
    /// event to event until an `id` field changes it; an empty `id` field resets it to
    /// `None` (the spec's empty string, for which no `Last-Event-ID` header is sent).
    pub id: Option<String>,
    /// The stream's reconnection time when this event was dispatched: the value of
    /// the most recent valid `retry` field seen so far, in this block or an earlier
    /// one, or `None` if the server never sent one. Like `id` it persists, so a
    /// `retry`-only block still reaches the caller with the next event.
    pub retry: Option<Duration>,
}

/// Errors of [`SseParser::feed`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// One event (its fields plus the line being read) grew past the limit set by
    /// [`SseParser::with_max_event_size`]. The event is dropped and parsing resumes
    /// after the blank line that ends it.
    #[error("server-sent event larger than the {limit}-byte limit")]
    EventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// Incremental parser of a `text/event-stream` body.
///
/// Feed it the body in chunks of any size, split anywhere (inside a UTF-8 sequence,
/// between the CR and LF of a line ending, inside the byte order mark); the events it
/// yields are the same as for the whole body at once. One parser reads one
/// connection: a byte order mark is only skipped at the very start of the stream.
///
/// At the end of the body an event that no blank line has ended is discarded, as the
/// spec says, so there is nothing to flush: drop the parser.
///
/// ```
/// use agentwire_runtime::sse::SseParser;
///
/// let mut parser = SseParser::new();
/// let mut events = Vec::new();
/// parser.feed(b"event: greet\ndata: hel", &mut events)?;
/// parser.feed(b"lo\r", &mut events)?;
/// parser.feed(b"\n\r\n", &mut events)?;
/// assert_eq!(events.len(), 1);
/// assert_eq!((events[0].event.as_str(), events[0].data.as_str()), ("greet", "hello"));
/// # Ok::<(), agentwire_runtime::sse::SseError>(())
/// ```
pub struct SseParser {
    max_event_size: usize,
    /// Bytes of the current line carried over from earlier chunks, terminator not yet
    /// seen. Empty in the common case where lines end inside the chunk they start in.
    line: Vec<u8>,
    /// The current line has started and its content is being ignored (a comment, or a
    /// line of an oversized event), so its bytes are not kept. Being set also means the
    /// line is not blank.
    skipping_line: bool,
    /// Dropping an oversized event up to the blank line that ends it.
    discarding_event: bool,
    /// The previous chunk ended with CR: an LF at the start of the next one is part of
    /// the same line ending, not a blank line.
    pending_cr: bool,
    /// Bytes of a leading BOM matched so far, kept across chunks; `BOM_SETTLED` after.
    bom_matched: u8,
    data: String,
    event_type: String,
    /// Value of an `id` field seen since the last blank line (`Some(None)`: reset).
    /// The spec's "last event ID buffer" is only committed at a blank line, so an id in
    /// an event cut off by the end of the stream never becomes the last event ID.
    pending_id: Option<Option<String>>,
    last_event_id: Option<String>,
    reconnection_time: Option<Duration>,
    /// Input that a `feed` stopped before because of an error; the next `feed` parses
    /// it first so that no event is lost or reordered.
    unread: Vec<u8>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self {
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            line: Vec::new(),
            skipping_line: false,
            discarding_event: false,
            pending_cr: false,
            bom_matched: 0,
            data: String::new(),
            event_type: String::new(),
            pending_id: None,
            last_event_id: None,
            reconnection_time: None,
            unread: Vec::new(),
        }
    }
}

// Written by hand: a derived Debug would print buffered event data, which may be
// sensitive and can be megabytes long.
impl fmt::Debug for SseParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseParser")
            .field("max_event_size", &self.max_event_size)
            .field("buffered_line_len", &self.line.len())
            .field("buffered_data_len", &self.data.len())
            .field("discarding_event", &self.discarding_event)
            .field("last_event_id", &self.last_event_id)
            .field("reconnection_time", &self.reconnection_time)
            .finish_non_exhaustive()
    }
}

impl SseParser {
    /// A parser for a new stream, with the default event size limit of 16 MiB.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the limit on one event's buffered size: its `data` and `event` values plus
    /// the line being read. An event that exceeds it makes [`feed`](Self::feed) return
    /// [`SseError::EventTooLarge`] instead of growing without bound. Comment lines are
    /// never buffered and do not count.
    pub fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The last event ID of the stream as of the last blank line: the value to send
    /// as `Last-Event-ID` when reconnecting. `None` if no `id` field has been seen or
    /// the last one was empty.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// The reconnection time set by the most recent valid `retry` field, if any.
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.reconnection_time
    }

    /// Parses `chunk`, the next bytes of the stream, and pushes the events it completes
    /// onto `out` (which is not cleared, so one `Vec` can be reused across calls).
    ///
    /// # Errors
    ///
    /// [`SseError::EventTooLarge`] when an event exceeds the size limit. Events that
    /// the stream completed before it are already in `out`. The parser drops the
    /// oversized event and keeps the rest of `chunk` for the next call, so parsing can
    /// go on: call `feed` again, with an empty chunk if no more input is at hand, to
    /// get the events that follow. The `id` fields read before the error take effect
    /// at the end of the dropped event, so that a client reconnecting with
    /// [`last_event_id`](Self::last_event_id) is not sent the same event again.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.unread.is_empty() {
            return self.parse(chunk, out);
        }
        let mut input = mem::take(&mut self.unread);
        input.extend_from_slice(chunk);
        self.parse(&input, out)
    }

    /// Whether a `feed` stopped at an error and left input to parse.
    fn has_unread(&self) -> bool {
        !self.unread.is_empty()
    }

    /// Whether an event or a line has been started and not finished.
    fn is_mid_event(&self) -> bool {
        !self.line.is_empty() || self.skipping_line || !self.data.is_empty()
    }

    fn parse(&mut self, mut input: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.bom_matched < BOM_SETTLED {
            input = self.skip_bom(input);
        }
        if self.pending_cr {
            if let Some((&first, rest)) = input.split_first() {
                self.pending_cr = false;
                if first == b'\n' {
                    input = rest;
                }
            }
        }
        while let Some(end) = find_line_end(input) {
            let mut next = end + 1;
            if input[end] == b'\r' {
                match input.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    // Dispatch now rather than wait for the next chunk to see whether an
                    // LF follows: a server that ends lines with CR alone would otherwise
                    // see each event delayed until its next one.
                    None => self.pending_cr = true,
                }
            }
            let rest = &input[next..];
            if let Err(err) = self.complete_line(&input[..end], out) {
                self.unread.extend_from_slice(rest);
                return Err(err);
            }
            input = rest;
        }
        self.keep_partial_line(input)
    }

    /// Consumes the leading BOM, which may arrive split across chunks. If the first
    /// bytes only start like one, they are text and begin the first line.
    fn skip_bom<'a>(&mut self, mut input: &'a [u8]) -> &'a [u8] {
        while self.bom_matched < BOM_SETTLED {
            let Some((&byte, rest)) = input.split_first() else {
                return input;
            };
            if byte != BOM[usize::from(self.bom_matched)] {
                self.line
                    .extend_from_slice(&BOM[..usize::from(self.bom_matched)]);
                self.bom_matched = BOM_SETTLED;
                return input;
            }
            self.bom_matched += 1;
            input = rest;
        }
        input
    }

    /// Handles a line whose terminator has been found; `tail` is its part in the
    /// current chunk.
    fn complete_line(&mut self, tail: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.skipping_line {
            self.skipping_line = false;
            return Ok(());
        }
        if self.line.is_empty() {
            return self.process_line(tail, out);
        }
        let mut line = mem::take(&mut self.line);
        line.extend_from_slice(tail);
        let result = self.process_line(&line, out);
        line.clear();
        line.shrink_to(RETAINED_CAPACITY);
        self.line = line;
        result
    }

    /// Keeps the unterminated end of a chunk for the next one.
    fn keep_partial_line(&mut self, partial: &[u8]) -> Result<(), SseError> {
        if partial.is_empty() || self.skipping_line {
            return Ok(());
        }
        if self.discarding_event || (self.line.is_empty() && partial[0] == b':') {
            self.skipping_line = true;
            return Ok(());
        }
        if self.line.len() + partial.len() + self.buffered_fields() > self.max_event_size {
            self.skipping_line = true;
            return Err(self.drop_oversized_event());
        }
        self.line.extend_from_slice(partial);
        Ok(())
    }

    fn buffered_fields(&self) -> usize {
        self.data.len() + self.event_type.len()
    }

    fn drop_oversized_event(&mut self) -> SseError {
        tracing::warn!(
            limit = self.max_event_size,
            "dropping a server-sent event larger than the size limit"
        );
        self.discarding_event = true;
        self.line.clear();
        self.line.shrink_to(RETAINED_CAPACITY);
        clear_string(&mut self.data);
        clear_string(&mut self.event_type);
        SseError::EventTooLarge {
            limit: self.max_event_size,
        }
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let Some(&first) = line.first() else {
            self.dispatch(out);
            return Ok(());
        };
        if first == b':' || self.discarding_event {
            return Ok(());
        }
        // Every field's value is shorter than its line, so checking the line keeps the
        // buffered event within the limit whichever field it is.
        if line.len() + self.buffered_fields() > self.max_event_size {
            return Err(self.drop_oversized_event());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                let value = String::from_utf8_lossy(value);
                // Reserving both at once: a second growth for the '\n' would reallocate
                // the common single-line event's buffer.
                self.data.reserve(value.len() + 1);
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.push_str(&String::from_utf8_lossy(value));
            }
            b"id" if !value.contains(&0) => {
                self.pending_id = Some(if value.is_empty() {
                    None
                } else {
                    Some(String::from_utf8_lossy(value).into_owned())
                });
            }
            b"retry" => {
                if let Some(millis) = parse_retry(value) {
                    self.reconnection_time = Some(Duration::from_millis(millis));
                }
            }
            // An `id` with NUL is ignored so that the header built from it stays valid;
            // unknown fields are ignored so that servers can add their own.
            _ => {}
        }
        Ok(())
    }

    /// The blank-line step of the spec.
    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        self.discarding_event = false;
        if let Some(id) = self.pending_id.take() {
            self.last_event_id = id;
        }
        if self.data.is_empty() {
            clear_string(&mut self.event_type);
            return;
        }
        // Every data line appended a '\n', so the buffer ends with one.
        self.data.pop();
        // Moving the buffers into the event costs no copy; the next event starts with
        // fresh ones, so no capacity is retained either.
        let data = mem::take(&mut self.data);
        let event = if self.event_type.is_empty() {
            String::from("message")
        } else {
            mem::take(&mut self.event_type)
        };
        out.push(SseEvent {
            event,
            data,
            id: self.last_event_id.clone(),
            retry: self.reconnection_time,
        });
    }
}

fn clear_string(s: &mut String) {
    s.clear();
    s.shrink_to(RETAINED_CAPACITY);
}

/// A `retry` value counts only if it is all ASCII digits; a number too big for `u64`
/// milliseconds saturates (it is half a billion years either way).
fn parse_retry(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0u64, |millis, &digit| {
        millis
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    }))
}

/// Index of the first CR or LF in `s`.
///
/// Lines are long compared with the terminators, so this tests eight bytes per step
/// (the "has zero byte" bit trick on `word ^ 0x0a0a..` and `word ^ 0x0d0d..`) rather
/// than one. The trick can flag a byte above a real match, never below, so the lowest
/// flagged byte of a little-endian word is the first match.
fn find_line_end(s: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const CRS: u64 = u64::from_ne_bytes([b'\r'; 8]);
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;

    let mut words = s.chunks_exact(8);
    for (i, word) in (&mut words).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let found = has_zero(w ^ LFS) | has_zero(w ^ CRS);
        if found != 0 {
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let done = s.len() - words.remainder().len();
    words
        .remainder()
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|i| done + i)
}

/// Errors of the stream returned by [`events`].
#[derive(Debug, thiserror::Error)]
pub enum SseStreamError<E> {
    /// The byte stream failed. The event stream passes the error on and keeps reading
    /// the byte stream, which usually ends after an error.
    #[error(transparent)]
    Transport(E),
    /// The event stream broke a limit of the parser; see [`SseParser::feed`]. Events
    /// after the offending one still follow.
    #[error(transparent)]
    Parse(#[from] SseError),
}

/// Parses a stream of byte chunks, such as an HTTP response body, into events.
///
/// The chunks are usually [`bytes::Bytes`]; any `AsRef<[u8]>` will do. Uses a parser
/// with the default limits; [`SseStream::new`] takes a configured one.
pub fn events<S, B, E>(bytes: S) -> SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    SseStream::new(bytes, SseParser::new())
}

/// Stream of [`SseEvent`]s read from a stream of byte chunks; see [`events`].
///
/// It ends when the byte stream ends, discarding an event that was not finished by a
/// blank line. After that, [`last_event_id`](Self::last_event_id) and
/// [`reconnection_time`](Self::reconnection_time) tell how to reconnect.
#[must_use = "streams do nothing unless polled"]
pub struct SseStream<S> {
    /// Boxed so that the stream is `Unpin` whatever `S` is; `None` once it has ended,
    /// which releases the connection behind it.
    body: Option<Pin<Box<S>>>,
    parser: SseParser,
    /// Parsed events not yet yielded, newest first so that `pop` yields in order.
    ready: Vec<SseEvent>,
    /// A parse error to yield after the events that preceded it.
    error: Option<SseError>,
}

impl<S> SseStream<S> {
    /// Reads `bytes` with `parser`, e.g. one built with
    /// [`SseParser::with_max_event_size`].
    pub fn new(bytes: S, parser: SseParser) -> Self {
        Self {
            body: Some(Box::pin(bytes)),
            parser,
            ready: Vec::new(),
            error: None,
        }
    }

    /// The stream's last event ID so far; see [`SseParser::last_event_id`].
    pub fn last_event_id(&self) -> Option<&str> {
        self.parser.last_event_id()
    }

    /// The stream's reconnection time so far; see [`SseParser::reconnection_time`].
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.parser.reconnection_time()
    }

    fn parse(&mut self, chunk: &[u8]) {
        if let Err(err) = self.parser.feed(chunk, &mut self.ready) {
            self.error = Some(err);
        }
        self.ready.reverse();
    }
}

impl<S> fmt::Debug for SseStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseStream")
            .field("parser", &self.parser)
            .field("ended", &self.body.is_none())
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

impl<S, B, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    type Item = Result<SseEvent, SseStreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(event) = this.ready.pop() {
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(err) = this.error.take() {
                return Poll::Ready(Some(Err(SseStreamError::Parse(err))));
            }
            if this.parser.has_unread() {
                this.parse(&[]);
                continue;
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match ready!(body.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => this.parse(chunk.as_ref()),
                Some(Err(err)) => return Poll::Ready(Some(Err(SseStreamError::Transport(err)))),
                None => {
                    if this.parser.is_mid_event() {
                        tracing::debug!("event stream ended inside an event; discarding it");
                    }
                    this.body = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}

impl<S, B, E> FusedStream for SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    fn is_terminated(&self) -> bool {
        self.body.is_none() && self.ready.is_empty() && self.error.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` in one chunk.
    fn parse(input: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        SseParser::new().feed(input, &mut out).unwrap();
        out
    }

    /// Parses `input` one chunk per element.
    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        out
    }

    /// Parses `input` in one chunk, and again split at every possible point into two
    /// and into single bytes, checking that every way gives the same events.
    fn parse_all_ways(input: &[u8]) -> Vec<SseEvent> {
        let whole = parse(input);
        for split in 0..=input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(parse_chunks(&[a, b]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole, "byte by byte");
        whole
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
            id: id.map(str::to_owned),
            retry: None,
        }
    }

    fn msg(data: &str) -> SseEvent {
        ev("message", data, None)
    }

    // The examples of the WHATWG HTML standard, section "Event stream interpretation".

    #[test]
    fn spec_stock_multi_line_data() {
        let events = parse_all_ways(b"data: YHOO\ndata: +2\ndata: 10\n\n");
        assert_eq!(events, [msg("YHOO\n+2\n10")]);
    }

    #[test]
    fn spec_test_stream_with_comment_and_ids() {
        let stream = b": test stream\n\n\
            data: first event\nid: 1\n\n\
            data:second event\nid\n\n\
            data:  third event\n\n";
        let events = parse_all_ways(stream);
        assert_eq!(
            events,
            [
                ev("message", "first event", Some("1")),
                // The empty id resets the last event ID.
                msg("second event"),
                msg(" third event"),
            ]
        );
        // Without the final blank line, the end of the stream does not dispatch.
        let cut = &stream[..stream.len() - 1];
        assert_eq!(parse_all_ways(cut).len(), 2);
    }

    #[test]
    fn spec_data_without_value() {
        // The first block fires an event with empty data, the middle one an event with
        // data "\n"; the last block is never dispatched: no blank line follows it.
        let events = parse_all_ways(b"data\n\ndata\ndata\n\ndata:");
        assert_eq!(events, [msg(""), msg("\n")]);
        // Followed by a blank line, it would fire like the first.
        assert_eq!(parse_all_ways(b"data:\n\n"), [msg("")]);
    }

    #[test]
    fn spec_space_after_colon_is_optional() {
        let events = parse_all_ways(b"data:test\n\ndata: test\n\n");
        assert_eq!(events, [msg("test"), msg("test")]);
    }

    #[test]
    fn spec_intro_messages_and_event_types() {
        let events = parse_all_ways(
            b"data: This is the first message.\n\n\
              data: This is the second message, it\n\
              data: has two lines.\n\n\
              data: This is the third message.\n\n",
        );
        assert_eq!(
            events,
            [
                msg("This is the first message."),
                msg("This is the second message, it\nhas two lines."),
                msg("This is the third message."),
            ]
        );
        let events = parse_all_ways(
            b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        );
        assert_eq!(
            events,
            [
                ev("add", "73857293", None),
                ev("remove", "2153", None),
                ev("add", "113411", None),
            ]
        );
    }

    #[test]
    fn line_endings_crlf_cr_lf_and_mixed() {
        let expected = [msg("a\nb"), msg("c")];
        for input in [
            &b"data: a\ndata: b\n\ndata: c\n\n"[..],
            b"data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n",
            b"data: a\rdata: b\r\rdata: c\r\r",
            b"data: a\r\ndata: b\r\rdata: c\n\r\n",
        ] {
            assert_eq!(parse_all_ways(input), expected, "{input:?}");
        }
        // CR LF is one ending, but LF CR is two: the CR ends a blank line.
        assert_eq!(
            parse_all_ways(b"data: a\n\rdata: b\n\n"),
            [msg("a"), msg("b")]
        );
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        assert_eq!(
            parse_chunks(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]),
            [msg("a\nb")]
        );
        // Empty chunks between the CR and the LF do not break the pair.
        assert_eq!(
            parse_chunks(&[b"data: a\r", b"", b"", b"\n", b"\r", b"", b"\n"]),
            [msg("a")]
        );
    }

    #[test]
    fn cr_at_chunk_end_dispatches_without_waiting() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser.feed(b"data: a\r\r", &mut out).unwrap();
        assert_eq!(out, [msg("a")]);
        parser.feed(b"\ndata: b\r\r", &mut out).unwrap();
        assert_eq!(out, [msg("a"), msg("b")]);
    }

    #[test]
    fn leading_bom_is_skipped_once() {
        assert_eq!(parse_all_ways(b"\xEF\xBB\xBFdata: a\n\n"), [msg("a")]);
        // A second BOM is text: the field name becomes "\u{FEFF}data", unknown.
        assert_eq!(
            parse_all_ways(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n"),
            [msg("b")]
        );
        // A BOM later in the stream is data.
        assert_eq!(
            parse_all_ways(b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n"),
            [msg("a"), msg("\u{FEFF}c")]
        );
        // Bytes that only start like a BOM are kept as text (here invalid UTF-8).
        assert_eq!(
            parse_all_ways(b"\xEF\xBBdata: a\n\ndata: b\n\n"),
            [msg("b")]
        );
        assert_eq!(parse_all_ways(b"\xEF\n\ndata: b\n\n"), [msg("b")]);
        assert_eq!(parse_all_ways(b"\xEF\xBB:x\ndata: b\n\n"), [msg("b")]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let events =
            parse_all_ways(b"event: e\xFFx\ndata: a\xC3\ndata: \xF0\x9F\x98\x80\xE2\x82\n\n");
        assert_eq!(
            events,
            [ev("e\u{FFFD}x", "a\u{FFFD}\n\u{1F600}\u{FFFD}", None)]
        );
    }

    #[test]
    fn fields_without_colon_comments_and_unknown_fields() {
        let events = parse_all_ways(
            b"event: custom\nevent\ndata: a\n\n\
              :comment\n: another\nfoo: bar\nData: no\ndata : no\nretries: 1\ndata: b\n\n",
        );
        // "event" alone empties the type, so it dispatches as "message".
        assert_eq!(events, [msg("a"), msg("b")]);
    }

    #[test]
    fn only_first_colon_splits_and_one_space_is_removed() {
        let events = parse_all_ways(b"event:  two: spaces\ndata:a:b: c\ndata:\n\n");
        assert_eq!(events, [ev(" two: spaces", "a:b: c\n", None)]);
    }

    #[test]
    fn event_type_resets_after_dispatch_and_after_empty_block() {
        let events = parse_all_ways(b"event: a\ndata: 1\n\ndata: 2\n\nevent: b\n\ndata: 3\n\n");
        assert_eq!(events, [ev("a", "1", None), msg("2"), msg("3")]);
    }

    #[test]
    fn last_event_id_persists_and_commits_at_blank_line() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .feed(
                b"id: 1\n\ndata: a\n\nid: 2\ndata: b\n\ndata: c\n\nid\ndata: d\n\n",
                &mut out,
            )
            .unwrap();
        assert_eq!(
            out,
            [
                ev("message", "a", Some("1")),
                ev("message", "b", Some("2")),
                ev("message", "c", Some("2")),
                msg("d"),
            ]
        );
        assert_eq!(parser.last_event_id(), None);
        out.clear();
        parser.feed(b"id: 7\n\n", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(parser.last_event_id(), Some("7"));
        // An id in an event the stream never finishes is not committed.
        parser.feed(b"id: 8\ndata: cut off", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(parser.last_event_id(), Some("7"));
    }

    #[test]
    fn id_containing_nul_is_ignored() {
        let events = parse_all_ways(b"id: 1\n\nid: a\0b\ndata: x\n\nid: \0\ndata: y\n\n");
        assert_eq!(
            events,
            [ev("message", "x", Some("1")), ev("message", "y", Some("1"))]
        );
    }

    #[test]
    fn retry_needs_ascii_digits_only() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        parser
            .feed(
                b"retry: 1500\ndata: a\n\n\
                  retry: 15x0\ndata: b\n\n\
                  retry: -1\nretry:\nretry: 1.5\nretry:  20\nretry: \xD9\xA1\ndata: c\n\n\
                  retry: 3000\n\ndata: d\n\n\
                  retry: 99999999999999999999999\ndata: e\n\n",
                &mut out,
            )
            .unwrap();
        let retries: Vec<_> = out.iter().map(|e| (e.data.as_str(), e.retry)).collect();
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(
            retries,
            [
                ("a", ms(1500)),
                ("b", ms(1500)),
                ("c", ms(1500)),
                // A retry-only block applies to the events after it.
                ("d", ms(3000)),
                ("e", ms(u64::MAX)),
            ]
        );
        assert_eq!(parser.reconnection_time(), ms(u64::MAX));
    }

    #[test]
    fn incomplete_trailing_event_is_discarded() {
        assert_eq!(parse_all_ways(b"data: a\n\ndata: b\n"), [msg("a")]);
        assert_eq!(parse_all_ways(b"data: a\n\ndata: b"), [msg("a")]);
        assert_eq!(parse_all_ways(b"data: a\n\ndata: b\r"), [msg("a")]);
        assert_eq!(parse_all_ways(b"data: a\r\n\r"), [msg("a")]);
    }

    #[test]
    fn event_too_large_is_an_error_and_parsing_resumes() {
        let limit = 32;
        let mut parser = SseParser::new().with_max_event_size(limit);
        let mut out = Vec::new();
        let big = format!("data: {}\n\n", "x".repeat(40));
        let input = format!("id: 1\ndata: ok\n\nid: 2\n{big}data: after\n\n");
        let err = parser.feed(input.as_bytes(), &mut out).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit });
        assert_eq!(out, [ev("message", "ok", Some("1"))]);
        // The rest of the chunk is parsed by the next call.
        parser.feed(b"", &mut out).unwrap();
        // The dropped event's id was committed at its end.
        assert_eq!(
            out,
            [
                ev("message", "ok", Some("1")),
                ev("message", "after", Some("2"))
            ]
        );
    }

    #[test]
    fn event_too_large_across_many_lines_and_chunks() {
        let limit = 100;
        let mut parser = SseParser::new().with_max_event_size(limit);
        let mut out = Vec::new();
        let mut errors = 0;
        // 30 lines of 10 bytes: the data buffer passes the limit, one chunk at a time.
        for _ in 0..30 {
            if parser.feed(b"data: 123\n", &mut out).is_err() {
                errors += 1;
            }
        }
        parser.feed(b"\ndata: next\n\n", &mut out).unwrap();
        assert_eq!(errors, 1);
        assert_eq!(out, [msg("next")]);
    }

    #[test]
    fn endless_line_is_an_error_not_unbounded_growth() {
        let limit = 1024;
        let mut parser = SseParser::new().with_max_event_size(limit);
        let mut out = Vec::new();
        let chunk = [b'a'; 100];
        parser.feed(b"data: ", &mut out).unwrap();
        let mut errors = 0;
        for _ in 0..1000 {
            if parser.feed(&chunk, &mut out).is_err() {
                errors += 1;
            }
            assert!(parser.line.len() <= limit);
        }
        assert_eq!(errors, 1);
        // The long line ends, then the oversized event; the next one is fine.
        parser
            .feed(b"\ndata: more\n\ndata: x\n\n", &mut out)
            .unwrap();
        assert_eq!(out, [msg("x")]);
    }

    #[test]
    fn comments_are_not_buffered_and_not_limited() {
        let mut parser = SseParser::new().with_max_event_size(16);
        let mut out = Vec::new();
        parser.feed(b":", &mut out).unwrap();
        for _ in 0..100 {
            parser.feed(&[b'p'; 1000], &mut out).unwrap();
            assert!(parser.line.is_empty());
        }
        let long_comment = format!(":{}\n", "q".repeat(1000));
        parser.feed(long_comment.as_bytes(), &mut out).unwrap();
        parser.feed(b"\ndata: a\n\n", &mut out).unwrap();
        assert_eq!(out, [msg("a")]);
    }

    #[test]
    fn buffers_do_not_keep_a_huge_capacity() {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        let huge = "y".repeat(1 << 20);
        // Line split over two chunks so that it goes through the line buffer.
        let (a, b) = huge.split_at(1000);
        parser.feed(b"event: ", &mut out).unwrap();
        parser.feed(a.as_bytes(), &mut out).unwrap();
        parser.feed(b.as_bytes(), &mut out).unwrap();
        parser.feed(b"\ndata: ", &mut out).unwrap();
        parser.feed(a.as_bytes(), &mut out).unwrap();
        parser.feed(b.as_bytes(), &mut out).unwrap();
        parser.feed(b"\n\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data.len(), huge.len());
        assert!(parser.line.capacity() <= RETAINED_CAPACITY);
        assert!(parser.data.capacity() <= RETAINED_CAPACITY);
        assert!(parser.event_type.capacity() <= RETAINED_CAPACITY);
        assert!(parser.unread.capacity() <= RETAINED_CAPACITY);
    }

    #[test]
    fn find_line_end_matches_a_plain_search() {
        let mut buf = vec![b'a'; 40];
        assert_eq!(find_line_end(&buf), None);
        for (i, &t) in [b'\n', b'\r'].iter().cycle().take(80).enumerate() {
            let at = i % 40;
            buf[at] = t;
            for start in 0..buf.len() {
                let s = &buf[start..];
                let expected = s.iter().position(|&b| b == b'\n' || b == b'\r');
                assert_eq!(find_line_end(s), expected);
            }
            // Bytes next to the terminators in value, to catch carries in the trick.
            buf[at] = [0x0b, 0x0c, 0x0e, 0x8a, 0x8d, 0x00, 0xff][i % 7];
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        /// One line of a block, as the model sees it.
        #[derive(Debug, Clone)]
        enum Field {
            Event(String),
            /// May contain '\n': written as one `data` line per part.
            Data(String),
            Id(String),
            Retry(String),
            Comment(String),
            Unknown(&'static str, String),
        }

        #[derive(Debug, Clone)]
        struct Case {
            bom: bool,
            blocks: Vec<Vec<Field>>,
            /// Lines of an event that the stream ends before its blank line.
            trailing: Vec<Field>,
            /// Line ending of each line, in turn: 0 LF, 1 CR, 2 CRLF.
            endings: Vec<u8>,
            /// How to write an empty value or one without a leading space, in turn.
            separators: Vec<u8>,
            chunk_sizes: Vec<usize>,
        }

        fn text(max: usize, newlines: bool) -> impl Strategy<Value = String> {
            let mut chars = vec![
                'a', 'b', 'Z', '0', '9', ' ', ':', '\0', 'é', '😀', '\u{FEFF}',
            ];
            if newlines {
                chars.push('\n');
            }
            proptest::collection::vec(proptest::sample::select(chars), 0..max)
                .prop_map(String::from_iter)
        }

        fn field() -> impl Strategy<Value = Field> {
            prop_oneof![
                1 => text(8, false).prop_map(Field::Event),
                4 => text(24, true).prop_map(Field::Data),
                1 => text(6, false).prop_map(Field::Id),
                1 => prop_oneof!["[0-9]{1,25}", "[0-9a-z .-]{0,4}"].prop_map(Field::Retry),
                1 => text(10, false).prop_map(Field::Comment),
                1 => (
                    proptest::sample::select(vec!["Data", "dat", "eventx", "ID", "retry2", "x"]),
                    text(6, false)
                )
                    .prop_map(|(name, value)| Field::Unknown(name, value)),
            ]
        }

        fn case() -> impl Strategy<Value = Case> {
            (
                any::<bool>(),
                proptest::collection::vec(proptest::collection::vec(field(), 0..5), 0..8),
                proptest::collection::vec(field(), 0..3),
                proptest::collection::vec(0u8..3, 1..5),
                proptest::collection::vec(0u8..3, 1..4),
                proptest::collection::vec(1usize..24, 1..6),
            )
                .prop_map(
                    |(bom, blocks, trailing, endings, separators, chunk_sizes)| Case {
                        bom,
                        blocks,
                        trailing,
                        endings,
                        separators,
                        chunk_sizes,
                    },
                )
        }

        /// Writes the case as an event stream, varying every optional detail.
        struct Writer<'a> {
            case: &'a Case,
            out: Vec<u8>,
            lines: usize,
            last_ending_was_cr: bool,
        }

        impl Writer<'_> {
            fn line(&mut self, content: &str) {
                self.out.extend_from_slice(content.as_bytes());
                let mut ending = self.case.endings[self.lines % self.case.endings.len()];
                // CR then a blank line ended by LF would read as one CRLF.
                if content.is_empty() && self.last_ending_was_cr && ending == 0 {
                    ending = 2;
                }
                self.out
                    .extend_from_slice([&b"\n"[..], b"\r", b"\r\n"][usize::from(ending)]);
                self.last_ending_was_cr = ending == 1;
                self.lines += 1;
            }

            fn field(&mut self, name: &str, value: &str) {
                let style = self.case.separators[self.lines % self.case.separators.len()];
                let line = if value.starts_with(' ') {
                    format!("{name}: {value}")
                } else if value.is_empty() {
                    [name.to_owned(), format!("{name}:"), format!("{name}: ")][usize::from(style)]
                        .clone()
                } else if style == 0 {
                    format!("{name}:{value}")
                } else {
                    format!("{name}: {value}")
                };
                self.line(&line);
            }

            fn fields(&mut self, fields: &[Field]) {
                for f in fields {
                    match f {
                        Field::Event(v) => self.field("event", v),
                        Field::Data(v) => v.split('\n').for_each(|part| self.field("data", part)),
                        Field::Id(v) => self.field("id", v),
                        Field::Retry(v) => self.field("retry", v),
                        Field::Comment(c) => self.line(&format!(":{c}")),
                        Field::Unknown(name, v) => self.field(name, v),
                    }
                }
            }
        }

        fn serialize(case: &Case) -> Vec<u8> {
            let mut w = Writer {
                case,
                out: Vec::new(),
                lines: 0,
                last_ending_was_cr: false,
            };
            if case.bom {
                w.out.extend_from_slice(&BOM);
            }
            for block in &case.blocks {
                w.fields(block);
                w.line("");
            }
            w.fields(&case.trailing);
            w.out
        }

        /// The events and final last event ID the spec gives for the case, worked out
        /// from the fields rather than from the bytes.
        fn expected(case: &Case) -> (Vec<SseEvent>, Option<String>) {
            let mut events = Vec::new();
            let mut last_id: Option<String> = None;
            let mut retry = None;
            for block in &case.blocks {
                let mut event_type = String::new();
                let mut data: Option<Vec<&str>> = None;
                for f in block {
                    match f {
                        Field::Event(v) => event_type = v.clone(),
                        Field::Data(v) => data.get_or_insert_with(Vec::new).push(v),
                        Field::Id(v) if !v.contains('\0') => {
                            last_id = Some(v.clone()).filter(|v| !v.is_empty())
                        }
                        Field::Retry(v)
                            if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) =>
                        {
                            let n: u128 = v.parse().unwrap();
                            retry =
                                Some(Duration::from_millis(u64::try_from(n).unwrap_or(u64::MAX)));
                        }
                        _ => {}
                    }
                }
                if let Some(data) = data {
                    events.push(SseEvent {
                        event: if event_type.is_empty() {
                            "message".into()
                        } else {
                            event_type
                        },
                        data: data.join("\n"),
                        id: last_id.clone(),
                        retry,
                    });
                }
            }
            (events, last_id)
        }

        fn feed_in(chunks: &mut dyn Iterator<Item = &[u8]>) -> (Vec<SseEvent>, Option<String>) {
            let mut parser = SseParser::new();
            let mut out = Vec::new();
            for chunk in chunks {
                parser.feed(chunk, &mut out).unwrap();
            }
            (out, parser.last_event_id().map(str::to_owned))
        }

        /// Splits `bytes` into chunks of the given sizes, taken in turn.
        fn split<'a>(bytes: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
            let mut rest = bytes;
            let mut sizes = sizes.iter().cycle();
            std::iter::from_fn(move || {
                if rest.is_empty() {
                    return None;
                }
                let (chunk, tail) = rest.split_at((*sizes.next()?).min(rest.len()));
                rest = tail;
                Some(chunk)
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_chunking_gives_the_spec_events(case in case()) {
                let bytes = serialize(&case);
                let expected = expected(&case);
                let whole = feed_in(&mut std::iter::once(&bytes[..]));
                prop_assert_eq!(&whole, &expected);
                let chunked = feed_in(&mut split(&bytes, &case.chunk_sizes));
                prop_assert_eq!(&chunked, &expected);
                let bytewise = feed_in(&mut bytes.chunks(1));
                prop_assert_eq!(&bytewise, &expected);
            }
        }
    }

    mod stream {
        use super::*;
        use bytes::Bytes;
        use futures_util::{stream, StreamExt};
        use std::io;

        type Item = Result<SseEvent, SseStreamError<io::Error>>;

        fn chunks(items: Vec<Result<&'static str, &'static str>>) -> Vec<Result<Bytes, io::Error>> {
            items
                .into_iter()
                .map(|item| {
                    item.map(|s| Bytes::from_static(s.as_bytes()))
                        .map_err(io::Error::other)
                })
                .collect()
        }

        fn describe(item: &Item) -> String {
            match item {
                Ok(event) => format!("{}:{}", event.event, event.data),
                Err(SseStreamError::Transport(e)) => format!("transport:{e}"),
                Err(SseStreamError::Parse(e)) => format!("parse:{e}"),
            }
        }

        #[tokio::test]
        async fn events_pass_transport_errors_through() {
            let body = stream::iter(chunks(vec![
                Ok("\u{FEFF}data: a\n\nda"),
                Ok("ta: b\r"),
                Err("connection reset"),
                Ok("\n\nevent: e\ndata: c\n\n"),
                Ok("id: 9\ndata: unfinished"),
            ]));
            let mut events = events(body);
            let mut seen = Vec::new();
            while let Some(item) = events.next().await {
                seen.push(describe(&item));
            }
            assert_eq!(
                seen,
                [
                    "message:a",
                    "transport:connection reset",
                    "message:b",
                    "e:c"
                ]
            );
            assert!(events.is_terminated());
            assert!(events.next().await.is_none());
            assert_eq!(events.last_event_id(), None);
        }

        #[tokio::test]
        async fn parse_error_is_yielded_in_order_and_the_stream_goes_on() {
            let body = stream::iter(chunks(vec![
                Ok("id: 1\ndata: a\n\ndata: 0123456789012345678901234567890123456789\n\ndata: b\n\n"),
                Ok("data: c\n\n"),
            ]));
            let parser = SseParser::new().with_max_event_size(24);
            let seen: Vec<String> = SseStream::new(body, parser)
                .map(|item| describe(&item))
                .collect()
                .await;
            assert_eq!(
                seen,
                [
                    "message:a",
                    "parse:server-sent event larger than the 24-byte limit",
                    "message:b",
                    "message:c",
                ]
            );
        }

        #[tokio::test]
        async fn events_keep_id_and_retry_and_the_stream_is_unpin_and_send() {
            fn assert_send_unpin<T: Send + Unpin>(_: &T) {}
            let body = stream::iter(chunks(vec![Ok("retry: 2500\nid: 4\n\ndata: x\n\n")]));
            let mut events = events(body);
            assert_send_unpin(&events);
            let event = events.next().await.unwrap().unwrap();
            assert_eq!(event.id.as_deref(), Some("4"));
            assert_eq!(event.retry, Some(Duration::from_millis(2500)));
            assert!(events.next().await.is_none());
            assert_eq!(events.last_event_id(), Some("4"));
            assert_eq!(
                events.reconnection_time(),
                Some(Duration::from_millis(2500))
            );
        }
    }
}
