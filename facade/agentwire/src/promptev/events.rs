//! The frames of a chat turn, typed by the contract, and the stream that
//! yields them.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use agentwire_promptev_transport::types;
use agentwire_runtime::{Redactor, Result};
use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::frames::{decode_error, Frames, Framing};
use crate::BoxFuture;

/// What a chat frame is about (its `type`): the contract's open enum, so a
/// kind Promptev adds later is `Other` instead of an error.
pub use agentwire_promptev_transport::types::ChatEventType as ChatEventKind;

/// One frame of a chat turn. Each known kind carries the contract's type
/// for it; every field the service sent, known or not, is kept (the
/// types' `extra`, and [`ChatEvent::raw`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ChatEvent {
    /// Always first: the conversation's id, to pass back as
    /// `conversation_id` on the next turn.
    Conversation(types::ConversationEvent),
    /// A slice of the answer; the answer is every token's `content` in order.
    Token(types::TokenEvent),
    /// A slice of the model's reasoning, not part of the answer.
    Thinking(types::ThinkingEvent),
    /// Named work in progress (`started`, `completed`, `failed`). An
    /// approval sent to an approver by e-mail shows as a step named
    /// `waiting for approval — <tool>`.
    Step(types::StepEvent),
    /// The agent called a tool.
    ToolCall(types::ToolCallEvent),
    /// That tool answered.
    ToolResult(types::ToolResultEvent),
    /// The turn waits for a person to approve a tool call, in Promptev, by
    /// e-mail or in Slack. The stream stays open and goes on after the
    /// decision, or reports the expiry: show it, or the turn looks hung.
    ApprovalRequired(types::ApprovalRequiredEvent),
    /// What a grounded answer was retrieved from.
    Sources(types::SourcesEvent),
    /// Follow-up questions to offer.
    Suggestions(types::SuggestionsEvent),
    /// A file the agent produced.
    Artifact(types::ArtifactEvent),
    /// What the turn cost.
    Usage(types::UsageEvent),
    /// The turn finished; nothing follows.
    Done(types::DoneEvent),
    /// The turn failed after it started (the HTTP status was 200); nothing
    /// follows.
    Error(types::ErrorEvent),
    /// A kind this version does not know, or a known kind whose fields do
    /// not have the contract's shape: the frame as sent.
    Other {
        /// The frame's `type` (`"unknown"` when it had none).
        kind: String,
        /// The whole frame.
        raw: Value,
    },
}

impl ChatEvent {
    /// Parses the `data` of one server-sent event.
    pub fn from_data(data: &str) -> Result<ChatEvent> {
        let raw: Value = serde_json::from_str(data)
            .map_err(|e| decode_error(format!("chat frame is not JSON: {e}"), data))?;
        if !raw.is_object() {
            return Err(decode_error("chat frame is not a JSON object", data));
        }
        Ok(ChatEvent::from_value(raw))
    }

    /// Types one decoded frame.
    pub fn from_value(raw: Value) -> ChatEvent {
        let kind = raw
            .get("type")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .unwrap_or("unknown")
            .to_owned();
        fn typed<T: DeserializeOwned>(raw: &Value, wrap: fn(T) -> ChatEvent) -> Option<ChatEvent> {
            T::deserialize(raw).ok().map(wrap)
        }
        let event = match ChatEventKind::from(kind.as_str()) {
            ChatEventKind::Conversation => typed(&raw, ChatEvent::Conversation),
            ChatEventKind::Token => typed(&raw, ChatEvent::Token),
            ChatEventKind::Thinking => typed(&raw, ChatEvent::Thinking),
            ChatEventKind::Step => typed(&raw, ChatEvent::Step),
            ChatEventKind::ToolCall => typed(&raw, ChatEvent::ToolCall),
            ChatEventKind::ToolResult => typed(&raw, ChatEvent::ToolResult),
            ChatEventKind::ApprovalRequired => typed(&raw, ChatEvent::ApprovalRequired),
            ChatEventKind::Sources => typed(&raw, ChatEvent::Sources),
            ChatEventKind::Suggestions => typed(&raw, ChatEvent::Suggestions),
            ChatEventKind::Artifact => typed(&raw, ChatEvent::Artifact),
            ChatEventKind::Usage => typed(&raw, ChatEvent::Usage),
            ChatEventKind::Done => typed(&raw, ChatEvent::Done),
            ChatEventKind::Error => typed(&raw, ChatEvent::Error),
            _ => None,
        };
        event.unwrap_or(ChatEvent::Other { kind, raw })
    }

