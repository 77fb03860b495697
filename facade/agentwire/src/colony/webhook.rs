//! Authenticating The Colony's webhook deliveries.
//!
//! The Colony signs each delivery with HMAC-SHA256 over the raw request body,
//! keyed with the secret given when the webhook was registered, and sends the
//! hex digest in [`SIGNATURE_HEADER`]. Verify against the bytes exactly as
//! received: re-serialising parsed JSON changes them and breaks the signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a SHA-256 digest in bytes; a valid signature is twice this in hex.
const DIGEST_LEN: usize = 32;

/// Optional prefix some frameworks and proxies put before the hex digest.
const PREFIX: &str = "sha256=";

/// HTTP header that carries the signature of a webhook delivery.
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

/// Checks a delivery's [`SIGNATURE_HEADER`] value against its raw body.
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
}
