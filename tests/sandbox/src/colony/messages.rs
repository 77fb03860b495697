//! Messages: the store shared by 1:1 and group conversations, the 1:1
//! conversations themselves, and the operations on single messages (reads,
//! reactions, edits, deletes, stars, forwards).

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::groups::Group;
use super::{Caller, ColonyError, ColonyHandle, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// How long after sending the sender may still edit a message.
pub(crate) const EDIT_WINDOW: chrono::Duration = chrono::Duration::minutes(5);
/// What a deleted message's text is replaced with.
pub(crate) const DELETED_BODY: &str = "[message deleted]";
const MAX_BODY_CHARS: usize = 10_000;
const MAX_ATTACHMENTS: usize = 10;
const PREVIEW_CHARS: usize = 100;

/// Every conversation and message.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) conversations: HashMap<Uuid, Conversation>,
    /// The 1:1 conversation of each pair of users, keyed by the ordered pair.
    direct: HashMap<(Uuid, Uuid), Uuid>,
    pub(crate) messages: HashMap<Uuid, Message>,
    /// (flagging user, conversation) → their spam flag.
    spam: HashMap<(Uuid, Uuid), SpamFlag>,
    /// (flagging user, conversation) → the last report filed; kept on unmark.
    reports: HashMap<(Uuid, Uuid), Uuid>,
    /// user → (message, when starred), oldest first.
    stars: HashMap<Uuid, Vec<(Uuid, DateTime<Utc>)>>,
}

#[derive(Debug, Clone)]
struct SpamFlag {
    reason: String,
    at: DateTime<Utc>,
    report: Uuid,
}

/// A 1:1 or group conversation.
pub(crate) struct Conversation {
    pub(crate) id: Uuid,
    pub(crate) kind: Kind,
    /// Message ids, oldest first.
    pub(crate) order: Vec<Uuid>,
    pub(crate) last_message_at: DateTime<Utc>,
}

pub(crate) enum Kind {
    Direct([Uuid; 2]),
    Group(Box<Group>),
}

impl Conversation {
    /// Whether `user` may read and write here (pending invitees may not).
    pub(crate) fn is_participant(&self, user: Uuid) -> bool {
        match &self.kind {
            Kind::Direct(pair) => pair.contains(&user),
            Kind::Group(g) => g.is_member(user),
        }
    }

    /// Everyone who may read the conversation.
    pub(crate) fn participants(&self) -> Vec<Uuid> {
        match &self.kind {
            Kind::Direct(pair) => pair.to_vec(),
            Kind::Group(g) => g.member_ids(),
        }
    }

    pub(crate) fn group(&self) -> Option<&Group> {
        match &self.kind {
            Kind::Group(g) => Some(g),
            Kind::Direct(_) => None,
        }
    }

    fn other(&self, user: Uuid) -> Option<Uuid> {
        match &self.kind {
            Kind::Direct([a, b]) if *a == user => Some(*b),
            Kind::Direct([a, b]) if *b == user => Some(*a),
            _ => None,
        }
    }
}

/// One stored message.
pub(crate) struct Message {
    pub(crate) id: Uuid,
    pub(crate) conversation: Uuid,
    pub(crate) sender: Uuid,
    pub(crate) body: String,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) edited_at: Option<DateTime<Utc>>,
    pub(crate) deleted: bool,
    /// Earlier texts with the time each was written, oldest first.
    versions: Vec<(String, DateTime<Utc>)>,
    pub(crate) reads: HashMap<Uuid, DateTime<Utc>>,
    /// (user, emoji, when), in the order added.
    reactions: Vec<(Uuid, String, DateTime<Utc>)>,
    pub(crate) attachments: Vec<Uuid>,
    reply_to: Option<Uuid>,
}

/// A message as sent by a client: the body may be empty only when
/// attachments are given (the generated `Body` type refuses "").
#[derive(Debug, Deserialize)]
pub(crate) struct MessageIn {
    #[serde(default)]
    pub(crate) body: String,
    #[serde(default)]
    pub(crate) attachment_ids: Vec<Uuid>,
    pub(crate) reply_to_message_id: Option<Uuid>,
}

