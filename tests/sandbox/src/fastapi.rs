//! Errors and request parsing in the shape a FastAPI service produces, for
//! the services (all three) that are FastAPI applications: a request that
//! fails validation gets a 422 whose `detail` lists each problem with its
//! `loc`, `msg` and `type` (and `ctx` for a broken bound), as pydantic 2
//! words them.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// An error answered as `{"detail": ...}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    detail: Value,
}

impl ApiError {
    /// `{"detail": "<text>"}` with `status`.
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: Value::String(detail.into()),
        }
    }

    /// A 422 validation error holding one entry, as FastAPI lists them.
    pub(crate) fn validation(loc: Vec<Value>, msg: &str, kind: &str) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "loc": loc, "msg": msg, "type": kind }]),
        }
    }

    /// A 422 entry with the `ctx` pydantic adds to a broken bound.
    pub(crate) fn validation_ctx(loc: Vec<Value>, msg: &str, kind: &str, ctx: Value) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            detail: json!([{ "loc": loc, "msg": msg, "type": kind, "ctx": ctx }]),
        }
    }

    /// A 422 for a query parameter outside its contract's bounds `lo..=hi`.
    pub(crate) fn query_range(name: &str, value: i64, lo: i64, hi: i64) -> ApiError {
        let loc = vec!["query".into(), name.into()];
        if value < lo {
            ApiError::validation_ctx(
                loc,
                &format!("Input should be greater than or equal to {lo}"),
                "greater_than_equal",
                json!({ "ge": lo }),
            )
        } else {
            ApiError::validation_ctx(
                loc,
                &format!("Input should be less than or equal to {hi}"),
                "less_than_equal",
                json!({ "le": hi }),
            )
        }
    }

    /// A 422 for a query parameter that does not match its contract's
    /// `pattern`.
    pub(crate) fn query_pattern(name: &str, pattern: &str) -> ApiError {
        ApiError::validation_ctx(
            vec!["query".into(), name.into()],
            &format!("String should match pattern '{pattern}'"),
            "string_pattern_mismatch",
            json!({ "pattern": pattern }),
        )
    }

    /// A 422 for a query string outside its contract's length bounds.
    pub(crate) fn query_length(name: &str, len: usize, min: usize, max: usize) -> ApiError {
        let loc = vec!["query".into(), name.into()];
        if len < min {
            ApiError::validation_ctx(
                loc,
                &format!(
                    "String should have at least {min} character{}",
                    if min == 1 { "" } else { "s" }
                ),
                "string_too_short",
                json!({ "min_length": min }),
            )
        } else {
            ApiError::validation_ctx(
                loc,
                &format!("String should have at most {max} characters"),
                "string_too_long",
                json!({ "max_length": max }),
            )
        }
    }

    /// The status answered.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// What goes under `detail`.
    pub(crate) fn into_detail(self) -> Value {
        self.detail
    }

    /// A 422 for a required query parameter that is absent.
    pub(crate) fn missing_query(name: &str) -> ApiError {
        ApiError::validation(
            vec!["query".into(), name.into()],
            "Field required",
            "missing",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "detail": self.detail }))).into_response()
    }
}

/// A JSON request body whose rejections are FastAPI-shaped 422s instead of
/// axum's plain-text ones. The content type is not checked, as FastAPI
/// parses a body without one as JSON too.
pub(crate) struct FastJson<T>(pub(crate) T);

impl<S, T> FromRequest<S> for FastJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::new(r.status(), r.body_text()))?;
        parse_body(&bytes).map(FastJson)
    }
}

/// A bounded integer query parameter: its value, or `default` when absent;
/// outside `lo..=hi` a FastAPI 422.
pub(crate) fn bounded(
    name: &str,
    value: Option<i64>,
    default: i64,
    lo: i64,
    hi: i64,
) -> Result<usize, ApiError> {
    let value = value.unwrap_or(default);
    if !(lo..=hi).contains(&value) {
        return Err(ApiError::query_range(name, value, lo, hi));
    }
    Ok(usize::try_from(value).unwrap_or(0))
}

