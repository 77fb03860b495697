//! Registration as The Colony runs it now, end to end against the sandbox:
//! the two-step flow and its claim window, the pending account's refused
//! key, the one-step call beside it, the undo of a mistaken registration,
//! key recovery through the recovery email, the caller's token, and
//! `can_write_vault` as the service answers it.

use std::time::Duration;

use agentwire::colony::{
    Client, ErrorExt, CODE_CLAIM_EXPIRED, CODE_FINGERPRINT_MISMATCH, CODE_PENDING_ACTIVATION,
};
use agentwire::{Error, ExposeSecret, RetryConfig};
use agentwire_sandbox::Sandbox;
use serde_json::Value;

fn api(sb: &Sandbox) -> String {
    format!("{}/api/v1", sb.base_url())
}

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(api(sb))
        .no_token_cache()
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

async fn begin(sb: &Sandbox, username: &str) -> agentwire::colony::PendingRegistration {
    Client::register_begin(username, "Agent", "Tries things")
        .base_url(api(sb))
        .await
        .unwrap()
}

#[tokio::test]
async fn two_step_registration_activates_the_account_only_after_confirm() {
    let sb = Sandbox::start().await.unwrap();
    let begun = begin(&sb, "Newbie").await;
    assert_eq!(begun.username, "newbie", "usernames are stored lower-case");
    assert_eq!(Some(begun.id.clone()), sb.colony().user_id("newbie"));
    let key = begun.api_key.expose_secret().to_owned();
    assert!(key.starts_with("col_"));
    let window = begun
        .expires_at
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(window > Duration::from_secs(14 * 60) && window <= Duration::from_secs(15 * 60));
    let debug = format!("{begun:?}");
    assert!(!debug.contains(&key) && !debug.contains(begun.claim_token.expose_secret()));

    // Pending: the key is refused everywhere and mints no token.
    let pending = client(&sb, &key);
    let before = sb.colony().token_exchanges();
    let err = pending.get_me().await.unwrap_err();
    assert!(err.is_pending_activation(), "{err:?}");
    assert!(matches!(err, Error::Auth(_)));
    assert_eq!(
        (err.status(), err.code()),
        (Some(403), Some(CODE_PENDING_ACTIVATION))
    );
    let err = pending.get_auth_token().await.unwrap_err();
    assert!(err.is_pending_activation(), "{err:?}");
    assert_eq!(
        sb.colony().token_exchanges(),
        before,
        "a refused exchange issues nothing"
    );

    // The same name cannot be taken while the claim holds it.
    let taken = Client::register_begin("newbie", "Other", "")
        .base_url(api(&sb))
        .await
        .unwrap_err();
    assert!(matches!(taken, Error::Conflict(_)), "{taken:?}");

    // Confirming from the stored key sends its last six characters only.
    let confirmed = Client::register_confirm(begun.claim_token.expose_secret(), &key)
        .base_url(api(&sb))
        .await
        .unwrap();
    assert_eq!(confirmed.status, "active");
    assert_eq!(confirmed.username, "newbie");
    assert_eq!(confirmed.id.to_string(), begun.id);

    // The key works from now on, on the same client that was refused.
    assert_eq!(pending.get_me().await.unwrap().username, "newbie");
    let token = pending.get_auth_token().await.unwrap();
    assert_eq!(token.expose_secret().split('.').count(), 3, "a JWT");
    let exchanges = sb.colony().token_exchanges();
    assert_eq!(
        pending.get_auth_token().await.unwrap().expose_secret(),
        token.expose_secret(),
        "the held token is returned, not a new one"
    );
    assert_eq!(sb.colony().token_exchanges(), exchanges);

    // The claim token is single-use: a second confirm finds no claim.
    let again = Client::register_confirm(begun.claim_token.expose_secret(), &key)
        .base_url(api(&sb))
        .await
        .unwrap_err();
    assert!(again.is_claim_expired(), "{again:?}");
    assert_eq!(again.status(), Some(410));
}

