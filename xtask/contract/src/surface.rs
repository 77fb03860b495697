//! The public surface of a normalized OpenAPI 3.0.3 document: what a client SDK
//! generated from it can call and what types it sees.
//!
//! The surface is deliberately lossy (no descriptions, examples, servers…) so that
//! its JSON form changes only when the contract does; the tests crate snapshots it
//! per service, which turns every contract change into a reviewable diff, and
//! [`crate::drift`] compares two of them.
//!
//! Extraction never fails: shapes it does not understand are rendered as `any`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything a client of one service can see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Surface {
    /// Sorted by name (then method and path, should a document repeat a name).
    pub operations: Vec<Operation>,
    /// Only the component schemas reachable from `operations`, by name.
    pub schemas: BTreeMap<String, SchemaShape>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The `operationId`, or `"<METHOD> <path>"` when the document has none.
    pub name: String,
    /// Upper case, e.g. `GET`.
    pub method: String,
    pub path: String,
    /// The status of `response` when there is one, else the first 2xx status, else "".
    pub success_status: String,
    /// Path-level parameters merged with the operation's own, in document order,
    /// because that order is the order of the generated method's arguments.
    pub parameters: Vec<Param>,
    pub body: Option<Body>,
    /// The first 2xx response that has content.
    pub response: Option<Body>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    pub name: String,
    /// The `in` of the parameter: `path`, `query`, `header` or `cookie`.
    pub location: String,
    pub required: bool,
    pub ty: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    pub mime: String,
    pub ty: String,
    /// For a request body, its `required`; a response with content always has one.
    pub required: bool,
}

/// Which direction a schema travels in, which decides whether loosening or
/// tightening it breaks clients (see [`crate::drift`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    /// Only sent by the client (parameters, request bodies).
    Request,
    /// Only received by the client.
    Response,
    Both,
}

impl Usage {
    /// Whether clients build values of this schema.
    pub fn sent(self) -> bool {
        matches!(self, Usage::Request | Usage::Both)
    }

    /// Whether clients decode values of this schema.
    pub fn received(self) -> bool {
        matches!(self, Usage::Response | Usage::Both)
    }

