//! The shared runtime on its own, against purpose-built servers: token
//! exchange under concurrency, the GET cache, idempotency keys, retry
//! classes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire_runtime::{
    BearerToken, Idempotency, RetryClass, RetryConfig, Runtime, TokenExchange,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, get, post};
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

/// A server that counts every request to `/x`, whatever its method, and
/// answers the first `fail` of them 503.
fn counting_server(hits: Arc<AtomicU64>, fail: u64) -> Router {
    Router::new()
        .route(
            "/x",
            any(move |State(hits): State<Arc<AtomicU64>>| async move {
                if hits.fetch_add(1, Ordering::SeqCst) < fail {
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        Json(json!({"detail": "busy"})),
                    );
                }
                (StatusCode::OK, Json(json!({"ok": true})))
            }),
        )
        .with_state(hits)
}

/// A server that reads each request whole and closes the connection
/// without answering: the request reached it, the answer is lost.
async fn swallowing_server(hits: Arc<AtomicU64>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    if conn.readable().await.is_err() {
                        return;
                    }
                    match conn.try_read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => return,
                    }
                }
                hits.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    format!("http://{addr}")
}

/// The runtime the retry-class tests share: two retries, 1 ms apart,
/// counting attempts (a refused connection never reaches a server).
fn classed(ops: &[&'static str], class: RetryClass, attempts: Arc<AtomicU64>) -> Runtime {
    Runtime::builder("test")
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(1)))
        .retry_class(ops, class)
        .on_request(move |_| {
            attempts.fetch_add(1, Ordering::SeqCst);
        })
        .build()
}

