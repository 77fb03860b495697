//! The public-contract filter: which upstream operations agentwire exposes, under
//! which ergonomic names, and which it leaves out (each with a reason).
//!
//! Every operation of the upstream document must be named in the filter, either
//! kept or dropped. An upstream addition therefore fails regeneration until someone
//! decides about it, instead of silently growing or silently missing from the SDK.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Contents of `openapi/<service>.filter.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Short service name, as used in paths and command lines (`promptev`).
    pub service: String,
    /// Package name of the generated transport crate.
    #[serde(rename = "crate")]
    pub crate_name: String,
    /// Upstream operationId → name in the public contract.
    pub operations: BTreeMap<String, String>,
    /// Schemas kept although no operation references them (event payloads
    /// carried inside a stream, for instance).
    #[serde(default)]
    pub keep_schemas: Vec<String>,
    /// Upstream operationId → why it is not part of the public contract.
    #[serde(default)]
    pub dropped: BTreeMap<String, String>,
    /// Upstream schema name → the model's public name (`PostOut` → `Post`).
    /// Every reference follows.
    #[serde(default)]
    pub models: BTreeMap<String, String>,
}

impl Filter {
    /// Parses a filter file's text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid filter: {e}"))
    }
}

/// The filtered document and how the upstream and the filter disagree.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The document with only the kept operations, renamed.
    pub doc: Value,
    /// Upstream operations the filter neither keeps nor drops ("METHOD path (id)").
    pub unlisted: Vec<String>,
    /// Operations the filter names that upstream does not have.
    pub missing: Vec<String>,
}

/// Keeps the operations the filter names, renamed, and removes every other one.
/// Fails when the upstream document and the filter disagree about which
/// operations exist.
pub fn apply(upstream: &Value, filter: &Filter) -> Result<Value, String> {
    let applied = apply_lenient(upstream, filter)?;
    if !applied.unlisted.is_empty() {
        return Err(format!(
            "upstream operations neither kept nor dropped by the {} filter; add each to `operations` or `dropped`:\n  {}",
            filter.service,
            applied.unlisted.join("\n  ")
        ));
    }
    if !applied.missing.is_empty() {
        return Err(format!(
            "the {} filter names operations the upstream document does not have: {}",
            filter.service,
            applied.missing.join(", ")
        ));
    }
    Ok(applied.doc)
}

/// Like [`apply`], but reports disagreements instead of failing: what
/// `drift` needs to describe a new upstream document.
pub fn apply_lenient(upstream: &Value, filter: &Filter) -> Result<Applied, String> {
    let mut doc = upstream.clone();
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("upstream document has no `paths` object")?;

    let mut seen = BTreeSet::new();
    let mut unlisted = Vec::new();
    let mut names = BTreeSet::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{} {path} has no operationId", method.to_uppercase()))?;
            seen.insert(id.clone());
            match filter.operations.get(&id) {
                Some(name) => {
                    if !names.insert(name.clone()) {
                        return Err(format!("public name `{name}` is used twice"));
                    }
                    op["operationId"] = Value::String(name.clone());
                }
                None => {
                    if !filter.dropped.contains_key(&id) {
                        unlisted.push(format!("{} {path} ({id})", method.to_uppercase()));
                    }
                    item.remove(method);
                }
            }
        }
    }
    paths.retain(|_, item| {
        item.as_object()
            .is_some_and(|m| METHODS.iter().any(|k| m.contains_key(*k)))
    });

    let mut missing: Vec<_> = filter
        .operations
        .keys()
        .chain(filter.dropped.keys())
        .filter(|id| !seen.contains(*id))
        .cloned()
        .collect();
    missing.extend(rename_models(&mut doc, &filter.models)?);
    untitle_colliding(&mut doc);
    Ok(Applied {
        doc,
        unlisted,
        missing,
    })
}

/// Renames component schemas and every `$ref` to them; returns the names
/// the document does not have.
fn rename_models(
    doc: &mut Value,
    renames: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    if renames.is_empty() {
        return Ok(Vec::new());
    }
    let mut missing = Vec::new();
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (from, to) in renames {
            if schemas.contains_key(to) {
                return Err(format!("model name `{to}` (for `{from}`) is taken"));
            }
            match schemas.remove(from) {
                Some(schema) => {
                    schemas.insert(to.clone(), schema);
                }
                None => missing.push(format!("schema {from}")),
            }
        }
    }
    rename_refs(doc, renames);
    Ok(missing)
}

/// typify names an inline schema after its `title`: one titled like a
/// component schema ("Post Type" beside the model `PostType`) would take the
/// model's name and collide with it, so such titles are removed and typify
/// names the inline schema from where it sits.
fn untitle_colliding(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let targets: BTreeSet<String> = schemas.keys().map(|k| squash(k)).collect();
    for schema in schemas.values_mut() {
        if let Some(obj) = schema.as_object_mut() {
            for (key, sub) in obj.iter_mut() {
                if key != "title" {
                    untitle_inline(sub, &targets);
                }
            }
        }
    }
    if let Some(paths) = doc.get_mut("paths") {
        untitle_inline(paths, &targets);
    }
}