    pub fn union(self, other: Usage) -> Usage {
        if self == other {
            self
        } else {
            Usage::Both
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaShape {
    /// `object` for schemas with fields, the base type (e.g. `string`) for enums,
    /// otherwise the [`type_name`] of the schema (`[Post]`, `A | B`, …);
    /// `unresolved` when a `$ref` names a schema the document lacks.
    pub ty: String,
    pub usage: Usage,
    /// In document order, which is the order of the generated enum's variants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<String>,
    /// Properties, including those merged in through `allOf`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Field>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The field's type without the trailing `?`: nullability is `nullable`, so
    /// that drift can judge the two separately.
    pub ty: String,
    pub required: bool,
    pub nullable: bool,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
const SCHEMA_PREFIX: &str = "#/components/schemas/";
/// Bounds recursion on hostile or cyclic input; real documents nest far less.
const MAX_DEPTH: usize = 64;

/// Extracts the public surface of a normalized document.
pub fn surface(doc: &Value) -> Surface {
    let mut operations = Vec::new();
    let mut sent_roots: Vec<&Value> = Vec::new();
    let mut received_roots: Vec<&Value> = Vec::new();

    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        let Some(item) = resolve(doc, item).as_object() else {
            continue;
        };
        for method in METHODS {
            let Some(op) = item.get(method).and_then(Value::as_object) else {
                continue;
            };
            let op = operation(doc, path, method, item, op);
            sent_roots.extend(op.sent);
            received_roots.extend(op.received);
            operations.push(op.operation);
        }
    }
    operations.sort_by(|a, b| (&a.name, &a.method, &a.path).cmp(&(&b.name, &b.method, &b.path)));

    let sent = reachable(doc, &sent_roots);
    let received = reachable(doc, &received_roots);
    let mut schemas = BTreeMap::new();
    for name in sent.union(&received) {
        let usage = match (sent.contains(name), received.contains(name)) {
            (true, true) => Usage::Both,
            (true, false) => Usage::Request,
            _ => Usage::Response,
        };
        let shape = match component_schema(doc, name) {
            Some(schema) => schema_shape(doc, schema, usage),
            None => SchemaShape {
                ty: "unresolved".to_owned(),
                usage,
                enum_values: Vec::new(),
                fields: BTreeMap::new(),
            },
        };
        schemas.insert(name.clone(), shape);
    }

    Surface {
        operations,
        schemas,
    }
}

/// One operation plus the schemas it sends and receives, for reachability.
struct Extracted<'a> {
    operation: Operation,
    sent: Vec<&'a Value>,
    received: Vec<&'a Value>,
}

fn operation<'a>(
    doc: &'a Value,
    path: &str,
    method: &str,
    item: &'a Map<String, Value>,
    op: &'a Map<String, Value>,
) -> Extracted<'a> {
    let method = method.to_ascii_uppercase();
    let name = match op.get("operationId").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => format!("{method} {path}"),
    };
    let mut sent = Vec::new();
    let mut received = Vec::new();

    // Path-level parameters apply unless the operation redefines the same
    // (name, location), in which case the operation's definition wins in place.
    let mut params: Vec<(Param, Option<&Value>)> = Vec::new();
    let shared = item.get("parameters").and_then(Value::as_array);
    let own = op.get("parameters").and_then(Value::as_array);
    for raw in shared
        .into_iter()
        .flatten()
        .chain(own.into_iter().flatten())
    {
        let (param, schema) = parameter(doc, raw);
        match params
            .iter_mut()
            .find(|(p, _)| p.name == param.name && p.location == param.location)
        {
            Some(slot) => *slot = (param, schema),
            None => params.push((param, schema)),
        }
    }
    sent.extend(params.iter().filter_map(|(_, schema)| *schema));
    let parameters = params.into_iter().map(|(p, _)| p).collect();

    let body = op.get("requestBody").and_then(|raw| {
        let raw = resolve(doc, raw);
        let (mime, schema) = pick_content(raw.get("content"))?;
        sent.push(schema);
        Some(Body {
            mime: mime.clone(),
            ty: type_name(schema),
            required: raw.get("required").and_then(Value::as_bool) == Some(true),
        })
    });

    let mut success_status = String::new();
    let mut response = None;
    let responses = op.get("responses").and_then(Value::as_object);
    // Keys are sorted, so "200" comes before "201" and "2XX".
    for (status, raw) in responses.into_iter().flatten() {
        if !status.starts_with('2') {
            continue;
        }
        if success_status.is_empty() {
            success_status.clone_from(status);
        }
        if let Some((mime, schema)) = pick_content(resolve(doc, raw).get("content")) {
            received.push(schema);
            success_status.clone_from(status);
            response = Some(Body {
                mime: mime.clone(),
                ty: type_name(schema),
                required: true,
            });
            break;
        }
    }

    Extracted {
        operation: Operation {
            name,
            method,
            path: path.to_owned(),
            success_status,
            parameters,
            body,
            response,
        },
        sent,
        received,
    }
}

fn parameter<'a>(doc: &'a Value, raw: &'a Value) -> (Param, Option<&'a Value>) {
    let raw = resolve(doc, raw);
    let location = raw
        .get("in")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    // OpenAPI requires path parameters to be required and generators treat them
    // so, whatever the document says.
    let required = location == "path" || raw.get("required").and_then(Value::as_bool) == Some(true);
    let schema = raw
        .get("schema")
        .or_else(|| pick_content(raw.get("content")).map(|(_, schema)| schema));
    let param = Param {
        name: raw
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        location,
        required,
        ty: schema.map_or_else(|| "any".to_owned(), type_name),
    };
    (param, schema)
}

/// The media type a generated client uses: JSON when offered, else the first.
fn pick_content(content: Option<&Value>) -> Option<(&String, &Value)> {
    let content = content?.as_object()?;
    let (mime, media) = content
        .get_key_value("application/json")
        .or_else(|| content.iter().find(|(mime, _)| mime.contains("json")))
        .or_else(|| content.iter().next())?;
    // A media type without a schema still carries a body, of unknown shape.
    static ANY: Value = Value::Null;
    Some((mime, media.get("schema").unwrap_or(&ANY)))
}

/// Follows local `$ref`s of non-schema objects (parameters, request bodies,
/// responses, path items); gives back the input when a reference dangles.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        let Some(target) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|pointer| doc.pointer(pointer))
        else {
            break;
        };
        value = target;
    }
    value
}

