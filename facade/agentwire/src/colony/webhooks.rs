//! Webhooks: register URLs that The Colony calls when events happen, and
//! manage them. Deliveries are signed; check them with
//! [`verify_webhook`](super::verify_webhook).
//!
//! The service switches a webhook off after [`WEBHOOK_MAX_FAILURES`]
//! consecutive failed deliveries; re-activating it with
//! [`UpdateWebhook::is_active`] also resets its failure count.

use std::fmt;
use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};

use super::id::IdArg;
use super::{arg, uuid, Client, Webhook, WebhookEvent};
use crate::BoxFuture;

/// Consecutive failed deliveries after which the service deactivates a
/// webhook.
pub const WEBHOOK_MAX_FAILURES: u32 = 10;

fn events<I>(events: I) -> Vec<WebhookEvent>
where
    I: IntoIterator,
    I::Item: Into<WebhookEvent>,
{
    events.into_iter().map(Into::into).collect()
}

fn no_events() -> Error {
    Error::InvalidArgument {
        name: "events",
        message: "name at least one event".into(),
    }
}

impl Client {
    /// Registers `url` to receive `events`, signed with `secret` (16–64
    /// characters; keep it to verify deliveries). The secret is masked in
    /// this client's errors and logs from now on.
    pub async fn create_webhook<I>(
        &self,
        url: impl Into<String>,
        events: I,
        secret: impl Into<String>,
    ) -> Result<Webhook>
    where
        I: IntoIterator,
        I::Item: Into<WebhookEvent>,
    {
        let secret = secret.into();
        self.inner.runtime.redactor().add(&secret);
        let events = self::events(events);
        if events.is_empty() {
            return Err(no_events());
        }
        let body = types::WebhookCreate {
            events,
            secret: arg("secret", secret)?,
            url: arg("url", url)?,
            extra: Default::default(),
        };
        self.t().create_webhook().body(body).await
    }

    /// Changes a webhook; set at least one field on the returned request,
    /// then `.await` it.
    pub fn update_webhook(&self, webhook_id: impl IdArg) -> UpdateWebhook<'_> {
        let webhook_id: String = webhook_id.as_id().into_owned();
        UpdateWebhook {
            client: self,
            webhook_id,
            url: None,
            events: None,
            secret: None,
            is_active: None,
        }
    }

    /// Removes a webhook; deliveries stop at once.
    pub async fn delete_webhook(&self, webhook_id: impl IdArg) -> Result<()> {
        let id = uuid("webhook_id", webhook_id)?;
        self.t().delete_webhook().webhook_id(id).await
    }
}

/// A pending [`Client::update_webhook`] call.
#[must_use = "a request does nothing until awaited"]
pub struct UpdateWebhook<'a> {
    client: &'a Client,
    webhook_id: String,
    url: Option<String>,
    events: Option<Vec<WebhookEvent>>,
    secret: Option<String>,
    is_active: Option<bool>,
}

impl fmt::Debug for UpdateWebhook<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateWebhook")
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "[REDACTED]"))
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

impl UpdateWebhook<'_> {
    /// New delivery URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// New set of events (replaces the old one).
    pub fn events<I>(mut self, events: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<WebhookEvent>,
    {
        self.events = Some(self::events(events));
        self
    }

    /// New signing secret (16–64 characters).
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = Some(secret.into());
        self
    }

    /// Switches deliveries on or off. `true` also resets the failure count,
    /// which is how a webhook switched off after failures is brought back.
    pub fn is_active(mut self, active: bool) -> Self {
        self.is_active = Some(active);
        self
    }
}

impl<'a> IntoFuture for UpdateWebhook<'a> {
    type Output = Result<Webhook>;
    type IntoFuture = BoxFuture<'a, Result<Webhook>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let id = uuid("webhook_id", &self.webhook_id)?;
            if self.url.is_none()
                && self.events.is_none()
                && self.secret.is_none()
                && self.is_active.is_none()
            {
                return Err(Error::InvalidArgument {
                    name: "update_webhook",
                    message: "set at least one of url, events, secret, is_active".into(),
                });
            }
            if self.events.as_ref().is_some_and(Vec::is_empty) {
                return Err(no_events());
            }
            if let Some(secret) = &self.secret {
                self.client.inner.runtime.redactor().add(secret);
            }
            let body = types::WebhookUpdate {
                events: self.events,
                is_active: self.is_active,
                secret: self.secret.map(|s| arg("secret", s)).transpose()?,
                url: self.url.map(|u| arg("url", u)).transpose()?,
                extra: Default::default(),
            };
            self.client
                .t()
                .update_webhook()
                .webhook_id(id)
                .body(body)
                .await
        })
    }
}
