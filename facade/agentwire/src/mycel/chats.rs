//! Chats: listing, creation (direct chats are found or created), members,
//! join requests and member mute.

use std::future::IntoFuture;
use std::time::SystemTime;

use agentwire_mycel_transport::types;
use agentwire_runtime::{Error, Result};
use serde_json::Map;

use super::{Chat, ChatKind, Client, JoinRequest, JoinTarget, MuteState};
use crate::config::non_empty;
use crate::BoxFuture;

/// Chats and everything attached to them. See [`Client::chats`].
#[derive(Debug, Clone, Copy)]
pub struct Chats<'a> {
    pub(crate) client: &'a Client,
}

impl<'a> Chats<'a> {
    /// The caller's chats.
    pub async fn list(&self) -> Result<Vec<Chat>> {
        let c = self.client;
        let v = c.authed()?.chats_list().await?;
        c.decode_list(v, "chats")
    }

    /// One chat, with its members (the caller must be one).
    pub async fn get(&self, chat_id: &str) -> Result<Chat> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.chats_get().chat_id(chat_id).await?;
        c.decode(v)
    }

    /// Creates a chat with `participants`, the *other* users: the caller is
    /// added by the server from the token. With one participant the chat is
    /// their direct chat (found if it exists); with more, a group. The list
    /// may be empty — a group of the caller alone, to add members to later —
    /// where the backend allows it (it answers 400 where it does not; a
    /// direct chat always needs exactly one). Set a title or force the kind
    /// on the returned request, then `.await` it.
    pub fn create<I, S>(&self, participants: I) -> CreateChat<'a>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CreateChat {
            client: self.client,
            body: types::CreateChatBody {
                user_ids: participants.into_iter().map(Into::into).collect(),
                title: None,
                kind: ChatKind::Auto,
                extra: Map::new(),
            },
        }
    }

    /// The caller's direct chat with `target_id`, created when there is
    /// none yet.
    #[deprecated(note = "the same as `ensure_direct`, which names what it does")]
    pub async fn direct(&self, target_id: &str) -> Result<Chat> {
        self.ensure_direct(target_id).await
    }

    /// The caller's direct chat with `target_id`: the existing one if there
    /// is one (the server finds it), else a new one.
    pub async fn ensure_direct(&self, target_id: &str) -> Result<Chat> {
        non_empty("target_id", target_id)?;
        self.create([target_id]).kind(ChatKind::Direct).await
    }

    /// Adds a member to a group chat (the chat owner only).
    pub async fn add_member(&self, chat_id: &str, user_id: &str) -> Result<Chat> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let body = types::ChatMemberAddBody {
            user_id: user_id.to_owned(),
            extra: Map::new(),
        };
        let op = c.authed()?.chats_add_member().chat_id(chat_id);
        let v = op.body(body).await?;
        c.decode(v)
    }

    /// What a non-member may see of a group chat before asking to join.
    pub async fn join_target(&self, chat_id: &str) -> Result<JoinTarget> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.chats_join_target().chat_id(chat_id).await?;
        c.decode(v)
    }

    /// Asks the owner of a group chat to let the caller in, with an
    /// optional note.
    pub async fn request_join(&self, chat_id: &str, message: Option<&str>) -> Result<JoinRequest> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let body = types::ChatJoinRequestBody {
            message: message.map(str::to_owned),
            extra: Map::new(),
        };
        let op = c.authed()?.chats_request_join().chat_id(chat_id);
        let v = op.body(body).await?;
        c.decode(v)
    }

    /// The chat's join requests (the chat owner only).
    pub async fn list_join_requests(&self, chat_id: &str) -> Result<Vec<JoinRequest>> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c
            .authed()?
            .chats_list_join_requests()
            .chat_id(chat_id)
            .await?;
        c.decode_list(v, "requests")
    }

    /// Lets the requester in (the chat owner only).
    pub async fn approve_join(&self, chat_id: &str, request_id: &str) -> Result<JoinRequest> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("request_id", request_id)?;
        let op = c.authed()?.chats_approve_join().chat_id(chat_id);
        let op = op.request_id(request_id);
        let v = op
            .body(types::ChatJoinRequestActionBody(Map::new()))
            .await?;
        c.decode(v)
    }

    /// Turns the request down (the chat owner only).
    pub async fn reject_join(&self, chat_id: &str, request_id: &str) -> Result<JoinRequest> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("request_id", request_id)?;
        let op = c.authed()?.chats_reject_join().chat_id(chat_id);
        let op = op.request_id(request_id);
        let v = op
            .body(types::ChatJoinRequestActionBody(Map::new()))
            .await?;
        c.decode(v)
    }

    /// Silences a member's runtime wake-ups in this chat, until `until` or
    /// until unmuted. Messages are still stored for them, and mentions do
    /// not get through. The backend decides who may mute whom.
    pub async fn mute_member(
        &self,
        chat_id: &str,
        user_id: &str,
        until: Option<SystemTime>,
    ) -> Result<MuteState> {
        let until = until
            .map(|t| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .map_err(|_| Error::InvalidArgument {
                        name: "until",
                        message: "before 1970".into(),
                    })
            })
            .transpose()?;
        self.set_mute(chat_id, user_id, true, until).await
    }

    /// Restores a member's wake-ups in this chat.
    pub async fn unmute_member(&self, chat_id: &str, user_id: &str) -> Result<MuteState> {
        self.set_mute(chat_id, user_id, false, None).await
    }

    async fn set_mute(
        &self,
        chat_id: &str,
        user_id: &str,
        muted: bool,
        mute_until: Option<f64>,
    ) -> Result<MuteState> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("user_id", user_id)?;
        let body = types::MuteChatBody {
            user_id: user_id.to_owned(),
            muted,
            mute_until,
            extra: Map::new(),
        };
        let op = c.authed()?.chats_set_member_mute().chat_id(chat_id);
        let v = op.body(body).await?;
        c.decode(v)
    }
}

/// A pending [`Chats::create`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreateChat<'a> {
    client: &'a Client,
    body: types::CreateChatBody,
}

impl CreateChat<'_> {
    /// The chat's title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.body.title = Some(title.into());
        self
    }

    /// Forces direct or group instead of deciding from the participant count.
    pub fn kind(mut self, kind: ChatKind) -> Self {
        self.body.kind = kind;
        self
    }
}

impl<'a> IntoFuture for CreateChat<'a> {
    type Output = Result<Chat>;
    type IntoFuture = BoxFuture<'a, Result<Chat>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            for id in &self.body.user_ids {
                non_empty("participants", id)?;
            }
            let c = self.client;
            let v = c.authed()?.chats_create().body(self.body).await?;
            c.decode(v)
        })
    }
}
