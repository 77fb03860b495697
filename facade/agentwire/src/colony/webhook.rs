//! Authenticating The Colony's webhook deliveries.
//!
//! The Colony signs every delivery twice, keyed with the secret given when
//! the webhook was registered:
//!
//! - [`SIGNATURE_256_HEADER`] (`X-Colony-Signature-256: t=<unix>,v1=<hex>`):
//!   HMAC-SHA256 over `"<t>.<body>"`. The timestamp is inside what is signed,
//!   so a captured delivery cannot be presented again later:
//!   [`WebhookVerifier`] refuses one signed more than 300 s from now (the
//!   service's recommendation) and one it has already accepted.
//! - [`SIGNATURE_HEADER`] (`X-Colony-Signature: sha256=<hex>`), the legacy
//!   scheme: HMAC-SHA256 over the body alone, valid forever once captured.
//!   [`verify_webhook`] checks it; the verifier accepts it only when asked to.
//!
//! Verify against the bytes exactly as received: re-serialising parsed JSON
//! changes them and breaks the signature.
//!
//! ```
//! use agentwire::colony::webhook::{
//!     sign_webhook_v1, WebhookError, WebhookVerifier, SIGNATURE_256_HEADER,
//! };
//! use http::{HeaderMap, HeaderValue};
//! use std::time::SystemTime;
//!
//! let secret = "a-shared-secret-of-16+";
//! let verifier = WebhookVerifier::new(secret);
//!
//! // What The Colony sends (a test server can sign the same way).
//! let body = br#"{"event":"post_created","post_id":"p1"}"#;
//! let now = SystemTime::now()
//!     .duration_since(SystemTime::UNIX_EPOCH)
//!     .unwrap()
//!     .as_secs() as i64;
//! let mut headers = HeaderMap::new();
//! let signed = sign_webhook_v1(body, secret, now);
//! headers.insert(SIGNATURE_256_HEADER, HeaderValue::from_str(&signed).unwrap());
//!
//! let delivery = verifier.verify(&headers, body).expect("authentic");
//! assert_eq!(delivery.signed_at(), Some(now));
//! // The same delivery a second time is a replay.
//! assert_eq!(verifier.verify(&headers, body), Err(WebhookError::Replayed));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a SHA-256 digest in bytes; a valid signature is twice this in hex.
const DIGEST_LEN: usize = 32;

/// Optional prefix some frameworks and proxies put before the hex digest.
const PREFIX: &str = "sha256=";

/// HTTP header that carries the legacy signature of a webhook delivery:
/// `sha256=<hex>` of HMAC-SHA256 over the raw body (see [`verify_webhook`]).
///
/// Header names are case-insensitive on the wire; look it up with your
/// framework's case-insensitive accessor.
///
/// ```
/// use agentwire::colony::webhook::SIGNATURE_HEADER;
///
/// assert_eq!(SIGNATURE_HEADER.to_ascii_lowercase(), "x-colony-signature");
/// ```
pub const SIGNATURE_HEADER: &str = "X-Colony-Signature";

/// HTTP header that carries the timestamped signature of a webhook delivery:
/// `t=<unix seconds>,v1=<hex>`, HMAC-SHA256 over `"<t>.<body>"` (see
/// [`WebhookVerifier`]).
pub const SIGNATURE_256_HEADER: &str = "X-Colony-Signature-256";

/// HTTP header with the Unix time (seconds) at which a delivery was signed.
/// It is not itself signed: the verifier reads the time from the `t=` of
/// [`SIGNATURE_256_HEADER`] instead.
pub const TIMESTAMP_HEADER: &str = "X-Colony-Timestamp";

/// HTTP header with the delivery's id, a UUID that stays the same when the
/// service retries the delivery: deduplicate deliveries on it.
pub const DELIVERY_HEADER: &str = "X-Colony-Delivery";

/// HTTP header with the name of the event a delivery reports.
pub const EVENT_HEADER: &str = "X-Colony-Event";

/// How far from now a signature's timestamp may be, either way, by default:
/// the 300 seconds the service recommends.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How many accepted signatures a [`WebhookVerifier`] remembers by default.
pub const DEFAULT_REPLAY_CAPACITY: usize = 10_000;

/// Longest signature header the verifier reads; a real one is about 80
/// bytes, so anything this long is refused before any work is done.
const MAX_HEADER_LEN: usize = 1024;

/// Builds the keyed MAC. HMAC takes keys of any length, so this cannot fail.
fn keyed(secret: &str) -> HmacSha256 {
    HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC-SHA256 accepts keys of any length")
}

/// Signs `payload` the way The Colony does: lowercase hex of
/// HMAC-SHA256(`secret`, `payload`), without any prefix.
///
/// Exists so test servers and sandboxes can produce real deliveries, and so
/// tests can build valid signatures without hard-coding them.
///
/// ```
/// use agentwire::colony::webhook::sign_webhook;
///
/// let sig = sign_webhook(b"{\"event\":\"post_created\"}", "a-shared-secret-of-16+");
/// assert_eq!(sig.len(), 64);
/// assert!(sig.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
/// ```
#[must_use]
pub fn sign_webhook(payload: &[u8], secret: &str) -> String {
    let mut mac = keyed(secret);
    mac.update(payload);
    hex::encode(mac.finalize().into_bytes())
}

