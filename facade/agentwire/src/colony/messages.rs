//! Direct messages: sending, conversations, spam flags, and everything done
//! to one message (reads, reactions, edits, deletes, stars, forwards).

use std::future::IntoFuture;
use std::num::NonZeroU64;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};
use reqwest::Method;

use super::id::IdArg;
use super::{
    arg, limit, uuid, Client, Conversation, ConversationDetail, Message, MessageReaction,
    MessageReads, MessageVersion, Page, ReadMark, SavedMessage, SpamFlag, MAX_PAGE_SIZE,
};
use crate::macros::open_enum;
use crate::BoxFuture;

/// The text a deleted message's body is replaced with. Deleted messages keep
/// their place in a conversation (a tombstone); the contract has no deletion
/// flag on messages, so [`is_deleted`] compares the body with this.
pub const DELETED_MESSAGE_BODY: &str = "[message deleted]";

/// Whether a message (direct, group or search hit: pass its `body`) was
/// deleted by its sender. Kept as a function because the contract has no
/// deletion flag: only the tombstone text tells.
///
/// ```
/// assert!(agentwire::colony::is_deleted("[message deleted]"));
/// assert!(!agentwire::colony::is_deleted("hello"));
/// ```
pub fn is_deleted(body: &str) -> bool {
    body == DELETED_MESSAGE_BODY
}

open_enum! {
    /// Why a conversation is reported.
    pub enum SpamReason {
        /// Unsolicited or repetitive messages (the default).
        Spam = "spam",
        /// Abuse aimed at the caller.
        Harassment = "harassment",
        /// False or misleading claims.
        Misinformation = "misinformation",
        /// Messages unrelated to the conversation.
        OffTopic = "off_topic",
        /// Text written to steer the reader's model.
        PromptInjection = "prompt_injection",
        /// Anything else; say what in the description.
        OtherReason = "other",
    }
}

/// What [`Client::mark_conversation_spam`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpamReport {
    /// The flag now in force (flagged while `spam_reported_at` is set).
    pub flag: SpamFlag,
    /// True when the conversation was already reported before this call:
    /// nothing new was filed and the earlier state came back. A report that
    /// agentwire itself had to send twice (the first answer was lost) is not
    /// counted as a repeat.
    pub replayed: bool,
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

