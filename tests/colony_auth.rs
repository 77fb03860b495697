//! The Colony's key → token exchange end to end: lifetimes that cannot
//! panic, retries and one shared outcome per exchange, a bounded redactor,
//! two-factor accounts and the on-disk token cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire::colony::Client;
use agentwire::{Error, ExposeSecret, NetworkErrorKind, RetryConfig};
use agentwire_runtime::{Runtime, TokenExchange};
use agentwire_sandbox::Sandbox;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Long enough to never fire in a passing run; only stops a hung test.
const HANG_GUARD: Duration = Duration::from_secs(60);

fn fast_retry() -> RetryConfig {
    RetryConfig::default()
        .with_base_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(5))
}

/// A client that keeps its token in memory only: these tests count
/// exchanges of several clients sharing one key (the cache tests choose a
/// directory of their own).
fn builder(sb: &Sandbox, key: &str) -> agentwire::colony::ClientBuilder {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(fast_retry())
        .no_token_cache()
}

async fn one_call(c: &Client) -> agentwire::Result<usize> {
    c.get_posts().limit(1).await.map(|p| p.items.len())
}

/// Runs `n` calls at once and returns their errors; any success fails the
/// test, and so does a hang.
async fn failed_concurrent_calls(c: &Client, n: usize) -> Vec<Error> {
    let calls = (0..n).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { one_call(&c).await })
    });
    tokio::time::timeout(HANG_GUARD, futures::future::join_all(calls))
        .await
        .expect("no hang")
        .into_iter()
        .map(|r| r.expect("the call task ends").expect_err("the call fails"))
        .collect()
}

// ── 1. Token lifetimes never panic ──────────────────────────────────────

/// `/v/{n}/auth/token` answers variant `n` of a token answer; `/me` takes
/// any bearer token.
fn lifetime_server(exchanges: Arc<AtomicU64>) -> Router {
    Router::new()
        .route(
            "/v/{n}/auth/token",
            post(
                |State(c): State<Arc<AtomicU64>>, Path(n): Path<usize>| async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    let far_jwt_1 = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCIsImV4cCI6MWUzMDB9.sig";
                    let far_jwt_2 = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCIsImV4cCI6MWUxOX0.sig";
                    let answers = [
                        json!({"access_token": "tok-lifetime-a", "expires_in": 1e20}),
                        json!({"access_token": "tok-lifetime-b", "expires_in": 1e19}),
                        json!({"access_token": "tok-lifetime-c", "expires_in": 1.7976931348623157e308}),
                        json!({"access_token": far_jwt_1}),
                        json!({"access_token": far_jwt_2}),
                        json!({"access_token": "tok-lifetime-d", "expires_in": -5}),
                        json!({"access_token": "tok-lifetime-e", "expires_in": "NaN"}),
                        json!({"access_token": "tok-lifetime-f", "expires_in": "soon"}),
                        json!({"access_token": "tok-lifetime-g", "expires_in": null}),
                        json!({"access_token": far_jwt_1, "expires_in": "inf"}),
                    ];
                    Json(answers.get(n).cloned().unwrap_or(Value::Null))
                },
            ),
        )
        .route(
            "/me",
            get(|headers: HeaderMap| async move {
                match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                    Some(v) if v.starts_with("Bearer ") => (StatusCode::OK, Json(json!({"ok": 1}))),
                    _ => (StatusCode::UNAUTHORIZED, Json(json!({"detail": "no token"}))),
                }
            }),
        )
        .with_state(exchanges)
}

