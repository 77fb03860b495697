//! Attestation envelopes: signed, offline-checkable claims about something
//! an agent did (published a post, executed an action), as colony-sdk 1.38
//! makes and checks them (attestation-envelope-spec v0.1.1, wire version
//! `"0.1"`).
//!
//! An envelope names an issuer and a subject, one witnessed claim, at least
//! one evidence pointer to a record a reader can fetch independently, and a
//! validity window. Its `sigchain` holds ed25519 signatures over the RFC 8785
//! (JCS) canonical JSON of the envelope: the first one, by the issuer, over
//! the envelope with an empty chain; each later one over the envelope with
//! the chain cut to the signatures before it. Keys are `did:key`
//! identifiers, so a reader needs no key directory: the key is in the name.
//!
//! ```
//! use agentwire::colony::attestation::{Claim, Envelope, Evidence, SigningKey};
//!
//! # fn demo() -> Result<(), agentwire::colony::attestation::AttestationError> {
//! let key = SigningKey::generate()?; // keep key.seed() somewhere safe
//! let claim = Claim::action_executed(
//!     "colony.post.create",
//!     "https://thecolony.ai/api/v1/posts/0192f0c1-0000-7000-8000-000000000000",
//!     None,
//! );
//! let evidence = Evidence::immutable_uri("https://example.org/receipts/42", None)?;
//! let envelope = Envelope::builder(claim, vec![evidence]).sign(&key)?;
//!
//! let report = agentwire::colony::attestation::verify_now(&envelope);
//! assert!(report.ok && report.issuer_bound);
//! # Ok(()) }
//! # demo().unwrap();
//! ```
//!
//! Nothing here touches the network: [`verify`] never fetches evidence or a
//! revocation list, and [`Client::attest_post`](super::Client::attest_post)
//! makes one request (the post) before the local work.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::SecretBox;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Client, IdArg};
use crate::Result;

/// The envelope version written and accepted (`envelope_version`).
pub const ENVELOPE_VERSION: &str = "0.1";

/// Where the envelope format is specified (v0.1.1 is what is implemented).
pub const SPEC_URL: &str = "https://github.com/TheColonyCC/attestation-envelope-spec";

/// The only signature algorithm of v0.1.
pub const ALG_ED25519: &str = "ed25519";

/// The multicodec prefix of an ed25519 public key inside a `did:key`.
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

/// `did:key:` followed by the multibase prefix of base58btc.
const DID_KEY_PREFIX: &str = "did:key:z";

/// colony-sdk's default validity: one year from signing.
const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The platform id colony-sdk writes on a post's evidence pointer.
const PLATFORM_ID: &str = "thecolony.ai";

/// Integers beyond this lose digits in JCS, which writes numbers as IEEE
/// doubles; colony-sdk writes them exactly, so the two would sign different
/// bytes.
const MAX_EXACT_INTEGER: u64 = (1 << 53) - 1;

/// Why an envelope could not be built or signed, or a key read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttestationError {
    /// A seed or public key of the wrong length.
    KeyLength {
        /// What was expected (`"seed"`, `"public key"`).
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A string that is not an ed25519 `did:key`.
    InvalidDidKey(String),
    /// A public key that is not a point of the curve.
    InvalidPublicKey,
    /// A content hash that is not `<alg>:<lowercase hex>`.
    InvalidContentHash {
        /// The field it was given for.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A platform handle that is not `<platform>:<handle>`.
    InvalidPlatformHandle(String),
    /// An envelope without evidence: a claim signed only by its maker is no
    /// evidence of anything.
    NoEvidence,
    /// Coverage that covers no claim type.
    EmptyCoverage,
    /// A `platform_receipt` or `transcript_id` pointer without `platform_id`.
    MissingPlatformId,
    /// A number the canonical form cannot carry exactly (a float, or an
    /// integer past 2^53), at this path of the envelope. Put such values in
    /// strings.
    UnsupportedNumber(String),
    /// The operating system gave no random bytes.
    Random(String),
    /// The envelope could not be turned into JSON.
    Encode(String),
}

impl fmt::Display for AttestationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttestationError::KeyLength { what, len } => {
                write!(f, "an ed25519 {what} is 32 bytes, got {len}")
            }
            AttestationError::InvalidDidKey(why) => write!(f, "not an ed25519 did:key: {why}"),
            AttestationError::InvalidPublicKey => {
                f.write_str("the public key is not a valid ed25519 point")
            }
            AttestationError::InvalidContentHash { field, value } => {
                write!(f, "{field} must be `<alg>:<lowercase hex>`, got {value:?}")
            }
            AttestationError::InvalidPlatformHandle(handle) => write!(
                f,
                "a platform handle is `<platform>:<handle>`, got {handle:?}"
            ),
            AttestationError::NoEvidence => {
                f.write_str("an envelope needs at least one evidence pointer")
            }
            AttestationError::EmptyCoverage => {
                f.write_str("coverage must cover at least one claim type")
            }
            AttestationError::MissingPlatformId => f.write_str(
                "platform_receipt and transcript_id evidence pointers need a platform_id",
            ),
            AttestationError::UnsupportedNumber(path) => write!(
                f,
                "{path}: floats and integers past 2^53 cannot be signed exactly; use a string"
            ),
            AttestationError::Random(why) => write!(f, "no random bytes for a key: {why}"),
            AttestationError::Encode(why) => write!(f, "the envelope is not JSON: {why}"),
        }
    }
}

impl std::error::Error for AttestationError {}

// --------------------------------------------------------------------------
// Keys and did:key
// --------------------------------------------------------------------------

/// An ed25519 signing key. Its `Debug` shows the `did:key`, never the seed.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> std::result::Result<SigningKey, AttestationError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| AttestationError::Random(e.to_string()))?;
        let key = SigningKey::from_seed(seed);
        secrecy::zeroize::Zeroize::zeroize(&mut seed);
        Ok(key)
    }

    /// The key of a 32-byte seed (the private key, as [`SigningKey::seed`]
    /// gives it back).
    pub fn from_seed(seed: [u8; 32]) -> SigningKey {
        SigningKey {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// The key of a seed held in a slice; refused unless it is 32 bytes.
    pub fn from_seed_slice(seed: &[u8]) -> std::result::Result<SigningKey, AttestationError> {
        let seed: [u8; 32] = seed.try_into().map_err(|_| AttestationError::KeyLength {
            what: "seed",
            len: seed.len(),
        })?;
        Ok(SigningKey::from_seed(seed))
    }

    /// The 32-byte seed, to store securely: whoever has it signs as this key.
    pub fn seed(&self) -> SecretBox<[u8; 32]> {
        SecretBox::new(Box::new(self.key.to_bytes()))
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The key's `did:key` identifier.
    pub fn did_key(&self) -> String {
        public_key_to_did_key(&self.public_key())
    }

    /// The 64-byte ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("did_key", &self.did_key())
            .finish_non_exhaustive()
    }
}

/// The `did:key` of a raw ed25519 public key:
/// `did:key:z` + base58btc(`0xed 0x01` ‖ key).
pub fn public_key_to_did_key(public_key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_MULTICODEC);
    bytes.extend_from_slice(public_key);
    format!("{DID_KEY_PREFIX}{}", bs58::encode(bytes).into_string())
}

