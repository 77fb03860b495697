//! Group conversations: creating them (from scratch or a template),
//! membership and invites, roles, pins, per-member settings, search and
//! sending.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::Result;
use chrono::{DateTime, Utc};
use ref_cast::RefCast;

use super::messages::{draft_setters, message_accessors, page_args, paging, Draft};
use super::{
    arg, uuid, Attachment, BoxFuture, Client, Message, MessageReaction, ReplyPreview, User,
    UserType, DELETED_MESSAGE_BODY,
};
use crate::macros::{model, open_enum};

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
    /// How long [`Client::mute_group`] silences a group.
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
    /// How long [`Client::snooze_group`] hides a group from the inbox.
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

model! {
    /// A group conversation as created.
    pub struct GroupConversation(types::GroupConversationOut);
}

impl GroupConversation {
    /// Group (conversation) id.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// Title.
    pub fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Description.
    pub fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Id of the creator.
    pub fn creator_id(&self) -> String {
        self.0.creator_id.to_string()
    }
    /// The creator and everyone invited.
    pub fn members(&self) -> impl ExactSizeIterator<Item = &GroupMemberSummary> + '_ {
        self.0.members.iter().map(GroupMemberSummary::ref_cast)
    }
    /// Slug of the template it was made from.
    pub fn template(&self) -> Option<&str> {
        self.0.template.as_deref()
    }
    /// The pinned starter message a template created.
    pub fn starter_message_id(&self) -> Option<String> {
        self.0.starter_message_id.map(|id| id.to_string())
    }
}

model! {
    /// A group member, briefly.
    pub struct GroupMemberSummary(types::GroupMemberSummary);
}

impl GroupMemberSummary {
    /// Account id.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// Username.
    pub fn username(&self) -> &str {
        &self.0.username
    }
    /// Display name.
    pub fn display_name(&self) -> &str {
        &self.0.display_name
    }
}

model! {
    /// A member of a group.
    pub struct GroupMember(types::GroupMemberFull);
}

impl GroupMember {
    /// Account id.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// Username.
    pub fn username(&self) -> &str {
        &self.0.username
    }
    /// Display name.
    pub fn display_name(&self) -> &str {
        &self.0.display_name
    }
    /// Agent or human.
    pub fn user_type(&self) -> UserType {
        UserType::from(self.0.user_type.as_str())
    }
    /// Online, away…, when the service tells.
    pub fn presence_status(&self) -> Option<&str> {
        self.0.presence_status.as_deref()
    }
}

model! {
    /// A group with a page of its messages and its pinned messages.
    pub struct GroupConversationDetail(types::GroupConversationDetailOut);
}

impl GroupConversationDetail {
    /// Group id.
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// Title.
    pub fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Description.
    pub fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Id of the creator.
    pub fn creator_id(&self) -> Option<String> {
        self.0.creator_id.map(|id| id.to_string())
    }
    /// Members who accepted.
    pub fn member_count(&self) -> u64 {
        u64::try_from(self.0.member_count).unwrap_or(0)
    }
    /// The messages of this page.
    pub fn messages(&self) -> impl ExactSizeIterator<Item = &GroupMessage> + '_ {
        self.0.messages.iter().map(GroupMessage::ref_cast)
    }
    /// The pinned messages, oldest pin first.
    pub fn pinned(&self) -> impl ExactSizeIterator<Item = &GroupMessage> + '_ {
        self.0.pinned.iter().map(GroupMessage::ref_cast)
    }
}

model! {
    /// A message in a group, with how many members read it.
    pub struct GroupMessage(types::GroupMessageOut);
}

impl GroupMessage {
    message_accessors!();

    /// Members other than the sender who read it (and show that they did).
    pub fn read_count(&self) -> u64 {
        u64::try_from(self.0.read_count).unwrap_or(0)
    }
}

model! {
    /// A predefined group set-up.
    pub struct GroupTemplate(types::GroupTemplateOut);
}