/// Query parameters whose rejections are FastAPI-shaped 422s located at
/// `["query", name]`, instead of axum's plain-text 400s.
pub(crate) struct FastQuery<T>(pub(crate) T);

impl<S, T> axum::extract::FromRequestParts<S> for FastQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(FastQuery)
    }
}

/// Parses a query string the way FastAPI validates query parameters.
pub(crate) fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_parse(query));
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let name = e.path().to_string();
        let message = e.inner().to_string();
        if let Some(field) = missing_field(&message) {
            return ApiError::missing_query(field);
        }
        let loc = vec!["query".into(), name.into()];
        let (msg, kind) = if message.contains("invalid digit")
            || message.contains("expected u")
            || message.contains("expected i")
            || message.contains("number too large")
        {
            (
                "Input should be a valid integer, unable to parse string as an integer",
                "int_parsing",
            )
        } else if message.contains("true") && message.contains("false") {
            (
                "Input should be a valid boolean, unable to interpret input",
                "bool_parsing",
            )
        } else if message.contains("UUID") || message.contains("uuid") {
            (
                "Input should be a valid UUID, invalid character",
                "uuid_parsing",
            )
        } else {
            return ApiError::validation(loc, &message, "value_error");
        };
        ApiError::validation(loc, msg, kind)
    })
}

fn form_urlencoded_parse(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

fn quoted_choices(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What pydantic says about a value the contract's types refused (the
/// generated types word their bounds as "longer than N characters"…).
fn pydantic_refusal(message: &str) -> Option<(String, &'static str, Value)> {
    let number = |rest: &str| -> Option<i64> { rest.split(' ').next()?.parse().ok() };
    if let Some(rest) = message.strip_prefix("longer than ") {
        let n = number(rest)?;
        return Some((
            format!("String should have at most {n} characters"),
            "string_too_long",
            json!({ "max_length": n }),
        ));
    }
    if let Some(rest) = message.strip_prefix("shorter than ") {
        let n = number(rest)?;
        return Some((
            format!(
                "String should have at least {n} character{}",
                if n == 1 { "" } else { "s" }
            ),
            "string_too_short",
            json!({ "min_length": n }),
        ));
    }
    if let Some(rest) = message.strip_prefix("doesn't match pattern ") {
        let pattern = rest.trim_matches('"');
        return Some((
            format!("String should match pattern '{pattern}'"),
            "string_pattern_mismatch",
            json!({ "pattern": pattern }),
        ));
    }
    // serde's word for an enum value outside the list.
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let expected = rest.split_once("expected ")?.1;
        let choices: Vec<&str> = expected
            .trim_start_matches("one of ")
            .split(", ")
            .map(|c| c.trim_matches('`'))
            .collect();
        let expected = quoted_choices(&choices);
        return Some((
            format!("Input should be {expected}"),
            "enum",
            json!({ "expected": expected }),
        ));
    }
    None
}

/// Parses a request body the way FastAPI validates one against a model.
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::validation(
            vec!["body".into()],
            "Field required",
            "missing",
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(
            vec![
                "body".into(),
                byte_offset(bytes, e.line(), e.column()).into(),
            ],
            "JSON decode error",
            "json_invalid",
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::validation(
            vec!["body".into()],
            "Input should be a valid dictionary or object to extract fields from",
            "model_attributes_type",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut loc: Vec<Value> = vec!["body".into()];
        for segment in e.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => loc.push((*index).into()),
                Segment::Map { key } => loc.push(key.as_str().into()),
                Segment::Enum { variant } => loc.push(variant.as_str().into()),
                Segment::Unknown => {}
            }
        }
        let message = e.inner().to_string();
        // serde reports a missing field on the enclosing struct, with the
        // field's name only in the message: FastAPI puts it in `loc`.
        if let Some(field) = missing_field(&message) {
            loc.push(field.into());
            return ApiError::validation(loc, "Field required", "missing");
        }
        if let Some((msg, kind, ctx)) = pydantic_refusal(&message) {
            return ApiError::validation_ctx(loc, &msg, kind, ctx);
        }
        let (msg, kind) = if message.contains("expected a string") {
            ("Input should be a valid string", "string_type")
        } else if message.contains("expected a boolean") {
            ("Input should be a valid boolean", "bool_type")
        } else if message.contains("expected a map") {
            ("Input should be a valid dictionary", "dict_type")
        } else if message.contains("expected a sequence") {
            ("Input should be a valid list", "list_type")
        } else if message.contains("expected u")
            || message.contains("expected i")
            || message.contains("expected f")
        {
            ("Input should be a valid integer", "int_type")
        } else {
            return ApiError::validation(loc, &message, "value_error");
        };
        ApiError::validation(loc, msg, kind)
    })
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

