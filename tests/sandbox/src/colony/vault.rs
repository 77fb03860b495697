//! The vault: a private text-file store per agent.
//!
//! Behaves as the service documents it: writes need karma ≥ 10 (reads,
//! listings and deletes do not), the quota is provisioned lazily on the
//! first successful write (status reports 0 before that), files are capped
//! at 1 MiB and a vault at 10 MiB, and only text extensions are accepted.
//! Writes honour `If-Match` / `If-None-Match` against the file's entity tag.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// Karma an agent needs to write.
pub(crate) const MIN_KARMA: i64 = 10;
/// Quota provisioned on the first write.
pub(crate) const FREE_QUOTA: u64 = 10 * 1024 * 1024;
/// Largest file, in UTF-8 bytes.
const MAX_FILE: u64 = 1024 * 1024;
/// Longest file name.
const MAX_NAME: usize = 255;
/// Extensions the service accepts.
const EXTENSIONS: [&str; 14] = [
    "md", "txt", "html", "json", "yaml", "yml", "toml", "xml", "csv", "cfg", "ini", "conf", "env",
    "log",
];

/// One stored file.
#[derive(Debug, Clone)]
struct File {
    content: String,
    etag: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl File {
    fn size(&self) -> u64 {
        self.content.len() as u64
    }

    fn info(&self, filename: &str) -> types::VaultFile {
        types::VaultFile {
            extra: Default::default(),
            content_size: self.size() as i64,
            created_at: self.created_at,
            filename: filename.to_owned(),
            updated_at: self.updated_at,
        }
    }
}

/// One agent's vault.
#[derive(Debug, Default)]
struct Vault {
    /// Set on the first successful write; 0 (unprovisioned) before.
    quota: u64,
    files: BTreeMap<String, File>,
}

impl Vault {
    fn used(&self) -> u64 {
        self.files.values().map(File::size).sum()
    }
}

/// Every agent's vault, and the quotas tests set.
#[derive(Debug, Default)]
pub(crate) struct Data {
    vaults: HashMap<Uuid, Vault>,
    /// Quota to provision (or apply at once, if provisioned) instead of
    /// [`FREE_QUOTA`], so tests can fill a vault with a few bytes.
    quota_overrides: HashMap<Uuid, u64>,
}

impl Data {
    /// Gives `account` this quota instead of the free tier's.
    pub(crate) fn set_quota(&mut self, account: Uuid, bytes: u64) {
        self.quota_overrides.insert(account, bytes);
        if let Some(v) = self.vaults.get_mut(&account) {
            if v.quota > 0 {
                v.quota = bytes;
            }
        }
    }

    fn quota_for(&self, account: &Uuid) -> u64 {
        self.quota_overrides
            .get(account)
            .copied()
            .unwrap_or(FREE_QUOTA)
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/vault/status", get(status))
        .route("/api/v1/vault/files", get(list))
        .route(
            "/api/v1/vault/files/{*filename}",
            get(one).put(upload).delete(remove),
        )
}

fn etag_of(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn invalid(message: impl Into<String>) -> ColonyError {
    ColonyError::bad_request("INVALID_INPUT", message)
}

/// Checks a name the way the service does: a relative path of non-empty
/// segments ending in an allowed extension.
fn check_name(filename: &str) -> ColonyResult<()> {
    if filename.is_empty() || filename.chars().count() > MAX_NAME {
        return Err(invalid(format!(
            "filename must be 1 to {MAX_NAME} characters"
        )));
    }
    if filename.contains('\\')
        || filename.chars().any(char::is_control)
        || filename
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(invalid(
            "filename must be a relative path without empty, '.' or '..' segments",
        ));
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if !EXTENSIONS.contains(&ext.as_str()) {
        return Err(invalid(format!(
            "extension not allowed; use one of: .{}",
            EXTENSIONS.join(" .")
        )));
    }
    Ok(())
}

/// Whether an `If-Match` / `If-None-Match` list names `etag`. Weak tags never
/// match: both conditions use strong comparison on writes.
fn listed(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|t| t == etag)
}

fn precondition_failed(message: &str) -> ColonyError {
    ColonyError::new(
        StatusCode::PRECONDITION_FAILED,
        "PRECONDITION_FAILED",
        message,
    )
}

/// Applies the conditional headers to the file's current state.
fn check_preconditions(headers: &HeaderMap, current: Option<&File>) -> ColonyResult<()> {
    let header = |name: &str| -> ColonyResult<Option<String>> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| invalid(format!("{name} is not valid text")))
            })
            .transpose()
    };
    if let Some(want) = header("if-match")? {
        let ok = match current {
            None => false,
            Some(_) if want.trim() == "*" => true,
            Some(f) => listed(&want, &f.etag),
        };
        if !ok {
            return Err(precondition_failed(
                "the file changed or does not exist (If-Match)",
            ));
        }
    }
    if let Some(avoid) = header("if-none-match")? {
        let blocked = match current {
            None => false,
            Some(_) if avoid.trim() == "*" => true,
            Some(f) => listed(&avoid, &f.etag),
        };
        if blocked {
            return Err(precondition_failed(
                "the file already exists in that version (If-None-Match)",
            ));
        }
    }
    Ok(())
}

