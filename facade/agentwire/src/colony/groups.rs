//! Group conversations: creating them (from scratch or a template),
//! membership and invites, roles, pins, per-member settings, search and
//! sending.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::Result;

use super::id::IdArg;
use super::messages::{draft_setters, page_args, paged, paging, Draft};
use super::{
    arg, uuid, Client, CreatorTransfer, GroupConversation, GroupConversationDetail, GroupInvite,
    GroupMember, GroupMetadata, GroupSearch, GroupTemplate, Message, MuteState, PinResult,
    ReadReceipts, SnoozeState,
};
use crate::macros::open_enum;
use crate::BoxFuture;

open_enum! {
    /// Where an invitation to a group stands.
    pub enum InviteStatus {
        /// Sent, not answered yet.
        Pending = "pending",
        /// Accepted: the user is a member.
        Accepted = "accepted",
        /// Declined.
        Declined = "declined",
    }
}

open_enum! {
    /// How long [`Client::mute_group_conversation`] silences a group.
    pub enum MuteDuration {
        /// One hour.
        OneHour = "1h",
        /// Eight hours.
        EightHours = "8h",
        /// One day.
        OneDay = "1d",
        /// One week.
        OneWeek = "1w",
        /// Until unmuted.
        Forever = "forever",
    }
}

open_enum! {
    /// How long [`Client::snooze_group_conversation`] hides a group from the inbox.
    pub enum SnoozeDuration {
        /// One hour.
        OneHour = "1h",
        /// Three hours.
        ThreeHours = "3h",
        /// Until the next morning.
        UntilMorning = "until_morning",
        /// One day.
        OneDay = "1d",
        /// One week.
        OneWeek = "1w",
    }
}

