//! A tour of agentwire against the embedded sandbox: no account, no network.
//!
//! ```text
//! cargo run --example tour
//! ```

use std::time::Duration;

use agentwire::promptev::v02::AgentEventKind;
use agentwire::promptev::{ChatEvent, DocumentResultExt, FileUpload, RunStatusExt};
use agentwire::Error;
use agentwire_sandbox::Sandbox;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    println!("sandbox listening on {}\n", sandbox.base_url());

    promptev(&sandbox).await?;
    promptev_v02(&sandbox).await?;
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

/// Promptev's previous product (promptev 0.2.0's API), which keeps working:
/// one-call triggers, sessions streamed over SSE, the key in the path.
async fn promptev_v02(sandbox: &Sandbox) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== Promptev 0.2 (agentwire::promptev::v02) ==");
    let client =
        agentwire::promptev::v02::Client::builder(sandbox.promptev().project_key().to_string())
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

    Ok(())
}

/// Promptev's current product: a chat turn streamed as typed frames (an
/// approval that waits for a person, files), documents in, the knowledge
/// base searched, an orchestration run followed to its end.
async fn promptev(sandbox: &Sandbox) -> Result<(), Box<dyn std::error::Error>> {
    println!("== Promptev (agentwire::promptev) ==");
    let client = agentwire::promptev::Client::builder(sandbox.promptev().api_key())
        .base_url(sandbox.base_url())
        .timeout(Duration::from_secs(10))
        .build()?;

    // Documents first, so that the agent and the knowledge base have some.
    let results = client
        .upload_documents([
            FileUpload::new("refunds.md", "Customers have 30 days to ask for a refund."),
            FileUpload::new("setup.exe", "MZ"),
        ])
        .await?;
    for r in &results {
        println!(
            "upload   -> {} {} {}",
            r.filename,
            if r.is_ok() { "landed" } else { "refused:" },
            r.error.as_deref().unwrap_or("")
        );
    }
    let found = client
        .search_knowledge_base("search")
        .field("query", "refund days")
        .await?;
    println!("search   -> {}", found["hits"][0]["document_name"]);

    // A turn streamed: every frame typed. The tool asks for approval; the
    // stream stays open until a person decides (here, the sandbox's handle).
    let mut turn = client
        .chat(
            "support-bot",
            "Email the refund policy to the CEO [sources] [approval] [suggest]",
        )
        .into_stream();
    let mut conversation = String::new();
    let mut answer = String::new();
    while let Some(event) = turn.next().await {
        match event? {
            ChatEvent::Conversation(c) => conversation = c.id,
            ChatEvent::Token(t) => answer.push_str(&t.content),
            ChatEvent::Step(s) => println!("  step     {} {}", s.name, s.status),
            ChatEvent::Sources(s) => println!("  sources  {} documents", s.items.len()),
            ChatEvent::ApprovalRequired(a) => {
                println!("  approval {} waits ({}); approving", a.tool_name, a.reason);
                sandbox.promptev().approve(&a.approval_id);
            }
            ChatEvent::ToolResult(r) => println!("  tool     {} ok={}", r.summary, r.ok),
            ChatEvent::Suggestions(s) => println!("  next?    {}", s.questions.join(" / ")),
            ChatEvent::Usage(u) => println!("  usage    {} units", u.units),
            ChatEvent::Done(_) => println!("  done"),
            other => println!("  {:?}", other.kind()),
        }
    }
    println!("chat     -> {answer}");

    // The next turn of the conversation, with a file, collected whole.
    let next = client
        .chat("support-bot", "What does this receipt say?")
        .conversation_id(&conversation)
        .file(FileUpload::new("receipt.txt", "Total: 42 EUR"))
        .answer()
        .await?;
    println!("follow-up-> {}", next.text);

    // A team of agents: started with a key (so a retry cannot run it twice),
    // then followed until it stops moving.
    sandbox.faults().fail_next(1, 503);
    let started = client
        .run_orchestration("month-end-close")
        .input("period", "2026-03")
        .idempotency_key("close-2026-03")
        .await?;
    println!(
        "run      -> {} {} (after an injected 503, retried with its key)",
        started.run_id, started.status
    );
    let run = client
        .wait_for_run(&started.run_id)
        .interval(Duration::from_millis(10))
        .await?;
    println!(
        "run done -> {} {}: {}",
        run.status,
        run.is_done(),
        run.output.unwrap_or_default()
    );

    // A chat turn is billed: after a 503 it is returned, not repeated.
    sandbox.faults().fail_next(1, 503);
    match client.chat("support-bot", "still there?").answer().await {
        Err(e @ Error::Server(_)) => println!("injected 503 -> {e} (sent once)"),
        other => println!("unexpected: {other:?}"),
    }
    // The error model: 402 is its own kind; a refusal names its field.
    sandbox.promptev().set_credits(Some(0));
    match client.chat("support-bot", "hello").answer().await {
        Err(e @ Error::InsufficientCredits(_)) => println!("no credits -> {e}"),
        other => println!("unexpected: {other:?}"),
    }
    sandbox.promptev().set_credits(None);
    match client.run_orchestration("month-end-close").await {
        Err(e @ Error::Validation(_)) => println!("missing input -> field {:?}: {e}", e.field()),
        other => println!("unexpected: {other:?}"),
    }
    match client.chat("support-bot", "   ").answer().await {
        Err(e @ Error::InvalidArgument { .. }) => {
            println!("empty message -> {e} (never sent, never billed)")
        }
        other => println!("unexpected: {other:?}"),
    }
    println!("client debug (no key in it): {client:?}");
    Ok(())
}