/// Signs `payload` the way The Colony signs [`SIGNATURE_256_HEADER`]:
/// returns the header value `t=<timestamp>,v1=<hex>`, where the hex is
/// HMAC-SHA256(`secret`, `"<timestamp>.<payload>"`).
///
/// For test servers and sandboxes that produce real deliveries.
///
/// ```
/// use agentwire::colony::webhook::sign_webhook_v1;
///
/// let value = sign_webhook_v1(b"{}", "a-shared-secret-of-16+", 1_700_000_000);
/// assert!(value.starts_with("t=1700000000,v1="));
/// assert_eq!(value.len(), "t=1700000000,v1=".len() + 64);
/// ```
#[must_use]
pub fn sign_webhook_v1(payload: &[u8], secret: &str, timestamp: i64) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac_v1(secret, timestamp, payload))
    )
}

/// HMAC-SHA256 over `"<timestamp>.<payload>"`.
fn mac_v1(secret: &str, timestamp: i64, payload: &[u8]) -> [u8; DIGEST_LEN] {
    let mut mac = keyed(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// Checks a delivery's legacy [`SIGNATURE_HEADER`] value against its raw
/// body. A captured delivery passes this check forever: prefer
/// [`WebhookVerifier`], which checks the timestamped [`SIGNATURE_256_HEADER`]
/// and refuses replays.
///
/// Lenient about presentation, strict about content: surrounding whitespace
/// is ignored, a `sha256=` prefix (any case) is accepted, and the hex may be
/// upper- or lowercase; anything that is not exactly 64 hex digits is
/// `false`. The digest comparison is constant-time so response timing does
/// not reveal how much of a forged signature was right. Never panics.
///
/// An empty `secret` always gives `false`: the service requires a secret at
/// registration, so an empty one means a missing configuration value, and
/// accepting it would let anyone forge deliveries.
///
/// ```
/// use agentwire::colony::webhook::{sign_webhook, verify_webhook};
///
/// let secret = "a-shared-secret-of-16+";
/// let body = br#"{"event":"post_created","id":"p1"}"#;
/// let header = sign_webhook(body, secret); // what The Colony sends
///
/// assert!(verify_webhook(body, &header, secret));
/// assert!(verify_webhook(body, &format!("sha256={header}"), secret));
/// assert!(!verify_webhook(br#"{"event":"post_deleted","id":"p1"}"#, &header, secret));
/// assert!(!verify_webhook(body, "not-a-signature", secret));
/// ```
#[must_use]
pub fn verify_webhook(payload: &[u8], signature: &str, secret: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let hex_digest = strip_prefix_ignore_ascii_case(signature.trim(), PREFIX);
    let mut received = [0u8; DIGEST_LEN];
    // Rejects odd lengths, wrong lengths and non-hex characters alike.
    if hex::decode_to_slice(hex_digest, &mut received).is_err() {
        return false;
    }
    let mut mac = keyed(secret);
    mac.update(payload);
    mac.verify_slice(&received).is_ok()
}

/// `s` without a leading `prefix` compared ASCII-case-insensitively.
///
/// Works on bytes so a multibyte character in `s` can never cause a
/// char-boundary panic; `prefix` is ASCII, so a match ends on a boundary.
fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> &'a str {
    let (bytes, want) = (s.as_bytes(), prefix.as_bytes());
    if bytes.len() >= want.len() && bytes[..want.len()].eq_ignore_ascii_case(want) {
        &s[want.len()..]
    } else {
        s
    }
}

/// Why a delivery was refused by [`WebhookVerifier`].
///
/// The messages name what was wrong, never the secret or the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// The verifier was made with an empty secret. The service requires one
    /// at registration, so an empty one is a missing configuration value,
    /// and accepting it would let anyone forge deliveries.
    EmptySecret,
    /// Neither [`SIGNATURE_256_HEADER`] nor [`SIGNATURE_HEADER`] was sent.
    MissingSignature,
    /// Only the legacy [`SIGNATURE_HEADER`] was sent, and the verifier does
    /// not accept it ([`WebhookVerifier::accept_legacy`]). The service sends
    /// both headers, so a delivery without the timestamped one has usually
    /// lost it on the way (or had it removed, to defeat the replay check).
    LegacyNotAccepted,
    /// A signature header is not in the documented format.
    Malformed(&'static str),
    /// The signature is right but was made longer ago than the tolerance.
    Stale {
        /// The `t=` of the signature (Unix seconds).
        signed_at: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// The signature is right but its timestamp lies further in the future
    /// than the tolerance (a clock far off, or a forged time).
    Future {
        /// The `t=` of the signature (Unix seconds).
        signed_at: i64,
        /// The verifier's clock (Unix seconds).
        now: i64,
    },
    /// The signature does not match the body and the secret: a tampered
    /// body, another secret, or a forgery.
    BadSignature,
    /// This exact signed delivery was already accepted by this verifier.
    Replayed,
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::EmptySecret => f.write_str("the webhook secret is empty"),
            WebhookError::MissingSignature => write!(
                f,
                "the delivery carries neither {SIGNATURE_256_HEADER} nor {SIGNATURE_HEADER}"
            ),
            WebhookError::LegacyNotAccepted => write!(
                f,
                "the delivery carries only the legacy {SIGNATURE_HEADER}, which is not accepted"
            ),
            WebhookError::Malformed(why) => write!(f, "malformed signature header: {why}"),
            WebhookError::Stale { signed_at, now } => write!(
                f,
                "the delivery was signed {}s ago, beyond the tolerance",
                i128::from(*now) - i128::from(*signed_at)
            ),
            WebhookError::Future { signed_at, now } => write!(
                f,
                "the delivery's signature is dated {}s in the future, beyond the tolerance",
                i128::from(*signed_at) - i128::from(*now)
            ),
            WebhookError::BadSignature => {
                f.write_str("the signature does not match the body and the secret")
            }
            WebhookError::Replayed => f.write_str("the delivery was already accepted once"),
        }
    }
}