impl Data {
    /// Marks the messages `reader` did not send as read by them now (their
    /// first read time is kept).
    pub(crate) fn mark_read_by(&mut self, ids: &[Uuid], reader: Uuid) {
        let now = Utc::now();
        for id in ids {
            if let Some(m) = self.messages.get_mut(id) {
                if m.sender != reader {
                    m.reads.entry(reader).or_insert(now);
                }
            }
        }
    }

    pub(crate) fn conversation(&self, id: &Uuid) -> ColonyResult<&Conversation> {
        self.conversations
            .get(id)
            .ok_or_else(|| ColonyError::not_found("conversation"))
    }

    pub(crate) fn message(&self, id: &Uuid) -> ColonyResult<&Message> {
        self.messages
            .get(id)
            .ok_or_else(|| ColonyError::not_found("message"))
    }

    fn direct_between(&self, a: Uuid, b: Uuid) -> Option<Uuid> {
        self.direct.get(&pair_key(a, b)).copied()
    }

    pub(crate) fn direct_or_create(&mut self, a: Uuid, b: Uuid) -> Uuid {
        if let Some(id) = self.direct_between(a, b) {
            return id;
        }
        let id = Uuid::new_v4();
        self.conversations.insert(
            id,
            Conversation {
                id,
                kind: Kind::Direct([a, b]),
                order: Vec::new(),
                last_message_at: Utc::now(),
            },
        );
        self.direct.insert(pair_key(a, b), id);
        id
    }

    /// Stores a group conversation.
    pub(crate) fn insert_group(&mut self, group: Group) -> Uuid {
        let id = Uuid::new_v4();
        self.conversations.insert(
            id,
            Conversation {
                id,
                kind: Kind::Group(Box::new(group)),
                order: Vec::new(),
                last_message_at: Utc::now(),
            },
        );
        id
    }

    /// A message `user` may see, with its conversation.
    pub(crate) fn visible(
        &self,
        message: &Uuid,
        user: Uuid,
    ) -> ColonyResult<(&Message, &Conversation)> {
        let m = self.message(message)?;
        let c = self.conversation(&m.conversation)?;
        if !c.is_participant(user) {
            return Err(ColonyError::forbidden(
                "not a participant of this conversation",
            ));
        }
        Ok((m, c))
    }
}

fn pair_key(a: Uuid, b: Uuid) -> (Uuid, Uuid) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn validation(message: impl Into<String>) -> ColonyError {
    ColonyError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        message,
    )
}

/// Stores a message from `sender` in `conversation` after checking the body,
/// the attachments (the sender's own, not deleted) and the reply target.
pub(crate) fn post_message(
    data: &mut super::Data,
    conversation: Uuid,
    sender: Uuid,
    input: MessageIn,
) -> ColonyResult<Uuid> {
    let chars = input.body.chars().count();
    if chars > MAX_BODY_CHARS {
        return Err(validation(format!(
            "body is longer than {MAX_BODY_CHARS} characters"
        )));
    }
    if chars == 0 && input.attachment_ids.is_empty() {
        return Err(validation("body may be empty only with attachments"));
    }
    if input.attachment_ids.len() > MAX_ATTACHMENTS {
        return Err(validation(format!(
            "at most {MAX_ATTACHMENTS} attachments per message"
        )));
    }
    for a in &input.attachment_ids {
        match data.attachments.files.get(a) {
            Some(f) if f.owner == sender && !f.deleted => {}
            _ => return Err(ColonyError::not_found("attachment")),
        }
    }
    if let Some(r) = input.reply_to_message_id {
        if data.messages.message(&r)?.conversation != conversation {
            return Err(ColonyError::bad_request(
                "REPLY_OUTSIDE_CONVERSATION",
                "the message replied to is in another conversation",
            ));
        }
    }
    let now = Utc::now();
    let id = Uuid::new_v4();
    data.messages.messages.insert(
        id,
        Message {
            id,
            conversation,
            sender,
            body: input.body,
            created_at: now,
            edited_at: None,
            deleted: false,
            versions: Vec::new(),
            reads: HashMap::new(),
            reactions: Vec::new(),
            attachments: input.attachment_ids,
            reply_to: input.reply_to_message_id,
        },
    );
    let conv = data
        .messages
        .conversations
        .get_mut(&conversation)
        .ok_or_else(|| ColonyError::not_found("conversation"))?;
    conv.order.push(id);
    conv.last_message_at = now;
    Ok(id)
}

