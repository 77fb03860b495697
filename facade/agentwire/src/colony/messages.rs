//! Direct messages: sending, conversations, spam flags, and everything done
//! to one message (reads, reactions, edits, deletes, stars, forwards).

use std::future::IntoFuture;
use std::num::NonZeroU64;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};
use chrono::{DateTime, Utc};
use ref_cast::RefCast;
use reqwest::Method;

use super::{arg, limit, uuid, Attachment, BoxFuture, Client, Page, User, MAX_PAGE_SIZE};
use crate::macros::{model, open_enum};

/// The text a deleted message's body is replaced with. Deleted messages keep
/// their place in a conversation (a tombstone); the contract has no deletion
/// flag on messages, so [`Message::is_deleted`] compares the body with this.
pub const DELETED_MESSAGE_BODY: &str = "[message deleted]";

/// Accessors shared by the three shapes a message comes in (direct, group,
/// search hit), which carry the same fields.
macro_rules! message_accessors {
    () => {
        /// Message id.
        pub fn id(&self) -> String {
            self.0.id.to_string()
        }
        /// Id of the conversation (1:1 or group) it belongs to.
        pub fn conversation_id(&self) -> String {
            self.0.conversation_id.to_string()
        }
        /// Text (markdown); [`DELETED_MESSAGE_BODY`] once deleted.
        pub fn body(&self) -> &str {
            &self.0.body
        }
        /// Who sent it.
        pub fn sender(&self) -> &User {
            use ref_cast::RefCast;
            User::ref_cast(&self.0.sender)
        }
        /// Sender's username (shorthand for `sender().username()`).
        pub fn sender_username(&self) -> &str {
            &self.0.sender.username
        }
        /// When it was sent.
        pub fn created_at(&self) -> DateTime<Utc> {
            self.0.created_at
        }
        /// When its text last changed, if it was edited.
        pub fn edited_at(&self) -> Option<DateTime<Utc>> {
            self.0.edited_at
        }
        /// Whether its text was changed after sending.
        pub fn is_edited(&self) -> bool {
            self.0.edited_at.is_some()
        }
        /// Whether the sender deleted it (it stays listed as a tombstone).
        pub fn is_deleted(&self) -> bool {
            self.0.body == DELETED_MESSAGE_BODY
        }
        /// For the recipient: whether they read it. For the sender: whether
        /// someone else did.
        pub fn is_read(&self) -> bool {
            self.0.is_read
        }
        /// When it was read (see [`is_read`](Self::is_read)).
        pub fn read_at(&self) -> Option<DateTime<Utc>> {
            self.0.read_at
        }
        /// Emoji reactions, in the order they were added.
        pub fn reactions(&self) -> impl ExactSizeIterator<Item = &MessageReaction> + '_ {
            use ref_cast::RefCast;
            self.0.reactions.iter().map(MessageReaction::ref_cast)
        }
        /// Attached files.
        pub fn attachments(&self) -> impl ExactSizeIterator<Item = &Attachment> + '_ {
            use ref_cast::RefCast;
            self.0.attachments.iter().map(Attachment::ref_cast)
        }
        /// The message this one answers, if any.
        pub fn reply_to(&self) -> Option<&ReplyPreview> {
            use ref_cast::RefCast;
            self.0.reply_to.as_ref().map(ReplyPreview::ref_cast)
        }
    };
}
pub(super) use message_accessors;

model! {
    /// A direct or group message.
    pub struct Message(types::MessageOut);
}

impl Message {
    message_accessors!();
}

model! {
    /// One user's emoji on a message.
    pub struct MessageReaction(types::MessageReactionOut);
}

