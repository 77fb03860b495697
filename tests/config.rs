//! Client configuration as users expect it: clients from the environment,
//! proxies (the inbox WebSocket included), and settings that cannot apply
//! together refused instead of silently ignored.

use std::sync::Mutex;
use std::time::Duration;

use agentwire::{colony, mycel, promptev, Error};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;

/// The environment is one per process: tests that change it take turns.
static ENV: Mutex<()> = Mutex::new(());

/// Runs `f` with `vars` set (or removed, for `None`), then restores them.
fn with_env<T>(vars: &[(&str, Option<&str>)], f: impl FnOnce() -> T) -> T {
    let _guard = ENV.lock().unwrap_or_else(|p| p.into_inner());
    let saved: Vec<(String, Option<String>)> = vars
        .iter()
        .map(|(k, _)| (k.to_string(), std::env::var(k).ok()))
        .collect();
    for (k, v) in vars {
        match v {
            Some(v) => std::env::set_var(k, v),
            None => std::env::remove_var(k),
        }
    }
    let out = f();
    for (k, v) in saved {
        match v {
            Some(v) => std::env::set_var(&k, v),
            None => std::env::remove_var(&k),
        }
    }
    out
}

fn config_message(r: agentwire::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(Error::Config(m)) => m,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn colony_from_env_reads_key_and_base_url_and_names_a_missing_key() {
    let missing = with_env(
        &[("COLONY_API_KEY", None), ("COLONY_BASE_URL", None)],
        colony::Client::from_env,
    );
    assert!(config_message(missing).contains("COLONY_API_KEY"));

    // Blank is unset.
    let blank = with_env(&[("COLONY_API_KEY", Some("  "))], colony::Client::from_env);
    assert!(config_message(blank).contains("COLONY_API_KEY"));

    let default = with_env(
        &[
            ("COLONY_API_KEY", Some("col_fake_env_key_0001")),
            ("COLONY_BASE_URL", None),
        ],
        colony::Client::from_env,
    )
    .unwrap();
    assert_eq!(default.base_url(), "https://thecolony.ai");
    assert_eq!(colony::DEFAULT_BASE_URL, "https://thecolony.ai");

    let custom = with_env(
        &[
            ("COLONY_API_KEY", Some("col_fake_env_key_0001")),
            ("COLONY_BASE_URL", Some("http://127.0.0.1:9/api/v1")),
        ],
        colony::Client::from_env,
    )
    .unwrap();
    assert_eq!(custom.base_url(), "http://127.0.0.1:9");
    // The key never shows.
    assert!(!format!("{custom:?}").contains("col_fake_env_key_0001"));

    let bad = with_env(
        &[
            ("COLONY_API_KEY", Some("col_fake_env_key_0001")),
            ("COLONY_BASE_URL", Some("thecolony.ai")),
        ],
        colony::Client::from_env,
    );
    assert!(config_message(bad).contains("base URL"));
}

#[test]
fn mycel_from_env_needs_a_base_url_and_takes_token_and_proxy() {
    let missing = with_env(
        &[("MYCEL_BASE_URL", None), ("MYCEL_TOKEN", None)],
        mycel::Client::from_env,
    );
    assert!(config_message(missing).contains("MYCEL_BASE_URL"));

    let anonymous = with_env(
        &[
            ("MYCEL_BASE_URL", Some("http://127.0.0.1:8017")),
            ("MYCEL_TOKEN", None),
            ("MYCEL_PROXY", None),
        ],
        mycel::Client::from_env,
    )
    .unwrap();
    assert!(!anonymous.has_token());
    assert_eq!(anonymous.base_url(), "http://127.0.0.1:8017");

    let with_token = with_env(
        &[
            ("MYCEL_BASE_URL", Some("http://127.0.0.1:8017")),
            ("MYCEL_TOKEN", Some("mycel-fake-env-token")),
            ("MYCEL_PROXY", Some("http://127.0.0.1:3128")),
        ],
        mycel::Client::from_env,
    )
    .unwrap();
    assert!(with_token.has_token());

    let bad_proxy = with_env(
        &[
            ("MYCEL_BASE_URL", Some("http://127.0.0.1:8017")),
            ("MYCEL_PROXY", Some("socks9://user:hunter22secret@proxy")),
        ],
        mycel::Client::from_env,
    );
    let message = config_message(bad_proxy);
    assert!(message.contains("proxy"), "{message}");
    assert!(!message.contains("hunter22secret"), "{message}");
}

#[test]
fn promptev_from_env_reads_the_project_key() {
    let missing = with_env(
        &[("PROMPTEV_PROJECT_KEY", None)],
        promptev::v02::Client::from_env,
    );
    assert!(config_message(missing).contains("PROMPTEV_PROJECT_KEY"));

    let client = with_env(
        &[
            ("PROMPTEV_PROJECT_KEY", Some("pv_sk_fake_env_key_01")),
            ("PROMPTEV_BASE_URL", Some("http://127.0.0.1:9/")),
        ],
        promptev::v02::Client::from_env,
    )
    .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:9");
}

#[test]
fn promptev_current_client_from_env_reads_the_api_key() {
    let missing = with_env(
        &[("PROMPTEV_API_KEY", None), ("PROMPTEV_PROJECT_KEY", None)],
        promptev::Client::from_env,
    );
    let message = config_message(missing);
    assert!(message.contains("PROMPTEV_API_KEY"), "{message}");
    // The 0.2 product's variable is not read by the current client.
    let other_product = with_env(
        &[
            ("PROMPTEV_API_KEY", None),
            ("PROMPTEV_PROJECT_KEY", Some("pv_sk_fake_env_key_01")),
        ],
        promptev::Client::from_env,
    );
    assert!(config_message(other_product).contains("PROMPTEV_API_KEY"));

    let client = with_env(
        &[
            ("PROMPTEV_API_KEY", Some("fk_fake_env_key_0123456789")),
            ("PROMPTEV_BASE_URL", Some("http://127.0.0.1:9/")),
        ],
        promptev::Client::from_env,
    )
    .unwrap();
    assert_eq!(client.base_url(), "http://127.0.0.1:9");
    assert!(!format!("{client:?}").contains("fk_fake_env_key_0123456789"));
}

/// A host that resolves nowhere: a call can only succeed through the proxy.
const UNREACHABLE: &str = "http://service.invalid";

#[tokio::test]
async fn every_service_goes_through_the_configured_proxy() {
    // The sandbox answers absolute-form requests as a forwarding proxy
    // would: it routes on the path whatever the host.
    let sb = Sandbox::start().await.unwrap();

    let key = sb.colony().register("proxied");
    let colony = colony::Client::builder(key)
        .base_url(UNREACHABLE)
        .proxy(sb.base_url())
        .build()
        .unwrap();
    colony.create_post("Through a proxy", "body").await.unwrap();
    assert_eq!(colony.get_posts().await.unwrap().items.len(), 1);

    let promptev = promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(UNREACHABLE)
        .proxy(sb.base_url())
        .build()
        .unwrap();
    let reply = promptev.trigger_agent("echo-agent", "hi").await.unwrap();
    assert_eq!(reply.response, "[Echo] hi");

    // Without the proxy, the same client cannot get anywhere.
    let direct = promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(UNREACHABLE)
        .no_proxy()
        .retry(agentwire::RetryConfig::none())
        .build()
        .unwrap();
    assert!(matches!(
        direct.trigger_agent("echo-agent", "hi").await,
        Err(Error::Network(_))
    ));
}

#[tokio::test]
async fn the_mycel_inbox_websocket_goes_through_the_proxy() {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb.mycel().register_owner("proxy@example.com", "pw-proxy");
    let agent = sb.mycel().create_external(&owner.id, "proxied", "proxied");
    let client = mycel::Client::builder(UNREACHABLE)
        .token(&agent.token)
        .proxy(sb.base_url())
        .build()
        .unwrap();
    sb.mycel().push_notifications(&agent.id, 2);
    let mut inbox = client.notifications().stream(Some(0)).into_stream();
    let mut seqs = Vec::new();
    while seqs.len() < 2 {
        let n = tokio::time::timeout(Duration::from_secs(10), inbox.next())
            .await
            .expect("a frame through the proxy")
            .expect("the stream stays open")
            .unwrap();
        seqs.push(n.seq);
    }
    assert_eq!(seqs, [1, 2]);
}

#[test]
fn settings_a_supplied_http_client_cannot_take_are_refused() {
    let supplied = reqwest::Client::new();
    let proxy = promptev::v02::Client::builder("pv_sk_fake_key_0001")
        .http_client(supplied.clone())
        .proxy("http://127.0.0.1:3128")
        .build();
    assert!(config_message(proxy).contains("proxy"));
    let connect = colony::Client::builder("col_fake_key_0001")
        .http_client(supplied)
        .connect_timeout(Duration::from_secs(1))
        .build();
    assert!(config_message(connect).contains("connect_timeout"));
}

/// Records the headers of every request and answers 404.
async fn header_recorder() -> (String, std::sync::Arc<Mutex<Vec<axum::http::HeaderMap>>>) {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    let router = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let store = store.clone();
        async move {
            store.lock().unwrap().push(headers);
            (
                axum::http::StatusCode::NOT_FOUND,
                "{\"detail\":\"Not Found\"}",
            )
        }
    });
    (agentwire_tests::serve(router).await, seen)
}

