//! One operation, from a built request to agentwire's result.
//!
//! The generated transports build the `reqwest::Request` of an operation and
//! hand it here together with a static [`Operation`] describing it. Everything
//! after that happens in [`Runtime::json`] / [`Runtime::empty`] /
//! [`Runtime::response`]: the request path of [`Runtime::execute`], then the
//! status checked against the contract, then — for JSON — the body decoded
//! once, from the bytes the attempt already read.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::StatusCode;

use crate::body::{read_capped, Unread};
use crate::error::Error;
use crate::send::Answer;
use crate::{Result, Runtime};

/// A boxed future, `Send`, as the operation builders return from
/// `IntoFuture`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a successful answer of an operation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// A JSON document, decoded into the operation's type.
    Json,
    /// Nothing worth reading (`204`, or a body the contract leaves
    /// undescribed).
    Empty,
    /// A long-lived stream (server-sent events): handed on unread, with no
    /// total timeout.
    Stream,
    /// A protocol upgrade (`101`, a WebSocket).
    Upgrade,
}

impl Reply {
    /// Whether the answer is handed on unread, without a total timeout.
    pub fn is_streaming(self) -> bool {
        matches!(self, Reply::Stream | Reply::Upgrade)
    }
}

/// The static description of one operation of a contract, emitted by the
/// transport generator for each operation it keeps.
#[derive(Debug)]
#[non_exhaustive]
pub struct Operation {
    /// The contract's `operationId`.
    pub id: &'static str,
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path template, with `{name}` for path parameters.
    pub path: &'static str,
    /// Documented success statuses, as inclusive ranges.
    pub success: &'static [(u16, u16)],
    /// What a successful answer carries.
    pub reply: Reply,
    /// The names of the operation's parameters (and `body`), as the
    /// builder's setters spell them.
    pub params: &'static [&'static str],
}

impl Operation {
    /// Describes an operation (called by the generated transports).
    pub const fn new(
        id: &'static str,
        method: &'static str,
        path: &'static str,
        success: &'static [(u16, u16)],
        reply: Reply,
        params: &'static [&'static str],
    ) -> Operation {
        Operation {
            id,
            method,
            path,
            success,
            reply,
            params,
        }
    }

    /// Whether the contract documents `status` as a success of this operation.
    pub fn documents(&self, status: u16) -> bool {
        self.success
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

/// Decodes a JSON document, with the result and the errors of
/// `serde_json::from_slice`, at less cost.
///
/// JSON is UTF-8 (RFC 8259 §8.1). `from_slice` checks that string by string,
/// with a call to `str::from_utf8` for each one, which on a page of posts was
/// about 100 000 instructions a request under callgrind, a seventh of all the
/// client did. Checked once over the whole body, the strings need no second
/// check (`from_str`). A body that is not UTF-8 goes to `from_slice`, so that
/// it fails, or passes, exactly as it did before, with the same error
/// message.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// The request a transport built, or why it could not build it.
pub type Built = std::result::Result<reqwest::Request, progenitor_client::Error<()>>;

impl Runtime {
    /// Runs `op` and decodes its JSON answer into `T`.
    pub fn json<'a, T: serde::de::DeserializeOwned + 'a>(
        &'a self,
        client: &'a reqwest::Client,
        built: Built,
        op: &'static Operation,
    ) -> impl Future<Output = Result<T>> + 'a {
        let request = self.boxed(built, op);
        // The call is made inside the block, so that awaiting it does not
        // move a second copy of it into this future.
        async move {
            let (status, body) = match self.call(client, request, op).await? {
                Answer::Buffered(whole) => (whole.status, whole.body),
                Answer::Streamed(response) => {
                    let status = response.status();
                    (status, Box::pin(self.read_body(response)).await?)
                }
            };
            self.decode(status, &body)
        }
    }

    /// Runs `op`, whose answer carries nothing to decode.
    pub fn empty<'a>(
        &'a self,
        client: &'a reqwest::Client,
        built: Built,
        op: &'static Operation,
    ) -> impl Future<Output = Result<()>> + 'a {
        let request = self.boxed(built, op);
        async move { self.call(client, request, op).await.map(drop) }
    }

    /// Runs `op` and hands on its successful response, for a stream or an
    /// upgrade the caller reads.
    pub fn response<'a>(
        &'a self,
        client: &'a reqwest::Client,
        built: Built,
        op: &'static Operation,
    ) -> impl Future<Output = Result<reqwest::Response>> + 'a {
        let request = self.boxed(built, op);
        async move {
            self.call(client, request, op)
                .await
                .map(Answer::into_response)
        }
    }

    /// The built request, boxed for the rest of the path (see
    /// [`Runtime::traced`]), or the argument the builder refused.
    fn boxed(&self, built: Built, op: &Operation) -> Result<Box<reqwest::Request>> {
        built.map(Box::new).map_err(|e| self.invalid_request(e, op))
    }

    /// Decodes a JSON body read by the runtime, as [`Runtime::json`] does.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
        status: StatusCode,
        body: &[u8],
    ) -> Result<T> {
        decode_json(body).map_err(|e| {
            Error::decode(
                self.inner.service,
                Some(status.as_u16()),
                e.to_string(),
                body,
                &self.inner.redactor,
            )
        })
    }

    /// The request path, then the status checked against the contract.
    async fn call(
        &self,
        client: &reqwest::Client,
        request: Result<Box<reqwest::Request>>,
        op: &'static Operation,
    ) -> Result<Answer> {
        let request = request?;
        let streaming = op.reply.is_streaming() || self.inner.streaming.contains(op.id);
        let answer = self
            .traced(
                client,
                request,
                op.id,
                streaming,
                crate::send::Origin::Generated,
            )
            .await?;
        let status = answer.status();
        if !status.is_success() {
            return Err(match answer {
                // Boxed: the rare path keeps its reading state off this future.
                Answer::Streamed(response) => Box::pin(self.error_from_response(response)).await,
                Answer::Buffered(whole) => Error::from_status_with(
                    self.inner.service,
                    status.as_u16(),
                    &whole.headers,
                    &whole.body,
                    &self.inner.redactor,
                    &self.inner.status_classes,
                ),
            });
        }
        if !op.documents(status.as_u16()) {
            let body = match answer {
                Answer::Buffered(whole) => whole.body,
                Answer::Streamed(_) => Bytes::new(),
            };
            return Err(Error::decode(
                self.inner.service,
                Some(status.as_u16()),
                format!("status {status} is not the one the contract documents"),
                &body,
                &self.inner.redactor,
            ));
        }
        Ok(answer)
    }

    /// A body the attempt did not read (a streamed success), read whole now.
    async fn read_body(&self, response: reqwest::Response) -> Result<Bytes> {
        let service = self.inner.service;
        let limit = self.inner.max_body_bytes;
        match read_capped(response, limit).await {
            Ok(body) => Ok(body),
            Err(Unread::TooLarge) => Err(Error::BodyTooLarge { service, limit }),
            Err(Unread::Failed(e)) => Err(Error::network(service, e, &self.inner.redactor)),
        }
    }

    /// An argument the builder refused, named after the parameter.
    fn invalid_request(&self, e: progenitor_client::Error<()>, op: &Operation) -> Error {
        let message = match e {
            progenitor_client::Error::InvalidRequest(m) | progenitor_client::Error::Custom(m) => m,
            other => other.to_string(),
        };
        let message = self.inner.redactor.redact(&message).into_owned();
        let name = op
            .params
            .iter()
            .copied()
            .find(|p| {
                message.starts_with(&format!("{p} was not initialized"))
                    || message.contains(&format!(" for {p} failed"))
            })
            // A body built field by field reports the field, not `body`.
            .or_else(|| {
                (message.starts_with("no value supplied for ") && op.params.contains(&"body"))
                    .then_some("body")
            })
            .unwrap_or("request");
        let message = if message.ends_with("was not initialized") {
            format!("{} needs `{name}`", op.id)
        } else {
            message
        };
        Error::InvalidArgument { name, message }
    }
}

