//! The sandbox's Promptev service and fault knobs, driven over HTTP.

use std::time::{Duration, Instant};

use agentwire_sandbox::{Sandbox, Turn, DEFAULT_PROJECT_KEY};
use serde_json::{json, Value};

const KEY: &str = DEFAULT_PROJECT_KEY;

fn agent_url(sb: &Sandbox, key: &str, agent: &str, op: &str) -> String {
    format!("{}/api/sdk/v1/agent/{key}/{agent}/{op}", sb.base_url())
}

async fn post(url: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request reaches the sandbox")
}

/// Status and JSON body of a response.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.json().await.expect("JSON body");
    (status, body)
}

async fn trigger(sb: &Sandbox, body: Value) -> (u16, Value) {
    answer(post(&agent_url(sb, KEY, "echo-agent", "trigger"), body).await).await
}

async fn start(sb: &Sandbox, agent: &str) -> String {
    let (status, body) = answer(post(&agent_url(sb, KEY, agent, "start"), json!({})).await).await;
    assert_eq!(status, 200, "{body}");
    body["session_token"].as_str().unwrap().to_string()
}

fn stream_url(sb: &Sandbox, agent: &str, token: &str) -> String {
    format!(
        "{}?session_token={token}",
        agent_url(sb, KEY, agent, "stream")
    )
}

/// Raw text of a stream for `query` in session `token`.
async fn stream_text(sb: &Sandbox, token: &str, query: &str) -> String {
    let response = post(
        &stream_url(sb, "echo-agent", token),
        json!({ "query": query }),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    response.text().await.unwrap()
}

/// `(type, output)` of each event: blocks end at a blank line, their `data:`
/// lines are joined with newlines, other lines (comments, `id:`) skipped.
fn parse_sse(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let data: Vec<&str> = block
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                return None;
            }
            let event: Value = serde_json::from_str(&data.join("\n")).expect("event JSON");
            Some((
                event["type"].as_str().unwrap().to_string(),
                event["output"].as_str().unwrap().to_string(),
            ))
        })
        .collect()
}

fn types(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(t, _)| t.as_str()).collect()
}

fn turn(role: &str, content: &str) -> Turn {
    Turn {
        role: role.into(),
        content: content.into(),
    }
}

// ---- happy paths ----

#[tokio::test]
async fn trigger_fills_variables_and_creates_a_session() {
    let sb = Sandbox::start().await.unwrap();
    let response = post(
        &agent_url(&sb, KEY, "echo-agent", "trigger"),
        json!({"message": "Hi {{who}}, {{n}} {{unset}}", "variables": {"who": "Ada", "n": 2}}),
    )
    .await;
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let (status, body) = answer(response).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"response": "[Echo] Hi Ada, 2 {{unset}}", "session_id": "sess_1"})
    );
    let pv = sb.promptev();
    assert_eq!(pv.session_count(), 1);
    assert_eq!(pv.visitor("sess_1").as_deref(), Some("webhook_1"));
    assert_eq!(
        pv.turns("sess_1").unwrap(),
        [
            turn("user", "Hi {{who}}, {{n}} {{unset}}"),
            turn("assistant", "[Echo] Hi Ada, 2 {{unset}}")
        ]
    );
}

#[tokio::test]
async fn trigger_resumes_sessions_and_counts_turns() {
    let sb = Sandbox::start().await.unwrap();
    let (_, first) = trigger(&sb, json!({"message": "one", "visitor": "ada"})).await;
    assert_eq!(
        first,
        json!({"response": "[Echo] one", "session_id": "sess_1"})
    );
    let (_, second) = trigger(&sb, json!({"message": "two", "session_id": "sess_1"})).await;
    assert_eq!(
        second,
        json!({"response": "[Echo] two (turn 2)", "session_id": "sess_1"})
    );
    let (_, third) = trigger(&sb, json!({"message": "three", "session_id": "sess_1"})).await;
    assert_eq!(third["response"], "[Echo] three (turn 3)");
    assert_eq!(sb.promptev().turns("sess_1").unwrap().len(), 6);
    assert_eq!(sb.promptev().visitor("sess_1").as_deref(), Some("ada"));

    // An unknown session id starts afresh instead of failing.
    let (status, other) = trigger(&sb, json!({"message": "x", "session_id": "sess_99"})).await;
    assert_eq!(status, 200);
    assert_eq!(
        other,
        json!({"response": "[Echo] x", "session_id": "sess_2"})
    );
    assert_eq!(sb.promptev().session_count(), 2);
}

