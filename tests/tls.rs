//! Every service over HTTPS (and the Mycel inbox over `wss://`) against the
//! sandbox serving TLS with a certificate signed by a throw-away CA, trusted
//! only through the public builder option `add_root_certificate`.

use std::time::Duration;

use agentwire::mycel::ChatKind;
use agentwire::promptev::v02::AgentEventKind;
use agentwire::{Error, NetworkErrorKind, RetryConfig};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;

async fn tls_sandbox() -> Sandbox {
    let sb = Sandbox::builder().tls(true).start().await.unwrap();
    assert!(sb.base_url().starts_with("https://127.0.0.1:"), "{sb:?}");
    sb
}

fn ca(sb: &Sandbox) -> &str {
    sb.ca_certificate_pem().expect("a TLS sandbox has a CA")
}

fn quick_retry() -> RetryConfig {
    RetryConfig::default()
        .with_base_delay(Duration::from_millis(2))
        .with_max_delay(Duration::from_millis(10))
}

fn colony(sb: &Sandbox, key: &str) -> agentwire::colony::Client {
    agentwire::colony::Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(quick_retry())
        .add_root_certificate(ca(sb))
        .build()
        .unwrap()
}

fn mycel(sb: &Sandbox, token: &str) -> agentwire::mycel::Client {
    agentwire::mycel::Client::builder(sb.base_url())
        .token(token)
        .retry(quick_retry())
        .add_root_certificate(ca(sb))
        .build()
        .unwrap()
}

fn promptev(sb: &Sandbox) -> agentwire::promptev::v02::Client {
    agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(sb.base_url())
        .retry(quick_retry())
        .add_root_certificate(ca(sb))
        .build()
        .unwrap()
}

