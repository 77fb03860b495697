//! Promptev's previous product (promptev 0.2.0's API) end to end: the
//! `promptev::v02` client against the embedded sandbox over HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire::promptev::v02::{AgentEventKind, Client};
use agentwire::{Error, NetworkErrorKind, RetryConfig};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;

async fn setup() -> (Sandbox, Client) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let client = client_for(&sandbox, |b| b);
    (sandbox, client)
}

fn client_for(
    sandbox: &Sandbox,
    tweak: impl FnOnce(
        agentwire::promptev::v02::ClientBuilder,
    ) -> agentwire::promptev::v02::ClientBuilder,
) -> Client {
    let builder = Client::builder(sandbox.promptev().project_key().to_string())
        .base_url(sandbox.base_url())
        // Keep retries quick in tests; the policy itself is the same.
        .retry(agentwire::promptev::v02::default_retry().with_base_delay(Duration::from_millis(5)));
    tweak(builder).build().expect("valid client")
}

#[tokio::test]
async fn trigger_returns_the_reply_session_and_raw_json() {
    let (_sb, client) = setup().await;
    let result = client
        .trigger_agent("echo-agent", "Hello there")
        .await
        .unwrap();
    assert_eq!(result.response, "[Echo] Hello there");
    assert!(!result.session_id.is_empty());
    assert_eq!(result.raw["response"], "[Echo] Hello there");
    assert_eq!(result.raw["session_id"], result.session_id.as_str());
}

#[tokio::test]
async fn trigger_continues_a_session_and_fills_variables() {
    let (_sb, client) = setup().await;
    let first = client
        .trigger_agent("echo-agent", "Summarize Q4")
        .await
        .unwrap();
    let second = client
        .trigger_agent("echo-agent", "Compare with {{quarter}} for {{company}}")
        .session_id(&first.session_id)
        .variable("quarter", "Q3")
        .variable("company", "Acme")
        .visitor("user_12345")
        .await
        .unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_eq!(second.response, "[Echo] Compare with Q3 for Acme (turn 2)");
}

#[tokio::test]
async fn start_then_stream_yields_thoughts_processing_done() {
    let (_sb, client) = setup().await;
    let session = client
        .start_agent("echo-agent")
        .visitor("Ava")
        .await
        .unwrap();
    assert_eq!(session.agent_id, "echo-agent");
    assert_eq!(session.name, "Echo");
    assert!(session.memory_enabled);
    assert!(session.messages.is_empty());
    assert!(!session.session_token.is_empty());

    let events: Vec<_> = client
        .stream_agent(&session.agent_id, &session.session_token, "open P1 bugs?")
        .collect()
        .await;
    let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            AgentEventKind::Thoughts,
            AgentEventKind::Processing,
            AgentEventKind::Done
        ]
    );
    assert_eq!(events[0].output, "Thinking about: open P1 bugs?");
    assert_eq!(events[2].output, "[Echo] open P1 bugs?");
    assert_eq!(events[2].raw["type"], "done");

    // The session remembers: a second message is turn 2, and resuming lists turns.
    let answer = client
        .ask(&session.agent_id, &session.session_token, "and P2?")
        .await
        .unwrap();
    assert_eq!(answer, "[Echo] and P2? (turn 2)");
}

