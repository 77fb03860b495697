//! Differences between two [`Surface`]s, classified from the point of view of a
//! client built against the old one.
//!
//! The rule of thumb: a change is breaking when an existing client can send
//! something the server no longer accepts, or can receive something it does not
//! expect (a missing field, a null, another type). Whether loosening or
//! tightening a schema breaks therefore depends on its [`Usage`]: making a field
//! optional breaks clients that read it, making it required breaks clients that
//! send it. Open enums (`x-enum-values`) are the exception: the SDK decodes
//! unknown values, so only removing one breaks. Closed (non-string) enums are
//! compared as whole types, so any change to their values breaks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::surface::{Body, Field, Operation, Param, SchemaShape, Surface, Usage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub breaking: bool,
    pub kind: ChangeKind,
    /// What changed: `operation get_posts`, `get_posts parameter limit`,
    /// `get_posts request body`, `get_posts response`, `schema Post`,
    /// `schema Post field score`.
    pub subject: String,
    /// How it changed, e.g. `type integer -> string`.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    OperationAdded,
    OperationRemoved,
    /// Method or path.
    OperationChanged,
    ParameterAdded,
    ParameterRemoved,
    /// Type or requiredness.
    ParameterChanged,
    /// Request body added, removed, or its media type, type or requiredness.
    BodyChanged,
    /// Response body added, removed, or its media type, type or success status.
    ResponseChanged,
    SchemaAdded,
    SchemaRemoved,
    /// The schema's own type, e.g. `object` to `string`.
    SchemaChanged,
    FieldAdded,
    FieldRemoved,
    /// Type, requiredness or nullability.
    FieldChanged,
    /// Of a named open enum schema, or of an inline open `enum(…)` type anywhere.
    EnumValueAdded,
    EnumValueRemoved,
}

/// All changes from `old` to `new`: operations by name, then schemas by name;
/// within one, in the order of [`ChangeKind`], then by subject and detail.
pub fn drift(old: &Surface, new: &Surface) -> Vec<Change> {
    let mut changes = Vec::new();

    let old_ops = by_name(&old.operations);
    let new_ops = by_name(&new.operations);
    for name in union(&old_ops, &new_ops) {
        let mut found = Vec::new();
        operation(name, old_ops.get(name), new_ops.get(name), &mut found);
        push_sorted(&mut changes, found);
    }

    for name in union(&old.schemas, &new.schemas) {
        let mut found = Vec::new();
        schema(
            name,
            old.schemas.get(name),
            new.schemas.get(name),
            &mut found,
        );
        push_sorted(&mut changes, found);
    }
    changes
}

/// One line per change, breaking ones marked, then a summary line.
pub fn render(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no changes".to_owned();
    }
    let mut out = String::new();
    for change in changes {
        let mark = if change.breaking { "BREAKING" } else { "" };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{mark:<8}  {}: {}", change.subject, change.detail);
    }
    let breaking = changes.iter().filter(|c| c.breaking).count();
    let plural = if changes.len() == 1 { "" } else { "s" };
    let _ = write!(out, "{} change{plural}, {breaking} breaking", changes.len());
    out
}

pub fn has_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.breaking)
}

fn push_sorted(out: &mut Vec<Change>, mut found: Vec<Change>) {
    found.sort_by(|a, b| (a.kind, &a.subject, &a.detail).cmp(&(b.kind, &b.subject, &b.detail)));
    out.extend(found);
}

fn by_name(operations: &[Operation]) -> BTreeMap<&str, &Operation> {
    operations.iter().map(|o| (o.name.as_str(), o)).collect()
}

fn union<'a, K: Ord, A, B>(old: &'a BTreeMap<K, A>, new: &'a BTreeMap<K, B>) -> BTreeSet<&'a K> {
    old.keys().chain(new.keys()).collect()
}