impl MessageReaction {
    /// The emoji itself.
    pub fn emoji(&self) -> &str {
        &self.0.emoji
    }
    /// Id of the user who reacted.
    pub fn user_id(&self) -> String {
        self.0.user_id.to_string()
    }
    /// Username of the user who reacted.
    pub fn username(&self) -> &str {
        &self.0.username
    }
    /// When they reacted.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

model! {
    /// A short view of the message a reply answers.
    pub struct ReplyPreview(types::MessageReplyContext);
}

impl ReplyPreview {
    /// Id of the message replied to.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// The beginning of its text.
    pub fn body_preview(&self) -> &str {
        &self.0.body_preview
    }
    /// Id of its sender.
    pub fn sender_id(&self) -> String {
        self.0.sender_id.to_string()
    }
    /// Username of its sender.
    pub fn sender_username(&self) -> &str {
        &self.0.sender_username
    }
    /// Whether it has been deleted since.
    pub fn is_deleted(&self) -> bool {
        self.0.deleted
    }
}

model! {
    /// A 1:1 conversation as listed in the inbox.
    pub struct Conversation(types::ConversationOut);
}

impl Conversation {
    /// Conversation id.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// The other participant.
    pub fn other_user(&self) -> &User {
        User::ref_cast(&self.0.other_user)
    }
    /// The other participant's username.
    pub fn other_username(&self) -> &str {
        &self.0.other_user.username
    }
    /// Messages the caller has not read yet.
    pub fn unread_count(&self) -> u64 {
        u64::try_from(self.0.unread_count).unwrap_or(0)
    }
    /// The beginning of the latest message.
    pub fn last_message_preview(&self) -> Option<&str> {
        self.0.last_message_preview.as_deref()
    }
    /// When the latest message was sent.
    pub fn last_message_at(&self) -> DateTime<Utc> {
        self.0.last_message_at
    }
    /// Whether the caller archived it.
    pub fn is_archived(&self) -> bool {
        self.0.is_archived
    }
}

model! {
    /// A 1:1 conversation with a page of its messages.
    pub struct ConversationDetail(types::ConversationDetail);
}

impl ConversationDetail {
    /// Conversation id; `None` when the two users never wrote to each other.
    pub fn id(&self) -> Option<String> {
        self.0.id.map(|id| id.to_string())
    }
    /// The other participant.
    pub fn other_user(&self) -> &User {
        User::ref_cast(&self.0.other_user)
    }
    /// The messages of this page.
    pub fn messages(&self) -> impl ExactSizeIterator<Item = &Message> + '_ {
        self.0.messages.iter().map(Message::ref_cast)
    }
    /// The messages of this page, owned.
    pub fn into_messages(self) -> Vec<Message> {
        self.0.messages.into_iter().map(Message).collect()
    }
}

open_enum! {
    /// Why a conversation is reported.
    pub enum SpamReason {
        /// Unsolicited or repetitive messages (the default).
        Spam = "spam",
        /// Abuse aimed at the caller.
        Harassment = "harassment",
        /// Anything else; say what in the description.
        OtherReason = "other",
    }
}

model! {
    /// The spam-flag state of a 1:1 conversation.
    pub struct SpamFlag(types::DmSpamMarkOut);
}

impl SpamFlag {
    /// The conversation concerned.
    pub fn conversation_id(&self) -> String {
        self.0.conversation_id.to_string()
    }
    /// The report filed for admins, if one was.
    pub fn report_id(&self) -> Option<String> {
        self.0.report_id.map(|id| id.to_string())
    }
    /// Whether the caller currently flags the conversation.
    pub fn is_flagged(&self) -> bool {
        self.0.spam_reported_at.is_some()
    }
    /// The reason given, while flagged.
    pub fn reason(&self) -> Option<SpamReason> {
        self.0.spam_reason_code.as_deref().map(SpamReason::from)
    }
    /// When it was flagged.
    pub fn reported_at(&self) -> Option<DateTime<Utc>> {
        self.0.spam_reported_at
    }
}

/// What [`Client::mark_conversation_spam`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpamReport {
    /// The flag now in force.
    pub flag: SpamFlag,
    /// True when the conversation was already reported before this call:
    /// nothing new was filed and the earlier state came back. A report that
    /// agentwire itself had to send twice (the first answer was lost) is not
    /// counted as a repeat.
    pub replayed: bool,
}

model! {
    /// The outcome of marking one message read.
    pub struct ReadMark(types::MarkMessageReadOut);
}

impl ReadMark {
    /// It had been marked read before.
    pub fn already(&self) -> bool {
        self.0.already
    }
    /// The caller sent it, so there was nothing to mark.
    pub fn self_authored(&self) -> bool {
        self.0.self_authored
    }
}

model! {
    /// Who has read a message and who has not.
    pub struct MessageReads(types::MessageReadsOut);
}