#[tokio::test]
async fn trigger_ignores_unknown_fields_and_null_options() {
    let sb = Sandbox::start().await.unwrap();
    let (status, body) = trigger(
        &sb,
        json!({"message": "hi", "session_id": null, "variables": null, "extra": {"a": 1}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["response"], "[Echo] hi");
}

#[tokio::test]
async fn start_opens_an_empty_session() {
    let sb = Sandbox::start().await.unwrap();
    let (status, body) = answer(
        post(
            &agent_url(&sb, KEY, "echo-agent", "start"),
            json!({"visitor": "ada", "platform": "cli", "unknown": true}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "session_token": "st_1",
            "agent_id": "echo-agent",
            "name": "Echo",
            "memory_enabled": true,
            "messages": []
        })
    );
    assert_eq!(sb.promptev().visitor("st_1").as_deref(), Some("ada"));
    assert_eq!(sb.promptev().platform("st_1").as_deref(), Some("cli"));

    let (_, second) =
        answer(post(&agent_url(&sb, KEY, "echo-agent", "start"), json!({})).await).await;
    assert_eq!(second["session_token"], "st_2");
    assert_eq!(sb.promptev().visitor("st_2").as_deref(), Some("anonymous"));
    assert_eq!(sb.promptev().platform("st_2").as_deref(), Some("sdk"));
    assert_eq!(sb.promptev().turns("st_2"), Some(vec![]));
}

#[tokio::test]
async fn stream_sends_thoughts_processing_done_and_counts_turns() {
    let sb = Sandbox::start().await.unwrap();
    let token = start(&sb, "echo-agent").await;
    let text = stream_text(&sb, &token, "hello").await;
    assert!(
        text.starts_with("data: {\"output\":\"Thinking about: hello\",\"type\":\"thoughts\"}\n\n"),
        "{text}"
    );
    assert_eq!(
        parse_sse(&text),
        [
            ("thoughts".into(), "Thinking about: hello".into()),
            ("processing".into(), "Looking things up".into()),
            ("done".into(), "[Echo] hello".into()),
        ]
    );
    let again = parse_sse(&stream_text(&sb, &token, "again").await);
    assert_eq!(again[2], ("done".into(), "[Echo] again (turn 2)".into()));
    assert_eq!(
        sb.promptev().turns(&token).unwrap(),
        [
            turn("user", "hello"),
            turn("assistant", "[Echo] hello"),
            turn("user", "again"),
            turn("assistant", "[Echo] again (turn 2)"),
        ]
    );
}

#[tokio::test]
async fn stream_asks_for_approval_before_done() {
    let sb = Sandbox::start().await.unwrap();
    let token = start(&sb, "echo-agent").await;
    let events = parse_sse(&stream_text(&sb, &token, "book it [approval]").await);
    assert_eq!(
        types(&events),
        ["thoughts", "processing", "approval_required", "done"]
    );
    assert_eq!(events[2].1, "Tool 'lookup' needs approval");
    assert_eq!(events[3].1, "[Echo] book it [approval]");
}

#[tokio::test]
async fn stream_error_ends_without_done() {
    let sb = Sandbox::start().await.unwrap();
    let token = start(&sb, "echo-agent").await;
    let events = parse_sse(&stream_text(&sb, &token, "boom [error]").await);
    assert_eq!(types(&events), ["thoughts", "processing", "error"]);
    assert_eq!(events[2].1, "Agent failed: simulated error");
    assert_eq!(
        sb.promptev().turns(&token).unwrap(),
        [turn("user", "boom [error]")]
    );
}

#[tokio::test]
async fn stream_comments_and_ids_do_not_change_the_events() {
    let sb = Sandbox::start().await.unwrap();
    let token = start(&sb, "echo-agent").await;
    let text = stream_text(&sb, &token, "x [comments]").await;
    assert!(text.contains(": keep-alive\n"), "{text}");
    assert!(
        text.contains("\nid: 1\n") || text.contains("id: 1\n"),
        "{text}"
    );
    assert_eq!(types(&parse_sse(&text)), ["thoughts", "processing", "done"]);
}

#[tokio::test]
async fn stream_multiline_splits_the_done_event() {
    let sb = Sandbox::builder()
        .event_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let token = start(&sb, "echo-agent").await;
    let text = stream_text(&sb, &token, "split [multiline]").await;
    let done_block = text
        .split("\n\n")
        .find(|b| b.contains("done"))
        .expect("a done block");
    assert_eq!(done_block.lines().count(), 2, "{done_block}");
    let events = parse_sse(&text);
    assert_eq!(
        events.last().unwrap(),
        &("done".to_string(), "[Echo] split [multiline]".to_string())
    );
}

#[tokio::test]
async fn added_agents_answer_with_their_name() {
    let sb = Sandbox::start().await.unwrap();
    sb.promptev().add_agent("helper", "Helper", true);
    let (status, body) = answer(
        post(
            &agent_url(&sb, KEY, "helper", "trigger"),
            json!({"message": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["response"], "[Helper] hi");
    assert!(sb.promptev().agent_ids().contains(&"helper".to_string()));
}

#[tokio::test]
async fn builder_sets_the_project_key() {
    let sb = Sandbox::builder()
        .project_key("pv_sk_custom")
        .start()
        .await
        .unwrap();
    assert_eq!(sb.promptev().project_key(), "pv_sk_custom");
    let ok = post(
        &agent_url(&sb, "pv_sk_custom", "echo-agent", "trigger"),
        json!({"message": "hi"}),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let default_key = post(
        &agent_url(&sb, KEY, "echo-agent", "trigger"),
        json!({"message": "hi"}),
    )
    .await;
    assert_eq!(default_key.status(), 401);
}

// ---- errors ----

#[tokio::test]
async fn invalid_project_key_is_401_on_every_endpoint() {
    let sb = Sandbox::start().await.unwrap();
    for op in ["trigger", "start", "stream?session_token=st_1"] {
        let body = json!({"message": "hi", "query": "hi"});
        let (status, body) =
            answer(post(&agent_url(&sb, "pv_sk_wrong", "echo-agent", op), body).await).await;
        assert_eq!(status, 401, "{op}");
        assert_eq!(body, json!({"detail": "Invalid project key"}), "{op}");
    }
}

#[tokio::test]
async fn unknown_and_inactive_agents() {
    let sb = Sandbox::start().await.unwrap();
    for op in ["trigger", "start"] {
        let body = json!({"message": "hi"});
        let (status, detail) =
            answer(post(&agent_url(&sb, KEY, "nobody", op), body.clone()).await).await;
        assert_eq!(
            (status, detail),
            (404, json!({"detail": "Agent not found"})),
            "{op}"
        );
        let (status, detail) =
            answer(post(&agent_url(&sb, KEY, "inactive-agent", op), body).await).await;
        assert_eq!(
            (status, detail),
            (403, json!({"detail": "Agent is not active"})),
            "{op}"
        );
    }
}

#[tokio::test]
async fn empty_message_is_400() {
    let sb = Sandbox::start().await.unwrap();
    for message in ["", "  \n\t"] {
        let (status, body) = trigger(&sb, json!({ "message": message })).await;
        assert_eq!(status, 400);
        assert_eq!(body, json!({"detail": "message must not be empty"}));
    }
    assert_eq!(sb.promptev().session_count(), 0);
}

#[tokio::test]
async fn malformed_bodies_are_fastapi_422s() {
    let sb = Sandbox::start().await.unwrap();
    let (status, body) = trigger(&sb, json!({"session_id": "sess_1"})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"detail":[{"loc":["body","message"],"msg":"Field required","type":"missing"}]})
    );

    let (status, body) = trigger(&sb, json!({"message": 42})).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "message"]));
    assert_eq!(body["detail"][0]["type"], "string_type");

    let url = agent_url(&sb, KEY, "echo-agent", "trigger");
    let client = reqwest::Client::new();
    let not_json = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"message\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = answer(not_json).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    assert_eq!(body["detail"][0]["loc"][0], "body");

    let empty = client.post(&url).send().await.unwrap();
    let (status, body) = answer(empty).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"detail":[{"loc":["body"],"msg":"Field required","type":"missing"}]})
    );

    let array = client.post(&url).json(&json!([1])).send().await.unwrap();
    assert_eq!(array.status(), 422);
}