/// The raw ed25519 public key inside a `did:key`.
pub fn did_key_to_public_key(did_key: &str) -> std::result::Result<[u8; 32], AttestationError> {
    let encoded = did_key.strip_prefix(DID_KEY_PREFIX).ok_or_else(|| {
        AttestationError::InvalidDidKey("it does not start with `did:key:z`".into())
    })?;
    let decoded = bs58::decode(encoded)
        .into_vec()
        .map_err(|e| AttestationError::InvalidDidKey(format!("bad base58btc: {e}")))?;
    let key = decoded.strip_prefix(&ED25519_MULTICODEC).ok_or_else(|| {
        AttestationError::InvalidDidKey("the multicodec is not ed25519 (0xed01)".into())
    })?;
    key.try_into().map_err(|_| AttestationError::KeyLength {
        what: "public key",
        len: key.len(),
    })
}

// --------------------------------------------------------------------------
// The envelope
// --------------------------------------------------------------------------

/// An attestation envelope, as it travels. Deserializing keeps only the
/// fields v0.1 defines and refuses others, so that nothing signed is
/// dropped unseen: check envelopes as received with [`verify`] on their
/// JSON ([`serde_json::Value`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Always [`ENVELOPE_VERSION`].
    pub envelope_version: String,
    /// A UUIDv7.
    pub envelope_id: String,
    /// Who makes the claim (and signs first).
    pub issuer: Identity,
    /// Whom the claim is about.
    pub subject: Identity,
    /// What is claimed.
    pub witnessed_claim: Claim,
    /// Where a reader can check it (never empty).
    pub evidence: Vec<Evidence>,
    /// When it was signed (RFC 3339, UTC, `Z`).
    pub issued_at: String,
    /// How long it holds.
    pub validity: Validity,
    /// Which claim types the issuer commits to attest exhaustively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Free-form additions (signed like the rest; no floats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<Map<String, Value>>,
    /// The signatures, issuer first.
    pub sigchain: Vec<Signature>,
}

/// An agent's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// How `id` is to be read.
    pub id_scheme: IdScheme,
    /// The identifier.
    pub id: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// The identity schemes of v0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdScheme {
    /// `did:key:z…`: the key is the identity, so a signature binds to it.
    #[serde(rename = "did:key")]
    DidKey,
    /// `<platform>:<handle>`: v0.1 has no way to publish a handle's key, so
    /// such an issuer cannot be bound to a signature.
    #[serde(rename = "platform-handle")]
    PlatformHandle,
}

impl Identity {
    /// A `did:key` identity.
    pub fn did_key(
        did_key: impl Into<String>,
        display_name: Option<String>,
    ) -> std::result::Result<Identity, AttestationError> {
        let id = did_key.into();
        did_key_to_public_key(&id)?;
        Ok(Identity {
            id_scheme: IdScheme::DidKey,
            id,
            display_name,
        })
    }

    /// A platform handle, `<platform>:<handle>` (`thecolony.ai:alice`).
    /// Fine as a subject; as an issuer it cannot be bound to the signature.
    pub fn platform_handle(
        handle: impl Into<String>,
        display_name: Option<String>,
    ) -> std::result::Result<Identity, AttestationError> {
        let id = handle.into();
        if !id.contains(':') {
            return Err(AttestationError::InvalidPlatformHandle(id));
        }
        Ok(Identity {
            id_scheme: IdScheme::PlatformHandle,
            id,
            display_name,
        })
    }
}

/// What an envelope claims (`witnessed_claim`, tagged by `claim_type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "claim_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Claim {
    /// The subject published an artifact.
    ArtifactPublished {
        /// Where the artifact is.
        artifact_uri: String,
        /// `<alg>:<lowercase hex>` of its bytes when published.
        content_hash: String,
        /// When it was published.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        published_at: Option<String>,
    },
    /// The subject executed an action.
    ActionExecuted {
        /// A `namespace.verb` name (`colony.post.create`).
        action_kind: String,
        /// The platform's own receipt of the action.
        action_receipt_uri: String,
        /// When it was executed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        executed_at: Option<String>,
    },
    /// The subject moved from one observable state to another.
    StateTransition {
        /// The state before.
        subject_state_before: String,
        /// The state after.
        subject_state_after: String,
        /// Where the transition can be observed.
        transition_witness_uri: String,
    },
    /// The subject covers a named capability.
    CapabilityCoverage {
        /// The capability.
        capability_id: String,
        /// Where its coverage is described.
        coverage_uri: String,
    },
}

impl Claim {
    /// An `artifact_published` claim; `content_hash` must be
    /// `<alg>:<lowercase hex>` (see [`sha256_content_hash`]).
    pub fn artifact_published(
        artifact_uri: impl Into<String>,
        content_hash: impl Into<String>,
        published_at: Option<DateTime<Utc>>,
    ) -> std::result::Result<Claim, AttestationError> {
        let content_hash = content_hash.into();
        check_multihash("content_hash", &content_hash)?;
        Ok(Claim::ArtifactPublished {
            artifact_uri: artifact_uri.into(),
            content_hash,
            published_at: published_at.map(rfc3339),
        })
    }

    /// An `action_executed` claim; the receipt should be the platform's,
    /// not one the subject wrote.
    pub fn action_executed(
        action_kind: impl Into<String>,
        action_receipt_uri: impl Into<String>,
        executed_at: Option<DateTime<Utc>>,
    ) -> Claim {
        Claim::ActionExecuted {
            action_kind: action_kind.into(),
            action_receipt_uri: action_receipt_uri.into(),
            executed_at: executed_at.map(rfc3339),
        }
    }

    /// A `state_transition` claim.
    pub fn state_transition(
        before: impl Into<String>,
        after: impl Into<String>,
        witness_uri: impl Into<String>,
    ) -> Claim {
        Claim::StateTransition {
            subject_state_before: before.into(),
            subject_state_after: after.into(),
            transition_witness_uri: witness_uri.into(),
        }
    }

    /// A `capability_coverage` claim.
    pub fn capability_coverage(
        capability_id: impl Into<String>,
        coverage_uri: impl Into<String>,
    ) -> Claim {
        Claim::CapabilityCoverage {
            capability_id: capability_id.into(),
            coverage_uri: coverage_uri.into(),
        }
    }
}

/// A pointer to a record a reader can check without trusting the issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What kind of record.
    pub pointer_type: PointerType,
    /// Where it is.
    pub uri: String,
    /// `<alg>:<lowercase hex>` of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// The platform that keeps it (required for platform receipts and
    /// transcripts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
}

/// The kinds of evidence pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointerType {
    /// A content-addressed or tamper-evident URL.
    ImmutableUri,
    /// A record the platform issued.
    PlatformReceipt,
    /// A version-control commit.
    CommitHash,
    /// A transcript the platform keeps.
    TranscriptId,
}

impl Evidence {
    fn new(
        pointer_type: PointerType,
        uri: String,
        content_hash: Option<String>,
        platform_id: Option<String>,
    ) -> std::result::Result<Evidence, AttestationError> {
        if let Some(hash) = &content_hash {
            check_multihash("content_hash", hash)?;
        }
        Ok(Evidence {
            pointer_type,
            uri,
            content_hash,
            platform_id,
        })
    }

    /// A content-addressed or tamper-evident URL.
    pub fn immutable_uri(
        uri: impl Into<String>,
        content_hash: Option<String>,
    ) -> std::result::Result<Evidence, AttestationError> {
        Evidence::new(PointerType::ImmutableUri, uri.into(), content_hash, None)
    }

    /// A record issued by `platform_id`.
    pub fn platform_receipt(
        uri: impl Into<String>,
        platform_id: impl Into<String>,
        content_hash: Option<String>,
    ) -> std::result::Result<Evidence, AttestationError> {
        Evidence::new(
            PointerType::PlatformReceipt,
            uri.into(),
            content_hash,
            Some(platform_id.into()),
        )
    }

