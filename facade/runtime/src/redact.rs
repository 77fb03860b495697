//! Keeps secrets out of everything agentwire prints.
//!
//! Secrets are registered once (API keys, project keys) or as they are issued
//! (JWTs). Any text that leaves the runtime toward a human — error messages,
//! hook data, tracing fields — goes through [`Redactor::redact`].

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

/// What a secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// Shorter strings are not treated as secrets: masking every "a" would make
/// output unreadable and a 3-character key is not a key.
const MIN_SECRET_LEN: usize = 6;

/// A shared, growable set of secrets to mask.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.secrets.read().map(|s| s.len()).unwrap_or(0);
        f.debug_struct("Redactor").field("secrets", &n).finish()
    }
}

impl Redactor {
    /// Registers a secret. Its URL-encoded form is registered too, since keys
    /// that sit in a path are sent encoded.
    pub fn add(&self, secret: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let encoded = progenitor_client::encode_path(secret);
        let Ok(mut secrets) = self.secrets.write() else {
            return;
        };
        for s in [secret.to_owned(), encoded] {
            if !secrets.contains(&s) {
                secrets.push(s);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Forgets a secret that is no longer in use (a rotated key, an old token).
    pub fn remove(&self, secret: &str) {
        let encoded = progenitor_client::encode_path(secret);
        if let Ok(mut secrets) = self.secrets.write() {
            secrets.retain(|s| s != secret && *s != encoded);
        }
    }

    /// Returns `text` with every registered secret masked.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Ok(secrets) = self.secrets.read() else {
            // A poisoned lock means a panic elsewhere; masking everything is the
            // safe answer.
            return Cow::Borrowed(MASK);
        };
        let mut out = Cow::Borrowed(text);
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_encoded_forms() {
        let r = Redactor::default();
        r.add("pv_sk/with space");
        let text = "GET /agent/pv_sk%2Fwith%20space/x and pv_sk/with space";
        let out = r.redact(text);
        assert!(!out.contains("pv_sk"), "{out}");
        assert_eq!(out.matches(MASK).count(), 2);
    }

    #[test]
    fn short_strings_are_not_secrets_and_removal_works() {
        let r = Redactor::default();
        r.add("abc");
        assert_eq!(r.redact("abc"), "abc");
        r.add("token-123456");
        assert_eq!(r.redact("x token-123456"), format!("x {MASK}"));
        r.remove("token-123456");
        assert_eq!(r.redact("x token-123456"), "x token-123456");
    }

    #[test]
    fn debug_shows_no_secret() {
        let r = Redactor::default();
        r.add("supersecretvalue");
        assert!(!format!("{r:?}").contains("supersecret"));
    }
}
