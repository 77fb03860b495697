//! What the streams of both Promptev products share: the SSE answer read
//! event by event, each event's `data` typed by the product's frame type,
//! until the frame that ends the turn.

use std::pin::Pin;
use std::task::{Context, Poll};

use agentwire_runtime::sse::{self, SseEvent, SseStreamError};
use agentwire_runtime::{Error, Redactor, Result};
use futures_core::Stream;

use super::SERVICE;
use crate::BoxFuture;

/// How one product's stream is framed.
pub(super) struct Framing<F> {
    /// Types the `data` of one server-sent event.
    pub(super) decode: fn(&str) -> Result<F>,
    /// Whether nothing follows this frame.
    pub(super) ends_stream: fn(&F) -> bool,
    /// The message of the error a stream ends with when it stops before its
    /// terminal frame.
    pub(super) incomplete: &'static str,
}

impl<F> Framing<F> {
    /// The error of a stream that ended before its terminal frame.
    pub(super) fn incomplete(&self) -> Error {
        decode_error(self.incomplete, "")
    }
}

/// A frame that could not be typed, or a stream that broke its framing.
///
/// Frames never hold the key (the current product sends it in a header the
/// service does not echo, the previous one only in the URL path), so an
/// empty redactor is enough here.
pub(super) fn decode_error(message: impl Into<String>, data: &str) -> Error {
    Error::decode(
        SERVICE,
        Some(200),
        message,
        data.as_bytes(),
        &Redactor::default(),
    )
}

type EventSource = Pin<
    Box<dyn Stream<Item = std::result::Result<SseEvent, SseStreamError<reqwest::Error>>> + Send>,
>;

enum State {
    Opening(BoxFuture<'static, Result<reqwest::Response>>),
    Reading(EventSource),
    Finished,
}

/// The frames of one answer: first the request's outcome (a refusal is the
/// only item), then one item per event with data, up to the terminal frame.
/// A frame that does not decode is an error item and the stream goes on; a
/// broken connection, broken framing or an end before the terminal frame is
/// an error item after which the stream ends.
pub(super) struct Frames<F: 'static> {
    state: State,
    redactor: Redactor,
    framing: &'static Framing<F>,
}

impl<F> Frames<F> {
    /// The stream of the answer `opening` will bring, framed by `framing`;
    /// `redactor` masks the client's secrets in network errors.
    pub(super) fn open(
        opening: BoxFuture<'static, Result<reqwest::Response>>,
        redactor: Redactor,
        framing: &'static Framing<F>,
    ) -> Self {
        Frames {
            state: State::Opening(opening),
            redactor,
            framing,
        }
    }
}

impl<F> Stream for Frames<F> {
    type Item = Result<F>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match &mut self.state {
                State::Finished => return Poll::Ready(None),
                State::Opening(fut) => match fut.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        self.state = State::Finished;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Ok(response)) => {
                        self.state = State::Reading(Box::pin(sse::events(response.bytes_stream())));
                    }
                },
                State::Reading(events) => match events.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => {
                        self.state = State::Finished;
                        return Poll::Ready(Some(Err(self.framing.incomplete())));
                    }
                    Poll::Ready(Some(Err(SseStreamError::Transport(e)))) => {
                        self.state = State::Finished;
                        return Poll::Ready(Some(Err(Error::network(SERVICE, e, &self.redactor))));
                    }
                    Poll::Ready(Some(Err(SseStreamError::Parse(e)))) => {
                        self.state = State::Finished;
                        return Poll::Ready(Some(Err(decode_error(e.to_string(), ""))));
                    }
                    Poll::Ready(Some(Ok(event))) => {
                        if event.data.is_empty() {
                            continue;
                        }
                        let parsed = (self.framing.decode)(&event.data);
                        if matches!(&parsed, Ok(frame) if (self.framing.ends_stream)(frame)) {
                            self.state = State::Finished;
                        }
                        return Poll::Ready(Some(parsed));
                    }
                },
            }
        }
    }
}