    /// A version-control commit.
    pub fn commit_hash(
        uri: impl Into<String>,
        content_hash: Option<String>,
    ) -> std::result::Result<Evidence, AttestationError> {
        Evidence::new(PointerType::CommitHash, uri.into(), content_hash, None)
    }

    /// A transcript kept by `platform_id`.
    pub fn transcript_id(uri: impl Into<String>, platform_id: impl Into<String>) -> Evidence {
        Evidence {
            pointer_type: PointerType::TranscriptId,
            uri: uri.into(),
            content_hash: None,
            platform_id: Some(platform_id.into()),
        }
    }
}

/// How long an envelope holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// Which rule applies.
    pub validity_model: ValidityModel,
    /// Start (RFC 3339).
    pub not_before: String,
    /// End (RFC 3339; informational for `perpetual`).
    pub not_after: String,
    /// Where to ask whether it was revoked (`revocation_checked`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_uri: Option<String>,
}

/// The validity models of v0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidityModel {
    /// Valid from `not_before` to `not_after`, both included.
    TimeBounded,
    /// Valid for good; `not_after` is only informational.
    Perpetual,
    /// Valid until revoked: a reader must ask `revocation_uri`.
    RevocationChecked,
}

impl Validity {
    /// Valid from `not_before` to `not_after`.
    pub fn time_bounded(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Validity {
        Validity::with(ValidityModel::TimeBounded, not_before, not_after, None)
    }

    /// Valid for good.
    pub fn perpetual(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Validity {
        Validity::with(ValidityModel::Perpetual, not_before, not_after, None)
    }

    /// Valid until revoked at `revocation_uri`.
    pub fn revocation_checked(
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        revocation_uri: impl Into<String>,
    ) -> Validity {
        Validity::with(
            ValidityModel::RevocationChecked,
            not_before,
            not_after,
            Some(revocation_uri.into()),
        )
    }

    fn with(
        validity_model: ValidityModel,
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        revocation_uri: Option<String>,
    ) -> Validity {
        Validity {
            validity_model,
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            revocation_uri,
        }
    }
}

/// The claim types an issuer commits to attest every time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coverage {
    /// Where the commitment is published.
    pub coverage_uri: String,
    /// The claim types covered (never empty).
    pub covered_claim_types: Vec<String>,
    /// When the commitment was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage_signed_at: Option<String>,
}

impl Coverage {
    /// Coverage of `claim_types` (at least one).
    pub fn new(
        coverage_uri: impl Into<String>,
        claim_types: impl IntoIterator<Item = impl Into<String>>,
        signed_at: Option<DateTime<Utc>>,
    ) -> std::result::Result<Coverage, AttestationError> {
        let covered_claim_types: Vec<String> = claim_types.into_iter().map(Into::into).collect();
        if covered_claim_types.is_empty() {
            return Err(AttestationError::EmptyCoverage);
        }
        Ok(Coverage {
            coverage_uri: coverage_uri.into(),
            covered_claim_types,
            coverage_signed_at: signed_at.map(rfc3339),
        })
    }
}

/// One signature of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always [`ALG_ED25519`] in v0.1.
    pub alg: String,
    /// The signer's `did:key`.
    pub key_id: String,
    /// base64url (no padding) of the 64-byte signature.
    pub sig: String,
    /// What the signer is to the envelope (`issuer` for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Builds and signs an [`Envelope`]; from [`Envelope::builder`].
///
/// Defaults, as colony-sdk's: the issuer is the signer's `did:key`, the
/// subject is the issuer, validity is `time_bounded` for 365 days from
/// signing, `issued_at` is the signing time, the id a fresh UUIDv7 and the
/// first signature's role `issuer`.
#[derive(Debug, Clone)]
pub struct EnvelopeBuilder {
    claim: Claim,
    evidence: Vec<Evidence>,
    issuer: Option<Identity>,
    subject: Option<Identity>,
    validity: Option<Validity>,
    coverage: Option<Coverage>,
    extensions: Option<Map<String, Value>>,
    issued_at: Option<DateTime<Utc>>,
    envelope_id: Option<String>,
    display_name: Option<String>,
    role: Option<String>,
}

impl Envelope {
    /// Starts an envelope claiming `claim`, backed by `evidence`.
    pub fn builder(claim: Claim, evidence: Vec<Evidence>) -> EnvelopeBuilder {
        EnvelopeBuilder {
            claim,
            evidence,
            issuer: None,
            subject: None,
            validity: None,
            coverage: None,
            extensions: None,
            issued_at: None,
            envelope_id: None,
            display_name: None,
            role: Some("issuer".into()),
        }
    }

    /// Adds a signature by `key` over the envelope as it stands (its chain
    /// included), as a later signer of the chain does. `role` says what the
    /// signer is (`witness`, `platform`…).
    pub fn countersign(
        &mut self,
        key: &SigningKey,
        role: Option<String>,
    ) -> std::result::Result<(), AttestationError> {
        let json =
            serde_json::to_value(&*self).map_err(|e| AttestationError::Encode(e.to_string()))?;
        check_numbers(&json, "envelope")?;
        let signature = signature_entry(key, &canonical_bytes(&json)?, role);
        self.sigchain.push(signature);
        Ok(())
    }

    /// Checks this envelope at `now` (see [`verify`]).
    pub fn verify(&self, now: DateTime<Utc>) -> Verification {
        verify(self, now)
    }
}

impl EnvelopeBuilder {
    /// Who makes the claim (default: the signer's `did:key`). Only a
    /// `did:key` issuer equal to the signer binds to the signature.
    pub fn issuer(mut self, issuer: Identity) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Whom the claim is about (default: the issuer).
    pub fn subject(mut self, subject: Identity) -> Self {
        self.subject = Some(subject);
        self
    }

    /// How long it holds (default: 365 days from signing).
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = Some(validity);
        self
    }

    /// Coverage metadata.
    pub fn coverage(mut self, coverage: Coverage) -> Self {
        self.coverage = Some(coverage);
        self
    }

    /// Free-form extensions. Floats and integers past 2^53 are refused when
    /// signing: put such values in strings.
    pub fn extensions(mut self, extensions: Map<String, Value>) -> Self {
        self.extensions = Some(extensions);
        self
    }

    /// The signing time written as `issued_at` (default: now).
    pub fn issued_at(mut self, at: DateTime<Utc>) -> Self {
        self.issued_at = Some(at);
        self
    }

    /// The envelope's id (default: a fresh UUIDv7).
    pub fn envelope_id(mut self, id: impl Into<String>) -> Self {
        self.envelope_id = Some(id.into());
        self
    }

    /// The display name of the default issuer.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// The first signature's role (default `issuer`; `None` leaves it out).
    pub fn role(mut self, role: Option<String>) -> Self {
        self.role = role;
        self
    }