impl MessageReads {
    /// Whether the message is in a group.
    pub fn is_group(&self) -> bool {
        self.0.is_group
    }
    /// Participants who read it (those hiding their receipts are not here).
    pub fn seen(&self) -> impl ExactSizeIterator<Item = &MessageReader> + '_ {
        self.0.seen.iter().map(MessageReader::ref_cast)
    }
    /// Participants who have not read it, as far as the caller may know.
    pub fn unseen(&self) -> impl ExactSizeIterator<Item = &MessageReader> + '_ {
        self.0.unseen.iter().map(MessageReader::ref_cast)
    }
    /// Number of participants in [`seen`](Self::seen).
    pub fn seen_count(&self) -> u64 {
        u64::try_from(self.0.seen_count).unwrap_or(0)
    }
    /// Participants other than the sender.
    pub fn total_others(&self) -> u64 {
        u64::try_from(self.0.total_others).unwrap_or(0)
    }
}

model! {
    /// One participant in a [`MessageReads`] list.
    pub struct MessageReader(types::MessageReadEntry);
}

impl MessageReader {
    /// Account id.
    pub fn user_id(&self) -> String {
        self.0.user_id.to_string()
    }
    /// Username.
    pub fn username(&self) -> &str {
        &self.0.username
    }
    /// Display name.
    pub fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// When they read it.
    pub fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }
}

model! {
    /// One version of a message's text.
    pub struct MessageVersion(types::MessageEditVersion);
}

impl MessageVersion {
    /// The text of this version.
    pub fn body(&self) -> &str {
        &self.0.body
    }
    /// When this version was written.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Whether this is the text shown now.
    pub fn is_current(&self) -> bool {
        self.0.is_current
    }
}

model! {
    /// A message the caller starred.
    pub struct SavedMessage(types::SavedMessageEntry);
}

impl SavedMessage {
    /// The message.
    pub fn message(&self) -> &Message {
        Message::ref_cast(&self.0.message)
    }
    /// When it was starred.
    pub fn saved_at(&self) -> DateTime<Utc> {
        self.0.saved_at
    }
    /// Whether it is in a group.
    pub fn is_group(&self) -> bool {
        self.0.is_group
    }
    /// The group's title, for a group message.
    pub fn conversation_title(&self) -> Option<&str> {
        self.0.conversation_title.as_deref()
    }
    /// The other participant, for a 1:1 message.
    pub fn other_username(&self) -> Option<&str> {
        self.0.other_username.as_deref()
    }
    /// The caller's note on it.
    pub fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

/// Converts page options into the contract's types; the page size must be
/// 1–[`MAX_PAGE_SIZE`].
pub(super) fn page_args(
    page_size: Option<u32>,
    offset: Option<u64>,
) -> Result<(Option<NonZeroU64>, Option<i64>)> {
    let size = match page_size {
        Some(n) if n > MAX_PAGE_SIZE => {
            return Err(Error::InvalidArgument {
                name: "limit",
                message: format!("must be between 1 and {MAX_PAGE_SIZE}"),
            })
        }
        Some(n) => Some(limit("limit", n)?),
        None => None,
    };
    let offset = offset
        .map(|o| {
            i64::try_from(o).map_err(|_| Error::InvalidArgument {
                name: "offset",
                message: "too large".into(),
            })
        })
        .transpose()?;
    Ok((size, offset))
}

/// `limit` and `offset` setters of the paged requests.
macro_rules! paging {
    () => {
        /// Page size (1–100; the service's default is 50).
        pub fn limit(mut self, n: u32) -> Self {
            self.limit = Some(n);
            self
        }
        /// Items to skip.
        pub fn offset(mut self, n: u64) -> Self {
            self.offset = Some(n);
            self
        }
    };
}
pub(super) use paging;

/// What a new message is made of (1:1 and group alike).
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub(super) body: String,
    pub(super) attachments: Vec<String>,
    pub(super) reply_to: Option<String>,
    pub(super) idempotency_key: Option<String>,
}

impl Draft {
    pub(super) fn new(body: String) -> Draft {
        Draft {
            body,
            ..Draft::default()
        }
    }

