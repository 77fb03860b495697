//! The Colony's vault and webhooks end to end: file round trips with entity
//! tags and quotas, webhook management, and real signed deliveries from the
//! sandbox to a local receiver.

use std::time::Duration;

use agentwire::colony::{
    verify_webhook, Client, SignatureScheme, Webhook, WebhookError, WebhookEvent, WebhookVerifier,
    DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_256_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
    VAULT_FREE_QUOTA_BYTES, VAULT_MAX_FILE_BYTES, VAULT_WRITE_MIN_KARMA, WEBHOOK_MAX_FAILURES,
};
use agentwire::{Error, Raw, RetryConfig};
use agentwire_sandbox::Sandbox;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use tokio::sync::mpsc;

const SECRET: &str = "sandbox-webhook-secret-0001";

/// A webhook's events as the contract's enum.
fn events(hook: &Webhook) -> Vec<WebhookEvent> {
    hook.events
        .iter()
        .map(|e| WebhookEvent::from(e.as_str()))
        .collect()
}

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

/// A sandbox with "alice", who has enough karma to write to her vault.
async fn setup() -> (Sandbox, Client) {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    assert!(sb.colony().set_karma("alice", VAULT_WRITE_MIN_KARMA));
    let c = client(&sb, &key);
    (sb, c)
}

fn status_of(e: &Error) -> Option<u16> {
    e.status()
}

// ---------------------------------------------------------------- vault

#[tokio::test]
async fn vault_files_round_trip() {
    let (_sb, c) = setup().await;

    let fresh = c.vault_status().await.unwrap();
    assert_eq!(fresh.quota_bytes, 0, "provisioned by the first write");
    assert_eq!(
        (fresh.quota_bytes, fresh.used_bytes, fresh.file_count),
        (0, 0, 0)
    );

    let day1 = c.vault_upload_file("notes/day1.md", "hello").await.unwrap();
    assert_eq!(day1.filename, "notes/day1.md");
    assert_eq!(day1.content_size, 5);
    assert_eq!(day1.created_at, day1.updated_at);
    c.vault_upload_file("notes/day2.md", "héllo").await.unwrap();
    c.vault_upload_file("todo.txt", "x").await.unwrap();

    let status = c.vault_status().await.unwrap();
    assert_eq!(status.quota_bytes, VAULT_FREE_QUOTA_BYTES as i64);
    assert_eq!(status.used_bytes, 5 + 6 + 1);
    assert_eq!(status.available_bytes, VAULT_FREE_QUOTA_BYTES as i64 - 12);
    assert_eq!(status.file_count, 3);
    assert_eq!(status.raw()["used_bytes"], 12);

    let all = c.vault_list_files().await.unwrap();
    assert_eq!(all.total, Some(3));
    assert!(!all.has_more);
    let listed: Vec<(&str, i64)> = all
        .items
        .iter()
        .map(|f| (f.filename.as_str(), f.content_size))
        .collect();
    assert_eq!(
        listed,
        [("notes/day1.md", 5), ("notes/day2.md", 6), ("todo.txt", 1)]
    );
    let notes = c.vault_list_files().prefix("notes/").await.unwrap();
    let names: Vec<&str> = notes.items.iter().map(|f| f.filename.as_str()).collect();
    assert_eq!(names, ["notes/day1.md", "notes/day2.md"]);
    assert!(c
        .vault_list_files()
        .prefix("nothing-here/")
        .await
        .unwrap()
        .items
        .is_empty());

    let file = c.vault_get_file("notes/day2.md").await.unwrap();
    assert_eq!(file.filename, "notes/day2.md");
    assert_eq!(file.content, "héllo");
    assert_eq!(file.content_size, 6);
    assert!(!file.etag.is_empty());
    assert!(file.updated_at >= file.created_at);

    c.vault_delete_file("notes/day1.md").await.unwrap();
    let gone = c.vault_get_file("notes/day1.md").await.unwrap_err();
    assert!(matches!(gone, Error::NotFound(_)), "{gone:?}");
    let again = c.vault_delete_file("notes/day1.md").await.unwrap_err();
    assert!(matches!(again, Error::NotFound(_)), "{again:?}");

    let after = c.vault_status().await.unwrap();
    assert_eq!((after.used_bytes, after.file_count), (7, 2));
    assert_eq!(after.available_bytes, VAULT_FREE_QUOTA_BYTES as i64 - 7);
}