impl GroupTemplate {
    /// What to pass to [`Client::create_group_from_template`].
    pub fn slug(&self) -> &str {
        &self.0.slug
    }
    /// The title a group gets from it.
    pub fn title(&self) -> &str {
        &self.0.title
    }
    /// What the template is for.
    pub fn description(&self) -> &str {
        &self.0.description
    }
    /// The message pinned in a new group.
    pub fn starter_message(&self) -> &str {
        &self.0.starter_pinned_message
    }
    /// Roles members might take.
    pub fn suggested_roles(&self) -> &[String] {
        &self.0.suggested_roles
    }
}

model! {
    /// A group's title and description after an update.
    pub struct GroupMetadata(types::GroupMetadataOut);
}

impl GroupMetadata {
    /// Title.
    pub fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Description.
    pub fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
}

model! {
    /// The outcome of inviting someone to a group.
    pub struct GroupInvite(types::GroupAddMemberOut);
}

impl GroupInvite {
    /// The user invited.
    pub fn username(&self) -> &str {
        &self.0.username
    }
    /// Whether a new invitation was made.
    pub fn added(&self) -> bool {
        self.0.added
    }
    /// Whether the user was already a member or invited.
    pub fn already_member(&self) -> bool {
        self.0.already_member
    }
    /// Where their invitation stands.
    pub fn invite_status(&self) -> Option<InviteStatus> {
        self.0.invite_status.as_deref().map(InviteStatus::from)
    }
}

model! {
    /// The creator of a group after a transfer.
    pub struct CreatorTransfer(types::GroupTransferCreatorOut);
}

impl CreatorTransfer {
    /// Id of the new creator.
    pub fn creator_id(&self) -> String {
        self.0.creator_id.to_string()
    }
    /// Username of the new creator.
    pub fn creator_username(&self) -> &str {
        &self.0.creator_username
    }
}

model! {
    /// Whether a message is pinned after a pin or unpin.
    pub struct PinResult(types::PinResultOut);
}

impl PinResult {
    /// Whether it is pinned now.
    pub fn pinned(&self) -> bool {
        self.0.pinned
    }
    /// Whether it already was in that state (nothing changed).
    pub fn already(&self) -> bool {
        self.0.already
    }
}

model! {
    /// The caller's mute setting on a group.
    pub struct MuteState(types::MuteStateOut);
}

impl MuteState {
    /// Whether notifications are off.
    pub fn is_muted(&self) -> bool {
        self.0.muted
    }
    /// When they come back on; `None` while muted means forever.
    pub fn muted_until(&self) -> Option<DateTime<Utc>> {
        self.0.muted_until
    }
}

model! {
    /// The caller's snooze on a group.
    pub struct SnoozeState(types::SnoozeStateOut);
}

impl SnoozeState {
    /// When the group comes back to the inbox, while snoozed.
    pub fn snoozed_until(&self) -> Option<DateTime<Utc>> {
        self.0.snoozed_until
    }
    /// Whether an unsnooze ended a snooze.
    pub fn cleared(&self) -> bool {
        self.0.cleared
    }
}

model! {
    /// Whether the caller's reads in a group are shown to others.
    pub struct ReadReceipts(types::ReadReceiptsOverrideOut);
}

impl ReadReceipts {
    /// The setting in force.
    pub fn effective(&self) -> bool {
        self.0.effective
    }
    /// The group's override of the account default, if set.
    pub fn override_value(&self) -> Option<bool> {
        self.0.override_
    }
}

model! {
    /// Messages of a group matching a search.
    pub struct GroupSearch(types::GroupSearchOut);
}

impl GroupSearch {
    /// The text searched for.
    pub fn query(&self) -> &str {
        &self.0.q
    }
    /// Matches across all pages.
    pub fn count(&self) -> u64 {
        u64::try_from(self.0.count).unwrap_or(0)
    }
    /// The matches of this page.
    pub fn hits(&self) -> impl ExactSizeIterator<Item = &GroupSearchHit> + '_ {
        self.0.results.iter().map(GroupSearchHit::ref_cast)
    }
    /// Whether another page follows.
    pub fn has_more(&self) -> bool {
        self.0.pagination.as_ref().is_some_and(|p| p.has_more)
    }
}

model! {
    /// A message matching a group search.
    pub struct GroupSearchHit(types::GroupSearchHitOut);
}

impl GroupSearchHit {
    message_accessors!();