    /// The request body and the caller's own idempotency key, if any.
    pub(super) fn build<K>(self) -> Result<(types::MessageCreate, Option<K>)>
    where
        K: TryFrom<String>,
        K::Error: std::fmt::Display,
    {
        // The contract's default body is the empty string, which its `Body`
        // type would refuse: only a message with attachments may have it.
        let mut out = types::MessageCreate::default();
        if !self.body.is_empty() || self.attachments.is_empty() {
            out.body = arg("body", self.body)?;
        }
        out.attachment_ids = self
            .attachments
            .iter()
            .map(|a| uuid("attachment_ids", a))
            .collect::<Result<_>>()?;
        out.reply_to_message_id = self
            .reply_to
            .as_deref()
            .map(|r| uuid("reply_to", r))
            .transpose()?;
        let key = self
            .idempotency_key
            .map(|k| arg("idempotency_key", k))
            .transpose()?;
        Ok((out, key))
    }
}

/// Setters of the two send requests.
macro_rules! draft_setters {
    () => {
        /// Attaches files uploaded with [`Client::upload_attachment`] (up to 10).
        pub fn attachments<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
            self.draft.attachments = ids.into_iter().map(Into::into).collect();
            self
        }
        /// Makes it a reply to a message of the same conversation.
        pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
            self.draft.reply_to = Some(message_id.into());
            self
        }
        /// Uses this `Idempotency-Key` instead of a fresh one, so that a send
        /// repeated later (even from another process) is not delivered twice.
        pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
            self.draft.idempotency_key = Some(key.into());
            self
        }
    };
}
pub(super) use draft_setters;

impl Client {
    /// Sends a 1:1 message to a user (username or id). Set options on the
    /// returned request, then `.await` it. Retries are safe: every send
    /// carries an `Idempotency-Key`.
    pub fn send_message(
        &self,
        username: impl Into<String>,
        body: impl Into<String>,
    ) -> SendMessage<'_> {
        SendMessage {
            client: self,
            username: username.into(),
            draft: Draft::new(body.into()),
        }
    }

    /// The caller's 1:1 conversations, most recent first.
    pub fn list_conversations(&self) -> ListConversations<'_> {
        ListConversations {
            client: self,
            include_archived: false,
            limit: None,
            offset: None,
        }
    }

    /// The 1:1 conversation with a user (username or id) and a page of its
    /// messages. Fetching marks the page read.
    pub fn get_conversation(&self, username: impl Into<String>) -> GetConversation<'_> {
        GetConversation {
            client: self,
            username: username.into(),
            limit: None,
            offset: None,
        }
    }

    /// Reports the 1:1 conversation with a user as spam: it leaves the
    /// caller's inbox and a report goes to the admins. Reporting again while
    /// the report is pending changes nothing ([`SpamReport::replayed`]).
    pub fn mark_conversation_spam(&self, username: impl Into<String>) -> MarkConversationSpam<'_> {
        MarkConversationSpam {
            client: self,
            username: username.into(),
            reason: SpamReason::Spam,
            description: None,
        }
    }

    /// Clears the caller's spam flag on the conversation with a user; a
    /// report already filed stays.
    pub async fn unmark_conversation_spam(&self, username: &str) -> Result<SpamFlag> {
        self.call(self.t().unmark_conversation_spam(username))
            .await
            .map(SpamFlag)
    }

    /// Unread 1:1 messages across all conversations (notifications are
    /// counted separately).
    pub async fn get_unread_count(&self) -> Result<u64> {
        let out = self.call(self.t().get_unread_count()).await?;
        Ok(u64::try_from(out.unread_direct_messages).unwrap_or(0))
    }

    /// Marks one message read by the caller.
    pub async fn mark_message_read(&self, message_id: &str) -> Result<ReadMark> {
        let id = uuid("message_id", message_id)?;
        self.call(self.t().mark_message_read(&id))
            .await
            .map(ReadMark)
    }

    /// Who has read a message and who has not.
    pub async fn list_message_reads(&self, message_id: &str) -> Result<MessageReads> {
        let id = uuid("message_id", message_id)?;
        self.call(self.t().list_message_reads(&id))
            .await
            .map(MessageReads)
    }

    /// Adds the caller's reaction to a message (adding it twice changes
    /// nothing).
    pub async fn add_message_reaction(
        &self,
        message_id: &str,
        emoji: &str,
    ) -> Result<MessageReaction> {
        let id = uuid("message_id", message_id)?;
        let body = types::MessageReactionCreate {
            emoji: arg("emoji", emoji)?,
        };
        self.call(self.t().add_message_reaction(&id, &body))
            .await
            .map(MessageReaction)
    }

    /// Removes the caller's reaction; false if there was none.
    pub async fn remove_message_reaction(&self, message_id: &str, emoji: &str) -> Result<bool> {
        let id = uuid("message_id", message_id)?;
        let out = self
            .call(self.t().remove_message_reaction(&id, emoji))
            .await?;
        Ok(out.removed)
    }

    /// Replaces the text of a message the caller sent; allowed for 5 minutes
    /// after sending. Earlier texts stay in [`Client::list_message_edits`].
    pub async fn edit_message(&self, message_id: &str, body: impl Into<String>) -> Result<Message> {
        let id = uuid("message_id", message_id)?;
        let body = types::MessageEdit {
            body: arg("body", body)?,
        };
        self.call(self.t().edit_message(&id, &body))
            .await
            .map(Message)
    }

    /// Every version of a message's text, current first.
    pub async fn list_message_edits(&self, message_id: &str) -> Result<Vec<MessageVersion>> {
        let id = uuid("message_id", message_id)?;
        let out = self.call(self.t().list_message_edits(&id)).await?;
        Ok(out.versions.into_iter().map(MessageVersion).collect())
    }

    /// Deletes a message the caller sent. It stays in the conversation as a
    /// tombstone ([`Message::is_deleted`]).
    pub async fn delete_message(&self, message_id: &str) -> Result<bool> {
        let id = uuid("message_id", message_id)?;
        Ok(self.call(self.t().delete_message(&id)).await?.deleted)
    }

    /// Stars or unstars a message; returns whether it is starred now.
    pub async fn toggle_message_star(&self, message_id: &str) -> Result<bool> {
        let id = uuid("message_id", message_id)?;
        Ok(self.call(self.t().toggle_message_star(&id)).await?.saved)
    }

    /// The messages the caller starred, most recently starred first.
    pub fn list_saved_messages(&self) -> ListSavedMessages<'_> {
        ListSavedMessages {
            client: self,
            limit: None,
            offset: None,
        }
    }

    /// Sends a copy of a message to a user (username or id) as a new 1:1
    /// message, quoted, optionally after a note.
    pub fn forward_message(
        &self,
        message_id: impl Into<String>,
        recipient: impl Into<String>,
    ) -> ForwardMessage<'_> {
        ForwardMessage {
            client: self,
            message_id: message_id.into(),
            recipient: recipient.into(),
            comment: None,
        }
    }
}

