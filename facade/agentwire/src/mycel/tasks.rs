//! A chat's coordination state: its workflow, the workflow's events
//! (decisions and their outcome) and its tasks.

use std::collections::HashMap;
use std::future::IntoFuture;

use agentwire_mycel_transport::types;
use agentwire_runtime::Result;
use serde_json::{Map, Value};

use super::{tag_state_conflict, Ack, Chats, Client, Task, Workflow, WorkflowEvent};
use crate::config::non_empty;
use crate::BoxFuture;

impl<'a> Chats<'a> {
    /// The chat's workflow ([`Error::NotFound`](agentwire_runtime::Error::NotFound)
    /// when it has none).
    pub async fn get_workflow(&self, chat_id: &str) -> Result<Workflow> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.chats_workflow_get().chat_id(chat_id).await?;
        c.decode(v)
    }

    /// Sets (replaces) the chat's workflow; set state and config on the
    /// returned request, then `.await` it.
    pub fn set_workflow(&self, chat_id: &str, kind: &str) -> SetWorkflow<'a> {
        SetWorkflow {
            client: self.client,
            chat_id: chat_id.to_owned(),
            body: types::SetChatWorkflowBody {
                config: Map::new(),
                expected_state_version: None,
                kind: kind.to_owned(),
                state: "active".into(),
                extra: Map::new(),
            },
        }
    }

    /// Removes the chat's workflow.
    pub async fn delete_workflow(&self, chat_id: &str) -> Result<Ack> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.chats_workflow_delete().chat_id(chat_id).await?;
        c.decode(v)
    }

    /// The workflow's events.
    pub async fn list_workflow_events(&self, chat_id: &str) -> Result<Vec<WorkflowEvent>> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c
            .authed()?
            .chats_workflow_events_list()
            .chat_id(chat_id)
            .await?;
        c.decode_list(v, "events")
    }

    /// Opens a workflow event of `kind`; fill it on the returned request.
    pub fn create_workflow_event(&self, chat_id: &str, kind: &str) -> CreateWorkflowEvent<'a> {
        CreateWorkflowEvent {
            client: self.client,
            chat_id: chat_id.to_owned(),
            body: types::CreateChatWorkflowEventBody {
                decision_states: HashMap::new(),
                final_state: Map::new(),
                kind: kind.to_owned(),
                metadata: Map::new(),
                rationales: Map::new(),
                requested_by_user_id: None,
                resource_refs: Vec::new(),
                extra: Map::new(),
            },
        }
    }

    /// One workflow event.
    pub async fn get_workflow_event(&self, chat_id: &str, event_id: &str) -> Result<WorkflowEvent> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("event_id", event_id)?;
        let op = c.authed()?.chats_workflow_events_get().chat_id(chat_id);
        let v = op.event_id(event_id).await?;
        c.decode(v)
    }

    /// Changes a workflow event; only the fields set on the returned
    /// request are sent.
    pub fn update_workflow_event(&self, chat_id: &str, event_id: &str) -> UpdateWorkflowEvent<'a> {
        UpdateWorkflowEvent {
            client: self.client,
            chat_id: chat_id.to_owned(),
            event_id: event_id.to_owned(),
            body: types::UpdateChatWorkflowEventBody {
                decision_states: None,
                expected_state_version: None,
                final_state: None,
                metadata: None,
                rationales: None,
                settled_at: None,
                state: None,
                extra: Map::new(),
            },
        }
    }

    /// Deletes a workflow event.
    pub async fn delete_workflow_event(&self, chat_id: &str, event_id: &str) -> Result<Ack> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("event_id", event_id)?;
        let op = c.authed()?.chats_workflow_events_delete().chat_id(chat_id);
        let v = op.event_id(event_id).await?;
        c.decode(v)
    }

    /// The chat's tasks.
    pub async fn list_tasks(&self, chat_id: &str) -> Result<Vec<Task>> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        let v = c.authed()?.chats_tasks_list().chat_id(chat_id).await?;
        c.decode_list(v, "tasks")
    }

    /// Adds a task titled `subject`; set the rest on the returned request.
    pub fn create_task(&self, chat_id: &str, subject: &str) -> CreateTask<'a> {
        CreateTask {
            client: self.client,
            chat_id: chat_id.to_owned(),
            body: types::CreateChatTaskBody {
                active_form: None,
                blocked_by: Vec::new(),
                blocks: Vec::new(),
                description: String::new(),
                metadata: Map::new(),
                owner: None,
                status: "pending".into(),
                subject: subject.to_owned(),
                extra: Map::new(),
            },
        }
    }

    /// One task.
    pub async fn get_task(&self, chat_id: &str, task_id: &str) -> Result<Task> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("task_id", task_id)?;
        let op = c.authed()?.chats_tasks_get().chat_id(chat_id);
        let v = op.task_id(task_id).await?;
        c.decode(v)
    }

    /// Changes a task; only the fields set on the returned request are sent.
    pub fn update_task(&self, chat_id: &str, task_id: &str) -> UpdateTask<'a> {
        UpdateTask {
            client: self.client,
            chat_id: chat_id.to_owned(),
            task_id: task_id.to_owned(),
            body: types::UpdateChatTaskBody {
                active_form: None,
                blocked_by: None,
                blocks: None,
                description: None,
                metadata: None,
                owner: None,
                status: None,
                subject: None,
                extra: Map::new(),
            },
        }
    }

    /// Deletes a task.
    pub async fn delete_task(&self, chat_id: &str, task_id: &str) -> Result<Ack> {
        let c = self.client;
        non_empty("chat_id", chat_id)?;
        non_empty("task_id", task_id)?;
        let op = c.authed()?.chats_tasks_delete().chat_id(chat_id);
        let v = op.task_id(task_id).await?;
        c.decode(v)
    }
}

