//! Reading bodies whole under the cap, and handing on ones others read.

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
use http::HeaderMap;

use crate::cache::CachedResponse;
use crate::error::BodyLimitExceeded;
use crate::send::ResentWithOwnKey;

/// Why a body could not be read whole.
pub(crate) enum Unread {
    /// It is larger than the cap.
    TooLarge,
    /// The connection failed while reading it.
    Failed(reqwest::Error),
}

/// Reads a body whole, failing as soon as it passes `limit` bytes, or before
/// reading when its `Content-Length` already says it would.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Bytes, Unread> {
    read_chunks(&mut response, limit).await
}

/// [`read_capped`] on a response the caller keeps: the future holds a
/// reference, not a second copy of the response.
async fn read_chunks(response: &mut reqwest::Response, limit: u64) -> Result<Bytes, Unread> {
    let announced = response.content_length();
    if announced.is_some_and(|n| n > limit) {
        return Err(Unread::TooLarge);
    }
    // A body in one chunk (the usual case) is returned without a copy. The
    // chunks are read off the `reqwest::Response` itself: turning it into an
    // `http::Response` first would store its URL in a fresh extensions map.
    let mut single: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    let mut total: u64 = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Unread::Failed(e.without_url()))?
    {
        total = total.saturating_add(chunk.len() as u64);
        if total > limit {
            return Err(Unread::TooLarge);
        }
        if let Some(first) = single.take() {
            let hint = announced.unwrap_or(total).clamp(total, limit);
            joined.reserve(usize::try_from(hint).unwrap_or(0));
            joined.extend_from_slice(&first);
            joined.extend_from_slice(&chunk);
        } else if joined.is_empty() {
            single = Some(chunk);
        } else {
            joined.extend_from_slice(&chunk);
        }
    }
    Ok(single.unwrap_or_else(|| joined.freeze()))
}

/// A successful body read inside the attempt.
pub(crate) enum Whole {
    Read(CachedResponse),
    /// Over the cap: a response with the same head whose body fails with
    /// [`BodyLimitExceeded`] when read, so the transport's own read maps it
    /// to [`Error::BodyTooLarge`].
    TooLarge(reqwest::Response),
}

/// Reads `response`'s body whole (the caller keeps the response, so the
/// future holds only a reference to it).
pub(crate) async fn read_whole(
    response: &mut reqwest::Response,
    limit: u64,
) -> reqwest::Result<Whole> {
    // The head is taken, not copied: its headers go with the body.
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    match read_chunks(response, limit).await {
        Ok(body) => Ok(Whole::Read(CachedResponse {
            status,
            headers,
            body,
            resent: false,
        })),
        Err(Unread::TooLarge) => Ok(Whole::TooLarge(failing_body(status, headers, limit))),
        Err(Unread::Failed(e)) => Err(e),
    }
}

/// A response whose body fails at once with [`BodyLimitExceeded`].
pub(crate) fn failing_body(
    status: http::StatusCode,
    mut headers: HeaderMap,
    limit: u64,
) -> reqwest::Response {
    headers.remove(CONTENT_LENGTH);
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::iter([
            Err::<Bytes, BodyLimitExceeded>(BodyLimitExceeded { limit }),
        ]));
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    reqwest::Response::from(r)
}

/// Hands on a response that someone else reads whole (an error answer), with
/// its body failing with [`BodyLimitExceeded`] past `limit` bytes.
pub(crate) fn cap_body(response: reqwest::Response, limit: u64) -> reqwest::Response {
    use http_body_util::BodyExt as _;

    if response.content_length().is_some_and(|n| n > limit) {
        return failing_body(response.status(), response.headers().clone(), limit);
    }
    let (parts, body) = http::Response::<reqwest::Body>::from(response).into_parts();
    let capped = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .map_err(move |e| {
            if e.is::<http_body_util::LengthLimitError>() {
                Box::new(BodyLimitExceeded { limit }) as Box<dyn std::error::Error + Send + Sync>
            } else {
                e
            }
        });
    reqwest::Response::from(http::Response::from_parts(
        parts,
        reqwest::Body::wrap(capped),
    ))
}

pub(crate) fn rebuild(cached: CachedResponse) -> reqwest::Response {
    let mut r = http::Response::new(cached.body);
    *r.status_mut() = cached.status;
    *r.headers_mut() = cached.headers;
    if cached.resent {
        r.extensions_mut().insert(ResentWithOwnKey);
    }
    reqwest::Response::from(r)
}
