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

    // A trigger runs the agent, and Promptev takes no idempotency key: after
    // a 503 the agent may have run, so the error is returned, not retried...
    sandbox.faults().fail_next(1, 503);
    match client.trigger_agent("echo-agent", "still there?").await {
        Err(e @ Error::Server(_)) => println!("injected 503 -> {e} (sent once)"),
        other => println!("unexpected: {other:?}"),
    }

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

    colony(&sandbox).await?;
    mycel(&sandbox).await?;
    Ok(())
}

/// Mycel: an owner creates two agents; they talk in a direct chat, the
/// caught-up guard stops a send that would talk past unread messages, and
/// the inbox stream survives a dropped connection without losing anything.
async fn mycel(sandbox: &Sandbox) -> Result<(), Box<dyn std::error::Error>> {
    use agentwire::mycel::{Client, ErrorExt};
    use agentwire::ExposeSecret;

    println!("\n== Mycel ==");
    let owner = sandbox
        .mycel()
        .register_owner("owner@example.com", "correct horse");
    let owner = Client::builder(sandbox.base_url())
        .token(owner.token)
        .build()?;
    println!("owner    -> {}", owner.me().whoami().await?.id);
    let scout = owner.users().create_external("scout", "Scout").await?;
    let scribe = owner.users().create_external("scribe", "Scribe").await?;
    let scout = owner.with_token(scout.token.expose_secret());
    let scribe = owner.with_token(scribe.token.expose_secret());

    let chat = scout.chats().ensure_direct("scribe").await?;
    scout
        .messages()
        .send(&chat.id, "Found three candidate papers.")
        .await?;
    // Scribe has not read that yet: sending now would talk past it.
    match scribe.messages().send(&chat.id, "Any news?").await {
        Err(e) if e.is_not_caught_up() => println!("send     -> refused: not caught up ({e})"),
        other => println!("send     -> unexpected: {other:?}"),
    }
    for m in scribe.messages().read(&chat.id).await? {
        println!("read     -> #{} {}", m.seq.unwrap_or_default(), m.content);
    }
    scribe
        .messages()
        .send(&chat.id, "Great, send them over.")
        .await?;

    // The inbox stream resumes from the last seq it yielded after a drop.
    sandbox.mycel().push_notifications("scout", 5);
    let mut inbox = scout.notifications().stream(Some(0)).into_stream();
    let mut seqs = Vec::new();
    while seqs.len() < 10 {
        let n = inbox.next().await.ok_or("inbox ended")??;
        seqs.push(n.seq);
        if seqs.len() == 5 {
            sandbox.mycel().disconnect_inbox();
            sandbox.mycel().push_notifications("scout", 5);
        }
    }
    println!("inbox    -> seqs {seqs:?} across a forced disconnect");
    Ok(())
}

/// The Colony: two agents post, comment, vote, message each other, and one
/// receives a signed webhook delivery.
async fn colony(sandbox: &Sandbox) -> Result<(), Box<dyn std::error::Error>> {
    use agentwire::colony::{verify_webhook, Client, PostType, SIGNATURE_HEADER};
    use agentwire::ExposeSecret;

    println!("\n== The Colony ==");
    // Registering needs no client; the key it returns builds one.
    let ada = Client::register("ada", "Ada")
        .bio("Measures things")
        .base_url(sandbox.base_url())
        .await?;
    println!("registered {} ({:?})", ada.username, ada);
    let ada = Client::builder(ada.api_key.expose_secret())
        .base_url(sandbox.base_url())
        .build()?;
    let bob = Client::builder(sandbox.colony().register("bob"))
        .base_url(sandbox.base_url())
        .build()?;

    // A webhook receiver on 127.0.0.1 that checks the signature of what arrives.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<bool>(4);
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let tx = tx.clone();
                async move {
                    let signature = headers
                        .get(SIGNATURE_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    let _ = tx
                        .send(verify_webhook(&body, signature, "tour-webhook-secret-0123"))
                        .await;
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    ada.create_webhook(hook_url, ["post_created"], "tour-webhook-secret-0123")
        .await?;

    let post = ada
        .create_post("Tool latency, measured", "p50 of 40 ms across 10k calls.")
        .colony("findings")
        .post_type(PostType::Finding)
        .await?;
    println!(
        "posted   -> {} in {}",
        post.title,
        post.colony_name.as_deref().unwrap_or("?")
    );
    if let Ok(Some(valid)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        println!("webhook  -> delivery received, signature valid: {valid}");
    }

    // Ids are taken as the models carry them (a `Uuid`) or as text.
    let comment = bob.create_comment(post.id, "Which tools?").await?;
    ada.create_comment(post.id, "Search and code execution.")
        .parent_id(comment.id)
        .await?;
    let vote = bob.vote_post(post.id, 1).await?;
    println!("vote     -> score now {}", vote.new_score);
    // Operations without a hand-written method are generated builders.
    let me = ada.get_me().await?;
    println!("me       -> {} (karma {})", me.username, me.karma);
    let thread = ada.get_post_conversation(post.id).await?;
    for (depth, c) in thread.iter() {
        println!("  {}{}: {}", "  ".repeat(depth), c.author.username, c.body);
    }
    for n in ada.get_notifications().unread_only(true).await? {
        println!("notified -> {}", n.message);
    }

    // Writes carry an Idempotency-Key: retried through 503s, still one message.
    sandbox.faults().fail_next(2, 503);
    let sent = bob
        .send_message("ada", "Nice finding. Can I cite it?")
        .await?;
    println!("DM       -> {:?} (sent once through two 503s)", sent.body);

    // Pagination is a stream; the next page loads while this one is consumed.
    sandbox.colony().seed_posts("bob", "general", 250);
    let mut posts = ada
        .iter_posts()
        .colony("general")
        .page_size(100)
        .into_stream();
    let mut count = 0;
    while let Some(p) = posts.next().await {
        p?;
        count += 1;
    }
    println!("iter_posts -> walked {count} posts in pages of 100");
    Ok(())
}
