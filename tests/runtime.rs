//! The shared runtime on its own, against purpose-built servers: token
//! exchange under concurrency, the GET cache, idempotency keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire_runtime::{BearerToken, Idempotency, RetryConfig, Runtime, TokenExchange};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Default)]
struct Counters {
    exchanges: AtomicU64,
    token_epoch: AtomicU64,
    gets: AtomicU64,
    keys: Mutex<Vec<String>>,
    fail_writes: AtomicU64,
}

/// A server that issues tokens `tok-<epoch>` and accepts only the current one.
fn token_server(c: Arc<Counters>) -> Router {
    Router::new()
        .route(
            "/auth/token",
            post(|State(c): State<Arc<Counters>>, Json(body): Json<Value>| async move {
                if body["api_key"] != "col_test_key_0001" {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"detail": "bad key"})));
                }
                c.exchanges.fetch_add(1, Ordering::SeqCst);
                // Slow enough that concurrent callers pile up behind it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let epoch = c.token_epoch.load(Ordering::SeqCst);
                (StatusCode::OK, Json(json!({"access_token": format!("tok-{epoch}-abcdef"), "token_type": "bearer"})))
            }),
        )
        .route(
            "/me",
            get(|State(c): State<Arc<Counters>>, headers: HeaderMap| async move {
                c.gets.fetch_add(1, Ordering::SeqCst);
                let want = format!("Bearer tok-{}-abcdef", c.token_epoch.load(Ordering::SeqCst));
                if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str()) {
                    (StatusCode::OK, Json(json!({"username": "agent", "n": c.gets.load(Ordering::SeqCst)})))
                } else {
                    (StatusCode::UNAUTHORIZED, Json(json!({"detail": "token expired"})))
                }
            }),
        )
        .route(
            "/posts",
            post(|State(c): State<Arc<Counters>>, headers: HeaderMap| async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                c.keys.lock().unwrap().push(key);
                if c.fail_writes.load(Ordering::SeqCst) > 0 {
                    c.fail_writes.fetch_sub(1, Ordering::SeqCst);
                    return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"detail": "busy"})));
                }
                (StatusCode::CREATED, Json(json!({"id": "p1"})))
            }),
        )
        .with_state(c)
}

async fn send(
    rt: &Runtime,
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
) -> reqwest::Response {
    let req = http.request(method, url).build().unwrap();
    rt.execute(http, req, "op").await.expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_with_an_expired_token_cause_one_exchange() {
    let counters = Arc::new(Counters::default());
    let base = agentwire_tests::serve(token_server(counters.clone())).await;
    let auth = Arc::new(TokenExchange::new(
        "col_test_key_0001",
        format!("{base}/auth/token").parse().unwrap(),
    ));
    let rt = Runtime::builder("colony").auth(auth.clone()).build();
    let http = reqwest::Client::new();

    assert_eq!(
        send(&rt, &http, reqwest::Method::GET, format!("{base}/me"))
            .await
            .status(),
        200
    );
    assert_eq!(counters.exchanges.load(Ordering::SeqCst), 1);

    // The server revokes every token: all 100 calls get a 401 with the old one.
    counters.token_epoch.fetch_add(1, Ordering::SeqCst);
    let calls = (0..100).map(|_| {
        let (rt, http, url) = (rt.clone(), http.clone(), format!("{base}/me"));
        tokio::spawn(async move { send(&rt, &http, reqwest::Method::GET, url).await.status() })
    });
    for status in futures::future::join_all(calls).await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(
        counters.exchanges.load(Ordering::SeqCst),
        2,
        "exactly one new exchange"
    );
    assert_eq!(auth.exchanges(), 2);
}

#[tokio::test]
async fn a_refused_key_surfaces_as_the_exchange_response() {
    let counters = Arc::new(Counters::default());
    let base = agentwire_tests::serve(token_server(counters.clone())).await;
    let auth = Arc::new(TokenExchange::new(
        "col_wrong_key_0001",
        format!("{base}/auth/token").parse().unwrap(),
    ));
    let rt = Runtime::builder("colony").auth(auth).build();
    let http = reqwest::Client::new();
    let resp = send(&rt, &http, reqwest::Method::GET, format!("{base}/me")).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        counters.gets.load(Ordering::SeqCst),
        0,
        "no call without a token"
    );
    let err = rt.error_from_response(resp).await;
    assert!(
        matches!(err, agentwire_runtime::Error::Auth(ref e) if e.message == "bad key"),
        "{err:?}"
    );
}

#[tokio::test]
async fn writes_get_one_idempotency_key_reused_across_retries() {
    let counters = Arc::new(Counters::default());
    let base = agentwire_tests::serve(token_server(counters.clone())).await;
    // Keys are added to authenticated writes only: the service deduplicates
    // per account.
    let rt = Runtime::builder("colony")
        .auth(Arc::new(BearerToken::new("tok_fake_writer_0001")))
        .idempotency(Idempotency::AddKeyToWrites)
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(1)))
        .build();
    let http = reqwest::Client::new();
    counters.fail_writes.store(2, Ordering::SeqCst);
    let resp = send(&rt, &http, reqwest::Method::POST, format!("{base}/posts")).await;
    assert_eq!(resp.status(), 201);
    let keys = counters.keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3);
    assert!(!keys[0].is_empty());
    assert!(
        keys.iter().all(|k| k == &keys[0]),
        "same key on every attempt: {keys:?}"
    );
}

#[tokio::test]
async fn unkeyed_writes_are_not_retried_under_keyed_only() {
    let counters = Arc::new(Counters::default());
    let base = agentwire_tests::serve(token_server(counters.clone())).await;
    let rt = Runtime::builder("mycel")
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(1)))
        .build();
    let http = reqwest::Client::new();
    counters.fail_writes.store(1, Ordering::SeqCst);
    let resp = send(&rt, &http, reqwest::Method::POST, format!("{base}/posts")).await;
    assert_eq!(resp.status(), 503, "a POST without a key is sent once");
    assert_eq!(counters.keys.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_get_cache_serves_repeats_until_a_write_or_expiry() {
    let counters = Arc::new(Counters::default());
    let base = agentwire_tests::serve(token_server(counters.clone())).await;
    let auth = Arc::new(TokenExchange::new(
        "col_test_key_0001",
        format!("{base}/auth/token").parse().unwrap(),
    ));
    let rt = Runtime::builder("colony")
        .auth(auth)
        .cache(Duration::from_secs(60))
        .build();
    let http = reqwest::Client::new();
    let body = |r: reqwest::Response| async move { r.json::<Value>().await.unwrap() };

    let first = body(send(&rt, &http, reqwest::Method::GET, format!("{base}/me")).await).await;
    let second = body(send(&rt, &http, reqwest::Method::GET, format!("{base}/me")).await).await;
    assert_eq!(first, second);
    assert_eq!(
        counters.gets.load(Ordering::SeqCst),
        1,
        "second GET came from the cache"
    );

    assert_eq!(
        send(&rt, &http, reqwest::Method::POST, format!("{base}/posts"))
            .await
            .status(),
        201
    );
    send(&rt, &http, reqwest::Method::GET, format!("{base}/me")).await;
    assert_eq!(
        counters.gets.load(Ordering::SeqCst),
        2,
        "a write empties the cache"
    );

    rt.clear_cache();
    send(&rt, &http, reqwest::Method::GET, format!("{base}/me")).await;
    assert_eq!(counters.gets.load(Ordering::SeqCst), 3);
}