fn component_schema<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc.get("components")?.get("schemas")?.get(name)
}

/// Names of the component schemas reachable from `roots`, transitively.
fn reachable(doc: &Value, roots: &[&Value]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut pending = Vec::new();
    for root in roots {
        collect_refs(root, &mut pending, 0);
    }
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Some(schema) = component_schema(doc, &name) {
            collect_refs(schema, &mut pending, 0);
        }
        seen.insert(name);
    }
    seen
}

fn collect_refs(value: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(SCHEMA_PREFIX) {
                            out.push(unescape_pointer(name));
                        }
                    }
                    _ => collect_refs(child, out, depth + 1),
                }
            }
        }
        Value::Array(items) => {
            for child in items {
                collect_refs(child, out, depth + 1);
            }
        }
        _ => {}
    }
}

fn unescape_pointer(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn schema_shape(doc: &Value, schema: &Value, usage: Usage) -> SchemaShape {
    let enum_values = enum_values(schema).unwrap_or_default();
    let mut fields = BTreeMap::new();
    if flattens(schema) {
        let mut properties = Vec::new();
        let mut required = BTreeSet::new();
        let mut visited = BTreeSet::new();
        gather_properties(doc, schema, &mut properties, &mut required, &mut visited, 0);
        for (name, property) in properties {
            let rendered = render(property, 0);
            fields.insert(
                name.clone(),
                Field {
                    ty: rendered.text,
                    required: required.contains(name.as_str()),
                    nullable: rendered.nullable,
                },
            );
        }
    }
    // Rendering also sees nullability spelled as a `null` enum value.
    let nullable = render(schema, 0).nullable;
    let ty = if !fields.is_empty() {
        with_nullable("object".to_owned(), nullable, false)
    } else if !enum_values.is_empty() {
        // Values are listed separately so that adding one is not a type change.
        let base = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string");
        with_nullable(base.to_owned(), nullable, false)
    } else {
        type_name(schema)
    };
    SchemaShape {
        ty,
        usage,
        enum_values,
        fields,
    }
}

/// Whether the schema is a struct-like object whose fields (merged through
/// `allOf`) are listed; a lone `allOf: [{$ref}]` is a mere alias and is not.
fn flattens(schema: &Value) -> bool {
    if schema.get("properties").is_some() {
        return true;
    }
    match schema.get("allOf").and_then(Value::as_array) {
        Some(parts) => parts.len() > 1 || parts.iter().any(|p| p.get("$ref").is_none()),
        None => false,
    }
}

fn gather_properties<'a>(
    doc: &'a Value,
    schema: &'a Value,
    properties: &mut Vec<(&'a String, &'a Value)>,
    required: &mut BTreeSet<&'a str>,
    visited: &mut BTreeSet<&'a str>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(SCHEMA_PREFIX))
    {
        // A schema that includes itself through allOf adds nothing the second time.
        if visited.insert(name) {
            if let Some(target) = component_schema(doc, &unescape_pointer(name)) {
                gather_properties(doc, target, properties, required, visited, depth + 1);
            }
        }
        return;
    }
    if let Some(own) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in own {
            match properties.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = property,
                None => properties.push((name, property)),
            }
        }
    }
    // In JSON Schema a `required` applies to properties from sibling allOf parts too.
    let listed = schema.get("required").and_then(Value::as_array);
    required.extend(listed.into_iter().flatten().filter_map(Value::as_str));
    let parts = schema.get("allOf").and_then(Value::as_array);
    for part in parts.into_iter().flatten() {
        gather_properties(doc, part, properties, required, visited, depth + 1);
    }
}

/// The compact, human type of a schema: `string`, `string?` (nullable),
/// `integer(int64)`, `Post` ($ref), `[Post]`, `{string: any}` (map),
/// `{id: string, note?: string}` (inline object), `enum(a|b)`, `A | B` (oneOf /
/// anyOf), `A & B` (allOf) and `any` for `{}` or anything not understood.
pub fn type_name(schema: &Value) -> String {
    render(schema, 0).into_string()
}

/// A rendered type before its nullability is spelled out.
struct Rendered {
    text: String,
    nullable: bool,
    /// A top-level `|` or `&`, which needs parentheses inside other types.
    compound: bool,
}

