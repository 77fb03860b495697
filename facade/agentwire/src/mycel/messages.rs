//! Messages: history pages and a walk over the whole history,
//! unread messages and read positions, and sending.

use std::future::IntoFuture;

use agentwire_mycel_transport::types;
use agentwire_runtime::{Error, Result};
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::{tag_not_caught_up, Ack, Client, DeliveryScope, Message};
use crate::config::non_empty;
use crate::{BoxFuture, ItemStream};

/// Largest page Mycel serves.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Chat messages. See [`Client::messages`].
#[derive(Debug, Clone, Copy)]
pub struct Messages<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> Messages<'a> {
    /// One page of history, oldest first: the latest messages, or those
    /// before a seq. Set `limit` and `before` on the returned request.
    pub fn list(&self, chat_id: &str) -> ListMessages<'a> {
        ListMessages {
            client: self.client,
            chat_id: chat_id.to_owned(),
            limit: 50,
            before: None,
        }
    }

    /// The whole history (or its latest part, see
    /// [`ListAll::max_messages`]), oldest message first, as mycel-sdk's
    /// `list_all` returns it: fetched backwards one page per request, then
    /// handed out in chat order. `.await` it for a `Vec`, or call
    /// [`ListAll::into_stream`].
    pub fn list_all(&self, chat_id: &str) -> ListAll {
        ListAll {
            client: self.client.clone(),
            chat_id: chat_id.to_owned(),
            page_size: MAX_PAGE_SIZE,
            max_messages: None,
            before: None,
        }
    }

    /// Messages newer than the caller's read position, without moving it.
    pub async fn unread(&self, chat_id: &str) -> Result<Vec<Message>> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.messages_unread().chat_id(chat_id).await?;
        c.decode_list(v, "messages")
    }

    /// Messages newer than the caller's read position, moving the position
    /// past them: the read that makes a caught-up send possible.
    pub async fn read(&self, chat_id: &str) -> Result<Vec<Message>> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.messages_read().chat_id(chat_id).await?;
        c.decode_list(v, "messages")
    }

    /// Moves the caller's read position up to `up_to_seq`, the seq of the
    /// last message the caller has read ([`Message::seq`]); messages after
    /// it stay unread. Nothing is fetched. Mycel never moves the position
    /// back, so marking an older seq changes nothing.
    pub async fn mark_read(&self, chat_id: &str, up_to_seq: i64) -> Result<Ack> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        if up_to_seq < 0 {
            return Err(Error::InvalidArgument {
                name: "up_to_seq",
                message: "a message seq is never negative".into(),
            });
        }
        let body = types::MarkReadBody {
            up_to_seq,
            extra: Map::new(),
        };
        let op = c.authed()?.messages_mark_read().chat_id(chat_id);
        let v = op.body(body).await?;
        c.decode(v)
    }

    /// Marks everything the chat holds right now as read: reads the chat's
    /// latest seq ([`Chat::last_seq`](super::Chat::last_seq)), then
    /// [`mark_read`](Self::mark_read)s up to it — two requests. A message
    /// arriving between them stays unread. Returns the seq marked.
    pub async fn mark_all_read(&self, chat_id: &str) -> Result<i64> {
        let chat = self.client.chats().get(chat_id).await?;
        let latest = chat.last_seq.unwrap_or(0);
        self.mark_read(chat_id, latest).await?;
        Ok(latest)
    }

    /// Sends `content` as the caller. By default the send is refused when
    /// messages arrived after the caller's last read (see
    /// [`ErrorExt::is_not_caught_up`](super::ErrorExt::is_not_caught_up));
    /// nothing is stored then. Set options on the returned request, then
    /// `.await` it. A send is never retried, so it is never stored twice.
    pub fn send(&self, chat_id: &str, content: impl Into<String>) -> SendMessage<'a> {
        SendMessage {
            client: self.client,
            chat_id: chat_id.to_owned(),
            body: types::SendMessageBody {
                addressed_to_user_ids: None,
                content: content.into(),
                delivery_scope: DeliveryScope::Broadcast,
                enforce_caught_up: true,
                mentioned_ids: None,
                reply_to: None,
                extra: Map::new(),
            },
        }
    }
}

fn check_page_size(limit: u32) -> Result<std::num::NonZeroU64> {
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(Error::InvalidArgument {
            name: "limit",
            message: format!("must be between 1 and {MAX_PAGE_SIZE}"),
        });
    }
    // The error, and its message's allocation, only when it happens.
    std::num::NonZeroU64::new(u64::from(limit)).ok_or_else(|| Error::InvalidArgument {
        name: "limit",
        message: "must be at least 1".into(),
    })
}

async fn fetch_page(
    client: &Client,
    chat_id: &str,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<Message>> {
    non_empty("chat_id", chat_id)?;
    let limit = check_page_size(limit)?;
    let mut op = client
        .authed()?
        .messages_list()
        .chat_id(chat_id)
        .limit(limit);
    if let Some(before) = before {
        op = op.before(before.to_string());
    }
    let v = op.await?;
    client.decode_list(v, "messages")
}

/// A pending [`Messages::list`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct ListMessages<'a> {
    client: &'a Client,
    chat_id: String,
    limit: u32,
    before: Option<i64>,
}

impl ListMessages<'_> {
    /// Page size (1–200, default 50).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }

    /// Only messages with a seq below this one.
    pub fn before(mut self, seq: i64) -> Self {
        self.before = Some(seq);
        self
    }
}

impl<'a> IntoFuture for ListMessages<'a> {
    type Output = Result<Vec<Message>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Message>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(
            async move { fetch_page(self.client, &self.chat_id, self.limit, self.before).await },
        )
    }
}