/// Setters that send a field as an explicit `null` — "clear it", which the
/// backend tells apart from an omitted field ("leave it"). The typed body
/// cannot carry that (`None` is omitted), so the `null` travels in its
/// `extra` map, and a later setter of the same field takes it out again.
macro_rules! clear_fields {
    ($($(#[$doc:meta])* $name:ident => $field:ident,)*) => {
        $(
            $(#[$doc])*
            ///
            /// Overrides an earlier setter of the same field.
            pub fn $name(mut self) -> Self {
                self.body.$field = None;
                self.body.extra.insert(stringify!($field).to_owned(), Value::Null);
                self
            }
        )*
    };
}

fn strings<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// A pending [`Chats::set_workflow`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct SetWorkflow<'a> {
    client: &'a Client,
    chat_id: String,
    body: types::SetChatWorkflowBody,
}

impl SetWorkflow<'_> {
    /// State (default "active").
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.body.state = state.into();
        self
    }

    /// Free-form configuration.
    pub fn config(mut self, config: Map<String, Value>) -> Self {
        self.body.config = config;
        self
    }

    /// Makes the change conditional: applied only while the workflow's
    /// [`state_version`](Workflow::state_version) is still `version` (the
    /// one read before computing the change), else refused with a state
    /// conflict ([`ErrorExt::is_state_conflict`](super::ErrorExt::is_state_conflict))
    /// and nothing changed. Without it the change replaces whatever is there.
    pub fn expected_state_version(mut self, version: i64) -> Self {
        self.body.expected_state_version = Some(version);
        self
    }
}

impl<'a> IntoFuture for SetWorkflow<'a> {
    type Output = Result<Workflow>;
    type IntoFuture = BoxFuture<'a, Result<Workflow>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("chat_id", &self.chat_id)?;
            let op = c.authed()?.chats_workflow_set().chat_id(&self.chat_id);
            let v = op.body(self.body).await.map_err(tag_state_conflict)?;
            c.decode(v)
        })
    }
}

