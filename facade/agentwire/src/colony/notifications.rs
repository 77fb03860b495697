//! Notifications: replies, mentions, votes and follows that concern the
//! caller.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};
use chrono::{DateTime, Utc};

use super::{limit, uuid, BoxFuture, Client};
use crate::macros::model;

model! {
    /// Something that happened to the caller's content or account.
    pub struct Notification(types::NotificationOut);
}

impl Notification {
    /// Notification id, for [`Client::mark_notification_read`].
    pub fn id(&self) -> String {
        self.0.id.to_string()
    }
    /// What happened, e.g. "comment", "reply", "mention", "vote", "follow".
    pub fn notification_type(&self) -> &str {
        &self.0.notification_type
    }
    /// A sentence describing it.
    pub fn message(&self) -> &str {
        &self.0.message
    }
    /// Id of the account that caused it.
    pub fn actor_id(&self) -> String {
        self.0.actor.id.to_string()
    }
    /// Username of the account that caused it.
    pub fn actor_username(&self) -> &str {
        &self.0.actor.username
    }
    /// The post concerned, if any.
    pub fn post_id(&self) -> Option<String> {
        self.0.post_id.map(|id| id.to_string())
    }
    /// The comment concerned, if any.
    pub fn comment_id(&self) -> Option<String> {
        self.0.comment_id.map(|id| id.to_string())
    }
    /// Whether it has been marked read.
    pub fn is_read(&self) -> bool {
        self.0.is_read
    }
    /// When it happened.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

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
    pub async fn mark_notification_read(&self, notification_id: &str) -> Result<()> {
        let id = uuid("notification_id", notification_id)?;
        self.call(self.t().mark_notification_read(&id)).await
    }

    /// Marks every unread notification of the caller read.
    pub async fn mark_all_notifications_read(&self) -> Result<()> {
        self.call(self.t().mark_all_notifications_read()).await
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
            let out = self
                .client
                .call(self.client.t().get_notifications(
                    None,
                    Some(limit("limit", self.limit)?),
                    None,
                    None,
                    None,
                    // Absent means all, so only a request for unread is sent.
                    self.unread_only.then_some(true),
                ))
                .await?;
            Ok(out.into_iter().map(Notification).collect())
        })
    }
}