#[tokio::test]
async fn approval_and_comment_and_multiline_events_are_parsed() {
    let (_sb, client) = setup().await;
    let s = client.start_agent("echo-agent").await.unwrap();
    let kinds: Vec<_> = client
        .stream_agent(&s.agent_id, &s.session_token, "deploy [approval]")
        .map(|e| e.unwrap().kind)
        .collect()
        .await;
    assert!(
        kinds.contains(&AgentEventKind::ApprovalRequired),
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&AgentEventKind::Done));

    let answer = client
        .ask(&s.agent_id, &s.session_token, "hi [comments] [multiline]")
        .await
        .unwrap();
    assert!(
        answer.starts_with("[Echo] hi [comments] [multiline]"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_error_event_ends_the_stream_and_ask_returns_it() {
    let (_sb, client) = setup().await;
    let s = client.start_agent("echo-agent").await.unwrap();
    let events: Vec<_> = client
        .stream_agent(&s.agent_id, &s.session_token, "break [error]")
        .collect()
        .await;
    let last = events.last().unwrap().as_ref().unwrap();
    assert_eq!(last.kind, AgentEventKind::Error);
    assert_eq!(last.output, "Agent failed: simulated error");

    match client
        .ask(&s.agent_id, &s.session_token, "again [error]")
        .await
    {
        Err(Error::Stream { message, raw, .. }) => {
            assert_eq!(message, "Agent failed: simulated error");
            assert_eq!(raw["type"], "error");
        }
        other => panic!("expected a stream error, got {other:?}"),
    }
}

#[tokio::test]
async fn service_errors_map_to_typed_variants() {
    let (sb, client) = setup().await;
    let bad_key = Client::builder("pv_sk_wrong_key_000")
        .base_url(sb.base_url())
        .build()
        .unwrap();
    match bad_key.trigger_agent("echo-agent", "hi").await {
        Err(Error::Auth(e)) => {
            assert_eq!(e.status, 401);
            assert_eq!(e.message, "Invalid project key");
        }
        other => panic!("{other:?}"),
    }
    match client.trigger_agent("inactive-agent", "hi").await {
        Err(e @ Error::Auth(_)) => assert_eq!(e.status(), Some(403)),
        other => panic!("{other:?}"),
    }
    match client.start_agent("no-such-agent").await {
        Err(Error::NotFound(e)) => assert_eq!(e.message, "Agent not found"),
        other => panic!("{other:?}"),
    }
    match client.trigger_agent("echo-agent", "   ").await {
        Err(Error::Validation(e)) => {
            assert_eq!(e.status, 400);
            assert_eq!(
                e.body.as_ref().unwrap()["detail"],
                "message must not be empty"
            );
        }
        other => panic!("{other:?}"),
    }
    let first = client
        .stream_agent("echo-agent", "st_unknown", "hi")
        .next()
        .await
        .unwrap();
    assert!(matches!(first, Err(Error::NotFound(_))), "{first:?}");
}

#[tokio::test]
async fn every_injected_status_has_its_variant() {
    let sb = Sandbox::start().await.unwrap();
    let client = client_for(&sb, |b| b.retry(RetryConfig::none()));
    type Check = fn(&Error) -> bool;
    let cases: [(u16, Check); 10] = [
        (400, |e| matches!(e, Error::Validation(_))),
        (401, |e| matches!(e, Error::Auth(_))),
        (403, |e| matches!(e, Error::Auth(_))),
        (404, |e| matches!(e, Error::NotFound(_))),
        // promptev 0.2.0 has no kind for these: its base error.
        (409, |e| matches!(e, Error::Api(_))),
        (422, |e| matches!(e, Error::Api(_))),
        (402, |e| matches!(e, Error::Api(_))),
        (429, |e| matches!(e, Error::RateLimited { .. })),
        (503, |e| matches!(e, Error::Server(_))),
        (418, |e| matches!(e, Error::Api(_))),
    ];
    for (status, check) in cases {
        sb.faults().fail_next(1, status);
        let err = client.trigger_agent("echo-agent", "hi").await.unwrap_err();
        assert!(check(&err), "{status} gave {err:?}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.api().unwrap().message, format!("injected {status}"));
    }
}

#[tokio::test]
async fn gateway_errors_are_not_retried_since_the_agent_may_have_run() {
    let (sb, client) = setup().await;
    for status in [502, 503, 504] {
        let before = sb.request_count();
        sb.faults().fail_next(5, status);
        let err = client.trigger_agent("echo-agent", "hi").await.unwrap_err();
        assert!(
            matches!(err, Error::Server(ref e) if e.status == status),
            "{err:?}"
        );
        assert_eq!(sb.request_count() - before, 1, "a trigger is sent once");
        sb.faults().clear();
    }
    let result = client
        .trigger_agent("echo-agent", "after the outage")
        .await
        .unwrap();
    assert_eq!(result.response, "[Echo] after the outage");
}

#[tokio::test]
async fn a_429_is_not_retried_by_default_and_carries_retry_after() {
    let (sb, client) = setup().await;
    sb.faults().fail_next_with_retry_after(1, 429, 7);
    match client.trigger_agent("echo-agent", "hi").await {
        Err(Error::RateLimited { retry_after, error }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert_eq!(error.status, 429);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dropped_connections_are_network_errors_and_not_retried() {
    let (sb, client) = setup().await;
    // The request was sent: the agent may have run before the drop.
    let before = sb.request_count();
    sb.faults().drop_next(1);
    match client.trigger_agent("echo-agent", "hi").await {
        Err(Error::Network(e)) => assert_eq!(e.service, "promptev"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sb.request_count() - before, 1);
}

#[tokio::test]
async fn a_truncated_body_is_a_typed_error() {
    let sb = Sandbox::start().await.unwrap();
    let client = client_for(&sb, |b| b.retry(RetryConfig::none()));
    sb.faults().truncate_next(1);
    let err = client.trigger_agent("echo-agent", "hi").await.unwrap_err();
    assert!(
        matches!(&err, Error::Network(n) if n.kind == NetworkErrorKind::Body)
            || matches!(err, Error::Decode(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_item() {
    let (sb, client) = setup().await;
    let s = client.start_agent("echo-agent").await.unwrap();
    sb.faults().truncate_next(1);
    let items: Vec<_> = client
        .stream_agent(&s.agent_id, &s.session_token, "hello")
        .collect()
        .await;
    let last = items.last().expect("at least one item");
    assert!(
        matches!(last, Err(Error::Network(_)) | Err(Error::Decode(_))),
        "{items:?}"
    );
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_network_errors() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().set_latency(Duration::from_millis(400));
    let client = client_for(&sb, |b| {
        b.timeout(Duration::from_millis(50))
            .retry(RetryConfig::none())
    });
    match client.trigger_agent("echo-agent", "hi").await {
        Err(Error::Network(e)) => assert_eq!(e.kind, NetworkErrorKind::Timeout),
        other => panic!("{other:?}"),
    }

    let nowhere = Client::builder("pv_sk_sandbox_0123456789")
        .base_url(agentwire_tests::closed_port_url().await)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    match nowhere.trigger_agent("echo-agent", "hi").await {
        Err(Error::Network(e)) => assert_eq!(e.kind, NetworkErrorKind::Connect),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_configuration_is_reported_before_any_request() {
    for url in ["", "not a url", "ftp://x.example", "https://x.example/?q=1"] {
        let err = Client::builder("pv_sk_x123456")
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{url:?}: {err:?}");
    }
    assert!(matches!(Client::new("  "), Err(Error::Config(_))));
    let err = Client::builder("pv_sk_x123456")
        .header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)));
    let (_sb, client) = setup().await;
    assert!(matches!(
        client.trigger_agent("", "hi").await,
        Err(Error::InvalidArgument {
            name: "agent_id",
            ..
        })
    ));
}

#[tokio::test]
async fn rate_limit_headers_are_exposed() {
    let (sb, client) = setup().await;
    assert_eq!(client.last_rate_limit(), None);
    sb.faults().set_rate_limit_headers(100, 41, 1_767_225_600);
    client.trigger_agent("echo-agent", "hi").await.unwrap();
    let rl = client.last_rate_limit().unwrap();
    assert_eq!(
        (rl.limit, rl.remaining, rl.reset),
        (Some(100), Some(41), Some(1_767_225_600))
    );
}

#[tokio::test]
async fn the_circuit_breaker_fails_fast_until_a_success() {
    let sb = Sandbox::start().await.unwrap();
    let client = client_for(&sb, |b| {
        b.retry(RetryConfig::none()).circuit_breaker(
            agentwire::CircuitBreakerConfig::new(2).with_cooldown(Duration::from_millis(200)),
        )
    });
    sb.faults().fail_next(2, 503);
    for _ in 0..2 {
        assert!(matches!(
            client.trigger_agent("echo-agent", "hi").await,
            Err(Error::Server(_))
        ));
    }
    let before = sb.request_count();
    match client.trigger_agent("echo-agent", "hi").await {
        Err(Error::CircuitOpen { failures, .. }) => assert_eq!(failures, 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(sb.request_count(), before, "nothing sent while open");
    tokio::time::sleep(Duration::from_millis(250)).await;
    client.trigger_agent("echo-agent", "probe").await.unwrap();
    client
        .trigger_agent("echo-agent", "closed again")
        .await
        .unwrap();
}

#[tokio::test]
async fn hooks_see_every_attempt_with_the_key_masked() {
    let sb = Sandbox::start().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (req_log, resp_log) = (seen.clone(), seen.clone());
    let client = client_for(&sb, |b| {
        b.on_request(move |i| {
            req_log.lock().unwrap().push(format!(
                "-> {} {} #{} {}",
                i.method, i.operation, i.attempt, i.url
            ))
        })
        .on_response(move |i| resp_log.lock().unwrap().push(format!("<- {:?}", i.status)))
    });
    sb.faults().fail_next(1, 502);
    client.trigger_agent("echo-agent", "hi").await.unwrap_err();
    client.trigger_agent("echo-agent", "hi").await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen[0].starts_with("-> POST trigger_agent #1 "),
        "{}",
        seen[0]
    );
    assert_eq!(seen[1], "<- Some(502)");
    assert!(seen[2].starts_with("-> POST trigger_agent #1 "));
    assert_eq!(seen[3], "<- Some(200)");
    assert!(
        seen[0].contains("[REDACTED]") && !seen[0].contains(sb.promptev().project_key().as_str())
    );
}

#[tokio::test]
async fn events_arrive_as_the_service_sends_them_one_data_line_each() {
    // promptev 0.2.0 reads one `data: <json>` line per event: the sandbox
    // sends exactly that, and the facade reads it; split events (which
    // only a full SSE parser reads) are checked separately above.
    let (sb, client) = setup().await;
    let s = client.start_agent("echo-agent").await.unwrap();
    let url = format!(
        "{}/api/sdk/v1/agent/{}/echo-agent/stream?session_token={}",
        sb.base_url(),
        sb.promptev().project_key(),
        s.session_token
    );
    let raw = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"query": "wire format"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames: Vec<&str> = raw.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.len(), 3, "{raw:?}");
    for f in &frames {
        let data = f.strip_prefix("data: ").expect("one data line");
        assert!(!data.contains('\n'), "{f:?}");
        serde_json::from_str::<serde_json::Value>(data).unwrap();
    }
    let events: Vec<_> = client
        .stream_agent(&s.agent_id, &s.session_token, "wire format")
        .map(|e| e.unwrap())
        .collect()
        .await;
    assert_eq!(events[2].output, "[Echo] wire format (turn 2)");
}

#[tokio::test]
async fn stream_agent_is_sent_once_even_after_a_gateway_error() {
    // A repeated stream POST is a repeated turn: even with retries allowed
    // and a status that is retried elsewhere, it goes out once.
    let (sb, client) = setup().await;
    let s = client.start_agent("echo-agent").await.unwrap();
    let before = sb.request_count();
    sb.faults().fail_next(1, 503);
    let first = client
        .stream_agent(&s.agent_id, &s.session_token, "hi")
        .next()
        .await
        .unwrap();
    assert!(
        matches!(&first, Err(Error::Server(e)) if e.status == 503),
        "{first:?}"
    );
    assert_eq!(sb.request_count() - before, 1);
    // And not after a connection that could not be made either.
    let attempts = Arc::new(Mutex::new(0));
    let counter = attempts.clone();
    let nowhere = Client::builder("pv_sk_sandbox_0123456789")
        .base_url(agentwire_tests::closed_port_url().await)
        .retry(agentwire::promptev::v02::default_retry().with_base_delay(Duration::from_millis(1)))
        .on_request(move |_| *counter.lock().unwrap() += 1)
        .build()
        .unwrap();
    let first = nowhere
        .stream_agent("echo-agent", "st_1", "hi")
        .next()
        .await
        .unwrap();
    assert!(matches!(&first, Err(Error::Network(n)) if n.kind == NetworkErrorKind::Connect));
    assert_eq!(*attempts.lock().unwrap(), 1);
    // A trigger whose connection could not be made is tried again (nothing
    // was sent): the same counter sees the retries.
    *attempts.lock().unwrap() = 0;
    nowhere.trigger_agent("echo-agent", "hi").await.unwrap_err();
    assert_eq!(*attempts.lock().unwrap(), 3);
}