#[cfg(test)]
mod tests {
    use super::decode_json;
    use serde_json::Value;

    /// What `decode_json` gives, and what `serde_json::from_slice` gives, as
    /// text that can be compared (the value or the error message).
    fn both<T: serde::de::DeserializeOwned + std::fmt::Debug>(body: &[u8]) -> (String, String) {
        let show = |r: serde_json::Result<T>| match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => format!("err {e}"),
        };
        (
            show(decode_json::<T>(body)),
            show(serde_json::from_slice::<T>(body)),
        )
    }

    #[test]
    fn decodes_as_from_slice_does() {
        let bodies: &[&[u8]] = &[
            br#"{"a": "caf\u00e9", "b": ["\ud83d\ude00", "plain"], "c": {"d": null}}"#,
            "{\"multi\": \"byte ü 日本 😀\", \"n\": -1.5e3}".as_bytes(),
            br#"{"esc": "\n\t\"\\\/"}"#,
            // Errors: a lone surrogate, a bad escape, a truncated document,
            // trailing text, an empty body.
            br#"{"s": "\ud800"}"#,
            br#"{"s": "\x"}"#,
            br#"{"s": "#,
            br#"{} extra"#,
            b"",
        ];
        for body in bodies {
            let (ours, theirs) = both::<Value>(body);
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(body));
        }
        // A typed target, with the field it lacks and the field it has.
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Post {
            title: String,
        }
        for body in [&br#"{"title": "t\u00e9"}"#[..], br#"{"body": "x"}"#] {
            let (ours, theirs) = both::<Post>(body);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn a_body_that_is_not_utf8_fails_as_from_slice_does() {
        // Inside a string, where from_slice points at the byte.
        let in_string: &[u8] = b"{\"s\": \"ab\xff\"}";
        let (ours, theirs) = both::<Value>(in_string);
        assert!(ours.starts_with("err invalid unicode code point"), "{ours}");
        assert_eq!(ours, theirs);
        // Outside any string: a syntax error, the same one.
        let (ours, theirs) = both::<Value>(b"{\xc3\x28: 1}");
        assert!(ours.starts_with("err "), "{ours}");
        assert_eq!(ours, theirs);
        // In a string the target ignores, which from_slice lets through
        // without a check: still let through, since the body goes to it.
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Only {
            a: u8,
        }
        let (ours, theirs) = both::<Only>(b"{\"a\": 1, \"skip\": \"\xff\"}");
        assert_eq!(ours, "ok Only { a: 1 }");
        assert_eq!(ours, theirs);
    }
}