    /// Signs with `key`: the signature covers the JCS canonical JSON of the
    /// envelope with an empty `sigchain`.
    pub fn sign(self, key: &SigningKey) -> std::result::Result<Envelope, AttestationError> {
        if self.evidence.is_empty() {
            return Err(AttestationError::NoEvidence);
        }
        check_claim(&self.claim)?;
        for evidence in &self.evidence {
            check_evidence(evidence)?;
        }
        if let Some(coverage) = &self.coverage {
            if coverage.covered_claim_types.is_empty() {
                return Err(AttestationError::EmptyCoverage);
            }
        }
        let now = current_time();
        let issuer = match self.issuer {
            Some(issuer) => issuer,
            None => Identity {
                id_scheme: IdScheme::DidKey,
                id: key.did_key(),
                display_name: self.display_name,
            },
        };
        let subject = self.subject.unwrap_or_else(|| issuer.clone());
        let validity = self.validity.unwrap_or_else(|| {
            let until = now + chrono::Duration::from_std(DEFAULT_VALIDITY).unwrap_or_default();
            Validity::time_bounded(now, until)
        });
        let envelope_id = match self.envelope_id {
            Some(id) => id,
            None => uuid_v7(now)?,
        };
        let mut envelope = Envelope {
            envelope_version: ENVELOPE_VERSION.to_owned(),
            envelope_id,
            issuer,
            subject,
            witnessed_claim: self.claim,
            evidence: self.evidence,
            issued_at: rfc3339(self.issued_at.unwrap_or(now)),
            validity,
            coverage: self.coverage,
            extensions: self.extensions,
            sigchain: Vec::new(),
        };
        let json =
            serde_json::to_value(&envelope).map_err(|e| AttestationError::Encode(e.to_string()))?;
        check_numbers(&json, "envelope")?;
        let signature = signature_entry(key, &canonical_bytes(&json)?, self.role);
        envelope.sigchain.push(signature);
        Ok(envelope)
    }
}

fn signature_entry(key: &SigningKey, message: &[u8], role: Option<String>) -> Signature {
    Signature {
        alg: ALG_ED25519.to_owned(),
        key_id: key.did_key(),
        sig: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.sign(message)),
        role,
    }
}

/// `sha256:<lowercase hex>` of `bytes`, the content hash colony-sdk writes.
pub fn sha256_content_hash(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The JCS canonical bytes signatures cover (see
/// [`canonical_bytes`](super::notarisation::canonical_bytes)).
fn canonical_bytes(value: &Value) -> std::result::Result<Vec<u8>, AttestationError> {
    super::notarisation::canonical_bytes(value).map_err(|e| AttestationError::Encode(e.to_string()))
}

fn check_multihash(field: &'static str, value: &str) -> std::result::Result<(), AttestationError> {
    let ok = match value.split_once(':') {
        Some((alg, digest)) => {
            !alg.is_empty()
                && !digest.is_empty()
                && digest
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(AttestationError::InvalidContentHash {
            field,
            value: value.to_owned(),
        })
    }
}

fn check_claim(claim: &Claim) -> std::result::Result<(), AttestationError> {
    match claim {
        Claim::ArtifactPublished { content_hash, .. } => {
            check_multihash("content_hash", content_hash)
        }
        _ => Ok(()),
    }
}

fn check_evidence(evidence: &Evidence) -> std::result::Result<(), AttestationError> {
    if let Some(hash) = &evidence.content_hash {
        check_multihash("content_hash", hash)?;
    }
    let needs_platform = matches!(
        evidence.pointer_type,
        PointerType::PlatformReceipt | PointerType::TranscriptId
    );
    if needs_platform && evidence.platform_id.is_none() {
        return Err(AttestationError::MissingPlatformId);
    }
    Ok(())
}

/// Refuses the numbers whose canonical form differs between JCS and
/// colony-sdk's shortcut (compact sorted JSON), so that both sign and check
/// the same bytes.
fn check_numbers(value: &Value, path: &str) -> std::result::Result<(), AttestationError> {
    match value {
        Value::Number(n) => {
            let exact = n.as_u64().map(|u| u <= MAX_EXACT_INTEGER).unwrap_or(false)
                || n.as_i64()
                    .map(|i| i.unsigned_abs() <= MAX_EXACT_INTEGER)
                    .unwrap_or(false);
            if exact {
                Ok(())
            } else {
                Err(AttestationError::UnsupportedNumber(path.to_owned()))
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_numbers(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| check_numbers(v, &format!("{path}.{k}"))),
        _ => Ok(()),
    }
}

/// RFC 3339 in UTC with `Z`, microseconds when there are any: what
/// colony-sdk's `isoformat()` writes.
fn rfc3339(at: DateTime<Utc>) -> String {
    let format = if at.timestamp_subsec_micros() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Micros
    };
    at.to_rfc3339_opts(format, true)
}

fn current_time() -> DateTime<Utc> {
    DateTime::<Utc>::from(SystemTime::now())
}

fn uuid_v7(now: DateTime<Utc>) -> std::result::Result<String, AttestationError> {
    let mut random = [0u8; 10];
    getrandom::fill(&mut random).map_err(|e| AttestationError::Random(e.to_string()))?;
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    Ok(uuid::Builder::from_unix_timestamp_millis(millis, &random)
        .into_uuid()
        .to_string())
}

// --------------------------------------------------------------------------
// Verification
// --------------------------------------------------------------------------

/// The outcome of [`verify`].
///
/// `ok` means every signature of the chain verified and the validity rule
/// holds at the given time. Whether the first signature binds to the
/// declared issuer is reported apart, in `issuer_bound`, so the caller
/// decides how strict to be. Evidence and revocation are never fetched.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Verification {
    /// The signatures verified and the validity rule holds.
    pub ok: bool,
    /// The first signer is the declared issuer (a `did:key` issuer whose id
    /// is the first `key_id`).
    pub issuer_bound: bool,
    /// How the first signature relates to the issuer.
    pub binding: IssuerBinding,
    /// Each signature of the chain, in order (empty when the structure
    /// failed and no signature was checked).
    pub signatures: Vec<SignatureCheck>,
    /// What the validity rule said (`None` when the structure failed).
    pub validity: Option<ValidityCheck>,
    /// Why `ok` is false (empty when it is true).
    pub failures: Vec<Failure>,
    /// What was verified, and what was not checked (offline).
    pub notes: Vec<String>,
}

impl Verification {
    fn structural(failures: Vec<Failure>) -> Verification {
        Verification {
            ok: false,
            issuer_bound: false,
            binding: IssuerBinding::NotChecked,
            signatures: Vec::new(),
            validity: None,
            failures,
            notes: Vec::new(),
        }
    }
}

/// One signature's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureCheck {
    /// Its position in the chain.
    pub index: usize,
    /// Its `key_id`, when it has one.
    pub key_id: Option<String>,
    /// Its `role`, when it has one.
    pub role: Option<String>,
    /// It verified over the envelope with the chain cut before it.
    pub verified: bool,
}

/// How the first signature relates to the declared issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssuerBinding {
    /// A `did:key` issuer and the first `key_id` is its id.
    Bound,
    /// A `did:key` issuer, but another key signed first.
    KeyMismatch,
    /// An issuer scheme v0.1 cannot bind to a key (its `id_scheme`): a key
    /// signed, but nothing says it is the issuer's.
    Unbindable(String),
    /// The issuer is not a JSON object.
    IssuerNotAnObject,
    /// The envelope's structure failed first.
    NotChecked,
}

/// What the validity rule said.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidityCheck {
    /// `time_bounded`, and the time is inside the window.
    Within,
    /// `perpetual`: always holds.
    Perpetual,
    /// `revocation_checked`: holds as far as can be told offline; whether it
    /// was revoked is for the caller to ask `revocation_uri`.
    RevocationNotChecked,
    /// The rule failed (see [`Verification::failures`]).
    Failed,
}

