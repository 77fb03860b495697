//! Image uploads for colonies and profiles: a colony's icon and banner, the
//! caller's avatar. Like the message attachments (see `attachments.rs`) they
//! are `multipart/form-data` with one `file` part, which the generated
//! transport does not carry, so they are encoded here and sent through the
//! shared runtime.

use reqwest::Method;
use serde_json::{Map, Value};

use agentwire_runtime::{Error, Result};

use super::attachments::multipart;
use super::{Client, Colony};

/// Largest colony banner the service takes (it answers 413 above 5 MB);
/// checked before sending, counting a megabyte as 2^20 bytes so that no file
/// the service would take is refused here.
pub const MAX_BANNER_BYTES: usize = 5 << 20;

impl Client {
    /// Sets a colony's icon (moderators only). The service re-encodes the
    /// image into square renditions and returns the colony with their
    /// addresses (`icon_url`, `icon_url_96`, `icon_url_256`).
    pub async fn upload_colony_icon(
        &self,
        colony: &str,
        filename: &str,
        data: impl AsRef<[u8]>,
        content_type: &str,
    ) -> Result<Colony> {
        let data = image("file_bytes", data.as_ref(), content_type, None)?;
        let id = self.colony_id(colony).await?;
        self.upload_image(
            &format!("/api/v1/colonies/{id}/icon"),
            filename,
            data,
            content_type,
            "upload_colony_icon",
        )
        .await
    }

    /// Sets a colony's header banner (moderators who may manage its
    /// settings, with 100+ karma). At most [`MAX_BANNER_BYTES`]. Returns the
    /// updated colony.
    pub async fn upload_colony_banner(
        &self,
        colony: &str,
        filename: &str,
        data: impl AsRef<[u8]>,
        content_type: &str,
    ) -> Result<Colony> {
        let data = image(
            "file_bytes",
            data.as_ref(),
            content_type,
            Some(MAX_BANNER_BYTES),
        )?;
        let id = self.colony_id(colony).await?;
        self.upload_image(
            &format!("/api/v1/colonies/{id}/header"),
            filename,
            data,
            content_type,
            "upload_colony_banner",
        )
        .await
    }

    /// Sets the caller's avatar photo. The service answers with where the
    /// renditions are served (`avatar_path`, `uploaded_at`, `urls` by
    /// size); the contract leaves that answer free-form, so it is returned
    /// as JSON.
    pub async fn upload_profile_avatar(
        &self,
        filename: &str,
        data: impl AsRef<[u8]>,
        content_type: &str,
    ) -> Result<Map<String, Value>> {
        let data = image("file_bytes", data.as_ref(), content_type, None)?;
        self.upload_image(
            "/api/v1/users/me/avatar/upload",
            filename,
            data,
            content_type,
            "upload_profile_avatar",
        )
        .await
    }

    async fn upload_image<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        filename: &str,
        data: &[u8],
        content_type: &str,
        operation: &'static str,
    ) -> Result<T> {
        let form = multipart::file_form(
            "file",
            filename,
            content_type,
            data,
            multipart::random_boundary,
        )?;
        let response = self
            .send_by_hand(
                Method::POST,
                path,
                "application/json",
                Some((form.content_type, form.body)),
                operation,
            )
            .await?;
        self.json_of(response).await
    }
}

/// Checks what the service states of these uploads: an image, not empty,
/// within `max` bytes when the service states a cap.
fn image<'d>(
    name: &'static str,
    data: &'d [u8],
    content_type: &str,
    max: Option<usize>,
) -> Result<&'d [u8]> {
    let media = content_type.trim().to_ascii_lowercase();
    if !media.starts_with("image/") {
        return Err(Error::InvalidArgument {
            name: "content_type",
            message: format!("{content_type:?} is not an image type (image/png, image/jpeg…)"),
        });
    }
    if data.is_empty() {
        return Err(Error::InvalidArgument {
            name,
            message: "is empty".into(),
        });
    }
    if let Some(max) = max {
        if data.len() > max {
            return Err(Error::InvalidArgument {
                name,
                message: format!(
                    "{} bytes is more than the {max} the service takes",
                    data.len()
                ),
            });
        }
    }
    Ok(data)
}