#[tokio::test]
async fn a_supplied_http_client_still_sends_the_configured_headers_and_user_agent() {
    let (url, seen) = header_recorder().await;
    let client = promptev::v02::Client::builder("pv_sk_fake_key_0001")
        .base_url(&url)
        .http_client(reqwest::Client::new())
        .header("X-Team", "research")
        .build()
        .unwrap();
    assert!(matches!(
        client.trigger_agent("echo-agent", "hi").await,
        Err(Error::NotFound(_))
    ));
    let colony = colony::Client::builder("col_fake_key_0001")
        .base_url(&url)
        .http_client(reqwest::Client::new())
        .header("X-Team", "research")
        .no_token_cache()
        .build()
        .unwrap();
    // The token exchange is refused (404): the call ends there.
    assert!(colony.get_posts().await.is_err());
    let seen = seen.lock().unwrap();
    // Promptev's call, then The Colony's token exchange (made by the auth
    // strategy, outside the operation itself): both carry them.
    assert_eq!(seen.len(), 2);
    for headers in seen.iter() {
        assert_eq!(headers["x-team"], "research");
        let agent = headers["user-agent"].to_str().unwrap();
        assert!(agent.starts_with("agentwire/"), "{headers:?}");
        assert_eq!(headers.get_all("user-agent").iter().count(), 1);
    }
    assert!(seen[1]["user-agent"]
        .to_str()
        .unwrap()
        .ends_with("(colony)"));
}

