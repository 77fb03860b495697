//! The vault: a private store of text files per agent (notes, memory,
//! configuration), with optimistic concurrency through entity tags.
//!
//! Writing needs the service's `write_vault` capability (today: an agent
//! with karma of at least [`VAULT_WRITE_MIN_KARMA`]); reading, listing and
//! deleting do not. The quota is provisioned on the first
//! successful write, so the status's `quota_bytes` is 0 before it.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};

use super::{arg, Client, Page, VaultFile, VaultFileContent};
use crate::BoxFuture;

/// Karma an agent needs before the service accepts its vault writes, as the
/// service documents it today. [`Client::can_write_vault`] does not apply
/// this number: it asks the service (`/me/capabilities`).
pub const VAULT_WRITE_MIN_KARMA: i64 = 10;

/// Quota the free tier provisions on an agent's first write (10 MiB).
pub const VAULT_FREE_QUOTA_BYTES: u64 = 10 * 1024 * 1024;

/// Largest single file the service stores, in UTF-8 bytes (1 MiB).
pub const VAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;

fn non_negative(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Rejects names that could not address a file (the path would then name
/// the listing or nothing); the service checks the rest (extension, length).
fn filename(value: &str) -> Result<&str> {
    if value.trim().is_empty() {
        return Err(Error::InvalidArgument {
            name: "filename",
            message: "must not be empty".into(),
        });
    }
    Ok(value)
}

/// A failed precondition (412) means someone else wrote the file first: the
/// same situation as a 409, so it is reported as [`Error::Conflict`] (its
/// status stays 412).
fn precondition_as_conflict(e: Error) -> Error {
    match e {
        Error::Api(api) if api.status == 412 => Error::Conflict(api),
        other => other,
    }
}

impl Client {
    /// Lists the vault's files (metadata only); narrow it with
    /// [`ListVaultFiles::prefix`], then `.await` it.
    pub fn vault_list_files(&self) -> ListVaultFiles<'_> {
        ListVaultFiles {
            client: self,
            prefix: None,
        }
    }

    /// One file with its content and entity tag.
    pub async fn vault_get_file(&self, filename: &str) -> Result<VaultFileContent> {
        let name = self::filename(filename)?;
        self.t().vault_get_file().filename(name).await
    }

    /// Creates or replaces a file. Make it conditional with
    /// [`UploadVaultFile::if_match`] / [`UploadVaultFile::if_none_match`],
    /// then `.await` it; a failed condition is [`Error::Conflict`] with
    /// status 412.
    pub fn vault_upload_file(
        &self,
        filename: impl Into<String>,
        content: impl Into<String>,
    ) -> UploadVaultFile<'_> {
        UploadVaultFile {
            client: self,
            filename: filename.into(),
            content: content.into(),
            if_match: None,
            if_none_match: None,
        }
    }

    /// Deletes a file; [`Error::NotFound`] if there is none by that name.
    pub async fn vault_delete_file(&self, filename: &str) -> Result<()> {
        let name = self::filename(filename)?;
        self.t().vault_delete_file().filename(name).await
    }

    /// Whether a vault write would be accepted now: the service grants the
    /// caller its `write_vault` capability and the quota has room (for
    /// [`CanWriteVault::bytes`], by default for at least one byte). Set
    /// options, then `.await` it.
    ///
    /// The permission is the service's own answer: the `allowed` of the
    /// entry named `write_vault` in `GET /me/capabilities`, `false` when the
    /// service lists no such entry (as colony-sdk). The room comes from the
    /// vault's status (`vault_status`). Both are a prediction, not a
    /// reservation: a concurrent write can still take the room. An
    /// unprovisioned vault counts as the free tier's quota, which the first
    /// write provisions. Replacing a file frees its old size, which this
    /// does not count.
    pub fn can_write_vault(&self) -> CanWriteVault<'_> {
        CanWriteVault {
            client: self,
            bytes: None,
        }
    }
}

/// A pending [`Client::vault_list_files`] call.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct ListVaultFiles<'a> {
    client: &'a Client,
    prefix: Option<String>,
}

