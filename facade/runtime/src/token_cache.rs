//! Exchanged tokens kept on disk, so that a new process with the same key
//! and service does not exchange the key again.
//!
//! One small JSON file per (token URL, API key) pair, named by a digest of the
//! two: the key itself is never written. Files are created with mode 0600 on
//! unix (in a directory created 0700), replaced atomically (a temporary file
//! in the same directory, then a rename), and read defensively: a file that is
//! missing, unreadable, corrupt, of another schema or about to expire is a
//! miss, never an error, so the cache can only save exchanges, not cause
//! failures.
//!
//! Whether a client uses the cache is decided by its builder and by the
//! environment; see [`TokenCache::resolve`].

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Turns the cache off whatever the code asks for (`1`, `true` or `yes`).
pub const ENV_NO_CACHE: &str = "AGENTWIRE_NO_TOKEN_CACHE";
/// Turns the cache on, in this directory, for clients that did not choose.
pub const ENV_CACHE_DIR: &str = "AGENTWIRE_TOKEN_CACHE_DIR";
/// colony-sdk's switch, honoured the same way as [`ENV_NO_CACHE`] so that an
/// operator who disabled token caching for The Colony gets no token on disk
/// from agentwire either.
pub const ENV_COLONY_SDK_NO_CACHE: &str = "COLONY_SDK_NO_TOKEN_CACHE";
/// colony-sdk's directory override, used when the cache is on and neither the
/// code nor [`ENV_CACHE_DIR`] names a directory.
pub const ENV_COLONY_SDK_CACHE_DIR: &str = "COLONY_SDK_TOKEN_CACHE_DIR";

/// Version of the file layout; files of another version are ignored.
const SCHEMA_VERSION: u32 = 1;
/// Prefix of every cache file, so they are recognizable in a shared directory.
const FILE_PREFIX: &str = "agentwire-token-";

/// What a builder asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheChoice {
    /// On, in the default directory ([`TokenCache::default_dir`]).
    #[default]
    Default,
    /// On, in this directory.
    Dir(PathBuf),
    /// Off, even if [`ENV_CACHE_DIR`] is set.
    Off,
}

/// A directory of cached tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCache {
    dir: PathBuf,
}

/// A token read back from disk.
#[derive(Clone)]
pub(crate) struct CachedToken {
    pub(crate) token: String,
    /// Seconds since the Unix epoch at which the token expires.
    pub(crate) expiry: f64,
}

#[derive(Serialize, Deserialize)]
struct File {
    v: u32,
    token: String,
    expiry: f64,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl TokenCache {
    /// A cache in `dir` (created on the first write).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        TokenCache { dir: dir.into() }
    }

    /// The directory used when none is given: [`ENV_CACHE_DIR`], else
    /// [`ENV_COLONY_SDK_CACHE_DIR`], else `agentwire` under the platform's
    /// cache directory (`$XDG_CACHE_HOME` or `~/.cache` on Linux,
    /// `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows). `None` when
    /// the platform has none.
    pub fn default_dir() -> Option<PathBuf> {
        env_dir(ENV_CACHE_DIR)
            .or_else(|| env_dir(ENV_COLONY_SDK_CACHE_DIR))
            .or_else(|| dirs::cache_dir().map(|d| d.join("agentwire")))
    }

    /// Whether the environment turns the cache off ([`ENV_NO_CACHE`] or
    /// [`ENV_COLONY_SDK_NO_CACHE`] set to `1`, `true` or `yes`).
    pub fn disabled_by_env() -> bool {
        env_flag(ENV_NO_CACHE) || env_flag(ENV_COLONY_SDK_NO_CACHE)
    }

    /// The cache a client uses, if any, given its builder's choice:
    ///
    /// 1. the environment's off switch wins over everything;
    /// 2. then the builder: [`CacheChoice::Off`] is off, [`CacheChoice::Dir`]
    ///    and [`CacheChoice::Default`] (a builder that did not choose) are on.
    pub fn resolve(choice: &CacheChoice) -> Option<TokenCache> {
        if Self::disabled_by_env() {
            return None;
        }
        match choice {
            CacheChoice::Off => None,
            CacheChoice::Dir(dir) => Some(TokenCache::in_dir(dir.clone())),
            CacheChoice::Default => Self::default_dir().map(TokenCache::in_dir),
        }
    }

