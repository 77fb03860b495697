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
        serde_json::from_slice(body).map_err(|e| {
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