/// A pending [`Messages::list_all`] walk.
#[must_use = "await it, or call into_stream(), to walk the history"]
#[derive(Debug)]
pub struct ListAll {
    client: Client,
    chat_id: String,
    page_size: u32,
    max_messages: Option<u64>,
    before: Option<i64>,
}

impl ListAll {
    /// Messages per request: 1–200 (default 200). Any other value fails the
    /// walk with [`Error::InvalidArgument`] before a request is made.
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n;
        self
    }

    /// Only the latest `n` messages (at least 1: 0 fails the walk with
    /// [`Error::InvalidArgument`] before a request is made).
    pub fn max_messages(mut self, n: u64) -> Self {
        self.max_messages = Some(n);
        self
    }

    /// Only messages below this seq.
    pub fn before(mut self, seq: i64) -> Self {
        self.before = Some(seq);
        self
    }

    /// The messages, oldest first. All pages are fetched before the first
    /// message comes out (the order needs the oldest one). A failed page
    /// fails the walk with its error; so does a page whose oldest seq does
    /// not move the cursor back (a backend that ignores `before` would
    /// otherwise loop forever), or a message without a seq in a page that
    /// has to be followed by another.
    pub fn into_stream(self) -> ItemStream<Message> {
        Box::pin(futures_util::stream::once(self.walk()).flat_map(
            |walked| -> ItemStream<Message> {
                match walked {
                    Ok(messages) => {
                        Box::pin(futures_util::stream::iter(messages.into_iter().map(Ok)))
                    }
                    Err(e) => Box::pin(futures_util::stream::once(async { Err(e) })),
                }
            },
        ))
    }

    async fn walk(self) -> Result<Vec<Message>> {
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(Error::InvalidArgument {
                name: "page_size",
                message: format!("must be between 1 and {MAX_PAGE_SIZE}"),
            });
        }
        if self.max_messages == Some(0) {
            return Err(Error::InvalidArgument {
                name: "max_messages",
                message: "must be at least 1".into(),
            });
        }
        let mut remaining = self.max_messages;
        let mut cursor = self.before;
        // Pages newest first; each page oldest first.
        let mut pages: Vec<Vec<Message>> = Vec::new();
        loop {
            let limit = match remaining {
                Some(r) => u64::from(self.page_size).min(r) as u32,
                None => self.page_size,
            };
            let mut page = fetch_page(&self.client, &self.chat_id, limit, cursor).await?;
            if page.is_empty() {
                break;
            }
            let full = page.len() >= limit as usize;
            // In chat order; a page with a message lacking its seq keeps the
            // server's order (the last page may: no cursor is needed after it).
            if page.iter().all(|m| m.seq.is_some()) {
                page.sort_by_key(|m| m.seq);
            }
            if let Some(r) = remaining.as_mut() {
                *r = r.saturating_sub(page.len() as u64);
            }
            let oldest = page
                .iter()
                .map(|m| m.seq)
                .try_fold(i64::MAX, |acc, s| s.map(|s| acc.min(s)));
            pages.push(page);
            if remaining == Some(0) || !full {
                break;
            }
            // Another page is needed: its cursor is this page's oldest seq.
            let oldest = oldest.ok_or_else(|| self.stall("a message of the page has no seq"))?;
            if cursor.is_some_and(|c| oldest >= c) {
                return Err(self.stall(&format!(
                    "the message cursor did not advance (asked before seq {}, got a page starting at {oldest})",
                    cursor.unwrap_or_default()
                )));
            }
            cursor = Some(oldest);
        }
        Ok(pages.into_iter().rev().flatten().collect())
    }

    fn stall(&self, message: &str) -> Error {
        self.client.decode_error(
            format!("cannot page through chat {}: {message}", self.chat_id),
            &Value::Null,
        )
    }
}

impl IntoFuture for ListAll {
    type Output = Result<Vec<Message>>;
    type IntoFuture = BoxFuture<'static, Result<Vec<Message>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.walk())
    }
}

/// A pending [`Messages::send`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct SendMessage<'a> {
    client: &'a Client,
    chat_id: String,
    body: types::SendMessageBody,
}

impl SendMessage<'_> {
    /// Answers this message.
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.body.reply_to = Some(message_id.into());
        self
    }

    /// Mentions these users (a delivery path to managed agents when the
    /// backend allows it; a mute still wins).
    pub fn mentions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, user_ids: I) -> Self {
        self.body.mentioned_ids = Some(user_ids.into_iter().map(Into::into).collect());
        self
    }

    /// Broadcast (default) or addressed.
    pub fn delivery_scope(mut self, scope: DeliveryScope) -> Self {
        self.body.delivery_scope = scope;
        self
    }

    /// Recipients of an addressed message; also sets the scope to
    /// [`DeliveryScope::Addressed`].
    pub fn addressed_to_user_ids<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        user_ids: I,
    ) -> Self {
        self.body.addressed_to_user_ids = Some(user_ids.into_iter().map(Into::into).collect());
        self.body.delivery_scope = DeliveryScope::Addressed;
        self
    }

    /// Whether to refuse the send when the caller is behind (default true,
    /// the normal write path: it never talks over unread messages).
    pub fn enforce_caught_up(mut self, yes: bool) -> Self {
        self.body.enforce_caught_up = yes;
        self
    }
}

impl<'a> IntoFuture for SendMessage<'a> {
    type Output = Result<Message>;
    type IntoFuture = BoxFuture<'a, Result<Message>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("chat_id", &self.chat_id)?;
            let op = c.authed()?.messages_send().chat_id(&self.chat_id);
            let v = op.body(self.body).await.map_err(tag_not_caught_up)?;
            c.decode(v)
        })
    }
}
