//! Message attachments and group avatars: `multipart/form-data` uploads
//! (field `file`) parsed for real, and the stored bytes served back.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State as AxumState};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Serialize;
use uuid::Uuid;

use super::groups;
use super::{Caller, ColonyError, ColonyResult};
use crate::Shared;

/// Largest file accepted.
const MAX_FILE: usize = 5 << 20;

/// Uploaded files and group avatars.
#[derive(Default)]
pub(crate) struct Data {
    pub(crate) files: HashMap<Uuid, Stored>,
    /// group → (bytes, content type)
    avatars: HashMap<Uuid, (Bytes, String)>,
}

/// One uploaded file.
pub(crate) struct Stored {
    pub(crate) id: Uuid,
    pub(crate) owner: Uuid,
    bytes: Bytes,
    mime: String,
    width: Option<i64>,
    height: Option<i64>,
    pub(crate) deleted: bool,
}

impl Stored {
    /// The attachment as listed on a message.
    pub(crate) fn describe(&self) -> types::Attachment {
        types::Attachment {
            extra: Default::default(),
            full_url: url(self.id, "full"),
            height: self.height,
            id: self.id,
            mime_type: self.mime.clone(),
            size_bytes: self.bytes.len() as i64,
            thumb_url: url(self.id, "thumb"),
            width: self.width,
        }
    }
}

fn url(id: Uuid, variant: &str) -> String {
    format!("/api/v1/messages/attachments/{id}/{variant}")
}

/// Answer of an upload (`AttachmentUploadOut`; the generated transport has no
/// such type because the upload is sent by hand).
#[derive(Debug, Serialize)]
struct UploadOut {
    attachment_id: Uuid,
    deduped: bool,
    full_url: String,
    height: Option<i64>,
    mime_type: String,
    size_bytes: i64,
    thumb_url: String,
    width: Option<i64>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/messages/attachments/upload", post(upload))
        .route(
            "/api/v1/messages/attachments/{attachment_id}",
            delete(remove),
        )
        .route(
            "/api/v1/messages/attachments/{attachment_id}/{variant}",
            get(download),
        )
        .route(
            "/api/v1/messages/groups/{conv_id}/avatar",
            get(avatar).post(upload_avatar),
        )
}

/// The `file` part of a form: (bytes, content type).
pub(crate) async fn file_part(
    form: Result<Multipart, MultipartRejection>,
) -> ColonyResult<(Bytes, String)> {
    let mut form =
        form.map_err(|e| ColonyError::bad_request("INVALID_MULTIPART", e.body_text()))?;
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| ColonyError::bad_request("INVALID_MULTIPART", e.body_text()))?;
        let Some(field) = field else {
            return Err(ColonyError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_ERROR",
                "the form has no file field",
            ));
        };
        if field.name() != Some("file") {
            continue;
        }
        let mime = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ColonyError::bad_request("INVALID_MULTIPART", e.body_text()))?;
        if bytes.is_empty() {
            return Err(ColonyError::bad_request("EMPTY_FILE", "the file is empty"));
        }
        if bytes.len() > MAX_FILE {
            return Err(ColonyError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "FILE_TOO_LARGE",
                format!("files are limited to {MAX_FILE} bytes"),
            ));
        }
        return Ok((bytes, mime));
    }
}

fn unsupported(mime: &str) -> ColonyError {
    ColonyError::bad_request(
        "UNSUPPORTED_FILE_TYPE",
        format!("{mime} is not accepted here"),
    )
}

/// Width and height of a PNG, read from its header.
fn png_size(bytes: &[u8]) -> Option<(i64, i64)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    Some((be(&bytes[16..20]), be(&bytes[20..24])))
}

