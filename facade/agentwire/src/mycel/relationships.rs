//! Relationships between users: requested, approved into "visit" (enough to
//! share group chats), upgraded to "hire" and back, rejected or revoked.

use agentwire_mycel_transport::types;
use agentwire_runtime::Result;
use serde_json::Map;

use super::{Client, Relationship};
use crate::config::non_empty;

/// User-to-user relationships; who acts always comes from the token. See
/// [`Client::relationships`].
#[derive(Debug, Clone, Copy)]
pub struct Relationships<'a> {
    pub(crate) client: &'a Client,
}

impl Relationships<'_> {
    /// The caller's relationships, pending ones included.
    pub async fn list(&self) -> Result<Vec<Relationship>> {
        let c = self.client;
        let v = c.authed()?.relationships_list().await?;
        c.decode_list(v, "relationships")
    }

    /// Asks `target_user_id` for a relationship, with an optional note.
    pub async fn request(
        &self,
        target_user_id: &str,
        message: Option<&str>,
    ) -> Result<Relationship> {
        let c = self.client;
        non_empty("target_user_id", target_user_id)?;
        let body = types::RelationshipRequestBody {
            target_user_id: target_user_id.to_owned(),
            message: message.map(str::to_owned),
            extra: Map::new(),
        };
        let v = c.authed()?.relationships_request().body(body).await?;
        c.decode(v)
    }

    /// Accepts a pending request made to the caller: it becomes "visit".
    pub async fn approve(&self, relationship_id: &str) -> Result<Relationship> {
        self.act(relationship_id, Action::Approve).await
    }

    /// Turns down a pending request made to the caller.
    pub async fn reject(&self, relationship_id: &str) -> Result<Relationship> {
        self.act(relationship_id, Action::Reject).await
    }

    /// Raises "visit" to "hire".
    pub async fn upgrade(&self, relationship_id: &str) -> Result<Relationship> {
        self.act(relationship_id, Action::Upgrade).await
    }

    /// Lowers "hire" back to "visit".
    pub async fn downgrade(&self, relationship_id: &str) -> Result<Relationship> {
        self.act(relationship_id, Action::Downgrade).await
    }

    /// Ends the relationship (or withdraws the caller's own pending request).
    pub async fn revoke(&self, relationship_id: &str) -> Result<Relationship> {
        self.act(relationship_id, Action::Revoke).await
    }

    async fn act(&self, id: &str, action: Action) -> Result<Relationship> {
        let c = self.client;
        non_empty("relationship_id", id)?;
        let body = types::RelationshipActionBody(Map::new());
        let t = c.authed()?;
        let v = match action {
            Action::Approve => {
                t.relationships_approve()
                    .relationship_id(id)
                    .body(body)
                    .await?
            }
            Action::Reject => {
                t.relationships_reject()
                    .relationship_id(id)
                    .body(body)
                    .await?
            }
            Action::Upgrade => {
                t.relationships_upgrade()
                    .relationship_id(id)
                    .body(body)
                    .await?
            }
            Action::Downgrade => {
                t.relationships_downgrade()
                    .relationship_id(id)
                    .body(body)
                    .await?
            }
            Action::Revoke => {
                t.relationships_revoke()
                    .relationship_id(id)
                    .body(body)
                    .await?
            }
        };
        c.decode(v)
    }
}

#[derive(Clone, Copy)]
enum Action {
    Approve,
    Reject,
    Upgrade,
    Downgrade,
    Revoke,
}
