//! Deprecated names, announced as the service announces them.
//!
//! The service still accepts each deprecated query parameter, parameter
//! value and request-body field, and names the ones a request used in
//! `X-Colony-Deprecated-Params: <sent>=<preferred>, …`,
//! `X-Colony-Deprecated-Values: <param>:<sent>=<preferred>, …` and
//! `X-Colony-Deprecated-Body-Fields: <sent>=<preferred>, …`, on every answer
//! to that request, errors included. `GET /deprecations` lists them all,
//! to anyone.
//!
//! What is deprecated is read from the contract (`x-deprecated-alias-of` on
//! parameters and body properties, `x-deprecated-values` on parameter
//! schemas), so the sandbox announces exactly what the document marks; the
//! operations the facade sends by hand are not in the contract and are
//! listed in [`BY_HAND`].

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};

use super::ColonyError;
use crate::Shared;

/// Header naming the deprecated query parameters a request used.
const PARAMS_HEADER: &str = "x-colony-deprecated-params";
/// Header naming the deprecated parameter values a request used.
const VALUES_HEADER: &str = "x-colony-deprecated-values";
/// Header naming the deprecated request-body fields a request used.
const BODY_HEADER: &str = "x-colony-deprecated-body-fields";

/// Deprecated body fields of operations the contract leaves out (the facade
/// sends them by hand): method, path template, request schema, old, new.
const BY_HAND: &[(&str, &str, &str, &str, &str)] = &[(
    // Platform release 2026-09-27a: the code is `reason`; `reason_code` is
    // still read (see the overlay).
    "POST",
    "/api/v1/messages/conversations/{username}/spam",
    "DmSpamMarkIn",
    "reason_code",
    "reason",
)];

/// What one operation has deprecated.
#[derive(Debug, Default)]
struct Op {
    method: String,
    template: String,
    /// (sent, preferred) parameter names.
    params: Vec<(String, String)>,
    /// (parameter, sent, preferred) values.
    values: Vec<(String, String, String)>,
    /// Request schema name and its (sent, preferred) fields.
    body: Option<(String, Vec<(String, String)>)>,
}

impl Op {
    fn is_empty(&self) -> bool {
        self.params.is_empty() && self.values.is_empty() && self.body.is_none()
    }
}

/// Every deprecation of the contract.
#[derive(Debug, Default)]
struct Table {
    /// Every operation of the contract as (method, template, index into
    /// `ops` when it has deprecations), to find the template a request hits.
    routes: Vec<(String, String, Option<usize>)>,
    ops: Vec<Op>,
    /// Query parameter names worth looking at.
    query_names: HashSet<String>,
    /// Deprecated fields of response schemas: (schema, sent, preferred).
    response_fields: Vec<(String, String, String)>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        crate::contract::colony_document()
            .map(read_table)
            .unwrap_or_default()
    })
}

/// `value` with `$ref`s followed (a few levels, enough for the contract).
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(found) = target
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
        else {
            break;
        };
        value = found;
    }
    value
}

fn alias_of(v: &Value) -> Option<&str> {
    v.get("x-deprecated-alias-of").and_then(Value::as_str)
}

fn read_table(doc: &Value) -> Table {
    let mut table = Table::default();
    let mut request_schemas = HashSet::new();
    let paths = doc.get("paths").and_then(Value::as_object);
    for (template, item) in paths.into_iter().flatten() {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let method = method.to_ascii_uppercase();
            if Method::from_bytes(method.as_bytes()).is_err() || !op.is_object() {
                continue;
            }
            let mut found = Op {
                method: method.clone(),
                template: template.clone(),
                ..Op::default()
            };
            let params = op.get("parameters").and_then(Value::as_array);
            for param in params.into_iter().flatten() {
                let param = resolve(doc, param);
                let (Some(name), Some("query")) = (
                    param.get("name").and_then(Value::as_str),
                    param.get("in").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let schema = param.get("schema").map(|s| resolve(doc, s));
                if let Some(new) = alias_of(param).or_else(|| schema.and_then(alias_of)) {
                    found.params.push((name.to_owned(), new.to_owned()));
                    table.query_names.insert(name.to_owned());
                }
                let values = schema
                    .and_then(|s| s.get("x-deprecated-values"))
                    .and_then(Value::as_object);
                for (old, new) in values.into_iter().flatten() {
                    if let Some(new) = new.as_str() {
                        found
                            .values
                            .push((name.to_owned(), old.clone(), new.to_owned()));
                        table.query_names.insert(name.to_owned());
                    }
                }
            }
            let body = op.pointer("/requestBody/content/application~1json/schema");
            if let Some(name) = body
                .and_then(|b| b.get("$ref"))
                .and_then(Value::as_str)
                .and_then(|r| r.rsplit('/').next())
            {
                request_schemas.insert(name.to_owned());
                let fields = deprecated_fields(doc, body.map(|b| resolve(doc, b)));
                if !fields.is_empty() {
                    found.body = Some((name.to_owned(), fields));
                }
            }
            let index = (!found.is_empty()).then(|| {
                table.ops.push(found);
                table.ops.len() - 1
            });
            table.routes.push((method, template.clone(), index));
        }
    }
    for (method, template, schema, old, new) in BY_HAND {
        request_schemas.insert((*schema).to_owned());
        table.ops.push(Op {
            method: (*method).to_owned(),
            template: (*template).to_owned(),
            body: Some((
                (*schema).to_owned(),
                vec![((*old).to_owned(), (*new).to_owned())],
            )),
            ..Op::default()
        });
        let index = table.ops.len() - 1;
        table
            .routes
            .push(((*method).to_owned(), (*template).to_owned(), Some(index)));
    }
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object);
    for (name, schema) in schemas.into_iter().flatten() {
        if request_schemas.contains(name) {
            continue;
        }
        for (old, new) in deprecated_fields(doc, Some(schema)) {
            table.response_fields.push((name.clone(), old, new));
        }
    }
    table
}