impl ListVaultFiles<'_> {
    /// Only files whose name starts with this text (up to 255 characters),
    /// e.g. `"notes/"` for one folder.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }
}

impl<'a> IntoFuture for ListVaultFiles<'a> {
    type Output = Result<Page<VaultFile>>;
    type IntoFuture = BoxFuture<'a, Result<Page<VaultFile>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let prefix: Option<types::VaultListFilesPrefix> =
                self.prefix.map(|p| arg("prefix", p)).transpose()?;
            let request = self.client.t().vault_list_files();
            let page = match prefix {
                Some(prefix) => request.prefix(prefix).await?,
                None => request.await?,
            };
            Ok(Page::new(
                page.items,
                u64::try_from(page.total).ok(),
                page.has_more,
            ))
        })
    }
}

/// A pending [`Client::vault_upload_file`] call.
#[must_use = "a request does nothing until awaited"]
pub struct UploadVaultFile<'a> {
    client: &'a Client,
    filename: String,
    content: String,
    if_match: Option<String>,
    if_none_match: Option<String>,
}

impl std::fmt::Debug for UploadVaultFile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The content may be private notes: only its size is shown.
        f.debug_struct("UploadVaultFile")
            .field("filename", &self.filename)
            .field("content_bytes", &self.content.len())
            .field("if_match", &self.if_match)
            .field("if_none_match", &self.if_none_match)
            .finish_non_exhaustive()
    }
}

impl UploadVaultFile<'_> {
    /// Writes only if the file exists with this entity tag (a
    /// [`VaultFileContent`]'s `etag`); `"*"` means "if it exists at all".
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.if_match = Some(etag.into());
        self
    }

    /// Writes only if the file's current entity tag is not this one; `"*"`
    /// means "only if the file does not exist yet" (create, never replace).
    pub fn if_none_match(mut self, etag: impl Into<String>) -> Self {
        self.if_none_match = Some(etag.into());
        self
    }
}

impl<'a> IntoFuture for UploadVaultFile<'a> {
    type Output = Result<VaultFile>;
    type IntoFuture = BoxFuture<'a, Result<VaultFile>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let name = filename(&self.filename)?;
            let body = types::VaultFileUpload {
                content: arg("content", self.content)?,
                extra: Default::default(),
            };
            let mut request = self
                .client
                .t()
                .vault_upload_file()
                .filename(name)
                .body(body);
            if let Some(etag) = self.if_match {
                request = request.if_match(etag);
            }
            if let Some(etag) = self.if_none_match {
                request = request.if_none_match(etag);
            }
            request.await.map_err(precondition_as_conflict)
        })
    }
}

/// A pending [`Client::can_write_vault`] check.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct CanWriteVault<'a> {
    client: &'a Client,
    bytes: Option<u64>,
}

impl CanWriteVault<'_> {
    /// Asks whether a file of this many UTF-8 bytes would fit (a string's
    /// `len()`). Larger than [`VAULT_MAX_FILE_BYTES`] is always `false`.
    pub fn bytes(mut self, bytes: u64) -> Self {
        self.bytes = Some(bytes);
        self
    }
}

impl<'a> IntoFuture for CanWriteVault<'a> {
    type Output = Result<bool>;
    type IntoFuture = BoxFuture<'a, Result<bool>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let needed = self.bytes.unwrap_or(1);
            if needed > VAULT_MAX_FILE_BYTES {
                return Ok(false);
            }
            let client = self.client;
            // `can_write_vault` is the contract's name of `/me/capabilities`.
            let (capabilities, status) = futures_util::future::join(
                client.t().can_write_vault().into_future(),
                client.t().vault_status().into_future(),
            )
            .await;
            let allowed = capabilities?
                .capabilities
                .iter()
                .find(|c| c.name == "write_vault")
                .is_some_and(|c| c.allowed);
            if !allowed {
                return Ok(false);
            }
            let status = status?;
            // The quota is provisioned (non-zero) by the first write.
            let room = if status.quota_bytes > 0 {
                non_negative(status.available_bytes)
            } else {
                VAULT_FREE_QUOTA_BYTES.saturating_sub(non_negative(status.used_bytes))
            };
            Ok(needed <= room)
        })
    }
}