#[tokio::test]
async fn conditional_writes_use_entity_tags() {
    let (_sb, c) = setup().await;
    c.vault_upload_file("memory.json", r#"{"v":1}"#)
        .await
        .unwrap();
    let v1 = c.vault_get_file("memory.json").await.unwrap();

    // Overwrite the version we read: accepted, and the tag moves on.
    let written = c
        .vault_upload_file("memory.json", r#"{"v":2}"#)
        .if_match(&v1.etag)
        .await
        .unwrap();
    assert_eq!(written.content_size, 7);
    let v2 = c.vault_get_file("memory.json").await.unwrap();
    assert_ne!(v2.etag, v1.etag);
    assert_eq!(v2.created_at, v1.created_at);
    assert!(v2.updated_at >= v1.updated_at);

    // A writer still holding v1 loses, with a typed conflict, and changes nothing.
    let stale = c
        .vault_upload_file("memory.json", r#"{"v":"lost update"}"#)
        .if_match(&v1.etag)
        .await
        .unwrap_err();
    assert!(matches!(stale, Error::Conflict(_)), "{stale:?}");
    assert_eq!(status_of(&stale), Some(412));
    assert_eq!(stale.code(), Some("PRECONDITION_FAILED"));
    assert_eq!(
        c.vault_get_file("memory.json").await.unwrap().content,
        r#"{"v":2}"#
    );

    // "*" in If-None-Match: create, never replace.
    let exists = c
        .vault_upload_file("memory.json", "{}")
        .if_none_match("*")
        .await
        .unwrap_err();
    assert!(matches!(exists, Error::Conflict(_)), "{exists:?}");
    let created = c
        .vault_upload_file("fresh.md", "# new")
        .if_none_match("*")
        .await
        .unwrap();
    assert_eq!(created.filename, "fresh.md");

    // If-None-Match with a tag: write unless the file is still that version.
    let same = c
        .vault_upload_file("memory.json", "{}")
        .if_none_match(v2.etag)
        .await
        .unwrap_err();
    assert_eq!(status_of(&same), Some(412));
    c.vault_upload_file("memory.json", r#"{"v":3}"#)
        .if_none_match(&v1.etag)
        .await
        .unwrap();

    // If-Match on a file that does not exist fails too.
    let missing = c
        .vault_upload_file("absent.md", "x")
        .if_match("*")
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::Conflict(_)), "{missing:?}");
    assert!(matches!(
        c.vault_get_file("absent.md").await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn quota_limits_and_can_write_vault() {
    let (sb, c) = setup().await;
    assert!(sb.colony().set_vault_quota("alice", 100));

    // Not provisioned yet: the first write is judged against the free tier.
    assert!(c.can_write_vault().await.unwrap());
    assert!(c.can_write_vault().bytes(100).await.unwrap());
    assert!(!c
        .can_write_vault()
        .bytes(VAULT_MAX_FILE_BYTES + 1)
        .await
        .unwrap());

    c.vault_upload_file("a.txt", "a".repeat(60)).await.unwrap();
    let status = c.vault_status().await.unwrap();
    assert_eq!((status.quota_bytes, status.available_bytes), (100, 40));
    assert!(c.can_write_vault().bytes(40).await.unwrap());
    assert!(!c.can_write_vault().bytes(41).await.unwrap());

    let over = c
        .vault_upload_file("b.txt", "b".repeat(41))
        .await
        .unwrap_err();
    assert!(matches!(over, Error::Validation(_)), "{over:?}");
    assert_eq!(over.code(), Some("QUOTA_EXCEEDED"));
    assert!(matches!(
        c.vault_get_file("b.txt").await,
        Err(Error::NotFound(_))
    ));

    c.vault_upload_file("b.txt", "b".repeat(40)).await.unwrap();
    let full = c.vault_status().await.unwrap();
    assert_eq!((full.used_bytes, full.available_bytes), (100, 0));
    assert!(!c.can_write_vault().await.unwrap());

    // Replacing a file only needs room for the difference.
    c.vault_upload_file("a.txt", "short").await.unwrap();
    assert_eq!(c.vault_status().await.unwrap().available_bytes, 55);
    assert!(c.can_write_vault().await.unwrap());

    // A single file has its own cap, whatever the quota.
    let huge = "z".repeat(VAULT_MAX_FILE_BYTES as usize + 1);
    let too_big = c.vault_upload_file("huge.txt", huge).await.unwrap_err();
    assert_eq!(status_of(&too_big), Some(413), "{too_big:?}");
}

#[tokio::test]
async fn vault_writes_need_karma_and_valid_names() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("newcomer");
    let c = client(&sb, &key);

    assert!(!c.can_write_vault().await.unwrap());
    let refused = c.vault_upload_file("a.md", "hi").await.unwrap_err();
    assert!(matches!(refused, Error::Auth(_)), "{refused:?}");
    assert_eq!(refused.code(), Some("KARMA_TOO_LOW"));
    // Reads stay open.
    assert_eq!(c.vault_list_files().await.unwrap().total, Some(0));
    assert_eq!(c.vault_status().await.unwrap().quota_bytes, 0);

    assert!(sb.colony().set_karma("newcomer", VAULT_WRITE_MIN_KARMA));
    assert!(c.can_write_vault().await.unwrap());
    c.vault_upload_file("a.md", "hi").await.unwrap();

    let bad_ext = c.vault_upload_file("tool.exe", "MZ").await.unwrap_err();
    assert!(matches!(bad_ext, Error::Validation(_)), "{bad_ext:?}");
    assert_eq!(bad_ext.code(), Some("INVALID_INPUT"));

    for empty in ["", "  "] {
        let e = c.vault_get_file(empty).await.unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidArgument {
                    name: "filename",
                    ..
                }
            ),
            "{e:?}"
        );
        let e = c.vault_upload_file(empty, "x").await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
        let e = c.vault_delete_file(empty).await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    }
    let long_prefix = c
        .vault_list_files()
        .prefix("p".repeat(256))
        .await
        .unwrap_err();
    assert!(
        matches!(long_prefix, Error::InvalidArgument { name: "prefix", .. }),
        "{long_prefix:?}"
    );

    // Another agent's vault is separate.
    let bob_key = sb.colony().register("bob");
    let bob = client(&sb, &bob_key);
    assert_eq!(bob.vault_list_files().await.unwrap().total, Some(0));
    assert!(matches!(
        bob.vault_get_file("a.md").await,
        Err(Error::NotFound(_))
    ));
}

// ---------------------------------------------------------------- webhooks

/// What a receiver saw: the headers and the raw body.
type Seen = (HeaderMap, Bytes);

/// Serves `/hook` (answers 200) and `/fail` (answers 500) and forwards every
/// delivery to the returned channel.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(String, Seen)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn hook(
        State(tx): State<mpsc::UnboundedSender<(String, Seen)>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let _ = tx.send(("hook".into(), (headers, body)));
        StatusCode::OK
    }
    async fn fail(
        State(tx): State<mpsc::UnboundedSender<(String, Seen)>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let _ = tx.send(("fail".into(), (headers, body)));
        StatusCode::INTERNAL_SERVER_ERROR
    }
    let router = Router::new()
        .route("/hook", post(hook))
        .route("/fail", post(fail))
        .with_state(tx);
    (agentwire_tests::serve(router).await, rx)
}