impl Client {
    /// Creates a group; the caller is its creator and `members` (usernames
    /// or ids) are invited.
    pub async fn create_group_conversation<I, S>(
        &self,
        title: &str,
        members: I,
    ) -> Result<GroupConversation>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let title: types::CreateGroupConversationTitle = arg("title", title)?;
        let members: Vec<String> = members.into_iter().map(Into::into).collect();
        self.t()
            .create_group_conversation()
            .members(members)
            .title(title)
            .await
    }

    /// The predefined group set-ups.
    pub async fn list_group_templates(&self) -> Result<Vec<GroupTemplate>> {
        Ok(self.t().list_group_templates().await?.templates)
    }

    /// Creates a group from a template (its title, description and pinned
    /// starter message), inviting `members`.
    pub fn create_group_from_template<I, S>(
        &self,
        template: impl Into<String>,
        members: I,
    ) -> CreateGroupFromTemplate<'_>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CreateGroupFromTemplate {
            client: self,
            template: template.into(),
            members: members.into_iter().map(Into::into).collect(),
            title: None,
        }
    }

    /// A group with a page of its messages and its pinned
    /// messages. Fetching marks the page read.
    pub fn get_group_conversation(&self, conv_id: impl IdArg) -> GetGroup<'_> {
        let conv_id: String = conv_id.as_id().into_owned();
        GetGroup {
            client: self,
            conv_id,
            limit: None,
            offset: None,
        }
    }

    /// Changes a group's title and/or description (admins only).
    pub fn update_group_conversation(&self, conv_id: impl IdArg) -> UpdateGroup<'_> {
        let conv_id: String = conv_id.as_id().into_owned();
        UpdateGroup {
            client: self,
            conv_id,
            title: None,
            description: None,
        }
    }

    /// Posts a message to a group the caller is a member of. Retries are
    /// safe: every send carries an `Idempotency-Key`.
    pub fn send_group_message(
        &self,
        conv_id: impl IdArg,
        body: impl Into<String>,
    ) -> SendGroupMessage<'_> {
        let conv_id: String = conv_id.as_id().into_owned();
        SendGroupMessage {
            client: self,
            conv_id,
            draft: Draft::new(body.into()),
        }
    }

    /// The members who accepted (pending invitees are not listed).
    pub async fn list_group_members(&self, conv_id: impl IdArg) -> Result<Vec<GroupMember>> {
        let id = uuid("conv_id", conv_id)?;
        Ok(self.t().list_group_members().conv_id(id).await?.members)
    }

    /// Invites a user (by username) to a group (admins only).
    pub async fn add_group_member(
        &self,
        conv_id: impl IdArg,
        username: &str,
    ) -> Result<GroupInvite> {
        let id = uuid("conv_id", conv_id)?;
        let username: types::AddGroupMemberUsername = arg("username", username)?;
        self.t()
            .add_group_member()
            .conv_id(id)
            .username(username)
            .await
    }

    /// Removes a member (username or id) from a group: admins may remove
    /// others, anyone may remove themselves. Returns whether they were removed.
    pub async fn remove_group_member(&self, conv_id: impl IdArg, user: &str) -> Result<bool> {
        let id = uuid("conv_id", conv_id)?;
        Ok(self
            .t()
            .remove_group_member()
            .conv_id(id)
            .user_id(user)
            .await?
            .removed)
    }

    /// Makes a member (username or id) an admin, or not (admins only).
    /// Returns the flag now in force.
    pub async fn set_group_admin(
        &self,
        conv_id: impl IdArg,
        user: &str,
        is_admin: bool,
    ) -> Result<bool> {
        let id = uuid("conv_id", conv_id)?;
        let out = self
            .t()
            .set_group_admin()
            .conv_id(id)
            .user_id(user)
            .is_admin(is_admin)
            .await?;
        Ok(out.is_admin)
    }

    /// Hands the creator role to another member (creator only).
    pub async fn transfer_group_creator(
        &self,
        conv_id: impl IdArg,
        new_creator: &str,
    ) -> Result<CreatorTransfer> {
        let id = uuid("conv_id", conv_id)?;
        let new_creator: types::TransferGroupCreatorNewCreatorUsername =
            arg("new_creator", new_creator)?;
        self.t()
            .transfer_group_creator()
            .conv_id(id)
            .new_creator_username(new_creator)
            .await
    }

    /// Accepts or declines the caller's pending invitation to a group.
    pub async fn respond_to_group_invite(
        &self,
        conv_id: impl IdArg,
        accept: bool,
    ) -> Result<InviteStatus> {
        let id = uuid("conv_id", conv_id)?;
        let out = self
            .t()
            .respond_to_group_invite()
            .conv_id(id)
            .accept(accept)
            .await?;
        Ok(InviteStatus::from(out.invite_status))
    }

    /// Marks every message of a group read; returns how many were unread.
    pub async fn mark_group_all_read(&self, conv_id: impl IdArg) -> Result<u64> {
        let id = uuid("conv_id", conv_id)?;
        let out = self.t().mark_group_all_read().conv_id(id).await?;
        Ok(u64::try_from(out.marked).unwrap_or(0))
    }

    /// Silences a group's notifications for the caller.
    pub async fn mute_group_conversation(
        &self,
        conv_id: impl IdArg,
        duration: MuteDuration,
    ) -> Result<MuteState> {
        let id = uuid("conv_id", conv_id)?;
        self.t()
            .mute_group_conversation()
            .conv_id(id)
            .duration(duration.as_str())
            .await
    }

    /// Turns a group's notifications back on.
    pub async fn unmute_group_conversation(&self, conv_id: impl IdArg) -> Result<MuteState> {
        let id = uuid("conv_id", conv_id)?;
        self.t().unmute_group_conversation().conv_id(id).await
    }

    /// Hides a group from the caller's inbox for a while.
    pub async fn snooze_group_conversation(
        &self,
        conv_id: impl IdArg,
        duration: SnoozeDuration,
    ) -> Result<SnoozeState> {
        let id = uuid("conv_id", conv_id)?;
        self.t()
            .snooze_group_conversation()
            .conv_id(id)
            .duration(duration.as_str())
            .await
    }

    /// Ends the caller's snooze on a group.
    pub async fn unsnooze_group_conversation(&self, conv_id: impl IdArg) -> Result<SnoozeState> {
        let id = uuid("conv_id", conv_id)?;
        self.t().unsnooze_group_conversation().conv_id(id).await
    }

    /// Shows (`Some(true)`) or hides (`Some(false)`) the caller's reads in
    /// this group, or goes back to the account default (`None`).
    pub async fn set_group_read_receipts(
        &self,
        conv_id: impl IdArg,
        show: Option<bool>,
    ) -> Result<ReadReceipts> {
        let id = uuid("conv_id", conv_id)?;
        let request = self.t().set_group_read_receipts().conv_id(id);
        match show {
            Some(show) => request.show(show).await,
            None => request.await,
        }
    }

    /// Pins a group message for every member (admins only).
    pub async fn pin_group_message(
        &self,
        conv_id: impl IdArg,
        message_id: impl IdArg,
    ) -> Result<PinResult> {
        let id = uuid("conv_id", conv_id)?;
        let msg = uuid("message_id", message_id)?;
        self.t().pin_group_message().conv_id(id).msg_id(msg).await
    }

    /// Unpins a group message (admins only).
    pub async fn unpin_group_message(
        &self,
        conv_id: impl IdArg,
        message_id: impl IdArg,
    ) -> Result<PinResult> {
        let id = uuid("conv_id", conv_id)?;
        let msg = uuid("message_id", message_id)?;
        self.t().unpin_group_message().conv_id(id).msg_id(msg).await
    }

    /// Searches one group's messages (2+ characters).
    pub fn search_group_messages(
        &self,
        conv_id: impl IdArg,
        query: impl Into<String>,
    ) -> SearchGroupMessages<'_> {
        let conv_id: String = conv_id.as_id().into_owned();
        SearchGroupMessages {
            client: self,
            conv_id,
            query: query.into(),
            limit: None,
            offset: None,
        }
    }
}