#[tokio::test]
async fn a_wrong_fingerprint_leaves_the_account_pending() {
    let sb = Sandbox::start().await.unwrap();
    let begun = begin(&sb, "careful").await;
    let key = begun.api_key.expose_secret().to_owned();
    let token = begun.claim_token.expose_secret().to_owned();

    let wrong = Client::register_confirm(&token, "zzzzzz")
        .base_url(api(&sb))
        .await
        .unwrap_err();
    assert!(wrong.is_fingerprint_mismatch(), "{wrong:?}");
    assert!(matches!(wrong, Error::Validation(_)));
    assert_eq!(
        (wrong.status(), wrong.code()),
        (Some(400), Some(CODE_FINGERPRINT_MISMATCH))
    );
    assert!(client(&sb, &key)
        .get_me()
        .await
        .unwrap_err()
        .is_pending_activation());

    // Too short to be a fingerprint, or no claim token: refused before sending.
    for (claim, fp, name) in [
        (token.as_str(), "abc", "api_key_or_fingerprint"),
        ("  ", key.as_str(), "claim_token"),
    ] {
        let err = Client::register_confirm(claim, fp)
            .base_url(api(&sb))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { name: n, .. } if n == name),
            "{err:?}"
        );
    }

    // The fingerprint alone works as well as the key.
    let fingerprint = &key[key.len() - 6..];
    Client::register_confirm(&token, fingerprint)
        .base_url(api(&sb))
        .await
        .unwrap();
    assert_eq!(
        client(&sb, &key).get_me().await.unwrap().username,
        "careful"
    );
}

#[tokio::test]
async fn a_lapsed_claim_window_releases_the_username() {
    let sb = Sandbox::start().await.unwrap();
    let begun = begin(&sb, "slowpoke").await;
    assert!(sb.colony().expire_claim("slowpoke"));
    let late = Client::register_confirm(
        begun.claim_token.expose_secret(),
        begun.api_key.expose_secret(),
    )
    .base_url(api(&sb))
    .await
    .unwrap_err();
    assert!(late.is_claim_expired(), "{late:?}");
    assert_eq!(
        (late.status(), late.code()),
        (Some(410), Some(CODE_CLAIM_EXPIRED))
    );
    assert_eq!(
        sb.colony().user_id("slowpoke"),
        None,
        "the name is free again"
    );
    // The lapsed key is simply unknown now.
    let err = client(&sb, begun.api_key.expose_secret())
        .get_me()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(_)) && !err.is_pending_activation(),
        "{err:?}"
    );

    // A zero window: every new claim lapses at once, and the name can be
    // begun again straight away.
    sb.colony().set_claim_window(Duration::ZERO);
    let first = begin(&sb, "slowpoke").await;
    let second = begin(&sb, "slowpoke").await;
    assert_ne!(first.id, second.id, "the lapsed claim released the name");
    let err = Client::register_confirm(
        second.claim_token.expose_secret(),
        second.api_key.expose_secret(),
    )
    .base_url(api(&sb))
    .await
    .unwrap_err();
    assert!(err.is_claim_expired(), "{err:?}");
}

#[tokio::test]
async fn one_step_registration_is_still_offered() {
    let sb = Sandbox::start().await.unwrap();
    let done = Client::register("OneStep", "One Step")
        .base_url(api(&sb))
        .await
        .unwrap();
    assert_eq!(done.username, "onestep");
    let me = client(&sb, done.api_key.expose_secret())
        .get_me()
        .await
        .unwrap();
    assert_eq!(me.id.to_string(), done.id);
}

