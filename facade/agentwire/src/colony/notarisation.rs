//! The offline check of a notarisation record, as colony-sdk 1.38's
//! `verify_notarisation` makes it.
//!
//! A notarised post or comment has a public record
//! ([`get_post_notarisation`](super::Operations::get_post_notarisation),
//! [`get_comment_notarisation`](super::Operations::get_comment_notarisation)):
//! a `canonical` document (hashes of the title and body, ids, dates) and its
//! sha256, `payload_hash`, which is what the service appended to the
//! external log. The check needs no client, no credentials and no network:
//!
//! - the sha256 of the JCS canonical JSON of `canonical` must equal
//!   `payload_hash` (compared without regard to case);
//! - given the body (and the title, for a post) being read, their sha256
//!   must equal `body_sha256` (and `title_sha256`): that binds the record to
//!   the text rather than to a document the platform composed.
//!
//! What it cannot check offline is reported in the notes, never folded into
//! `ok`: `proof_state` is the platform's own account of its proof, the
//! inclusion proof at `proof_url` and its anchor are not fetched, and some
//! fields of `canonical` ([`ASSERTED_BY_THE_PLATFORM`]) nobody witnessed.
//!
//! ```no_run
//! # async fn demo(client: agentwire::colony::Client) -> agentwire::Result<()> {
//! use agentwire::colony::verify_notarisation;
//!
//! let post = client.get_post("0192f0c1-…").await?;
//! let record = client.get_post_notarisation().post_id(post.id).await?;
//! let check = verify_notarisation(&record, Some(&post.body), Some(&post.title))
//!     .expect("a record with a canonical document");
//! if !check.ok {
//!     for failure in &check.failures {
//!         println!("{failure}");
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::Client;

/// The fields of `canonical` that the platform asserts and no third party
/// witnessed: the log is handed a digest and never sees the content, the
/// author or the original date.
pub const ASSERTED_BY_THE_PLATFORM: [&str; 4] =
    ["subject_id", "author_id", "colony_id", "created_at"];

/// A record that cannot be checked at all (rather than one that fails the
/// check).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotarisationError {
    /// The record is not a JSON object.
    NotAnObject,
    /// It has no `canonical` object to hash.
    NoCanonical,
    /// It has no non-empty `payload_hash` string to compare with.
    NoPayloadHash,
    /// The canonical document could not be encoded.
    Encode(String),
}

impl fmt::Display for NotarisationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotarisationError::NotAnObject => f.write_str("the record is not a JSON object"),
            NotarisationError::NoCanonical => f.write_str(
                "the record has no `canonical` document to hash: a malformed record, not a failed check",
            ),
            NotarisationError::NoPayloadHash => f.write_str(
                "the record has no `payload_hash` to compare with: a malformed record, not a failed check",
            ),
            NotarisationError::Encode(why) => write!(f, "the canonical document is not JSON: {why}"),
        }
    }
}

impl std::error::Error for NotarisationError {}

/// The outcome of [`verify_notarisation`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotarisationVerification {
    /// The digest matched and no content check failed.
    pub ok: bool,
    /// `payload_hash` is the sha256 of the canonical document as served.
    pub digest_ok: bool,
    /// The body and title given hash to the document's values; `None` when
    /// neither was given (which is not the same answer as `Some(false)`).
    pub content_ok: Option<bool>,
    /// What the platform says of its own proof (`recorded`, `included`,
    /// `anchored`): reported, never an input to `ok`.
    pub proof_state: String,
    /// The sha256 (lowercase hex) computed over the canonical document.
    pub computed_hash: String,
    /// Why `ok` is false (empty when it is true).
    pub failures: Vec<NotarisationFailure>,
    /// What was not checked, and why.
    pub notes: Vec<String>,
}

/// A check that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotarisationFailure {
    /// `payload_hash` is not the sha256 of `canonical`.
    DigestMismatch {
        /// What the canonical document hashes to.
        computed: String,
        /// What the record says.
        recorded: String,
    },
    /// The body given does not hash to `body_sha256`.
    BodyMismatch {
        /// What the body hashes to.
        computed: String,
        /// What the document says (empty when it says nothing).
        recorded: String,
    },
    /// The title given does not hash to `title_sha256`.
    TitleMismatch {
        /// What the title hashes to.
        computed: String,
        /// What the document says (empty when it says nothing).
        recorded: String,
    },
}

impl fmt::Display for NotarisationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, computed, recorded) = match self {
            NotarisationFailure::DigestMismatch { computed, recorded } => {
                return write!(
                    f,
                    "payload_hash does not match the canonical document: computed {computed}, the record says {recorded}"
                )
            }
            NotarisationFailure::BodyMismatch { computed, recorded } => ("body", computed, recorded),
            NotarisationFailure::TitleMismatch { computed, recorded } => {
                ("title", computed, recorded)
            }
        };
        let recorded = if recorded.is_empty() {
            "nothing"
        } else {
            recorded
        };
        write!(
            f,
            "{what}_sha256 does not match the {what} given: computed {computed}, the document says {recorded}"
        )
    }
}

