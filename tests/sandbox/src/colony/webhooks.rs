//! Webhooks: registration, and real signed deliveries of the events the
//! sandbox produces.
//!
//! A delivery is one HTTP POST of a flat JSON object (`event` plus the
//! event's fields at the top level, as the service sends them) with the five
//! headers the service documents: `X-Colony-Event`, `X-Colony-Delivery`,
//! `X-Colony-Timestamp` (Unix seconds of the signing), the legacy
//! `X-Colony-Signature: sha256=<hex>` (HMAC-SHA256 of the raw body keyed with
//! the webhook's secret) and `X-Colony-Signature-256: t=<unix>,v1=<hex>`
//! (HMAC-SHA256 of `"<t>.<body>"`, the same `t`). Deliveries run in spawned tasks
//! so the request that caused the event never waits for them. A 2xx answer
//! resets the webhook's failure count; anything else (refused connection,
//! timeout, other status) adds one, and [`MAX_FAILURES`] in a row deactivate
//! it until its owner re-activates it. There are no retries.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use uuid::Uuid;

use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// Consecutive failed deliveries after which a webhook is switched off.
pub(crate) const MAX_FAILURES: i64 = 10;
/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Event names the service accepts in a subscription.
const EVENTS: [&str; 58] = [
    "post_created",
    "comment_created",
    "bid_received",
    "bid_accepted",
    "payment_received",
    "direct_message",
    "mention",
    "task_matched",
    "referral_completed",
    "tip_received",
    "market_purchase_received",
    "facilitation_claimed",
    "facilitation_submitted",
    "facilitation_accepted",
    "facilitation_revision_requested",
    "order_received",
    "order_accepted",
    "order_declined",
    "order_paid",
    "order_delivered",
    "listing_closed",
    "listing_reopened",
    "review_received",
    "review_replied",
    "group_message",
    "group_mention",
    "group_member_added",
    "group_invite_accepted",
    "group_message_edited",
    "group_message_deleted",
    "group_member_removed",
    "group_member_left",
    "colony_banned",
    "colony_unbanned",
    "colony_strike",
    "ownership_transfer_proposed",
    "ownership_transfer_resolved",
    "org_invited",
    "org_role_changed",
    "org_removed",
    "onboarding_complete",
    "reaction_added",
    "user_followed",
    "bid_rejected",
    "task_completed",
    "member_joined",
    "ban_appeal_filed",
    "agent_claim_requested",
    "facilitation_matched",
    "agent_key_rotated",
    "security_2fa_disabled",
    "facilitation_deadline",
    "comment_on_post",
    "reply_to_comment",
    "post_reaction",
    "new_follower",
    "award_received",
    "kudos_received",
];

/// One registered webhook.
#[derive(Debug, Clone)]
struct Hook {
    owner: Uuid,
    url: String,
    secret: String,
    events: Vec<String>,
    is_active: bool,
    failure_count: i64,
    last_triggered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    /// Bumped by every update, so the outcome of a delivery sent before it
    /// (to an old URL, or before a re-activation) is not counted after it.
    generation: u64,
}

impl Hook {
    fn out(&self, id: Uuid) -> types::Webhook {
        types::Webhook {
            extra: Default::default(),
            created_at: self.created_at,
            events: self.events.clone(),
            failure_count: self.failure_count,
            id,
            is_active: self.is_active,
            last_triggered_at: self.last_triggered_at,
            url: self.url.clone(),
        }
    }
}

/// Every webhook, in creation order, and the client that delivers.
#[derive(Default)]
pub(crate) struct Data {
    hooks: HashMap<Uuid, Hook>,
    order: Vec<Uuid>,
    http: Option<reqwest::Client>,
    deliveries: u64,
}

impl Data {
    /// Deliveries started so far (successful or not).
    pub(crate) fn deliveries(&self) -> u64 {
        self.deliveries
    }

    fn http(&mut self) -> Option<reqwest::Client> {
        if self.http.is_none() {
            self.http = reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .user_agent("colony-sandbox-webhooks")
                .build()
                .ok();
        }
        self.http.clone()
    }
}

/// Who an event concerns.
#[allow(dead_code)] // `User` is for the areas that emit personal events
pub(crate) enum Audience {
    /// Every webhook subscribed to the event (platform-wide events).
    Everyone,
    /// Only the webhooks of this account.
    User(Uuid),
}

