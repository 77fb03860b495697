//! Files: message attachments and group avatars.
//!
//! Their uploads are `multipart/form-data` and their downloads raw bytes,
//! neither of which the generated transport carries. They are built here and
//! sent through the same runtime as every other call, so credentials,
//! retries, hooks, the circuit breaker and redaction all apply. The form is
//! encoded into memory rather than streamed: a request with an in-memory
//! body can be cloned, and so retried.

use std::fmt;

use agentwire_colony_transport::types;
use agentwire_colony_transport::ClientInfo;
use agentwire_runtime::{Error, Result};
use bytes::Bytes;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;

use super::id::IdArg;
use super::{uuid, Attachment, Client, SERVICE};

/// Bytes served by The Colony, with the media type it declared.
#[derive(Clone)]
#[non_exhaustive]
pub struct DownloadedFile {
    /// The file's content.
    pub bytes: Bytes,
    /// The `Content-Type` of the response, if any.
    pub content_type: Option<String>,
}

impl fmt::Debug for DownloadedFile {
    // The content may be large and binary: its size says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DownloadedFile")
            .field("len", &self.bytes.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl Client {
    /// Uploads a file (an image or a text file) to attach to a later message;
    /// pass the returned attachment's `id` to a send's `attachments(...)`.
    pub async fn upload_message_attachment(
        &self,
        data: impl AsRef<[u8]>,
        filename: &str,
        content_type: &str,
    ) -> Result<Attachment> {
        let form = multipart::file_form(
            "file",
            filename,
            content_type,
            data.as_ref(),
            multipart::random_boundary,
        )?;
        let response = self
            .send_by_hand(
                Method::POST,
                "/api/v1/messages/attachments/upload",
                "application/json",
                Some((form.content_type, form.body)),
                "upload_message_attachment",
            )
            .await?;
        // The contract keeps this schema (filter `keep_schemas`) although the
        // operation itself is sent by hand.
        let out: types::AttachmentUploadOut = self.json_of(response).await?;
        // `deduped` and any field the contract does not know stay in `extra`.
        let mut extra = out.extra;
        extra.insert("deduped".into(), out.deduped.into());
        Ok(Attachment {
            full_url: out.full_url,
            height: out.height,
            id: out.attachment_id,
            mime_type: out.mime_type,
            size_bytes: out.size_bytes,
            thumb_url: out.thumb_url,
            width: out.width,
            extra,
        })
    }

    /// The content of an attachment the caller uploaded or received:
    /// `variant` is `"full"` (the file as uploaded) or `"thumb"` (the
    /// thumbnail of an image).
    pub async fn get_message_attachment(
        &self,
        attachment_id: impl IdArg,
        variant: &str,
    ) -> Result<DownloadedFile> {
        let id = uuid("attachment_id", attachment_id)?;
        if variant.is_empty() {
            return Err(crate::Error::InvalidArgument {
                name: "variant",
                message: "must not be empty (\"full\" or \"thumb\")".into(),
            });
        }
        let path = format!(
            "/api/v1/messages/attachments/{id}/{}",
            encode_segment(variant)
        );
        self.fetch_bytes(&path, "get_message_attachment").await
    }

    /// Deletes an attachment the caller uploaded; it can no longer be
    /// downloaded or attached.
    pub async fn delete_message_attachment(&self, attachment_id: impl IdArg) -> Result<()> {
        let id = uuid("attachment_id", attachment_id)?;
        self.t().delete_message_attachment().attachment_id(id).await
    }

    /// Sets a group's avatar (a square image; admins only). Returns where the
    /// avatar is served.
    pub async fn upload_group_avatar(
        &self,
        conv_id: impl IdArg,
        data: impl AsRef<[u8]>,
        content_type: &str,
    ) -> Result<String> {
        let id = uuid("conv_id", conv_id)?;
        let form = multipart::file_form(
            "file",
            "avatar",
            content_type,
            data.as_ref(),
            multipart::random_boundary,
        )?;
        let path = format!("/api/v1/messages/groups/{id}/avatar");
        let response = self
            .send_by_hand(
                Method::POST,
                &path,
                "application/json",
                Some((form.content_type, form.body)),
                "upload_group_avatar",
            )
            .await?;
        let out: types::GroupAvatarUploadOut = self.json_of(response).await?;
        Ok(out.avatar_url)
    }

    /// A group's avatar image (members only).
    pub async fn get_group_avatar(&self, conv_id: impl IdArg) -> Result<DownloadedFile> {
        let id = uuid("conv_id", conv_id)?;
        let path = format!("/api/v1/messages/groups/{id}/avatar");
        self.fetch_bytes(&path, "get_group_avatar").await
    }

    async fn fetch_bytes(&self, path: &str, operation: &'static str) -> Result<DownloadedFile> {
        let response = self
            .send_by_hand(Method::GET, path, "*/*", None, operation)
            .await?;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::network(SERVICE, e, self.inner.runtime.redactor()))?;
        Ok(DownloadedFile {
            bytes,
            content_type,
        })
    }

    /// Sends an operation the generated transport does not carry through the
    /// shared runtime, as the transport itself would: breaker check, then
    /// credentials, idempotency key, retries and hooks. `path` starts with
    /// `/api/v1` and has its segments encoded already. Any status other than
    /// 2xx becomes an [`Error`].
    pub(super) async fn send_by_hand(
        &self,
        method: Method,
        path: &str,
        accept: &'static str,
        body: Option<(String, Vec<u8>)>,
        operation: &'static str,
    ) -> Result<reqwest::Response> {
        let runtime = &self.inner.runtime;
        let t = self.t();
        let url = format!("{}{path}", t.baseurl());
        let mut builder = t
            .client()
            .request(method, url)
            .header(ACCEPT, HeaderValue::from_static(accept));
        if let Some((content_type, bytes)) = body {
            let value =
                HeaderValue::from_str(&content_type).map_err(|_| Error::InvalidArgument {
                    name: "content_type",
                    message: "not a valid header value".into(),
                })?;
            builder = builder.header(CONTENT_TYPE, value).body(bytes);
        }
        let request = builder.build().map_err(|e| Error::InvalidArgument {
            name: "request",
            message: runtime
                .redactor()
                .redact(&e.without_url().to_string())
                .into_owned(),
        })?;
        let response = runtime.execute(t.client(), request, operation).await?;
        if !response.status().is_success() {
            return Err(runtime.error_from_response(response).await);
        }
        Ok(response)
    }

    /// Reads a hand-sent operation's JSON answer.
    pub(super) async fn json_of<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T> {
        let runtime = &self.inner.runtime;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::network(SERVICE, e, runtime.redactor()))?;
        runtime.decode(status, &body)
    }
}