/// Sends `method url` as operation `op` with, optionally, the caller's own
/// `Idempotency-Key`; the status, or `None` when no response came.
async fn status_of(rt: &Runtime, method: reqwest::Method, url: &str, key: bool) -> Option<u16> {
    let http = reqwest::Client::new();
    let mut req = http.request(method, url);
    if key {
        req = req.header("idempotency-key", "caller-key-1");
    }
    rt.execute(&http, req.build().unwrap(), "op")
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// What a class does with `method` in the three situations it tells apart:
/// (requests a 503-once server got, requests a server that swallows the
/// request got, attempts at a closed port).
async fn behaviour(class: RetryClass, method: reqwest::Method, key: bool) -> (u64, u64, u64) {
    let (hits, swallowed, attempts) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let rt = classed(&["op"], class, attempts.clone());
    let base = agentwire_tests::serve(counting_server(hits.clone(), 1)).await;
    let first = status_of(&rt, method.clone(), &format!("{base}/x"), key).await;
    let base = swallowing_server(swallowed.clone()).await;
    assert_eq!(
        status_of(&rt, method.clone(), &format!("{base}/x"), key).await,
        None
    );
    let before = attempts.load(Ordering::SeqCst);
    let closed = agentwire_tests::closed_port_url().await;
    assert_eq!(
        status_of(&rt, method, &format!("{closed}/x"), key).await,
        None
    );
    let hits = hits.load(Ordering::SeqCst);
    assert_eq!(first, Some(if hits == 1 { 503 } else { 200 }));
    (
        hits,
        swallowed.load(Ordering::SeqCst),
        attempts.load(Ordering::SeqCst) - before,
    )
}

#[tokio::test]
async fn retry_class_by_method_retries_idempotent_methods_and_keyed_writes() {
    use reqwest::Method;
    let by_method = RetryClass::ByMethod;
    assert_eq!(behaviour(by_method, Method::PUT, false).await, (2, 3, 3));
    assert_eq!(behaviour(by_method, Method::GET, false).await, (2, 3, 3));
    // An unkeyed POST only when its connection could not be made.
    assert_eq!(behaviour(by_method, Method::POST, false).await, (1, 1, 3));
    assert_eq!(behaviour(by_method, Method::POST, true).await, (2, 3, 3));
    assert_eq!(RetryClass::default(), by_method);
}

#[tokio::test]
async fn retry_class_replay_safe_retries_a_post_like_a_read() {
    use reqwest::Method;
    assert_eq!(
        behaviour(RetryClass::ReplaySafe, Method::POST, false).await,
        (2, 3, 3)
    );
}

#[tokio::test]
async fn retry_class_not_replay_safe_sends_a_put_once_it_may_have_arrived() {
    use reqwest::Method;
    let class = RetryClass::NotReplaySafe;
    assert_eq!(behaviour(class, Method::PUT, false).await, (1, 1, 3));
    assert_eq!(behaviour(class, Method::DELETE, false).await, (1, 1, 3));
    // The caller's key makes a repeat harmless again.
    assert_eq!(behaviour(class, Method::DELETE, true).await, (2, 3, 3));
}

#[tokio::test]
async fn retry_class_never_sends_once_even_when_no_connection_was_made() {
    use reqwest::Method;
    let class = RetryClass::Never;
    assert_eq!(behaviour(class, Method::GET, false).await, (1, 1, 1));
    assert_eq!(behaviour(class, Method::POST, true).await, (1, 1, 1));
}

#[tokio::test]
async fn retry_class_never_still_refreshes_credentials_once_after_a_401() {
    let counters = Arc::new(Counters::default());
    let base = agentwire_tests::serve(token_server(counters.clone())).await;
    let auth = Arc::new(TokenExchange::new(
        "col_test_key_0001",
        format!("{base}/auth/token").parse().unwrap(),
    ));
    let rt = Runtime::builder("colony")
        .auth(auth)
        .retry_class(&["op"], RetryClass::Never)
        .build();
    let http = reqwest::Client::new();
    let me = format!("{base}/me");
    assert_eq!(
        send(&rt, &http, reqwest::Method::GET, me.clone())
            .await
            .status(),
        200
    );
    counters.token_epoch.fetch_add(1, Ordering::SeqCst);
    assert_eq!(
        send(&rt, &http, reqwest::Method::GET, me).await.status(),
        200
    );
    assert_eq!(
        counters.gets.load(Ordering::SeqCst),
        3,
        "the refused GET, then one with the new token"
    );
}

#[tokio::test]
#[allow(deprecated)]
async fn the_deprecated_class_methods_keep_their_precedence_in_any_order() {
    use reqwest::Method;
    let attempts = Arc::new(AtomicU64::new(0));
    let hits = Arc::new(AtomicU64::new(0));
    let base = agentwire_tests::serve(counting_server(hits.clone(), u64::MAX)).await;
    let url = format!("{base}/x");
    let retry = RetryConfig::default().with_base_delay(Duration::from_millis(1));
    let count = |a: Arc<AtomicU64>| {
        move |_: &agentwire_runtime::RequestInfo| {
            a.fetch_add(1, Ordering::SeqCst);
        }
    };
    // Sent once beats replay-safe, whichever came first.
    for rt in [
        Runtime::builder("t")
            .retry(retry.clone())
            .single_attempt_operations(&["op"])
            .replay_safe_operations(&["op"]),
        Runtime::builder("t")
            .retry(retry.clone())
            .replay_safe_operations(&["op"])
            .single_attempt_operations(&["op"]),
    ] {
        let rt = rt.on_request(count(attempts.clone())).build();
        assert_eq!(status_of(&rt, Method::POST, &url, false).await, Some(503));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Replay-safe beats unrepeatable, whichever came first.
    for rt in [
        Runtime::builder("t")
            .retry(retry.clone())
            .unrepeatable_operations(&["op"])
            .replay_safe_operations(&["op"]),
        Runtime::builder("t")
            .retry(retry.clone())
            .replay_safe_operations(&["op"])
            .unrepeatable_operations(&["op"]),
    ] {
        let rt = rt.build();
        assert_eq!(status_of(&rt, Method::PUT, &url, false).await, Some(503));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2 + 3 + 3);
    // Unrepeatable alone: a PUT sent once.
    let rt = Runtime::builder("t")
        .retry(retry)
        .unrepeatable_operations(&["op"])
        .build();
    assert_eq!(status_of(&rt, Method::PUT, &url, false).await, Some(503));
    assert_eq!(hits.load(Ordering::SeqCst), 9);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

/// A server whose `/which` names the client that asked (by a default
/// header), and whose `/silent` sends its head, one chunk, then nothing.
fn client_telling_server() -> Router {
    Router::new()
        .route(
            "/which",
            get(|headers: HeaderMap| async move {
                let who = headers
                    .get("x-client")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_owned();
                Json(json!({ "client": who }))
            }),
        )
        .route(
            "/silent",
            get(|| async {
                let first = futures::stream::iter([Ok::<_, std::convert::Infallible>(
                    axum::body::Bytes::from_static(b"data: 1\n\n"),
                )]);
                let chunks = futures::StreamExt::chain(first, futures::stream::pending());
                axum::response::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(axum::body::Body::from_stream(chunks))
                    .unwrap()
            }),
        )
}

fn tagged_client(tag: &'static str, read_timeout: Option<Duration>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-client", reqwest::header::HeaderValue::from_static(tag));
    let mut b = reqwest::Client::builder().default_headers(headers);
    if let Some(t) = read_timeout {
        b = b.read_timeout(t);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn streams_go_out_on_the_stream_client_and_everything_else_on_the_callers() {
    let base = agentwire_tests::serve(client_telling_server()).await;
    let rt = Runtime::builder("test")
        .retry(RetryConfig::none())
        .streaming_operations(&["live"])
        .stream_client(tagged_client("stream", None))
        .build();
    let call = tagged_client("call", None);
    for (op, want) in [("live", "stream"), ("plain", "call")] {
        let req = call.get(format!("{base}/which")).build().unwrap();
        let body: Value = rt
            .execute(&call, req, op)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["client"], want, "{op}");
    }
    // Without a stream client, a stream goes out on the call's client.
    let rt = Runtime::builder("test")
        .streaming_operations(&["live"])
        .build();
    let req = call.get(format!("{base}/which")).build().unwrap();
    let body: Value = rt
        .execute(&call, req, "live")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["client"], "call");
}

#[tokio::test]
async fn a_stream_that_goes_silent_fails_with_the_stream_clients_read_timeout() {
    let base = agentwire_tests::serve(client_telling_server()).await;
    let rt = Runtime::builder("test")
        .retry(RetryConfig::none())
        .timeout(Duration::from_secs(600))
        .streaming_operations(&["live"])
        .stream_client(tagged_client("stream", Some(Duration::from_millis(200))))
        .build();
    // The call's own client has no read timeout: without the stream client
    // this read would never end (the test would hang, not pass).
    let call = tagged_client("call", None);
    let req = call.get(format!("{base}/silent")).build().unwrap();
    let mut response = rt.execute(&call, req, "live").await.unwrap();
    let first = response.chunk().await.unwrap().expect("the first event");
    assert_eq!(&first[..], b"data: 1\n\n");
    let err = tokio::time::timeout(Duration::from_secs(30), response.chunk())
        .await
        .expect("the read timeout ends the read")
        .expect_err("a silent stream is an error");
    assert!(err.is_timeout() || err.is_body(), "{err:?}");
}