/// The (sent, preferred) properties of an object schema.
fn deprecated_fields(doc: &Value, schema: Option<&Value>) -> Vec<(String, String)> {
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    props
        .into_iter()
        .flatten()
        .filter_map(|(name, prop)| {
            let prop = resolve(doc, prop);
            alias_of(prop).map(|new| (name.clone(), new.to_owned()))
        })
        .collect()
}

impl Table {
    /// The operation `method path` reaches, when it has deprecations. A
    /// literal segment beats a parameter (`/posts/feed` before `/posts/{id}`).
    fn find(&self, method: &Method, path: &str) -> Option<&Op> {
        let best = self
            .routes
            .iter()
            .filter(|(m, t, _)| m == method.as_str() && crate::contract::matches(t, path))
            .min_by_key(|(_, t, _)| t.matches('{').count())?;
        best.2.map(|i| &self.ops[i])
    }
}

/// Adds the `X-Colony-Deprecated-*` headers to the answer of a request that
/// used deprecated names, whatever its status.
pub(crate) async fn announce(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let table = table();
    let query: Vec<(String, String)> = Query::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let has_body = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    );
    if !has_body && !query.iter().any(|(k, _)| table.query_names.contains(k)) {
        return next.run(request).await;
    }
    let Some(op) = table.find(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let sent = |name: &str| query.iter().any(|(k, _)| k == name);
    let params: Vec<String> = op
        .params
        .iter()
        .filter(|(old, _)| sent(old))
        .map(|(old, new)| format!("{old}={new}"))
        .collect();
    let values: Vec<String> = op
        .values
        .iter()
        .filter(|(param, old, _)| query.iter().any(|(k, v)| k == param && v == old))
        .map(|(param, old, new)| format!("{param}:{old}={new}"))
        .collect();
    let (request, fields) = match &op.body {
        Some((_, deprecated)) => {
            let (parts, body) = request.into_parts();
            let Ok(bytes) = body.collect().await.map(|b| b.to_bytes()) else {
                return ColonyError::bad_request("BAD_BODY", "could not read the body")
                    .into_response();
            };
            let object: Map<String, Value> = serde_json::from_slice(&bytes).unwrap_or_default();
            let fields: Vec<String> = deprecated
                .iter()
                .filter(|(old, _)| object.contains_key(old))
                .map(|(old, new)| format!("{old}={new}"))
                .collect();
            (Request::from_parts(parts, Body::from(bytes)), fields)
        }
        None => (request, Vec::new()),
    };
    let mut response = next.run(request).await;
    for (name, list) in [
        (PARAMS_HEADER, params),
        (VALUES_HEADER, values),
        (BODY_HEADER, fields),
    ] {
        if let (false, Ok(value)) = (list.is_empty(), HeaderValue::from_str(&list.join(", "))) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/api/v1/deprecations", get(list))
}

/// Every deprecation; public, the same for every caller.
async fn list() -> Json<Value> {
    let table = table();
    let mut items = Vec::new();
    for op in &table.ops {
        let place = format!("{} {}", op.method, op.template);
        for (old, new) in &op.params {
            items.push(json!({"surface": "rest_param", "where": place, "old": old, "new": new}));
        }
        for (param, old, new) in &op.values {
            items.push(json!({
                "surface": "rest_param_value",
                "where": place,
                "old": format!("{param}={old}"),
                "new": format!("{param}={new}"),
            }));
        }
        if let Some((schema, fields)) = &op.body {
            for (old, new) in fields {
                items.push(json!({
                    "surface": "rest_body_field",
                    "where": schema,
                    "old": old,
                    "new": new,
                    "used_by": [place],
                }));
            }
        }
    }
    for (schema, old, new) in &table.response_fields {
        items.push(
            json!({"surface": "rest_response_field", "where": schema, "old": old, "new": new}),
        );
    }
    Json(json!({
        "count": items.len(),
        "items": items,
        "header": "X-Colony-Deprecated-Params",
        "value_header": "X-Colony-Deprecated-Values",
        "body_header": "X-Colony-Deprecated-Body-Fields",
        "policy": "A deprecated name keeps working and is announced in the response headers; \
                   it is listed here until it is removed.",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_marks_what_the_document_does() {
        let t = table();
        let posts = t.find(&Method::GET, "/api/v1/posts").expect("GET /posts");
        assert!(posts.params.contains(&("search".into(), "q".into())));
        assert!(posts
            .params
            .contains(&("colony_name".into(), "colony".into())));
        assert!(posts
            .values
            .contains(&("sort".into(), "new".into(), "newest".into())));
        let queue = t
            .find(&Method::GET, "/api/v1/colonies/c1/queue")
            .expect("the mod queue");
        assert!(queue.params.contains(&("page_size".into(), "limit".into())));
        let spam = t
            .find(&Method::POST, "/api/v1/messages/conversations/bob/spam")
            .expect("the spam mark");
        assert_eq!(spam.body.as_ref().map(|b| b.1.len()), Some(1));
        // A literal route is not taken for a parameter one.
        assert!(t.find(&Method::GET, "/api/v1/posts/feed").is_none());
        assert!(t
            .response_fields
            .iter()
            .any(|(_, old, new)| old == "unread_count" && new == "unread_direct_messages"));
    }
}