/// Whether `reader` lets others see their reads in `conversation`.
fn shows_receipts(conv: &Conversation, reader: Uuid) -> bool {
    conv.group().is_none_or(|g| g.shows_receipts(reader))
}

/// A message as `viewer` sees it.
pub(crate) fn render(data: &super::Data, m: &Message, viewer: Uuid) -> types::Message {
    let conv = data.messages.conversations.get(&m.conversation);
    let visible_reads = || {
        m.reads
            .iter()
            .filter(|(u, _)| **u != m.sender && conv.is_none_or(|c| shows_receipts(c, **u)))
            .map(|(_, at)| *at)
    };
    let (is_read, read_at) = if m.sender == viewer {
        let first = visible_reads().min();
        (first.is_some(), first)
    } else {
        let at = m.reads.get(&viewer).copied();
        (at.is_some(), at)
    };
    let attachments = if m.deleted {
        Vec::new()
    } else {
        m.attachments
            .iter()
            .filter_map(|a| data.attachments.files.get(a))
            .filter(|f| !f.deleted)
            .map(super::attachments::Stored::describe)
            .collect()
    };
    let reactions = m
        .reactions
        .iter()
        .map(|(user, emoji, at)| types::MessageReaction {
            extra: Default::default(),
            created_at: *at,
            emoji: emoji.clone(),
            user_id: *user,
            username: username(data, user),
        })
        .collect();
    let reply_to = m.reply_to.and_then(|r| {
        let target = data.messages.messages.get(&r)?;
        Some(types::ReplyPreview {
            extra: Default::default(),
            body_preview: preview(&target.body),
            deleted: target.deleted,
            id: target.id,
            sender_id: target.sender,
            sender_username: username(data, &target.sender),
        })
    });
    types::Message {
        extra: Default::default(),
        attachments,
        body: m.body.clone(),
        conversation_id: m.conversation,
        created_at: m.created_at,
        edited_at: m.edited_at,
        id: m.id,
        is_read,
        reactions,
        read_at,
        reply_to,
        sender: user_out(data, &m.sender),
    }
}

/// The number of members other than the sender who have read `m` and show it.
pub(crate) fn read_count(data: &super::Data, m: &Message) -> i64 {
    let Some(conv) = data.messages.conversations.get(&m.conversation) else {
        return 0;
    };
    m.reads
        .keys()
        .filter(|u| **u != m.sender && shows_receipts(conv, **u))
        .count() as i64
}

pub(crate) fn user_out(data: &super::Data, id: &Uuid) -> types::User {
    // Accounts are never removed; a stand-in keeps rendering total anyway.
    data.user(id)
        .cloned()
        .unwrap_or_else(|_| placeholder_user(*id))
}

fn placeholder_user(id: Uuid) -> types::User {
    types::User {
        extra: Default::default(),
        avatar_url: String::new(),
        bio: None,
        capabilities: None,
        created_at: Utc::now(),
        current_model: None,
        display_name: "Deleted".into(),
        evm_address: None,
        harness: None,
        id,
        karma: 0,
        last_active: None,
        lightning_address: None,
        nostr_pubkey: None,
        npub: None,
        social_links: None,
        team_role: None,
        trust_level: None,
        user_type: types::UserType::Agent,
        username: "deleted".into(),
    }
}

pub(crate) fn username(data: &super::Data, id: &Uuid) -> String {
    data.user(id)
        .map(|u| u.username.clone())
        .unwrap_or_else(|_| "deleted".into())
}

fn preview(body: &str) -> String {
    body.chars().take(PREVIEW_CHARS).collect()
}

/// `limit`/`offset`/`page` of the messaging listings.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Paging {
    #[serde(default, deserialize_with = "number")]
    limit: Option<usize>,
    #[serde(default, deserialize_with = "number")]
    offset: Option<usize>,
    #[serde(default, deserialize_with = "number")]
    page: Option<usize>,
}

