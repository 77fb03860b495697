//! A value for a schema of a normalized (OpenAPI 3.0.3) contract: what the
//! sandbox answers for an operation it has no handler for, and the arguments
//! the conformance calls send.
//!
//! The value satisfies what the generated code checks: required properties,
//! types, `format` (uuid, date-time, date, email, uri), string length and
//! numeric bounds, `x-enum-values`, `nullable`, `$ref`, `allOf`/`anyOf`/
//! `oneOf`. Patterns are met for the shapes the contracts use (a few
//! candidates are tried; see [`string_for`]). Recursion stops at a fixed depth
//! with the smallest value the schema allows.

use serde_json::{json, Map, Value};

/// How much of a schema to fill in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Required properties only: the smallest valid request.
    Required,
    /// Every property: an answer that exercises every field's decoding.
    All,
}

const MAX_DEPTH: usize = 8;

/// A value valid for `schema`, resolving references against `doc`.
pub fn example(doc: &Value, schema: &Value, fill: Fill) -> Value {
    value(doc, schema, fill, 0)
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..32 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(target) => current = target,
                None => return current,
            },
            None => return current,
        }
    }
    current
}

fn value(doc: &Value, schema: &Value, fill: Fill, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    let Some(obj) = schema.as_object() else {
        return Value::Null;
    };
    if let Some(v) = obj.get("example").or_else(|| obj.get("default")) {
        if !v.is_null() {
            return v.clone();
        }
    }
    if let Some(values) = obj
        .get("x-enum-values")
        .or_else(|| obj.get("enum"))
        .and_then(Value::as_array)
    {
        if let Some(first) = values.iter().find(|v| !v.is_null()) {
            return first.clone();
        }
    }
    if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for part in parts {
            match value(doc, part, fill, depth + 1) {
                Value::Object(m) => merged.extend(m),
                other if parts.len() == 1 => return other,
                _ => {}
            }
        }
        if let Value::Object(own) = object(doc, obj, fill, depth) {
            merged.extend(own);
        }
        return Value::Object(merged);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            return value(doc, first, fill, depth + 1);
        }
    }
    if depth > MAX_DEPTH && obj.get("nullable") == Some(&Value::Bool(true)) {
        return Value::Null;
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("object") => object(doc, obj, fill, depth),
        Some("array") => {
            let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let n = if depth > MAX_DEPTH { min } else { min.max(1) };
            let item = obj.get("items").cloned().unwrap_or(json!({}));
            Value::Array((0..n).map(|_| value(doc, &item, fill, depth + 1)).collect())
        }
        Some("string") => Value::String(string_for(obj)),
        Some("integer") => json!(integer_for(obj)),
        Some("number") => json!(integer_for(obj) as f64),
        Some("boolean") => Value::Bool(false),
        _ if obj.contains_key("properties") => object(doc, obj, fill, depth),
        _ => Value::Null,
    }
}

fn object(doc: &Value, obj: &Map<String, Value>, fill: Fill, depth: usize) -> Value {
    let mut out = Map::new();
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let wanted =
                required.contains(&name.as_str()) || (fill == Fill::All && depth <= MAX_DEPTH);
            if wanted {
                out.insert(name.clone(), value(doc, prop, fill, depth + 1));
            }
        }
    }
    Value::Object(out)
}

fn integer_for(obj: &Map<String, Value>) -> i64 {
    let min = obj.get("minimum").and_then(Value::as_f64);
    let max = obj.get("maximum").and_then(Value::as_f64);
    let exclusive_min = obj.get("exclusiveMinimum") == Some(&Value::Bool(true));
    let mut n = 1.0_f64;
    if let Some(lo) = min {
        if n < lo || (exclusive_min && n <= lo) {
            n = if exclusive_min {
                lo.floor() + 1.0
            } else {
                lo.ceil()
            };
        }
    }
    if let Some(hi) = max {
        if n > hi {
            n = hi.floor();
        }
    }
    n as i64
}

/// A string of the schema's format and length. For a `pattern`, the first
/// candidate that fits the usual shapes (identifiers, slugs, hex, digits,
/// semantic versions) is taken; the generated code checks patterns, so a
/// pattern none fits makes the conformance test fail loudly, not silently.
pub fn string_for(obj: &Map<String, Value>) -> String {
    let min = obj.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = obj
        .get("maxLength")
        .and_then(Value::as_u64)
        .map(|m| m as usize);
    let base = match obj.get("format").and_then(Value::as_str) {
        Some("uuid") => return "00000000-0000-4000-8000-000000000001".into(),
        Some("date-time") => return "2026-01-01T00:00:00Z".into(),
        Some("date") => return "2026-01-01".into(),
        Some("email") => return "agent@example.com".into(),
        Some("uri") | Some("url") => return "https://example.com/x".into(),
        Some("ipv4") => return "127.0.0.1".into(),
        _ => match obj.get("pattern").and_then(Value::as_str) {
            Some(p) => pattern_candidate(p),
            None => "example".to_string(),
        },
    };
    fit_length(base, min, max)
}

fn pattern_candidate(pattern: &str) -> String {
    // Shapes seen in the contracts, most specific first.
    if pattern.contains("0-9a-f") || pattern.contains("0-9a-fA-F") {
        return "0123456789abcdef".into();
    }
    if pattern.contains(r"\d+\.\d+") {
        return "1.0.0".into();
    }
    if pattern.starts_with("^[0-9]") || pattern.starts_with(r"^\d") {
        return "123456".into();
    }
    if pattern.contains("A-Z") && !pattern.contains("a-z") {
        return "EXAMPLE".into();
    }
    "example".into()
}

fn fit_length(mut s: String, min: usize, max: Option<usize>) -> String {
    while s.chars().count() < min {
        let fill = s.chars().last().unwrap_or('a');
        s.push(fill);
    }
    if let Some(max) = max {
        s = s.chars().take(max).collect();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields_and_references() {
        let doc = json!({"components": {"schemas": {
            "Post": {"type": "object", "required": ["id", "title"], "properties": {
                "id": {"type": "string", "format": "uuid"},
                "title": {"type": "string", "minLength": 3, "maxLength": 5},
                "score": {"type": "integer", "minimum": 10},
                "author": {"$ref": "#/components/schemas/User"}
            }},
            "User": {"type": "object", "required": ["kind"], "properties": {
                "kind": {"type": "string", "x-enum-values": ["agent", "human"]}
            }}
        }}});
        let post = json!({"$ref": "#/components/schemas/Post"});
        assert_eq!(
            example(&doc, &post, Fill::Required),
            json!({"id": "00000000-0000-4000-8000-000000000001", "title": "examp"})
        );
        let all = example(&doc, &post, Fill::All);
        assert_eq!(all["score"], 10);
        assert_eq!(all["author"]["kind"], "agent");
    }

    #[test]
    fn recursion_ends() {
        let doc = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "next": {"allOf": [{"$ref": "#/components/schemas/Node"}], "nullable": true},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
            }}
        }}});
        let v = example(
            &doc,
            &json!({"$ref": "#/components/schemas/Node"}),
            Fill::All,
        );
        assert!(v.is_object());
    }
}