impl std::error::Error for WebhookError {}

/// Which signature authenticated a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureScheme {
    /// [`SIGNATURE_256_HEADER`]: timestamped, checked against the tolerance
    /// and the replay memory.
    V1,
    /// [`SIGNATURE_HEADER`]: the body alone; no protection against replays.
    Legacy,
}

/// An authenticated delivery: what the verifier checked, and the unsigned
/// headers that describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedDelivery {
    scheme: SignatureScheme,
    signed_at: Option<i64>,
    delivery_id: Option<String>,
    event: Option<String>,
}

impl VerifiedDelivery {
    /// The signature that was checked.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// When the delivery was signed (Unix seconds), for [`SignatureScheme::V1`].
    pub fn signed_at(&self) -> Option<i64> {
        self.signed_at
    }

    /// [`DELIVERY_HEADER`], when sent: the same on every retry of one
    /// delivery, so a handler that must act once deduplicates on it. It is
    /// not covered by the signature.
    pub fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }

    /// [`EVENT_HEADER`], when sent (not covered by the signature; the body's
    /// `event` field is).
    pub fn event(&self) -> Option<&str> {
        self.event.as_deref()
    }
}

/// Verifies webhook deliveries: the timestamped signature, its age, and that
/// the same signed delivery is not accepted twice. Cheap to clone; clones
/// share the replay memory, so one verifier (or its clones) should serve
/// every handler that receives the webhook's deliveries.
///
/// - A delivery carrying [`SIGNATURE_256_HEADER`] is judged by it alone:
///   falling back to the legacy header when it fails would let a replayed
///   delivery through, since the legacy signature never expires.
/// - The timestamp may differ from the verifier's clock by at most the
///   [tolerance](WebhookVerifier::tolerance) either way (300 s by default).
/// - Each accepted signature is remembered until it could no longer pass
///   the tolerance, so presenting it again is [`WebhookError::Replayed`].
///   The memory holds at most [`replay_capacity`](WebhookVerifier::replay_capacity)
///   signatures; when full, the oldest is forgotten first. Only deliveries
///   signed with the secret can fill it. The key is the signature, not
///   [`DELIVERY_HEADER`]: that header is not signed (anyone replaying could
///   change it), and the service keeps it across retries, which it signs
///   anew.
/// - A delivery with only [`SIGNATURE_HEADER`] is refused unless
///   [`accept_legacy`](WebhookVerifier::accept_legacy) is on; then it is
///   checked as [`verify_webhook`] does, without replay protection.
///
/// ```
/// use std::time::Duration;
/// use agentwire::colony::webhook::WebhookVerifier;
///
/// let verifier = WebhookVerifier::new("a-shared-secret-of-16+")
///     .tolerance(Duration::from_secs(120))
///     .replay_capacity(50_000);
/// # drop(verifier);
/// ```
#[derive(Clone)]
pub struct WebhookVerifier {
    secret: Arc<SecretString>,
    tolerance: Duration,
    accept_legacy: bool,
    replays: Arc<Mutex<ReplayGuard>>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secret", &"[REDACTED]")
            .field("tolerance", &self.tolerance)
            .field("accept_legacy", &self.accept_legacy)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    /// A verifier for deliveries signed with `secret`, with the default
    /// tolerance and replay memory, refusing legacy-only deliveries.
    pub fn new(secret: impl Into<String>) -> Self {
        WebhookVerifier {
            secret: Arc::new(SecretString::from(secret.into())),
            tolerance: DEFAULT_TOLERANCE,
            accept_legacy: false,
            replays: Arc::new(Mutex::new(ReplayGuard::new(DEFAULT_REPLAY_CAPACITY))),
        }
    }

    /// How far a signature's timestamp may be from now, either way (default
    /// [`DEFAULT_TOLERANCE`]). Whole seconds count; a shorter tolerance means
    /// a shorter replay memory too.
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// How many accepted signatures are remembered at most (default
    /// [`DEFAULT_REPLAY_CAPACITY`], at least 1). Set it above the number of
    /// deliveries the webhook receives within twice the tolerance. Starts
    /// the memory afresh.
    pub fn replay_capacity(mut self, capacity: usize) -> Self {
        self.replays = Arc::new(Mutex::new(ReplayGuard::new(capacity.max(1))));
        self
    }

    /// Whether a delivery carrying only the legacy [`SIGNATURE_HEADER`] is
    /// accepted when its signature is right (default `false`). Such a
    /// delivery has no timestamp in its signature, so neither the tolerance
    /// nor the replay memory can apply to it.
    pub fn accept_legacy(mut self, accept: bool) -> Self {
        self.accept_legacy = accept;
        self
    }

