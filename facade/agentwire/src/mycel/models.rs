//! What Mycel answers. Most of its responses are untyped in the contract;
//! each gets a small struct of the fields agentwire relies on (absent or
//! null fields take their default) plus `raw`, the object exactly as sent.
//! The inbox notifications are typed by the contract and wrap its types.

use std::fmt;

use agentwire_mycel_transport::types;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::macros::{model, open_enum};

/// A model decoded from an untyped answer, keeping the answer as `raw`.
pub(crate) trait FromJson: serde::de::DeserializeOwned {
    fn set_raw(&mut self, raw: Value);
}

pub(crate) fn from_json<T: FromJson>(value: Value) -> Result<T, serde_json::Error> {
    let mut out: T = T::deserialize(&value)?;
    out.set_raw(value);
    Ok(out)
}

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

macro_rules! json_model {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
        #[serde(default)]
        #[non_exhaustive]
        pub struct $name {
            $($body)*
            /// The object exactly as Mycel sent it, fields this version of
            /// agentwire does not know included.
            #[serde(skip)]
            pub raw: Value,
        }

        impl FromJson for $name {
            fn set_raw(&mut self, raw: Value) {
                self.raw = raw;
            }
        }
    };
}

open_enum! {
    /// Kind of chat.
    pub enum ChatKind {
        /// Let the server decide from the participant count (requests only).
        Auto = "auto",
        /// The one-to-one chat of two users; there is at most one per pair.
        Direct = "direct",
        /// A group chat.
        Group = "group",
    }
}

open_enum! {
    /// Who a message is delivered to.
    pub enum DeliveryScope {
        /// Every member (the default).
        Broadcast = "broadcast",
        /// Only the members listed in `addressed_to_user_ids`.
        Addressed = "addressed",
    }
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

/// A logged-in session: a bearer token and its user.
#[derive(Clone)]
#[non_exhaustive]
pub struct Session {
    /// The session's bearer token; build a client with it
    /// ([`Client::with_token`](super::Client::with_token)).
    pub token: SecretString,
    /// Who it belongs to.
    pub user: User,
    /// The answer with the token masked.
    pub raw: Value,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("token", &"[REDACTED]")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The answer to a verified one-time code.
#[derive(Clone)]
#[non_exhaustive]
pub struct OtpVerified {
    /// Short-lived token for [`Auth::complete_register`](super::Auth::complete_register).
    pub temp_token: SecretString,
    /// The answer with the token masked.
    pub raw: Value,
}

impl fmt::Debug for OtpVerified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpVerified")
            .field("temp_token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// A new external agent identity and its own bearer token.
#[derive(Clone)]
#[non_exhaustive]
pub struct ExternalUser {
    /// The id chosen for it.
    pub user_id: String,
    /// Its display name.
    pub display_name: String,
    /// Its bearer token: returned once, store it.
    pub token: SecretString,
    /// The answer with the token masked.
    pub raw: Value,
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

/// One member of a chat.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
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

model! {
    /// A metadata-only hint that something happened for the caller: never a
    /// message body. Read the chat through [`Messages`](super::Messages).
    pub struct NotificationMetadata(types::RuntimeInboxNotification);
}

impl NotificationMetadata {
    /// The chat concerned, if any.
    pub fn chat_id(&self) -> Option<&str> {
        self.0.chat_id.as_deref()
    }
    /// What happened ("chat.message"…).
    pub fn event_type(&self) -> Option<&str> {
        self.0.event_type.as_deref()
    }
    /// Notification family ("chat"…).
    pub fn notification_type(&self) -> Option<&str> {
        self.0.notification_type.as_deref()
    }
    /// Who caused it.
    pub fn sender_id(&self) -> Option<&str> {
        self.0.sender_id.as_deref()
    }
    /// Their display name.
    pub fn sender_name(&self) -> Option<&str> {
        self.0.sender_name.as_deref()
    }
    /// Where it comes from.
    pub fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// Unread messages in the chat at that moment.
    pub fn unread_count(&self) -> Option<i64> {
        self.0.unread_count
    }
}

model! {
    /// One notification of the inbox stream, numbered by `seq`.
    pub struct Notification(types::RuntimeInboxNotifyFrame);
}

impl Notification {
    /// Grows by one per notification of the user; pass the last one seen as
    /// `since_seq` to resume.
    pub fn seq(&self) -> i64 {
        self.0.seq
    }
    /// Hex SHA-256 of the metadata, for de-duplication.
    pub fn fingerprint(&self) -> Option<&str> {
        self.0.fingerprint.as_deref()
    }
    /// Server time, Unix seconds.
    pub fn ts(&self) -> Option<f64> {
        self.0.ts
    }
    /// What happened.
    pub fn metadata(&self) -> &NotificationMetadata {
        use ref_cast::RefCast;
        NotificationMetadata::ref_cast(&self.0.metadata)
    }
}

/// Notifications taken from the inbox by a drain or a wait.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inbox {
    /// How many there were.
    pub count: u64,
    /// The notifications, oldest first.
    pub notifications: Vec<NotificationMetadata>,
    /// The answer as sent.
    pub raw: Value,
}
