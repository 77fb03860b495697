//! What Mycel answers. The contract types the inbox notifications: those are
//! the transport's own types, re-exported. Every other answer is an open
//! object there; each gets a small struct of the fields agentwire relies on
//! (absent or null fields take their default) plus `extra`, every other
//! field exactly as sent, so [`Raw::raw`](crate::Raw::raw) (or any
//! serializer) gives back the whole answer.

use std::fmt;

use agentwire_mycel_transport::types;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::macros::open_enum;

/// Kind of chat: direct, group, or `auto` (requests only: let the server
/// decide from the participant count).
pub use types::CreateChatBodyKind as ChatKind;
/// A metadata-only hint that something happened for the caller: never a
/// message body. Read the chat through [`Messages`](super::Messages).
pub use types::RuntimeInboxNotification as NotificationMetadata;
/// One notification of the inbox stream, numbered by `seq` (grows by one per
/// notification of the user; pass the last one seen as `since_seq` to
/// resume).
pub use types::RuntimeInboxNotifyFrame as Notification;
/// Who a message is delivered to: every member (`Broadcast`, the default) or
/// only the members listed in `addressed_to_user_ids` (`Addressed`).
pub use types::SendMessageBodyDeliveryScope as DeliveryScope;

/// Null reads as the default, like an absent field.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Text that some backend versions send as a number (timestamps, numeric
/// ids): kept as text either way.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// A secret, serialized masked.
fn redacted<S: Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[REDACTED]")
}

macro_rules! json_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        #[serde(default)]
        #[non_exhaustive]
        pub struct $name {
            $($body)*
            /// The fields this version of agentwire does not name, exactly
            /// as Mycel sent them.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    };
}

open_enum! {
    /// State of a relationship between two users.
    pub enum RelationshipState {
        /// No relationship (after a rejection or revocation).
        None = "none",
        /// Requested, waiting for the other user.
        Pending = "pending",
        /// Approved: enough to be put in group chats.
        Visit = "visit",
        /// Upgraded from visit.
        Hire = "hire",
    }
}

json_model! {
    /// A Mycel identity: an owner, an external agent or a managed agent.
    pub struct User {
        /// User id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// Display name.
        #[serde(deserialize_with = "nullable")]
        pub name: String,
        /// Kind of identity ("human", "external", "mycel_agent"…).
        #[serde(rename = "type", deserialize_with = "nullable")]
        pub user_type: String,
        /// Email address (owners).
        pub email: Option<String>,
        /// The numeric Mycel id, usable to log in.
        #[serde(deserialize_with = "text")]
        pub mycel_id: Option<String>,
        /// Avatar reference.
        pub avatar: Option<String>,
    }
}

json_model! {
    /// A plain acknowledgement (`{"status": "ok", ...}`).
    pub struct Ack {
        /// The status word, when the service sends one.
        pub status: Option<String>,
    }
}

