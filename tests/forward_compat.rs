//! Services add fields and enum values; the SDK must keep decoding.

use agentwire::promptev::v02::{AgentEventKind, Client};
use agentwire::RetryConfig;
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::json;

#[test]
fn generated_types_accept_unknown_fields_and_values() {
    use agentwire_promptev_transport::types::{AgentEventData, StartResponse};
    let ev: AgentEventData =
        serde_json::from_value(json!({"type": "tool_result", "output": "x", "tool": "jira"}))
            .unwrap();
    assert_eq!(ev.type_, AgentEventKind::Other("tool_result".into()));
    assert_eq!(ev.extra["tool"], "jira", "unknown fields are kept");
    let s: StartResponse = serde_json::from_value(json!({
        "session_token": "st_1", "name": "Echo", "agent_id": "a", "brand_new_field": {"nested": true}
    }))
    .unwrap();
    assert_eq!(s.session_token, "st_1");
    assert!(!s.memory_enabled, "defaults apply to absent fields");
    // What came in goes back out, the unknown field included.
    let back = serde_json::to_value(&s).unwrap();
    assert_eq!(back["brand_new_field"], json!({"nested": true}));
}

#[tokio::test]
async fn fields_the_contract_does_not_know_survive_at_every_depth() {
    let app = Router::new().route(
        "/api/sdk/v1/agent/{key}/{agent}/start",
        post(|| async {
            Json(json!({
                "session_token": "st_1", "name": "Echo", "agent_id": "a",
                "theme": {"color": "teal", "font": {"size": 12}},
                "messages": [{"role": "user", "content": "hi", "attachments": [{"id": 7}]}]
            }))
        }),
    );
    let base = agentwire_tests::serve(app).await;
    let client = Client::builder("pv_sk_fake_fwdcompat_1")
        .base_url(base)
        .build()
        .unwrap();
    let session = client.start_agent("a").await.unwrap();
    assert_eq!(session.raw["theme"]["font"]["size"], 12);
    assert_eq!(session.raw["messages"][0]["attachments"][0]["id"], 7);
    assert_eq!(session.messages[0]["attachments"][0]["id"], 7);
}

#[tokio::test]
async fn the_facade_keeps_new_fields_in_raw_and_new_event_types_as_other() {
    let app = Router::new()
        .route(
            "/api/sdk/v1/agent/{key}/{agent}/trigger",
            post(|| async {
                Json(json!({"response": "ok", "session_id": "s1", "usage": {"tokens": 42}}))
            }),
        )
        .route(
            "/api/sdk/v1/agent/{key}/{agent}/stream",
            post(|| async {
                (
                    [("content-type", "text/event-stream")],
                    "data: {\"type\":\"citation\",\"output\":\"doc-7\",\"url\":\"https://x\"}\n\n\
                     data: {\"type\":\"done\",\"output\":\"fin\"}\n\n",
                )
            }),
        );
    let base = agentwire_tests::serve(app).await;
    let client = Client::builder("pv_sk_fake_fwdcompat_1")
        .base_url(base)
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    let result = client.trigger_agent("a", "hi").await.unwrap();
    assert_eq!(result.response, "ok");
    assert_eq!(result.raw["usage"]["tokens"], 42);

    let events: Vec<_> = client
        .stream_agent("a", "st", "q")
        .map(Result::unwrap)
        .collect()
        .await;
    assert_eq!(events[0].kind, AgentEventKind::Other("citation".into()));
    assert_eq!(events[0].raw["url"], "https://x");
    assert_eq!(events[1].kind, AgentEventKind::Done);
}

#[tokio::test]
async fn a_success_body_that_breaks_the_contract_is_a_decode_error() {
    let app = Router::new().route(
        "/api/sdk/v1/agent/{key}/{agent}/trigger",
        post(|| async { Json(json!({"answer": "missing the required fields"})) }),
    );
    let base = agentwire_tests::serve(app).await;
    let client = Client::builder("pv_sk_fake_fwdcompat_1")
        .base_url(base)
        .build()
        .unwrap();
    let err = client.trigger_agent("a", "hi").await.unwrap_err();
    assert!(matches!(err, agentwire::Error::Decode(_)), "{err:?}");
}