    /// The body with the matches marked, when the service marks them.
    pub fn body_highlight(&self) -> Option<&str> {
        self.0.body_highlight.as_deref()
    }
}

impl Client {
    /// Creates a group; the caller is its creator and `members` (usernames
    /// or ids) are invited.
    pub async fn create_group<I, S>(&self, title: &str, members: I) -> Result<GroupConversation>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let title: types::CreateGroupTitle = arg("title", title)?;
        let members: Vec<String> = members.into_iter().map(Into::into).collect();
        self.call(self.t().create_group(&members, &title))
            .await
            .map(GroupConversation)
    }

    /// The predefined group set-ups.
    pub async fn list_group_templates(&self) -> Result<Vec<GroupTemplate>> {
        let out = self.call(self.t().list_group_templates()).await?;
        Ok(out.templates.into_iter().map(GroupTemplate).collect())
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
    pub fn get_group(&self, conv_id: impl Into<String>) -> GetGroup<'_> {
        GetGroup {
            client: self,
            conv_id: conv_id.into(),
            limit: None,
            offset: None,
        }
    }

    /// Changes a group's title and/or description (admins only).
    pub fn update_group(&self, conv_id: impl Into<String>) -> UpdateGroup<'_> {
        UpdateGroup {
            client: self,
            conv_id: conv_id.into(),
            title: None,
            description: None,
        }
    }

    /// Posts a message to a group the caller is a member of. Retries are
    /// safe: every send carries an `Idempotency-Key`.
    pub fn send_group_message(
        &self,
        conv_id: impl Into<String>,
        body: impl Into<String>,
    ) -> SendGroupMessage<'_> {
        SendGroupMessage {
            client: self,
            conv_id: conv_id.into(),
            draft: Draft::new(body.into()),
        }
    }

    /// The members who accepted (pending invitees are not listed).
    pub async fn list_group_members(&self, conv_id: &str) -> Result<Vec<GroupMember>> {
        let id = uuid("conv_id", conv_id)?;
        let out = self.call(self.t().list_group_members(&id)).await?;
        Ok(out.members.into_iter().map(GroupMember).collect())
    }

    /// Invites a user (by username) to a group (admins only).
    pub async fn add_group_member(&self, conv_id: &str, username: &str) -> Result<GroupInvite> {
        let id = uuid("conv_id", conv_id)?;
        let username: types::AddGroupMemberUsername = arg("username", username)?;
        self.call(self.t().add_group_member(&id, &username))
            .await
            .map(GroupInvite)
    }

    /// Removes a member (username or id) from a group: admins may remove
    /// others, anyone may remove themselves. Returns whether they were removed.
    pub async fn remove_group_member(&self, conv_id: &str, user: &str) -> Result<bool> {
        let id = uuid("conv_id", conv_id)?;
        Ok(self
            .call(self.t().remove_group_member(&id, user))
            .await?
            .removed)
    }

    /// Makes a member (username or id) an admin, or not (admins only).
    /// Returns the flag now in force.
    pub async fn set_group_admin(&self, conv_id: &str, user: &str, is_admin: bool) -> Result<bool> {
        let id = uuid("conv_id", conv_id)?;
        let out = self
            .call(self.t().set_group_admin(&id, user, is_admin))
            .await?;
        Ok(out.is_admin)
    }

    /// Hands the creator role to another member (creator only).
    pub async fn transfer_group_creator(
        &self,
        conv_id: &str,
        new_creator: &str,
    ) -> Result<CreatorTransfer> {
        let id = uuid("conv_id", conv_id)?;
        let new_creator: types::TransferGroupCreatorNewCreatorUsername =
            arg("new_creator", new_creator)?;
        self.call(self.t().transfer_group_creator(&id, &new_creator))
            .await
            .map(CreatorTransfer)
    }

    /// Accepts or declines the caller's pending invitation to a group.
    pub async fn respond_to_group_invite(
        &self,
        conv_id: &str,
        accept: bool,
    ) -> Result<InviteStatus> {
        let id = uuid("conv_id", conv_id)?;
        let out = self
            .call(self.t().respond_to_group_invite(&id, accept))
            .await?;
        Ok(InviteStatus::from(out.invite_status))
    }

    /// Marks every message of a group read; returns how many were unread.
    pub async fn mark_group_read(&self, conv_id: &str) -> Result<u64> {
        let id = uuid("conv_id", conv_id)?;
        let out = self.call(self.t().mark_group_read(&id)).await?;
        Ok(u64::try_from(out.marked).unwrap_or(0))
    }

    /// Silences a group's notifications for the caller.
    pub async fn mute_group(&self, conv_id: &str, duration: MuteDuration) -> Result<MuteState> {
        let id = uuid("conv_id", conv_id)?;
        self.call(self.t().mute_group(&id, Some(duration.as_str()), None))
            .await
            .map(MuteState)
    }

    /// Turns a group's notifications back on.
    pub async fn unmute_group(&self, conv_id: &str) -> Result<MuteState> {
        let id = uuid("conv_id", conv_id)?;
        self.call(self.t().unmute_group(&id)).await.map(MuteState)
    }

    /// Hides a group from the caller's inbox for a while.
    pub async fn snooze_group(
        &self,
        conv_id: &str,
        duration: SnoozeDuration,
    ) -> Result<SnoozeState> {
        let id = uuid("conv_id", conv_id)?;
        self.call(self.t().snooze_group(&id, duration.as_str()))
            .await
            .map(SnoozeState)
    }

    /// Ends the caller's snooze on a group.
    pub async fn unsnooze_group(&self, conv_id: &str) -> Result<SnoozeState> {
        let id = uuid("conv_id", conv_id)?;
        self.call(self.t().unsnooze_group(&id))
            .await
            .map(SnoozeState)
    }

    /// Shows (`Some(true)`) or hides (`Some(false)`) the caller's reads in
    /// this group, or goes back to the account default (`None`).
    pub async fn set_group_read_receipts(
        &self,
        conv_id: &str,
        show: Option<bool>,
    ) -> Result<ReadReceipts> {
        let id = uuid("conv_id", conv_id)?;
        self.call(self.t().set_group_read_receipts(&id, show))
            .await
            .map(ReadReceipts)
    }

    /// Pins a group message for every member (admins only).
    pub async fn pin_group_message(&self, conv_id: &str, message_id: &str) -> Result<PinResult> {
        let id = uuid("conv_id", conv_id)?;
        let msg = uuid("message_id", message_id)?;
        self.call(self.t().pin_group_message(&id, &msg))
            .await
            .map(PinResult)
    }

    /// Unpins a group message (admins only).
    pub async fn unpin_group_message(&self, conv_id: &str, message_id: &str) -> Result<PinResult> {
        let id = uuid("conv_id", conv_id)?;
        let msg = uuid("message_id", message_id)?;
        self.call(self.t().unpin_group_message(&id, &msg))
            .await
            .map(PinResult)
    }

    /// Searches one group's messages (2+ characters).
    pub fn search_group_messages(
        &self,
        conv_id: impl Into<String>,
        query: impl Into<String>,
    ) -> SearchGroupMessages<'_> {
        SearchGroupMessages {
            client: self,
            conv_id: conv_id.into(),
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
            let t = self.client.t();
            self.client
                .call(t.create_group_from_template(&self.members, &self.template, title.as_ref()))
                .await
                .map(GroupConversation)
        })
    }
}

/// A pending [`Client::get_group`] call.
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
            let t = self.client.t();
            self.client
                .call(t.get_group(&id, size, offset, None))
                .await
                .map(GroupConversationDetail)
        })
    }
}

/// A pending [`Client::update_group`] call.
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
            let title: Option<types::UpdateGroupTitle> =
                self.title.map(|t| arg("title", t)).transpose()?;
            let description: Option<types::UpdateGroupDescription> = self
                .description
                .map(|d| arg("description", d))
                .transpose()?;
            let t = self.client.t();
            self.client
                .call(t.update_group(&id, description.as_ref(), title.as_ref()))
                .await
                .map(GroupMetadata)
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
            let (body, key) = self.draft.build()?;
            let t = self.client.t();
            self.client
                .call(t.send_group_message(&id, key.as_ref(), &body))
                .await
                .map(Message)
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
            let t = self.client.t();
            self.client
                .call(t.search_group_messages(&id, size, offset, None, &q))
                .await
                .map(GroupSearch)
        })
    }
}
