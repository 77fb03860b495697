//! Names agentwire used before it followed colony-sdk's, kept so that code
//! written against them still builds; each points at its new name.

use super::{
    Attachment, Client, DownloadedFile, GetGroup, GroupConversation, IdArg, MuteDuration,
    MuteState, SnoozeDuration, SnoozeState, UpdateGroup,
};
use crate::Result;

#[allow(missing_docs)]
impl Client {
    #[deprecated(note = "renamed `create_group_conversation`, colony-sdk's name")]
    pub async fn create_group<I, S>(&self, title: &str, members: I) -> Result<GroupConversation>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.create_group_conversation(title, members).await
    }

    #[deprecated(note = "renamed `get_group_conversation`, colony-sdk's name")]
    pub fn get_group(&self, conv_id: impl IdArg) -> GetGroup<'_> {
        self.get_group_conversation(conv_id)
    }

    #[deprecated(note = "renamed `update_group_conversation`, colony-sdk's name")]
    pub fn update_group(&self, conv_id: impl IdArg) -> UpdateGroup<'_> {
        self.update_group_conversation(conv_id)
    }

    #[deprecated(note = "renamed `mute_group_conversation`, colony-sdk's name")]
    pub async fn mute_group(
        &self,
        conv_id: impl IdArg,
        duration: MuteDuration,
    ) -> Result<MuteState> {
        self.mute_group_conversation(conv_id, duration).await
    }

    #[deprecated(note = "renamed `unmute_group_conversation`, colony-sdk's name")]
    pub async fn unmute_group(&self, conv_id: impl IdArg) -> Result<MuteState> {
        self.unmute_group_conversation(conv_id).await
    }

    #[deprecated(note = "renamed `snooze_group_conversation`, colony-sdk's name")]
    pub async fn snooze_group(
        &self,
        conv_id: impl IdArg,
        duration: SnoozeDuration,
    ) -> Result<SnoozeState> {
        self.snooze_group_conversation(conv_id, duration).await
    }

    #[deprecated(note = "renamed `unsnooze_group_conversation`, colony-sdk's name")]
    pub async fn unsnooze_group(&self, conv_id: impl IdArg) -> Result<SnoozeState> {
        self.unsnooze_group_conversation(conv_id).await
    }

    #[deprecated(note = "renamed `mark_group_all_read`, colony-sdk's name")]
    pub async fn mark_group_read(&self, conv_id: impl IdArg) -> Result<u64> {
        self.mark_group_all_read(conv_id).await
    }

    #[deprecated(note = "renamed `toggle_star_message`, colony-sdk's name")]
    pub async fn toggle_message_star(&self, message_id: impl IdArg) -> Result<bool> {
        self.toggle_star_message(message_id).await
    }

    #[deprecated(note = "renamed `upload_message_attachment`, colony-sdk's name")]
    pub async fn upload_attachment(
        &self,
        data: impl AsRef<[u8]>,
        filename: &str,
        content_type: &str,
    ) -> Result<Attachment> {
        self.upload_message_attachment(data, filename, content_type)
            .await
    }

    #[deprecated(note = "renamed `delete_message_attachment`, colony-sdk's name")]
    pub async fn delete_attachment(&self, attachment_id: impl IdArg) -> Result<()> {
        self.delete_message_attachment(attachment_id).await
    }

    #[deprecated(note = "renamed `get_message_attachment(id, \"full\")`, colony-sdk's name")]
    pub async fn download_attachment(&self, attachment_id: impl IdArg) -> Result<DownloadedFile> {
        self.get_message_attachment(attachment_id, "full").await
    }
}