fn change(breaking: bool, kind: ChangeKind, subject: &str, detail: impl Into<String>) -> Change {
    Change {
        breaking,
        kind,
        subject: subject.to_owned(),
        detail: detail.into(),
    }
}

fn operation(
    name: &str,
    old: Option<&&Operation>,
    new: Option<&&Operation>,
    out: &mut Vec<Change>,
) {
    let subject = format!("operation {name}");
    let (old, new) = match (old, new) {
        (Some(old), Some(new)) => (*old, *new),
        (Some(old), None) => {
            let detail = format!("removed ({} {})", old.method, old.path);
            out.push(change(true, ChangeKind::OperationRemoved, &subject, detail));
            return;
        }
        (None, Some(new)) => {
            let detail = format!("added ({} {})", new.method, new.path);
            out.push(change(false, ChangeKind::OperationAdded, &subject, detail));
            return;
        }
        (None, None) => return,
    };

    if old.method != new.method {
        let detail = format!("method {} -> {}", old.method, new.method);
        out.push(change(true, ChangeKind::OperationChanged, &subject, detail));
    }
    if old.path != new.path {
        let detail = format!("path {} -> {}", old.path, new.path);
        out.push(change(true, ChangeKind::OperationChanged, &subject, detail));
    }

    let old_params = params_by_key(&old.parameters);
    let new_params = params_by_key(&new.parameters);
    for key in union(&old_params, &new_params) {
        parameter(name, old_params.get(key), new_params.get(key), out);
    }

    request_body(name, old.body.as_ref(), new.body.as_ref(), out);
    response(name, old, new, out);
}

/// Parameters are identified by location and name: the same name in another
/// location is another parameter.
fn params_by_key(params: &[Param]) -> BTreeMap<(&str, &str), &Param> {
    params
        .iter()
        .map(|p| ((p.name.as_str(), p.location.as_str()), p))
        .collect()
}

fn parameter(op: &str, old: Option<&&Param>, new: Option<&&Param>, out: &mut Vec<Change>) {
    let Some(param) = new.or(old) else {
        return;
    };
    let subject = format!("{op} parameter {}", param.name);
    let location = &param.location;
    match (old, new) {
        (Some(old), Some(new)) => {
            type_change(
                &old.ty,
                &new.ty,
                ChangeKind::ParameterChanged,
                &subject,
                out,
            );
            // The client sends parameters: tightening breaks, loosening does not.
            if old.required != new.required {
                let detail = if new.required {
                    "now required"
                } else {
                    "no longer required"
                };
                out.push(change(
                    new.required,
                    ChangeKind::ParameterChanged,
                    &subject,
                    detail,
                ));
            }
        }
        (Some(_), None) => {
            // Existing clients keep sending it to a server that no longer knows it.
            let detail = format!("{location} parameter removed");
            out.push(change(true, ChangeKind::ParameterRemoved, &subject, detail));
        }
        (None, Some(new)) => {
            let detail = format!(
                "{} {location} parameter added ({})",
                requiredness(new.required),
                new.ty
            );
            out.push(change(
                new.required,
                ChangeKind::ParameterAdded,
                &subject,
                detail,
            ));
        }
        (None, None) => {}
    }
}

fn request_body(op: &str, old: Option<&Body>, new: Option<&Body>, out: &mut Vec<Change>) {
    let subject = format!("{op} request body");
    let kind = ChangeKind::BodyChanged;
    match (old, new) {
        (Some(old), Some(new)) => {
            if old.mime != new.mime {
                let detail = format!("media type {} -> {}", old.mime, new.mime);
                out.push(change(true, kind, &subject, detail));
            }
            type_change(&old.ty, &new.ty, kind, &subject, out);
            if old.required != new.required {
                let detail = if new.required {
                    "now required"
                } else {
                    "no longer required"
                };
                out.push(change(new.required, kind, &subject, detail));
            }
        }
        (Some(old), None) => {
            let detail = format!("removed ({} {})", old.mime, old.ty);
            out.push(change(true, kind, &subject, detail));
        }
        (None, Some(new)) => {
            let detail = format!(
                "{} body added ({} {})",
                requiredness(new.required),
                new.mime,
                new.ty
            );
            out.push(change(new.required, kind, &subject, detail));
        }
        (None, None) => {}
    }
}