#[tokio::test]
async fn absurd_or_missing_token_lifetimes_never_panic_and_are_clamped() {
    let exchanges = Arc::new(AtomicU64::new(0));
    let base = agentwire_tests::serve(lifetime_server(exchanges.clone())).await;
    let http = reqwest::Client::new();
    for n in 0..10 {
        let auth = Arc::new(TokenExchange::new(
            "col_fake_lifetime_key",
            format!("{base}/v/{n}/auth/token").parse().unwrap(),
        ));
        let rt = Runtime::builder("colony").auth(auth.clone()).build();
        for _ in 0..2 {
            let req = http.get(format!("{base}/me")).build().unwrap();
            let resp = rt.execute(&http, req, "me").await.expect("a response");
            assert_eq!(resp.status(), 200, "variant {n}");
        }
        // Clamped or defaulted, the token is still fresh for the second call.
        assert_eq!(auth.exchanges(), 1, "variant {n}");
    }
    assert_eq!(exchanges.load(Ordering::SeqCst), 10);
}

// ── 2. Retries, and one outcome for every waiter ─────────────────────────

#[tokio::test]
async fn a_failing_exchange_is_retried_as_colony_sdk_does() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let faults = sb.faults();

    // 503, 503, then a token: one call succeeds after three attempts.
    let c = builder(&sb, &key).build().unwrap();
    faults.fail_token_next(2, 503);
    assert_eq!(one_call(&c).await.unwrap(), 0);
    assert_eq!(faults.token_requests(), 3);
    assert_eq!(sb.colony().token_exchanges(), 1);
    assert_eq!(c.token_exchanges(), 3);

    // Dropped connections are retried like 5xx.
    let c = builder(&sb, &key).build().unwrap();
    faults.drop_token_next(2);
    one_call(&c).await.unwrap();
    assert_eq!(faults.token_requests(), 6);

    // More failures than retries: the last answer is the error.
    let c = builder(&sb, &key).build().unwrap();
    faults.fail_token_next(3, 502);
    let err = one_call(&c).await.unwrap_err();
    assert!(
        matches!(&err, Error::Server(e) if e.status == 502),
        "{err:?}"
    );
    assert_eq!(faults.token_requests(), 9);

    // A 429 is not retried on the exchange: the endpoint counts attempts.
    let c = builder(&sb, &key).build().unwrap();
    faults.fail_token_next_with_retry_after(1, 429, 1);
    let err = one_call(&c).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(1)),
        "{err:?}"
    );
    assert_eq!(faults.token_requests(), 10);

    // A Retry-After over the cap ends the retries at once.
    let c = builder(&sb, &key).build().unwrap();
    faults.fail_token_next_with_retry_after(1, 503, 3600);
    let err = one_call(&c).await.unwrap_err();
    assert!(
        matches!(&err, Error::Server(e) if e.status == 503),
        "{err:?}"
    );
    assert_eq!(faults.token_requests(), 11);
    assert_eq!(faults.pending(), 0);

    // And the client's retry policy is the exchange's: none means one try.
    let c = builder(&sb, &key)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    faults.fail_token_next(1, 503);
    assert!(matches!(one_call(&c).await, Err(Error::Server(_))));
    assert_eq!(faults.token_requests(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_callers_of_a_failing_exchange_share_one_round_and_its_error() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let c = builder(&sb, &key).build().unwrap();
    // Fails hard, and slowly enough that all 50 wait on the first round.
    sb.faults().fail_token_next(u32::MAX, 503);
    sb.faults().hang_token(Duration::from_millis(300));
    for err in failed_concurrent_calls(&c, 50).await {
        assert!(
            matches!(&err, Error::Server(e) if e.status == 503),
            "{err:?}"
        );
    }
    // One round: the first attempt and the policy's two retries.
    assert_eq!(sb.faults().token_requests(), 3);
    assert_eq!(c.token_exchanges(), 3);

    // The endpoint recovers: the next call runs a new round.
    sb.faults().clear();
    one_call(&c).await.unwrap();
    assert_eq!(sb.faults().token_requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_exchange_times_out_once_for_all_callers() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let c = builder(&sb, &key)
        .retry(RetryConfig::none())
        // Wide enough for all 20 callers to be waiting before it fires.
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    sb.faults().hang_token(Duration::from_secs(3600));
    for err in failed_concurrent_calls(&c, 20).await {
        assert!(
            matches!(&err, Error::Network(n) if n.kind == NetworkErrorKind::Timeout),
            "{err:?}"
        );
    }
    // One attempt timed out, and every caller got that outcome: not 20
    // timeouts one after another.
    assert_eq!(sb.faults().token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_of_an_unreachable_exchange_all_get_its_connection_error() {
    // Nothing listens: every caller must get a connect error from one round.
    let base = agentwire_tests::closed_port_url().await;
    let auth = Arc::new(
        TokenExchange::new(
            "col_fake_unreachable_key",
            format!("{base}/auth/token").parse().unwrap(),
        )
        .with_retry(RetryConfig::none()),
    );
    let rt = Runtime::builder("colony").auth(auth.clone()).build();
    let http = reqwest::Client::new();
    let calls = (0..20).map(|_| {
        let (rt, http, url) = (rt.clone(), http.clone(), format!("{base}/me"));
        tokio::spawn(async move {
            let req = http.get(url).build().unwrap();
            match rt.execute(&http, req, "me").await {
                Ok(r) => panic!("answered {}", r.status()),
                Err(e) => e,
            }
        })
    });
    for r in futures::future::join_all(calls).await {
        let err = r.unwrap();
        assert!(
            matches!(&err, Error::Network(n) if n.kind == NetworkErrorKind::Connect),
            "{err:?}"
        );
    }
    assert!(auth.exchanges() >= 1);
}

// ── 3. The redactor does not accumulate tokens ───────────────────────────

#[tokio::test]
async fn refreshes_keep_only_the_current_and_previous_token_redacted() {
    let issued = Arc::new(AtomicU64::new(0));
    let router = Router::new()
        .route(
            "/auth/token",
            post(|State(n): State<Arc<AtomicU64>>| async move {
                let n = n.fetch_add(1, Ordering::SeqCst) + 1;
                Json(json!({"access_token": format!("tok-{n}-redact-me"), "expires_in": 3600}))
            }),
        )
        .with_state(issued.clone());
    let base = agentwire_tests::serve(router).await;
    let auth = Arc::new(TokenExchange::new(
        "col_fake_redactor_key",
        format!("{base}/auth/token").parse().unwrap(),
    ));
    let rt = Runtime::builder("colony").auth(auth.clone()).build();
    let http = reqwest::Client::new();
    for _ in 0..20 {
        auth.refresh(rt.auth_context(&http)).await.unwrap();
    }
    assert_eq!(issued.load(Ordering::SeqCst), 20);
    let r = rt.redactor();
    assert!(!r.redact("tok-20-redact-me").contains("tok-20"), "current");
    assert!(!r.redact("tok-19-redact-me").contains("tok-19"), "previous");
    for old in 1..=18 {
        let t = format!("tok-{old}-redact-me");
        assert_eq!(r.redact(&t), t, "token {old} is no longer held");
    }
    // The key and two tokens, whatever the number of refreshes.
    let debug = format!("{r:?}");
    let held: usize = debug
        .split("secrets: ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(" }").parse().ok())
        .unwrap_or(usize::MAX);
    assert!(held <= 3, "{debug}");
}

// ── 4. Two-factor accounts ───────────────────────────────────────────────

#[tokio::test]
async fn a_two_factor_account_needs_a_code_and_gets_typed_errors() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    assert!(sb.colony().enable_2fa("alice", "123456"));

    let none = builder(&sb, &key).build().unwrap();
    let err = one_call(&none).await.unwrap_err();
    assert!(matches!(err, Error::TwoFactorRequired(_)), "{err:?}");
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.code(), Some("AUTH_2FA_REQUIRED"));
    assert!(!err.is_transient());

    let wrong = builder(&sb, &key).totp("654321").build().unwrap();
    let err = one_call(&wrong).await.unwrap_err();
    assert!(matches!(err, Error::TwoFactorInvalid(_)), "{err:?}");
    assert_eq!(err.code(), Some("AUTH_2FA_INVALID"));
    assert_eq!(err.api().map(|e| e.status), Some(401));
    assert!(!err.is_transient());
    assert!(!format!("{err} {err:?}").contains("654321"));

    // A fixed code works once...
    let fixed = builder(&sb, &key).totp("123456").build().unwrap();
    assert!(!format!("{fixed:?}").contains("123456"));
    one_call(&fixed).await.unwrap();
    assert_eq!(sb.colony().token_exchanges(), 1);
    // ...and is not replayed on the next exchange: nothing is sent.
    let before = sb.faults().token_requests();
    let err = fixed.refresh_token().await.unwrap_err();
    assert!(matches!(err, Error::TwoFactorRequired(_)), "{err:?}");
    assert_eq!(sb.faults().token_requests(), before);
    // The service itself refuses a code used twice.
    let replay = builder(&sb, &key).totp("123456").build().unwrap();
    assert!(matches!(
        one_call(&replay).await,
        Err(Error::TwoFactorInvalid(_))
    ));
}

#[tokio::test]
async fn a_totp_callback_is_asked_for_every_exchange() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    sb.colony().enable_2fa("alice", "111111");
    let code = Arc::new(Mutex::new("111111".to_string()));
    let asked = Arc::new(AtomicU64::new(0));
    let c = {
        let (code, asked) = (code.clone(), asked.clone());
        builder(&sb, &key)
            .totp_with(move || {
                asked.fetch_add(1, Ordering::SeqCst);
                code.lock().unwrap().clone()
            })
            .build()
            .unwrap()
    };
    one_call(&c).await.unwrap();
    // The next window.
    sb.colony().set_2fa_code("alice", "22222222");
    *code.lock().unwrap() = "22222222".into();
    c.refresh_token().await.unwrap();
    one_call(&c).await.unwrap();
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(sb.colony().token_exchanges(), 2);

    // A callback that returns the secret instead of a code: refused here.
    *code.lock().unwrap() = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".into();
    let before = sb.faults().token_requests();
    let err = c.refresh_token().await.unwrap_err();
    assert!(matches!(err, Error::TwoFactorInvalid(_)), "{err:?}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("secret"), "{text}");
    assert!(!text.contains("JBSWY3DP"), "{text}");
    assert_eq!(sb.faults().token_requests(), before, "nothing sent");
}

#[test]
fn fixed_totp_codes_are_validated_like_colony_sdk() {
    let build = |code: &str| Client::builder("col_fake_totp_key").totp(code).build();
    for good in [
        "123456",
        "1234567",
        "12345678",
        "0a1b2c3d4e5f6a7b",
        "ABCDEFGHIJ",
    ] {
        assert!(build(good).is_ok(), "{good:?} refused");
    }
    for (bad, why) in [
        ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "secret"),
        ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP====", "secret"),
        ("12345", "leading zero"),
        ("123 456", "whitespace"),
        ("123456\n", "whitespace"),
        ("", "not a one-time code"),
        ("12", "not a one-time code"),
        ("123456789", "not a one-time code"),
        ("abc-def-ghi", "not a one-time code"),
        ("12345678901234567", "not a one-time code"),
    ] {
        match build(bad) {
            Err(Error::InvalidArgument { name, message }) => {
                assert_eq!(name, "totp");
                assert!(message.contains(why), "{bad:?}: {message}");
                if bad.len() >= 6 {
                    assert!(!message.contains(bad.trim()), "{message}");
                }
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

// ── 5 and 6. The token cache on disk ─────────────────────────────────────

fn cache_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn cached(sb: &Sandbox, key: &str, dir: &std::path::Path) -> Client {
    builder(sb, key).token_cache_dir(dir).build().unwrap()
}

#[tokio::test]
async fn a_second_client_reuses_the_cached_token() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let dir = tempfile::tempdir().unwrap();

    let first = cached(&sb, &key, dir.path());
    one_call(&first).await.unwrap();
    assert_eq!(sb.colony().token_exchanges(), 1);

    let second = cached(&sb, &key, dir.path());
    one_call(&second).await.unwrap();
    assert_eq!(second.token_exchanges(), 0, "taken from the disk");
    assert_eq!(sb.colony().token_exchanges(), 1);

    // One file, holding the token but never the key.
    let files = cache_files(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(!text.contains(&key), "{text}");
    assert!(!files[0].to_string_lossy().contains(&key));
    assert!(!format!("{second:?}").contains("eyJ"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    // Without the cache (the default), the disk is not consulted.
    let plain = builder(&sb, &key).build().unwrap();
    one_call(&plain).await.unwrap();
    assert_eq!(sb.colony().token_exchanges(), 2);
    // Another key: another file.
    let other = sb.colony().register("bob");
    one_call(&cached(&sb, &other, dir.path())).await.unwrap();
    assert_eq!(cache_files(dir.path()).len(), 2);
}

#[tokio::test]
async fn a_corrupt_cache_file_means_an_exchange_and_is_replaced() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let dir = tempfile::tempdir().unwrap();
    one_call(&cached(&sb, &key, dir.path())).await.unwrap();
    let file = cache_files(dir.path()).remove(0);
    for junk in [
        &b"{not json"[..],
        b"",
        br#"{"v":1,"token":42}"#,
        b"\xff\x00",
    ] {
        std::fs::write(&file, junk).unwrap();
        let before = sb.colony().token_exchanges();
        let c = cached(&sb, &key, dir.path());
        one_call(&c).await.unwrap();
        assert_eq!(sb.colony().token_exchanges(), before + 1);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("eyJ"), "replaced with the new token: {text}");
    }
    // An unwritable cache directory is no error either.
    let c = builder(&sb, &key)
        .token_cache_dir(file.join("not-a-dir"))
        .build()
        .unwrap();
    one_call(&c).await.unwrap();
}

#[tokio::test]
async fn a_refused_cached_token_is_removed_and_the_key_exchanged_once() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let dir = tempfile::tempdir().unwrap();
    one_call(&cached(&sb, &key, dir.path())).await.unwrap();
    let file = cache_files(dir.path()).remove(0);
    let stale = std::fs::read_to_string(&file).unwrap();

    sb.faults().expire_tokens();
    let c = cached(&sb, &key, dir.path());
    one_call(&c).await.unwrap();
    assert_eq!(c.token_exchanges(), 1, "one fresh exchange");
    assert_eq!(sb.colony().token_exchanges(), 2);
    let fresh = std::fs::read_to_string(&file).unwrap();
    assert_ne!(fresh, stale, "the file holds the new token");

    // And a third client takes the new one.
    let third = cached(&sb, &key, dir.path());
    one_call(&third).await.unwrap();
    assert_eq!(third.token_exchanges(), 0);
}

#[tokio::test]
async fn rotate_key_keeps_the_cache_consistent() {
    let sb = Sandbox::start().await.unwrap();
    let old_key = sb.colony().register("alice");
    let dir = tempfile::tempdir().unwrap();
    let c = cached(&sb, &old_key, dir.path());
    one_call(&c).await.unwrap();
    assert_eq!(cache_files(dir.path()).len(), 1);

    let new_key = c.rotate_key().await.unwrap();
    // The old key's entry is gone at once.
    assert_eq!(cache_files(dir.path()).len(), 0);
    one_call(&c).await.unwrap();
    assert_eq!(cache_files(dir.path()).len(), 1);

    // What is cached is the new key's token.
    let next = cached(&sb, new_key.expose_secret(), dir.path());
    one_call(&next).await.unwrap();
    assert_eq!(next.token_exchanges(), 0);
    // The old key finds nothing (and is refused by the service).
    let stale = cached(&sb, &old_key, dir.path());
    assert!(matches!(one_call(&stale).await, Err(Error::Auth(_))));
}