    /// Verifies a delivery's headers against its raw body, by the system
    /// clock. Never panics, whatever the headers hold.
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<VerifiedDelivery, WebhookError> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// [`WebhookVerifier::verify`] with the clock reading `now`.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedDelivery, WebhookError> {
        let secret = self.secret.expose_secret();
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        let (scheme, signed_at) = match single(headers, SIGNATURE_256_HEADER)? {
            Some(value) => {
                let now = unix_seconds(now);
                let at = self.check_v1(secret, value, body, now)?;
                (SignatureScheme::V1, Some(at))
            }
            None => match single(headers, SIGNATURE_HEADER)? {
                None => return Err(WebhookError::MissingSignature),
                Some(_) if !self.accept_legacy => return Err(WebhookError::LegacyNotAccepted),
                Some(value) => {
                    check_legacy(secret, value, body)?;
                    (SignatureScheme::Legacy, None)
                }
            },
        };
        let text = |name| {
            single(headers, name)
                .ok()
                .flatten()
                .map(|v| v.trim().to_owned())
        };
        Ok(VerifiedDelivery {
            scheme,
            signed_at,
            delivery_id: text(DELIVERY_HEADER),
            event: text(EVENT_HEADER),
        })
    }

    /// Checks a `t=…,v1=…` value; returns its timestamp.
    fn check_v1(
        &self,
        secret: &str,
        value: &str,
        body: &[u8],
        now: i64,
    ) -> Result<i64, WebhookError> {
        let parsed = parse_v1(value)?;
        let mut mac = keyed(secret);
        mac.update(parsed.timestamp_text.as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant-time, so response timing does not reveal how much of a
        // forged signature was right.
        if mac.verify_slice(&parsed.digest).is_err() {
            return Err(WebhookError::BadSignature);
        }
        let tolerance = i128::from(i64::try_from(self.tolerance.as_secs()).unwrap_or(i64::MAX));
        let skew = i128::from(now) - i128::from(parsed.timestamp);
        if skew > tolerance {
            return Err(WebhookError::Stale {
                signed_at: parsed.timestamp,
                now,
            });
        }
        if -skew > tolerance {
            return Err(WebhookError::Future {
                signed_at: parsed.timestamp,
                now,
            });
        }
        let mut replays = self.replays.lock().unwrap_or_else(|p| p.into_inner());
        if !replays.admit(parsed.timestamp, parsed.digest, now, tolerance) {
            return Err(WebhookError::Replayed);
        }
        Ok(parsed.timestamp)
    }
}

/// The one value of header `name`, as text; two values are ambiguous.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, WebhookError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(WebhookError::Malformed("the header is sent more than once"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| WebhookError::Malformed("the header is not visible ASCII"))
}

/// The legacy check of [`verify_webhook`], with the reason for a refusal.
fn check_legacy(secret: &str, value: &str, body: &[u8]) -> Result<(), WebhookError> {
    let hex_digest = strip_prefix_ignore_ascii_case(value.trim(), PREFIX);
    let mut received = [0u8; DIGEST_LEN];
    if hex::decode_to_slice(hex_digest, &mut received).is_err() {
        return Err(WebhookError::Malformed(
            "the signature is not 64 hex digits",
        ));
    }
    let mut mac = keyed(secret);
    mac.update(body);
    mac.verify_slice(&received)
        .map_err(|_| WebhookError::BadSignature)
}

/// A parsed `t=<unix>,v1=<hex>`.
struct V1<'a> {
    timestamp: i64,
    /// `t` as sent: what was signed.
    timestamp_text: &'a str,
    digest: [u8; DIGEST_LEN],
}

/// Parses `t=<unix>,v1=<hex>`: comma-separated `key=value` pairs, spaces
/// around them ignored. Exactly one `t` (decimal seconds) and one `v1` (64
/// hex digits), as the service documents them; pairs with other keys are
/// ignored, so a scheme added later does not break verification.
fn parse_v1(value: &str) -> Result<V1<'_>, WebhookError> {
    if value.len() > MAX_HEADER_LEN {
        return Err(WebhookError::Malformed("the header is too long"));
    }
    let mut timestamp: Option<(i64, &str)> = None;
    let mut digest = None;
    for piece in value.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let Some((key, val)) = piece.split_once('=') else {
            return Err(WebhookError::Malformed("a part is not key=value"));
        };
        match key.trim() {
            "t" => {
                let val = val.trim();
                if val.is_empty() || !val.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(WebhookError::Malformed("t is not a number of seconds"));
                }
                let t = val
                    .parse::<i64>()
                    .map_err(|_| WebhookError::Malformed("t is out of range"))?;
                if timestamp.replace((t, val)).is_some() {
                    return Err(WebhookError::Malformed("t is given more than once"));
                }
            }
            "v1" => {
                let mut d = [0u8; DIGEST_LEN];
                if hex::decode_to_slice(val.trim(), &mut d).is_err() {
                    return Err(WebhookError::Malformed("v1 is not 64 hex digits"));
                }
                if digest.replace(d).is_some() {
                    return Err(WebhookError::Malformed("v1 is given more than once"));
                }
            }
            "" => return Err(WebhookError::Malformed("a part has no key")),
            _ => {}
        }
    }
    match (timestamp, digest) {
        (Some((timestamp, timestamp_text)), Some(digest)) => Ok(V1 {
            timestamp,
            timestamp_text,
            digest,
        }),
        (None, _) => Err(WebhookError::Malformed("t is missing")),
        (_, None) => Err(WebhookError::Malformed("v1 is missing")),
    }
}

