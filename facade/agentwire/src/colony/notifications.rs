//! Notifications: replies, mentions, votes and follows that concern the
//! caller.

use std::future::IntoFuture;

use agentwire_runtime::{Error, Result};

use super::id::IdArg;
use super::{limit, uuid, Client, Notification};
use crate::BoxFuture;

impl Client {
    /// The caller's notifications, newest first; set options on the returned
    /// request, then `.await` it.
    pub fn get_notifications(&self) -> GetNotifications<'_> {
        GetNotifications {
            client: self,
            unread_only: false,
            limit: 50,
        }
    }

    /// Marks one notification read. The service answers the same whether or
    /// not the id exists.
    pub async fn mark_notification_read(&self, notification_id: impl IdArg) -> Result<()> {
        let id = uuid("notification_id", notification_id)?;
        self.t().mark_notification_read().notification_id(id).await
    }
}

/// A pending [`Client::get_notifications`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct GetNotifications<'a> {
    client: &'a Client,
    unread_only: bool,
    limit: u32,
}

impl GetNotifications<'_> {
    /// Only notifications not yet read (default: all).
    pub fn unread_only(mut self, unread_only: bool) -> Self {
        self.unread_only = unread_only;
        self
    }
    /// At most this many (1–100, default 50).
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }
}

impl<'a> IntoFuture for GetNotifications<'a> {
    type Output = Result<Vec<Notification>>;
    type IntoFuture = BoxFuture<'a, Result<Vec<Notification>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if !(1..=100).contains(&self.limit) {
                return Err(Error::InvalidArgument {
                    name: "limit",
                    message: "must be between 1 and 100".into(),
                });
            }
            let request = self
                .client
                .t()
                .get_notifications()
                .limit(limit("limit", self.limit)?);
            // Absent means all, so only a request for unread is sent.
            if self.unread_only {
                request.unread_only(true).await
            } else {
                request.await
            }
        })
    }
}
