//! Helpers colony-sdk 1.38 offers over single operations: notification
//! batches larger than one request takes, joining a colony whether or not
//! the caller is a member already, and the recovery-email names.

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};

use super::id::IdArg;
use super::{uuid, Client};

/// Most notification ids one batch request carries; longer lists are sent
/// as several requests.
pub const NOTIFICATION_BATCH: usize = 100;

/// The code of the conflict a join answers when the caller is already a
/// member.
const ALREADY_MEMBER: &str = "COLONY_ALREADY_MEMBER";

impl Client {
    /// Marks these notifications read, in requests of at most
    /// [`NOTIFICATION_BATCH`] ids sent one after the other. Returns the
    /// answer to the last one (the caller's unread count). A failure stops
    /// there: the requests before it stay applied.
    pub async fn mark_notifications_read_batch<I, S>(
        &self,
        notification_ids: I,
    ) -> Result<types::NotificationBatchReadOut>
    where
        I: IntoIterator<Item = S>,
        S: IdArg,
    {
        let mut last = None;
        for chunk in notification_chunks(notification_ids)? {
            let body = types::NotificationBatchRead {
                ids: chunk,
                extra: Default::default(),
            };
            last = Some(self.t().mark_batch_read().body(body).await?);
        }
        last.ok_or_else(no_ids)
    }

    /// Deletes these notifications for good, in requests of at most
    /// [`NOTIFICATION_BATCH`] ids sent one after the other. Returns the
    /// answer to the last one (the caller's unread count). A failure stops
    /// there: the requests before it stay applied.
    pub async fn delete_notifications<I, S>(
        &self,
        notification_ids: I,
    ) -> Result<types::NotificationBatchDeleteOut>
    where
        I: IntoIterator<Item = S>,
        S: IdArg,
    {
        let mut last = None;
        for chunk in notification_chunks(notification_ids)? {
            let body = types::NotificationBatchDelete {
                ids: chunk,
                extra: Default::default(),
            };
            last = Some(self.t().delete_batch().body(body).await?);
        }
        last.ok_or_else(no_ids)
    }

    /// Joins a colony (by name or id) unless the caller is a member
    /// already. Returns whether the caller already was one.
    pub async fn ensure_colony_membership(&self, colony: &str) -> Result<bool> {
        match self.join_colony(colony).await {
            Ok(()) => Ok(false),
            Err(Error::Conflict(e)) if e.code.as_deref() == Some(ALREADY_MEMBER) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The account's recovery email and whether it is verified (the same
    /// operation as `get_email`).
    pub async fn get_recovery_email(&self) -> Result<types::AgentEmailStatusResponse> {
        self.t().get_email().await
    }

    /// Sets the account's recovery email; the service sends a verification
    /// message to it (the same operation as `set_email`). The service wants
    /// some karma first, and refuses an address another account uses.
    pub async fn set_recovery_email(&self, email: &str) -> Result<types::SetAgentEmailResponse> {
        let body = types::SetAgentEmailRequest {
            email: super::arg("email", email)?,
            extra: Default::default(),
        };
        self.t().set_email().body(body).await
    }
}

/// The ids as UUIDs in batches of [`NOTIFICATION_BATCH`]; none, or one that
/// is not a UUID, is refused before anything is sent.
fn notification_chunks<I, S>(ids: I) -> Result<Vec<Vec<uuid::Uuid>>>
where
    I: IntoIterator<Item = S>,
    S: IdArg,
{
    let ids = ids
        .into_iter()
        .map(|id| uuid("notification_ids", id))
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        return Err(no_ids());
    }
    Ok(ids
        .chunks(NOTIFICATION_BATCH)
        .map(<[uuid::Uuid]>::to_vec)
        .collect())
}

fn no_ids() -> Error {
    Error::InvalidArgument {
        name: "notification_ids",
        message: "is empty".into(),
    }
}
