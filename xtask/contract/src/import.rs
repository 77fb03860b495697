//! Importing a service's published API document as agentwire's upstream.
//!
//! A published document carries two kinds of content: facts (paths, methods,
//! parameters, schemas, status codes, enum values, defaults, titles derived
//! from names) and prose (descriptions, summaries, examples and external
//! documentation, written by the service's authors). The upstream keeps every
//! fact and none of the prose: [`strip_prose`] removes the prose keywords
//! wherever they are keywords, and leaves a property, parameter or schema that
//! happens to be *named* `description` or `summary` alone.

use serde_json::{Map, Value};

/// Keywords whose value is prose (or an example an author wrote): removed.
const PROSE: [&str; 6] = [
    "description",
    "summary",
    "example",
    "examples",
    "externalDocs",
    "termsOfService",
];

/// Keywords whose value is a map from names the document chose to objects
/// of the specification (schemas, path items, media types…). Their keys are
/// facts; their values are walked as objects of the specification again.
const NAME_MAPS: [&str; 18] = [
    "paths",
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "schemas",
    "responses",
    "parameters",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
    "content",
    "encoding",
    "webhooks",
];

/// Keywords whose value is data (values the service accepts or sends, or
/// extensions): kept exactly as published, never walked.
fn is_data(key: &str) -> bool {
    matches!(key, "enum" | "const" | "default" | "required" | "mapping") || key.starts_with("x-")
}

/// What [`strip_prose`] removed, for the import's report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stripped {
    /// Prose values removed, by keyword.
    pub removed: std::collections::BTreeMap<String, usize>,
    /// Characters of prose removed (the serialized length of the values).
    pub chars: usize,
}

/// Removes the prose of a published OpenAPI document in place. `info` keeps
/// only `title` and `version`; `tags` keep only their names; server URLs stay.
pub fn strip_prose(doc: &mut Value) -> Stripped {
    let mut stripped = Stripped::default();
    if let Some(root) = doc.as_object_mut() {
        if let Some(Value::Object(info)) = root.get_mut("info") {
            info.retain(|k, v| {
                let keep = k == "title" || k == "version";
                if !keep {
                    stripped.count(k, v);
                }
                keep
            });
        }
        if let Some(Value::Array(tags)) = root.get_mut("tags") {
            for tag in tags.iter_mut() {
                if let Value::Object(tag) = tag {
                    tag.retain(|k, v| {
                        let keep = k == "name";
                        if !keep {
                            stripped.count(k, v);
                        }
                        keep
                    });
                }
            }
        }
    }
    walk_object(doc, &mut stripped);
    stripped
}

impl Stripped {
    fn count(&mut self, key: &str, value: &Value) {
        *self.removed.entry(key.to_owned()).or_default() += 1;
        self.chars += value.to_string().len();
    }
}

/// `value` is an object of the specification (a schema, an operation…), or
/// an array of them.
fn walk_object(value: &mut Value, stripped: &mut Stripped) {
    match value {
        Value::Array(items) => {
            for item in items {
                walk_object(item, stripped);
            }
        }
        Value::Object(map) => {
            map.retain(|k, v| {
                let prose = PROSE.contains(&k.as_str());
                if prose {
                    stripped.count(k, v);
                }
                !prose
            });
            for (key, child) in map.iter_mut() {
                if is_data(key) {
                    continue;
                }
                match child {
                    Value::Object(inner) if NAME_MAPS.contains(&key.as_str()) => {
                        walk_name_map(inner, stripped)
                    }
                    _ => walk_object(child, stripped),
                }
            }
        }
        _ => {}
    }
}

fn walk_name_map(map: &mut Map<String, Value>, stripped: &mut Stripped) {
    for child in map.values_mut() {
        walk_object(child, stripped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prose_goes_and_names_stay() {
        let mut doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "T", "version": "1", "description": "ours?", "contact": {"x": 1}},
            "tags": [{"name": "posts", "description": "about posts"}],
            "paths": {"/description": {"get": {
                "summary": "S", "description": "D", "operationId": "get_d",
                "parameters": [{"name": "summary", "in": "query", "description": "p",
                                 "schema": {"type": "string", "examples": ["a"], "title": "Summary"}}],
                "responses": {"200": {"description": "OK", "content": {"application/json": {
                    "example": {"a": 1},
                    "schema": {"$ref": "#/components/schemas/Out"}}}}}
            }}},
            "components": {"schemas": {"Out": {
                "type": "object", "description": "the out",
                "properties": {"description": {"type": "string", "description": "text",
                                               "default": {"description": "kept: a value"}},
                               "example": {"type": "integer", "x-note": {"description": "kept"}}},
                "required": ["description"]}}}
        });
        let stripped = strip_prose(&mut doc);
        assert_eq!(
            doc,
            json!({
                "openapi": "3.1.0",
                "info": {"title": "T", "version": "1"},
                "tags": [{"name": "posts"}],
                "paths": {"/description": {"get": {
                    "operationId": "get_d",
                    "parameters": [{"name": "summary", "in": "query",
                                     "schema": {"type": "string", "title": "Summary"}}],
                    "responses": {"200": {"content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Out"}}}}}
                }}},
                "components": {"schemas": {"Out": {
                    "type": "object",
                    "properties": {"description": {"type": "string",
                                                   "default": {"description": "kept: a value"}},
                                   "example": {"type": "integer", "x-note": {"description": "kept"}}},
                    "required": ["description"]}}}
            })
        );
        assert_eq!(stripped.removed["description"], 7);
        assert_eq!(stripped.removed["summary"], 1);
        assert_eq!(stripped.removed["examples"], 1);
        assert_eq!(stripped.removed["example"], 1);
        assert_eq!(stripped.removed["contact"], 1);
    }
}