#[tokio::test]
async fn an_account_deletes_itself_only_while_young_and_idle() {
    let sb = Sandbox::start().await.unwrap();

    // Young and idle: gone, and the name is free again.
    let key = sb.colony().register("oops");
    let oops = client(&sb, &key);
    oops.get_me().await.unwrap();
    oops.delete_account().await.unwrap();
    assert_eq!(sb.colony().user_id("oops"), None);
    assert!(matches!(oops.get_me().await, Err(Error::Auth(_))));
    Client::register("oops", "Oops again")
        .base_url(api(&sb))
        .await
        .unwrap();

    // Reading is not activity; writing is.
    let key = sb.colony().register("busy");
    let busy = client(&sb, &key);
    busy.get_posts().await.unwrap();
    busy.create_post("Hello", "First post").await.unwrap();
    let err = busy.delete_account().await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(err.code(), Some("ACCOUNT_DELETE_HAS_ACTIVITY"));
    assert!(busy.get_me().await.is_ok());

    // Older than 15 minutes.
    let key = sb.colony().register("veteran");
    let veteran = client(&sb, &key);
    assert!(sb
        .colony()
        .age_account("veteran", Duration::from_secs(15 * 60)));
    let err = veteran.delete_account().await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(409), Some("ACCOUNT_DELETE_TOO_OLD"))
    );
}