impl Rendered {
    fn plain(text: impl Into<String>, nullable: bool) -> Rendered {
        Rendered {
            text: text.into(),
            nullable,
            compound: false,
        }
    }

    fn into_string(self) -> String {
        with_nullable(self.text, self.nullable, self.compound)
    }

    /// As an operand of `|` or `&`.
    fn into_operand(self) -> String {
        let compound = self.compound || self.nullable;
        let text = self.into_string();
        if compound && !text.ends_with('?') {
            format!("({text})")
        } else {
            text
        }
    }
}

fn with_nullable(text: String, nullable: bool, compound: bool) -> String {
    match (nullable, compound) {
        (false, _) => text,
        (true, false) => format!("{text}?"),
        (true, true) => format!("({text})?"),
    }
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
        || schema
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|t| t == "null"))
}

fn render(schema: &Value, depth: usize) -> Rendered {
    let Some(obj) = schema.as_object() else {
        return Rendered::plain(
            if *schema == Value::Bool(false) {
                "never"
            } else {
                "any"
            },
            false,
        );
    };
    if depth > MAX_DEPTH {
        return Rendered::plain("any", false);
    }
    let nullable = is_nullable(schema);

    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        return Rendered::plain(ref_name(reference), nullable);
    }

    if let Some(parts) = obj.get("allOf").and_then(Value::as_array) {
        let mut operands: Vec<Rendered> = parts.iter().map(|p| render(p, depth + 1)).collect();
        if obj.contains_key("properties") {
            operands.push(object_type(obj, depth));
        }
        return combine(operands, " & ", nullable);
    }

    for keyword in ["oneOf", "anyOf"] {
        if let Some(variants) = obj.get(keyword).and_then(Value::as_array) {
            // A `{"type": "null"}` variant is how 3.1 spells nullability.
            let is_null = |v: &&Value| v.get("type").and_then(Value::as_str) == Some("null");
            let nullable = nullable || variants.iter().any(|v| is_null(&v));
            let operands = variants
                .iter()
                .filter(|v| !is_null(v))
                .map(|v| render(v, depth + 1))
                .collect();
            return combine(operands, " | ", nullable);
        }
    }

    for (keyword, open) in [("x-enum-values", true), ("enum", false)] {
        if let Some((values, has_null)) = listed_values(obj.get(keyword)) {
            // Open enums decode unknown values; closed ones (the normalizer keeps
            // non-string enums closed) reject them, so the two must not look alike.
            let prefix = if open { "" } else { "closed " };
            let text = format!("{prefix}enum({})", values.join("|"));
            return Rendered::plain(text, nullable || has_null);
        }
    }

    // The normalizer's spelling of the schema nothing validates against.
    if obj
        .get("not")
        .is_some_and(|not| not == &Value::Object(Map::new()))
    {
        return Rendered::plain("never", nullable);
    }

    let types: Vec<&str> = match obj.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect(),
        _ if obj.contains_key("properties") || obj.contains_key("additionalProperties") => {
            vec!["object"]
        }
        _ if obj.contains_key("items") => vec!["array"],
        _ => Vec::new(),
    };
    let operands: Vec<Rendered> = types
        .into_iter()
        .map(|t| base_type(obj, t, depth))
        .collect();
    combine(operands, " | ", nullable)
}

/// Joins operands with `separator`; none is `any`, one is itself.
fn combine(mut operands: Vec<Rendered>, separator: &str, nullable: bool) -> Rendered {
    match operands.len() {
        0 => Rendered::plain("any", nullable),
        1 => {
            let mut single = operands.remove(0);
            single.nullable |= nullable;
            single
        }
        _ => Rendered {
            text: operands
                .into_iter()
                .map(Rendered::into_operand)
                .collect::<Vec<_>>()
                .join(separator),
            nullable,
            compound: true,
        },
    }
}

fn base_type(obj: &Map<String, Value>, ty: &str, depth: usize) -> Rendered {
    match ty {
        "array" => {
            let items = obj
                .get("items")
                .map_or_else(|| "any".to_owned(), |i| render(i, depth + 1).into_string());
            Rendered::plain(format!("[{items}]"), false)
        }
        "object" => object_type(obj, depth),
        "string" | "integer" | "number" | "boolean" | "null" => {
            match obj.get("format").and_then(Value::as_str) {
                Some(format) => Rendered::plain(format!("{ty}({format})"), false),
                None => Rendered::plain(ty, false),
            }
        }
        _ => Rendered::plain("any", false),
    }
}