/// Unix seconds of `t` (0 before the epoch, which no real clock reads).
fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The signatures accepted within the tolerance window, oldest first.
///
/// Ordered by timestamp, so forgetting what has left the window and
/// evicting the oldest when full both take from the front.
#[derive(Debug)]
struct ReplayGuard {
    seen: BTreeSet<(i64, [u8; DIGEST_LEN])>,
    capacity: usize,
}

impl ReplayGuard {
    fn new(capacity: usize) -> Self {
        ReplayGuard {
            seen: BTreeSet::new(),
            capacity,
        }
    }

    /// Records a signature; `false` when it was already there.
    fn admit(&mut self, t: i64, digest: [u8; DIGEST_LEN], now: i64, tolerance: i128) -> bool {
        // Anything signed before this can no longer pass the tolerance.
        let horizon = i128::from(now) - tolerance;
        while let Some(&(oldest, _)) = self.seen.first() {
            if i128::from(oldest) >= horizon {
                break;
            }
            self.seen.pop_first();
        }
        if self.seen.contains(&(t, digest)) {
            return false;
        }
        while self.seen.len() >= self.capacity {
            self.seen.pop_first();
        }
        self.seen.insert((t, digest));
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "supersecretwebhooksecretkey";
    const BODY: &[u8] = br#"{"event": "post_created", "id": "p1"}"#;
    /// Python: `hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()`
    const BODY_SIG: &str = "348716a696d0bde966c19779b452aa230ca4c07b707143cfff111818a091e2e0";

    #[test]
    fn header_name() {
        assert_eq!(SIGNATURE_HEADER, "X-Colony-Signature");
    }

    #[test]
    fn sign_matches_python_vector() {
        assert_eq!(sign_webhook(BODY, SECRET), BODY_SIG);
    }

    #[test]
    fn sign_matches_well_known_hmac_vector() {
        assert_eq!(
            sign_webhook(b"The quick brown fox jumps over the lazy dog", "key"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn verifies_known_vector() {
        assert!(verify_webhook(BODY, BODY_SIG, SECRET));
    }

    #[test]
    fn round_trips_empty_and_unicode_bodies() {
        for body in [
            &b""[..],
            "{\"title\": \"héllo 🐡\"}".as_bytes(),
            &[0u8, 255, 128][..],
        ] {
            let sig = sign_webhook(body, SECRET);
            assert!(verify_webhook(body, &sig, SECRET));
        }
    }

    #[test]
    fn accepts_prefix_in_any_case() {
        for prefix in ["sha256=", "SHA256=", "Sha256="] {
            assert!(
                verify_webhook(BODY, &format!("{prefix}{BODY_SIG}"), SECRET),
                "{prefix}"
            );
        }
    }

    #[test]
    fn accepts_uppercase_and_mixed_case_hex() {
        assert!(verify_webhook(BODY, &BODY_SIG.to_ascii_uppercase(), SECRET));
        let mixed: String = BODY_SIG
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        assert!(verify_webhook(BODY, &mixed, SECRET));
        assert!(verify_webhook(
            BODY,
            &format!("SHA256={}", BODY_SIG.to_ascii_uppercase()),
            SECRET
        ));
    }

    #[test]
    fn ignores_surrounding_whitespace() {
        assert!(verify_webhook(BODY, &format!("  {BODY_SIG}\r\n"), SECRET));
        assert!(verify_webhook(
            BODY,
            &format!("\tsha256={BODY_SIG} "),
            SECRET
        ));
    }

    #[test]
    fn rejects_whitespace_inside_the_value() {
        assert!(!verify_webhook(
            BODY,
            &format!("sha256= {BODY_SIG}"),
            SECRET
        ));
        let (a, b) = BODY_SIG.split_at(32);
        assert!(!verify_webhook(BODY, &format!("{a} {b}"), SECRET));
    }

    #[test]
    fn rejects_tampered_body() {
        assert!(!verify_webhook(
            br#"{"event": "post_created", "id": "p2"}"#,
            BODY_SIG,
            SECRET
        ));
        let mut extra = BODY.to_vec();
        extra.push(b'\n');
        assert!(!verify_webhook(&extra, BODY_SIG, SECRET));
    }

    #[test]
    fn rejects_wrong_secret() {
        assert!(!verify_webhook(BODY, BODY_SIG, "a-different-secret-key"));
        assert!(!verify_webhook(
            BODY,
            BODY_SIG,
            &SECRET.to_ascii_uppercase()
        ));
    }

    #[test]
    fn rejects_empty_and_blank_signatures() {
        for sig in ["", "   ", "\n", "sha256=", " sha256= "] {
            assert!(!verify_webhook(BODY, sig, SECRET), "{sig:?}");
        }
    }

    #[test]
    fn rejects_right_length_wrong_digest() {
        assert!(!verify_webhook(BODY, &"0".repeat(64), SECRET));
        let mut flipped = BODY_SIG.to_string();
        flipped.replace_range(63.., "1");
        assert!(!verify_webhook(BODY, &flipped, SECRET));
    }

    #[test]
    fn rejects_non_hex() {
        let mut bad = BODY_SIG.to_string();
        bad.replace_range(10..11, "z");
        for sig in [
            bad.as_str(),
            &"g".repeat(64),
            "sha256:deadbeef",
            "not a signature",
        ] {
            assert!(!verify_webhook(BODY, sig, SECRET), "{sig:?}");
        }
    }

    #[test]
    fn rejects_non_ascii_without_panicking() {
        // 32 × 'é' is 64 bytes: the right byte length, but not hex.
        let sigs = [
            "é".repeat(32),
            format!("sha25é={BODY_SIG}"),
            "🐡".repeat(16),
            format!("{BODY_SIG}é"),
        ];
        for sig in &sigs {
            assert!(!verify_webhook(BODY, sig, SECRET), "{sig:?}");
        }
        assert!(!verify_webhook(BODY, "é", SECRET));
        assert!(!verify_webhook(BODY, "sha256", SECRET));
    }

    #[test]
    fn rejects_truncated_or_overlong() {
        for sig in [
            &BODY_SIG[..63],
            &BODY_SIG[..62],
            &BODY_SIG[..8],
            &BODY_SIG[..1],
        ] {
            assert!(!verify_webhook(BODY, sig, SECRET), "{sig:?}");
        }
        assert!(!verify_webhook(BODY, &format!("{BODY_SIG}00"), SECRET));
        assert!(!verify_webhook(
            BODY,
            &format!("{BODY_SIG}{BODY_SIG}"),
            SECRET
        ));
    }

    #[test]
    fn rejects_double_prefix() {
        assert!(!verify_webhook(
            BODY,
            &format!("sha256=sha256={BODY_SIG}"),
            SECRET
        ));
    }

    #[test]
    fn empty_secret_signs_but_never_verifies() {
        // Python: `hmac.new(b"", BODY, hashlib.sha256).hexdigest()`
        let empty_key_sig = "dc621331124fd4826b53f25175c44cb10ddb780183d67c18f06b5d5105625975";
        assert_eq!(sign_webhook(BODY, ""), empty_key_sig);
        assert!(!verify_webhook(BODY, empty_key_sig, ""));
        assert!(!verify_webhook(BODY, BODY_SIG, ""));
        assert!(!verify_webhook(b"", &sign_webhook(b"", ""), ""));
    }

    #[test]
    fn long_secret_is_fine() {
        // Keys longer than the block size are hashed first; still must round-trip.
        let secret = "s".repeat(1000);
        assert!(verify_webhook(BODY, &sign_webhook(BODY, &secret), &secret));
        assert!(!verify_webhook(
            BODY,
            &sign_webhook(BODY, &secret),
            &secret[1..]
        ));
    }

    // ------------------------------------------------ the timestamped scheme

    const T: i64 = 1_700_000_000;

    fn at(t: i64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(t as u64)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn v1_matches_python_vector() {
        // Python: hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
        assert_eq!(
            sign_webhook_v1(BODY, SECRET, T),
            "t=1700000000,v1=336a3382262c3f99dac2a5ece7fe4ef174a62069e3976ca1bc95580f89fdc6f9"
        );
    }

    #[test]
    fn verifies_within_tolerance_both_ways() {
        let v = WebhookVerifier::new(SECRET);
        for skew in [-300, -1, 0, 1, 300] {
            let h = headers(&[(
                SIGNATURE_256_HEADER,
                &sign_webhook_v1(BODY, SECRET, T + skew),
            )]);
            let ok = v.verify_at(&h, BODY, at(T)).expect("inside the window");
            assert_eq!(ok.scheme(), SignatureScheme::V1);
            assert_eq!(ok.signed_at(), Some(T + skew));
        }
    }

    #[test]
    fn refuses_outside_tolerance_with_its_reason() {
        let v = WebhookVerifier::new(SECRET);
        let old = headers(&[(
            SIGNATURE_256_HEADER,
            &sign_webhook_v1(BODY, SECRET, T - 301),
        )]);
        assert_eq!(
            v.verify_at(&old, BODY, at(T)),
            Err(WebhookError::Stale {
                signed_at: T - 301,
                now: T
            })
        );
        let ahead = headers(&[(
            SIGNATURE_256_HEADER,
            &sign_webhook_v1(BODY, SECRET, T + 301),
        )]);
        assert_eq!(
            v.verify_at(&ahead, BODY, at(T)),
            Err(WebhookError::Future {
                signed_at: T + 301,
                now: T
            })
        );
        // A wider tolerance takes both.
        let wide = WebhookVerifier::new(SECRET).tolerance(Duration::from_secs(600));
        assert!(wide.verify_at(&old, BODY, at(T)).is_ok());
        assert!(wide.verify_at(&ahead, BODY, at(T)).is_ok());
        // An extreme timestamp is just stale or in the future, no overflow.
        let far = format!("t={},v1={}", i64::MAX, "0".repeat(64));
        assert_eq!(
            v.verify_at(&headers(&[(SIGNATURE_256_HEADER, &far)]), BODY, at(T)),
            Err(WebhookError::BadSignature)
        );
        let max = headers(&[(
            SIGNATURE_256_HEADER,
            &sign_webhook_v1(BODY, SECRET, i64::MAX),
        )]);
        assert!(matches!(
            v.verify_at(&max, BODY, at(T)),
            Err(WebhookError::Future { .. })
        ));
        let zero = headers(&[(SIGNATURE_256_HEADER, &sign_webhook_v1(BODY, SECRET, 0))]);
        assert!(matches!(
            v.verify_at(&zero, BODY, at(T)),
            Err(WebhookError::Stale { .. })
        ));
    }

    #[test]
    fn the_signature_is_checked_before_the_time() {
        let v = WebhookVerifier::new(SECRET);
        let forged = headers(&[(
            SIGNATURE_256_HEADER,
            &sign_webhook_v1(BODY, "other-secret-0000", T - 9999),
        )]);
        assert_eq!(
            v.verify_at(&forged, BODY, at(T)),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn refuses_tampering_and_other_secrets() {
        let v = WebhookVerifier::new(SECRET);
        let value = sign_webhook_v1(BODY, SECRET, T);
        let h = headers(&[(SIGNATURE_256_HEADER, &value)]);
        assert_eq!(
            v.verify_at(&h, b"{\"event\": \"post_created\", \"id\": \"p2\"}", at(T)),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(
            WebhookVerifier::new("a-different-secret").verify_at(&h, BODY, at(T)),
            Err(WebhookError::BadSignature)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = value.replacen("t=1700000000", "t=1700000001", 1);
        assert_eq!(
            v.verify_at(&headers(&[(SIGNATURE_256_HEADER, &moved)]), BODY, at(T)),
            Err(WebhookError::BadSignature)
        );
        // The legacy digest is not a v1 digest.
        let legacy_as_v1 = format!("t={T},v1={BODY_SIG}");
        assert_eq!(
            v.verify_at(
                &headers(&[(SIGNATURE_256_HEADER, &legacy_as_v1)]),
                BODY,
                at(T)
            ),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn a_replay_is_refused_and_a_resigned_retry_is_not() {
        let v = WebhookVerifier::new(SECRET);
        let h = headers(&[
            (SIGNATURE_256_HEADER, &sign_webhook_v1(BODY, SECRET, T)),
            (DELIVERY_HEADER, "d-1"),
        ]);
        assert!(v.verify_at(&h, BODY, at(T)).is_ok());
        assert_eq!(
            v.verify_at(&h, BODY, at(T + 10)),
            Err(WebhookError::Replayed)
        );
        // Clones share the memory.
        assert_eq!(
            v.clone().verify_at(&h, BODY, at(T + 10)),
            Err(WebhookError::Replayed)
        );
        // The service's retry of the same delivery is signed anew.
        let retry = headers(&[
            (SIGNATURE_256_HEADER, &sign_webhook_v1(BODY, SECRET, T + 30)),
            (DELIVERY_HEADER, "d-1"),
        ]);
        let ok = v.verify_at(&retry, BODY, at(T + 30)).unwrap();
        assert_eq!(ok.delivery_id(), Some("d-1"));
        // Once outside the window, the old one is stale, not a replay.
        assert!(matches!(
            v.verify_at(&h, BODY, at(T + 301)),
            Err(WebhookError::Stale { .. })
        ));
    }

    #[test]
    fn replay_memory_is_bounded() {
        let mut guard = ReplayGuard::new(3);
        for i in 0..10 {
            assert!(guard.admit(T + i, [i as u8; 32], T, 300));
            assert!(guard.len() <= 3);
        }
        // Entries that left the window are forgotten on the next admission.
        assert!(guard.admit(T + 1000, [99; 32], T + 1000, 300));
        assert_eq!(guard.len(), 1);
        // The verifier's capacity is at least one.
        let v = WebhookVerifier::new(SECRET).replay_capacity(0);
        let h = headers(&[(SIGNATURE_256_HEADER, &sign_webhook_v1(BODY, SECRET, T))]);
        assert!(v.verify_at(&h, BODY, at(T)).is_ok());
        assert_eq!(v.verify_at(&h, BODY, at(T)), Err(WebhookError::Replayed));
    }

    #[test]
    fn malformed_v1_headers_say_why() {
        let v = WebhookVerifier::new(SECRET);
        let good = sign_webhook_v1(BODY, SECRET, T);
        let digest = &good["t=1700000000,v1=".len()..];
        let cases = [
            String::new(),
            " ".into(),
            "garbage".into(),
            format!("v1={digest}"),
            format!("t={T}"),
            format!("t=,v1={digest}"),
            format!("t=-5,v1={digest}"),
            format!("t=+{T},v1={digest}"),
            format!("t=1e9,v1={digest}"),
            format!("t=99999999999999999999999,v1={digest}"),
            format!("t={T},v1={}", &digest[..63]),
            format!("t={T},v1={digest}00"),
            format!("t={T},v1=sha256={digest}"),
            format!("t={T},t={T},v1={digest}"),
            format!("t={T},v1={digest},v1={digest}"),
            format!("t={T},={digest}"),
            format!("t={T};v1={digest}"),
            format!("t={T},v1={}", "é".repeat(32)),
            format!("t={T},v1={digest},{}", "x".repeat(2000)),
        ];
        for case in &cases {
            let mut h = HeaderMap::new();
            h.insert(
                SIGNATURE_256_HEADER,
                http::HeaderValue::from_bytes(case.as_bytes()).unwrap(),
            );
            assert!(
                matches!(
                    v.verify_at(&h, BODY, at(T)),
                    Err(WebhookError::Malformed(_))
                ),
                "{case:?}"
            );
        }
        // Spaces around the parts, a trailing comma and unknown keys are fine.
        for ok in [
            format!(" t={T} , v1={digest} "),
            format!("t={T},v1={digest},"),
            format!("v0=abc,t={T},v1={digest}"),
            format!("v1={},t={T}", digest.to_ascii_uppercase()),
        ] {
            let v = WebhookVerifier::new(SECRET);
            let h = headers(&[(SIGNATURE_256_HEADER, &ok)]);
            assert!(v.verify_at(&h, BODY, at(T)).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn odd_header_values_never_panic() {
        let v = WebhookVerifier::new(SECRET).accept_legacy(true);
        let mut bytes: Vec<Vec<u8>> = vec![vec![0x80], vec![0xff; 70], b"t=\xe9".to_vec()];
        bytes.extend(
            (0u8..=255)
                .filter(|b| *b != b'\r' && *b != b'\n' && *b != 0)
                .map(|b| vec![b; 3]),
        );
        for raw in bytes {
            let Ok(value) = http::HeaderValue::from_bytes(&raw) else {
                continue;
            };
            for name in [SIGNATURE_256_HEADER, SIGNATURE_HEADER] {
                let mut h = HeaderMap::new();
                h.insert(name, value.clone());
                assert!(v.verify_at(&h, BODY, at(T)).is_err());
            }
        }
    }

    #[test]
    fn two_values_of_a_signature_header_are_malformed() {
        let v = WebhookVerifier::new(SECRET);
        let good = sign_webhook_v1(BODY, SECRET, T);
        let h = headers(&[(SIGNATURE_256_HEADER, &good), (SIGNATURE_256_HEADER, &good)]);
        assert!(matches!(
            v.verify_at(&h, BODY, at(T)),
            Err(WebhookError::Malformed(_))
        ));
    }

    #[test]
    fn legacy_only_when_accepted_and_never_as_a_fallback() {
        let legacy = headers(&[(SIGNATURE_HEADER, &format!("sha256={BODY_SIG}"))]);
        assert_eq!(
            WebhookVerifier::new(SECRET).verify_at(&legacy, BODY, at(T)),
            Err(WebhookError::LegacyNotAccepted)
        );
        let v = WebhookVerifier::new(SECRET).accept_legacy(true);
        let ok = v.verify_at(&legacy, BODY, at(T)).unwrap();
        assert_eq!(
            (ok.scheme(), ok.signed_at()),
            (SignatureScheme::Legacy, None)
        );
        assert_eq!(
            v.verify_at(&legacy, b"tampered", at(T)),
            Err(WebhookError::BadSignature)
        );
        assert!(matches!(
            v.verify_at(&headers(&[(SIGNATURE_HEADER, "sha256=xyz")]), BODY, at(T)),
            Err(WebhookError::Malformed(_))
        ));
        // A stale v1 is not rescued by a valid legacy signature beside it.
        let both = headers(&[
            (
                SIGNATURE_256_HEADER,
                &sign_webhook_v1(BODY, SECRET, T - 1000),
            ),
            (SIGNATURE_HEADER, BODY_SIG),
        ]);
        assert!(matches!(
            v.verify_at(&both, BODY, at(T)),
            Err(WebhookError::Stale { .. })
        ));
    }

    #[test]
    fn missing_headers_and_empty_secret() {
        let v = WebhookVerifier::new(SECRET);
        assert_eq!(
            v.verify_at(&HeaderMap::new(), BODY, at(T)),
            Err(WebhookError::MissingSignature)
        );
        let h = headers(&[(SIGNATURE_256_HEADER, &sign_webhook_v1(BODY, "", T))]);
        assert_eq!(
            WebhookVerifier::new("").verify_at(&h, BODY, at(T)),
            Err(WebhookError::EmptySecret)
        );
    }

    #[test]
    fn describes_the_delivery_and_hides_the_secret() {
        let v = WebhookVerifier::new(SECRET);
        let h = headers(&[
            (SIGNATURE_256_HEADER, &sign_webhook_v1(BODY, SECRET, T)),
            (DELIVERY_HEADER, " 6f1c0c1e-0000-4000-8000-000000000001 "),
            (EVENT_HEADER, "post_created"),
        ]);
        let ok = v.verify_at(&h, BODY, at(T)).unwrap();
        assert_eq!(
            ok.delivery_id(),
            Some("6f1c0c1e-0000-4000-8000-000000000001")
        );
        assert_eq!(ok.event(), Some("post_created"));
        assert!(!format!("{v:?}").contains(SECRET));
        let e = WebhookError::Stale {
            signed_at: T - 400,
            now: T,
        };
        assert_eq!(
            e.to_string(),
            "the delivery was signed 400s ago, beyond the tolerance"
        );
    }
}