async fn mail_token(sb: &Sandbox, to: &str, nth_from_end: usize) -> String {
    // Read over HTTP, as a script outside the process would.
    let mail: Value = reqwest::get(format!("{}/_sandbox/colony/mail", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to_me: Vec<&Value> = mail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["to"] == to)
        .collect();
    to_me[to_me.len() - 1 - nth_from_end]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_lost_key_is_recovered_through_the_verified_email() {
    let sb = Sandbox::start().await.unwrap();
    let old_key = sb.colony().register("forgetful");
    let c = client(&sb, &old_key);

    // No verified email: the same answer, and nothing is mailed.
    let generic = c.recover_key("forgetful").await.unwrap();
    assert!(sb.colony().sent_mail().is_empty());
    let unknown = c.recover_key("nobody-at-all").await.unwrap();
    assert_eq!(
        generic.message, unknown.message,
        "accounts cannot be probed"
    );

    // Set and verify the recovery email (the link's token from the mail);
    // the service asks for 10 karma first.
    assert!(sb.colony().set_karma("forgetful", 10));
    let set = c
        .set_email()
        .body(agentwire::colony::types::SetAgentEmailRequest {
            email: "ops@example.com".try_into().unwrap(),
            extra: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(set.status, "verification_pending");
    let shown = c.get_email().await.unwrap();
    assert_eq!(
        (shown.email, shown.email_verified),
        (Some("ops@example.com".to_string()), false),
        "a new address is shown, unverified until its link is redeemed"
    );
    let verification = mail_token(&sb, "ops@example.com", 0).await;
    let bad = c
        .verify_email()
        .body(agentwire::colony::types::VerifyAgentEmailRequest {
            token: "not-the-token".into(),
            extra: Default::default(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("EMAIL_TOKEN_INVALID"));
    c.verify_email()
        .body(agentwire::colony::types::VerifyAgentEmailRequest {
            token: verification,
            extra: Default::default(),
        })
        .await
        .unwrap();
    assert!(c.get_email().await.unwrap().email_verified);

    // The key is lost: a client built with a wrong key can still recover.
    let lost = client(&sb, "col_lost_and_gone");
    lost.recover_key("forgetful").await.unwrap();
    lost.recover_key("forgetful").await.unwrap();
    let earlier = mail_token(&sb, "ops@example.com", 1).await;
    let latest = mail_token(&sb, "ops@example.com", 0).await;
    let new_key = lost.confirm_key_recovery(&latest).await.unwrap();
    assert_ne!(new_key.expose_secret(), old_key);
    // The recovering client switched to the new key.
    assert_eq!(lost.get_me().await.unwrap().username, "forgetful");
    assert!(matches!(
        client(&sb, &old_key).get_me().await,
        Err(Error::Auth(_))
    ));
    // Every recovery token was dropped with the one redeemed.
    let err = lost.confirm_key_recovery(&earlier).await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(matches!(
        lost.confirm_key_recovery(" ").await,
        Err(Error::InvalidArgument { name: "token", .. })
    ));
}

#[tokio::test]
async fn key_recovery_is_not_sent_again_once_the_service_may_have_received_it() {
    let sb = Sandbox::start().await.unwrap();
    let old_key = sb.colony().register("forgetful");
    let lost = client(&sb, "col_lost_and_gone");
    let sent = |before: u64| sb.request_count() - before;

    // The faults are retried on a read sent without credentials, as always.
    sb.faults().fail_next(1, 503);
    let before = sb.request_count();
    lost.get_deprecations().await.unwrap();
    assert_eq!(sent(before), 2, "the 503, then the retry");

    // A recovery POST carries no credentials, so no Idempotency-Key of the
    // runtime's own: once it may have reached the service, it is not sent
    // again — neither after a retryable status nor after a lost answer.
    sb.faults().fail_next(1, 503);
    let before = sb.request_count();
    let err = lost.recover_key("forgetful").await.unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert_eq!(sent(before), 1, "recover_key after a 503");
    sb.faults().drop_answer_next(1);
    let before = sb.request_count();
    let err = lost.recover_key("forgetful").await.unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(sent(before), 1, "recover_key after a lost answer");

    sb.faults().fail_next(1, 503);
    let before = sb.request_count();
    let err = lost
        .confirm_key_recovery("rk_fake_token")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert_eq!(sent(before), 1, "confirm_key_recovery after a 503");
    sb.faults().drop_answer_next(1);
    let before = sb.request_count();
    let err = lost
        .confirm_key_recovery("rk_fake_token")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(sent(before), 1, "confirm_key_recovery after a lost answer");

    assert_eq!(sb.faults().pending(), 0);
    assert_eq!(
        sb.colony().token_exchanges(),
        0,
        "no credentials were fetched for any of it"
    );
    // The old key still works: nothing was recovered.
    assert_eq!(
        client(&sb, &old_key).get_me().await.unwrap().username,
        "forgetful"
    );
}

#[tokio::test]
async fn can_write_vault_is_the_services_answer() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("writer");
    let c = client(&sb, &key);
    let caps = (*c).can_write_vault().await.unwrap();
    let entry = caps
        .capabilities
        .iter()
        .find(|e| e.name == "write_vault")
        .unwrap();
    assert!(!entry.allowed);
    assert_eq!(
        entry.reason.as_deref(),
        Some("Requires 10 karma (you have 0).")
    );
    assert!(!c.can_write_vault().await.unwrap());

    assert!(sb.colony().set_karma("writer", 10));
    assert!(c.can_write_vault().await.unwrap());
    assert_eq!((*c).can_write_vault().await.unwrap().karma, 10);
}

#[tokio::test]
async fn can_write_vault_is_false_without_the_capability_entry() {
    // A service that lists no write_vault entry (one older than the
    // capability) means no.
    use axum::routing::get;
    let router = axum::Router::new()
        .route(
            "/api/v1/auth/token",
            axum::routing::post(|| async {
                axum::Json(serde_json::json!({"access_token": "t.t.t", "token_type": "bearer"}))
            }),
        )
        .route(
            "/api/v1/me/capabilities",
            get(|| async {
                axum::Json(serde_json::json!({
                    "capabilities": [{"name": "create_post", "allowed": true, "description": "x"}],
                    "karma": 50, "trust_level": "Member", "rate_multiplier": 1.0,
                    "user_type": "agent", "fetched_at": 1.0
                }))
            }),
        )
        .route(
            "/api/v1/vault/status",
            get(|| async {
                axum::Json(serde_json::json!({
                    "used_bytes": 0, "quota_bytes": 0, "available_bytes": 0, "file_count": 0
                }))
            }),
        );
    let base = agentwire_tests::serve(router).await;
    let c = Client::builder("col_x")
        .base_url(base)
        .no_token_cache()
        .build()
        .unwrap();
    assert!(!c.can_write_vault().await.unwrap());
}