/// `{string: V}` for maps, `{a: T, b?: U}` for inline objects (optional fields
/// marked `?` after the name), `{}` for the closed empty object.
fn object_type(obj: &Map<String, Value>, depth: usize) -> Rendered {
    let extra = match obj.get("additionalProperties") {
        Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some("any".to_owned()),
        Some(schema) => Some(render(schema, depth + 1).into_string()),
        // Without the keyword extra properties are allowed, and a bare object is
        // generated as a map of arbitrary values.
        None if !obj.contains_key("properties") => Some("any".to_owned()),
        None => None,
    };
    let required: BTreeSet<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut entries: Vec<String> = obj
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, property)| {
            let mark = if required.contains(name.as_str()) {
                ""
            } else {
                "?"
            };
            format!(
                "{name}{mark}: {}",
                render(property, depth + 1).into_string()
            )
        })
        .collect();
    match extra {
        Some(value) if entries.is_empty() => {
            return Rendered::plain(format!("{{string: {value}}}"), false)
        }
        Some(value) => entries.push(format!("[string]: {value}")),
        None => {}
    }
    Rendered::plain(format!("{{{}}}", entries.join(", ")), false)
}

fn ref_name(reference: &str) -> String {
    let name = reference
        .strip_prefix(SCHEMA_PREFIX)
        .unwrap_or_else(|| reference.rsplit('/').next().unwrap_or(reference));
    if name.is_empty() {
        "any".to_owned()
    } else {
        unescape_pointer(name)
    }
}

/// The values of an open enum (`x-enum-values`), in document order.
fn enum_values(schema: &Value) -> Option<Vec<String>> {
    listed_values(schema.get("x-enum-values")).map(|(values, _)| values)
}