/// A number from a query string, also when a `#[serde(flatten)]` around it
/// makes serde_urlencoded hand it over as a string.
fn number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(usize),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Number(n)) => Ok(Some(n)),
        Some(Raw::Text(t)) => t.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl Paging {
    /// (offset, limit) after validation: limit 1–100 (default 50); `page` is
    /// another way to give the offset and must agree with `offset` if both
    /// are sent.
    pub(crate) fn window(&self) -> ColonyResult<(usize, usize)> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(validation("limit must be between 1 and 100"));
        }
        let from_page = match self.page {
            Some(0) => return Err(validation("page starts at 1")),
            Some(p) => Some((p - 1) * limit),
            None => None,
        };
        let offset = match (self.offset, from_page) {
            (Some(o), Some(p)) if o != p => {
                return Err(validation("offset and page disagree"));
            }
            (Some(o), _) => o,
            (None, Some(p)) => p,
            (None, None) => 0,
        };
        Ok((offset, limit))
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/messages/send/{username}", post(send))
        .route("/api/v1/messages/conversations", get(list_conversations))
        .route(
            "/api/v1/messages/conversations/{username}",
            get(conversation),
        )
        .route(
            "/api/v1/messages/conversations/{username}/spam",
            post(mark_spam).delete(unmark_spam),
        )
        .route("/api/v1/messages/unread-count", get(unread_count))
        .route("/api/v1/messages/saved", get(saved))
        .route("/api/v1/messages/{message_id}", patch(edit).delete(remove))
        .route("/api/v1/messages/{message_id}/edits", get(edits))
        .route("/api/v1/messages/{message_id}/forward", post(forward))
        .route("/api/v1/messages/{message_id}/reactions", post(react))
        .route(
            "/api/v1/messages/{message_id}/reactions/{emoji}",
            delete(unreact),
        )
        .route("/api/v1/messages/{message_id}/read", post(mark_read))
        .route("/api/v1/messages/{message_id}/reads", get(reads))
        .route("/api/v1/messages/{message_id}/star", post(star))
}

pub(crate) fn message_id(raw: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found("message"))
}

async fn send(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(username): Path<String>,
    FastJson(body): FastJson<MessageIn>,
) -> ColonyResult<(StatusCode, Json<types::Message>)> {
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    let to = data.find_user(&username)?;
    if to == caller.0 {
        return Err(ColonyError::bad_request(
            "CANNOT_MESSAGE_SELF",
            "you cannot message yourself",
        ));
    }
    if data.users.blocks(to, caller.0) {
        return Err(ColonyError::forbidden(
            "This user does not accept your messages.",
        ));
    }
    let conv = data.messages.direct_or_create(caller.0, to);
    let id = post_message(data, conv, caller.0, body)?;
    let m = data.messages.message(&id)?;
    Ok((StatusCode::CREATED, Json(render(data, m, caller.0))))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    include_archived: bool,
    #[serde(flatten)]
    paging: Paging,
}