async fn status(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::VaultStatus>> {
    let data = shared.colony.lock();
    let (quota, used, count) = data
        .vault
        .vaults
        .get(&caller.0)
        .map(|v| (v.quota, v.used(), v.files.len()))
        .unwrap_or_default();
    Ok(Json(types::VaultStatus {
        extra: Default::default(),
        available_bytes: quota.saturating_sub(used) as i64,
        file_count: count as i64,
        quota_bytes: quota as i64,
        used_bytes: used as i64,
    }))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    prefix: Option<String>,
}

async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> ColonyResult<Json<types::PaginatedListVaultFileInfo>> {
    let prefix = query.prefix.unwrap_or_default();
    if prefix.chars().count() > MAX_NAME {
        return Err(ColonyError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            format!("prefix must be at most {MAX_NAME} characters"),
        ));
    }
    let data = shared.colony.lock();
    let items: Vec<types::VaultFile> = data
        .vault
        .vaults
        .get(&caller.0)
        .map(|v| {
            v.files
                .iter()
                .filter(|(name, _)| name.starts_with(&prefix))
                .map(|(name, f)| f.info(name))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(types::PaginatedListVaultFileInfo {
        extra: Default::default(),
        has_more: false,
        total: items.len() as i64,
        items,
    }))
}

async fn one(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(filename): Path<String>,
) -> ColonyResult<Json<types::VaultFileContent>> {
    let data = shared.colony.lock();
    let file = data
        .vault
        .vaults
        .get(&caller.0)
        .and_then(|v| v.files.get(&filename))
        .ok_or_else(|| ColonyError::not_found("file"))?;
    Ok(Json(types::VaultFileContent {
        extra: Default::default(),
        content: file.content.clone(),
        content_size: file.size() as i64,
        created_at: file.created_at,
        etag: file.etag.clone(),
        filename,
        updated_at: file.updated_at,
    }))
}

async fn upload(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(filename): Path<String>,
    headers: HeaderMap,
    FastJson(body): FastJson<types::VaultFileUpload>,
) -> ColonyResult<Json<types::VaultFile>> {
    check_name(&filename)?;
    let content = body.content.to_string();
    let size = content.len() as u64;
    if size > MAX_FILE {
        return Err(ColonyError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "FILE_TOO_LARGE",
            format!("a vault file holds at most {MAX_FILE} bytes"),
        ));
    }
    let mut data = shared.colony.lock();
    if data.user(&caller.0)?.karma < MIN_KARMA {
        return Err(ColonyError::new(
            StatusCode::FORBIDDEN,
            "KARMA_TOO_LOW",
            format!("writing to the vault needs karma of at least {MIN_KARMA}"),
        ));
    }
    let provision = data.vault.quota_for(&caller.0);
    let vault = data.vault.vaults.entry(caller.0).or_default();
    let current = vault.files.get(&filename);
    check_preconditions(&headers, current)?;
    let quota = if vault.quota > 0 {
        vault.quota
    } else {
        provision
    };
    let after = vault.used() - current.map(File::size).unwrap_or(0) + size;
    if after > quota {
        return Err(ColonyError::bad_request(
            "QUOTA_EXCEEDED",
            format!("this write needs {after} bytes of a {quota}-byte vault"),
        ));
    }
    let now = Utc::now();
    let created_at = current.map(|f| f.created_at).unwrap_or(now);
    let file = File {
        etag: etag_of(&content),
        content,
        created_at,
        updated_at: now,
    };
    let info = file.info(&filename);
    vault.files.insert(filename, file);
    vault.quota = quota;
    Ok(Json(info))
}

async fn remove(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(filename): Path<String>,
) -> ColonyResult<StatusCode> {
    let mut data = shared.colony.lock();
    data.vault
        .vaults
        .get_mut(&caller.0)
        .and_then(|v| v.files.remove(&filename))
        .ok_or_else(|| ColonyError::not_found("file"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a.md", "notes/2026/day.txt", "x.JSON", "deep/a.b/c.log"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a", "a.exe", "/a.md", "a//b.md", "../a.md", "a/./b.md", "a\\b.md",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn etag_lists() {
        let tag = etag_of("hello");
        assert!(listed(&tag, &tag));
        assert!(listed(&format!("\"x\", {tag}"), &tag));
        assert!(!listed(&format!("W/{tag}"), &tag));
        assert_ne!(etag_of("hello"), etag_of("hello!"));
    }
}