/// Percent-encodes one path segment (everything but RFC 3986's unreserved
/// characters), for the paths of hand-sent operations.
pub(super) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A small `multipart/form-data` encoder for one file field.
pub(super) mod multipart {
    use agentwire_runtime::{Error, Result};

    /// An encoded form: its `Content-Type` (with the boundary) and body.
    pub(in crate::colony) struct Form {
        pub(in crate::colony) content_type: String,
        pub(in crate::colony) body: Vec<u8>,
    }

    /// A boundary no content is likely to contain.
    pub(in crate::colony) fn random_boundary() -> String {
        format!("agentwire-{}", ::uuid::Uuid::new_v4().simple())
    }

    /// Quotes a name or file name for a `Content-Disposition` parameter the
    /// way browsers do: `"`, CR and LF percent-encoded, the rest as UTF-8.
    fn quote(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '"' => out.push_str("%22"),
                '\r' => out.push_str("%0D"),
                '\n' => out.push_str("%0A"),
                c => out.push(c),
            }
        }
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Checks a media type enough to keep it from breaking the part headers.
    fn check_content_type(content_type: &str) -> Result<()> {
        let ok = content_type
            .split_once('/')
            .is_some_and(|(t, s)| !t.trim().is_empty() && !s.trim().is_empty())
            && content_type
                .chars()
                .all(|c| c.is_ascii() && !c.is_ascii_control());
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument {
                name: "content_type",
                message: "not a media type like image/png".into(),
            })
        }
    }

    /// Encodes one file as form field `field`. `next_boundary` is asked again
    /// until it gives a boundary the content does not contain.
    pub(in crate::colony) fn file_form(
        field: &str,
        filename: &str,
        content_type: &str,
        data: &[u8],
        mut next_boundary: impl FnMut() -> String,
    ) -> Result<Form> {
        check_content_type(content_type)?;
        if filename.trim().is_empty() {
            return Err(Error::InvalidArgument {
                name: "filename",
                message: "is empty".into(),
            });
        }
        let boundary = loop {
            let candidate = next_boundary();
            let delimiter = format!("--{candidate}");
            if !contains(data, delimiter.as_bytes()) {
                break candidate;
            }
        };
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {content_type}\r\n\r\n",
            quote(field),
            quote(filename),
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let mut body = Vec::with_capacity(head.len() + data.len() + tail.len());
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(tail.as_bytes());
        Ok(Form {
            content_type: format!("multipart/form-data; boundary={boundary}"),
            body,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn fixed(b: &'static str) -> impl FnMut() -> String {
            move || b.to_owned()
        }

        #[test]
        fn one_file_field_layout() {
            let form = file_form("file", "a.txt", "text/plain", b"hi\r\n", fixed("XyZ")).unwrap();
            assert_eq!(form.content_type, "multipart/form-data; boundary=XyZ");
            assert_eq!(
                form.body,
                b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n\r\n--XyZ--\r\n"
            );
        }

        #[test]
        fn binary_content_is_copied_untouched() {
            let data: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, 0, b'\r', b'\n']).collect();
            let form = file_form("file", "b.bin", "image/png", &data, fixed("B")).unwrap();
            let start = form.body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            assert_eq!(&form.body[start..start + data.len()], &data[..]);
            assert!(form.body.ends_with(b"\r\n--B--\r\n"));
        }

        #[test]
        fn file_names_cannot_break_the_headers() {
            let form = file_form(
                "file",
                "evil\"\r\nX-Injected: 1.txt",
                "text/plain",
                b"x",
                fixed("B"),
            )
            .unwrap();
            let text = String::from_utf8(form.body).unwrap();
            assert!(text.contains("filename=\"evil%22%0D%0AX-Injected: 1.txt\""));
            assert_eq!(text.matches("\r\n").count(), 6);
        }

        #[test]
        fn a_boundary_found_in_the_content_is_replaced() {
            let mut candidates = vec!["second".to_owned(), "first".to_owned()];
            let data = b"abc\r\n--first\r\nmore";
            let form = file_form("file", "f.txt", "text/plain", data, move || {
                candidates.pop().unwrap_or_default()
            })
            .unwrap();
            assert_eq!(form.content_type, "multipart/form-data; boundary=second");
        }

        #[test]
        fn random_boundaries_differ_and_are_token_characters() {
            let (a, b) = (random_boundary(), random_boundary());
            assert_ne!(a, b);
            assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
            assert!(a.len() <= 70, "RFC 2046 limit");
        }

        #[test]
        fn bad_arguments_are_refused() {
            for ct in ["", "png", "image/", "text/plain\r\nX: y", "image/pngé"] {
                assert!(
                    matches!(
                        file_form("file", "a", ct, b"x", random_boundary),
                        Err(Error::InvalidArgument {
                            name: "content_type",
                            ..
                        })
                    ),
                    "{ct:?}"
                );
            }
            assert!(matches!(
                file_form("file", " ", "text/plain", b"x", random_boundary),
                Err(Error::InvalidArgument {
                    name: "filename",
                    ..
                })
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(super::encode_segment("alice_01-x.y~"), "alice_01-x.y~");
        assert_eq!(super::encode_segment("a/b c?é"), "a%2Fb%20c%3F%C3%A9");
    }
}