/// A pending [`Chats::create_workflow_event`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreateWorkflowEvent<'a> {
    client: &'a Client,
    chat_id: String,
    body: types::CreateChatWorkflowEventBody,
}

impl CreateWorkflowEvent<'_> {
    /// Resources the event is about.
    pub fn resource_refs(mut self, refs: Vec<Map<String, Value>>) -> Self {
        self.body.resource_refs = refs;
        self
    }

    /// Who asks for it (default: the caller).
    pub fn requested_by(mut self, user_id: impl Into<String>) -> Self {
        self.body.requested_by_user_id = Some(user_id.into());
        self
    }

    /// Per participant, per item: their decision.
    pub fn decision_states(mut self, states: HashMap<String, HashMap<String, String>>) -> Self {
        self.body.decision_states = states;
        self
    }

    /// Reasons given.
    pub fn rationales(mut self, rationales: Map<String, Value>) -> Self {
        self.body.rationales = rationales;
        self
    }

    /// The outcome, when known already.
    pub fn final_state(mut self, state: Map<String, Value>) -> Self {
        self.body.final_state = state;
        self
    }

    /// Free-form data.
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.body.metadata = metadata;
        self
    }
}

impl<'a> IntoFuture for CreateWorkflowEvent<'a> {
    type Output = Result<WorkflowEvent>;
    type IntoFuture = BoxFuture<'a, Result<WorkflowEvent>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("chat_id", &self.chat_id)?;
            let op = c.authed()?.chats_workflow_events_create();
            let v = op.chat_id(&self.chat_id).body(self.body).await?;
            c.decode(v)
        })
    }
}

/// A pending [`Chats::update_workflow_event`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct UpdateWorkflowEvent<'a> {
    client: &'a Client,
    chat_id: String,
    event_id: String,
    body: types::UpdateChatWorkflowEventBody,
}

impl UpdateWorkflowEvent<'_> {
    /// New state.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.body.state = Some(state.into());
        self.body.extra.remove("state");
        self
    }

    /// New decisions.
    pub fn decision_states(mut self, states: HashMap<String, HashMap<String, String>>) -> Self {
        self.body.decision_states = Some(states);
        self.body.extra.remove("decision_states");
        self
    }

    /// New reasons.
    pub fn rationales(mut self, rationales: Map<String, Value>) -> Self {
        self.body.rationales = Some(rationales);
        self.body.extra.remove("rationales");
        self
    }

    /// The outcome.
    pub fn final_state(mut self, state: Map<String, Value>) -> Self {
        self.body.final_state = Some(state);
        self.body.extra.remove("final_state");
        self
    }

    /// New free-form data.
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.body.metadata = Some(metadata);
        self.body.extra.remove("metadata");
        self
    }

    /// When it was settled (Unix seconds).
    pub fn settled_at(mut self, unix_seconds: f64) -> Self {
        self.body.settled_at = Some(unix_seconds);
        self.body.extra.remove("settled_at");
        self
    }

    /// Makes the change conditional: applied only while the event's
    /// [`state_version`](WorkflowEvent::state_version) is still `version`,
    /// else refused with a state conflict
    /// ([`ErrorExt::is_state_conflict`](super::ErrorExt::is_state_conflict)).
    pub fn expected_state_version(mut self, version: i64) -> Self {
        self.body.expected_state_version = Some(version);
        self.body.extra.remove("expected_state_version");
        self
    }

    clear_fields! {
        /// Clears the state (sends it as `null`).
        clear_state => state,
        /// Clears the decisions.
        clear_decision_states => decision_states,
        /// Clears the reasons.
        clear_rationales => rationales,
        /// Clears the outcome.
        clear_final_state => final_state,
        /// Clears the free-form data.
        clear_metadata => metadata,
        /// Clears the settlement time: the event is open again.
        clear_settled_at => settled_at,
    }
}