/// The non-null values of an enum keyword as text, and whether it lists `null`
/// (which is nullability, not a value); `None` when it lists no other value.
fn listed_values(list: Option<&Value>) -> Option<(Vec<String>, bool)> {
    let list = list?.as_array()?;
    let values: Vec<String> = list
        .iter()
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let has_null = list.iter().any(Value::is_null);
    (!values.is_empty()).then_some((values, has_null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agents_doc() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": { "title": "agents", "version": "1" },
            "paths": {
                "/agents": {
                    "get": {
                        "operationId": "list_agents",
                        "parameters": [
                            { "name": "limit", "in": "query", "required": false,
                              "schema": { "type": "integer", "format": "int32" } },
                            { "name": "status", "in": "query",
                              "schema": { "$ref": "#/components/schemas/AgentStatus" } }
                        ],
                        "responses": { "200": { "description": "ok", "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/AgentPage" } }
                        } } }
                    }
                },
                "/agents/{agent_id}": {
                    "parameters": [
                        { "name": "agent_id", "in": "path", "required": true, "schema": { "type": "string" } }
                    ],
                    "get": {
                        "operationId": "get_agent",
                        "responses": { "200": { "description": "ok", "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/Agent" } }
                        } } }
                    },
                    "delete": {
                        "operationId": "delete_agent",
                        "responses": { "204": { "description": "deleted" } }
                    }
                },
                "/agents/{agent_id}/runs": {
                    "parameters": [
                        { "name": "agent_id", "in": "path", "required": true, "schema": { "type": "string" } }
                    ],
                    "post": {
                        "operationId": "trigger_agent",
                        "parameters": [
                            { "name": "Idempotency-Key", "in": "header", "required": true,
                              "schema": { "type": "string", "format": "uuid" } }
                        ],
                        "requestBody": { "required": true, "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/TriggerRequest" } }
                        } },
                        "responses": {
                            "201": { "description": "created", "content": {
                                "application/json": { "schema": { "$ref": "#/components/schemas/Run" } }
                            } },
                            "202": { "description": "queued" }
                        }
                    }
                }
            },
            "components": { "schemas": {
                "Agent": {
                    "type": "object",
                    "required": ["id", "name", "status", "created_at"],
                    "properties": {
                        "id": { "type": "string" },
                        "name": { "type": "string" },
                        "status": { "$ref": "#/components/schemas/AgentStatus" },
                        "created_at": { "type": "string", "format": "date-time" },
                        "parent": { "allOf": [{ "$ref": "#/components/schemas/Agent" }], "nullable": true },
                        "tags": { "type": "array", "items": { "type": "string" } },
                        "metadata": { "type": "object", "additionalProperties": {} }
                    }
                },
                "AgentPage": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": { "type": "array", "items": { "$ref": "#/components/schemas/Agent" } },
                        "next_cursor": { "type": "string", "nullable": true }
                    }
                },
                "AgentStatus": { "type": "string", "x-enum-values": ["idle", "running", "failed"] },
                "TriggerRequest": {
                    "type": "object",
                    "required": ["input"],
                    "properties": {
                        "input": { "type": "string" },
                        "priority": { "type": "integer", "format": "int32" },
                        "agent": { "$ref": "#/components/schemas/AgentStatus" }
                    }
                },
                "Run": {
                    "allOf": [
                        { "$ref": "#/components/schemas/RunBase" },
                        { "type": "object", "required": ["run_id"],
                          "properties": { "run_id": { "type": "string" } } }
                    ]
                },
                "RunBase": {
                    "type": "object",
                    "required": ["agent_id"],
                    "properties": { "agent_id": { "type": "string" } }
                },
                "Unused": { "type": "object", "properties": { "x": { "type": "string" } } }
            } }
        })
    }

    #[test]
    fn surface_of_a_small_service() {
        let s = surface(&agents_doc());
        insta::assert_json_snapshot!(s);

        let names: Vec<&str> = s.operations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            names,
            ["delete_agent", "get_agent", "list_agents", "trigger_agent"]
        );

        let delete = &s.operations[0];
        assert_eq!(delete.method, "DELETE");
        assert_eq!(delete.success_status, "204");
        assert_eq!(delete.response, None);
        // The path-level parameter reaches every operation of the path.
        assert_eq!(delete.parameters[0].name, "agent_id");

        let trigger = &s.operations[3];
        assert_eq!(trigger.success_status, "201");
        assert_eq!(trigger.parameters.len(), 2);
        assert_eq!(
            trigger.body,
            Some(Body {
                mime: "application/json".into(),
                ty: "TriggerRequest".into(),
                required: true
            })
        );

        assert!(!s.schemas.contains_key("Unused"));
        assert_eq!(s.schemas["TriggerRequest"].usage, Usage::Request);
        assert_eq!(s.schemas["Agent"].usage, Usage::Response);
        assert_eq!(s.schemas["AgentStatus"].usage, Usage::Both);
        assert_eq!(s.schemas["AgentStatus"].ty, "string");
        assert_eq!(
            s.schemas["AgentStatus"].enum_values,
            ["idle", "running", "failed"]
        );

        let parent = &s.schemas["Agent"].fields["parent"];
        assert_eq!(
            (parent.ty.as_str(), parent.required, parent.nullable),
            ("Agent", false, true)
        );

        // allOf members are merged, and `required` applies across them.
        let run = &s.schemas["Run"];
        assert_eq!(run.ty, "object");
        assert!(run.fields["agent_id"].required && run.fields["run_id"].required);
    }

    #[test]
    fn surface_of_odd_input_does_not_panic() {
        for doc in [
            json!(null),
            json!([1, 2]),
            json!({ "paths": 3 }),
            json!({ "paths": { "/x": { "get": { "parameters": [7, {"in": "query"}],
                "requestBody": { "content": { "text/plain": {} } },
                "responses": { "200": { "$ref": "#/nowhere" }, "default": {} } } } } }),
        ] {
            let _ = surface(&doc);
        }
        let s = surface(&json!({ "paths": { "/x": { "get": {
            "responses": { "200": { "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Missing" } } } } } } } } }));
        assert_eq!(s.operations[0].name, "GET /x");
        assert_eq!(s.schemas["Missing"].ty, "unresolved");
    }

    #[test]
    fn refs_of_parameters_and_bodies_are_followed() {
        let s = surface(&json!({
            "paths": { "/x": { "post": {
                "operationId": "post_x",
                "parameters": [{ "$ref": "#/components/parameters/Limit" }],
                "requestBody": { "$ref": "#/components/requestBodies/Input" },
                "responses": { "200": { "$ref": "#/components/responses/Out" } }
            } } },
            "components": {
                "parameters": { "Limit": { "name": "limit", "in": "query", "schema": { "type": "integer" } } },
                "requestBodies": { "Input": { "content": { "application/json": { "schema": { "type": "string" } } } } },
                "responses": { "Out": { "content": { "application/json": { "schema": { "type": "boolean" } } } } }
            }
        }));
        let op = &s.operations[0];
        assert_eq!(op.parameters[0].name, "limit");
        assert_eq!(op.body.as_ref().map(|b| b.ty.as_str()), Some("string"));
        assert_eq!(op.body.as_ref().map(|b| b.required), Some(false));
        assert_eq!(op.response.as_ref().map(|b| b.ty.as_str()), Some("boolean"));
    }

    #[test]
    fn type_names() {
        let cases = [
            (json!({ "type": "string" }), "string"),
            (json!({ "type": "string", "nullable": true }), "string?"),
            (
                json!({ "type": "integer", "format": "int64" }),
                "integer(int64)",
            ),
            (json!({ "$ref": "#/components/schemas/Post" }), "Post"),
            (
                json!({ "allOf": [{ "$ref": "#/components/schemas/Post" }], "nullable": true }),
                "Post?",
            ),
            (
                json!({ "type": "array", "items": { "$ref": "#/components/schemas/Post" } }),
                "[Post]",
            ),
            (
                json!({ "type": "array", "items": { "type": "array", "items": { "type": "number" } } }),
                "[[number]]",
            ),
            (json!({ "type": "array" }), "[any]"),
            (
                json!({ "type": "object", "additionalProperties": {} }),
                "{string: any}",
            ),
            (
                json!({ "type": "object", "additionalProperties": true }),
                "{string: any}",
            ),
            (json!({ "type": "object" }), "{string: any}"),
            (
                json!({ "type": "object", "additionalProperties": { "type": "integer" } }),
                "{string: integer}",
            ),
            (
                json!({ "type": "object", "additionalProperties": false }),
                "{}",
            ),
            (
                json!({ "type": "object", "required": ["id"],
                        "properties": { "id": { "type": "string" }, "note": { "type": "string", "nullable": true } } }),
                "{id: string, note?: string?}",
            ),
            (
                json!({ "type": "string", "x-enum-values": ["a", "b"] }),
                "enum(a|b)",
            ),
            (
                json!({ "type": "string", "x-enum-values": ["a"], "nullable": true }),
                "enum(a)?",
            ),
            (json!({}), "any"),
            (json!({ "description": "anything" }), "any"),
            (json!({ "type": ["string", "null"] }), "string?"),
            (
                json!({ "oneOf": [{ "$ref": "#/components/schemas/Cat" }, { "$ref": "#/components/schemas/Dog" }] }),
                "Cat | Dog",
            ),
            (
                json!({ "oneOf": [{ "$ref": "#/components/schemas/Cat" }, { "$ref": "#/components/schemas/Dog" }],
                        "nullable": true }),
                "(Cat | Dog)?",
            ),
            (
                json!({ "type": "array", "items": { "anyOf": [{ "type": "string" }, { "type": "integer" }] } }),
                "[string | integer]",
            ),
            (
                json!({ "allOf": [{ "$ref": "#/components/schemas/A" }, { "$ref": "#/components/schemas/B" }] }),
                "A & B",
            ),
            (json!({ "$ref": "#/components/schemas/a~1b" }), "a/b"),
            (json!({ "type": "file" }), "any"),
            (json!(null), "any"),
            (json!(42), "any"),
            (json!("string"), "any"),
            (json!(false), "never"),
        ];
        for (schema, expected) in cases {
            assert_eq!(type_name(&schema), expected, "type_name({schema})");
        }
    }

    #[test]
    fn deeply_nested_schema_is_bounded() {
        let mut schema = json!({ "type": "string" });
        for _ in 0..200 {
            schema = json!({ "type": "array", "items": schema });
        }
        let name = type_name(&schema);
        // Cut off at MAX_DEPTH rather than recursing 200 levels.
        assert!(name.contains("[any]"), "{name}");
        assert_eq!(name.matches('[').count(), MAX_DEPTH + 1);
    }
}
