//! What a service changed after its published document was captured.
//!
//! `openapi/<service>.overlay.json` records each change as an RFC 6902 JSON
//! patch with the source that established it (a client release's changelog
//! entry, an endpoint a released client calls). The pipeline applies the
//! overlay to the upstream document before the filter, so the effect of every
//! entry is visible in the committed contract, and an entry that no longer
//! applies (or no longer changes anything, because a new capture already has
//! it) is reported instead of being silently kept.

use serde::Deserialize;
use serde_json::Value;

/// Contents of `openapi/<service>.overlay.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// The changes, applied in order.
    pub changes: Vec<Change>,
}

/// One change the service made after the capture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Where the change is established (release, changelog entry, date).
    pub source: String,
    /// What changed, in our words.
    pub change: String,
    /// The change as RFC 6902 operations on the upstream document.
    pub patch: json_patch::Patch,
}

impl Overlay {
    /// Parses an overlay file's text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid overlay: {e}"))
    }
}

/// How [`apply`] fared with one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The change applied and altered the document.
    Applied,
    /// The change applied but left the document as it was: the document
    /// already has it, and the entry can go.
    AlreadyPresent,
    /// The change does not apply to this document (a path it patches is
    /// missing); the document is left as it was for this entry.
    Failed(String),
}

/// Applies every change in order, each on its own: one that fails leaves the
/// document as it was and the next one still runs. Returns each change's
/// outcome, in order.
pub fn apply(doc: &mut Value, overlay: &Overlay) -> Vec<Outcome> {
    overlay
        .changes
        .iter()
        .map(|change| {
            let before = doc.clone();
            match json_patch::patch(doc, &change.patch) {
                Ok(()) if *doc == before => Outcome::AlreadyPresent,
                Ok(()) => Outcome::Applied,
                Err(e) => {
                    *doc = before;
                    Outcome::Failed(e.to_string())
                }
            }
        })
        .collect()
}

/// Applies the overlay and fails unless every change applied and altered the
/// document: what regeneration requires, so the overlay never holds an entry
/// that does nothing.
pub fn apply_strict(doc: &mut Value, overlay: &Overlay) -> Result<(), String> {
    let mut problems = Vec::new();
    for (change, outcome) in overlay.changes.iter().zip(apply(doc, overlay)) {
        match outcome {
            Outcome::Applied => {}
            Outcome::AlreadyPresent => problems.push(format!(
                "`{}` changes nothing: the upstream already has it; remove the entry",
                change.change
            )),
            Outcome::Failed(e) => problems.push(format!("`{}` does not apply: {e}", change.change)),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("overlay: {}", problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlay(v: Value) -> Overlay {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn each_change_reports_what_it_did() {
        let mut doc =
            json!({"components": {"schemas": {"A": {"type": "object", "properties": {}}}}});
        let o = overlay(json!({"changes": [
            {"source": "s1", "change": "adds b", "patch": [
                {"op": "add", "path": "/components/schemas/A/properties/b", "value": {"type": "string"}}]},
            {"source": "s2", "change": "adds b again", "patch": [
                {"op": "add", "path": "/components/schemas/A/properties/b", "value": {"type": "string"}}]},
            {"source": "s3", "change": "patches a missing schema", "patch": [
                {"op": "replace", "path": "/components/schemas/Z/type", "value": "string"}]}
        ]}));
        let outcomes = apply(&mut doc, &o);
        assert_eq!(outcomes[0], Outcome::Applied);
        assert_eq!(outcomes[1], Outcome::AlreadyPresent);
        assert!(matches!(outcomes[2], Outcome::Failed(_)));
        assert_eq!(
            doc["components"]["schemas"]["A"]["properties"]["b"],
            json!({"type": "string"})
        );
        let mut again =
            json!({"components": {"schemas": {"A": {"type": "object", "properties": {}}}}});
        let err = apply_strict(&mut again, &o).unwrap_err();
        assert!(
            err.contains("adds b again") && err.contains("patches a missing schema"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(Overlay::from_json(r#"{"changes": [], "extra": 1}"#).is_err());
        assert!(Overlay::from_json(
            r#"{"changes": [{"source": "s", "change": "c", "patch": [], "why": 1}]}"#
        )
        .is_err());
    }
}