async fn upload(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    form: Result<Multipart, MultipartRejection>,
) -> ColonyResult<(StatusCode, Json<UploadOut>)> {
    let (bytes, mime) = file_part(form).await?;
    if !(mime.starts_with("image/") || mime.starts_with("text/")) {
        return Err(unsupported(&mime));
    }
    let mut data = shared.colony.lock();
    let files = &mut data.attachments.files;
    // An identical earlier upload by the same user is reused.
    let existing = files
        .values()
        .find(|f| f.owner == caller.0 && !f.deleted && f.mime == mime && f.bytes == bytes)
        .map(|f| f.id);
    let (id, deduped) = match existing {
        Some(id) => (id, true),
        None => {
            let id = Uuid::new_v4();
            let size = png_size(&bytes);
            files.insert(
                id,
                Stored {
                    id,
                    owner: caller.0,
                    bytes,
                    mime,
                    width: size.map(|s| s.0),
                    height: size.map(|s| s.1),
                    deleted: false,
                },
            );
            (id, false)
        }
    };
    let d = files
        .get(&id)
        .ok_or_else(|| ColonyError::not_found("attachment"))?
        .describe();
    Ok((
        StatusCode::CREATED,
        Json(UploadOut {
            attachment_id: id,
            deduped,
            full_url: d.full_url,
            height: d.height,
            mime_type: d.mime_type,
            size_bytes: d.size_bytes,
            thumb_url: d.thumb_url,
            width: d.width,
        }),
    ))
}

fn attachment_id(raw: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found("attachment"))
}

async fn remove(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<StatusCode> {
    let id = attachment_id(&id)?;
    let mut data = shared.colony.lock();
    let file = data
        .attachments
        .files
        .get_mut(&id)
        .filter(|f| !f.deleted)
        .ok_or_else(|| ColonyError::not_found("attachment"))?;
    if file.owner != caller.0 {
        return Err(ColonyError::forbidden(
            "only the uploader may delete an attachment",
        ));
    }
    file.deleted = true;
    Ok(StatusCode::NO_CONTENT)
}

fn bytes_response(bytes: Bytes, mime: &str) -> Response {
    let mut response = (StatusCode::OK, bytes).into_response();
    let value = HeaderValue::from_str(mime)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(header::CONTENT_TYPE, value);
    response
}

async fn download(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((id, variant)): Path<(String, String)>,
) -> ColonyResult<Response> {
    let id = attachment_id(&id)?;
    // No resizing here: the thumbnail is the file itself.
    if variant != "full" && variant != "thumb" {
        return Err(ColonyError::not_found("variant"));
    }
    let data = shared.colony.lock();
    let file = data
        .attachments
        .files
        .get(&id)
        .filter(|f| !f.deleted)
        .ok_or_else(|| ColonyError::not_found("attachment"))?;
    let shared_with_caller = || {
        data.messages.messages.values().any(|m| {
            !m.deleted
                && m.attachments.contains(&id)
                && data
                    .messages
                    .conversations
                    .get(&m.conversation)
                    .is_some_and(|c| c.is_participant(caller.0))
        })
    };
    if file.owner != caller.0 && !shared_with_caller() {
        return Err(ColonyError::forbidden(
            "not a participant of a conversation holding this attachment",
        ));
    }
    Ok(bytes_response(file.bytes.clone(), &file.mime))
}

async fn upload_avatar(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ColonyResult<(StatusCode, Json<serde_json::Value>)> {
    let id = groups::conv_id(&id)?;
    {
        let data = shared.colony.lock();
        groups::admin_of(&data.messages, &id, caller.0)?;
    }
    let (bytes, mime) = file_part(form).await?;
    if !mime.starts_with("image/") {
        return Err(unsupported(&mime));
    }
    let mut data = shared.colony.lock();
    groups::admin_of(&data.messages, &id, caller.0)?;
    data.attachments.avatars.insert(id, (bytes, mime));
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({
            "avatar_url": format!("/api/v1/messages/groups/{id}/avatar"),
        })),
    ))
}

async fn avatar(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Response> {
    let id = groups::conv_id(&id)?;
    let data = shared.colony.lock();
    groups::member_of(&data.messages, &id, caller.0)?;
    let (bytes, mime) = data
        .attachments
        .avatars
        .get(&id)
        .ok_or_else(|| ColonyError::not_found("avatar"))?;
    Ok(bytes_response(bytes.clone(), mime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_header_gives_the_size() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((640, 480)));
        assert_eq!(png_size(b"GIF89a"), None);
    }
}