fn response(op: &str, old: &Operation, new: &Operation, out: &mut Vec<Change>) {
    let subject = format!("{op} response");
    let kind = ChangeKind::ResponseChanged;
    // Generated clients accept only the documented success status.
    if old.success_status != new.success_status {
        let detail = format!(
            "success status {} -> {}",
            old.success_status, new.success_status
        );
        out.push(change(true, kind, &subject, detail));
    }
    match (&old.response, &new.response) {
        (Some(old), Some(new)) => {
            if old.mime != new.mime {
                let detail = format!("media type {} -> {}", old.mime, new.mime);
                out.push(change(true, kind, &subject, detail));
            }
            type_change(&old.ty, &new.ty, kind, &subject, out);
        }
        (Some(old), None) => {
            let detail = format!("body removed ({} {})", old.mime, old.ty);
            out.push(change(true, kind, &subject, detail));
        }
        // Clients that expected no content simply ignore it.
        (None, Some(new)) => {
            let detail = format!("body added ({} {})", new.mime, new.ty);
            out.push(change(false, kind, &subject, detail));
        }
        (None, None) => {}
    }
}

fn schema(name: &str, old: Option<&SchemaShape>, new: Option<&SchemaShape>, out: &mut Vec<Change>) {
    let subject = format!("schema {name}");
    let (old, new) = match (old, new) {
        (Some(old), Some(new)) => (old, new),
        // A surface holds reachable schemas only, so clients may use this one.
        (Some(_), None) => {
            out.push(change(true, ChangeKind::SchemaRemoved, &subject, "removed"));
            return;
        }
        (None, Some(new)) => {
            let detail = format!("added ({})", new.ty);
            out.push(change(false, ChangeKind::SchemaAdded, &subject, detail));
            return;
        }
        (None, None) => return,
    };
    // A schema that starts being sent (or read) is judged by both roles.
    let usage = old.usage.union(new.usage);

    type_change(&old.ty, &new.ty, ChangeKind::SchemaChanged, &subject, out);
    enum_change(&old.enum_values, &new.enum_values, &subject, out);

    for field_name in union(&old.fields, &new.fields) {
        let subject = format!("{subject} field {field_name}");
        field(
            &subject,
            old.fields.get(field_name),
            new.fields.get(field_name),
            usage,
            out,
        );
    }
}

fn field(
    subject: &str,
    old: Option<&Field>,
    new: Option<&Field>,
    usage: Usage,
    out: &mut Vec<Change>,
) {
    let kind = ChangeKind::FieldChanged;
    match (old, new) {
        (Some(old), Some(new)) => {
            type_change(&old.ty, &new.ty, kind, subject, out);
            if old.required != new.required {
                // Senders must now provide it / readers can no longer count on it.
                let (breaking, detail) = if new.required {
                    (usage.sent(), "now required")
                } else {
                    (usage.received(), "no longer required")
                };
                out.push(change(breaking, kind, subject, detail));
            }
            if old.nullable != new.nullable {
                let (breaking, detail) = if new.nullable {
                    (usage.received(), "now nullable")
                } else {
                    (usage.sent(), "no longer nullable")
                };
                out.push(change(breaking, kind, subject, detail));
            }
        }
        // Client code reads the field (or sends it to a server that ignores or rejects it).
        (Some(_), None) => out.push(change(true, ChangeKind::FieldRemoved, subject, "removed")),
        (None, Some(new)) => {
            let ty = match (
                new.nullable,
                new.ty.contains(" | ") || new.ty.contains(" & "),
            ) {
                (false, _) => new.ty.clone(),
                (true, false) => format!("{}?", new.ty),
                (true, true) => format!("({})?", new.ty),
            };
            let detail = format!("{} field added ({ty})", requiredness(new.required));
            // Existing clients do not send it, which only matters when the server requires it.
            out.push(change(
                new.required && usage.sent(),
                ChangeKind::FieldAdded,
                subject,
                detail,
            ));
        }
        (None, None) => {}
    }
}

