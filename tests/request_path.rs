//! The request path end to end, against purpose-built servers and the
//! sandbox: the cap on `Retry-After`, the cap on buffered bodies, redaction
//! before truncation, secrets registered from the body that issues them, the
//! overall deadline, default headers, and which writes are retried.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agentwire::colony::Client as Colony;
use agentwire::{Error, ExposeSecret, NetworkErrorKind, RetryConfig};
use agentwire_runtime::{BearerToken, Idempotency, Runtime};
use agentwire_sandbox::Sandbox;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Fails the test instead of hanging it: every call here should return
/// quickly, and the old behaviour some of these tests guard against was to
/// sleep for an hour.
async fn guard<F: IntoFuture>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the call returned instead of hanging")
}

fn quick() -> RetryConfig {
    RetryConfig::default().with_base_delay(Duration::from_millis(1))
}

async fn send(
    rt: &Runtime,
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
) -> agentwire::Result<reqwest::Response> {
    let req = http.request(method, url).build().unwrap();
    guard(rt.execute(http, req, "op")).await
}

/// Counts the requests a handler saw.
#[derive(Clone, Default)]
struct Hits(Arc<AtomicU64>);

impl Hits {
    fn add(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

// ── 1. Retry-After is capped ──────────────────────────────────────────────

fn rate_limited(retry_after: String) -> Response {
    let mut r = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"detail": "daily quota reached"})),
    )
        .into_response();
    r.headers_mut()
        .insert("retry-after", HeaderValue::from_str(&retry_after).unwrap());
    r
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_returned_at_once_as_rate_limited() {
    let hits = Hits::default();
    let router = Router::new()
        .route(
            "/seconds",
            get(|State(h): State<Hits>| async move {
                h.add();
                rate_limited("3600".into())
            }),
        )
        .route(
            "/date",
            get(|State(h): State<Hits>| async move {
                h.add();
                let when = SystemTime::now() + Duration::from_secs(2 * 3600);
                rate_limited(httpdate::fmt_http_date(when))
            }),
        )
        .route(
            "/short",
            get(|State(h): State<Hits>| async move {
                if h.add() == 3 {
                    rate_limited("0".into())
                } else {
                    Json(json!({"ok": true})).into_response()
                }
            }),
        )
        .with_state(hits.clone());
    let base = agentwire_tests::serve(router).await;
    // The default policy: 2 retries on 429, Retry-After waited up to 60 s.
    let rt = Runtime::builder("colony").build();
    let http = reqwest::Client::new();

    let resp = send(&rt, &http, reqwest::Method::GET, format!("{base}/seconds"))
        .await
        .unwrap();
    match rt.error_from_response(resp).await {
        Error::RateLimited {
            retry_after: Some(d),
            error,
        } => {
            assert_eq!(d, Duration::from_secs(3600));
            assert_eq!(error.message, "daily quota reached");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.get(), 1, "not retried");

    let resp = send(&rt, &http, reqwest::Method::GET, format!("{base}/date"))
        .await
        .unwrap();
    match rt.error_from_response(resp).await {
        Error::RateLimited {
            retry_after: Some(d),
            ..
        } => assert!(
            d > Duration::from_secs(7000) && d <= Duration::from_secs(7200),
            "{d:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.get(), 2, "the HTTP-date form is capped too");

    // Within the cap the header is still obeyed.
    let resp = send(&rt, &http, reqwest::Method::GET, format!("{base}/short"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(hits.get(), 4);
}

#[tokio::test]
async fn a_retry_after_within_the_cap_replaces_the_backoff() {
    let hits = Hits::default();
    let router = Router::new()
        .route(
            "/once",
            get(|State(h): State<Hits>| async move {
                if h.add() == 1 {
                    rate_limited("1".into())
                } else {
                    Json(json!({"ok": true})).into_response()
                }
            }),
        )
        .with_state(hits.clone());
    let base = agentwire_tests::serve(router).await;
    let sent = Arc::new(Mutex::new(Vec::new()));
    let seen = sent.clone();
    let rt = Runtime::builder("colony")
        .retry(quick())
        .on_request(move |_| seen.lock().unwrap().push(std::time::Instant::now()))
        .build();
    let http = reqwest::Client::new();
    let resp = send(&rt, &http, reqwest::Method::GET, format!("{base}/once"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 2);
    // A lower bound only: with base_delay 1 ms, only Retry-After explains a 1 s wait.
    let waited = sent[1] - sent[0];
    assert!(waited >= Duration::from_secs(1), "waited {waited:?}");
}

// ── 2. A cap on buffered bodies ───────────────────────────────────────────

const LIMIT: u64 = 1024;
const PROJECT_KEY: &str = "pv_sk_fake_straddle_key_0123456789";

/// A fake Promptev trigger whose agent id picks the answer.
fn promptev_server() -> Router {
    Router::new().route(
        "/api/sdk/v1/agent/{key}/{agent}/trigger",
        post(|Path((_key, agent)): Path<(String, String)>| async move {
            let big = "x".repeat(4 * LIMIT as usize);
            let chunked = |status: StatusCode| {
                let chunks = (0..8).map(|_| Ok::<_, std::convert::Infallible>("y".repeat(512)));
                let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
                *r.status_mut() = status;
                r
            };
            match agent.as_str() {
                "fits" => {
                    let body = json!({"response": "z".repeat(900), "session_id": "s1"}).to_string();
                    assert!(body.len() <= LIMIT as usize);
                    body.into_response()
                }
                "big-length" => (StatusCode::OK, big).into_response(),
                "big-chunked" => chunked(StatusCode::OK),
                "big-error" => chunked(StatusCode::INTERNAL_SERVER_ERROR),
                "big-error-length" => (StatusCode::BAD_GATEWAY, big).into_response(),
                "straddle" => {
                    // The project key starts 7 bytes before the excerpt's
                    // 512-byte cut; `response` has the wrong type.
                    let pad = "p".repeat(512 - 7 - 8 - 16);
                    let body =
                        format!(r#"{{"pad":"{pad}","session_id":"{PROJECT_KEY}","response":5}}"#);
                    assert_eq!(body.find(PROJECT_KEY), Some(505));
                    ([("content-type", "application/json")], body).into_response()
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }),
    )
}

async fn trigger(
    transport: &agentwire_promptev_transport::Client,
    agent: &str,
) -> agentwire::Result<agentwire_promptev_transport::types::TriggerResponse> {
    let body: agentwire_promptev_transport::types::TriggerRequest =
        serde_json::from_value(json!({"message": "hi"})).unwrap();
    guard(
        transport
            .trigger_agent()
            .project_key("pv_key")
            .agent_id(agent)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn bodies_over_the_cap_are_a_typed_error_whatever_their_status_or_framing() {
    let base = agentwire_tests::serve(promptev_server()).await;
    let rt = Runtime::builder("promptev")
        .retry(RetryConfig::none())
        .max_body_bytes(LIMIT)
        .build();
    let transport = agentwire_promptev_transport::Client::new_with_client(
        &base,
        reqwest::Client::new(),
        rt.clone(),
    );

    let ok = trigger(&transport, "fits").await.unwrap();
    assert_eq!(ok.session_id, "s1");

    // Announced by Content-Length, or only found out while reading a chunked
    // body; on a success (read by the runtime, decoded by the generated
    // code) and on an error answer (read when mapping it to an error).
    for agent in ["big-length", "big-chunked", "big-error", "big-error-length"] {
        match trigger(&transport, agent).await {
            Err(Error::BodyTooLarge { service, limit }) => {
                assert_eq!((service, limit), ("promptev", LIMIT), "{agent}");
            }
            other => panic!("{agent}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn responses_read_by_hand_are_capped_too() {
    let base = agentwire_tests::serve(promptev_server()).await;
    let rt = Runtime::builder("promptev")
        .retry(RetryConfig::none())
        .max_body_bytes(LIMIT)
        .build();
    let http = reqwest::Client::new();
    // What a facade that sends by hand does with the response.
    for agent in ["big-length", "big-chunked"] {
        let url = format!("{base}/api/sdk/v1/agent/k/{agent}/trigger");
        let resp = send(&rt, &http, reqwest::Method::POST, url).await.unwrap();
        let err = Error::network("promptev", resp.bytes().await.unwrap_err(), rt.redactor());
        assert!(
            matches!(err, Error::BodyTooLarge { limit: LIMIT, .. }),
            "{agent}: {err:?}"
        );
        assert!(!err.is_transient());
    }
}

// ── 3. Redact before truncating ───────────────────────────────────────────

#[tokio::test]
async fn a_key_straddling_the_excerpt_cut_is_masked_whole() {
    let base = agentwire_tests::serve(promptev_server()).await;
    let client = agentwire::promptev::v02::Client::builder(PROJECT_KEY)
        .base_url(&base)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    let err = guard(client.trigger_agent("straddle", "hi"))
        .await
        .unwrap_err();
    let Error::Decode(decode) = &err else {
        panic!("{err:?}")
    };
    assert!(decode.body_excerpt.contains("[REDA"), "{decode:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("pv_sk_f"), "{shown}");
}

// ── 4. A freshly issued key is masked before its body is handed on ────────

const FRESH_KEY: &str = "col_fake_freshly_issued_key_0123456789";

/// A fake Colony whose register, rotate-key and key-recovery answers carry a
/// new key but
/// do not decode: `id` is not a UUID, `message` is not a string, or the body
/// is cut short.
fn issuing_server(rotate_body: &'static str) -> Router {
    Router::new()
        .route(
            "/api/v1/auth/register",
            post(|| async {
                (
                    StatusCode::CREATED,
                    Json(json!({"id": 42, "username": "newbie", "api_key": FRESH_KEY})),
                )
            }),
        )
        .route(
            "/api/v1/auth/token",
            post(|| async { Json(json!({"access_token": "tok_fake_issuing_000000"})) }),
        )
        .route(
            "/api/v1/auth/rotate-key",
            post(move || async move { ([("content-type", "application/json")], rotate_body) }),
        )
        .route(
            "/api/v1/auth/recover-key/confirm",
            post(move || async move { ([("content-type", "application/json")], rotate_body) }),
        )
}

fn assert_key_hidden(err: &Error) {
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(FRESH_KEY), "{shown}");
    assert!(!shown.contains("col_fake_fresh"), "{shown}");
}

#[tokio::test]
async fn a_registration_that_does_not_decode_does_not_show_the_new_key() {
    let base = agentwire_tests::serve(issuing_server("{}")).await;
    let err = guard(Colony::register("newbie", "Newbie").base_url(&base))
        .await
        .unwrap_err();
    assert_key_hidden(&err);
}

#[tokio::test]
async fn a_rotation_that_does_not_decode_does_not_show_the_new_key() {
    for body in [
        r#"{"message": 7, "api_key": "col_fake_freshly_issued_key_0123456789"}"#,
        // Cut short: not JSON at all.
        r#"{"message": "rotated", "api_key": "col_fake_freshly_issued_key_0123456789"#,
    ] {
        let base = agentwire_tests::serve(issuing_server(body)).await;
        let client = Colony::builder("col_fake_old_key_0123456789")
            .base_url(&base)
            .retry(RetryConfig::none())
            .build()
            .unwrap();
        let err = guard(client.rotate_key()).await.unwrap_err();
        assert_key_hidden(&err);
    }
}

#[tokio::test]
async fn a_recovered_key_is_masked_before_its_answer_decodes() {
    for (body, decodes) in [
        (
            r#"{"message": 7, "api_key": "col_fake_freshly_issued_key_0123456789"}"#,
            false,
        ),
        // Cut short: not JSON at all.
        (
            r#"{"message": "ok", "api_key": "col_fake_freshly_issued_key_0123456789"#,
            false,
        ),
        // The key is the answer, and nothing prints it.
        (
            r#"{"message": "ok", "api_key": "col_fake_freshly_issued_key_0123456789"}"#,
            true,
        ),
    ] {
        let base = agentwire_tests::serve(issuing_server(body)).await;
        let client = Colony::builder("col_fake_lost_key_0123456789")
            .base_url(&base)
            .retry(RetryConfig::none())
            .build()
            .unwrap();
        let recovered = guard(client.confirm_key_recovery("rk_fake_recovery_token")).await;
        assert_eq!(recovered.is_ok(), decodes, "{body}");
        match recovered {
            Err(err) => assert_key_hidden(&err),
            Ok(key) => {
                assert_eq!(key.expose_secret(), FRESH_KEY);
                let shown = format!("{key:?} {client:?}");
                assert!(!shown.contains("col_fake_fresh"), "{shown}");
            }
        }
    }
}

// ── 5. An overall deadline ────────────────────────────────────────────────

#[tokio::test]
async fn the_deadline_ends_retries_with_the_last_answer() {
    let hits = Hits::default();
    let router = Router::new()
        .route(
            "/busy",
            get(|State(h): State<Hits>| async move {
                h.add();
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"detail": "busy"})),
                )
            }),
        )
        .with_state(hits.clone());
    let base = agentwire_tests::serve(router).await;
    let http = reqwest::Client::new();

    // Default policy: the first retry would wait 0.5–1 s, past the deadline.
    let rt = Runtime::builder("colony")
        .deadline(Duration::from_millis(300))
        .build();
    let resp = send(&rt, &http, reqwest::Method::GET, format!("{base}/busy"))
        .await
        .unwrap();
    let err = rt.error_from_response(resp).await;
    assert!(
        matches!(err, Error::Server(ref e) if e.status == 503),
        "{err:?}"
    );
    assert_eq!(hits.get(), 1, "no retry that would end past the deadline");

    // Retries that fit are still made.
    let rt = Runtime::builder("colony")
        .retry(quick())
        .deadline(Duration::from_secs(30))
        .build();
    send(&rt, &http, reqwest::Method::GET, format!("{base}/busy"))
        .await
        .unwrap();
    assert_eq!(hits.get(), 4, "1 + 3 attempts");
}

/// A server whose `/hang` never answers, and the requests it saw.
async fn hanging_server() -> (String, Hits) {
    let hits = Hits::default();
    let router = Router::new()
        .route(
            "/hang",
            get(|State(h): State<Hits>| async move {
                h.add();
                std::future::pending::<()>().await;
            }),
        )
        .with_state(hits.clone());
    let base = agentwire_tests::serve(router).await;
    (base, hits)
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_deadline() {
    let (base, hits) = hanging_server().await;
    let http = reqwest::Client::new();
    let rt = Runtime::builder("colony")
        .retry(quick())
        .timeout(Duration::from_secs(60))
        .deadline(Duration::from_millis(300))
        .build();
    let err = send(&rt, &http, reqwest::Method::GET, format!("{base}/hang"))
        .await
        .unwrap_err();
    match err {
        Error::Network(n) => assert_eq!(n.kind, NetworkErrorKind::Timeout),
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.get(), 1, "no attempt after the deadline");
}

#[tokio::test]
async fn a_timeout_the_client_applies_is_not_set_again_but_a_nearer_deadline_is() {
    let (base, hits) = hanging_server().await;
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let unbounded = reqwest::Client::new();
    let cases = [
        // The runtime is told the client applies its 60 s itself, so it
        // leaves the request alone: the client's real, shorter limit
        // (200 ms) is what ends the attempt. Had the runtime set 60 s on the
        // request, that would override the client's and the guard (20 s)
        // would fail the test.
        (&short, Duration::from_secs(60), None),
        // A deadline nearer than the client's timeout is still set on the
        // request: this client has none at all, so only the runtime can end
        // it.
        (
            &unbounded,
            Duration::from_secs(60),
            Some(Duration::from_millis(300)),
        ),
        // So is a per-attempt timeout other than the client's.
        (&unbounded, Duration::from_millis(300), None),
    ];
    for (http, timeout, deadline) in cases {
        let mut rt = Runtime::builder("colony")
            .retry(RetryConfig::none())
            .timeout(timeout)
            .client_timeout(Duration::from_secs(60));
        if let Some(d) = deadline {
            rt = rt.deadline(d);
        }
        let err = send(
            &rt.build(),
            http,
            reqwest::Method::GET,
            format!("{base}/hang"),
        )
        .await
        .unwrap_err();
        match err {
            Error::Network(n) => assert_eq!(n.kind, NetworkErrorKind::Timeout),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(hits.get(), 3);
}

// ── 6. Default headers ────────────────────────────────────────────────────

#[tokio::test]
async fn default_headers_are_added_when_absent_even_with_a_plain_client() {
    let router = Router::new().route(
        "/echo",
        get(|headers: HeaderMap| async move {
            let all = |name: &str| -> Vec<String> {
                headers
                    .get_all(name)
                    .iter()
                    .map(|v| v.to_str().unwrap_or("?").to_owned())
                    .collect()
            };
            Json(json!({
                "ua": all("user-agent"),
                "team": all("x-team"),
                "multi": all("x-multi"),
            }))
        }),
    );
    let base = agentwire_tests::serve(router).await;
    let mut defaults = reqwest::header::HeaderMap::new();
    defaults.insert("user-agent", HeaderValue::from_static("agentwire/test"));
    defaults.insert("x-team", HeaderValue::from_static("research"));
    defaults.append("x-multi", HeaderValue::from_static("a"));
    defaults.append("x-multi", HeaderValue::from_static("b"));
    let rt = Runtime::builder("mycel").default_headers(defaults).build();
    // A caller-supplied client, built without any of them.
    let http = reqwest::Client::new();

    let seen: Value = send(&rt, &http, reqwest::Method::GET, format!("{base}/echo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!({"ua": ["agentwire/test"], "team": ["research"], "multi": ["a", "b"]})
    );

    // A header the request carries already is left alone.
    let req = http
        .get(format!("{base}/echo"))
        .header("x-team", "other")
        .build()
        .unwrap();
    let seen: Value = guard(rt.execute(&http, req, "op"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["team"], json!(["other"]));
    assert_eq!(seen["ua"], json!(["agentwire/test"]));
}

// ── 7. Writes are retried only as the service deduplicates them ───────────

#[derive(Clone, Default)]
struct Writes {
    keys: Arc<Mutex<Vec<String>>>,
    fail_first: Arc<AtomicU64>,
}

fn write_server(w: Writes) -> Router {
    async fn record(State(w): State<Writes>, headers: HeaderMap) -> Response {
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        w.keys.lock().unwrap().push(key);
        let left = w.fail_first.load(Ordering::SeqCst);
        if left > 0 {
            w.fail_first.store(left - 1, Ordering::SeqCst);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"detail": "busy"})),
            )
                .into_response();
        }
        (StatusCode::CREATED, Json(json!({"id": "p1"}))).into_response()
    }
    Router::new()
        .route("/posts", post(record).put(record).delete(record))
        .with_state(w)
}

#[tokio::test]
async fn only_authenticated_writes_get_a_key_and_are_retried() {
    let writes = Writes::default();
    let base = agentwire_tests::serve(write_server(writes.clone())).await;
    let http = reqwest::Client::new();

    // No credentials (registering an account): a key would do nothing.
    let anonymous = Runtime::builder("colony")
        .idempotency(Idempotency::AddKeyToWrites)
        .retry(quick())
        .build();
    writes.fail_first.store(1, Ordering::SeqCst);
    let resp = send(
        &anonymous,
        &http,
        reqwest::Method::POST,
        format!("{base}/posts"),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503, "sent once");
    assert_eq!(*writes.keys.lock().unwrap(), [""], "without a key");

    // With credentials: one key for all attempts, on POST, PUT and DELETE.
    let authenticated = Runtime::builder("colony")
        .auth(Arc::new(BearerToken::new("tok_fake_writer_0123456")))
        .idempotency(Idempotency::AddKeyToWrites)
        .retry(quick())
        .build();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        writes.keys.lock().unwrap().clear();
        writes.fail_first.store(2, Ordering::SeqCst);
        let resp = send(
            &authenticated,
            &http,
            method.clone(),
            format!("{base}/posts"),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 201, "{method}");
        let keys = writes.keys.lock().unwrap().clone();
        assert_eq!(keys.len(), 3, "{method}: {keys:?}");
        assert!(
            !keys[0].is_empty() && keys.iter().all(|k| k == &keys[0]),
            "{method}: {keys:?}"
        );
    }
}

#[tokio::test]
async fn unkeyed_writes_are_retried_only_when_nothing_was_sent() {
    let attempts = Arc::new(AtomicU64::new(0));
    let seen = attempts.clone();
    let rt = Runtime::builder("promptev")
        .retry(quick())
        .on_request(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build();
    let http = reqwest::Client::new();
    let url = format!("{}/posts", agentwire_tests::closed_port_url().await);
    let err = send(&rt, &http, reqwest::Method::POST, url)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Network(n) if n.kind == NetworkErrorKind::Connect),
        "{err:?}"
    );
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "a refused connection sent nothing: retried"
    );
}

#[tokio::test]
async fn promptev_posts_are_not_retried_once_sent() {
    let sb = Sandbox::start().await.unwrap();
    let client = agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(sb.base_url())
        .retry(agentwire::promptev::v02::default_retry().with_base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();

    // The agent may have run before the connection dropped.
    let before = sb.request_count();
    sb.faults().drop_next(1);
    let err = guard(client.trigger_agent("echo-agent", "hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(sb.request_count() - before, 1);

    let before = sb.request_count();
    sb.faults().fail_next(1, 504);
    let err = guard(client.trigger_agent("echo-agent", "hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Server(ref e) if e.status == 504),
        "{err:?}"
    );
    assert_eq!(sb.request_count() - before, 1);
}

async fn spam_setup() -> (Sandbox, Colony) {
    let sb = Sandbox::start().await.unwrap();
    let colony = |key: String| {
        Colony::builder(key)
            .base_url(sb.base_url())
            .retry(quick())
            .build()
            .unwrap()
    };
    let alice = colony(sb.colony().register("alice"));
    let bob = colony(sb.colony().register("bob"));
    guard(alice.send_message("bob", "buy my course"))
        .await
        .unwrap();
    // Bob's token is fetched now, so the faults below hit the report itself.
    guard(bob.get_unread_count()).await.unwrap();
    (sb, bob)
}

#[tokio::test]
async fn a_replay_of_agentwires_own_retry_is_not_reported_as_already_marked() {
    // The first report is filed, then its answer is lost (cut mid-body, or
    // never written); the retry under the same key gets the service's replay.
    for lose_answer in [
        (|sb: &Sandbox| sb.faults().truncate_next(1)) as fn(&Sandbox),
        |sb: &Sandbox| sb.faults().drop_answer_next(1),
    ] {
        let (sb, bob) = spam_setup().await;
        let before = sb.request_count();
        lose_answer(&sb);
        let first = guard(bob.mark_conversation_spam("alice")).await.unwrap();
        assert_eq!(sb.request_count() - before, 2, "sent twice");
        assert!(!first.replayed, "this call filed the report");
        assert!(first.flag.spam_reported_at.is_some());

        // A real repeat is still reported as one.
        let again = guard(bob.mark_conversation_spam("alice")).await.unwrap();
        assert!(again.replayed);
        assert_eq!(again.flag.report_id, first.flag.report_id);
    }
}

#[tokio::test]
async fn an_earlier_report_replayed_after_a_lost_answer_is_still_a_repeat() {
    let (sb, bob) = spam_setup().await;
    let first = guard(bob.mark_conversation_spam("alice")).await.unwrap();
    assert!(!first.replayed);
    // Already marked; this call's first answer is lost and its retry replayed.
    sb.faults().drop_answer_next(1);
    let again = guard(bob.mark_conversation_spam("alice")).await.unwrap();
    assert!(again.replayed);
}

// ── The operation's span ──────────────────────────────────────────────────

/// What a subscriber prints, kept for the test to read.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Printed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_span_of_an_operation_records_its_attempts_and_status_once() {
    let printed = Printed::default();
    let writer = printed.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "agentwire_runtime=debug",
        ))
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // This test's thread only: the runtime is the test's current-thread one.
    let _default = tracing::subscriber::set_default(subscriber);

    let hits = Hits::default();
    let seen = hits.clone();
    let app = Router::new()
        .route("/steady", get(|| async { "ok" }))
        .route(
            "/flaky",
            get(move || {
                let n = seen.add();
                async move {
                    if n <= 2 {
                        StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        "ok".into_response()
                    }
                }
            }),
        );
    let base = agentwire_tests::serve(app).await;
    let rt = Runtime::builder("colony").retry(quick()).build();
    let http = reqwest::Client::new();
    for path in ["steady", "flaky"] {
        let r = send(&rt, &http, reqwest::Method::GET, format!("{base}/{path}")).await;
        assert_eq!(r.expect(path).status(), 200, "{path}");
    }
    assert_eq!(hits.get(), 3, "the flaky route was tried three times");

    let out = String::from_utf8(printed.0.lock().unwrap().clone()).unwrap();
    let closed: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("agentwire.operation") && l.contains("close"))
        .collect();
    assert_eq!(closed.len(), 2, "one span a call:\n{out}");
    for (line, attempts) in closed.iter().zip(["attempts=1", "attempts=3"]) {
        assert!(line.contains(attempts), "{attempts} in {line}");
        assert_eq!(
            line.matches("attempts=").count(),
            1,
            "recorded once: {line}"
        );
        assert!(line.contains("status=200"), "{line}");
        assert!(
            line.contains("operation=\"op\"") || line.contains("operation=op"),
            "{line}"
        );
    }
}