/// Why an envelope does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The envelope is not a JSON object.
    NotAnObject,
    /// `envelope_version` is not [`ENVELOPE_VERSION`] (what it is, as JSON).
    UnsupportedVersion(String),
    /// A required field is missing.
    MissingField(&'static str),
    /// `evidence` is not a non-empty list.
    NoEvidence,
    /// `sigchain` is not a non-empty list.
    NoSignatures,
    /// The first signature's role is neither `issuer` nor absent.
    FirstRoleNotIssuer(String),
    /// A signature failed.
    Signature {
        /// Its position in the chain.
        index: usize,
        /// What is wrong with it.
        problem: SignatureProblem,
    },
    /// `validity` is not an object.
    ValidityNotAnObject,
    /// `validity_model` is not one of v0.1's (as JSON).
    UnknownValidityModel(String),
    /// `not_before` or `not_after` is missing or not RFC 3339.
    UnparseableValidity,
    /// The time is before `not_before`.
    NotYetValid {
        /// The envelope's `not_before`.
        not_before: String,
    },
    /// The time is after `not_after`.
    Expired {
        /// The envelope's `not_after`.
        not_after: String,
    },
}

/// What is wrong with one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// The entry is not an object, or its `alg` is not ed25519.
    UnsupportedAlg,
    /// Its `key_id` is not an ed25519 `did:key` (why).
    BadKeyId(String),
    /// Its `sig` is not base64url of 64 bytes.
    MalformedSignature,
    /// It does not verify over the envelope with the chain cut before it.
    DoesNotVerify,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotAnObject => f.write_str("the envelope is not a JSON object"),
            Failure::UnsupportedVersion(v) => write!(
                f,
                "envelope_version is {v}, expected \"{ENVELOPE_VERSION}\""
            ),
            Failure::MissingField(name) => write!(f, "the required field `{name}` is missing"),
            Failure::NoEvidence => f.write_str("evidence must be a non-empty list"),
            Failure::NoSignatures => f.write_str("sigchain must be a non-empty list"),
            Failure::FirstRoleNotIssuer(role) => write!(
                f,
                "the first signature's role must be \"issuer\" or absent, not {role}"
            ),
            Failure::Signature { index, problem } => write!(f, "sigchain[{index}]: {problem}"),
            Failure::ValidityNotAnObject => f.write_str("validity is not an object"),
            Failure::UnknownValidityModel(model) => {
                write!(f, "validity: unknown validity_model {model}")
            }
            Failure::UnparseableValidity => {
                f.write_str("validity: not_before/not_after missing or not RFC 3339")
            }
            Failure::NotYetValid { not_before } => {
                write!(f, "validity: not yet valid (not_before {not_before})")
            }
            Failure::Expired { not_after } => {
                write!(f, "validity: expired (not_after {not_after})")
            }
        }
    }
}

impl fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureProblem::UnsupportedAlg => {
                f.write_str("not an object with alg \"ed25519\" (the only one of v0.1)")
            }
            SignatureProblem::BadKeyId(why) => {
                write!(f, "key_id is not a resolvable ed25519 did:key ({why})")
            }
            SignatureProblem::MalformedSignature => {
                f.write_str("sig is not base64url of a 64-byte signature")
            }
            SignatureProblem::DoesNotVerify => f.write_str("the signature does not verify"),
        }
    }
}

/// The fields [`verify`] requires, in colony-sdk's order.
const REQUIRED_FIELDS: [&str; 6] = [
    "issuer",
    "subject",
    "witnessed_claim",
    "evidence",
    "validity",
    "sigchain",
];

/// Checks an envelope at the current time (see [`verify`]).
pub fn verify_now<E: Serialize + ?Sized>(envelope: &E) -> Verification {
    verify(envelope, current_time())
}

/// Checks an envelope offline at `now`, as colony-sdk 1.38 does: its
/// structure (the required fields, version `"0.1"`, non-empty evidence and
/// chain; a failure here stops the check), each signature `i` over the JCS
/// canonical JSON of the envelope with `sigchain` cut to its first `i`
/// entries, the validity rule at `now`, and apart from `ok`, whether the
/// first signer is the declared issuer.
///
/// `envelope` is anything that serializes to the envelope's JSON: an
/// [`Envelope`], or the [`serde_json::Value`] as received (the way to check
/// an envelope with fields this version of the format does not define).
/// Never fails and never panics: anything wrong is in the report.
pub fn verify<E: Serialize + ?Sized>(envelope: &E, now: DateTime<Utc>) -> Verification {
    let Ok(Value::Object(envelope)) = serde_json::to_value(envelope) else {
        return Verification::structural(vec![Failure::NotAnObject]);
    };
    let mut failures = Vec::new();
    let version = envelope.get("envelope_version");
    if version.and_then(Value::as_str) != Some(ENVELOPE_VERSION) {
        failures.push(Failure::UnsupportedVersion(
            version.map_or_else(|| "absent".to_owned(), Value::to_string),
        ));
    }
    for field in REQUIRED_FIELDS {
        if !envelope.contains_key(field) {
            failures.push(Failure::MissingField(field));
        }
    }
    if !matches!(envelope.get("evidence"), Some(Value::Array(e)) if !e.is_empty()) {
        failures.push(Failure::NoEvidence);
    }
    let chain = match envelope.get("sigchain") {
        Some(Value::Array(chain)) if !chain.is_empty() => chain.clone(),
        _ => {
            failures.push(Failure::NoSignatures);
            Vec::new()
        }
    };
    if !failures.is_empty() {
        return Verification::structural(failures);
    }

    let mut notes = Vec::new();
    let signatures = verify_chain(&envelope, &chain, &mut failures, &mut notes);
    let signatures_ok = failures.is_empty();
    let validity = check_validity(envelope.get("validity"), now, &mut failures, &mut notes);
    let binding = issuer_binding(&chain[0], envelope.get("issuer"));
    notes.push(match &binding {
        IssuerBinding::Bound => "issuer binding: the did:key issuer signed first".to_owned(),
        IssuerBinding::KeyMismatch => {
            "issuer binding not established: a key other than the did:key issuer signed first"
                .to_owned()
        }
        IssuerBinding::Unbindable(scheme) => {
            format!("issuer binding not possible: id_scheme {scheme} has no published key in v0.1")
        }
        IssuerBinding::IssuerNotAnObject | IssuerBinding::NotChecked => {
            "issuer binding not established: the issuer is not an object".to_owned()
        }
    });
    notes.push(
        "not checked (offline): the evidence was not fetched and no revocation list was asked"
            .to_owned(),
    );
    Verification {
        ok: signatures_ok && validity != ValidityCheck::Failed,
        issuer_bound: binding == IssuerBinding::Bound,
        binding,
        signatures,
        validity: Some(validity),
        failures,
        notes,
    }
}