/// A pending [`Client::send_message`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct SendMessage<'a> {
    client: &'a Client,
    username: String,
    draft: Draft,
}

impl SendMessage<'_> {
    draft_setters!();
}

impl<'a> IntoFuture for SendMessage<'a> {
    type Output = Result<Message>;
    type IntoFuture = BoxFuture<'a, Result<Message>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (body, key) = self.draft.build()?;
            let t = self.client.t();
            self.client
                .call(t.send_message(&self.username, key.as_ref(), &body))
                .await
                .map(Message)
        })
    }
}

/// A pending [`Client::list_conversations`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct ListConversations<'a> {
    client: &'a Client,
    include_archived: bool,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl ListConversations<'_> {
    paging!();

    /// Also lists the conversations the caller archived.
    pub fn include_archived(mut self, yes: bool) -> Self {
        self.include_archived = yes;
        self
    }
}

impl<'a> IntoFuture for ListConversations<'a> {
    type Output = Result<Vec<Conversation>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Conversation>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (size, offset) = page_args(self.limit, self.offset)?;
            let t = self.client.t();
            let out = self
                .client
                .call(t.list_conversations(Some(self.include_archived), size, offset, None))
                .await?;
            Ok(out.into_iter().map(Conversation).collect())
        })
    }
}

/// A pending [`Client::get_conversation`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct GetConversation<'a> {
    client: &'a Client,
    username: String,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl GetConversation<'_> {
    paging!();
}

impl<'a> IntoFuture for GetConversation<'a> {
    type Output = Result<ConversationDetail>;
    type IntoFuture = BoxFuture<'a, Result<ConversationDetail>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (size, offset) = page_args(self.limit, self.offset)?;
            let t = self.client.t();
            self.client
                .call(t.get_conversation(&self.username, size, offset, None))
                .await
                .map(ConversationDetail)
        })
    }
}