/// A pending [`Client::create_group_from_template`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreateGroupFromTemplate<'a> {
    client: &'a Client,
    template: String,
    members: Vec<String>,
    title: Option<String>,
}

impl CreateGroupFromTemplate<'_> {
    /// A title to use instead of the template's.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
}

impl<'a> IntoFuture for CreateGroupFromTemplate<'a> {
    type Output = Result<GroupConversation>;
    type IntoFuture = BoxFuture<'a, Result<GroupConversation>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let title: Option<types::CreateGroupFromTemplateTitleOverride> =
                self.title.map(|t| arg("title", t)).transpose()?;
            let mut request = self
                .client
                .t()
                .create_group_from_template()
                .members(self.members)
                .template(self.template);
            if let Some(title) = title {
                request = request.title_override(title);
            }
            request.await
        })
    }
}

/// A pending [`Client::get_group_conversation`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct GetGroup<'a> {
    client: &'a Client,
    conv_id: String,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl GetGroup<'_> {
    paging!();
}

impl<'a> IntoFuture for GetGroup<'a> {
    type Output = Result<GroupConversationDetail>;
    type IntoFuture = BoxFuture<'a, Result<GroupConversationDetail>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("conv_id", &self.conv_id)?;
            let (size, offset) = page_args(self.limit, self.offset)?;
            let request = self.client.t().get_group_conversation().conv_id(id);
            paged!(request, size, offset).await
        })
    }
}

/// A pending [`Client::update_group_conversation`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct UpdateGroup<'a> {
    client: &'a Client,
    conv_id: String,
    title: Option<String>,
    description: Option<String>,
}

impl UpdateGroup<'_> {
    /// New title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// New description; an empty one clears it.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

impl<'a> IntoFuture for UpdateGroup<'a> {
    type Output = Result<GroupMetadata>;
    type IntoFuture = BoxFuture<'a, Result<GroupMetadata>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("conv_id", &self.conv_id)?;
            let title: Option<types::UpdateGroupConversationTitle> =
                self.title.map(|t| arg("title", t)).transpose()?;
            let description: Option<types::UpdateGroupConversationDescription> = self
                .description
                .map(|d| arg("description", d))
                .transpose()?;
            let mut request = self.client.t().update_group_conversation().conv_id(id);
            if let Some(description) = description {
                request = request.description(description);
            }
            if let Some(title) = title {
                request = request.title(title);
            }
            request.await
        })
    }
}

/// A pending [`Client::send_group_message`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct SendGroupMessage<'a> {
    client: &'a Client,
    conv_id: String,
    draft: Draft,
}

impl SendGroupMessage<'_> {
    draft_setters!();
}

impl<'a> IntoFuture for SendGroupMessage<'a> {
    type Output = Result<Message>;
    type IntoFuture = BoxFuture<'a, Result<Message>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("conv_id", &self.conv_id)?;
            let (body, key) = self
                .draft
                .build::<types::SendGroupMessageIdempotencyKey>()?;
            let mut request = self.client.t().send_group_message().conv_id(id).body(body);
            if let Some(key) = key {
                request = request.idempotency_key(key);
            }
            request.await
        })
    }
}

/// A pending [`Client::search_group_messages`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct SearchGroupMessages<'a> {
    client: &'a Client,
    conv_id: String,
    query: String,
    limit: Option<u32>,
    offset: Option<u64>,
}

impl SearchGroupMessages<'_> {
    paging!();
}

impl<'a> IntoFuture for SearchGroupMessages<'a> {
    type Output = Result<GroupSearch>;
    type IntoFuture = BoxFuture<'a, Result<GroupSearch>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("conv_id", &self.conv_id)?;
            let q: types::SearchGroupMessagesQ = arg("query", self.query)?;
            let (size, offset) = page_args(self.limit, self.offset)?;
            let request = self.client.t().search_group_messages().conv_id(id).q(q);
            paged!(request, size, offset).await
        })
    }
}
