//! What the backend says about itself: its own OpenAPI document
//! (`GET /openapi.json`), read for its version and the features it serves.

use agentwire_runtime::{Error, Result};
use serde::Serialize;
use serde_json::Value;

use super::{Client, SERVICE};

/// The backend-info probe, as the runtime names the operation.
const OPERATION: &str = "backend_info";

/// What [`Client::backend_info`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BackendInfo {
    /// The base URL asked.
    pub base_url: String,
    /// The OpenAPI version of the document ("3.1.0"…; empty when absent).
    pub openapi: String,
    /// The API's title (empty when absent).
    pub title: String,
    /// The API's version (empty when absent).
    pub version: String,
    /// The features this backend serves.
    pub capabilities: BackendCapabilities,
    /// Every path the document lists, sorted, for questions the
    /// capabilities do not answer.
    pub paths: Vec<String>,
}

impl BackendInfo {
    /// Whether the document lists `path` (a template such as
    /// `/api/chats/{chat_id}/read`).
    pub fn serves(&self, path: &str) -> bool {
        self.paths
            .binary_search_by(|p| p.as_str().cmp(path))
            .is_ok()
    }
}

/// Features a Mycel backend may or may not serve, each read from whether its
/// path is in the backend's document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BackendCapabilities {
    /// Guest owners ([`Auth::create_guest_owner`](super::Auth::create_guest_owner)).
    pub guest_auth: bool,
    /// External agent identities ([`Users::create_external`](super::Users::create_external)).
    pub external_users: bool,
    /// Chat messages.
    pub chat_messages: bool,
    /// The runtime inbox (drain, wait, stream).
    pub runtime_inbox: bool,
}

impl Client {
    /// Asks the backend what it is: its OpenAPI document's version and title,
    /// and which features it serves. Needs no token. Use it to check a
    /// backend before relying on a feature newer backends added (guest
    /// owners, for one). A GET: retried like any read.
    pub async fn backend_info(&self) -> Result<BackendInfo> {
        let runtime = self.runtime();
        let redactor = runtime.redactor();
        let url = format!("{}/openapi.json", self.base_url());
        let url = reqwest::Url::parse(&url)
            .map_err(|e| Error::Config(format!("invalid backend URL: {e}")))?;
        let request = reqwest::Request::new(reqwest::Method::GET, url);
        let response = runtime
            .execute(&self.inner.settings.connection.http, request, OPERATION)
            .await?;
        let status = response.status();
        if !status.is_success() {
            return Err(runtime.error_from_response(response).await);
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::network(SERVICE, e, redactor))?;
        let doc: Value = serde_json::from_slice(&body).map_err(|e| {
            Error::decode(
                SERVICE,
                Some(status.as_u16()),
                format!("the backend's /openapi.json is not JSON: {e}"),
                &body,
                redactor,
            )
        })?;
        let Value::Object(doc) = doc else {
            return Err(Error::decode(
                SERVICE,
                Some(status.as_u16()),
                "the backend's /openapi.json is not a JSON object",
                &body,
                redactor,
            ));
        };
        let text = |v: Option<&Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let info = doc.get("info").and_then(Value::as_object);
        let mut paths: Vec<String> = doc
            .get("paths")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        paths.sort();
        let has = |p: &str| paths.binary_search_by(|x| x.as_str().cmp(p)).is_ok();
        let capabilities = BackendCapabilities {
            guest_auth: has("/api/auth/guest"),
            external_users: has("/api/auth/external-users"),
            chat_messages: has("/api/chats/{chat_id}/messages"),
            runtime_inbox: has("/api/runtime/inbox/drain"),
        };
        Ok(BackendInfo {
            base_url: self.base_url().to_owned(),
            openapi: text(doc.get("openapi")),
            title: text(info.and_then(|i| i.get("title"))),
            version: text(info.and_then(|i| i.get("version"))),
            capabilities,
            paths,
        })
    }
}
