//! The fake Promptev service. This module plays the previous product, as
//! promptev 0.2.0 calls it: agents of one project, answered through the
//! three SDK endpoints with FastAPI-shaped errors, each event one
//! `data: <json>` line as the service sends it (`[multiline]` splits one
//! over two lines, which only a full SSE parser reads). [`v1`] plays the
//! current product.
//!
//! Replies are deterministic: `[<agent name>] <message>` with `{{name}}`
//! variables filled in, plus ` (turn N)` from a session's second user turn
//! on. Stream queries containing `[approval]`, `[error]`, `[comments]` or
//! `[multiline]` exercise the less common parts of the event stream.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use agentwire_promptev_transport::types::{
    AgentEventData, StartRequest, StartResponse, StreamRequest, TriggerRequest, TriggerResponse,
};
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::fastapi::{ApiError, FastJson};
use crate::Shared;

pub(crate) mod v1;
pub use v1::{ChatTurn, RunRecord, DEFAULT_API_KEY};

/// The project key a sandbox accepts unless configured otherwise.
pub const DEFAULT_PROJECT_KEY: &str = "pv_sk_sandbox_0123456789";

/// One message of a session, as `start` lists earlier turns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turn {
    /// `"user"` or `"assistant"`.
    pub role: String,
    /// What was said.
    pub content: String,
}

impl Turn {
    fn new(role: &str, content: impl Into<String>) -> Turn {
        Turn {
            role: role.to_string(),
            content: content.into(),
        }
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("role".into(), self.role.clone().into());
        map.insert("content".into(), self.content.clone().into());
        map
    }
}

#[derive(Clone, Debug)]
struct Agent {
    name: String,
    active: bool,
    memory_enabled: bool,
}

#[derive(Debug)]
struct Session {
    agent_id: String,
    visitor: String,
    platform: Option<String>,
    turns: Vec<Turn>,
}

impl Session {
    fn user_turns(&self) -> usize {
        self.turns.iter().filter(|t| t.role == "user").count()
    }
}

#[derive(Debug)]
struct Inner {
    project_key: String,
    event_delay: Duration,
    agents: HashMap<String, Agent>,
    sessions: HashMap<String, Session>,
    next_session: u64,
    next_token: u64,
    quota: Option<u64>,
}

/// Promptev's in-memory data, owned by the sandbox.
#[derive(Debug)]
pub(crate) struct State {
    inner: Mutex<Inner>,
    pub(crate) v1: v1::State,
}

impl State {
    pub(crate) fn new(project_key: String, event_delay: Duration) -> State {
        let mut agents = HashMap::new();
        agents.insert(
            "echo-agent".to_string(),
            Agent {
                name: "Echo".into(),
                active: true,
                memory_enabled: true,
            },
        );
        agents.insert(
            "inactive-agent".to_string(),
            Agent {
                name: "Dormant".into(),
                active: false,
                memory_enabled: false,
            },
        );
        State {
            inner: Mutex::new(Inner {
                project_key,
                event_delay,
                agents,
                sessions: HashMap::new(),
                next_session: 0,
                next_token: 0,
                quota: None,
            }),
            v1: v1::State::new(event_delay),
        }
    }

    // Every update is done under one lock acquisition and cannot be left half
    // done by a panic, so a poisoned lock still holds consistent data.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn check(&self, project_key: &str, agent_id: &str) -> Result<Agent, ApiError> {
        if project_key != self.project_key {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Invalid project key",
            ));
        }
        let agent = self
            .agents
            .get(agent_id)
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Agent not found"))?;
        if !agent.active {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "Agent is not active"));
        }
        Ok(agent.clone())
    }

    fn take_quota(&mut self) -> Result<(), ApiError> {
        match &mut self.quota {
            Some(0) => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Quota exceeded",
            )),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// A handle on the fake Promptev service of a running [`crate::Sandbox`].
#[derive(Clone)]
pub struct PromptevHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PromptevHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptevHandle").finish_non_exhaustive()
    }
}

impl PromptevHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> PromptevHandle {
        PromptevHandle { shared }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.promptev.lock()
    }

    /// The one project key the service accepts.
    pub fn project_key(&self) -> String {
        self.lock().project_key.clone()
    }

    /// Adds an agent, or replaces the one with this id, with memory enabled.
    /// An inactive agent answers 403 `Agent is not active`.
    pub fn add_agent(&self, id: impl Into<String>, name: impl Into<String>, active: bool) {
        self.lock().agents.insert(
            id.into(),
            Agent {
                name: name.into(),
                active,
                memory_enabled: true,
            },
        );
    }

    /// Ids of the known agents, sorted.
    pub fn agent_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().agents.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Number of sessions created by `trigger` and `start`.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// The turns of a session, by `trigger` session id or `start` session
    /// token; `None` when there is no such session.
    pub fn turns(&self, session_id: &str) -> Option<Vec<Turn>> {
        self.lock()
            .sessions
            .get(session_id)
            .map(|s| s.turns.clone())
    }

    /// The visitor recorded on a session.
    pub fn visitor(&self, session_id: &str) -> Option<String> {
        self.lock()
            .sessions
            .get(session_id)
            .map(|s| s.visitor.clone())
    }

    /// The platform recorded on a session opened by `start`; `None` for
    /// sessions created by `trigger` and for unknown ids.
    pub fn platform(&self, session_id: &str) -> Option<String> {
        self.lock()
            .sessions
            .get(session_id)
            .and_then(|s| s.platform.clone())
    }

    /// Limits the agent runs (`trigger` and `stream` calls) still allowed
    /// before the service answers 429 `Quota exceeded`; `None` (the default)
    /// means unlimited.
    pub fn set_quota(&self, runs: Option<u64>) {
        self.lock().quota = runs;
    }

    /// Changes the pause between two streamed events for later streams.
    pub fn set_event_delay(&self, delay: Duration) {
        self.lock().event_delay = delay;
    }
}