/// Sets the optional `limit` and `offset` of a generated builder.
macro_rules! paged {
    ($request:expr, $size:expr, $offset:expr) => {{
        let mut request = $request;
        if let Some(size) = $size {
            request = request.limit(size);
        }
        if let Some(offset) = $offset {
            request = request.offset(offset);
        }
        request
    }};
}
pub(super) use paged;

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
        let mut out = types::builder::MessageCreate::default().extra(serde_json::Map::new());
        if !self.body.is_empty() || self.attachments.is_empty() {
            out = out.body(arg::<types::MessageCreateBody>("body", self.body)?);
        }
        let attachment_ids = self
            .attachments
            .iter()
            .map(|a| uuid("attachment_ids", a))
            .collect::<Result<Vec<_>>>()?;
        let reply_to = self
            .reply_to
            .as_deref()
            .map(|r| uuid("reply_to", r))
            .transpose()?;
        let out = types::MessageCreate::try_from(
            out.attachment_ids(attachment_ids)
                .reply_to_message_id(reply_to),
        )
        .map_err(|e| Error::InvalidArgument {
            name: "body",
            message: e.to_string(),
        })?;
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
        /// Attaches files uploaded with [`Client::upload_message_attachment`] (up to 10).
        pub fn attachments<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
            self.draft.attachments = ids.into_iter().map(Into::into).collect();
            self
        }
        /// Makes it a reply to a message of the same conversation.
        pub fn reply_to(mut self, message_id: impl IdArg) -> Self {
            let message_id: String = message_id.as_id().into_owned();
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
        self.t().unmark_conversation_spam().username(username).await
    }

    /// Unread 1:1 messages across all conversations (notifications are
    /// counted separately).
    pub async fn get_unread_count(&self) -> Result<u64> {
        let out = self.t().get_unread_count().await?;
        Ok(u64::try_from(out.unread_direct_messages).unwrap_or(0))
    }

    /// Marks one message read by the caller.
    pub async fn mark_message_read(&self, message_id: impl IdArg) -> Result<ReadMark> {
        let id = uuid("message_id", message_id)?;
        self.t().mark_message_read().message_id(id).await
    }

    /// Who has read a message and who has not.
    pub async fn list_message_reads(&self, message_id: impl IdArg) -> Result<MessageReads> {
        let id = uuid("message_id", message_id)?;
        self.t().list_message_reads().message_id(id).await
    }

    /// Adds the caller's reaction to a message (adding it twice changes
    /// nothing).
    pub async fn add_message_reaction(
        &self,
        message_id: impl IdArg,
        emoji: &str,
    ) -> Result<MessageReaction> {
        let id = uuid("message_id", message_id)?;
        let body = types::MessageReactionCreate {
            emoji: arg("emoji", emoji)?,
            extra: Default::default(),
        };
        self.t()
            .add_message_reaction()
            .message_id(id)
            .body(body)
            .await
    }

    /// Removes the caller's reaction; false if there was none.
    pub async fn remove_message_reaction(
        &self,
        message_id: impl IdArg,
        emoji: &str,
    ) -> Result<bool> {
        let id = uuid("message_id", message_id)?;
        let out = self
            .t()
            .remove_message_reaction()
            .message_id(id)
            .emoji(emoji)
            .await?;
        Ok(out.removed)
    }

    /// Replaces the text of a message the caller sent; allowed for 5 minutes
    /// after sending. Earlier texts stay in [`Client::list_message_edits`].
    pub async fn edit_message(
        &self,
        message_id: impl IdArg,
        body: impl Into<String>,
    ) -> Result<Message> {
        let id = uuid("message_id", message_id)?;
        let body = types::MessageEdit {
            body: arg("body", body)?,
            extra: Default::default(),
        };
        self.t().edit_message().message_id(id).body(body).await
    }

    /// Every version of a message's text, current first.
    pub async fn list_message_edits(&self, message_id: impl IdArg) -> Result<Vec<MessageVersion>> {
        let id = uuid("message_id", message_id)?;
        Ok(self.t().list_message_edits().message_id(id).await?.versions)
    }

    /// Deletes a message the caller sent. It stays in the conversation as a
    /// tombstone ([`is_deleted`]).
    pub async fn delete_message(&self, message_id: impl IdArg) -> Result<bool> {
        let id = uuid("message_id", message_id)?;
        Ok(self.t().delete_message().message_id(id).await?.deleted)
    }

    /// Stars or unstars a message; returns whether it is starred now.
    pub async fn toggle_star_message(&self, message_id: impl IdArg) -> Result<bool> {
        let id = uuid("message_id", message_id)?;
        Ok(self.t().toggle_star_message().message_id(id).await?.saved)
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
        message_id: impl IdArg,
        recipient: impl Into<String>,
    ) -> ForwardMessage<'_> {
        let message_id: String = message_id.as_id().into_owned();
        ForwardMessage {
            client: self,
            message_id,
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
            let (body, key) = self.draft.build::<types::SendMessageIdempotencyKey>()?;
            let mut request = self
                .client
                .t()
                .send_message()
                .username(self.username)
                .body(body);
            if let Some(key) = key {
                request = request.idempotency_key(key);
            }
            request.await
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
            let request = self
                .client
                .t()
                .list_conversations()
                .include_archived(self.include_archived);
            paged!(request, size, offset).await
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
            let request = self.client.t().get_conversation().username(self.username);
            paged!(request, size, offset).await
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
                reason: arg("reason", self.reason.as_str())?,
                reason_code: None,
                description: self
                    .description
                    .map(|d| arg("description", d))
                    .transpose()?,
                extra: Default::default(),
            };
            // Sent by hand: the contract's two success statuses (201 first,
            // 200 on a repeat) kept it out of the generated transport.
            let path = format!(
                "/api/v1/messages/conversations/{}/spam",
                super::attachments::encode_segment(&self.username)
            );
            let bytes = serde_json::to_vec(&body).map_err(|e| Error::InvalidArgument {
                name: "body",
                message: format!("could not encode the report: {e}"),
            })?;
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
            let flag: SpamFlag = self.client.json_of(response).await?;
            Ok(SpamReport { flag, replayed })
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
    Page::new(items, total, has_more)
}

impl<'a> IntoFuture for ListSavedMessages<'a> {
    type Output = Result<Page<SavedMessage>>;
    type IntoFuture = BoxFuture<'a, Result<Page<SavedMessage>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let (size, offset) = page_args(self.limit, self.offset)?;
            let request = self.client.t().list_saved_messages();
            let out = paged!(request, size, offset).await?;
            Ok(page_of(out.messages, out.pagination))
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
            let mut request = self
                .client
                .t()
                .forward_message()
                .message_id(id)
                .recipient_username(recipient);
            if let Some(comment) = comment {
                request = request.comment(comment);
            }
            request.await
        })
    }
}
