//! A tour of agentwire against the embedded sandbox: no account, no network.
//!
//! ```text
//! cargo run --example tour
//! ```

use std::time::Duration;

use agentwire::promptev::{AgentEventKind, Client};
use agentwire::Error;
use agentwire_sandbox::Sandbox;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    println!("sandbox listening on {}\n", sandbox.base_url());

    println!("== Promptev ==");
    let client = Client::builder(sandbox.promptev().project_key().to_string())
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(10))
        .build()?;

    // One call, then a follow-up in the same session.
    let first = client
        .trigger_agent("echo-agent", "Summarize our Q4 sales report")
        .await?;
    println!("trigger  -> {}", first.response);
    let second = client
        .trigger_agent("echo-agent", "Now compare with {{quarter}}")
        .session_id(&first.session_id)
        .variable("quarter", "Q3")
        .await?;
    println!("follow-up-> {}", second.response);

    // A streaming session: thoughts, tool status, then the answer.
    let session = client.start_agent("echo-agent").visitor("tour").await?;
    println!(
        "session  -> agent {} ({}), memory {}",
        session.agent_id, session.name, session.memory_enabled
    );
    let mut events = client.stream_agent(
        &session.agent_id,
        &session.session_token,
        "Any open P1 bugs? [approval]",
    );
    while let Some(event) = events.next().await {
        let event = event?;
        let label = match event.kind {
            AgentEventKind::Thoughts => "thinking",
            AgentEventKind::Processing => "working",
            AgentEventKind::ApprovalRequired => "approval",
            AgentEventKind::Done => "answer",
            _ => "event",
        };
        println!("  {label:<9}{}", event.output);
    }
    println!(
        "ask      -> {}",
        client
            .ask(&session.agent_id, &session.session_token, "And P2?")
            .await?
    );

    // Transient failures are retried (502/503/504, with backoff)...
    sandbox.faults().fail_next(2, 503);
    let retried = client.trigger_agent("echo-agent", "still there?").await?;
    println!("after two injected 503s -> {}", retried.response);

    // ...and every failure is a typed error.
    match client.trigger_agent("no-such-agent", "hello").await {
        Err(Error::NotFound(e)) => println!("unknown agent -> NotFound: {}", e.message),
        other => println!("unexpected: {other:?}"),
    }
    match client
        .ask(
            &session.agent_id,
            &session.session_token,
            "fail please [error]",
        )
        .await
    {
        Err(Error::Stream { message, .. }) => println!("error event -> Stream: {message}"),
        other => println!("unexpected: {other:?}"),
    }
    println!("\nclient debug (no key in it): {client:?}");
    Ok(())
}