fn verify_chain(
    envelope: &Map<String, Value>,
    chain: &[Value],
    failures: &mut Vec<Failure>,
    notes: &mut Vec<String>,
) -> Vec<SignatureCheck> {
    let first_role = chain.first().and_then(|e| e.get("role"));
    if let Some(role) = first_role.filter(|r| r.as_str() != Some("issuer") && !r.is_null()) {
        failures.push(Failure::FirstRoleNotIssuer(role.to_string()));
    }
    let mut checks = Vec::with_capacity(chain.len());
    for (index, entry) in chain.iter().enumerate() {
        let key_id = entry
            .get("key_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let role = entry.get("role").and_then(Value::as_str).map(str::to_owned);
        let outcome = check_signature(envelope, chain, index, entry);
        let verified = outcome.is_ok();
        match outcome {
            Ok(()) => notes.push(format!(
                "sigchain[{index}] ({}) verified against {}",
                role.as_deref().unwrap_or("no role"),
                key_id.as_deref().unwrap_or_default()
            )),
            Err(problem) => failures.push(Failure::Signature { index, problem }),
        }
        checks.push(SignatureCheck {
            index,
            key_id,
            role,
            verified,
        });
    }
    checks
}

fn check_signature(
    envelope: &Map<String, Value>,
    chain: &[Value],
    index: usize,
    entry: &Value,
) -> std::result::Result<(), SignatureProblem> {
    if entry.get("alg").and_then(Value::as_str) != Some(ALG_ED25519) {
        return Err(SignatureProblem::UnsupportedAlg);
    }
    let key_id = entry
        .get("key_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let public =
        did_key_to_public_key(key_id).map_err(|e| SignatureProblem::BadKeyId(e.to_string()))?;
    let public = ed25519_dalek::VerifyingKey::from_bytes(&public)
        .map_err(|_| SignatureProblem::BadKeyId(AttestationError::InvalidPublicKey.to_string()))?;
    let sig = entry.get("sig").and_then(Value::as_str).unwrap_or_default();
    let sig = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    )
    .decode(sig)
    .map_err(|_| SignatureProblem::MalformedSignature)?;
    let sig = ed25519_dalek::Signature::from_slice(&sig)
        .map_err(|_| SignatureProblem::MalformedSignature)?;
    // The peel rule: signature i covers the envelope with the signatures
    // before it, not an empty chain.
    let mut peeled = envelope.clone();
    peeled.insert("sigchain".into(), Value::Array(chain[..index].to_vec()));
    let message =
        canonical_bytes(&Value::Object(peeled)).map_err(|_| SignatureProblem::DoesNotVerify)?;
    public
        .verify_strict(&message, &sig)
        .map_err(|_| SignatureProblem::DoesNotVerify)
}

fn check_validity(
    validity: Option<&Value>,
    now: DateTime<Utc>,
    failures: &mut Vec<Failure>,
    notes: &mut Vec<String>,
) -> ValidityCheck {
    let Some(Value::Object(validity)) = validity else {
        failures.push(Failure::ValidityNotAnObject);
        return ValidityCheck::Failed;
    };
    let model = validity.get("validity_model");
    match model.and_then(Value::as_str) {
        Some("perpetual") => {
            notes.push("validity: perpetual (not_after is informational)".into());
            ValidityCheck::Perpetual
        }
        Some("revocation_checked") => {
            notes.push(
                "validity: revocation_checked, not confirmed offline: ask revocation_uri".into(),
            );
            ValidityCheck::RevocationNotChecked
        }
        Some("time_bounded") => {
            let bound = |name: &str| {
                let raw = validity.get(name)?.as_str()?;
                let at = DateTime::parse_from_rfc3339(raw).ok()?;
                Some((raw.to_owned(), at.with_timezone(&Utc)))
            };
            let (Some((nb_raw, nb)), Some((na_raw, na))) =
                (bound("not_before"), bound("not_after"))
            else {
                failures.push(Failure::UnparseableValidity);
                return ValidityCheck::Failed;
            };
            if now < nb {
                failures.push(Failure::NotYetValid { not_before: nb_raw });
                ValidityCheck::Failed
            } else if now > na {
                failures.push(Failure::Expired { not_after: na_raw });
                ValidityCheck::Failed
            } else {
                notes.push(format!(
                    "validity: time_bounded, within [{nb_raw}, {na_raw}]"
                ));
                ValidityCheck::Within
            }
        }
        _ => {
            failures.push(Failure::UnknownValidityModel(
                model.map_or_else(|| "absent".to_owned(), Value::to_string),
            ));
            ValidityCheck::Failed
        }
    }
}

fn issuer_binding(first: &Value, issuer: Option<&Value>) -> IssuerBinding {
    let Some(Value::Object(issuer)) = issuer else {
        return IssuerBinding::IssuerNotAnObject;
    };
    match issuer.get("id_scheme") {
        Some(Value::String(scheme)) if scheme == "did:key" => {
            let key_id = first.get("key_id");
            if key_id.is_some() && key_id == issuer.get("id") {
                IssuerBinding::Bound
            } else {
                IssuerBinding::KeyMismatch
            }
        }
        other => {
            IssuerBinding::Unbindable(other.map_or_else(|| "absent".to_owned(), Value::to_string))
        }
    }
}

// --------------------------------------------------------------------------
// attest_post
// --------------------------------------------------------------------------

/// Options of [`Client::attest_post`]; from [`Client::attest_post`].
#[derive(Debug)]
#[must_use = "does nothing until awaited"]
pub struct AttestPost<'a> {
    client: &'a Client,
    post_id: String,
    key: &'a SigningKey,
    subject: Option<Identity>,
    validity: Option<Validity>,
    coverage: Option<Coverage>,
    site_url: Option<String>,
    api_url: Option<String>,
    display_name: Option<String>,
}

impl<'a> AttestPost<'a> {
    /// Whom the claim is about (default: the signer).
    pub fn subject(mut self, subject: Identity) -> Self {
        self.subject = Some(subject);
        self
    }

    /// How long the envelope holds (default: 365 days).
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = Some(validity);
        self
    }

    /// Coverage metadata.
    pub fn coverage(mut self, coverage: Coverage) -> Self {
        self.coverage = Some(coverage);
        self
    }

    /// The site the post's `artifact_uri` is on (default: the client's base
    /// URL).
    pub fn site_url(mut self, url: impl Into<String>) -> Self {
        self.site_url = Some(url.into());
        self
    }

    /// The API root the evidence points into (default: the site URL with
    /// `/api/v1`).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// The display name of the issuer.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    async fn send(self) -> Result<Envelope> {
        let post = self.client.get_post(self.post_id.as_str()).await?;
        // As colony-sdk: the id as the caller gave it (checked by get_post).
        let post_id = self.post_id;
        let site = self
            .site_url
            .unwrap_or_else(|| self.client.base_url().to_owned());
        let site = site.trim_end_matches('/');
        let api = self.api_url.unwrap_or_else(|| format!("{site}/api/v1"));
        let api = api.trim_end_matches('/');
        let claim = Claim::ArtifactPublished {
            artifact_uri: format!("{site}/post/{post_id}"),
            content_hash: sha256_content_hash(post.body.as_bytes()),
            // Lossless: colony-sdk copies the service's text, which the
            // typed model has already parsed.
            published_at: Some(post.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        };
        let evidence = Evidence {
            pointer_type: PointerType::PlatformReceipt,
            uri: format!("{api}/posts/{post_id}"),
            content_hash: None,
            platform_id: Some(PLATFORM_ID.to_owned()),
        };
        let mut builder = Envelope::builder(claim, vec![evidence]);
        if let Some(subject) = self.subject {
            builder = builder.subject(subject);
        }
        if let Some(validity) = self.validity {
            builder = builder.validity(validity);
        }
        if let Some(coverage) = self.coverage {
            builder = builder.coverage(coverage);
        }
        if let Some(name) = self.display_name {
            builder = builder.display_name(name);
        }
        builder
            .sign(self.key)
            .map_err(|e| crate::Error::InvalidArgument {
                name: "attest_post",
                message: e.to_string(),
            })
    }
}

