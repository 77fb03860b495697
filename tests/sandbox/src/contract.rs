//! Answers for every operation of the contracts, made from their response
//! schemas: what the sandbox says to an operation it has no stateful handler
//! for, and — with [`SandboxBuilder::contract_answers`](crate::SandboxBuilder)
//! — to every operation, so a test can check that each kept operation's
//! answer decodes.

use std::sync::OnceLock;

use agentwire_contract::example::{example, Fill};
use axum::body::Body;
use axum::http::{header, Method, Response, StatusCode};
use serde_json::Value;

struct Contract {
    doc: Value,
}

fn contracts() -> &'static [Contract] {
    static CONTRACTS: OnceLock<Vec<Contract>> = OnceLock::new();
    CONTRACTS.get_or_init(|| {
        [
            include_str!("../../../openapi/colony.json"),
            include_str!("../../../openapi/mycel.json"),
            include_str!("../../../openapi/promptev.json"),
        ]
        .iter()
        .filter_map(|text| serde_json::from_str(text).ok())
        .map(|doc| Contract { doc })
        .collect()
    })
}

/// The Colony's contract, parsed once.
pub(crate) fn colony_document() -> Option<&'static Value> {
    // Listed first in `contracts`.
    contracts().first().map(|c| &c.doc)
}

/// Whether `path` fits the template `/a/{b}/c`.
pub(crate) fn matches(template: &str, path: &str) -> bool {
    let mut t = template.trim_end_matches('/').split('/');
    let mut p = path.trim_end_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let param = ts.starts_with('{') && ts.ends_with('}');
                if !(param && !ps.is_empty() || ts == ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The contract's answer to `method path`, when some contract has that
/// operation: its first documented success, with a value of its schema.
pub(crate) fn answer(method: &Method, path: &str) -> Option<Response<Body>> {
    let method = method.as_str().to_ascii_lowercase();
    for contract in contracts() {
        let Some(paths) = contract.doc.get("paths").and_then(Value::as_object) else {
            continue;
        };
        // A literal segment beats a parameter: `/posts/feed` before `/posts/{id}`.
        let mut candidates: Vec<(&String, &Value)> = paths
            .iter()
            .filter(|(template, _)| matches(template, path))
            .collect();
        candidates.sort_by_key(|(template, _)| template.matches('{').count());
        for (_, item) in candidates {
            if let Some(op) = item.get(&method) {
                return Some(respond(&contract.doc, op));
            }
        }
    }
    None
}

fn respond(doc: &Value, op: &Value) -> Response<Body> {
    let responses = op.get("responses").and_then(Value::as_object);
    let success = responses.and_then(|r| {
        let mut codes: Vec<(&String, &Value)> =
            r.iter().filter(|(code, _)| code.starts_with('2')).collect();
        codes.sort_by_key(|(code, _)| code.as_str());
        codes.into_iter().next()
    });
    let Some((code, response)) = success else {
        return empty(StatusCode::NO_CONTENT);
    };
    let status = code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .unwrap_or(StatusCode::OK);
    let content = response.get("content").and_then(Value::as_object);
    if let Some(media) = content.and_then(|c| c.get("application/json")) {
        let schema = media.get("schema").cloned().unwrap_or(Value::Null);
        let body = example(doc, &schema, Fill::All);
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR));
    }
    if content.is_some_and(|c| c.contains_key("text/event-stream")) {
        return Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from("data: {}\n\n"))
            .unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR));
    }
    empty(status)
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert!(matches("/api/v1/posts/{id}", "/api/v1/posts/abc"));
        assert!(!matches("/api/v1/posts/{id}", "/api/v1/posts/"));
        assert!(!matches("/api/v1/posts/{id}", "/api/v1/posts/a/b"));
        assert!(matches("/api/v1/posts", "/api/v1/posts/"));
    }
}
