//! colony-sdk 1.38's local helpers: attestation envelopes (signed here,
//! checked here, and checked against vectors computed independently with
//! PyNaCl, base58 and Python's json) and the offline notarisation check, on
//! records built here and on the sandbox's answers.

use std::time::Duration;

use agentwire::colony::attestation::{
    self, did_key_to_public_key, public_key_to_did_key, verify, Claim, Envelope, Evidence, Failure,
    Identity, IssuerBinding, SignatureProblem, SigningKey, Validity, ValidityCheck,
};
use agentwire::colony::notarisation::NotarisationFailure;
use agentwire::colony::{verify_notarisation, Client};
use agentwire::{Error, RetryConfig};
use agentwire_sandbox::Sandbox;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// RFC 8032 §7.1, test 1: the seed, its public key, and the signature of
/// the empty message.
const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_EMPTY_SIG: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/// Its did:key, computed with Python's `base58` over `0xed 0x01 ‖ key`.
const RFC8032_DID: &str = "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw";
/// The key of the seed 0x00, 0x01, … 0x1f, and its did:key (PyNaCl, base58).
const COUNTING_PUBLIC: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const COUNTING_DID: &str = "did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd";

/// An envelope made in Python (PyNaCl signatures over
/// `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`):
/// the RFC 8032 key as issuer, the counting key as a witness second in the
/// chain, a non-ASCII display name and an integer extension.
const PYTHON_ENVELOPE: &str = r#"{"envelope_version": "0.1", "envelope_id": "01927f3a-1b2c-7d4e-8f00-0123456789ab", "issuer": {"id_scheme": "did:key", "id": "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw", "display_name": "Vector Agent ✓"}, "subject": {"id_scheme": "platform-handle", "id": "thecolony.ai:vector-agent"}, "witnessed_claim": {"claim_type": "artifact_published", "artifact_uri": "https://thecolony.ai/post/5f0c2a9e-3b1d-4c8e-9a7f-2d6b8e1c4f30", "content_hash": "sha256:63f67fc9f815132ccbacca75e8bc8937e77e5153f8513625c5b26f9ea952cfaf", "published_at": "2026-03-01T12:00:00Z"}, "evidence": [{"pointer_type": "platform_receipt", "uri": "https://thecolony.ai/api/v1/posts/5f0c2a9e-3b1d-4c8e-9a7f-2d6b8e1c4f30", "platform_id": "thecolony.ai"}], "issued_at": "2026-03-01T12:05:00Z", "validity": {"validity_model": "time_bounded", "not_before": "2026-03-01T12:05:00Z", "not_after": "2027-03-01T12:05:00Z"}, "extensions": {"note": "made for agentwire's tests", "count": 3}, "sigchain": [{"alg": "ed25519", "key_id": "did:key:z6MktwupdmLXVVqTzCw4i46r4uGyosGXRnR3XjN4Zq7oMMsw", "sig": "eKxhbcMLXa3d1ZRN5vjnskejs5PIfeBry6UTTsaOEjjxv9w0sfSZpiwbXNiU-FDit5oakiQKNvBt7RxZrMQPCg", "role": "issuer"}, {"alg": "ed25519", "key_id": "did:key:z6MkehRgf7yJbgaGfYsdoAsKdBPE3dj2CYhowQdcjqSJgvVd", "sig": "CnAH052thkWmS91y2e272UEJInHPzTGtVVmiFHj5he8idQ7zZl2ysxgDn1VPjUKy0cduftdgaoxhQkBbOg6OAA", "role": "witness"}]}"#;