async fn list_conversations(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ColonyResult<Json<Vec<types::Conversation>>> {
    // Nothing is ever archived here, so the flag changes nothing.
    let _ = query.include_archived;
    let (offset, limit) = query.paging.window()?;
    let data = shared.colony.lock();
    let mut convs: Vec<&Conversation> = data
        .messages
        .conversations
        .values()
        .filter(|c| matches!(c.kind, Kind::Direct(_)) && c.is_participant(caller.0))
        .filter(|c| !data.messages.spam.contains_key(&(caller.0, c.id)))
        // A blocked user's thread no longer surfaces in the blocker's inbox.
        .filter(|c| {
            c.other(caller.0)
                .is_none_or(|o| !data.users.blocks(caller.0, o))
        })
        .filter(|c| !c.order.is_empty())
        .collect();
    convs.sort_by_key(|c| std::cmp::Reverse(c.last_message_at));
    let out = convs
        .into_iter()
        .skip(offset)
        .take(limit)
        .filter_map(|c| {
            let other = c.other(caller.0)?;
            let last = c.order.last().and_then(|m| data.messages.messages.get(m));
            Some(types::Conversation {
                extra: Default::default(),
                id: c.id,
                is_archived: false,
                last_message_at: c.last_message_at,
                last_message_preview: last.map(|m| preview(&m.body)),
                other_user: user_out(&data, &other),
                unread_count: unread_in(&data.messages, c, caller.0) as i64,
            })
        })
        .collect();
    Ok(Json(out))
}

fn unread_in(data: &Data, conv: &Conversation, user: Uuid) -> usize {
    conv.order
        .iter()
        .filter_map(|m| data.messages.get(m))
        .filter(|m| m.sender != user && !m.deleted && !m.reads.contains_key(&user))
        .count()
}

async fn conversation(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(username): Path<String>,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<types::ConversationDetail>> {
    let (offset, limit) = paging.window()?;
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    let other = data.find_user(&username)?;
    let other_user = data.user(&other)?.clone();
    let Some(conv) = data.messages.direct_between(caller.0, other) else {
        return Ok(Json(types::ConversationDetail {
            extra: Default::default(),
            id: None,
            messages: Vec::new(),
            other_user,
        }));
    };
    let page: Vec<Uuid> = data
        .messages
        .conversation(&conv)?
        .order
        .iter()
        .skip(offset)
        .take(limit)
        .copied()
        .collect();
    // Fetching a page reads it.
    data.messages.mark_read_by(&page, caller.0);
    let messages = page
        .iter()
        .filter_map(|id| data.messages.messages.get(id))
        .map(|m| render(data, m, caller.0))
        .collect();
    Ok(Json(types::ConversationDetail {
        extra: Default::default(),
        id: Some(conv),
        messages,
        other_user,
    }))
}

/// Body of a spam report (`DmSpamMarkIn`, which the generated transport does
/// not carry: the operation is sent by hand).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpamIn {
    /// The code (platform release 2026-09-27a); `reason_code` is its old,
    /// deprecated name, still read.
    reason: Option<String>,
    reason_code: Option<String>,
    description: Option<String>,
}

/// The codes the service knows; any other is kept as `other`.
const KNOWN_REASONS: [&str; 6] = [
    "spam",
    "harassment",
    "misinformation",
    "off_topic",
    "prompt_injection",
    "other",
];

fn spam_out(conv: Uuid, flag: Option<&SpamFlag>, report: Option<Uuid>) -> types::SpamFlag {
    types::SpamFlag {
        extra: Default::default(),
        conversation_id: conv,
        report_id: report,
        spam_reason_code: flag.map(|f| f.reason.clone()),
        spam_reported_at: flag.map(|f| f.at),
    }
}

async fn mark_spam(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(username): Path<String>,
    FastJson(body): FastJson<SpamIn>,
) -> ColonyResult<Response> {
    let code = body
        .reason
        .or(body.reason_code)
        .unwrap_or_else(|| "spam".into());
    if code.chars().count() > 32 {
        return Err(validation("reason is longer than 32 characters"));
    }
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(validation("description is longer than 2000 characters"));
    }
    let mut data = shared.colony.lock();
    let other = data.find_user(&username)?;
    let conv = data
        .messages
        .direct_between(caller.0, other)
        .ok_or_else(|| ColonyError::not_found("conversation"))?;
    let slot = (caller.0, conv);
    if let Some(flag) = data.messages.spam.get(&slot) {
        let out = spam_out(conv, Some(flag), Some(flag.report));
        let mut response = (StatusCode::OK, Json(out)).into_response();
        response
            .headers_mut()
            .insert("idempotent-replay", HeaderValue::from_static("true"));
        return Ok(response);
    }
    let reason = if KNOWN_REASONS.contains(&code.as_str()) {
        code
    } else {
        "other".into()
    };
    let flag = SpamFlag {
        reason,
        at: Utc::now(),
        report: Uuid::new_v4(),
    };
    data.messages.reports.insert(slot, flag.report);
    let out = spam_out(conv, Some(&flag), Some(flag.report));
    data.messages.spam.insert(slot, flag);
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn unmark_spam(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(username): Path<String>,
) -> ColonyResult<Json<types::SpamFlag>> {
    let mut data = shared.colony.lock();
    let other = data.find_user(&username)?;
    let conv = data
        .messages
        .direct_between(caller.0, other)
        .ok_or_else(|| ColonyError::not_found("conversation"))?;
    data.messages.spam.remove(&(caller.0, conv));
    let report = data.messages.reports.get(&(caller.0, conv)).copied();
    Ok(Json(spam_out(conv, None, report)))
}

/// Unread messages of `user`'s 1:1 conversations, leaving out those marked
/// as spam and those with someone `user` blocked.
pub(crate) fn unread_direct(data: &super::Data, user: Uuid) -> usize {
    data.messages
        .conversations
        .values()
        .filter(|c| matches!(c.kind, Kind::Direct(_)) && c.is_participant(user))
        .filter(|c| !data.messages.spam.contains_key(&(user, c.id)))
        .filter(|c| c.other(user).is_none_or(|o| !data.users.blocks(user, o)))
        .map(|c| unread_in(&data.messages, c, user))
        .sum()
}

async fn unread_count(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::UnreadCountOut>> {
    let n = unread_direct(&shared.colony.lock(), caller.0);
    Ok(Json(types::UnreadCountOut {
        extra: Default::default(),
        unread_count: Some(n as i64),
        unread_direct_messages: n as i64,
    }))
}

async fn saved(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<types::SavedMessagesOut>> {
    let (offset, limit) = paging.window()?;
    let data = shared.colony.lock();
    let starred: Vec<(&Message, &Conversation, DateTime<Utc>)> = data
        .messages
        .stars
        .get(&caller.0)
        .into_iter()
        .flatten()
        .rev()
        .filter_map(|(id, at)| {
            let (m, c) = data.messages.visible(id, caller.0).ok()?;
            Some((m, c, *at))
        })
        .collect();
    let total = starred.len();
    let messages: Vec<types::SavedMessage> = starred
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(m, c, at)| types::SavedMessage {
            extra: Default::default(),
            conversation_title: c.group().and_then(|g| g.title.clone()),
            is_group: c.group().is_some(),
            message: render(&data, m, caller.0),
            note: None,
            other_username: c.other(caller.0).map(|o| username(&data, &o)),
            saved_at: at,
        })
        .collect();
    let has_more = offset + messages.len() < total;
    Ok(Json(types::SavedMessagesOut {
        extra: Default::default(),
        messages,
        pagination: Some(types::PageMeta {
            extra: Default::default(),
            has_more,
            total: total as i64,
        }),
    }))
}

async fn edit(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastJson(body): FastJson<types::MessageEdit>,
) -> ColonyResult<Json<types::Message>> {
    let id = message_id(&id)?;
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    data.messages.visible(&id, caller.0)?;
    let m = data
        .messages
        .messages
        .get_mut(&id)
        .ok_or_else(|| ColonyError::not_found("message"))?;
    if m.sender != caller.0 {
        return Err(ColonyError::forbidden("only the sender may edit a message"));
    }
    if m.deleted {
        return Err(ColonyError::conflict(
            "MESSAGE_DELETED",
            "a deleted message cannot be edited",
        ));
    }
    let now = Utc::now();
    if now - m.created_at > EDIT_WINDOW {
        return Err(ColonyError::new(
            StatusCode::FORBIDDEN,
            "EDIT_WINDOW_EXPIRED",
            "messages can only be edited for 5 minutes after sending",
        ));
    }
    let since = m.edited_at.unwrap_or(m.created_at);
    let old = std::mem::replace(&mut m.body, body.body.to_string());
    m.versions.push((old, since));
    m.edited_at = Some(now);
    let m = data.messages.message(&id)?;
    Ok(Json(render(data, m, caller.0)))
}

async fn edits(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::MessageEditHistoryOut>> {
    let id = message_id(&id)?;
    let data = shared.colony.lock();
    let (m, _) = data.messages.visible(&id, caller.0)?;
    let current_at = m.edited_at.unwrap_or(m.created_at);
    let mut versions = vec![types::MessageVersion {
        extra: Default::default(),
        at: Some(current_at),
        body: m.body.clone(),
        created_at: current_at,
        is_current: true,
    }];
    versions.extend(
        m.versions
            .iter()
            .rev()
            .map(|(body, at)| types::MessageVersion {
                extra: Default::default(),
                at: Some(*at),
                body: body.clone(),
                created_at: *at,
                is_current: false,
            }),
    );
    Ok(Json(types::MessageEditHistoryOut {
        extra: Default::default(),
        message_id: id,
        versions,
    }))
}

async fn remove(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::MessageDeleteOut>> {
    let id = message_id(&id)?;
    let mut data = shared.colony.lock();
    data.messages.visible(&id, caller.0)?;
    let m = data
        .messages
        .messages
        .get_mut(&id)
        .ok_or_else(|| ColonyError::not_found("message"))?;
    if m.sender != caller.0 {
        return Err(ColonyError::forbidden(
            "only the sender may delete a message",
        ));
    }
    // A tombstone: the message stays in place, its content does not.
    m.deleted = true;
    m.body = DELETED_BODY.into();
    m.attachments.clear();
    m.reactions.clear();
    Ok(Json(types::MessageDeleteOut {
        extra: Default::default(),
        deleted: true,
    }))
}

#[derive(Debug, Deserialize)]
struct ForwardQuery {
    recipient_username: String,
    #[serde(default)]
    comment: String,
}

async fn forward(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ForwardQuery>,
) -> ColonyResult<(StatusCode, Json<types::Message>)> {
    let id = message_id(&id)?;
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    let (m, _) = data.messages.visible(&id, caller.0)?;
    if m.deleted {
        return Err(ColonyError::conflict(
            "MESSAGE_DELETED",
            "a deleted message cannot be forwarded",
        ));
    }
    let quoted: Vec<String> = m.body.lines().map(|l| format!("> {l}")).collect();
    let quoted = quoted.join("\n");
    let body = if query.comment.trim().is_empty() {
        quoted
    } else {
        format!("{}\n\n{quoted}", query.comment)
    };
    let to = data.find_user(&query.recipient_username)?;
    if to == caller.0 {
        return Err(ColonyError::bad_request(
            "CANNOT_MESSAGE_SELF",
            "you cannot message yourself",
        ));
    }
    if data.users.blocks(to, caller.0) {
        return Err(ColonyError::forbidden(
            "This user does not accept your messages.",
        ));
    }
    let conv = data.messages.direct_or_create(caller.0, to);
    let new = post_message(
        data,
        conv,
        caller.0,
        MessageIn {
            body,
            attachment_ids: Vec::new(),
            reply_to_message_id: None,
        },
    )?;
    let m = data.messages.message(&new)?;
    Ok((StatusCode::CREATED, Json(render(data, m, caller.0))))
}

async fn react(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastJson(body): FastJson<types::MessageReactionCreate>,
) -> ColonyResult<(StatusCode, Json<types::MessageReaction>)> {
    let id = message_id(&id)?;
    let emoji = body.emoji.to_string();
    if emoji.trim().is_empty() {
        return Err(validation("emoji is empty"));
    }
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    let (m, _) = data.messages.visible(&id, caller.0)?;
    if m.deleted {
        return Err(ColonyError::conflict(
            "MESSAGE_DELETED",
            "a deleted message cannot be reacted to",
        ));
    }
    let name = username(data, &caller.0);
    let m = data
        .messages
        .messages
        .get_mut(&id)
        .ok_or_else(|| ColonyError::not_found("message"))?;
    let at = match m
        .reactions
        .iter()
        .find(|(u, e, _)| *u == caller.0 && *e == emoji)
    {
        Some((_, _, at)) => *at,
        None => {
            let now = Utc::now();
            m.reactions.push((caller.0, emoji.clone(), now));
            now
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(types::MessageReaction {
            extra: Default::default(),
            created_at: at,
            emoji,
            user_id: caller.0,
            username: name,
        }),
    ))
}

async fn unreact(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((id, emoji)): Path<(String, String)>,
) -> ColonyResult<Json<types::ReactionRemoveOut>> {
    let id = message_id(&id)?;
    let mut data = shared.colony.lock();
    data.messages.visible(&id, caller.0)?;
    let m = data
        .messages
        .messages
        .get_mut(&id)
        .ok_or_else(|| ColonyError::not_found("message"))?;
    let before = m.reactions.len();
    m.reactions
        .retain(|(u, e, _)| !(*u == caller.0 && *e == emoji));
    Ok(Json(types::ReactionRemoveOut {
        extra: Default::default(),
        removed: m.reactions.len() < before,
    }))
}

async fn mark_read(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::ReadMark>> {
    let id = message_id(&id)?;
    let mut data = shared.colony.lock();
    data.messages.visible(&id, caller.0)?;
    let m = data
        .messages
        .messages
        .get_mut(&id)
        .ok_or_else(|| ColonyError::not_found("message"))?;
    if m.sender == caller.0 {
        return Ok(Json(types::ReadMark {
            extra: Default::default(),
            already: false,
            self_authored: true,
        }));
    }
    let already = m.reads.contains_key(&caller.0);
    m.reads.entry(caller.0).or_insert_with(Utc::now);
    Ok(Json(types::ReadMark {
        extra: Default::default(),
        already,
        self_authored: false,
    }))
}

async fn reads(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::MessageReads>> {
    let id = message_id(&id)?;
    let data = shared.colony.lock();
    let (m, c) = data.messages.visible(&id, caller.0)?;
    let others: Vec<Uuid> = c
        .participants()
        .into_iter()
        .filter(|u| *u != m.sender)
        .collect();
    let entry = |u: &Uuid, at: Option<DateTime<Utc>>| {
        let user = user_out(&data, u);
        types::MessageReader {
            extra: Default::default(),
            display_name: user.display_name,
            read_at: at,
            user_id: *u,
            username: user.username,
        }
    };
    // Someone who hides their receipts shows as not having read.
    let (seen, unseen): (Vec<&Uuid>, Vec<&Uuid>) = others
        .iter()
        .partition(|u| m.reads.contains_key(u) && shows_receipts(c, **u));
    let seen: Vec<types::MessageReader> = seen
        .into_iter()
        .map(|u| entry(u, m.reads.get(u).copied()))
        .collect();
    let unseen: Vec<types::MessageReader> = unseen.into_iter().map(|u| entry(u, None)).collect();
    Ok(Json(types::MessageReads {
        extra: Default::default(),
        is_group: c.group().is_some(),
        seen_count: seen.len() as i64,
        total_others: others.len() as i64,
        seen,
        unseen,
    }))
}

async fn star(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::StarToggleOut>> {
    let id = message_id(&id)?;
    let mut data = shared.colony.lock();
    data.messages.visible(&id, caller.0)?;
    let stars = data.messages.stars.entry(caller.0).or_default();
    let saved = match stars.iter().position(|(m, _)| *m == id) {
        Some(i) => {
            stars.remove(i);
            false
        }
        None => {
            stars.push((id, Utc::now()));
            true
        }
    };
    Ok(Json(types::StarToggleOut {
        extra: Default::default(),
        saved,
    }))
}

impl ColonyHandle {
    /// Moves a message's send time `by` into the past, so tests can reach
    /// the end of the edit window without waiting. Returns whether the
    /// message exists.
    pub fn age_message(&self, message_id: &str, by: std::time::Duration) -> bool {
        let Ok(id) = Uuid::parse_str(message_id) else {
            return false;
        };
        let Ok(by) = chrono::Duration::from_std(by) else {
            return false;
        };
        let mut data = self.shared.colony.lock();
        match data.messages.messages.get_mut(&id) {
            Some(m) => {
                m.created_at -= by;
                true
            }
            None => false,
        }
    }

    /// Messages stored in the conversation holding `message_id`, tombstones
    /// included (0 if there is no such message).
    pub fn messages_in_conversation_of(&self, message_id: &str) -> usize {
        let Ok(id) = Uuid::parse_str(message_id) else {
            return 0;
        };
        let data = self.shared.colony.lock();
        data.messages
            .messages
            .get(&id)
            .and_then(|m| data.messages.conversations.get(&m.conversation))
            .map_or(0, |c| c.order.len())
    }
}
