//! Files as Promptev takes them, and the `multipart/form-data` forms that
//! carry them (chat turns with files, document uploads, runs with file
//! inputs). The generated transport carries no multipart body, so these
//! forms are encoded here, into memory: a request with an in-memory body
//! can be cloned, and so retried when its operation allows it.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use agentwire_runtime::{Error, Result};
use bytes::Bytes;

/// The largest file Promptev takes, in bytes (25 MiB), checked before
/// sending: a refusal by the service would still be billed.
pub const MAX_FILE_BYTES: usize = 25 * 1024 * 1024;

/// One file to send: a name (the service's type allowlist and its ingest
/// both read it), a media type and the content.
///
/// ```
/// use agentwire::promptev::FileUpload;
/// let file = FileUpload::new("notes.md", "# Q4\n...");
/// assert_eq!(file.content_type(), "text/markdown");
/// assert_eq!(file.len(), 8);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct FileUpload {
    name: String,
    content_type: String,
    bytes: Bytes,
}

impl fmt::Debug for FileUpload {
    // The content may be large and private: its size says enough.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileUpload")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl FileUpload {
    /// A file called `name` holding `bytes`; its media type is guessed from
    /// the name's extension (`application/octet-stream` when unknown).
    pub fn new(name: impl Into<String>, bytes: impl Into<Bytes>) -> FileUpload {
        let name = name.into();
        let content_type = guess_content_type(&name).to_owned();
        FileUpload {
            name,
            content_type,
            bytes: bytes.into(),
        }
    }

    /// Reads a file from disk (a blocking read), named after its last path
    /// component.
    pub fn read(path: impl AsRef<Path>) -> Result<FileUpload> {
        let path = path.as_ref();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::InvalidArgument {
                name: "files",
                message: format!("{} has no file name", path.display()),
            })?
            .to_owned();
        let bytes = std::fs::read(path).map_err(|e| Error::InvalidArgument {
            name: "files",
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Ok(FileUpload::new(name, bytes))
    }

    /// Sets the media type instead of the guessed one.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> FileUpload {
        self.content_type = content_type.into();
        self
    }

    /// The file's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The media type sent with it.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Refuses what the service would refuse (and bill): a nameless file, one
    /// over [`MAX_FILE_BYTES`], a media type that would break the part.
    pub(super) fn check(&self, field: &'static str) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(Error::InvalidArgument {
                name: field,
                message: "a file needs a name".into(),
            });
        }
        if self.bytes.len() > MAX_FILE_BYTES {
            return Err(Error::InvalidArgument {
                name: field,
                message: format!(
                    "{} is larger than {} MB",
                    self.name,
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            });
        }
        let ok = self
            .content_type
            .split_once('/')
            .is_some_and(|(t, s)| !t.trim().is_empty() && !s.trim().is_empty())
            && self
                .content_type
                .chars()
                .all(|c| c.is_ascii() && !c.is_ascii_control());
        if !ok {
            return Err(Error::InvalidArgument {
                name: field,
                message: format!("{}: not a media type like text/plain", self.name),
            });
        }
        Ok(())
    }
}

impl<N: Into<String>, B: Into<Bytes>> From<(N, B)> for FileUpload {
    fn from((name, bytes): (N, B)) -> FileUpload {
        FileUpload::new(name, bytes)
    }
}

/// The media type of a file name, from its extension.
fn guess_content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        _ => "application/octet-stream",
    }
}

/// One part of a form.
pub(super) enum Part<'a> {
    /// A text field.
    Text { name: &'a str, value: String },
    /// A file field.
    File { name: &'a str, file: &'a FileUpload },
}

/// An encoded form: its `Content-Type` (with the boundary) and body.
pub(super) struct Form {
    pub(super) content_type: String,
    pub(super) body: Vec<u8>,
}

/// A boundary no content is likely to contain.
fn random_boundary() -> String {
    let state = std::collections::hash_map::RandomState::new();
    let mut h = state.build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let a = h.finish();
    h.write_u64(a);
    format!("agentwire-{a:016x}{:016x}", h.finish())
}

/// Quotes a name for a `Content-Disposition` parameter the way browsers do:
/// `"`, CR and LF percent-encoded, the rest as UTF-8.
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Encodes `parts` in order.
pub(super) fn encode(parts: &[Part<'_>]) -> Form {
    encode_with(parts, random_boundary)
}

fn encode_with(parts: &[Part<'_>], mut next_boundary: impl FnMut() -> String) -> Form {
    let boundary = loop {
        let candidate = next_boundary();
        let delimiter = format!("--{candidate}");
        let clash = parts.iter().any(|p| match p {
            Part::Text { value, .. } => contains(value.as_bytes(), delimiter.as_bytes()),
            Part::File { file, .. } => contains(&file.bytes, delimiter.as_bytes()),
        });
        if !clash {
            break candidate;
        }
    };
    let mut body = Vec::new();
    for part in parts {
        match part {
            Part::Text { name, value } => {
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n",
                        quote(name)
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Part::File { name, file } => {
                body.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                        quote(name),
                        quote(&file.name),
                        file.content_type
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&file.bytes);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_file_parts_in_order() {
        let file = FileUpload::new("a.txt", &b"hi"[..]);
        let form = encode_with(
            &[
                Part::Text {
                    name: "payload",
                    value: "{\"message\":\"x\"}".into(),
                },
                Part::File {
                    name: "files",
                    file: &file,
                },
            ],
            || "B".into(),
        );
        assert_eq!(form.content_type, "multipart/form-data; boundary=B");
        assert_eq!(
            String::from_utf8(form.body).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{\"message\":\"x\"}\r\n\
             --B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n"
        );
    }

    #[test]
    fn a_boundary_found_in_the_content_is_replaced_and_names_cannot_break_headers() {
        let file = FileUpload::new("evil\"\r\n.bin", &b"x--first y"[..]);
        let mut candidates = vec!["second".to_owned(), "first".to_owned()];
        let form = encode_with(
            &[Part::File {
                name: "files",
                file: &file,
            }],
            move || candidates.pop().unwrap_or_default(),
        );
        assert!(form.content_type.ends_with("boundary=second"));
        let text = String::from_utf8(form.body).unwrap();
        assert!(text.contains("filename=\"evil%22%0D%0A.bin\""));
        assert!(text.contains("Content-Type: application/octet-stream"));
    }

    #[test]
    fn checks_refuse_what_the_service_would_bill_for() {
        assert!(FileUpload::new("", "x").check("files").is_err());
        assert!(FileUpload::new("a.txt", "x")
            .with_content_type("bad\r\ntype")
            .check("files")
            .is_err());
        let big = FileUpload::new("big.pdf", vec![0u8; MAX_FILE_BYTES + 1]);
        assert!(matches!(
            big.check("contract"),
            Err(Error::InvalidArgument {
                name: "contract",
                ..
            })
        ));
        assert!(FileUpload::new("ok.pdf", vec![0u8; MAX_FILE_BYTES])
            .check("files")
            .is_ok());
        assert_ne!(random_boundary(), random_boundary());
    }
}