/// A type change is breaking, except between two inline enums, where only the
/// removed values are.
fn type_change(old: &str, new: &str, kind: ChangeKind, subject: &str, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    match (inline_enum(old), inline_enum(new)) {
        (Some((old_values, old_nullable)), Some((new_values, new_nullable)))
            if old_nullable == new_nullable =>
        {
            enum_change(&old_values, &new_values, subject, out);
        }
        _ => out.push(change(true, kind, subject, format!("type {old} -> {new}"))),
    }
}

fn enum_change<S: AsRef<str>>(old: &[S], new: &[S], subject: &str, out: &mut Vec<Change>) {
    let old: BTreeSet<&str> = old.iter().map(AsRef::as_ref).collect();
    let new: BTreeSet<&str> = new.iter().map(AsRef::as_ref).collect();
    for value in old.difference(&new) {
        out.push(change(
            true,
            ChangeKind::EnumValueRemoved,
            subject,
            format!("enum value `{value}` removed"),
        ));
    }
    for value in new.difference(&old) {
        out.push(change(
            false,
            ChangeKind::EnumValueAdded,
            subject,
            format!("enum value `{value}` added"),
        ));
    }
}

/// The values and nullability of a type rendered by
/// [`crate::surface::type_name`] as `enum(a|b)` or `enum(a|b)?`.
fn inline_enum(ty: &str) -> Option<(Vec<&str>, bool)> {
    let (ty, nullable) = match ty.strip_suffix('?') {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    let inner = ty.strip_prefix("enum(")?.strip_suffix(')')?;
    // `enum(a) | enum(b)` is a union of two enums, not one enum.
    if inner.contains(") | ") || inner.contains(") & ") {
        return None;
    }
    Some((inner.split('|').collect(), nullable))
}

fn requiredness(required: bool) -> &'static str {
    if required {
        "required"
    } else {
        "optional"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surface::surface;
    use serde_json::{json, Value};

    /// A small service with a request-only schema (NewPost), a response-only one
    /// (Post, Page) and an enum used both ways (Status).
    fn base() -> Value {
        json!({
            "openapi": "3.0.3",
            "info": { "title": "posts", "version": "1" },
            "paths": {
                "/posts": {
                    "get": {
                        "operationId": "get_posts",
                        "parameters": [
                            { "name": "limit", "in": "query", "required": false, "schema": { "type": "integer" } },
                            { "name": "order", "in": "query", "required": false,
                              "schema": { "type": "string", "x-enum-values": ["asc", "desc"] } }
                        ],
                        "responses": { "200": { "description": "ok", "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/Page" } }
                        } } }
                    },
                    "post": {
                        "operationId": "create_post",
                        "requestBody": { "required": false, "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/NewPost" } }
                        } },
                        "responses": { "201": { "description": "created", "content": {
                            "application/json": { "schema": { "$ref": "#/components/schemas/Post" } }
                        } } }
                    }
                },
                "/posts/{post_id}": {
                    "delete": {
                        "operationId": "delete_post",
                        "parameters": [
                            { "name": "post_id", "in": "path", "required": true, "schema": { "type": "string" } }
                        ],
                        "responses": { "204": { "description": "deleted" } }
                    }
                }
            },
            "components": { "schemas": {
                "Page": {
                    "type": "object",
                    "required": ["items"],
                    "properties": {
                        "items": { "type": "array", "items": { "$ref": "#/components/schemas/Post" } },
                        "next": { "type": "string", "nullable": true }
                    }
                },
                "Post": {
                    "type": "object",
                    "required": ["id", "title", "status"],
                    "properties": {
                        "id": { "type": "string" },
                        "title": { "type": "string" },
                        "score": { "type": "integer", "format": "int64" },
                        "status": { "$ref": "#/components/schemas/Status" }
                    }
                },
                "NewPost": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {
                        "title": { "type": "string" },
                        "status": { "$ref": "#/components/schemas/Status" }
                    }
                },
                "Status": { "type": "string", "x-enum-values": ["draft", "published"] }
            } }
        })
    }

    /// The changes from the base document to the base document edited by `edit`.
    fn drift_after(edit: impl FnOnce(&mut Value)) -> Vec<Change> {
        let old = base();
        let mut new = old.clone();
        edit(&mut new);
        drift(&surface(&old), &surface(&new))
    }

    fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
        doc.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("test document has no {pointer}"))
    }

    fn remove(doc: &mut Value, pointer: &str) -> Value {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
        let key = key.replace("~1", "/").replace("~0", "~");
        at(doc, parent)
            .as_object_mut()
            .and_then(|o| o.remove(&key))
            .unwrap_or_else(|| panic!("test document has no {pointer}"))
    }

    /// Asserts exactly one change and returns it.
    fn single(changes: Vec<Change>) -> Change {
        assert_eq!(changes.len(), 1, "expected one change, got {changes:#?}");
        changes.into_iter().next().expect("length checked")
    }

    fn limit_param() -> &'static str {
        "/paths/~1posts/get/parameters/0"
    }

    #[test]
    fn identical_documents_have_no_changes() {
        let s = surface(&base());
        let changes = drift(&s, &s.clone());
        assert!(changes.is_empty(), "{changes:#?}");
        assert!(!has_breaking(&changes));
        assert_eq!(render(&changes), "no changes");
    }

    #[test]
    fn operation_removed_is_breaking() {
        let c = single(drift_after(|d| {
            remove(d, "/paths/~1posts~1{post_id}");
        }));
        assert_eq!(c.kind, ChangeKind::OperationRemoved);
        assert_eq!(c.subject, "operation delete_post");
        assert!(c.breaking);
    }

    #[test]
    fn operation_added_is_not_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts~1{post_id}")["head"] = json!({ "operationId": "head_post", "responses": { "200": { "description": "ok" } } });
        }));
        assert_eq!(c.kind, ChangeKind::OperationAdded);
        assert_eq!(c.detail, "added (HEAD /posts/{post_id})");
        assert!(!c.breaking);
    }

    #[test]
    fn method_change_is_breaking() {
        let c = single(drift_after(|d| {
            let op = remove(d, "/paths/~1posts~1{post_id}/delete");
            at(d, "/paths/~1posts~1{post_id}")["post"] = op;
        }));
        assert_eq!(c.kind, ChangeKind::OperationChanged);
        assert_eq!(c.detail, "method DELETE -> POST");
        assert!(c.breaking);
    }

    #[test]
    fn path_change_is_breaking() {
        let c = single(drift_after(|d| {
            let item = remove(d, "/paths/~1posts~1{post_id}");
            at(d, "/paths")["/v2/posts/{post_id}"] = item;
        }));
        assert_eq!(c.kind, ChangeKind::OperationChanged);
        assert_eq!(c.detail, "path /posts/{post_id} -> /v2/posts/{post_id}");
        assert!(c.breaking);
    }

    #[test]
    fn required_parameter_added_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts/get/parameters")
                .as_array_mut()
                .expect("array")
                .push(json!({ "name": "tenant", "in": "header", "required": true, "schema": { "type": "string" } }));
        }));
        assert_eq!(c.kind, ChangeKind::ParameterAdded);
        assert_eq!(c.subject, "get_posts parameter tenant");
        assert!(c.breaking);
    }

    #[test]
    fn optional_parameter_added_is_not_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts/get/parameters")
                .as_array_mut()
                .expect("array")
                .push(json!({ "name": "cursor", "in": "query", "schema": { "type": "string" } }));
        }));
        assert_eq!(c.kind, ChangeKind::ParameterAdded);
        assert!(!c.breaking);
    }

    #[test]
    fn parameter_removed_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts/get/parameters")
                .as_array_mut()
                .expect("array")
                .remove(0);
        }));
        assert_eq!(c.kind, ChangeKind::ParameterRemoved);
        assert_eq!(c.subject, "get_posts parameter limit");
        assert!(c.breaking);
    }

    #[test]
    fn parameter_type_change_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, limit_param())["schema"] = json!({ "type": "string" });
        }));
        assert_eq!(c.kind, ChangeKind::ParameterChanged);
        assert_eq!(c.detail, "type integer -> string");
        assert!(c.breaking);
    }

    #[test]
    fn parameter_becoming_required_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, limit_param())["required"] = json!(true);
        }));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::ParameterChanged, "now required")
        );
        assert!(c.breaking);
    }

    #[test]
    fn parameter_becoming_optional_is_not_breaking() {
        let old = base();
        let mut required = old.clone();
        at(&mut required, limit_param())["required"] = json!(true);
        let c = single(drift(&surface(&required), &surface(&old)));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::ParameterChanged, "no longer required")
        );
        assert!(!c.breaking);
    }

    #[test]
    fn inline_enum_parameter_values() {
        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts/get/parameters/1/schema/x-enum-values")
                .as_array_mut()
                .expect("array")
                .push(json!("random"));
        }));
        assert_eq!((c.kind, c.breaking), (ChangeKind::EnumValueAdded, false));
        assert_eq!(c.subject, "get_posts parameter order");

        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts/get/parameters/1/schema/x-enum-values")
                .as_array_mut()
                .expect("array")
                .remove(0);
        }));
        assert_eq!((c.kind, c.breaking), (ChangeKind::EnumValueRemoved, true));
        assert_eq!(c.detail, "enum value `asc` removed");
    }

    #[test]
    fn request_body_type_change_is_breaking() {
        let changes = drift_after(|d| {
            at(
                d,
                "/paths/~1posts/post/requestBody/content/application~1json/schema",
            )["$ref"] = json!("#/components/schemas/Post");
        });
        // NewPost is no longer reachable and Post is now also sent.
        let body: Vec<&Change> = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::BodyChanged)
            .collect();
        assert_eq!(body.len(), 1, "{changes:#?}");
        assert_eq!(body[0].detail, "type NewPost -> Post");
        assert!(body[0].breaking);
    }

    #[test]
    fn request_body_becoming_required_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/paths/~1posts/post/requestBody")["required"] = json!(true);
        }));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::BodyChanged, "now required")
        );
        assert_eq!(c.subject, "create_post request body");
        assert!(c.breaking);
    }

    #[test]
    fn request_body_media_type_change_is_breaking() {
        let c = single(drift_after(|d| {
            let media = remove(
                d,
                "/paths/~1posts/post/requestBody/content/application~1json",
            );
            at(d, "/paths/~1posts/post/requestBody/content")["application/merge-patch+json"] =
                media;
        }));
        assert_eq!(
            c.detail,
            "media type application/json -> application/merge-patch+json"
        );
        assert!(c.breaking);
    }

    #[test]
    fn response_type_change_is_breaking() {
        let c = single(
            drift_after(|d| {
                at(
                    d,
                    "/paths/~1posts/get/responses/200/content/application~1json",
                )["schema"] =
                    json!({ "type": "array", "items": { "$ref": "#/components/schemas/Post" } });
                // Keep Page reachable so that only the response changes.
                at(
                    d,
                    "/paths/~1posts/post/responses/201/content/application~1json/schema",
                )["$ref"] = json!("#/components/schemas/Page");
            })
            .into_iter()
            .filter(|c| c.subject == "get_posts response")
            .collect(),
        );
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::ResponseChanged, "type Page -> [Post]")
        );
        assert!(c.breaking);
    }

    #[test]
    fn success_status_change_is_breaking() {
        let c = single(drift_after(|d| {
            let response = remove(d, "/paths/~1posts~1{post_id}/delete/responses/204");
            at(d, "/paths/~1posts~1{post_id}/delete/responses")["200"] = response;
        }));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::ResponseChanged, "success status 204 -> 200")
        );
        assert!(c.breaking);
    }

    #[test]
    fn field_removed_is_breaking() {
        let c = single(drift_after(|d| {
            remove(d, "/components/schemas/Post/properties/score");
        }));
        assert_eq!(c.kind, ChangeKind::FieldRemoved);
        assert_eq!(c.subject, "schema Post field score");
        assert!(c.breaking);
    }

    #[test]
    fn field_added_is_not_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Post/properties")["views"] = json!({ "type": "integer" });
            at(d, "/components/schemas/Post/required")
                .as_array_mut()
                .expect("array")
                .push(json!("views"));
        }));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::FieldAdded, "required field added (integer)")
        );
        assert!(!c.breaking);
    }

    #[test]
    fn required_field_added_to_a_sent_schema_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/NewPost/properties")["body"] = json!({ "type": "string" });
            at(d, "/components/schemas/NewPost/required")
                .as_array_mut()
                .expect("array")
                .push(json!("body"));
        }));
        assert_eq!(c.kind, ChangeKind::FieldAdded);
        assert!(c.breaking);

        let c = single(drift_after(|d| {
            at(d, "/components/schemas/NewPost/properties")["body"] = json!({ "type": "string" });
        }));
        assert_eq!(c.kind, ChangeKind::FieldAdded);
        assert!(!c.breaking);
    }

    #[test]
    fn field_type_change_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Post/properties/score")["format"] = json!("int32");
        }));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (
                ChangeKind::FieldChanged,
                "type integer(int64) -> integer(int32)"
            )
        );
        assert!(c.breaking);
    }

    #[test]
    fn received_field_becoming_optional_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Post")["required"] = json!(["id", "status"]);
        }));
        assert_eq!(
            (c.subject.as_str(), c.detail.as_str()),
            ("schema Post field title", "no longer required")
        );
        assert!(c.breaking);
    }

    #[test]
    fn received_field_becoming_nullable_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Post/properties/title")["nullable"] = json!(true);
        }));
        assert_eq!(
            (c.kind, c.detail.as_str()),
            (ChangeKind::FieldChanged, "now nullable")
        );
        assert!(c.breaking);
    }

    #[test]
    fn received_field_becoming_required_is_not_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Post")["required"] =
                json!(["id", "title", "status", "score"]);
        }));
        assert_eq!(
            (c.subject.as_str(), c.detail.as_str()),
            ("schema Post field score", "now required")
        );
        assert!(!c.breaking);
    }

    #[test]
    fn sent_field_loosening_is_not_breaking_and_tightening_is() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/NewPost")["required"] = json!([]);
        }));
        assert_eq!(c.detail, "no longer required");
        assert!(!c.breaking);

        let c = single(drift_after(|d| {
            at(d, "/components/schemas/NewPost")["required"] = json!(["title", "status"]);
        }));
        assert_eq!(c.detail, "now required");
        assert!(c.breaking);
    }

    #[test]
    fn enum_value_removed_is_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Status")["x-enum-values"] = json!(["published"]);
        }));
        assert_eq!(c.kind, ChangeKind::EnumValueRemoved);
        assert_eq!(
            (c.subject.as_str(), c.detail.as_str()),
            ("schema Status", "enum value `draft` removed")
        );
        assert!(c.breaking);
    }

    #[test]
    fn enum_value_added_is_not_breaking() {
        let c = single(drift_after(|d| {
            at(d, "/components/schemas/Status")["x-enum-values"] =
                json!(["draft", "published", "archived"]);
        }));
        assert_eq!(c.kind, ChangeKind::EnumValueAdded);
        assert!(!c.breaking);
    }

    #[test]
    fn closed_enum_value_added_is_breaking() {
        // Closed (non-string) enums reject unknown values when decoding, so they
        // are compared as whole types, unlike open ones.
        let mut old = base();
        at(&mut old, "/components/schemas/Post/properties/score")["enum"] = json!([1, 2]);
        let mut new = old.clone();
        at(&mut new, "/components/schemas/Post/properties/score")["enum"] = json!([1, 2, 3]);
        let c = single(drift(&surface(&old), &surface(&new)));
        assert_eq!(c.kind, ChangeKind::FieldChanged);
        assert_eq!(c.detail, "type closed enum(1|2) -> closed enum(1|2|3)");
        assert!(c.breaking);
    }

    #[test]
    fn enum_reorder_is_no_change() {
        assert!(drift_after(|d| {
            at(d, "/components/schemas/Status")["x-enum-values"] = json!(["published", "draft"]);
            at(d, "/paths/~1posts/get/parameters/1/schema")["x-enum-values"] =
                json!(["desc", "asc"]);
        })
        .is_empty());
    }

    #[test]
    fn reachable_schema_removed_is_breaking() {
        let changes = drift_after(|d| {
            at(
                d,
                "/paths/~1posts/post/requestBody/content/application~1json",
            )["schema"] = json!({ "type": "string" });
        });
        let removed: Vec<&Change> = changes
            .iter()
            .filter(|c| c.kind == ChangeKind::SchemaRemoved)
            .collect();
        assert_eq!(removed.len(), 1, "{changes:#?}");
        assert_eq!(removed[0].subject, "schema NewPost");
        assert!(removed[0].breaking);
    }

    #[test]
    fn unreachable_schema_changes_are_invisible() {
        assert!(drift_after(|d| {
            at(d, "/components/schemas")["Draft"] = json!({ "type": "object" });
        })
        .is_empty());
    }

    #[test]
    fn schema_added_is_not_breaking() {
        let changes = drift_after(|d| {
            at(d, "/components/schemas")["Author"] =
                json!({ "type": "object", "properties": { "name": { "type": "string" } } });
            at(d, "/components/schemas/Post/properties")["author"] =
                json!({ "$ref": "#/components/schemas/Author" });
        });
        assert_eq!(changes.len(), 2, "{changes:#?}");
        assert_eq!(
            (changes[0].kind, changes[0].breaking),
            (ChangeKind::SchemaAdded, false)
        );
        assert_eq!(changes[0].subject, "schema Author");
        assert_eq!(
            (changes[1].kind, changes[1].breaking),
            (ChangeKind::FieldAdded, false)
        );
    }

    #[test]
    fn render_mixed_changes() {
        let changes = drift_after(|d| {
            remove(d, "/paths/~1posts~1{post_id}");
            at(d, limit_param())["required"] = json!(true);
            at(d, "/paths/~1posts/get/parameters")
                .as_array_mut()
                .expect("array")
                .push(json!({ "name": "cursor", "in": "query", "schema": { "type": "string" } }));
            at(d, "/components/schemas/Post/properties")["views"] = json!({ "type": "integer" });
            remove(d, "/components/schemas/Post/properties/score");
            at(d, "/components/schemas/Status")["x-enum-values"] =
                json!(["draft", "published", "archived"]);
        });
        assert!(has_breaking(&changes));
        insta::assert_snapshot!(render(&changes));
    }

    #[test]
    fn render_counts() {
        let one = [change(
            false,
            ChangeKind::SchemaAdded,
            "schema A",
            "added (object)",
        )];
        assert!(!has_breaking(&one));
        assert_eq!(
            render(&one),
            "          schema A: added (object)\n1 change, 0 breaking"
        );
    }
}