/// The scheme is never the problem: a default-built client speaks TLS, and
/// against a server whose CA it does not trust it fails to connect because
/// of the certificate. (Before TLS support this failed with reqwest's
/// "invalid URL, scheme is not http".)
#[tokio::test]
async fn a_default_client_never_refuses_https_and_fails_on_an_untrusted_certificate() {
    let sb = tls_sandbox().await;
    let client = agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(sb.base_url())
        .retry(RetryConfig::none())
        .build()
        .expect("an https base URL builds");
    let err = client.trigger_agent("echo-agent", "hi").await.unwrap_err();
    match &err {
        Error::Network(n) => {
            assert_eq!(n.kind, NetworkErrorKind::Connect, "{err:?}");
            let message = n.message.to_lowercase();
            assert!(message.contains("certificate"), "{err}");
            assert!(!message.contains("scheme"), "{err}");
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert_eq!(sb.request_count(), 0, "nothing got through the handshake");
}

#[tokio::test]
async fn every_service_fails_on_an_untrusted_certificate_and_works_with_the_root_added() {
    let sb = tls_sandbox().await;
    let key = sb.colony().register("alice");
    let untrusted = agentwire::colony::Client::builder(&key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    assert!(
        matches!(untrusted.get_posts().await, Err(Error::Network(ref n)) if n.kind == NetworkErrorKind::Connect),
    );
    colony(&sb, &key).get_posts().await.unwrap();

    let owner = sb.mycel().register_owner("owner@example.com", "pw-owner");
    let untrusted = agentwire::mycel::Client::builder(sb.base_url())
        .token(&owner.token)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    assert!(
        matches!(untrusted.chats().list().await, Err(Error::Network(ref n)) if n.kind == NetworkErrorKind::Connect)
    );
    mycel(&sb, &owner.token).chats().list().await.unwrap();
    // The inbox handshake goes through the same client, so the same check.
    let mut inbox = untrusted
        .notifications()
        .stream(None)
        .reconnect(false)
        .into_stream();
    assert!(matches!(
        inbox.next().await,
        Some(Err(Error::Network(ref n))) if n.kind == NetworkErrorKind::Connect
            && n.message.contains("certificate")
    ));
}

#[tokio::test]
async fn colony_over_https_exchanges_the_key_and_creates_and_reads_posts() {
    let sb = tls_sandbox().await;
    let key = sb.colony().register("alice");
    let c = colony(&sb, &key);
    let post = c
        .create_post("Over TLS", "posted through https")
        .await
        .unwrap();
    assert_eq!(post.author.username, "alice");
    assert_eq!(c.token_exchanges(), 1);
    assert_eq!(sb.colony().token_exchanges(), 1);
    let fetched = c.get_post(&post.id.to_string()).await.unwrap();
    assert_eq!(fetched, post);
    let page = c.get_posts().await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].title, "Over TLS");
}

#[tokio::test]
async fn mycel_over_https_chats_and_streams_the_inbox_over_wss() {
    let sb = tls_sandbox().await;
    let handle = sb.mycel();
    let owner = handle.register_owner("owner@example.com", "pw-owner");
    let a = handle.create_external(&owner.id, "agent-a", "agent-a");
    let b = handle.create_external(&owner.id, "agent-b", "agent-b");
    let ca = mycel(&sb, &a.token);
    let cb = mycel(&sb, &b.token);

    let chat = ca.chats().ensure_direct("agent-b").await.unwrap();
    assert_eq!(chat.kind, Some(ChatKind::Direct));
    let sent = ca
        .messages()
        .send(&chat.id, "hello over TLS")
        .await
        .unwrap();
    assert_eq!(sent.content, "hello over TLS");

    let unread = cb.messages().read(&chat.id).await.unwrap();
    assert_eq!(unread.len(), 1);
    assert_eq!(unread[0].content, "hello over TLS");

    // The inbox WebSocket: the handshake is an HTTP/1.1 upgrade over the
    // same TLS connection setup, so the stream is `wss://`.
    let mut stream = cb
        .notifications()
        .stream(Some(0))
        .reconnect(false)
        .into_stream();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a notification within 10 s")
        .expect("the stream is open")
        .unwrap();
    assert_eq!(first.metadata.chat_id.as_deref(), Some(chat.id.as_str()));
    assert_eq!(handle.inbox_connections(), 1);

    // A notification pushed while the socket is open arrives over it.
    handle.push_notifications(&b.id, 1);
    let pushed = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the pushed notification within 10 s")
        .expect("the stream is open")
        .unwrap();
    assert!(pushed.seq > first.seq);
    assert_eq!(pushed.metadata.event_type.as_deref(), Some("sandbox.ping"));
}

#[tokio::test]
async fn promptev_over_https_triggers_and_streams() {
    let sb = tls_sandbox().await;
    let client = promptev(&sb);
    let result = client
        .trigger_agent("echo-agent", "Hello there")
        .await
        .unwrap();
    assert_eq!(result.response, "[Echo] Hello there");

    let session = client.start_agent("echo-agent").await.unwrap();
    let events: Vec<_> = client
        .stream_agent(&session.agent_id, &session.session_token, "open P1 bugs?")
        .collect()
        .await;
    let kinds: Vec<_> = events
        .into_iter()
        .map(|e| e.unwrap().kind)
        .collect::<Vec<_>>();
    assert_eq!(
        kinds,
        [
            AgentEventKind::Thoughts,
            AgentEventKind::Processing,
            AgentEventKind::Done
        ]
    );
}

#[tokio::test]
async fn dropped_and_truncated_responses_over_tls_are_network_errors_and_retried() {
    let sb = tls_sandbox().await;
    // A read is retried through both (a POST to Promptev would not be: the
    // agent may already have run).
    let owner = sb
        .mycel()
        .register_owner("tls-faults@example.com", "pw-tls");
    let reader = mycel(&sb, &owner.token);
    sb.faults().drop_next(1);
    sb.faults().truncate_next(1);
    assert!(reader.chats().list().await.unwrap().is_empty());
    assert_eq!(
        sb.request_count(),
        3,
        "a drop, a truncation, then the answer"
    );

    let strict = agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(sb.base_url())
        .retry(RetryConfig::none())
        .add_root_certificate(ca(&sb))
        .build()
        .unwrap();
    sb.faults().drop_next(1);
    let err = strict.trigger_agent("echo-agent", "hi").await.unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    sb.faults().truncate_next(1);
    let err = strict.trigger_agent("echo-agent", "hi").await.unwrap_err();
    assert!(
        matches!(&err, Error::Network(n) if n.kind == NetworkErrorKind::Body)
            || matches!(err, Error::Decode(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_pem_is_a_config_error_at_build_and_never_echoed() {
    let secretish = "c2VjcmV0LWtleS1ieXRlcy1kby1ub3Qtc2hvdw==";
    let key_pem = format!("-----BEGIN PRIVATE KEY-----\n{secretish}\n-----END PRIVATE KEY-----\n");
    for bad in [
        "not a pem".to_owned(),
        key_pem,
        format!("-----BEGIN CERTIFICATE-----\n{secretish}\n"),
        format!("-----BEGIN CERTIFICATE-----\n{secretish}\n-----END CERTIFICATE-----\n"),
    ] {
        let results = [
            agentwire::colony::Client::builder("col_fake_key")
                .add_root_certificate(&bad)
                .build()
                .map(drop),
            agentwire::mycel::Client::builder("https://mycel.example")
                .add_root_certificate(&bad)
                .build()
                .map(drop),
            agentwire::promptev::v02::Client::builder("pv_sk_fake")
                .add_root_certificate(bad.as_bytes())
                .build()
                .map(drop),
        ];
        for result in results {
            match result {
                Err(Error::Config(msg)) => {
                    assert!(msg.contains("add_root_certificate"), "{msg}");
                    assert!(!msg.contains(secretish), "{msg}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_bundle_with_an_unrelated_ca_first_still_trusts_the_sandbox() {
    let other = Sandbox::builder().tls(true).start().await.unwrap();
    let sb = tls_sandbox().await;
    let bundle = format!("{}\n{}", ca(&other), ca(&sb));
    let client = agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(sb.base_url())
        .add_root_certificate(bundle)
        .build()
        .unwrap();
    client.trigger_agent("echo-agent", "hi").await.unwrap();
    // The other sandbox's CA does not vouch for this one.
    let wrong = agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(sb.base_url())
        .retry(RetryConfig::none())
        .add_root_certificate(ca(&other))
        .build()
        .unwrap();
    assert!(matches!(
        wrong.trigger_agent("echo-agent", "hi").await,
        Err(Error::Network(ref n)) if n.kind == NetworkErrorKind::Connect
    ));
}

#[tokio::test]
async fn the_certificate_covers_localhost_too() {
    let sb = tls_sandbox().await;
    let url = sb.base_url().replace("127.0.0.1", "localhost");
    let client = agentwire::promptev::v02::Client::builder(sb.promptev().project_key().to_string())
        .base_url(url)
        .add_root_certificate(ca(&sb))
        .build()
        .unwrap();
    client.trigger_agent("echo-agent", "hi").await.unwrap();
}