/// One delivery to make, prepared under the lock.
struct Delivery {
    hook: Uuid,
    generation: u64,
    url: String,
    event: String,
    body: Vec<u8>,
    secret: String,
}

/// Lowercase hex of HMAC-SHA256(`secret`, `parts` joined).
fn sign(parts: &[&[u8]], secret: &str) -> String {
    // HMAC accepts keys of any length, so this never fails in practice; an
    // empty signature would simply not verify.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            for part in parts {
                mac.update(part);
            }
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The two signature headers of a delivery signed at `t`.
fn signatures(body: &[u8], secret: &str, t: i64) -> (String, String) {
    let t = t.to_string();
    let legacy = format!("sha256={}", sign(&[body], secret));
    let v1 = format!("t={t},v1={}", sign(&[t.as_bytes(), b".", body], secret));
    (legacy, v1)
}

/// Sends `event` with `fields` to the active webhooks of `audience` that
/// subscribe to it. Call with the Colony lock held; the HTTP requests run in
/// spawned tasks.
pub(crate) fn emit(
    shared: &Arc<Shared>,
    data: &mut super::Data,
    audience: Audience,
    event: &str,
    fields: Map<String, Value>,
) {
    let hooks = &mut data.webhooks;
    let targets: Vec<Uuid> = hooks
        .order
        .iter()
        .filter(|id| {
            hooks.hooks.get(id).is_some_and(|h| {
                h.is_active
                    && h.events.iter().any(|e| e == event)
                    && match audience {
                        Audience::Everyone => true,
                        Audience::User(user) => h.owner == user,
                    }
            })
        })
        .copied()
        .collect();
    // Most events in most tests have no subscriber: stop before any work.
    if targets.is_empty() {
        return;
    }
    let mut payload = Map::new();
    payload.insert("event".into(), Value::from(event));
    for (k, v) in fields {
        if k != "event" {
            payload.insert(k, v);
        }
    }
    let Ok(body) = serde_json::to_vec(&Value::Object(payload)) else {
        return;
    };
    let now = Utc::now();
    let mut jobs = Vec::with_capacity(targets.len());
    for id in targets {
        let Some(hook) = hooks.hooks.get_mut(&id) else {
            continue;
        };
        hook.last_triggered_at = Some(now);
        jobs.push(Delivery {
            hook: id,
            generation: hook.generation,
            url: hook.url.clone(),
            event: event.to_owned(),
            secret: hook.secret.clone(),
            body: body.clone(),
        });
    }
    hooks.deliveries += jobs.len() as u64;
    let http = hooks.http();
    for job in jobs {
        tokio::spawn(deliver(shared.clone(), http.clone(), job));
    }
}

/// The `post_created` event for a new post, to every subscriber.
pub(crate) fn post_created(shared: &Arc<Shared>, data: &mut super::Data, post: &types::Post) {
    let mut fields = Map::new();
    fields.insert("post_id".into(), Value::from(post.id.to_string()));
    fields.insert("author".into(), Value::from(post.author.username.clone()));
    fields.insert("title".into(), Value::from(post.title.clone()));
    fields.insert(
        "colony".into(),
        post.colony_name
            .clone()
            .map(Value::from)
            .unwrap_or_default(),
    );
    fields.insert("post_type".into(), Value::from(post.post_type.to_string()));
    emit(shared, data, Audience::Everyone, "post_created", fields);
}

async fn deliver(shared: Arc<Shared>, http: Option<reqwest::Client>, job: Delivery) {
    let delivery_id = Uuid::new_v4().to_string();
    // Signed as it is sent, so the timestamp is the moment of sending.
    let t = Utc::now().timestamp();
    let (legacy, v1) = signatures(&job.body, &job.secret, t);
    let ok = match http {
        Some(http) => http
            .post(&job.url)
            .header("content-type", "application/json")
            .header("x-colony-event", &job.event)
            .header("x-colony-delivery", &delivery_id)
            .header("x-colony-timestamp", t.to_string())
            .header("x-colony-signature", legacy)
            .header("x-colony-signature-256", v1)
            .body(job.body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        None => false,
    };
    let mut data = shared.colony.lock();
    let Some(hook) = data.webhooks.hooks.get_mut(&job.hook) else {
        return;
    };
    if hook.generation != job.generation || !hook.is_active {
        return;
    }
    if ok {
        hook.failure_count = 0;
    } else {
        hook.failure_count += 1;
        if hook.failure_count >= MAX_FAILURES {
            hook.is_active = false;
        }
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route("/api/v1/webhooks/{webhook_id}", put(update).delete(remove))
}

fn unprocessable(message: impl Into<String>) -> ColonyError {
    ColonyError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        message,
    )
}

fn check_url(url: &str) -> ColonyResult<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        _ => Err(unprocessable("url must be an absolute http(s) URL")),
    }
}

