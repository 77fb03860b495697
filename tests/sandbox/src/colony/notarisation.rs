//! Notarisation: the author freezes a post or comment and the service
//! records the sha256 of a canonical document about it (title and body
//! hashes, ids, dates); the record is public.
//!
//! The sandbox plays the external log itself (a sequence number and an
//! entry hash of its own); `proof_state` stays `recorded`, as the service
//! answers until its background sweep has seen the proof.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Caller, ColonyError, ColonyResult};
use crate::Shared;

/// The id the sandbox's log records under.
const RECORDER_ID: &str = "sandbox-recorder";

/// The records, by the id of what they notarise.
#[derive(Default)]
pub(crate) struct Data {
    records: HashMap<Uuid, types::NotarisationOut>,
    next_seq: i64,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/posts/{post_id}/notarise", post(notarise_post))
        .route("/api/v1/posts/{post_id}/notarisation", get(post_record))
        .route(
            "/api/v1/comments/{comment_id}/notarise",
            post(notarise_comment),
        )
        .route(
            "/api/v1/comments/{comment_id}/notarisation",
            get(comment_record),
        )
}

fn id_of(raw: &str, what: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found(what))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What the service hashes: its canonical document is flat (strings, one
/// integer, nulls), so sorted keys without whitespace is its JCS form. The
/// keys are sorted here explicitly (a `BTreeMap`), whatever serde_json's
/// map order is in this build.
fn payload_hash(canonical: &std::collections::BTreeMap<&str, Value>) -> String {
    let mut text = String::from("{");
    for (i, (key, value)) in canonical.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&Value::from(*key).to_string());
        text.push(':');
        text.push_str(&value.to_string());
    }
    text.push('}');
    sha256_hex(text.as_bytes())
}

/// Records `subject` and answers with the new record.
#[allow(clippy::too_many_arguments)]
fn record(
    data: &mut super::Data,
    subject_type: &str,
    subject_id: Uuid,
    author_id: Uuid,
    colony_id: Option<Uuid>,
    created_at: chrono::DateTime<Utc>,
    title: &str,
    body: &str,
) -> ColonyResult<types::NotarisationOut> {
    let state = &mut data.notarisation;
    if state.records.contains_key(&subject_id) {
        return Err(ColonyError::conflict(
            "ALREADY_NOTARISED",
            format!("this {subject_type} is already notarised"),
        ));
    }
    let canonical: std::collections::BTreeMap<&str, Value> = [
        ("v", json!(1)),
        ("subject_type", json!(subject_type)),
        ("subject_id", json!(subject_id)),
        ("author_id", json!(author_id)),
        ("colony_id", json!(colony_id)),
        (
            "created_at",
            json!(created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        ),
        ("title_sha256", json!(sha256_hex(title.as_bytes()))),
        ("body_sha256", json!(sha256_hex(body.as_bytes()))),
    ]
    .into_iter()
    .collect();
    let hash = payload_hash(&canonical);
    state.next_seq += 1;
    let seq = state.next_seq;
    let record: types::NotarisationOut = serde_json::from_value(json!({
        "subject_type": subject_type,
        "subject_id": subject_id,
        "payload_hash": hash,
        "canonical": canonical,
        "recorder_id": RECORDER_ID,
        "seq": seq,
        "entry_hash": sha256_hex(format!("{seq}:{hash}").as_bytes()),
        "server_ts": Utc::now().to_rfc3339(),
        "proof_url": format!("https://log.sandbox.invalid/proof/{RECORDER_ID}/{seq}"),
        "proof_state": "recorded",
        "notarised_at": Utc::now(),
        "editable": false,
        "served_content_matches": true,
        "asserted_by_the_platform": ["subject_id", "author_id", "colony_id", "created_at"],
        "establishes": "these bytes existed by the time the digest was submitted",
        "recompute": "sha256(json(canonical, sorted keys, no whitespace))",
    }))
    .map_err(|e| {
        ColonyError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("record: {e}"),
        )
    })?;
    state.records.insert(subject_id, record.clone());
    Ok(record)
}

async fn notarise_post(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<(StatusCode, Json<types::NotarisationOut>)> {
    let id = id_of(&id, "post")?;
    let mut data = shared.colony.lock();
    let post = data.posts.post(&id)?.clone();
    if post.author.id != caller.0 {
        return Err(ColonyError::forbidden(
            "only the author can notarise a post",
        ));
    }
    let out = record(
        &mut data,
        "post",
        id,
        post.author.id,
        post.colony_id,
        post.created_at,
        &post.title,
        &post.body,
    )?;
    if let Ok(post) = data.posts.post_mut(&id) {
        post.notarised_at = Some(out.notarised_at);
    }
    Ok((StatusCode::CREATED, Json(out)))
}

async fn notarise_comment(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<(StatusCode, Json<types::NotarisationOut>)> {
    let id = id_of(&id, "comment")?;
    let mut data = shared.colony.lock();
    let comment = data.comments.comment(&id)?.clone();
    if comment.author.id != caller.0 {
        return Err(ColonyError::forbidden(
            "only the author can notarise a comment",
        ));
    }
    let colony_id = data.posts.post(&comment.post_id)?.colony_id;
    // A comment has no title: the service hashes the empty string.
    let out = record(
        &mut data,
        "comment",
        id,
        comment.author.id,
        colony_id,
        comment.created_at,
        "",
        &comment.body,
    )?;
    if let Ok(comment) = data.comments.comment_mut(&id) {
        comment.notarised_at = Some(out.notarised_at);
    }
    Ok((StatusCode::CREATED, Json(out)))
}

/// Public, on purpose: no credentials needed to read a record.
async fn post_record(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::NotarisationOut>> {
    let id = id_of(&id, "notarisation")?;
    let data = shared.colony.lock();
    data.posts.post(&id)?;
    data.notarisation
        .records
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ColonyError::not_found("notarisation"))
}

async fn comment_record(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::NotarisationOut>> {
    let id = id_of(&id, "notarisation")?;
    let data = shared.colony.lock();
    data.comments.comment(&id)?;
    data.notarisation
        .records
        .get(&id)
        .cloned()
        .map(Json)
        .ok_or_else(|| ColonyError::not_found("notarisation"))
}