/// A logged-in session: a bearer token and its user. Serializes with the
/// token masked.
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct Session {
    /// The session's bearer token; build a client with it
    /// ([`Client::with_token`](super::Client::with_token)).
    #[serde(serialize_with = "redacted")]
    pub token: SecretString,
    /// Who it belongs to.
    pub user: User,
    /// The rest of the answer, any other secret in it masked.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &"[REDACTED]")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The answer to a verified one-time code. Serializes with the token masked.
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct OtpVerified {
    /// Short-lived token for [`Auth::complete_register`](super::Auth::complete_register).
    #[serde(serialize_with = "redacted")]
    pub temp_token: SecretString,
    /// The rest of the answer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for OtpVerified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpVerified")
            .field("temp_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// A new external agent identity and its own bearer token. Serializes with
/// the token masked.
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct ExternalUser {
    /// The id chosen for it.
    pub user_id: String,
    /// Its display name.
    pub display_name: String,
    /// Its bearer token: returned once, store it.
    #[serde(serialize_with = "redacted")]
    pub token: SecretString,
    /// The rest of the answer.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for ExternalUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalUser")
            .field("user_id", &self.user_id)
            .field("display_name", &self.display_name)
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

json_model! {
    /// One member of a chat.
    pub struct ChatMember {
        /// User id.
        #[serde(alias = "user_id", deserialize_with = "nullable")]
        pub id: String,
        /// Display name.
        #[serde(deserialize_with = "nullable")]
        pub name: String,
        /// Kind of identity.
        #[serde(rename = "type", deserialize_with = "nullable")]
        pub user_type: String,
        /// Whether the member's runtime wake-ups are silenced now.
        #[serde(deserialize_with = "nullable")]
        pub muted: bool,
        /// When the mute lapses (Unix seconds), if it does.
        pub mute_until: Option<f64>,
    }
}

json_model! {
    /// A chat.
    pub struct Chat {
        /// Chat id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// Title (group chats).
        pub title: Option<String>,
        /// Direct or group.
        pub kind: Option<ChatKind>,
        /// Lifecycle status ("active"…).
        pub status: Option<String>,
        /// Who created it.
        pub owner_id: Option<String>,
        /// Members, the caller included.
        #[serde(alias = "entities", deserialize_with = "nullable")]
        pub members: Vec<ChatMember>,
        /// Messages the caller has not read.
        pub unread_count: Option<u64>,
        /// Seq of the latest message.
        pub last_seq: Option<i64>,
        /// Creation time as sent (ISO 8601 or Unix seconds).
        #[serde(deserialize_with = "text")]
        pub created_at: Option<String>,
    }
}

impl Chat {
    /// Whether `user_id` is a member.
    pub fn has_member(&self, user_id: &str) -> bool {
        self.members.iter().any(|m| m.id == user_id)
    }
}

json_model! {
    /// A chat message.
    pub struct Message {
        /// Message id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// Chat it belongs to.
        #[serde(deserialize_with = "nullable")]
        pub chat_id: String,
        /// Position in the chat; grows by one per message.
        pub seq: Option<i64>,
        /// Author (none for system messages).
        pub sender_id: Option<String>,
        /// Author's display name.
        pub sender_name: Option<String>,
        /// Text.
        #[serde(deserialize_with = "nullable")]
        pub content: String,
        /// "human", "system"…
        pub message_type: Option<String>,
        /// Users mentioned.
        #[serde(deserialize_with = "nullable")]
        pub mentioned_ids: Vec<String>,
        /// The message answered.
        pub reply_to: Option<String>,
        /// Broadcast or addressed.
        pub delivery_scope: Option<DeliveryScope>,
        /// Recipients of an addressed message.
        #[serde(deserialize_with = "nullable")]
        pub addressed_to_user_ids: Vec<String>,
        /// Creation time as sent.
        #[serde(deserialize_with = "text")]
        pub created_at: Option<String>,
    }
}

json_model! {
    /// What a prospective member sees of a group chat before joining.
    pub struct JoinTarget {
        /// Chat id.
        #[serde(deserialize_with = "nullable")]
        pub chat_id: String,
        /// Title.
        pub title: Option<String>,
        /// Owner, who answers join requests.
        pub owner_id: Option<String>,
        /// Number of members.
        pub member_count: Option<u64>,
        /// Whether the caller is already a member.
        #[serde(deserialize_with = "nullable")]
        pub is_member: bool,
        /// Whether the caller's join request awaits an answer.
        #[serde(deserialize_with = "nullable")]
        pub has_pending_request: bool,
    }
}

json_model! {
    /// A request to join a group chat.
    pub struct JoinRequest {
        /// Request id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// The chat.
        #[serde(deserialize_with = "nullable")]
        pub chat_id: String,
        /// Who asked.
        #[serde(alias = "user_id", deserialize_with = "nullable")]
        pub requester_id: String,
        /// Their note to the owner.
        pub message: Option<String>,
        /// "pending", "approved" or "rejected".
        #[serde(deserialize_with = "nullable")]
        pub status: String,
        /// Creation time as sent.
        #[serde(deserialize_with = "text")]
        pub created_at: Option<String>,
    }
}

json_model! {
    /// A member's mute state in a chat, after a change.
    pub struct MuteState {
        /// The member.
        #[serde(deserialize_with = "nullable")]
        pub user_id: String,
        /// Whether wake-ups are silenced.
        #[serde(deserialize_with = "nullable")]
        pub muted: bool,
        /// When the mute lapses (Unix seconds), if it does.
        pub mute_until: Option<f64>,
    }
}

json_model! {
    /// A relationship, seen from the caller's side.
    pub struct Relationship {
        /// Relationship id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// The other user.
        #[serde(deserialize_with = "nullable")]
        pub other_user_id: String,
        /// Current state.
        pub state: Option<RelationshipState>,
        /// Whether the caller made the pending request.
        #[serde(deserialize_with = "nullable")]
        pub is_requester: bool,
        /// Creation time as sent.
        #[serde(deserialize_with = "text")]
        pub created_at: Option<String>,
        /// Time of the last change as sent.
        #[serde(deserialize_with = "text")]
        pub updated_at: Option<String>,
    }
}

json_model! {
    /// A chat's workflow.
    pub struct Workflow {
        /// The chat.
        #[serde(deserialize_with = "nullable")]
        pub chat_id: String,
        /// Kind of workflow.
        #[serde(deserialize_with = "nullable")]
        pub kind: String,
        /// State ("active"…).
        #[serde(deserialize_with = "nullable")]
        pub state: String,
        /// Free-form configuration.
        #[serde(deserialize_with = "nullable")]
        pub config: Map<String, Value>,
        /// Grows with every change; pass it to
        /// [`SetWorkflow::expected_state_version`](super::SetWorkflow::expected_state_version)
        /// to make the next change conditional on nobody else changing it
        /// first.
        pub state_version: Option<i64>,
    }
}

json_model! {
    /// An event of a chat's workflow (a decision to take, and its outcome).
    pub struct WorkflowEvent {
        /// Event id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// The chat.
        #[serde(deserialize_with = "nullable")]
        pub chat_id: String,
        /// Kind of event.
        #[serde(deserialize_with = "nullable")]
        pub kind: String,
        /// State ("open"…).
        pub state: Option<String>,
        /// Who asked for it.
        pub requested_by_user_id: Option<String>,
        /// Resources it is about.
        #[serde(deserialize_with = "nullable")]
        pub resource_refs: Vec<Map<String, Value>>,
        /// Per participant, per item: their decision.
        #[serde(deserialize_with = "nullable")]
        pub decision_states: Map<String, Value>,
        /// Reasons given.
        #[serde(deserialize_with = "nullable")]
        pub rationales: Map<String, Value>,
        /// The outcome.
        #[serde(deserialize_with = "nullable")]
        pub final_state: Map<String, Value>,
        /// Free-form data.
        #[serde(deserialize_with = "nullable")]
        pub metadata: Map<String, Value>,
        /// When it was settled (Unix seconds).
        pub settled_at: Option<f64>,
        /// Grows with every change; see
        /// [`UpdateWorkflowEvent::expected_state_version`](super::UpdateWorkflowEvent::expected_state_version).
        pub state_version: Option<i64>,
    }
}

json_model! {
    /// A task of a chat.
    pub struct Task {
        /// Task id.
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// The chat.
        #[serde(deserialize_with = "nullable")]
        pub chat_id: String,
        /// Short title.
        #[serde(deserialize_with = "nullable")]
        pub subject: String,
        /// Details.
        #[serde(deserialize_with = "nullable")]
        pub description: String,
        /// "pending", "in_progress", "completed"…
        #[serde(deserialize_with = "nullable")]
        pub status: String,
        /// Present-tense label shown while in progress.
        pub active_form: Option<String>,
        /// Who owns it.
        pub owner: Option<String>,
        /// Tasks this one blocks.
        #[serde(deserialize_with = "nullable")]
        pub blocks: Vec<String>,
        /// Tasks blocking this one.
        #[serde(deserialize_with = "nullable")]
        pub blocked_by: Vec<String>,
        /// Free-form data.
        #[serde(deserialize_with = "nullable")]
        pub metadata: Map<String, Value>,
    }
}

json_model! {
    /// A runtime thread of a managed agent.
    pub struct Thread {
        /// Thread id.
        #[serde(alias = "id", deserialize_with = "nullable")]
        pub thread_id: String,
        /// The managed agent it runs as.
        #[serde(deserialize_with = "nullable")]
        pub agent_user_id: String,
        /// Sandbox provider.
        pub sandbox: Option<String>,
        /// Working directory.
        pub cwd: Option<String>,
        /// Model.
        pub model: Option<String>,
        /// Lifecycle status.
        pub status: Option<String>,
    }
}

json_model! {
    /// A managed agent of the owner panel.
    pub struct Agent {
        /// The agent's user id (chats, threads).
        #[serde(deserialize_with = "nullable")]
        pub id: String,
        /// Name.
        #[serde(deserialize_with = "nullable")]
        pub name: String,
        /// Description.
        #[serde(deserialize_with = "nullable")]
        pub description: String,
        /// Its owner.
        pub owner_user_id: Option<String>,
        /// Lifecycle status.
        pub status: Option<String>,
    }
}

/// Notifications taken from the inbox by a drain or a wait.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Inbox {
    /// How many there were.
    #[serde(default, deserialize_with = "nullable")]
    pub count: u64,
    /// The notifications, oldest first.
    #[serde(default, deserialize_with = "nullable")]
    pub notifications: Vec<NotificationMetadata>,
    /// The fields this version of agentwire does not name, exactly as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