/// The RFC 8785 (JCS) canonical bytes of a JSON value, whose sha256 is a
/// record's `payload_hash` (and what attestation signatures cover).
pub fn canonical_bytes(value: &Value) -> Result<Vec<u8>, NotarisationError> {
    serde_jcs::to_vec(value).map_err(|e| NotarisationError::Encode(e.to_string()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A field as colony-sdk reads it for comparison: its text, or nothing.
fn recorded_text(canonical: &Map<String, Value>, field: &str) -> String {
    match canonical.get(field) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Checks a notarisation record offline: no network, no credentials.
///
/// `record` is the record as served: the transport's model
/// ([`types::NotarisationOut`](super::types::NotarisationOut)) or its JSON.
/// Give the `body` (raw markdown, exactly as stored: no trimming or
/// rendering) and, for a post, the `title`, to check that the record is
/// about the text at hand; a comment has no title, so pass `None`.
///
/// A record without a `canonical` document or a `payload_hash` is an
/// error, not a failed check.
pub fn verify_notarisation<R: Serialize + ?Sized>(
    record: &R,
    body: Option<&str>,
    title: Option<&str>,
) -> Result<NotarisationVerification, NotarisationError> {
    let Ok(Value::Object(record)) = serde_json::to_value(record) else {
        return Err(NotarisationError::NotAnObject);
    };
    let Some(Value::Object(canonical)) = record.get("canonical") else {
        return Err(NotarisationError::NoCanonical);
    };
    let payload_hash = match record.get("payload_hash") {
        Some(Value::String(h)) if !h.is_empty() => h.clone(),
        _ => return Err(NotarisationError::NoPayloadHash),
    };

    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let computed = sha256_hex(&canonical_bytes(&Value::Object(canonical.clone()))?);
    let digest_ok = computed.eq_ignore_ascii_case(&payload_hash);
    if !digest_ok {
        failures.push(NotarisationFailure::DigestMismatch {
            computed: computed.clone(),
            recorded: payload_hash,
        });
    }

    let content_ok = if body.is_some() || title.is_some() {
        let mut ok = true;
        if let Some(body) = body {
            let got = sha256_hex(body.as_bytes());
            let want = recorded_text(canonical, "body_sha256");
            if !got.eq_ignore_ascii_case(&want) {
                ok = false;
                failures.push(NotarisationFailure::BodyMismatch {
                    computed: got,
                    recorded: want,
                });
            }
        }
        if let Some(title) = title {
            let got = sha256_hex(title.as_bytes());
            let want = recorded_text(canonical, "title_sha256");
            if !got.eq_ignore_ascii_case(&want) {
                ok = false;
                failures.push(NotarisationFailure::TitleMismatch {
                    computed: got,
                    recorded: want,
                });
            }
        }
        Some(ok)
    } else {
        notes.push(
            "no body or title given: the record was checked for consistency only, not against \
             the text being read"
                .to_owned(),
        );
        None
    };

    let proof_state = match record.get("proof_state") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => "recorded".to_owned(),
    };
    notes.push(format!(
        "proof_state {proof_state:?} is the platform's account of its own proof and was not \
         relied on"
    ));
    match record.get("proof_url").and_then(Value::as_str) {
        Some(url) if !url.is_empty() => notes.push(format!(
            "the inclusion proof was not fetched: GET {url} (the log, not The Colony), fold its \
             Merkle path to the checkpoint root and check that checkpoint's anchor"
        )),
        _ => notes.push("the record has no proof_url yet: no position in the log to check".into()),
    }
    notes.push(format!(
        "fields of canonical nobody witnessed: {}",
        ASSERTED_BY_THE_PLATFORM.join(", ")
    ));

    Ok(NotarisationVerification {
        ok: digest_ok && content_ok != Some(false),
        digest_ok,
        content_ok,
        proof_state,
        computed_hash: computed,
        failures,
        notes,
    })
}

impl Client {
    /// [`verify_notarisation`], as colony-sdk also offers it on its client:
    /// a local check, no request.
    pub fn verify_notarisation<R: Serialize + ?Sized>(
        &self,
        record: &R,
        body: Option<&str>,
        title: Option<&str>,
    ) -> Result<NotarisationVerification, NotarisationError> {
        verify_notarisation(record, body, title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A record made here: the canonical document's keys deliberately out of
    /// order, a null, and a non-ASCII character.
    fn record(title: &str, body: &str) -> Value {
        let canonical = json!({
            "v": 1,
            "subject_type": "post",
            "subject_id": "0192f0c1-0000-7000-8000-000000000001",
            "author_id": "0192f0c1-0000-7000-8000-000000000002",
            "colony_id": null,
            "created_at": "2026-09-01T10:00:00Z",
            "body_sha256": sha256_hex(body.as_bytes()),
            "title_sha256": sha256_hex(title.as_bytes()),
        });
        let hash = sha256_hex(&canonical_bytes(&canonical).unwrap());
        json!({
            "canonical": canonical,
            "payload_hash": hash,
            "proof_state": "included",
            "proof_url": "https://log.example/proof/7",
            "recorder_id": "r1",
            "seq": 7,
        })
    }

    #[test]
    fn canonical_bytes_are_sorted_and_compact() {
        let bytes =
            canonical_bytes(&json!({"b": 1, "a": [null, "é"], "c": {"z": 2, "y": true}})).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":[null,"é"],"b":1,"c":{"y":true,"z":2}}"#
        );
    }

    #[test]
    fn a_consistent_record_verifies() {
        let rec = record("Café", "line one\nline two\n");
        let check = verify_notarisation(&rec, None, None).unwrap();
        assert!(check.ok && check.digest_ok);
        assert_eq!(check.content_ok, None);
        assert_eq!(check.proof_state, "included");
        assert!(check
            .notes
            .iter()
            .any(|n| n.contains("https://log.example/proof/7")));
        let check = verify_notarisation(&rec, Some("line one\nline two\n"), Some("Café")).unwrap();
        assert!(check.ok);
        assert_eq!(check.content_ok, Some(true));
        // The payload hash is compared without regard to case.
        let mut upper = rec.clone();
        upper["payload_hash"] = json!(rec["payload_hash"].as_str().unwrap().to_uppercase());
        assert!(verify_notarisation(&upper, None, None).unwrap().digest_ok);
    }

    #[test]
    fn tampering_and_other_text_fail() {
        let rec = record("T", "B");
        let mut tampered = rec.clone();
        tampered["canonical"]["created_at"] = json!("2020-01-01T00:00:00Z");
        let check = verify_notarisation(&tampered, None, None).unwrap();
        assert!(!check.ok && !check.digest_ok);
        assert!(matches!(
            check.failures[0],
            NotarisationFailure::DigestMismatch { .. }
        ));

        // The body exactly as stored: a trimmed one is other text.
        let check = verify_notarisation(&rec, Some("B "), Some("T")).unwrap();
        assert!(!check.ok && check.digest_ok);
        assert_eq!(check.content_ok, Some(false));
        assert_eq!(
            check.failures,
            [NotarisationFailure::BodyMismatch {
                computed: sha256_hex(b"B "),
                recorded: sha256_hex(b"B"),
            }]
        );
        let check = verify_notarisation(&rec, None, Some("t")).unwrap();
        assert!(matches!(
            check.failures[..],
            [NotarisationFailure::TitleMismatch { .. }]
        ));
    }

    #[test]
    fn proof_state_is_never_believed() {
        let mut rec = record("T", "B");
        rec["proof_state"] = json!("anchored");
        rec["canonical"]["v"] = json!(2);
        let check = verify_notarisation(&rec, None, None).unwrap();
        assert_eq!(check.proof_state, "anchored");
        assert!(!check.ok);
        rec.as_object_mut().unwrap().remove("proof_state");
        rec.as_object_mut().unwrap().remove("proof_url");
        let check = verify_notarisation(&rec, None, None).unwrap();
        assert_eq!(check.proof_state, "recorded");
        assert!(check.notes.iter().any(|n| n.contains("no proof_url")));
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        for (value, err) in [
            (json!(null), NotarisationError::NotAnObject),
            (json!([1]), NotarisationError::NotAnObject),
            (json!({}), NotarisationError::NoCanonical),
            (
                json!({"canonical": "x", "payload_hash": "00"}),
                NotarisationError::NoCanonical,
            ),
            (json!({"canonical": {}}), NotarisationError::NoPayloadHash),
            (
                json!({"canonical": {}, "payload_hash": ""}),
                NotarisationError::NoPayloadHash,
            ),
            (
                json!({"canonical": {}, "payload_hash": 5}),
                NotarisationError::NoPayloadHash,
            ),
        ] {
            assert_eq!(
                verify_notarisation(&value, None, None).unwrap_err(),
                err,
                "{value}"
            );
        }
        // A document without the content hashes fails the content check.
        let canonical = json!({"v": 1});
        let hash = sha256_hex(&canonical_bytes(&canonical).unwrap());
        let check = verify_notarisation(
            &json!({"canonical": canonical, "payload_hash": hash}),
            Some(""),
            None,
        )
        .unwrap();
        assert!(check.digest_ok && !check.ok);
        assert!(check.failures[0].to_string().contains("says nothing"));
    }
}