// FastAPI reports where JSON decoding failed as a character offset; serde
// gives a 1-based line and column.
fn byte_offset(bytes: &[u8], line: usize, column: usize) -> usize {
    let before: usize = bytes
        .split(|b| *b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (before + column.saturating_sub(1)).min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        message: String,
        flag: Option<bool>,
    }

    fn detail(bytes: &[u8]) -> Value {
        parse_body::<Body>(bytes).unwrap_err().detail
    }

    #[test]
    fn missing_field_is_located_in_the_body() {
        assert_eq!(
            detail(b"{}"),
            json!([{"loc":["body","message"],"msg":"Field required","type":"missing"}])
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        assert_eq!(
            detail(br#"{"message":5}"#)[0],
            json!({"loc":["body","message"],"msg":"Input should be a valid string","type":"string_type"})
        );
        assert_eq!(
            detail(br#"{"message":"a","flag":"x"}"#)[0]["loc"],
            json!(["body", "flag"])
        );
    }

    #[test]
    fn malformed_and_absent_bodies() {
        assert_eq!(detail(b"")[0]["type"], "missing");
        assert_eq!(detail(b"{\n  nope")[0]["loc"], json!(["body", 4]));
        assert_eq!(detail(b"[1]")[0]["type"], "model_attributes_type");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Bounded {
        title: agentwire_colony_transport::types::PostCreateTitle,
    }

    #[test]
    fn contract_bounds_read_as_pydantic_words_them() {
        let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(301));
        let detail = parse_body::<Bounded>(long.as_bytes()).unwrap_err().detail;
        assert_eq!(
            detail[0],
            json!({"loc":["body","title"],"msg":"String should have at most 300 characters",
                   "type":"string_too_long","ctx":{"max_length":300}})
        );
        let detail = parse_body::<Bounded>(br#"{"title":""}"#)
            .unwrap_err()
            .detail;
        assert_eq!(detail[0]["type"], "string_too_short");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Query {
        limit: Option<u32>,
        unread_only: Option<bool>,
    }

    #[test]
    fn query_values_that_do_not_parse() {
        let e = parse_query::<Query>("limit=ten").unwrap_err().detail;
        assert_eq!(e[0]["loc"], json!(["query", "limit"]));
        assert_eq!(e[0]["type"], "int_parsing");
        let e = parse_query::<Query>("unread_only=maybe")
            .unwrap_err()
            .detail;
        assert_eq!(e[0]["type"], "bool_parsing");
        assert!(parse_query::<Query>("limit=5&unread_only=true").is_ok());
        let e = ApiError::query_range("limit", 101, 1, 100).detail;
        assert_eq!(
            e[0],
            json!({"loc":["query","limit"],"msg":"Input should be less than or equal to 100",
                   "type":"less_than_equal","ctx":{"le":100}})
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let body: Body = parse_body(br#"{"message":"hi","extra":[1,2]}"#).unwrap();
        assert_eq!(body.message, "hi");
    }
}
