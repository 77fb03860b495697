//! Errors and request-body parsing in the shape a FastAPI service produces,
//! for the services (Promptev) that are FastAPI applications.

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
        let (msg, kind) = if message.contains("expected a string") {
            ("Input should be a valid string", "string_type")
        } else if message.contains("expected a boolean") {
            ("Input should be a valid boolean", "bool_type")
        } else if message.contains("expected a map") {
            ("Input should be a valid dictionary", "dict_type")
        } else if message.contains("expected a sequence") {
            ("Input should be a valid list", "list_type")
        } else if message.contains("expected u") || message.contains("expected i") {
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

    #[test]
    fn unknown_fields_are_ignored() {
        let body: Body = parse_body(br#"{"message":"hi","extra":[1,2]}"#).unwrap();
        assert_eq!(body.message, "hi");
    }
}