#[tokio::test]
async fn a_token_answer_past_max_body_bytes_is_refused() {
    let router = axum::Router::new().route(
        "/api/v1/auth/token",
        axum::routing::post(|| async {
            let padding = "x".repeat(8192);
            axum::Json(serde_json::json!({ "access_token": "tok", "padding": padding }))
        }),
    );
    let url = agentwire_tests::serve(router).await;
    let client = colony::Client::builder("col_fake_key_0001")
        .base_url(&url)
        .max_body_bytes(1024)
        .no_token_cache()
        .build()
        .unwrap();
    match client.get_posts().await {
        Err(Error::BodyTooLarge { limit, .. }) => assert_eq!(limit, 1024),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    match client.refresh_token().await {
        Err(Error::BodyTooLarge { limit, .. }) => assert_eq!(limit, 1024),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn the_deadline_bounds_a_call_across_its_retries() {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb
        .mycel()
        .register_owner("deadline@example.com", "pw-deadline");
    let slow_retries = || {
        agentwire::RetryConfig::default()
            .with_max_retries(3)
            .with_base_delay(Duration::from_millis(400))
            .with_max_delay(Duration::from_millis(400))
            .with_retry_on([503])
    };
    // Without a deadline the read is retried until the failures run out.
    sb.faults().fail_next(3, 503);
    let patient = mycel::Client::builder(sb.base_url())
        .token(&owner.token)
        .retry(slow_retries())
        .build()
        .unwrap();
    patient.chats().list().await.unwrap();
    assert_eq!(sb.request_count(), 4);

    // A deadline shorter than one backoff leaves room for no retry.
    sb.faults().fail_next(3, 503);
    let hurried = mycel::Client::builder(sb.base_url())
        .token(&owner.token)
        .retry(slow_retries())
        .deadline(Duration::from_millis(150))
        .build()
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(20), hurried.chats().list())
        .await
        .expect("the deadline ends the call");
    assert!(matches!(outcome, Err(Error::Server(_))), "{outcome:?}");
    assert_eq!(sb.request_count(), 5);
}

#[tokio::test]
async fn max_body_bytes_refuses_a_longer_answer() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("reader");
    sb.colony().seed_posts("reader", "general", 20);
    let client = colony::Client::builder(key)
        .base_url(sb.base_url())
        .max_body_bytes(512)
        .build()
        .unwrap();
    match client.get_posts().await {
        Err(Error::BodyTooLarge { limit, .. }) => assert_eq!(limit, 512),
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_timeout_bounds_a_handshake_that_never_ends() {
    // Accepts TCP connections and then says nothing: the TLS handshake
    // hangs, and only the connect timeout can end it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = std::sync::Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let client = promptev::v02::Client::builder("pv_sk_fake_key_0001")
        .base_url(format!("https://{addr}"))
        .retry(agentwire::RetryConfig::none())
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        client.trigger_agent("echo-agent", "hi"),
    )
    .await
    .expect("the connect timeout fires long before the attempt timeout");
    match outcome {
        Err(Error::Network(e)) => assert!(
            matches!(
                e.kind,
                agentwire::NetworkErrorKind::Connect | agentwire::NetworkErrorKind::Timeout
            ),
            "{e:?}"
        ),
        other => panic!("expected a network error, got {other:?}"),
    }
    assert_eq!(held.lock().unwrap().len(), 1);
}

/// Every client builder speaks the same vocabulary (retry, cache, circuit
/// breaker, timeouts, hooks, headers, body cap), and each option works: here
/// the GET cache, which once existed on The Colony only, on Mycel too.
#[tokio::test]
async fn every_builder_takes_the_same_options_and_mycel_caches_too() {
    use agentwire::{CircuitBreakerConfig, RetryConfig};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    let sb = Sandbox::start().await.unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    macro_rules! common {
        ($builder:expr) => {{
            let seen = seen.clone();
            $builder
                .retry(RetryConfig::none())
                .cache(Duration::from_secs(60))
                .circuit_breaker(CircuitBreakerConfig::new(5))
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(5))
                .deadline(Duration::from_secs(10))
                .header("X-Team", "research")
                .max_body_bytes(1 << 20)
                .on_request(move |_| {
                    seen.fetch_add(1, Ordering::SeqCst);
                })
        }};
    }
    let key = sb.colony().register("shape");
    let colony = common!(colony::Client::builder(key)
        .base_url(sb.base_url())
        .no_token_cache())
    .build()
    .unwrap();
    let owner = sb.mycel().register_owner("shape@example.com", "pw");
    let mycel = common!(mycel::Client::builder(sb.base_url()).token(&owner.token))
        .build()
        .unwrap();
    let promptev = common!(
        promptev::v02::Client::builder(sb.promptev().project_key().to_string())
            .base_url(sb.base_url())
    )
    .build()
    .unwrap();

    colony.get_posts().limit(1).await.unwrap();
    promptev.trigger_agent("echo-agent", "hi").await.unwrap();
    let first = mycel.me().whoami().await.unwrap();
    let before = sb.request_count();
    let again = mycel.me().whoami().await.unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(
        sb.request_count(),
        before,
        "the second read came from the cache"
    );
    mycel.clear_cache();
    mycel.me().whoami().await.unwrap();
    assert_eq!(
        sb.request_count(),
        before + 1,
        "cleared, it is fetched again"
    );
    assert!(
        seen.load(Ordering::SeqCst) >= 4,
        "the hooks ran for every client"
    );
}

#[tokio::test]
async fn no_request_carries_an_api_version_header() {
    // progenitor adds `api-version` (the document's version) to every
    // request; no service reads it and none of their own clients sends it.
    let (url, seen) = header_recorder().await;
    let mycel = mycel::Client::builder(&url)
        .token("mycel-token")
        .retry(agentwire::RetryConfig::none())
        .build()
        .unwrap();
    assert!(matches!(mycel.me().whoami().await, Err(Error::NotFound(_))));
    let promptev = promptev::Client::builder("pv_sk_fake_key_0001")
        .base_url(&url)
        .max_retries(0)
        .build()
        .unwrap();
    // A generated operation, then one built by hand (multipart).
    assert!(promptev.get_run("run-1").await.is_err());
    assert!(promptev
        .upload_document(promptev::FileUpload::new("a.md", "text"))
        .await
        .is_err());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for headers in seen.iter() {
        assert!(headers.contains_key("user-agent"), "{headers:?}");
        assert!(!headers.contains_key("api-version"), "{headers:?}");
    }
}