    /// The directory of this cache.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding the token of `api_key` at `token_url`: a digest of
    /// both, so neither appears in the name and the same key used against
    /// two deployments gets two files.
    pub fn path_for(&self, token_url: &str, api_key: &str) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(token_url.as_bytes());
        hasher.update(b"|");
        hasher.update(api_key.as_bytes());
        let digest = hasher.finalize();
        self.dir
            .join(format!("{FILE_PREFIX}{}.json", hex::encode(&digest[..16])))
    }

    /// The cached token, if there is a readable one that stays valid for at
    /// least `margin` more.
    pub(crate) fn load(
        &self,
        token_url: &str,
        api_key: &str,
        margin: Duration,
    ) -> Option<CachedToken> {
        let bytes = std::fs::read(self.path_for(token_url, api_key)).ok()?;
        // Bigger than any token file we write: not ours.
        if bytes.len() > 64 * 1024 {
            return None;
        }
        let file: File = serde_json::from_slice(&bytes).ok()?;
        let usable = file.v == SCHEMA_VERSION
            && !file.token.is_empty()
            && file.expiry.is_finite()
            && file.expiry > unix_now() + margin.as_secs_f64();
        usable.then_some(CachedToken {
            token: file.token,
            expiry: file.expiry,
        })
    }

    /// Writes the token, replacing any previous file atomically. Failures
    /// are logged (without the token) and otherwise ignored.
    pub(crate) fn store(&self, token_url: &str, api_key: &str, token: &str, expiry: f64) {
        let path = self.path_for(token_url, api_key);
        if let Err(e) = self.write(&path, token, expiry) {
            tracing::debug!(error = %e, "token cache: not written");
        }
    }

    fn write(&self, path: &Path, token: &str, expiry: f64) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let body = serde_json::to_vec(&File {
            v: SCHEMA_VERSION,
            token: token.to_owned(),
            expiry,
        })
        .map_err(std::io::Error::other)?;
        // tempfile creates the file with mode 0600 on unix, in the target
        // directory so that the rename cannot cross file systems.
        let mut tmp = tempfile::Builder::new()
            .prefix(".agentwire-token-")
            .suffix(".tmp")
            .tempfile_in(&self.dir)?;
        tmp.write_all(&body)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Deletes the file of this key, if any.
    pub(crate) fn remove(&self, token_url: &str, api_key: &str) {
        let _ = std::fs::remove_file(self.path_for(token_url, api_key));
    }

    /// Deletes the file of this key if it holds `token` (a token the service
    /// refused); a newer token written by another process is left alone.
    pub(crate) fn remove_if_holds(&self, token_url: &str, api_key: &str, token: &str) {
        let path = self.path_for(token_url, api_key);
        let Ok(bytes) = std::fs::read(&path) else {
            return;
        };
        // A file that does not parse cannot be right either: removed too.
        let stale = serde_json::from_slice::<File>(&bytes).map_or(true, |f| f.token == token);
        if stale {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:1/api/v1/auth/token";

    #[test]
    fn round_trip_and_margin() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_dir(dir.path().join("nested"));
        assert!(cache.load(URL, "col_key_one", Duration::ZERO).is_none());
        cache.store(URL, "col_key_one", "tok-abcdef", unix_now() + 3600.0);
        let hit = cache
            .load(URL, "col_key_one", Duration::from_secs(60))
            .unwrap();
        assert_eq!(hit.token, "tok-abcdef");
        // Within the margin of its expiry: a miss.
        assert!(cache
            .load(URL, "col_key_one", Duration::from_secs(7200))
            .is_none());
        // Another key, another deployment: other files.
        assert!(cache.load(URL, "col_key_two", Duration::ZERO).is_none());
        assert!(cache
            .load("http://other/auth/token", "col_key_one", Duration::ZERO)
            .is_none());
        let path = cache.path_for(URL, "col_key_one");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains("col_key_one"), "{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("col_key_one"), "{text}");
    }

    #[test]
    fn corrupt_and_foreign_files_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_dir(dir.path());
        let path = cache.path_for(URL, "col_key_one");
        for junk in [
            &b"not json"[..],
            b"{}",
            b"[1,2]",
            br#"{"v":2,"token":"t","expiry":1e30}"#,
            br#"{"v":1,"token":"","expiry":1e30}"#,
            br#"{"v":1,"token":"t","expiry":"soon"}"#,
            b"\xff\xfe",
        ] {
            std::fs::write(&path, junk).unwrap();
            assert!(cache.load(URL, "col_key_one", Duration::ZERO).is_none());
        }
        cache.remove_if_holds(URL, "col_key_one", "whatever");
        assert!(!path.exists(), "an unreadable file is cleaned up");
    }

    #[test]
    fn choices_resolve() {
        if TokenCache::disabled_by_env() {
            // The operator's off switch wins over every choice.
            for choice in [
                CacheChoice::Default,
                CacheChoice::Off,
                CacheChoice::Dir("/x".into()),
            ] {
                assert_eq!(TokenCache::resolve(&choice), None);
            }
            return;
        }
        assert_eq!(TokenCache::resolve(&CacheChoice::Off), None);
        assert_eq!(
            TokenCache::resolve(&CacheChoice::Dir("/x".into())),
            Some(TokenCache::in_dir("/x"))
        );
        assert_eq!(
            TokenCache::resolve(&CacheChoice::Default),
            TokenCache::default_dir().map(TokenCache::in_dir)
        );
    }
}