/// Promptev's routes, under the paths of the real service.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    v1::routes()
        .route(
            "/api/sdk/v1/agent/{project_key}/{agent_id}/trigger",
            post(trigger),
        )
        .route(
            "/api/sdk/v1/agent/{project_key}/{agent_id}/start",
            post(start),
        )
        .route(
            "/api/sdk/v1/agent/{project_key}/{agent_id}/stream",
            post(stream),
        )
}

type AgentPath = Result<Path<(String, String)>, PathRejection>;

fn agent_path(path: AgentPath) -> Result<(String, String), ApiError> {
    path.map(|Path(p)| p)
        .map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))
}

async fn trigger(
    AxumState(shared): AxumState<Arc<Shared>>,
    path: AgentPath,
    FastJson(body): FastJson<TriggerRequest>,
) -> Result<Json<TriggerResponse>, ApiError> {
    let (project_key, agent_id) = agent_path(path)?;
    let mut inner = shared.promptev.lock();
    let agent = inner.check(&project_key, &agent_id)?;
    if body.message.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "message must not be empty",
        ));
    }
    inner.take_quota()?;

    let resumed = body.session_id.filter(|id| {
        inner
            .sessions
            .get(id)
            .is_some_and(|s| s.agent_id == agent_id)
    });
    let session_id = match resumed {
        Some(id) => id,
        None => {
            inner.next_session += 1;
            let n = inner.next_session;
            let id = format!("sess_{n}");
            inner.sessions.insert(
                id.clone(),
                Session {
                    agent_id: agent_id.clone(),
                    visitor: format!("webhook_{n}"),
                    platform: None,
                    turns: Vec::new(),
                },
            );
            id
        }
    };
    let Some(session) = inner.sessions.get_mut(&session_id) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Session not found"));
    };
    if let Some(visitor) = body.visitor {
        session.visitor = visitor;
    }
    session.turns.push(Turn::new("user", body.message.clone()));
    let response = reply(
        &agent.name,
        &body.message,
        body.variables.as_ref(),
        session.user_turns(),
    );
    session.turns.push(Turn::new("assistant", response.clone()));
    Ok(Json(TriggerResponse {
        extra: Default::default(),
        response,
        session_id,
    }))
}

async fn start(
    AxumState(shared): AxumState<Arc<Shared>>,
    path: AgentPath,
    FastJson(body): FastJson<StartRequest>,
) -> Result<Response, ApiError> {
    let (project_key, agent_id) = agent_path(path)?;
    let mut inner = shared.promptev.lock();
    let agent = inner.check(&project_key, &agent_id)?;
    inner.next_token += 1;
    let token = format!("st_{}", inner.next_token);
    let session = Session {
        agent_id: agent_id.clone(),
        visitor: body.visitor.unwrap_or_else(|| "anonymous".into()),
        platform: Some(body.platform.unwrap_or_else(|| "sdk".into())),
        turns: Vec::new(),
    };
    let messages = session.turns.iter().map(Turn::to_json).collect();
    inner.sessions.insert(token.clone(), session);
    let response = StartResponse {
        extra: Default::default(),
        agent_id: Some(agent_id),
        chatbot_id: None,
        memory_enabled: agent.memory_enabled,
        messages,
        name: agent.name,
        session_token: token,
    };
    // The generated type skips an empty `messages`; FastAPI sends every
    // field of its response model, so put it back.
    let mut value = serde_json::to_value(&response).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.entry("messages")
            .or_insert_with(|| Value::Array(Vec::new()));
    }
    Ok(Json(value).into_response())
}

#[derive(Debug, Deserialize)]
struct StreamParams {
    session_token: Option<String>,
}