    /// The frame's kind.
    pub fn kind(&self) -> ChatEventKind {
        match self {
            ChatEvent::Conversation(_) => ChatEventKind::Conversation,
            ChatEvent::Token(_) => ChatEventKind::Token,
            ChatEvent::Thinking(_) => ChatEventKind::Thinking,
            ChatEvent::Step(_) => ChatEventKind::Step,
            ChatEvent::ToolCall(_) => ChatEventKind::ToolCall,
            ChatEvent::ToolResult(_) => ChatEventKind::ToolResult,
            ChatEvent::ApprovalRequired(_) => ChatEventKind::ApprovalRequired,
            ChatEvent::Sources(_) => ChatEventKind::Sources,
            ChatEvent::Suggestions(_) => ChatEventKind::Suggestions,
            ChatEvent::Artifact(_) => ChatEventKind::Artifact,
            ChatEvent::Usage(_) => ChatEventKind::Usage,
            ChatEvent::Done(_) => ChatEventKind::Done,
            ChatEvent::Error(_) => ChatEventKind::Error,
            ChatEvent::Other { kind, .. } => ChatEventKind::from(kind.as_str()),
        }
    }

    /// The whole frame as the service sent it.
    pub fn raw(&self) -> Value {
        fn of<T: serde::Serialize>(t: &T) -> Value {
            serde_json::to_value(t).unwrap_or(Value::Null)
        }
        match self {
            ChatEvent::Conversation(e) => of(e),
            ChatEvent::Token(e) => of(e),
            ChatEvent::Thinking(e) => of(e),
            ChatEvent::Step(e) => of(e),
            ChatEvent::ToolCall(e) => of(e),
            ChatEvent::ToolResult(e) => of(e),
            ChatEvent::ApprovalRequired(e) => of(e),
            ChatEvent::Sources(e) => of(e),
            ChatEvent::Suggestions(e) => of(e),
            ChatEvent::Artifact(e) => of(e),
            ChatEvent::Usage(e) => of(e),
            ChatEvent::Done(e) => of(e),
            ChatEvent::Error(e) => of(e),
            ChatEvent::Other { raw, .. } => raw.clone(),
        }
    }

    /// Whether the turn ends with this frame (`done` or `error`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, ChatEvent::Done(_) | ChatEvent::Error(_))
    }
}

pub(super) static CHAT_FRAMING: Framing<ChatEvent> = Framing {
    decode: ChatEvent::from_data,
    ends_stream: ChatEvent::is_terminal,
    incomplete: "the chat stream ended before a done or error frame",
};

/// The frames of one chat turn; see [`super::Client::chat`].
///
/// Ends after the `done` or `error` frame. While a tool waits for approval
/// the stream stays open with nothing to read. A frame that is not a JSON
/// object is an [`Error::Decode`](crate::Error::Decode) item and the stream
/// goes on; a broken connection is an [`Error::Network`](crate::Error::Network)
/// item, and a stream that ends without `done` or `error` an
/// [`Error::Decode`](crate::Error::Decode) item, after which it ends.
#[must_use = "streams do nothing unless polled"]
pub struct ChatStream {
    frames: Frames<ChatEvent>,
}

impl fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream").finish_non_exhaustive()
    }
}

impl ChatStream {
    pub(super) fn open(
        fut: BoxFuture<'static, Result<reqwest::Response>>,
        redactor: Redactor,
    ) -> Self {
        ChatStream {
            frames: Frames::open(fut, redactor, &CHAT_FRAMING),
        }
    }
}

impl Stream for ChatStream {
    type Item = Result<ChatEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.frames).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentwire_runtime::Error;
    use serde_json::json;

    #[test]
    fn frames_are_typed_and_keep_every_field() {
        let e = ChatEvent::from_data(r#"{"type":"token","content":"Hel","seq":3}"#).unwrap();
        match &e {
            ChatEvent::Token(t) => assert_eq!(t.content, "Hel"),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.kind(), ChatEventKind::Token);
        assert_eq!(e.raw(), json!({"type":"token","content":"Hel","seq":3}));
        assert!(!e.is_terminal());
        assert!(ChatEvent::from_data(r#"{"type":"done"}"#)
            .unwrap()
            .is_terminal());
    }

    #[test]
    fn unknown_kinds_and_misshapen_frames_are_other() {
        let e = ChatEvent::from_data(r#"{"type":"handoff","to":"b"}"#).unwrap();
        assert_eq!(e.kind(), ChatEventKind::Other("handoff".into()));
        assert!(matches!(&e, ChatEvent::Other { kind, .. } if kind == "handoff"));
        let bad = ChatEvent::from_data(r#"{"type":"usage","units":"many"}"#).unwrap();
        assert!(
            matches!(&bad, ChatEvent::Other { kind, raw } if kind == "usage" && raw["units"] == "many")
        );
        let untyped = ChatEvent::from_data(r#"{"x":1}"#).unwrap();
        assert!(matches!(untyped, ChatEvent::Other { kind, .. } if kind == "unknown"));
        assert!(matches!(ChatEvent::from_data("[1]"), Err(Error::Decode(_))));
        assert!(matches!(ChatEvent::from_data("{"), Err(Error::Decode(_))));
    }
}