impl<'a> std::future::IntoFuture for AttestPost<'a> {
    type Output = Result<Envelope>;
    type IntoFuture = crate::BoxFuture<'a, Result<Envelope>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl Client {
    /// Signs an attestation that the signer published a post: one request
    /// for the post, then local work (colony-sdk's `attest_post`).
    ///
    /// The envelope's claim is `artifact_published`, with the post's
    /// address on the client's site (`<base URL>/post/<id>`), `sha256:` of
    /// its body and its creation time; its evidence is a platform receipt
    /// at `<base URL>/api/v1/posts/<id>`. A truncated post id is refused
    /// before sending.
    ///
    /// ```no_run
    /// # async fn demo(client: agentwire::colony::Client) -> agentwire::Result<()> {
    /// use agentwire::colony::attestation::{verify_now, SigningKey};
    ///
    /// let key = SigningKey::from_seed([7; 32]);
    /// let envelope = client.attest_post("0192f0c1-…", &key).await?;
    /// assert!(verify_now(&envelope).ok);
    /// # Ok(()) }
    /// ```
    pub fn attest_post<'a>(&'a self, post_id: impl IdArg, key: &'a SigningKey) -> AttestPost<'a> {
        AttestPost {
            client: self,
            post_id: post_id.as_id().into_owned(),
            key,
            subject: None,
            validity: None,
            coverage: None,
            site_url: None,
            api_url: None,
            display_name: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sample(key: &SigningKey) -> Envelope {
        let claim = Claim::artifact_published(
            "https://example.org/a",
            "sha256:00ff",
            Some(at("2026-01-01T00:00:00Z")),
        )
        .unwrap();
        let evidence =
            Evidence::platform_receipt("https://example.org/r", "example.org", None).unwrap();
        Envelope::builder(claim, vec![evidence])
            .validity(Validity::time_bounded(
                at("2026-01-01T00:00:00Z"),
                at("2027-01-01T00:00:00Z"),
            ))
            .sign(key)
            .unwrap()
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let key = SigningKey::from_seed([0x42; 32]);
        let debug = format!("{key:?}");
        assert!(debug.contains("did:key:z"), "{debug}");
        assert!(
            !debug.contains("42, 42") && !debug.contains("4242"),
            "{debug}"
        );
    }

    #[test]
    fn seeds_and_did_keys_round_trip() {
        let key = SigningKey::generate().unwrap();
        let again =
            SigningKey::from_seed_slice(secrecy::ExposeSecret::expose_secret(&key.seed())).unwrap();
        assert_eq!(again.did_key(), key.did_key());
        assert_eq!(
            did_key_to_public_key(&key.did_key()).unwrap(),
            key.public_key()
        );
        assert_eq!(
            SigningKey::from_seed_slice(&[1; 31]).unwrap_err(),
            AttestationError::KeyLength {
                what: "seed",
                len: 31
            }
        );
    }

    #[test]
    fn malformed_did_keys_are_errors() {
        for bad in [
            "",
            "did:key:",
            "did:key:z",
            "did:key:z0OIl",
            "did:web:example.org",
            "did:key:z6Mk",
            // base58 of 0x12 0x00 + 32 bytes: not the ed25519 multicodec.
            &format!("did:key:z{}", bs58::encode([0x12u8; 34]).into_string()),
            // The right prefix and 31 bytes.
            &format!(
                "did:key:z{}",
                bs58::encode([&ED25519_MULTICODEC[..], &[1u8; 31]].concat()).into_string()
            ),
            "did:key:z\u{1F600}",
        ] {
            assert!(did_key_to_public_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn builders_refuse_what_colony_sdk_refuses() {
        for bad in ["sha256", "sha256:", ":00", "sha256:ABCD", "sha256:xyz"] {
            assert!(Claim::artifact_published("u", bad, None).is_err(), "{bad}");
            assert!(
                Evidence::immutable_uri("u", Some(bad.into())).is_err(),
                "{bad}"
            );
        }
        assert!(Identity::platform_handle("nohandle", None).is_err());
        assert!(Identity::did_key("did:key:zzz", None).is_err());
        assert_eq!(
            Coverage::new("u", Vec::<String>::new(), None).unwrap_err(),
            AttestationError::EmptyCoverage
        );
        let key = SigningKey::from_seed([1; 32]);
        let claim = Claim::capability_coverage("c", "u");
        assert_eq!(
            Envelope::builder(claim.clone(), vec![])
                .sign(&key)
                .unwrap_err(),
            AttestationError::NoEvidence
        );
        let mut bare = Evidence::transcript_id("u", "p");
        bare.platform_id = None;
        assert_eq!(
            Envelope::builder(claim, vec![bare]).sign(&key).unwrap_err(),
            AttestationError::MissingPlatformId
        );
    }

    #[test]
    fn floats_and_huge_integers_are_refused_when_signing() {
        let key = SigningKey::from_seed([1; 32]);
        let evidence = Evidence::commit_hash("git:abc", None).unwrap();
        for (value, path) in [
            (json!({"x": 1.5}), "envelope.extensions.x"),
            (json!({"y": [1, 2.0]}), "envelope.extensions.y[1]"),
            (json!({"z": 9007199254740993u64}), "envelope.extensions.z"),
        ] {
            let Value::Object(map) = value else {
                unreachable!()
            };
            let err =
                Envelope::builder(Claim::capability_coverage("c", "u"), vec![evidence.clone()])
                    .extensions(map)
                    .sign(&key)
                    .unwrap_err();
            assert_eq!(err, AttestationError::UnsupportedNumber(path.into()));
        }
        let Value::Object(ok) = json!({"n": 9007199254740991u64, "m": -5}) else {
            unreachable!()
        };
        let envelope = Envelope::builder(Claim::capability_coverage("c", "u"), vec![evidence])
            .extensions(ok)
            .sign(&key)
            .unwrap();
        assert!(envelope.verify(current_time()).ok);
    }

    #[test]
    fn defaults_are_colony_sdks() {
        let key = SigningKey::from_seed([3; 32]);
        let before = current_time();
        let envelope = Envelope::builder(
            Claim::state_transition("a", "b", "https://w"),
            vec![Evidence::immutable_uri("https://e", None).unwrap()],
        )
        .display_name("me")
        .sign(&key)
        .unwrap();
        assert_eq!(envelope.envelope_version, "0.1");
        assert_eq!(envelope.issuer.id, key.did_key());
        assert_eq!(envelope.issuer.display_name.as_deref(), Some("me"));
        assert_eq!(envelope.subject, envelope.issuer);
        assert_eq!(envelope.validity.validity_model, ValidityModel::TimeBounded);
        let nb = at(&envelope.validity.not_before);
        let na = at(&envelope.validity.not_after);
        assert!(nb >= before - chrono::Duration::seconds(1));
        assert_eq!(na - nb, chrono::Duration::days(365));
        assert!(envelope.issued_at.ends_with('Z'));
        let id = uuid::Uuid::parse_str(&envelope.envelope_id).unwrap();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(envelope.sigchain.len(), 1);
        assert_eq!(envelope.sigchain[0].role.as_deref(), Some("issuer"));
        assert!(!envelope.sigchain[0].sig.contains('='));
        assert_eq!(envelope.sigchain[0].sig.len(), 86);
    }

    #[test]
    fn wire_names_are_the_specs() {
        let key = SigningKey::from_seed([5; 32]);
        let json = serde_json::to_value(sample(&key)).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "envelope_id",
                "envelope_version",
                "evidence",
                "issued_at",
                "issuer",
                "sigchain",
                "subject",
                "validity",
                "witnessed_claim"
            ]
        );
        assert_eq!(json["issuer"]["id_scheme"], "did:key");
        assert_eq!(json["witnessed_claim"]["claim_type"], "artifact_published");
        assert_eq!(
            json["witnessed_claim"]["published_at"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(json["evidence"][0]["pointer_type"], "platform_receipt");
        assert_eq!(json["validity"]["validity_model"], "time_bounded");
        assert_eq!(json["sigchain"][0]["alg"], "ed25519");
        // And back, field for field.
        let back: Envelope = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), json);
    }

    #[test]
    fn fields_outside_the_format_are_refused_when_typed() {
        let key = SigningKey::from_seed([5; 32]);
        let mut json = serde_json::to_value(sample(&key)).unwrap();
        json["surprise"] = json!(true);
        assert!(serde_json::from_value::<Envelope>(json.clone()).is_err());
        // …while the raw JSON still gets a report, naming the signature.
        let report = verify(&json, at("2026-06-01T00:00:00Z"));
        assert!(!report.ok);
        assert_eq!(
            report.failures,
            [Failure::Signature {
                index: 0,
                problem: SignatureProblem::DoesNotVerify
            }]
        );
    }

    #[test]
    fn structure_failures_stop_the_check() {
        let now = at("2026-06-01T00:00:00Z");
        for not_object in [json!(null), json!(1), json!("x"), json!([1, 2])] {
            let report = verify(&not_object, now);
            assert_eq!(report.failures, [Failure::NotAnObject]);
            assert_eq!(report.binding, IssuerBinding::NotChecked);
        }
        let report = verify(
            &json!({"envelope_version": "0.2", "evidence": [], "sigchain": {}}),
            now,
        );
        assert_eq!(
            report.failures,
            [
                Failure::UnsupportedVersion("\"0.2\"".into()),
                Failure::MissingField("issuer"),
                Failure::MissingField("subject"),
                Failure::MissingField("witnessed_claim"),
                Failure::MissingField("validity"),
                Failure::NoEvidence,
                Failure::NoSignatures,
            ]
        );
        assert!(report.signatures.is_empty() && report.validity.is_none());
    }

    #[test]
    fn garbage_signature_entries_are_reported_not_panicked_on() {
        let key = SigningKey::from_seed([9; 32]);
        let good = serde_json::to_value(sample(&key)).unwrap();
        let now = at("2026-06-01T00:00:00Z");
        let cases: [(Value, SignatureProblem); 6] = [
            (json!("not an object"), SignatureProblem::UnsupportedAlg),
            (
                json!({"alg": "rsa", "key_id": key.did_key(), "sig": "AA"}),
                SignatureProblem::UnsupportedAlg,
            ),
            (
                json!({"alg": "ed25519", "key_id": 5, "sig": "AA"}),
                SignatureProblem::BadKeyId(
                    AttestationError::InvalidDidKey("it does not start with `did:key:z`".into())
                        .to_string(),
                ),
            ),
            (
                json!({"alg": "ed25519", "key_id": key.did_key(), "sig": "***"}),
                SignatureProblem::MalformedSignature,
            ),
            (
                json!({"alg": "ed25519", "key_id": key.did_key(), "sig": "AAAA"}),
                SignatureProblem::MalformedSignature,
            ),
            (
                json!({"alg": "ed25519", "key_id": key.did_key()}),
                SignatureProblem::MalformedSignature,
            ),
        ];
        for (entry, problem) in cases {
            let mut env = good.clone();
            env["sigchain"] = json!([entry]);
            let report = verify(&env, now);
            assert!(!report.ok);
            assert_eq!(
                report.failures,
                [Failure::Signature { index: 0, problem }],
                "{env}"
            );
            assert!(!report.signatures[0].verified);
        }
    }

    #[test]
    fn first_role_must_be_issuer_or_absent() {
        let key = SigningKey::from_seed([9; 32]);
        let claim = Claim::capability_coverage("c", "u");
        let ev = vec![Evidence::immutable_uri("u", None).unwrap()];
        let none = Envelope::builder(claim.clone(), ev.clone())
            .role(None)
            .sign(&key)
            .unwrap();
        assert!(none.sigchain[0].role.is_none());
        assert!(verify_now(&none).ok);
        let witness = Envelope::builder(claim, ev)
            .role(Some("witness".into()))
            .sign(&key)
            .unwrap();
        let report = verify_now(&witness);
        assert!(!report.ok);
        assert_eq!(
            report.failures,
            [Failure::FirstRoleNotIssuer("\"witness\"".into())]
        );
        // The signature itself is still good.
        assert!(report.signatures[0].verified);
    }

    #[test]
    fn validity_models() {
        let key = SigningKey::from_seed([2; 32]);
        let make = |validity: Validity| {
            Envelope::builder(
                Claim::capability_coverage("c", "u"),
                vec![Evidence::immutable_uri("u", None).unwrap()],
            )
            .validity(validity)
            .sign(&key)
            .unwrap()
        };
        let (nb, na) = (at("2026-01-01T00:00:00Z"), at("2026-12-31T23:59:59Z"));
        let bounded = make(Validity::time_bounded(nb, na));
        assert_eq!(bounded.verify(nb).validity, Some(ValidityCheck::Within));
        assert_eq!(bounded.verify(na).validity, Some(ValidityCheck::Within));
        let early = bounded.verify(nb - chrono::Duration::seconds(1));
        assert_eq!(
            early.failures,
            [Failure::NotYetValid {
                not_before: "2026-01-01T00:00:00Z".into()
            }]
        );
        let late = bounded.verify(na + chrono::Duration::seconds(1));
        assert_eq!(
            late.failures,
            [Failure::Expired {
                not_after: "2026-12-31T23:59:59Z".into()
            }]
        );
        assert!(!late.ok);

        let perpetual = make(Validity::perpetual(nb, na));
        let report = perpetual.verify(na + chrono::Duration::days(999));
        assert!(report.ok);
        assert_eq!(report.validity, Some(ValidityCheck::Perpetual));

        let revocable = make(Validity::revocation_checked(nb, na, "https://r"));
        let report = revocable.verify(na + chrono::Duration::days(1));
        assert!(report.ok);
        assert_eq!(report.validity, Some(ValidityCheck::RevocationNotChecked));
        assert!(report.notes.iter().any(|n| n.contains("revocation_uri")));

        let mut odd = serde_json::to_value(&bounded).unwrap();
        odd["validity"]["not_after"] = json!("next tuesday");
        assert!(verify(&odd, nb)
            .failures
            .contains(&Failure::UnparseableValidity));
        odd["validity"] = json!({"validity_model": "forever"});
        assert!(verify(&odd, nb)
            .failures
            .contains(&Failure::UnknownValidityModel("\"forever\"".into())));
        odd["validity"] = json!([]);
        assert!(verify(&odd, nb)
            .failures
            .contains(&Failure::ValidityNotAnObject));
    }

    #[test]
    fn issuer_binding_is_reported_apart() {
        let signer = SigningKey::from_seed([4; 32]);
        let other = SigningKey::from_seed([6; 32]);
        let claim = Claim::capability_coverage("c", "u");
        let ev = vec![Evidence::immutable_uri("u", None).unwrap()];
        let foreign = Envelope::builder(claim.clone(), ev.clone())
            .issuer(Identity::did_key(other.did_key(), None).unwrap())
            .sign(&signer)
            .unwrap();
        let report = verify_now(&foreign);
        assert!(report.ok && !report.issuer_bound);
        assert_eq!(report.binding, IssuerBinding::KeyMismatch);

        let handle = Envelope::builder(claim, ev)
            .issuer(Identity::platform_handle("thecolony.ai:alice", None).unwrap())
            .sign(&signer)
            .unwrap();
        let report = verify_now(&handle);
        assert!(report.ok && !report.issuer_bound);
        assert_eq!(
            report.binding,
            IssuerBinding::Unbindable("\"platform-handle\"".into())
        );
    }
}