async fn stream(
    AxumState(shared): AxumState<Arc<Shared>>,
    path: AgentPath,
    query: Result<Query<StreamParams>, QueryRejection>,
    FastJson(body): FastJson<StreamRequest>,
) -> Result<Response, ApiError> {
    let (project_key, agent_id) = agent_path(path)?;
    let token = query
        .ok()
        .and_then(|Query(q)| q.session_token)
        .ok_or_else(|| ApiError::missing_query("session_token"))?;
    let mut inner = shared.promptev.lock();
    let agent = inner.check(&project_key, &agent_id)?;
    // A token of another agent's session is as unknown as a made-up one.
    let owned = inner
        .sessions
        .get(&token)
        .is_some_and(|s| s.agent_id == agent_id);
    if !owned {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Session not found"));
    }
    if body.query.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "query must not be empty",
        ));
    }
    inner.take_quota()?;
    let delay = inner.event_delay;
    let Some(session) = inner.sessions.get_mut(&token) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "Session not found"));
    };

    let query = body.query;
    session.turns.push(Turn::new("user", query.clone()));
    let answer = reply(&agent.name, &query, None, session.user_turns());
    let comments = query.contains("[comments]");
    let mut chunks = Vec::new();
    if comments {
        chunks.push(": keep-alive\n\n".to_string());
    }
    let thoughts = event("thoughts", format!("Thinking about: {query}"));
    chunks.push(if comments {
        format!("id: 1\n{thoughts}")
    } else {
        thoughts
    });
    let processing = event("processing", "Looking things up");
    chunks.push(if comments {
        format!(": keep-alive\n{processing}")
    } else {
        processing
    });
    if query.contains("[approval]") {
        chunks.push(event("approval_required", "Tool 'lookup' needs approval"));
    }
    if query.contains("[error]") {
        chunks.push(event("error", "Agent failed: simulated error"));
    } else {
        let done = AgentEventData {
            extra: Default::default(),
            output: answer.clone(),
            type_: "done".into(),
        };
        chunks.push(if query.contains("[multiline]") {
            split_event(&done)
        } else {
            encode_event(&done)
        });
        session.turns.push(Turn::new("assistant", answer));
    }
    drop(inner);

    let events =
        futures::stream::iter(chunks.into_iter().enumerate()).then(move |(i, chunk)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<Bytes, Infallible>(Bytes::from(chunk))
        });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events),
    )
        .into_response())
}

fn event(kind: &str, output: impl Into<String>) -> String {
    encode_event(&AgentEventData {
        extra: Default::default(),
        output: output.into(),
        type_: kind.into(),
    })
}

fn encode_event(data: &AgentEventData) -> String {
    // Serializing two strings cannot fail.
    format!(
        "data: {}\n\n",
        serde_json::to_string(data).unwrap_or_default()
    )
}

/// The event's JSON over two `data:` lines, cut between two members: SSE
/// joins the lines with a newline, which JSON takes as whitespace.
fn split_event(data: &AgentEventData) -> String {
    let Ok(Value::Object(map)) = serde_json::to_value(data) else {
        return encode_event(data);
    };
    let members: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    match members.split_first() {
        Some((first, rest)) if !rest.is_empty() => {
            format!("data: {{{first},\ndata: {}}}\n\n", rest.join(","))
        }
        _ => encode_event(data),
    }
}

/// The agent's answer to the `user_turn`-th user message of a session.
fn reply(
    agent_name: &str,
    message: &str,
    variables: Option<&Map<String, Value>>,
    user_turn: usize,
) -> String {
    let mut text = format!("[{agent_name}] {}", fill_variables(message, variables));
    if user_turn > 1 {
        text.push_str(&format!(" (turn {user_turn})"));
    }
    text
}

/// Replaces each `{{name}}` that has a value in `variables`; others stay as
/// written, as an unfilled prompt variable would.
fn fill_variables(message: &str, variables: Option<&Map<String, Value>>) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = after[..close].trim();
        match variables.and_then(|v| v.get(name)) {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => out.push_str(&rest[open..open + 2 + close + 2]),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variables_are_filled_and_unknown_ones_kept() {
        let vars = json!({"name": "Ada", "n": 3, "ok": true});
        let vars = vars.as_object();
        assert_eq!(
            fill_variables("Hi {{name}}, {{ n }} {{ok}} {{missing}} {{open", vars),
            "Hi Ada, 3 true {{missing}} {{open"
        );
        assert_eq!(fill_variables("{{name}}", None), "{{name}}");
        assert_eq!(
            fill_variables("ünï {{x}}}", json!({"x":"é"}).as_object()),
            "ünï é}"
        );
    }

    #[test]
    fn reply_counts_turns_from_the_second() {
        assert_eq!(reply("Echo", "hi", None, 1), "[Echo] hi");
        assert_eq!(reply("Echo", "hi", None, 2), "[Echo] hi (turn 2)");
    }

    #[test]
    fn split_event_is_valid_sse_json() {
        let data = AgentEventData {
            extra: Default::default(),
            output: "a, \"b\" {c}".into(),
            type_: "done".into(),
        };
        let text = split_event(&data);
        let lines: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(lines.len(), 2);
        let joined = lines.join("\n");
        let parsed: AgentEventData = serde_json::from_str(&joined).unwrap();
        assert_eq!(parsed, data);
    }
}