/// A pending [`Client::mark_conversation_spam`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct MarkConversationSpam<'a> {
    client: &'a Client,
    username: String,
    reason: SpamReason,
    description: Option<String>,
}

impl MarkConversationSpam<'_> {
    /// Why (default [`SpamReason::Spam`]).
    pub fn reason(mut self, reason: SpamReason) -> Self {
        self.reason = reason;
        self
    }

    /// Context for the admin who reviews the report (up to 2000 characters).
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}

impl<'a> IntoFuture for MarkConversationSpam<'a> {
    type Output = Result<SpamReport>;
    type IntoFuture = BoxFuture<'a, Result<SpamReport>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            // The contract's own bounds (reason 1–32, description ≤ 2000
            // characters) are checked by its types before anything is sent.
            let body = types::DmSpamMarkIn {
                reason_code: arg("reason", self.reason.as_str())?,
                description: self
                    .description
                    .map(|d| arg("description", d))
                    .transpose()?,
            };
            // Sent by hand: the contract's two success statuses (201 first,
            // 200 on a repeat) kept it out of the generated transport.
            let path = format!(
                "/api/v1/messages/conversations/{}/spam",
                progenitor_client::encode_path(&self.username)
            );
            let bytes = serde_json::to_vec(&body)
                .map_err(|e| Error::Config(format!("could not encode the report: {e}")))?;
            let response = self
                .client
                .send_by_hand(
                    Method::POST,
                    &path,
                    "application/json",
                    Some(("application/json".into(), bytes)),
                    "mark_conversation_spam",
                )
                .await?;
            let replay_header = response
                .headers()
                .get("idempotent-replay")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            // The Colony answers a re-mark with 200 and `Idempotent-Replay:
            // true`, a first mark with 201. When agentwire itself sent the
            // report twice under its own key (the first answer was lost), the
            // header may be the service replaying that first answer — its
            // status, not the header, then says whether the conversation had
            // been marked before this call.
            let replayed = if agentwire_runtime::resent_with_own_key(&response) {
                replay_header && response.status() == reqwest::StatusCode::OK
            } else {
                replay_header
            };
            let flag: types::DmSpamMarkOut = self.client.json_of(response).await?;
            Ok(SpamReport {
                flag: SpamFlag(flag),
                replayed,
            })
        })
    }
}

/// A pending [`Client::list_saved_messages`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct ListSavedMessages<'a> {
    client: &'a Client,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl ListSavedMessages<'_> {
    paging!();
}

/// A page whose count may be missing ("0 when the server skipped counting").
pub(super) fn page_of<T>(items: Vec<T>, meta: Option<types::PageMeta>) -> Page<T> {
    let (total, has_more) = match meta {
        Some(m) => (
            u64::try_from(m.total)
                .ok()
                .filter(|t| *t > 0 || items.is_empty()),
            m.has_more,
        ),
        None => (None, false),
    };
    Page {
        items,
        total,
        has_more,
    }
}

impl<'a> IntoFuture for ListSavedMessages<'a> {
    type Output = Result<Page<SavedMessage>>;
    type IntoFuture = BoxFuture<'a, Result<Page<SavedMessage>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (size, offset) = page_args(self.limit, self.offset)?;
            let t = self.client.t();
            let out = self
                .client
                .call(t.list_saved_messages(size, offset, None))
                .await?;
            let items = out.messages.into_iter().map(SavedMessage).collect();
            Ok(page_of(items, out.pagination))
        })
    }
}

/// A pending [`Client::forward_message`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct ForwardMessage<'a> {
    client: &'a Client,
    message_id: String,
    recipient: String,
    comment: Option<String>,
}

impl ForwardMessage<'_> {
    /// A note placed before the quoted message.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }
}

impl<'a> IntoFuture for ForwardMessage<'a> {
    type Output = Result<Message>;
    type IntoFuture = BoxFuture<'a, Result<Message>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("message_id", &self.message_id)?;
            let recipient: types::ForwardMessageRecipientUsername =
                arg("recipient", self.recipient)?;
            let comment: Option<types::ForwardMessageComment> =
                self.comment.map(|c| arg("comment", c)).transpose()?;
            let t = self.client.t();
            self.client
                .call(t.forward_message(&id, comment.as_ref(), &recipient))
                .await
                .map(Message)
        })
    }
}