/// The next delivery, or a panic if none comes within a generous bound (a
/// hang guard, not a timing assertion).
async fn next_delivery(rx: &mut mpsc::UnboundedReceiver<(String, Seen)>) -> (String, Seen) {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a delivery arrives")
        .expect("receiver still running")
}

async fn find(c: &Client, id: &str) -> Webhook {
    c.get_webhooks()
        .await
        .unwrap()
        .into_iter()
        .find(|h| h.id.to_string() == id)
        .expect("the webhook is listed")
}

#[tokio::test]
async fn webhook_crud() {
    let (sb, c) = setup().await;
    let first = c
        .create_webhook(
            "http://127.0.0.1:9/first",
            [WebhookEvent::PostCreated, WebhookEvent::DirectMessage],
            SECRET,
        )
        .await
        .unwrap();
    assert_eq!(first.url, "http://127.0.0.1:9/first");
    assert_eq!(
        events(&first),
        [WebhookEvent::PostCreated, WebhookEvent::DirectMessage]
    );
    assert!(first.is_active);
    assert_eq!(first.failure_count, 0);
    assert_eq!(first.last_triggered_at, None);
    assert!(first.raw().get("secret").is_none());

    // Plain strings work as events too.
    let second = c
        .create_webhook("http://127.0.0.1:9/second", ["mention"], SECRET)
        .await
        .unwrap();
    assert_eq!(events(&second), [WebhookEvent::Mention]);
    assert!(second.created_at >= first.created_at);

    let ids: Vec<String> = c
        .get_webhooks()
        .await
        .unwrap()
        .iter()
        .map(|w| w.id.to_string())
        .collect();
    assert_eq!(
        ids,
        [second.id.to_string(), first.id.to_string()],
        "newest first"
    );

    let updated = c
        .update_webhook(first.id.to_string())
        .url("http://127.0.0.1:9/moved")
        .events(["comment_created", "security_2fa_disabled"])
        .await
        .unwrap();
    assert_eq!(updated.url, "http://127.0.0.1:9/moved");
    assert_eq!(
        events(&updated),
        [
            WebhookEvent::CommentCreated,
            WebhookEvent::Security2faDisabled
        ]
    );
    let paused = c
        .update_webhook(first.id.to_string())
        .is_active(false)
        .await
        .unwrap();
    assert!(!paused.is_active);
    assert!(!find(&c, &first.id.to_string()).await.is_active);

    // Rejected before sending.
    let nothing = c.update_webhook(first.id.to_string()).await.unwrap_err();
    assert!(
        matches!(nothing, Error::InvalidArgument { .. }),
        "{nothing:?}"
    );
    let short = c
        .create_webhook("http://127.0.0.1:9/x", ["post_created"], "too-short")
        .await
        .unwrap_err();
    assert!(
        matches!(short, Error::InvalidArgument { name: "secret", .. }),
        "{short:?}"
    );
    let none: [&str; 0] = [];
    let empty = c
        .create_webhook("http://127.0.0.1:9/x", none, SECRET)
        .await
        .unwrap_err();
    assert!(
        matches!(empty, Error::InvalidArgument { name: "events", .. }),
        "{empty:?}"
    );
    let bad_id = c.delete_webhook("not-a-uuid").await.unwrap_err();
    assert!(
        matches!(bad_id, Error::InvalidArgument { .. }),
        "{bad_id:?}"
    );

    // Rejected by the service.
    let unknown = c
        .create_webhook("http://127.0.0.1:9/x", ["not_an_event"], SECRET)
        .await
        .unwrap_err();
    assert!(matches!(unknown, Error::Validation(_)), "{unknown:?}");
    let not_http = c
        .create_webhook("ftp://example.com/x", ["post_created"], SECRET)
        .await
        .unwrap_err();
    assert!(matches!(not_http, Error::Validation(_)), "{not_http:?}");

    // Secrets stay out of Debug output and error text.
    let pending = c.update_webhook(first.id.to_string()).secret(SECRET);
    assert!(!format!("{pending:?}").contains(SECRET));
    drop(pending);

    // Another agent cannot see or touch them.
    let bob = client(&sb, &sb.colony().register("bob"));
    assert!(bob.get_webhooks().await.unwrap().is_empty());
    let foreign = bob
        .update_webhook(first.id.to_string())
        .is_active(true)
        .await
        .unwrap_err();
    assert!(matches!(foreign, Error::NotFound(_)), "{foreign:?}");
    assert!(matches!(
        bob.delete_webhook(&first.id.to_string()).await,
        Err(Error::NotFound(_))
    ));

    c.delete_webhook(&first.id.to_string()).await.unwrap();
    let left: Vec<String> = c
        .get_webhooks()
        .await
        .unwrap()
        .iter()
        .map(|w| w.id.to_string())
        .collect();
    assert_eq!(left, [second.id.to_string()]);
    assert!(matches!(
        c.delete_webhook(&first.id.to_string()).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        c.update_webhook(first.id.to_string()).is_active(true).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn deliveries_are_signed_and_verify() {
    let (sb, c) = setup().await;
    let (base, mut rx) = receiver().await;
    let hook = c
        .create_webhook(format!("{base}/hook"), [WebhookEvent::PostCreated], SECRET)
        .await
        .unwrap();
    let other = c
        .create_webhook(
            format!("{base}/hook"),
            [WebhookEvent::DirectMessage],
            SECRET,
        )
        .await
        .unwrap();

    let post = c
        .create_post("Webhook test", "delivered to a local receiver")
        .colony("findings")
        .await
        .unwrap();
    // Marked as triggered before the post call returns; the other webhook
    // does not subscribe to posts.
    assert!(find(&c, &hook.id.to_string())
        .await
        .last_triggered_at
        .is_some());
    assert_eq!(
        find(&c, &other.id.to_string()).await.last_triggered_at,
        None
    );

    let (path, (headers, body)) = next_delivery(&mut rx).await;
    assert_eq!(path, "hook");
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .expect("signed")
        .to_owned();
    assert!(verify_webhook(&body, &signature, SECRET));
    assert!(!verify_webhook(&body, &signature, "another-secret-of-16+"));
    let mut tampered = body.to_vec();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert!(!verify_webhook(&tampered, &signature, SECRET));

    assert_eq!(headers["x-colony-event"], "post_created");
    assert!(headers.contains_key("x-colony-delivery"));
    // The five headers the service documents, and no other of its own.
    let mut colony_headers: Vec<&str> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| k.starts_with("x-colony-"))
        .collect();
    colony_headers.sort_unstable();
    assert_eq!(
        colony_headers,
        [
            "x-colony-delivery",
            "x-colony-event",
            "x-colony-signature",
            "x-colony-signature-256",
            "x-colony-timestamp"
        ]
    );
    assert!(signature.starts_with("sha256="), "{signature}");
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event"], "post_created");
    assert_eq!(event["post_id"], post.id.to_string());
    assert_eq!(event["title"], "Webhook test");
    assert_eq!(event["author"], "alice");
    assert_eq!(event["colony"], "findings");
    assert!(sb.colony().webhook_deliveries() >= 1);

    // A new secret signs the next delivery; the old one no longer verifies.
    const NEW_SECRET: &str = "rotated-webhook-secret-0002";
    c.update_webhook(hook.id.to_string())
        .secret(NEW_SECRET)
        .await
        .unwrap();
    c.create_post("Second", "after the rotation").await.unwrap();
    let (_, (headers, body)) = next_delivery(&mut rx).await;
    let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
    assert!(verify_webhook(&body, signature, NEW_SECRET));
    assert!(!verify_webhook(&body, signature, SECRET));
    assert!(WebhookVerifier::new(NEW_SECRET)
        .verify(&headers, &body)
        .is_ok());
    assert_eq!(
        WebhookVerifier::new(SECRET).verify(&headers, &body),
        Err(WebhookError::BadSignature)
    );

    // The successful deliveries left no failures behind.
    assert_eq!(find(&c, &hook.id.to_string()).await.failure_count, 0);
}

/// A real delivery from the sandbox, verified by both schemes, and every
/// way of presenting it wrongly refused with its reason.
#[tokio::test]
async fn sandbox_deliveries_verify_both_ways_and_refusals_say_why() {
    let (_sb, c) = setup().await;
    let (base, mut rx) = receiver().await;
    c.create_webhook(format!("{base}/hook"), [WebhookEvent::PostCreated], SECRET)
        .await
        .unwrap();
    let post = c.create_post("Signed twice", "both headers").await.unwrap();
    let (_, (headers, body)) = next_delivery(&mut rx).await;
    let text = |name: &str| headers[name].to_str().unwrap().to_owned();

    // The timestamped scheme: the `t=` is the delivery's timestamp header.
    let verifier = WebhookVerifier::new(SECRET);
    let delivery = verifier.verify(&headers, &body).expect("authentic");
    assert_eq!(delivery.scheme(), SignatureScheme::V1);
    let t = delivery.signed_at().expect("timestamped");
    assert_eq!(text(TIMESTAMP_HEADER), t.to_string());
    assert!(text(SIGNATURE_256_HEADER).starts_with(&format!("t={t},v1=")));
    assert_eq!(delivery.delivery_id(), Some(text(DELIVERY_HEADER).as_str()));
    assert_eq!(delivery.event(), Some("post_created"));
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["post_id"], post.id.to_string());

    // The same delivery again is a replay, for the verifier and its clones.
    assert_eq!(
        verifier.verify(&headers, &body),
        Err(WebhookError::Replayed)
    );
    assert_eq!(
        verifier.clone().verify(&headers, &body),
        Err(WebhookError::Replayed)
    );

    // The legacy scheme, on its own.
    assert!(verify_webhook(&body, &text(SIGNATURE_HEADER), SECRET));
    let mut legacy_only = headers.clone();
    legacy_only.remove(SIGNATURE_256_HEADER);
    assert_eq!(
        WebhookVerifier::new(SECRET).verify(&legacy_only, &body),
        Err(WebhookError::LegacyNotAccepted)
    );
    let legacy = WebhookVerifier::new(SECRET)
        .accept_legacy(true)
        .verify(&legacy_only, &body)
        .expect("the legacy signature is right");
    assert_eq!(
        (legacy.scheme(), legacy.signed_at()),
        (SignatureScheme::Legacy, None)
    );

    // Each refusal names its reason (fresh verifiers: nothing remembered).
    let signed = std::time::UNIX_EPOCH + Duration::from_secs(t as u64);
    let fresh = || WebhookVerifier::new(SECRET);
    let mut tampered = body.to_vec();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert_eq!(
        fresh().verify(&headers, &tampered),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        WebhookVerifier::new("another-secret-of-16+").verify(&headers, &body),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        fresh().verify_at(&headers, &body, signed + Duration::from_secs(301)),
        Err(WebhookError::Stale {
            signed_at: t,
            now: t + 301
        })
    );
    assert_eq!(
        fresh().verify_at(&headers, &body, signed - Duration::from_secs(301)),
        Err(WebhookError::Future {
            signed_at: t,
            now: t - 301
        })
    );
    // At the edge of a configured tolerance: still accepted.
    assert!(WebhookVerifier::new(SECRET)
        .tolerance(Duration::from_secs(600))
        .verify_at(&headers, &body, signed + Duration::from_secs(600))
        .is_ok());
    for garbage in ["", "t=,v1=", "v1=00", "t=1,v1=zz", "sha256=00"] {
        let mut bad = headers.clone();
        bad.insert(SIGNATURE_256_HEADER, garbage.parse().unwrap());
        assert!(
            matches!(fresh().verify(&bad, &body), Err(WebhookError::Malformed(_))),
            "{garbage:?}"
        );
    }
    let mut none = headers.clone();
    none.remove(SIGNATURE_256_HEADER);
    none.remove(SIGNATURE_HEADER);
    assert_eq!(
        fresh().verify(&none, &body),
        Err(WebhookError::MissingSignature)
    );
    assert!(headers.contains_key(EVENT_HEADER));
}

#[tokio::test]
async fn failing_webhook_is_deactivated_and_reactivation_resets_it() {
    let (_sb, c) = setup().await;
    let dead = format!("{}/hook", agentwire_tests::closed_port_url().await);
    let hook = c
        .create_webhook(dead, [WebhookEvent::PostCreated], SECRET)
        .await
        .unwrap();

    // Each post sends one delivery, refused by the closed port.
    let mut current = hook.clone();
    for i in 0..200 {
        if !current.is_active {
            break;
        }
        if i < 100 {
            c.create_post(format!("Ping {i}"), "to a dead URL")
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        current = find(&c, &hook.id.to_string()).await;
    }
    assert!(!current.is_active, "switched off after repeated failures");
    assert_eq!(current.failure_count, i64::from(WEBHOOK_MAX_FAILURES));

    // Inactive: new events are not sent to it.
    let stamp = current.last_triggered_at;
    assert!(stamp.is_some());
    c.create_post("Ignored", "the webhook is off")
        .await
        .unwrap();
    assert_eq!(
        find(&c, &hook.id.to_string()).await.last_triggered_at,
        stamp
    );

    // Re-activating resets the count; pointed at a live receiver it delivers.
    let (base, mut rx) = receiver().await;
    let revived = c
        .update_webhook(hook.id.to_string())
        .url(format!("{base}/hook"))
        .is_active(true)
        .await
        .unwrap();
    assert!(revived.is_active);
    assert_eq!(revived.failure_count, 0);
    let post = c.create_post("Back", "delivered again").await.unwrap();
    let (_, (headers, body)) = next_delivery(&mut rx).await;
    assert!(verify_webhook(
        &body,
        headers[SIGNATURE_HEADER].to_str().unwrap(),
        SECRET
    ));
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["post_id"], post.id.to_string());
    let after = find(&c, &hook.id.to_string()).await;
    assert!(after.is_active);
    assert_eq!(after.failure_count, 0);
}

#[tokio::test]
async fn error_answers_count_as_failures_until_a_success() {
    let (_sb, c) = setup().await;
    let (base, mut rx) = receiver().await;
    let hook = c
        .create_webhook(format!("{base}/fail"), ["post_created"], SECRET)
        .await
        .unwrap();

    c.create_post("One", "answered with 500").await.unwrap();
    let (path, _) = next_delivery(&mut rx).await;
    assert_eq!(path, "fail");
    // The receiver saw it before the sandbox recorded the outcome: poll.
    let mut failures = 0;
    for _ in 0..200 {
        failures = find(&c, &hook.id.to_string()).await.failure_count;
        if failures == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(failures, 1);
    assert!(find(&c, &hook.id.to_string()).await.is_active);

    // A successful delivery clears the streak.
    c.update_webhook(hook.id.to_string())
        .url(format!("{base}/hook"))
        .await
        .unwrap();
    assert_eq!(find(&c, &hook.id.to_string()).await.failure_count, 1);
    c.create_post("Two", "answered with 200").await.unwrap();
    let (path, _) = next_delivery(&mut rx).await;
    assert_eq!(path, "hook");
    for _ in 0..200 {
        failures = find(&c, &hook.id.to_string()).await.failure_count;
        if failures == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(failures, 0);
}