/// The body the Python envelope's content hash is of, and that hash
/// (Python's hashlib).
const VECTOR_BODY: &str = "Héllo, colony!\n";
const VECTOR_BODY_SHA256: &str =
    "sha256:63f67fc9f815132ccbacca75e8bc8937e77e5153f8513625c5b26f9ea952cfaf";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn hex32(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

fn rfc8032_key() -> SigningKey {
    SigningKey::from_seed(hex32(RFC8032_SEED))
}

fn counting_key() -> SigningKey {
    let seed: Vec<u8> = (0u8..32).collect();
    SigningKey::from_seed_slice(&seed).unwrap()
}

fn signed(key: &SigningKey) -> Envelope {
    let claim = Claim::artifact_published(
        "https://thecolony.ai/post/5f0c2a9e-3b1d-4c8e-9a7f-2d6b8e1c4f30",
        VECTOR_BODY_SHA256,
        Some(at("2026-03-01T12:00:00Z")),
    )
    .unwrap();
    let evidence = Evidence::platform_receipt(
        "https://thecolony.ai/api/v1/posts/5f0c2a9e-3b1d-4c8e-9a7f-2d6b8e1c4f30",
        "thecolony.ai",
        None,
    )
    .unwrap();
    let mut extensions = serde_json::Map::new();
    extensions.insert("note".into(), json!("ünïcode and \"quotes\"\n"));
    Envelope::builder(claim, vec![evidence])
        .subject(Identity::platform_handle("thecolony.ai:alice", None).unwrap())
        .validity(Validity::time_bounded(
            at("2026-03-01T00:00:00Z"),
            at("2027-03-01T00:00:00Z"),
        ))
        .extensions(extensions)
        .sign(key)
        .unwrap()
}

const INSIDE: &str = "2026-06-01T00:00:00Z";

#[test]
fn did_key_known_vectors() {
    let key = rfc8032_key();
    assert_eq!(key.public_key(), hex32(RFC8032_PUBLIC));
    assert_eq!(key.did_key(), RFC8032_DID);
    assert_eq!(public_key_to_did_key(&hex32(RFC8032_PUBLIC)), RFC8032_DID);
    assert_eq!(
        did_key_to_public_key(RFC8032_DID).unwrap(),
        hex32(RFC8032_PUBLIC)
    );
    let sig: String = key.sign(b"").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sig, RFC8032_EMPTY_SIG);

    let counting = counting_key();
    assert_eq!(counting.public_key(), hex32(COUNTING_PUBLIC));
    assert_eq!(counting.did_key(), COUNTING_DID);
    assert_eq!(
        did_key_to_public_key(COUNTING_DID).unwrap(),
        hex32(COUNTING_PUBLIC)
    );
    // One character changed is another number in base58: a wrong multicodec
    // or length, or a different key, never the same one.
    let mutated = RFC8032_DID.replacen("z6Mkt", "z6Mku", 1);
    assert_ne!(
        did_key_to_public_key(&mutated).ok(),
        Some(hex32(RFC8032_PUBLIC))
    );
}

#[test]
fn an_envelope_signed_in_python_verifies_here() {
    let raw: Value = serde_json::from_str(PYTHON_ENVELOPE).unwrap();
    let report = verify(&raw, at(INSIDE));
    assert!(report.ok, "{:?}", report.failures);
    assert!(report.issuer_bound);
    assert_eq!(report.binding, IssuerBinding::Bound);
    assert_eq!(report.signatures.len(), 2);
    assert!(report.signatures.iter().all(|s| s.verified));
    assert_eq!(report.signatures[1].key_id.as_deref(), Some(COUNTING_DID));
    assert_eq!(report.signatures[1].role.as_deref(), Some("witness"));

    // The typed envelope reads it and says the same.
    let typed: Envelope = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), raw);
    assert!(typed.verify(at(INSIDE)).ok);
    match &typed.witnessed_claim {
        Claim::ArtifactPublished { content_hash, .. } => {
            assert_eq!(content_hash, VECTOR_BODY_SHA256)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        attestation::sha256_content_hash(VECTOR_BODY.as_bytes()),
        VECTOR_BODY_SHA256
    );
}

#[test]
fn sign_then_verify_round_trip_through_text() {
    let key = counting_key();
    let envelope = signed(&key);
    let text = serde_json::to_string_pretty(&envelope).unwrap();
    let back: Value = serde_json::from_str(&text).unwrap();
    let report = verify(&back, at(INSIDE));
    assert!(report.ok, "{:?}", report.failures);
    assert!(report.issuer_bound);
    assert_eq!(report.validity, Some(ValidityCheck::Within));
    assert_eq!(envelope.sigchain[0].key_id, key.did_key());
    assert_eq!(envelope.issuer.id, key.did_key());
    // Deterministic signatures: the same envelope, the same signature.
    let again = Envelope::builder(envelope.witnessed_claim.clone(), envelope.evidence.clone())
        .subject(envelope.subject.clone())
        .validity(envelope.validity.clone())
        .extensions(envelope.extensions.clone().unwrap())
        .issued_at(at(&envelope.issued_at))
        .envelope_id(envelope.envelope_id.clone())
        .sign(&key)
        .unwrap();
    assert_eq!(again, envelope);
}

/// Every leaf of a JSON value, as a path of keys and indexes.
fn leaves(value: &Value, path: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut p = path.clone();
                p.push(json!(k));
                leaves(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut p = path.clone();
                p.push(json!(i));
                leaves(v, p, out);
            }
        }
        _ => out.push(path),
    }
}

fn at_path<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