/// A name as typify would compare it: letters and digits, lower case.
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn untitle_inline(value: &mut Value, targets: &BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if map
                .get("title")
                .and_then(Value::as_str)
                .is_some_and(|t| targets.contains(&squash(t)))
            {
                map.remove("title");
            }
            for v in map.values_mut() {
                untitle_inline(v, targets);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| untitle_inline(v, targets)),
        _ => {}
    }
}

fn rename_refs(value: &mut Value, renames: &BTreeMap<String, String>) {
    const PREFIX: &str = "#/components/schemas/";
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref" {
                    if let Some(target) = v.as_str().and_then(|r| r.strip_prefix(PREFIX)) {
                        if let Some(to) = renames.get(target) {
                            *v = Value::String(format!("{PREFIX}{to}"));
                        }
                    }
                } else {
                    rename_refs(v, renames);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename_refs(v, renames)),
        _ => {}
    }
}

/// Puts back schemas the filter keeps explicitly, after pruning removed them
/// for being unreferenced, together with everything they reference.
pub fn restore_kept_schemas(
    before_prune: &Value,
    doc: &mut Value,
    keep: &[String],
) -> Result<(), String> {
    let source = before_prune
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut todo: Vec<String> = keep.to_vec();
    let mut restored = Map::new();
    while let Some(name) = todo.pop() {
        if restored.contains_key(&name) {
            continue;
        }
        let schema = source
            .get(&name)
            .ok_or_else(|| format!("kept schema `{name}` is not in the document"))?;
        collect_schema_refs(schema, &mut todo);
        restored.insert(name, schema.clone());
    }
    if restored.is_empty() {
        return Ok(());
    }
    let root = doc.as_object_mut().ok_or("document is not a JSON object")?;
    let components = root
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()));
    let schemas = components
        .as_object_mut()
        .ok_or("`components` is not an object")?
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or("`components.schemas` is not an object")?;
    for (name, schema) in restored {
        schemas.entry(name).or_insert(schema);
    }
    Ok(())
}

fn collect_schema_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.to_owned());
            }
            map.values().for_each(|v| collect_schema_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_schema_refs(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(ops: &[(&str, &str)], dropped: &[&str]) -> Filter {
        Filter {
            service: "svc".into(),
            crate_name: "svc-transport".into(),
            operations: ops
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            keep_schemas: vec![],
            models: BTreeMap::new(),
            dropped: dropped
                .iter()
                .map(|a| (a.to_string(), "internal".to_string()))
                .collect(),
        }
    }

    fn upstream() -> Value {
        json!({"openapi": "3.1.0", "paths": {
            "/a": {"get": {"operationId": "list_a_get"}, "post": {"operationId": "create_a_post"}},
            "/admin": {"delete": {"operationId": "wipe_admin_delete"}}
        }})
    }

    #[test]
    fn keeps_and_renames_listed_operations_and_drops_the_rest() {
        let f = filter(
            &[("list_a_get", "list_a"), ("create_a_post", "create_a")],
            &["wipe_admin_delete"],
        );
        let out = apply(&upstream(), &f).unwrap();
        assert_eq!(out["paths"]["/a"]["get"]["operationId"], "list_a");
        assert_eq!(out["paths"]["/a"]["post"]["operationId"], "create_a");
        assert!(out["paths"].get("/admin").is_none());
    }

    #[test]
    fn an_unlisted_upstream_operation_is_an_error() {
        let f = filter(&[("list_a_get", "list_a")], &["wipe_admin_delete"]);
        let err = apply(&upstream(), &f).unwrap_err();
        assert!(err.contains("create_a_post"), "{err}");
    }

    #[test]
    fn a_listed_operation_missing_upstream_is_an_error() {
        let f = filter(
            &[
                ("list_a_get", "list_a"),
                ("create_a_post", "create_a"),
                ("gone_get", "gone"),
            ],
            &["wipe_admin_delete"],
        );
        let err = apply(&upstream(), &f).unwrap_err();
        assert!(err.contains("gone_get"), "{err}");
    }

    #[test]
    fn kept_schemas_come_back_with_their_references() {
        let before = json!({"components": {"schemas": {
            "Event": {"properties": {"inner": {"$ref": "#/components/schemas/Inner"}}},
            "Inner": {"type": "string"},
            "Other": {"type": "string"}
        }}});
        let mut doc = json!({"paths": {}});
        restore_kept_schemas(&before, &mut doc, &["Event".to_string()]).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("Event") && schemas.contains_key("Inner"));
        assert!(!schemas.contains_key("Other"));
    }
}