fn check_events(events: &[types::WebhookEvent]) -> ColonyResult<Vec<String>> {
    if events.is_empty() {
        return Err(unprocessable("events must name at least one event"));
    }
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !EVENTS.contains(&e.as_str()) {
            return Err(unprocessable(format!("unknown event {:?}", e.as_str())));
        }
        if !out.iter().any(|x| x == e.as_str()) {
            out.push(e.to_string());
        }
    }
    Ok(out)
}

fn hook_id(raw: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found("webhook"))
}

async fn create(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::WebhookCreate>,
) -> ColonyResult<(StatusCode, Json<types::Webhook>)> {
    check_url(body.url.as_str())?;
    let events = check_events(&body.events)?;
    let hook = Hook {
        owner: caller.0,
        url: body.url.to_string(),
        secret: body.secret.to_string(),
        events,
        is_active: true,
        failure_count: 0,
        last_triggered_at: None,
        created_at: Utc::now(),
        generation: 0,
    };
    let id = Uuid::new_v4();
    let out = hook.out(id);
    let mut data = shared.colony.lock();
    data.webhooks.hooks.insert(id, hook);
    data.webhooks.order.push(id);
    Ok((StatusCode::CREATED, Json(out)))
}

async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<Vec<types::Webhook>>> {
    let data = shared.colony.lock();
    let hooks = &data.webhooks;
    Ok(Json(
        hooks
            .order
            .iter()
            .rev()
            .filter_map(|id| hooks.hooks.get(id).map(|h| (id, h)))
            .filter(|(_, h)| h.owner == caller.0)
            .map(|(id, h)| h.out(*id))
            .collect(),
    ))
}

async fn update(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastJson(body): FastJson<types::WebhookUpdate>,
) -> ColonyResult<Json<types::Webhook>> {
    let id = hook_id(&id)?;
    if let Some(url) = &body.url {
        check_url(url.as_str())?;
    }
    let events = body.events.as_deref().map(check_events).transpose()?;
    let mut data = shared.colony.lock();
    // Someone else's webhook is reported as missing, not as forbidden, so
    // ids cannot be probed.
    let hook = data
        .webhooks
        .hooks
        .get_mut(&id)
        .filter(|h| h.owner == caller.0)
        .ok_or_else(|| ColonyError::not_found("webhook"))?;
    if let Some(url) = body.url {
        hook.url = url.to_string();
    }
    if let Some(secret) = body.secret {
        hook.secret = secret.to_string();
    }
    if let Some(events) = events {
        hook.events = events;
    }
    match body.is_active {
        Some(true) => {
            hook.is_active = true;
            hook.failure_count = 0;
        }
        Some(false) => hook.is_active = false,
        None => {}
    }
    hook.generation += 1;
    Ok(Json(hook.out(id)))
}

async fn remove(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<StatusCode> {
    let id = hook_id(&id)?;
    let mut data = shared.colony.lock();
    let hooks = &mut data.webhooks;
    if hooks.hooks.get(&id).is_none_or(|h| h.owner != caller.0) {
        return Err(ColonyError::not_found("webhook"));
    }
    hooks.hooks.remove(&id);
    hooks.order.retain(|h| *h != id);
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_sha256() {
        // RFC 4231-style well-known vector.
        assert_eq!(
            sign(&[b"The quick brown fox jumps over the lazy dog"], "key"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn both_signatures_as_documented() {
        // Python: hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        // and hmac.new(b"key", b"{}", hashlib.sha256).hexdigest()
        let (legacy, v1) = signatures(b"{}", "key", 1_700_000_000);
        assert_eq!(
            legacy,
            "sha256=a777724d943eb48dc69bca8a4a6d57a04db3f9ec7e1de4e581e860265bdf3032"
        );
        assert_eq!(
            v1,
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }

    #[test]
    fn event_list_matches_the_contract_count() {
        let mut unique = EVENTS.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), EVENTS.len());
    }
}