#[tokio::test]
async fn stream_session_errors() {
    let sb = Sandbox::start().await.unwrap();
    sb.promptev().add_agent("other-agent", "Other", true);
    let other_token = start(&sb, "other-agent").await;
    for token in ["st_404", other_token.as_str()] {
        let (status, body) = answer(
            post(
                &stream_url(&sb, "echo-agent", token),
                json!({"query": "hi"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 404, "{token}");
        assert_eq!(body, json!({"detail": "Session not found"}));
    }

    let (status, body) = answer(
        post(
            &agent_url(&sb, KEY, "echo-agent", "stream"),
            json!({"query": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"detail":[{"loc":["query","session_token"],"msg":"Field required","type":"missing"}]})
    );

    let token = start(&sb, "echo-agent").await;
    let (status, body) =
        answer(post(&stream_url(&sb, "echo-agent", &token), json!({})).await).await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "query"]));

    let (status, body) = answer(
        post(
            &stream_url(&sb, "inactive-agent", &token),
            json!({"query": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body),
        (403, json!({"detail": "Agent is not active"}))
    );
}

#[tokio::test]
async fn quota_is_429() {
    let sb = Sandbox::start().await.unwrap();
    sb.promptev().set_quota(Some(1));
    assert_eq!(trigger(&sb, json!({"message": "a"})).await.0, 200);
    let (status, body) = trigger(&sb, json!({"message": "b"})).await;
    assert_eq!((status, body), (429, json!({"detail": "Quota exceeded"})));
    sb.promptev().set_quota(None);
    assert_eq!(trigger(&sb, json!({"message": "c"})).await.0, 200);
}

#[tokio::test]
async fn unknown_routes_answer_json() {
    let sb = Sandbox::start().await.unwrap();
    let response = reqwest::get(format!("{}/nope", sb.base_url()))
        .await
        .unwrap();
    assert_eq!(
        answer(response).await,
        (404, json!({"detail": "Not Found"}))
    );
    let response = reqwest::get(agent_url(&sb, KEY, "echo-agent", "trigger"))
        .await
        .unwrap();
    assert_eq!(
        answer(response).await,
        (405, json!({"detail": "Method Not Allowed"}))
    );
}

// ---- faults ----

#[tokio::test]
async fn fail_next_counts_down_then_recovers() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().fail_next(2, 503);
    for _ in 0..2 {
        let response = post(
            &agent_url(&sb, KEY, "echo-agent", "trigger"),
            json!({"message": "hi"}),
        )
        .await;
        assert!(response.headers().get("retry-after").is_none());
        assert_eq!(
            answer(response).await,
            (503, json!({"detail": "injected 503"}))
        );
    }
    assert_eq!(trigger(&sb, json!({"message": "hi"})).await.0, 200);
    assert_eq!(sb.request_count(), 3);
    // The failed requests never reached the service.
    assert_eq!(sb.promptev().session_count(), 1);
}

#[tokio::test]
async fn fail_next_with_retry_after_sends_the_header() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().fail_next_with_retry_after(1, 429, 7);
    let response = post(&agent_url(&sb, KEY, "echo-agent", "start"), json!({})).await;
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(
        answer(response).await,
        (429, json!({"detail": "injected 429"}))
    );
    assert_eq!(
        post(&agent_url(&sb, KEY, "echo-agent", "start"), json!({}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn faults_are_taken_in_order() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().fail_next(1, 500);
    sb.faults().fail_next(1, 502);
    assert_eq!(sb.faults().pending(), 2);
    assert_eq!(trigger(&sb, json!({"message": "a"})).await.0, 500);
    assert_eq!(trigger(&sb, json!({"message": "a"})).await.0, 502);
    assert_eq!(trigger(&sb, json!({"message": "a"})).await.0, 200);
}

#[tokio::test]
async fn latency_delays_every_request() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().set_latency(Duration::from_millis(80));
    for _ in 0..2 {
        let begun = Instant::now();
        assert_eq!(trigger(&sb, json!({"message": "hi"})).await.0, 200);
        assert!(begun.elapsed() >= Duration::from_millis(80));
    }
}

#[tokio::test]
async fn drop_next_closes_the_connection_without_a_response() {
    let sb = Sandbox::start().await.unwrap();
    let client = reqwest::Client::new();
    let url = agent_url(&sb, KEY, "echo-agent", "trigger");
    // Warm a pooled connection so the drop also covers a reused one.
    let warm = client
        .post(&url)
        .json(&json!({"message": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 200);
    sb.faults().drop_next(1);
    let err = client
        .post(&url)
        .json(&json!({"message": "b"}))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(err.status().is_none(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let after = client
        .post(&url)
        .json(&json!({"message": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    assert_eq!(sb.request_count(), 3);
}

#[tokio::test]
async fn truncate_next_breaks_the_body() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().truncate_next(1);
    let response = post(
        &agent_url(&sb, KEY, "echo-agent", "trigger"),
        json!({"message": "a fairly long message so that half of it is visible"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    match response.bytes().await {
        Err(e) => assert!(e.is_body() || e.is_decode() || e.is_request(), "{e:?}"),
        Ok(bytes) => assert!(
            serde_json::from_slice::<Value>(&bytes).is_err(),
            "a truncated body parsed: {bytes:?}"
        ),
    }
    assert_eq!(trigger(&sb, json!({"message": "ok"})).await.0, 200);
}

#[tokio::test]
async fn truncate_next_cuts_a_stream() {
    let sb = Sandbox::start().await.unwrap();
    let token = start(&sb, "echo-agent").await;
    sb.faults().truncate_next(1);
    let response = post(
        &stream_url(&sb, "echo-agent", &token),
        json!({"query": "hello"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.is_err());
}

#[tokio::test]
async fn rate_limit_headers_until_cleared() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().set_rate_limit_headers(100, 42, 30);
    sb.faults().fail_next(1, 429);
    for expected in [429, 200] {
        let response = post(
            &agent_url(&sb, KEY, "echo-agent", "trigger"),
            json!({"message": "hi"}),
        )
        .await;
        assert_eq!(response.status(), expected);
        let h = response.headers();
        assert_eq!(h["x-ratelimit-limit"], "100");
        assert_eq!(h["x-ratelimit-remaining"], "42");
        assert_eq!(h["x-ratelimit-reset"], "30");
    }
    sb.faults().clear();
    let response = post(
        &agent_url(&sb, KEY, "echo-agent", "trigger"),
        json!({"message": "hi"}),
    )
    .await;
    assert!(response.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn clear_disarms_pending_faults() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().fail_next(3, 500);
    sb.faults().drop_next(1);
    sb.faults().set_latency(Duration::from_secs(60));
    sb.faults().clear();
    assert_eq!(sb.faults().pending(), 0);
    assert_eq!(trigger(&sb, json!({"message": "hi"})).await.0, 200);
}

#[tokio::test]
async fn expire_tokens_bumps_the_epoch_only() {
    let sb = Sandbox::start().await.unwrap();
    let token = start(&sb, "echo-agent").await;
    sb.faults().expire_tokens();
    assert_eq!(sb.faults().token_epoch(), 1);
    // Promptev session tokens are not affected.
    let text = stream_text(&sb, &token, "still here").await;
    assert_eq!(types(&parse_sse(&text)).last(), Some(&"done"));
}

// ---- control routes ----

async fn control(sb: &Sandbox, body: Value) -> (u16, Value) {
    answer(post(&format!("{}/_sandbox/faults", sb.base_url()), body).await).await
}

#[tokio::test]
async fn health_is_never_faulted_or_counted() {
    let sb = Sandbox::start().await.unwrap();
    sb.faults().fail_next(1, 500);
    sb.faults().set_latency(Duration::from_secs(60));
    let response = reqwest::get(format!("{}/_sandbox/health", sb.base_url()))
        .await
        .unwrap();
    assert_eq!(answer(response).await, (200, json!({"ok": true})));
    assert_eq!(sb.faults().pending(), 1);
    assert_eq!(sb.request_count(), 0);
}

#[tokio::test]
async fn control_endpoint_arms_every_knob() {
    let sb = Sandbox::start().await.unwrap();

    let (status, body) = control(
        &sb,
        json!({"fail_next": {"n": 2, "status": 503, "retry_after": 1}}),
    )
    .await;
    assert_eq!((status, body), (200, json!({"ok": true, "pending": 2})));
    for _ in 0..2 {
        let response = post(
            &agent_url(&sb, KEY, "echo-agent", "trigger"),
            json!({"message": "hi"}),
        )
        .await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
    }
    assert_eq!(trigger(&sb, json!({"message": "hi"})).await.0, 200);

    assert_eq!(control(&sb, json!({"latency_ms": 50})).await.0, 200);
    let begun = Instant::now();
    assert_eq!(trigger(&sb, json!({"message": "hi"})).await.0, 200);
    assert!(begun.elapsed() >= Duration::from_millis(50));

    assert_eq!(
        control(&sb, json!({"clear": true, "drop_next": 1})).await.0,
        200
    );
    let err = reqwest::Client::new()
        .post(agent_url(&sb, KEY, "echo-agent", "trigger"))
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .expect_err("dropped");
    assert!(err.status().is_none());

    assert_eq!(control(&sb, json!({"truncate_next": 1})).await.0, 200);
    let response = post(
        &agent_url(&sb, KEY, "echo-agent", "trigger"),
        json!({"message": "a message long enough to cut"}),
    )
    .await;
    match response.bytes().await {
        Err(_) => {}
        Ok(bytes) => assert!(serde_json::from_slice::<Value>(&bytes).is_err()),
    }

    let (status, _) = control(
        &sb,
        json!({"rate_limit": {"limit": 5, "remaining": 4, "reset": 60}, "expire_tokens": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sb.faults().token_epoch(), 1);
    let response = post(
        &agent_url(&sb, KEY, "echo-agent", "trigger"),
        json!({"message": "hi"}),
    )
    .await;
    assert_eq!(response.headers()["x-ratelimit-remaining"], "4");

    assert_eq!(
        control(&sb, json!({"fail_next": {"n": 5, "status": 500}}))
            .await
            .0,
        200
    );
    assert_eq!(
        control(&sb, json!({"clear": true})).await,
        (200, json!({"ok": true, "pending": 0}))
    );
    assert_eq!(trigger(&sb, json!({"message": "hi"})).await.0, 200);
}

#[tokio::test]
async fn control_endpoint_rejects_bad_input() {
    let sb = Sandbox::start().await.unwrap();
    let (status, body) = control(&sb, json!({"fail_next": {"n": 1, "status": 42}})).await;
    assert_eq!(status, 400);
    assert!(body["detail"].is_string());
    assert_eq!(control(&sb, json!({"drop_nxt": 1})).await.0, 422);
    assert_eq!(control(&sb, json!({"latency_ms": "slow"})).await.0, 422);
    assert_eq!(sb.faults().pending(), 0);
}

// ---- lifecycle ----

#[tokio::test]
async fn base_url_and_shutdown() {
    let sb = Sandbox::start().await.unwrap();
    let url = sb.base_url().to_string();
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(!url.ends_with('/'));
    sb.shutdown().await;
    let result = reqwest::Client::new()
        .get(format!("{url}/_sandbox/health"))
        .send()
        .await;
    assert!(result.is_err());
}

#[tokio::test]
async fn dropping_the_sandbox_stops_it() {
    let url = {
        let sb = Sandbox::start().await.unwrap();
        sb.base_url().to_string()
    };
    // Dropping aborts the server task, which the runtime tears down at its
    // next turn: give it a few.
    let client = reqwest::Client::new();
    let mut refused = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if client
            .get(format!("{url}/_sandbox/health"))
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
    }
    assert!(refused, "the sandbox still answers after being dropped");
}
