//! Secrets never reach output: everything printed at TRACE level (agentwire,
//! reqwest, hyper, and `log` records bridged to tracing), every error's
//! `Display` and `Debug`, and every client's `Debug`, across successes,
//! retries, errors, streams and token refreshes, is searched for the project
//! key, the API key and the issued token.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire::promptev::v02::Client;
use agentwire::RetryConfig;
use agentwire_runtime::{Runtime, TokenExchange};
use agentwire_sandbox::Sandbox;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::json;

const PROJECT_KEY: &str = "pv_sk_leakcheck_4f9a2b7c";
const WRONG_KEY: &str = "pv_sk_wrongkey_8d1e3f6a";
const API_KEY: &str = "col_leakcheck_apikey_5e7d9c";
const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrY2hlY2sifQ.c2lnbmF0dXJlbGVha2NoZWNr";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        // Everything at TRACE except the sandbox itself: it plays the
        // service, which legitimately sees the key in the paths it serves.
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,agentwire_sandbox=off",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");
    tracing::info!("capture works");

    let mut printed = Vec::<String>::new();
    let mut print = |what: &dyn std::fmt::Debug, text: String| {
        printed.push(format!("{what:?}"));
        printed.push(text);
    };

    // Promptev: the key is in every URL path.
    let sb = Sandbox::builder()
        .project_key(PROJECT_KEY)
        .start()
        .await
        .unwrap();
    let client = Client::builder(PROJECT_KEY)
        .base_url(sb.base_url())
        .retry(agentwire::promptev::v02::default_retry().with_base_delay(Duration::from_millis(1)))
        .on_request(|i| tracing::info!(url = %i.url, "hook saw request"))
        .build()
        .unwrap();
    print(&client, String::new());

    let ok = client.trigger_agent("echo-agent", "hello").await.unwrap();
    print(&ok, ok.response.clone());
    // A trigger is not retried (the agent may have run): a 503 is the answer.
    sb.faults().fail_next(1, 503);
    let err = client
        .trigger_agent("echo-agent", "not retried")
        .await
        .unwrap_err();
    print(&err, err.to_string());
    let session = client.start_agent("echo-agent").await.unwrap();
    print(&session, session.session_token.clone());
    let events: Vec<_> = client
        .stream_agent(
            &session.agent_id,
            &session.session_token,
            "stream [approval]",
        )
        .collect()
        .await;
    print(&events, String::new());

    let strict = Client::builder(PROJECT_KEY)
        .base_url(sb.base_url())
        .retry(RetryConfig::none())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    for fault in 0..5 {
        match fault {
            0 => sb.faults().fail_next(1, 500),
            1 => sb.faults().drop_next(1),
            2 => sb.faults().truncate_next(1),
            3 => sb.faults().set_latency(Duration::from_millis(300)),
            _ => sb.faults().fail_next_with_retry_after(1, 429, 3),
        }
        let err = strict
            .trigger_agent("echo-agent", "fault")
            .await
            .unwrap_err();
        print(&err, err.to_string());
        sb.faults().clear();
    }
    let err = strict
        .trigger_agent("missing-agent", "x")
        .await
        .unwrap_err();
    print(&err, err.to_string());
    let mut s = strict.stream_agent("echo-agent", "st_nope", "x");
    let err = s.next().await.unwrap().unwrap_err();
    print(&err, err.to_string());

    let wrong = Client::builder(WRONG_KEY)
        .base_url(sb.base_url())
        .build()
        .unwrap();
    let err = wrong.trigger_agent("echo-agent", "x").await.unwrap_err();
    print(&err, err.to_string());
    let nowhere = Client::builder(PROJECT_KEY)
        .base_url(agentwire_tests::closed_port_url().await)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    let err = nowhere.trigger_agent("echo-agent", "x").await.unwrap_err();
    print(&err, err.to_string());

    // Token exchange: an API key traded for a JWT, refreshed on a 401.
    let refused = Arc::new(Mutex::new(true));
    let r = refused.clone();
    let app = Router::new()
        .route(
            "/auth/token",
            post(|| async { Json(json!({"access_token": JWT})) }),
        )
        .route(
            "/me",
            get(move |headers: HeaderMap| {
                let first = std::mem::replace(&mut *r.lock().unwrap(), false);
                async move {
                    let ok = headers
                        .get("authorization")
                        .is_some_and(|v| v == &format!("Bearer {JWT}")[..]);
                    if first || !ok {
                        (
                            StatusCode::UNAUTHORIZED,
                            Json(json!({"detail": "token expired"})),
                        )
                    } else {
                        (StatusCode::OK, Json(json!({"ok": true})))
                    }
                }
            }),
        );
    let base = agentwire_tests::serve(app).await;
    let auth = Arc::new(TokenExchange::new(
        API_KEY,
        format!("{base}/auth/token").parse().unwrap(),
    ));
    let rt = Runtime::builder("colony").auth(auth.clone()).build();
    print(&rt, format!("{auth:?}"));
    let http = reqwest::Client::new();
    let req = http.get(format!("{base}/me")).build().unwrap();
    let resp = rt.execute(&http, req, "get_me").await.unwrap();
    assert_eq!(resp.status(), 200, "refreshed once after the 401");
    print(&resp.headers(), String::new());

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("capture works"),
        "the subscriber captured nothing"
    );
    assert!(
        logs.contains("agentwire.operation"),
        "agentwire spans were captured"
    );
    assert!(logs.contains("hook saw request"));
    let everything = format!("{logs}\n{}", printed.join("\n"));
    for secret in [
        PROJECT_KEY,
        WRONG_KEY,
        API_KEY,
        JWT,
        "eyJzdWIiOiJsZWFrY2hlY2sifQ",
    ] {
        let hits: Vec<&str> = everything
            .lines()
            .filter(|l| l.contains(secret))
            .take(3)
            .collect();
        assert!(hits.is_empty(), "{secret} leaked:\n{}", hits.join("\n"));
    }
}
