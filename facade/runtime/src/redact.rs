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

    /// Registers the string values of the fields named `fields` in a JSON
    /// `body`, at any depth (a freshly issued key in `{"api_key": "..."}`).
    /// When `body` is not valid JSON — cut short, or broken — it is searched
    /// for `"field": "value"` instead, so that even a body that cannot be
    /// parsed does not show the secret; a value cut short is registered as
    /// far as it goes.
    pub fn add_fields_of(&self, body: &[u8], fields: &[&str]) {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => self.add_json_fields(&value, fields),
            Err(_) => {
                let text = String::from_utf8_lossy(body);
                for field in fields {
                    for value in loose_string_fields(&text, field) {
                        self.add(value);
                    }
                }
            }
        }
    }

    fn add_json_fields(&self, value: &serde_json::Value, fields: &[&str]) {
        use serde_json::Value;
        // serde_json refuses documents nested more than 128 deep, which bounds
        // this recursion.
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(s) if fields.contains(&k.as_str()) => self.add(s),
                        _ => self.add_json_fields(v, fields),
                    }
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.add_json_fields(v, fields);
                }
            }
            _ => {}
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

/// The raw values of `"field": "value"` in text that is not valid JSON,
/// up to the closing quote or the end of the text.
fn loose_string_fields<'a>(text: &'a str, field: &str) -> Vec<&'a str> {
    let needle = format!("\"{field}\"");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let Some(after_colon) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let Some(value) = after_colon.trim_start().strip_prefix('"') else {
            continue;
        };
        let mut end = value.len();
        let mut escaped = false;
        for (i, c) in value.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        out.push(&value[..end]);
        rest = &value[end..];
    }
    out
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
    fn secret_fields_are_found_in_json_at_any_depth() {
        let r = Redactor::default();
        r.add_fields_of(
            br#"{"data":[{"api_key":"col_fake_nested_key_1"}],"api_key":"col_fake_top_key_2","n":1,"other":"visible-value"}"#,
            &["api_key"],
        );
        let out = r.redact("col_fake_nested_key_1 col_fake_top_key_2 visible-value");
        assert_eq!(out, format!("{MASK} {MASK} visible-value"));
    }

    #[test]
    fn secret_fields_are_found_in_broken_or_cut_json() {
        let r = Redactor::default();
        r.add_fields_of(
            br#"{"id": 12, "api_key" : "col_fake_broken_key_3", "username": }"#,
            &["api_key"],
        );
        r.add_fields_of(br#"{"x":1,"api_key":"col_fake_cut_key_4"#, &["api_key"]);
        r.add_fields_of(br#"{"api_key": 5, "api_key"#, &["api_key"]);
        let out = r.redact("col_fake_broken_key_3 col_fake_cut_key_4");
        assert_eq!(out, format!("{MASK} {MASK}"));
    }

    #[test]
    fn debug_shows_no_secret() {
        let r = Redactor::default();
        r.add("supersecretvalue");
        assert!(!format!("{r:?}").contains("supersecret"));
    }
}