#[test]
fn tampering_with_any_field_fails_with_the_reason() {
    let key = counting_key();
    let good = serde_json::to_value(signed(&key)).unwrap();
    let mut paths = Vec::new();
    leaves(&good, Vec::new(), &mut paths);
    let signed_paths: Vec<_> = paths
        .into_iter()
        .filter(|p| p[0] != json!("sigchain"))
        .collect();
    assert!(signed_paths.len() >= 15, "{}", signed_paths.len());
    for path in &signed_paths {
        let mut env = good.clone();
        let leaf = at_path(&mut env, path);
        *leaf = match &*leaf {
            Value::String(s) => json!(format!("{s}x")),
            Value::Number(n) => json!(n.as_i64().unwrap() + 1),
            other => json!(format!("{other}")),
        };
        let report = verify(&env, at(INSIDE));
        assert!(!report.ok, "{path:?}");
        let sig_failure = Failure::Signature {
            index: 0,
            problem: SignatureProblem::DoesNotVerify,
        };
        // The version is checked first and stops the check; everything
        // else reaches the signature.
        if path == &[json!("envelope_version")] {
            assert_eq!(
                report.failures,
                [Failure::UnsupportedVersion("\"0.1x\"".into())]
            );
        } else {
            assert!(
                report.failures.contains(&sig_failure),
                "{path:?}: {:?}",
                report.failures
            );
            assert!(!report.signatures[0].verified);
        }
    }
    // Added and removed fields break it too.
    let mut added = good.clone();
    added["witnessed_claim"]["extra"] = json!(1);
    assert!(!verify(&added, at(INSIDE)).ok);
    let mut removed = good.clone();
    removed.as_object_mut().unwrap().remove("extensions");
    assert!(!verify(&removed, at(INSIDE)).ok);
    // And the signature itself, one character changed.
    let mut sig = good.clone();
    let s = sig["sigchain"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = if s.starts_with('A') { "B" } else { "A" };
    sig["sigchain"][0]["sig"] = json!(format!("{flipped}{}", &s[1..]));
    assert_eq!(
        verify(&sig, at(INSIDE)).failures,
        [Failure::Signature {
            index: 0,
            problem: SignatureProblem::DoesNotVerify
        }]
    );
}

#[test]
fn a_signature_under_another_key_fails() {
    let signer = counting_key();
    let other = rfc8032_key();
    let mut env = serde_json::to_value(signed(&signer)).unwrap();
    // The signature is the signer's; the chain names another key.
    env["sigchain"][0]["key_id"] = json!(other.did_key());
    let report = verify(&env, at(INSIDE));
    assert!(!report.ok);
    assert_eq!(
        report.failures,
        [Failure::Signature {
            index: 0,
            problem: SignatureProblem::DoesNotVerify
        }]
    );
    assert_eq!(report.binding, IssuerBinding::KeyMismatch);

    // A key_id that is no key at all.
    env["sigchain"][0]["key_id"] = json!("did:key:z6MkNOTAKEY");
    let report = verify(&env, at(INSIDE));
    assert!(matches!(
        report.failures[..],
        [Failure::Signature {
            index: 0,
            problem: SignatureProblem::BadKeyId(_)
        }]
    ));
}

#[test]
fn expired_and_not_yet_valid() {
    let envelope = signed(&counting_key());
    let early = envelope.verify(at("2026-02-28T23:59:59Z"));
    assert!(!early.ok);
    assert_eq!(
        early.failures,
        [Failure::NotYetValid {
            not_before: "2026-03-01T00:00:00Z".into()
        }]
    );
    assert!(early.signatures[0].verified);
    let late = envelope.verify(at("2027-03-01T00:00:01Z"));
    assert_eq!(
        late.failures,
        [Failure::Expired {
            not_after: "2027-03-01T00:00:00Z".into()
        }]
    );
    assert_eq!(late.validity, Some(ValidityCheck::Failed));
    assert!(envelope.verify(at("2027-03-01T00:00:00Z")).ok);
    // The Python envelope, a year on.
    let raw: Value = serde_json::from_str(PYTHON_ENVELOPE).unwrap();
    assert!(!verify(&raw, at("2028-01-01T00:00:00Z")).ok);
}

#[test]
fn a_multi_signature_chain_peels() {
    let issuer = counting_key();
    let witness = rfc8032_key();
    let platform = SigningKey::from_seed([0x5a; 32]);
    let mut envelope = signed(&issuer);
    envelope
        .countersign(&witness, Some("witness".into()))
        .unwrap();
    envelope
        .countersign(&platform, Some("platform".into()))
        .unwrap();
    let report = envelope.verify(at(INSIDE));
    assert!(report.ok, "{:?}", report.failures);
    assert_eq!(report.signatures.len(), 3);
    assert!(report.signatures.iter().all(|s| s.verified));
    assert!(report.issuer_bound);

    // Each signature covers the ones before it: dropping the last keeps a
    // valid chain, changing a middle one breaks it and every later one.
    let mut shorter = envelope.clone();
    shorter.sigchain.pop();
    assert!(shorter.verify(at(INSIDE)).ok);
    let mut swapped = envelope.clone();
    swapped.sigchain.swap(1, 2);
    let report = swapped.verify(at(INSIDE));
    assert!(!report.ok);
    assert_eq!(
        report
            .signatures
            .iter()
            .map(|s| s.verified)
            .collect::<Vec<_>>(),
        [true, false, false]
    );
    let mut bent = envelope.clone();
    bent.sigchain[1].role = Some("observer".into());
    let report = bent.verify(at(INSIDE));
    assert_eq!(
        report.failures,
        [Failure::Signature {
            index: 2,
            problem: SignatureProblem::DoesNotVerify
        }]
    );
    // A witness signing over the empty chain (not the peeled one) fails.
    let mut replaced = envelope.clone();
    replaced.sigchain.truncate(1);
    let mut alone = replaced.clone();
    alone.sigchain.clear();
    alone.countersign(&witness, Some("witness".into())).unwrap();
    replaced.sigchain.push(alone.sigchain[0].clone());
    let report = replaced.verify(at(INSIDE));
    assert_eq!(
        report.failures,
        [Failure::Signature {
            index: 1,
            problem: SignatureProblem::DoesNotVerify
        }]
    );
}

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn attest_post_against_the_sandbox() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb, &sb.colony().register("alice"));
    let post = c.create_post("Vector", VECTOR_BODY).await.unwrap();
    let key = rfc8032_key();

    let envelope = c.attest_post(post.id, &key).await.unwrap();
    let base = sb.base_url().trim_end_matches('/').to_owned();
    match &envelope.witnessed_claim {
        Claim::ArtifactPublished {
            artifact_uri,
            content_hash,
            published_at,
        } => {
            assert_eq!(artifact_uri, &format!("{base}/post/{}", post.id));
            assert_eq!(content_hash, VECTOR_BODY_SHA256);
            assert_eq!(published_at.as_deref().map(at), Some(post.created_at));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(envelope.evidence.len(), 1);
    assert_eq!(
        envelope.evidence[0].uri,
        format!("{base}/api/v1/posts/{}", post.id)
    );
    assert_eq!(
        envelope.evidence[0].platform_id.as_deref(),
        Some("thecolony.ai")
    );
    assert_eq!(envelope.issuer.id, RFC8032_DID);
    assert_eq!(envelope.subject, envelope.issuer);
    let report = attestation::verify_now(&envelope);
    assert!(report.ok && report.issuer_bound, "{:?}", report.failures);

    // The options: another site, a subject, a display name.
    let envelope = c
        .attest_post(post.id.to_string(), &key)
        .site_url("https://colony.example/")
        .subject(Identity::platform_handle("thecolony.ai:alice", None).unwrap())
        .display_name("Alice")
        .await
        .unwrap();
    match &envelope.witnessed_claim {
        Claim::ArtifactPublished { artifact_uri, .. } => {
            assert_eq!(
                artifact_uri,
                &format!("https://colony.example/post/{}", post.id)
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        envelope.evidence[0].uri,
        format!("https://colony.example/api/v1/posts/{}", post.id)
    );
    assert_eq!(envelope.issuer.display_name.as_deref(), Some("Alice"));
    assert_eq!(envelope.subject.id, "thecolony.ai:alice");

    // A truncated id is refused before sending; an unknown post is a 404.
    let err = c.attest_post("5f0c2a9e", &key).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let err = c
        .attest_post("5f0c2a9e-3b1d-4c8e-9a7f-2d6b8e1c4f30", &key)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

/// A record built here, its payload hash computed in Python
/// (`sha256(json.dumps(canonical, sort_keys=True, separators=(",", ":")))`).
fn python_record() -> Value {
    json!({
        "subject_type": "post",
        "subject_id": "7c1e2d4a-9b3f-4e5d-8a6c-1f2e3d4c5b6a",
        "payload_hash": "8b728f63224542c9840d63ed2c7e530d804b42de704090bad00b889da80611c3",
        "canonical": {
            "v": 1,
            "subject_type": "post",
            "subject_id": "7c1e2d4a-9b3f-4e5d-8a6c-1f2e3d4c5b6a",
            "author_id": "2b4d6f80-1a3c-4e5f-9071-8293a4b5c6d7",
            "colony_id": "bbe6be09-da95-4983-b23d-1dd980479a7e",
            "created_at": "2026-01-15T08:30:00.000000Z",
            "title_sha256": "c98a01162abb24fad3951169180509f207f90620b94f50bd992a5d189903d7e5",
            "body_sha256": "a7ac7bb739b4cf8262133adb26f0521e5e6fe41ce407bab6104e219280ff7f5b"
        },
        "recorder_id": "recorder-1",
        "seq": 41,
        "proof_state": "anchored",
        "proof_url": "https://log.example/proof/41",
        "notarised_at": "2026-09-03T00:00:00Z"
    })
}

const PYTHON_TITLE: &str = "Forecast: Q3 latency";
const PYTHON_BODY: &str = "Tail latency halves by Q3.\n\n— an agent";

#[test]
fn notarisation_record_built_here() {
    let record = python_record();
    let check = verify_notarisation(&record, Some(PYTHON_BODY), Some(PYTHON_TITLE)).unwrap();
    assert!(check.ok && check.digest_ok, "{:?}", check.failures);
    assert_eq!(check.content_ok, Some(true));
    assert_eq!(check.proof_state, "anchored");
    assert_eq!(check.computed_hash, record["payload_hash"]);
    assert!(check.notes.iter().any(|n| n.contains("author_id")));

    let check = verify_notarisation(&record, Some(&PYTHON_BODY.replace('—', "-")), None).unwrap();
    assert!(!check.ok && check.digest_ok);
    let check = verify_notarisation(&record, None, Some("Forecast: Q4 latency")).unwrap();
    assert!(matches!(
        check.failures[..],
        [NotarisationFailure::TitleMismatch { .. }]
    ));
    let mut moved = record.clone();
    moved["canonical"]["colony_id"] = Value::Null;
    let check = verify_notarisation(&moved, Some(PYTHON_BODY), Some(PYTHON_TITLE)).unwrap();
    assert!(!check.ok && !check.digest_ok);
    assert_eq!(check.content_ok, Some(true));
    // The typed record of the transport reads it the same way.
    let typed: agentwire::colony::types::NotarisationOut = serde_json::from_value(record).unwrap();
    assert!(
        verify_notarisation(&typed, Some(PYTHON_BODY), None)
            .unwrap()
            .ok
    );
}

#[tokio::test]
async fn notarisation_of_sandbox_posts_and_comments_verifies() {
    let sb = Sandbox::start().await.unwrap();
    let c = client(&sb, &sb.colony().register("alice"));
    let bob = client(&sb, &sb.colony().register("bob"));
    let post = c
        .create_post("Café findings ✓", "Line one.\n\nLine two — with ü.\n")
        .colony("findings")
        .await
        .unwrap();

    let err = c
        .get_post_notarisation()
        .post_id(post.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = bob.notarise_post().post_id(post.id).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");

    let made = c.notarise_post().post_id(post.id).await.unwrap();
    assert_eq!(made.proof_state, "recorded");
    let record = c.get_post_notarisation().post_id(post.id).await.unwrap();
    assert_eq!(record.payload_hash, made.payload_hash);
    let check = c
        .verify_notarisation(&record, Some(&post.body), Some(&post.title))
        .unwrap();
    assert!(check.ok, "{:?}", check.failures);
    assert_eq!(check.content_ok, Some(true));
    let check =
        verify_notarisation(&record, Some("Line one.\n\nLine two — with u.\n"), None).unwrap();
    assert!(!check.ok && check.digest_ok);

    // The record is public: read without credentials, as JSON, it verifies.
    let raw: Value = reqwest::get(format!(
        "{}/api/v1/posts/{}/notarisation",
        sb.base_url().trim_end_matches('/'),
        post.id
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        verify_notarisation(&raw, Some(&post.body), Some(&post.title))
            .unwrap()
            .ok
    );

    let err = c.notarise_post().post_id(post.id).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");

    // A comment: no title (the empty string is what the service hashes).
    let comment = c
        .create_comment(post.id, "A comment, notarised.")
        .await
        .unwrap();
    c.notarise_comment().comment_id(comment.id).await.unwrap();
    let record = bob
        .get_comment_notarisation()
        .comment_id(comment.id)
        .await
        .unwrap();
    assert_eq!(record.subject_type, "comment");
    let check = verify_notarisation(&record, Some(&comment.body), None).unwrap();
    assert!(check.ok, "{:?}", check.failures);
    assert!(
        verify_notarisation(&record, Some(&comment.body), Some(""))
            .unwrap()
            .ok
    );
    assert!(
        !verify_notarisation(&record, Some("another"), None)
            .unwrap()
            .ok
    );
}
