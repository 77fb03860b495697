//! Managed agents of the owner panel, and the runtime threads they run in.

use std::future::IntoFuture;

use agentwire_mycel_transport::types;
use agentwire_runtime::Result;
use serde_json::{Map, Value};

use super::{Agent, Client, Thread};
use crate::config::non_empty;
use crate::BoxFuture;

/// Runtime threads. See [`Client::threads`].
#[derive(Debug, Clone, Copy)]
pub struct Threads<'a> {
    pub(crate) client: &'a Client,
}

/// The owner panel's managed agents. See [`Client::agents`].
#[derive(Debug, Clone, Copy)]
pub struct Agents<'a> {
    pub(crate) client: &'a Client,
}

/// A directory of the caller's machine made visible inside a thread's
/// sandbox.
pub use types::MountSpec;
/// How a [`MountSpec`] brings its source in: `Mount` (default) or `Copy`.
pub use types::MountSpecMode;

impl<'a> Threads<'a> {
    /// Starts a runtime thread running as the managed agent `agent_user_id`,
    /// in the `"local"` sandbox provider unless
    /// [`CreateThread::sandbox`] names another. The backend checks that the
    /// caller owns the agent and knows the provider. Set options on the
    /// returned request, then `.await` it.
    pub fn create(&self, agent_user_id: &str) -> CreateThread<'a> {
        CreateThread {
            client: self.client,
            body: types::CreateThreadRequest {
                agent: None,
                agent_user_id: agent_user_id.to_owned(),
                bind_mounts: Vec::new(),
                cwd: None,
                existing_sandbox_id: None,
                model: None,
                sandbox: DEFAULT_SANDBOX.to_owned(),
                sandbox_template_id: None,
                extra: Map::new(),
            },
        }
    }
}

/// The sandbox provider a thread runs in unless told otherwise.
pub const DEFAULT_SANDBOX: &str = "local";

/// A pending [`Threads::create`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreateThread<'a> {
    client: &'a Client,
    body: types::CreateThreadRequest,
}

impl CreateThread<'_> {
    /// The sandbox provider ("local", the default, "docker"…).
    pub fn sandbox(mut self, provider: impl Into<String>) -> Self {
        self.body.sandbox = provider.into();
        self
    }

    /// Builds the sandbox from this template of the provider.
    pub fn sandbox_template_id(mut self, id: impl Into<String>) -> Self {
        self.body.sandbox_template_id = Some(id.into());
        self
    }

    /// Runs in this existing sandbox instead of a new one.
    pub fn existing_sandbox_id(mut self, id: impl Into<String>) -> Self {
        self.body.existing_sandbox_id = Some(id.into());
        self
    }

    /// The agent runtime to run ("claude", "codex"…, as the backend names
    /// them).
    pub fn agent(mut self, agent: impl Into<String>) -> Self {
        self.body.agent = Some(agent.into());
        self
    }

    /// Adds a directory of the caller's machine to the sandbox: `source`
    /// appears at `target`, mounted (default) or copied, writable unless
    /// `read_only`. Call once per mount, or use
    /// [`bind_mounts`](Self::bind_mounts).
    pub fn bind_mount(mut self, mount: MountSpec) -> Self {
        self.body.bind_mounts.push(mount);
        self
    }

    /// Replaces the list of mounts.
    pub fn bind_mounts(mut self, mounts: impl IntoIterator<Item = MountSpec>) -> Self {
        self.body.bind_mounts = mounts.into_iter().collect();
        self
    }

    /// Working directory inside the sandbox.
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.body.cwd = Some(cwd.into());
        self
    }

    /// Model to run.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.body.model = Some(model.into());
        self
    }
}

impl<'a> IntoFuture for CreateThread<'a> {
    type Output = Result<Thread>;
    type IntoFuture = BoxFuture<'a, Result<Thread>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("agent_user_id", &self.body.agent_user_id)?;
            non_empty("sandbox", &self.body.sandbox)?;
            for m in &self.body.bind_mounts {
                non_empty("bind_mounts.source", &m.source)?;
                non_empty("bind_mounts.target", &m.target)?;
            }
            let v = c.authed()?.threads_create().body(self.body).await?;
            c.decode(v)
        })
    }
}

impl Agents<'_> {
    /// The caller's managed agents.
    pub async fn list(&self) -> Result<Vec<Agent>> {
        let c = self.client;
        let out = c.authed()?.agents_list().await?;
        c.decode_list(Value::Object(out.0), "agents")
    }

    /// Creates a managed agent owned by the caller; its id is a user id
    /// usable in chats and threads.
    pub async fn create(&self, name: &str, description: &str) -> Result<Agent> {
        let c = self.client;
        non_empty("name", name)?;
        let body = types::CreateAgentRequest {
            name: name.to_owned(),
            description: description.to_owned(),
            extra: Map::new(),
        };
        let out = c.authed()?.agents_create().body(body).await?;
        c.decode(Value::Object(out.0))
    }
}