impl<'a> IntoFuture for UpdateWorkflowEvent<'a> {
    type Output = Result<WorkflowEvent>;
    type IntoFuture = BoxFuture<'a, Result<WorkflowEvent>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("chat_id", &self.chat_id)?;
            non_empty("event_id", &self.event_id)?;
            let op = c.authed()?.chats_workflow_events_update();
            let op = op.chat_id(&self.chat_id).event_id(&self.event_id);
            let v = op.body(self.body).await.map_err(tag_state_conflict)?;
            c.decode(v)
        })
    }
}

/// A pending [`Chats::create_task`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CreateTask<'a> {
    client: &'a Client,
    chat_id: String,
    body: types::CreateChatTaskBody,
}

macro_rules! task_fields {
    ($wrap:expr) => {
        /// Present-tense label shown while the task is in progress.
        pub fn active_form(mut self, label: impl Into<String>) -> Self {
            self.body.active_form = Some(label.into());
            self.body.extra.remove("active_form");
            self
        }

        /// Who owns the task.
        pub fn owner(mut self, user_id: impl Into<String>) -> Self {
            self.body.owner = Some(user_id.into());
            self.body.extra.remove("owner");
            self
        }

        /// Tasks this one blocks.
        pub fn blocks<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
            self.body.blocks = $wrap(strings(ids));
            self.body.extra.remove("blocks");
            self
        }

        /// Tasks blocking this one.
        pub fn blocked_by<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
            self.body.blocked_by = $wrap(strings(ids));
            self.body.extra.remove("blocked_by");
            self
        }

        /// Free-form data.
        pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
            self.body.metadata = $wrap(metadata);
            self.body.extra.remove("metadata");
            self
        }
    };
}

impl CreateTask<'_> {
    task_fields!(std::convert::identity);

    /// Details.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.body.description = description.into();
        self
    }

    /// Status (default "pending").
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.body.status = status.into();
        self
    }
}

impl<'a> IntoFuture for CreateTask<'a> {
    type Output = Result<Task>;
    type IntoFuture = BoxFuture<'a, Result<Task>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("chat_id", &self.chat_id)?;
            let op = c.authed()?.chats_tasks_create().chat_id(&self.chat_id);
            let v = op.body(self.body).await?;
            c.decode(v)
        })
    }
}

/// A pending [`Chats::update_task`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct UpdateTask<'a> {
    client: &'a Client,
    chat_id: String,
    task_id: String,
    body: types::UpdateChatTaskBody,
}

impl UpdateTask<'_> {
    task_fields!(Some);

    /// New details.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.body.description = Some(description.into());
        self.body.extra.remove("description");
        self
    }

    /// New status.
    pub fn status(mut self, status: impl Into<String>) -> Self {
        self.body.status = Some(status.into());
        self.body.extra.remove("status");
        self
    }

    /// New title.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.body.subject = Some(subject.into());
        self.body.extra.remove("subject");
        self
    }

    clear_fields! {
        /// Clears the in-progress label (sends it as `null`).
        clear_active_form => active_form,
        /// Unassigns the task: clears its owner.
        clear_owner => owner,
        /// Clears the tasks this one blocks.
        clear_blocks => blocks,
        /// Clears the tasks blocking this one.
        clear_blocked_by => blocked_by,
        /// Clears the free-form data.
        clear_metadata => metadata,
    }
}

impl<'a> IntoFuture for UpdateTask<'a> {
    type Output = Result<Task>;
    type IntoFuture = BoxFuture<'a, Result<Task>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let c = self.client;
            non_empty("chat_id", &self.chat_id)?;
            non_empty("task_id", &self.task_id)?;
            let op = c.authed()?.chats_tasks_update().chat_id(&self.chat_id);
            let v = op.task_id(&self.task_id).body(self.body).await?;
            c.decode(v)
        })
    }
}
