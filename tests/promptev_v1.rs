//! Promptev's current product (promptev 1.3.0's API, `/api/v1`) end to end:
//! `agentwire::promptev::Client` against the embedded sandbox over HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire::promptev::{
    ChatEvent, ChatEventKind, Client, ClientBuilder, DocumentResultExt, FileUpload,
    KnowledgeAction, RunStatusExt, UploadMode, MAX_FILE_BYTES,
};
use agentwire::Error;
use agentwire_sandbox::Sandbox;
use futures::StreamExt;
use serde_json::{json, Map, Value};

async fn setup() -> (Sandbox, Client) {
    let sandbox = Sandbox::start().await.expect("sandbox starts");
    let client = client_for(&sandbox, |b| b);
    (sandbox, client)
}

fn client_for(sandbox: &Sandbox, tweak: impl FnOnce(ClientBuilder) -> ClientBuilder) -> Client {
    let builder = Client::builder(sandbox.promptev().api_key())
        .base_url(sandbox.base_url())
        // Quick retries in tests; the policy is otherwise the default one.
        .retry(agentwire::promptev::default_retry().with_base_delay(Duration::from_millis(2)));
    tweak(builder).build().expect("valid client")
}

async fn frames(client: &Client, slug: &str, message: &str) -> Vec<ChatEvent> {
    client
        .chat(slug, message)
        .into_stream()
        .map(|e| e.expect("frame"))
        .collect()
        .await
}

#[tokio::test]
async fn a_chat_turn_streams_typed_frames_in_order() {
    let (_sb, client) = setup().await;
    let events = frames(
        &client,
        "support-bot",
        "Refunds? [think] [sources] [tool] [artifact] [suggest] [new-kind] [keepalive]",
    )
    .await;
    let kinds: Vec<ChatEventKind> = events.iter().map(ChatEvent::kind).collect();
    let first_token = kinds
        .iter()
        .position(|k| *k == ChatEventKind::Token)
        .unwrap();
    assert_eq!(
        kinds[..first_token],
        [
            ChatEventKind::Conversation,
            ChatEventKind::Thinking,
            ChatEventKind::Step,
            ChatEventKind::Step,
            ChatEventKind::Sources,
            ChatEventKind::ToolCall,
            ChatEventKind::ToolResult,
            ChatEventKind::Artifact,
            ChatEventKind::Other("handoff".into()),
        ]
    );
    assert_eq!(
        kinds[kinds.len() - 3..],
        [
            ChatEventKind::Suggestions,
            ChatEventKind::Usage,
            ChatEventKind::Done
        ]
    );
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Token(t) => Some(t.content.as_str()),
            _ => None,
        })
        .collect();
    assert!(text.starts_with("[Support] Refunds? [think]"), "{text}");
    for e in &events {
        match e {
            ChatEvent::Conversation(c) => assert!(c.id.starts_with("conv_")),
            ChatEvent::Thinking(t) => assert_eq!(t.content, "Considering the question."),
            ChatEvent::Sources(s) => {
                assert_eq!(s.items.last().unwrap().document_id, "doc_policy")
            }
            ChatEvent::ToolCall(c) => {
                assert_eq!((c.id.as_str(), c.name.as_str()), ("call_1", "lookup_order"));
                assert_eq!(c.args["order"], "A-1");
            }
            ChatEvent::ToolResult(r) => assert!(r.ok && r.summary == "Order A-1 shipped"),
            ChatEvent::Artifact(a) => {
                assert_eq!((a.size, a.exports.len(), a.url.as_deref()), (2048, 2, None))
            }
            ChatEvent::Suggestions(s) => assert_eq!(s.questions.len(), 2),
            ChatEvent::Usage(u) => {
                assert_eq!((u.units, u.tool_calls), (2, Some(1)));
                assert_eq!(u.tokens.as_ref().unwrap()["input"], 12);
            }
            ChatEvent::Other { kind, raw } => {
                assert_eq!(kind, "handoff");
                assert_eq!(raw, &json!({"type": "handoff", "to": "billing-bot"}));
            }
            ChatEvent::Step(s) => assert_eq!(s.name, "retrieving"),
            _ => {}
        }
    }
    // Every frame keeps what was sent.
    assert_eq!(events[0].raw()["type"], "conversation");
}

#[tokio::test]
async fn answer_collects_the_tokens_and_a_conversation_continues() {
    let (sb, client) = setup().await;
    let first = client
        .chat("support-bot", "  What is our refund policy?  ")
        .answer()
        .await
        .unwrap();
    assert_eq!(first.text, "[Support] What is our refund policy?");
    assert_eq!(first.usage().unwrap().units, 1);
    assert!(matches!(first.events.last(), Some(ChatEvent::Done(_))));

    let mut places = Map::new();
    places.insert(
        "headers".into(),
        json!({"Authorization": "Bearer end-user"}),
    );
    let second = client
        .chat("support-bot", "And exchanges?")
        .conversation_id(&first.conversation_id)
        .on_behalf_of_groups("ava@acme.example", ["finance"])
        .model("openai", "gpt-5-mini")
        .tool_input("tool-7", places)
        .answer()
        .await
        .unwrap();
    assert_eq!(second.conversation_id, first.conversation_id);
    assert_eq!(
        second.text,
        "[Support] And exchanges? (turn 2) for ava@acme.example via openai/gpt-5-mini with inputs for tool-7"
    );
    let turns = sb.promptev().chat_turns(&first.conversation_id).unwrap();
    // The message is sent trimmed, as promptev 1.3.0 sends it.
    assert_eq!(turns[0].message, "What is our refund policy?");
    assert_eq!(turns[1].subject.as_deref(), Some("ava@acme.example"));
    assert_eq!(turns[1].groups, Some(vec!["finance".to_string()]));
    assert_eq!(turns[1].tool_inputs, ["tool-7"]);
    assert!(!turns[1].multipart);

    let solo = client
        .chat("support-bot", "hi")
        .on_behalf_of("bo@acme.example")
        .answer()
        .await
        .unwrap();
    let turn = &sb.promptev().chat_turns(&solo.conversation_id).unwrap()[0];
    assert_eq!(
        (turn.subject.as_deref(), turn.groups.as_ref()),
        (Some("bo@acme.example"), None)
    );
}

#[tokio::test]
async fn files_travel_as_a_multipart_form_and_may_stand_alone() {
    let (sb, client) = setup().await;
    let answer = client
        .chat("support-bot", "")
        .file(FileUpload::new("receipt.png", vec![0x89, b'P', b'N', b'G']))
        .files([("notes.txt", "total: 42")])
        .answer()
        .await
        .unwrap();
    assert_eq!(answer.text, "[Support]  (files: receipt.png, notes.txt)");
    let turn = &sb.promptev().chat_turns(&answer.conversation_id).unwrap()[0];
    assert!(turn.multipart);
    assert_eq!(turn.files, ["receipt.png", "notes.txt"]);

    // Options ride in the payload part too.
    let next = client
        .chat("support-bot", "and this?")
        .conversation_id(&answer.conversation_id)
        .model("anthropic", "claude")
        .file(("scan.pdf", "%PDF"))
        .answer()
        .await
        .unwrap();
    assert!(
        next.text
            .ends_with("(turn 2) (files: scan.pdf) via anthropic/claude"),
        "{}",
        next.text
    );
}

#[tokio::test]
async fn an_approval_keeps_the_stream_open_until_a_person_decides() {
    let (sb, client) = setup().await;
    for approve in [true, false] {
        let mut turn = client
            .chat("support-bot", "Email the CEO [approval]")
            .into_stream();
        let approval = loop {
            match turn.next().await.expect("a frame").unwrap() {
                ChatEvent::ApprovalRequired(a) => break a,
                ChatEvent::Done(_) | ChatEvent::Error(_) => panic!("ended before the approval"),
                _ => {}
            }
        };
        assert_eq!(approval.tool_name, "send_email");
        assert_eq!(approval.channel, "inline");
        assert_eq!(approval.args["to"], "ceo@acme.example");
        assert_eq!(approval.expires_at.as_deref(), Some("2026-12-01T12:00:00Z"));
        assert_eq!(
            sb.promptev().pending_approvals(),
            vec![approval.approval_id.clone()]
        );
        let decided = if approve {
            sb.promptev().approve(&approval.approval_id)
        } else {
            sb.promptev().deny(&approval.approval_id)
        };
        assert!(decided);
        let rest: Vec<ChatEvent> = turn.map(|e| e.unwrap()).collect().await;
        match &rest[0] {
            ChatEvent::ToolResult(r) => assert_eq!(r.ok, approve),
            other => panic!("{other:?}"),
        }
        assert!(matches!(rest.last(), Some(ChatEvent::Done(_))));
        assert!(sb.promptev().pending_approvals().is_empty());
    }

    // answer() waits through the approval and reports it.
    let sb2 = sb.promptev();
    let waiting = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .chat("support-bot", "again [approval]")
                .answer()
                .await
        }
    });
    let id = loop {
        if let Some(id) = sb2.pending_approvals().pop() {
            break id;
        }
        tokio::task::yield_now().await;
    };
    sb2.approve(&id);
    let answer = waiting.await.unwrap().unwrap();
    assert_eq!(answer.approvals().next().unwrap().approval_id, id);
    assert_eq!(answer.text, "[Support] again [approval]");
}

#[tokio::test]
async fn an_error_frame_ends_the_turn_and_answer_returns_it() {
    let (_sb, client) = setup().await;
    let events = frames(&client, "support-bot", "break [error]").await;
    let last = events.last().unwrap();
    assert!(last.is_terminal());
    match last {
        ChatEvent::Error(e) => assert_eq!(e.message, "The model provider failed"),
        other => panic!("{other:?}"),
    }
    match client.chat("support-bot", "again [error]").answer().await {
        Err(Error::Stream { message, raw, .. }) => {
            assert_eq!(message, "The model provider failed");
            assert_eq!(raw["type"], "error");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn what_the_service_would_refuse_and_bill_is_refused_before_sending() {
    let (sb, client) = setup().await;
    let before = sb.request_count();
    let first_error = |chat: agentwire::promptev::Chat| async move {
        chat.into_stream().next().await.unwrap().unwrap_err()
    };
    let named = |e: &Error| match e {
        Error::InvalidArgument { name, .. } => *name,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        named(&first_error(client.chat("support-bot", "   ")).await),
        "message"
    );
    let long = "x".repeat(agentwire::promptev::MAX_MESSAGE_CHARS + 1);
    assert_eq!(
        named(&first_error(client.chat("support-bot", long)).await),
        "message"
    );
    let six = (0..6).map(|i| (format!("f{i}.txt"), "x"));
    assert_eq!(
        named(&first_error(client.chat("support-bot", "hi").files(six)).await),
        "files"
    );
    let big = FileUpload::new("big.pdf", vec![0u8; MAX_FILE_BYTES + 1]);
    assert_eq!(
        named(&first_error(client.chat("support-bot", "hi").file(big)).await),
        "files"
    );
    assert_eq!(named(&first_error(client.chat(" ", "hi")).await), "slug");
    assert_eq!(
        named(
            &client
                .upload_documents(Vec::<FileUpload>::new())
                .await
                .unwrap_err()
        ),
        "files"
    );
    let many = (0..21).map(|i| (format!("d{i}.md"), "x"));
    assert_eq!(
        named(&client.upload_documents(many).await.unwrap_err()),
        "files"
    );
    let odd_mode = client
        .upload_documents_in([("a.md", "x")], Some(UploadMode::from("fast")))
        .await
        .unwrap_err();
    assert_eq!(named(&odd_mode), "mode");
    assert_eq!(
        named(&client.run_orchestration("").await.unwrap_err()),
        "slug"
    );
    let mut run = client.run_orchestration("contract-review");
    for i in 0..6 {
        run = run.file("contract", (format!("c{i}.pdf"), "x"));
    }
    assert_eq!(named(&run.await.unwrap_err()), "files");
    assert_eq!(named(&client.get_run("  ").await.unwrap_err()), "run_id");
    assert_eq!(
        named(&client.search_knowledge_base("").await.unwrap_err()),
        "action"
    );
    assert_eq!(sb.request_count(), before, "nothing was sent");

    // At the limit, it goes.
    let at_limit = "y".repeat(agentwire::promptev::MAX_MESSAGE_CHARS);
    let answer = client.chat("support-bot", at_limit).answer().await.unwrap();
    assert!(answer.text.len() > agentwire::promptev::MAX_MESSAGE_CHARS);

    for key in ["", "   "] {
        assert!(matches!(Client::new(key), Err(Error::Config(_))));
    }
}

#[tokio::test]
async fn a_chat_turn_is_never_retried() {
    let (sb, client) = setup().await;
    for status in [502, 503, 504] {
        let before = sb.request_count();
        sb.faults().fail_next(1, status);
        let first = client
            .chat("support-bot", "hi")
            .into_stream()
            .next()
            .await
            .unwrap();
        assert!(
            matches!(&first, Err(Error::Server(e)) if e.status == status),
            "{first:?}"
        );
        assert_eq!(sb.request_count() - before, 1, "a turn is sent once");
    }
    // With files too (the hand-sent form).
    let before = sb.request_count();
    sb.faults().fail_next(1, 503);
    let err = client
        .chat("support-bot", "hi")
        .file(("a.txt", "x"))
        .answer()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert_eq!(sb.request_count() - before, 1);
    // A connection that could not be made is not tried again either.
    let attempts = Arc::new(Mutex::new(0));
    let counter = attempts.clone();
    let nowhere = Client::builder("fk_live_x")
        .base_url(agentwire_tests::closed_port_url().await)
        .on_request(move |_| *counter.lock().unwrap() += 1)
        .build()
        .unwrap();
    let err = nowhere
        .chat("support-bot", "hi")
        .answer()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err:?}");
    assert_eq!(*attempts.lock().unwrap(), 1);
}

#[tokio::test]
async fn the_error_model_maps_onto_typed_errors() {
    let (sb, client) = setup().await;
    let wrong = client_for(&sb, |_| {
        Client::builder("fk_live_wrong_key_0000").base_url(sb.base_url())
    });
    let err = wrong.chat("support-bot", "hi").answer().await.unwrap_err();
    match &err {
        Error::Auth(e) => assert_eq!(
            (e.status, e.message.as_str()),
            (401, "Invalid or missing API key")
        ),
        other => panic!("{other:?}"),
    }
    assert!(!format!("{err} {err:?} {wrong:?}").contains("fk_live_wrong_key_0000"));

    match client.chat("draft-bot", "hi").answer().await {
        Err(Error::NotFound(e)) => assert_eq!(e.message, "Agent not found"),
        other => panic!("{other:?}"),
    }
    let err = client
        .chat("support-bot", "hi")
        .conversation_id("conv_nobody")
        .answer()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = client
        .chat("support-bot", "hi")
        .model("acme", "m1")
        .answer()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(ref e) if e.status == 400),
        "{err:?}"
    );
    assert_eq!(err.field(), Some("model"));
    let err = client
        .chat("no-files-bot", "hi")
        .file(("a.txt", "x"))
        .answer()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api(ref e) if e.status == 409),
        "{err:?}"
    );
    assert_eq!(
        err.api().unwrap().message,
        "This agent does not take chat attachments"
    );
    let err = client
        .chat("support-bot", "hi")
        .file(("tool.exe", "MZ"))
        .answer()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api(ref e) if e.status == 415),
        "{err:?}"
    );
    assert_eq!(err.field(), Some("files"));
    let err = client
        .run_orchestration("month-end-close")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(ref e) if e.status == 422),
        "{err:?}"
    );
    assert_eq!(err.field(), Some("period"));
    assert_eq!(err.api().unwrap().message, "period is required");

    sb.promptev().set_credits(Some(1));
    client
        .chat("support-bot", "last paid call")
        .answer()
        .await
        .unwrap();
    let err = client
        .chat("support-bot", "one more")
        .answer()
        .await
        .unwrap_err();
    match &err {
        Error::InsufficientCredits(e) => {
            assert_eq!(
                (e.status, e.message.as_str()),
                (402, "The workspace is out of credits")
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_transient());
    sb.promptev().set_credits(None);

    sb.faults().fail_next_with_retry_after(1, 429, 7);
    match client.get_run("run_x").await {
        Err(Error::RateLimited { retry_after, error }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert_eq!(error.status, 429);
        }
        other => panic!("{other:?}"),
    }
    // An older deployment's `detail` is read too.
    sb.faults().fail_next(1, 422);
    let err = client.search_knowledge_base("discover").await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
    assert_eq!(err.api().unwrap().message, "injected 422");
    assert_eq!(err.field(), None);
}

#[tokio::test]
async fn documents_are_uploaded_with_a_result_per_file() {
    let (sb, client) = setup().await;
    let results = client
        .upload_documents([
            FileUpload::new("refunds.md", "Customers have 30 days to ask for a refund."),
            FileUpload::new("virus.exe", "MZ"),
            FileUpload::new("empty.txt", ""),
        ])
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok());
    assert_eq!(results[0].filename, "refunds.md");
    assert!(results[0]
        .document_id
        .as_deref()
        .unwrap()
        .starts_with("doc_"));
    assert_eq!((results[0].chunks, results[0].units), (Some(1), Some(1)));
    assert!(!results[1].is_ok());
    assert_eq!(results[1].status, "failed");
    assert_eq!(results[1].error.as_deref(), Some("unsupported file type"));
    assert_eq!(results[2].error.as_deref(), Some("the file is empty"));
    assert_eq!(sb.promptev().document_names(), ["refunds.md"]);

    let one = client
        .upload_document(("handbook.md", "# Handbook"))
        .await
        .unwrap();
    assert!(one.is_ok());
    let graph = client
        .upload_documents_in([("graph.md", "entities")], Some(UploadMode::Graph))
        .await
        .unwrap();
    assert_eq!(graph[0].units, Some(5));
    assert_eq!(
        sb.promptev().document_names(),
        ["refunds.md", "handbook.md", "graph.md"]
    );

    // From disk, too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.md");
    std::fs::write(&path, "from disk").unwrap();
    let file = FileUpload::read(&path).unwrap();
    assert_eq!(
        (file.name(), file.content_type()),
        ("disk.md", "text/markdown")
    );
    assert!(client.upload_document(file).await.unwrap().is_ok());
    assert!(matches!(
        FileUpload::read(dir.path().join("missing.md")),
        Err(Error::InvalidArgument { name: "files", .. })
    ));
}

#[tokio::test]
async fn runs_progress_through_their_states() {
    let (sb, client) = setup().await;
    let started = client
        .run_orchestration("month-end-close")
        .input("period", "2026-03")
        .await
        .unwrap();
    assert_eq!(started.status, "accepted");
    let states: Vec<String> = {
        let mut s = Vec::new();
        for _ in 0..3 {
            let run = client.get_run(&started.run_id).await.unwrap();
            assert_eq!(run.orchestration, "month-end-close");
            s.push(run.status.clone());
            if run.is_done() {
                assert_eq!(
                    run.output.as_deref(),
                    Some("month-end-close done (period=2026-03)")
                );
            } else {
                assert_eq!(run.output, None);
            }
        }
        s
    };
    assert_eq!(states, ["running", "revising", "delivered"]);

    let again = client
        .run_orchestration("month-end-close")
        .inputs(Map::from_iter([(
            "period".to_string(),
            Value::from("2026-04"),
        )]))
        .await
        .unwrap();
    let done = client
        .wait_for_run(&again.run_id)
        .interval(Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(done.status, "delivered");
    assert_eq!(sb.promptev().run(&again.run_id).unwrap().reads, 3);

    let failing = client.run_orchestration("failing-team").await.unwrap();
    let failed = client
        .wait_for_run(&failing.run_id)
        .interval(Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(
        (failed.status.as_str(), failed.error.as_deref()),
        ("failed", Some("An agent of the team failed"))
    );

    let err = client.run_orchestration("paused-team").await.unwrap_err();
    assert!(
        matches!(err, Error::Api(ref e) if e.status == 409),
        "{err:?}"
    );
    let err = client.run_orchestration("draft-team").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = client.get_run("run_nowhere").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn run_files_are_parts_named_after_their_inputs() {
    let (sb, client) = setup().await;
    let started = client
        .run_orchestration("contract-review")
        .input("matter", "Acme renewal")
        .file("contract", ("lease.pdf", "%PDF-lease"))
        .file("exhibits", ("a.pdf", "%PDF-a"))
        .file("exhibits", ("b.pdf", "%PDF-b"))
        .await
        .unwrap();
    let record = sb.promptev().run(&started.run_id).unwrap();
    assert_eq!(record.inputs["matter"], "Acme renewal");
    assert_eq!(
        record.files,
        [
            ("contract".to_string(), "lease.pdf".to_string()),
            ("exhibits".to_string(), "a.pdf".to_string()),
            ("exhibits".to_string(), "b.pdf".to_string()),
        ]
    );
    let err = client
        .run_orchestration("contract-review")
        .input("matter", "x")
        .file("contract", ("c.pdf", "x"))
        .file("appendix", ("d.pdf", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(err.field(), Some("appendix"));
    let err = client
        .run_orchestration("contract-review")
        .input("matter", "x")
        .input("contract", "not a file")
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("contract"));
}

#[tokio::test]
async fn a_run_start_is_retried_only_when_it_carries_an_idempotency_key() {
    let (sb, client) = setup().await;
    let before = sb.request_count();
    sb.faults().fail_next(1, 503);
    let err = client
        .run_orchestration("month-end-close")
        .input("period", "2026-03")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server(_)), "{err:?}");
    assert_eq!(sb.request_count() - before, 1, "without a key: sent once");
    assert_eq!(sb.promptev().run_count(), 0);

    let before = sb.request_count();
    sb.faults().fail_next(1, 503);
    let started = client
        .run_orchestration("month-end-close")
        .input("period", "2026-03")
        .idempotency_key("close-2026-03")
        .await
        .unwrap();
    assert_eq!(sb.request_count() - before, 2, "with a key: retried");
    let repeat = client
        .run_orchestration("month-end-close")
        .input("period", "2026-03")
        .idempotency_key("close-2026-03")
        .await
        .unwrap();
    assert_eq!(repeat.run_id, started.run_id);
    assert_eq!(sb.promptev().run_count(), 1, "the team ran once");

    // The hand-sent form with files follows the same rule.
    let before = sb.request_count();
    sb.faults().fail_next(1, 502);
    client
        .run_orchestration("contract-review")
        .input("matter", "m")
        .file("contract", ("c.pdf", "x"))
        .idempotency_key("review-1")
        .await
        .unwrap();
    assert_eq!(sb.request_count() - before, 2);
    let before = sb.request_count();
    sb.faults().fail_next(1, 502);
    client
        .run_orchestration("contract-review")
        .input("matter", "m")
        .file("contract", ("c.pdf", "x"))
        .await
        .unwrap_err();
    assert_eq!(sb.request_count() - before, 1);
    assert_eq!(sb.promptev().run_count(), 2);
}

#[tokio::test]
async fn the_knowledge_base_answers_its_actions() {
    let (sb, client) = setup().await;
    client
        .upload_documents([
            ("refunds.md", "Customers have 30 days to ask for a refund."),
            ("shipping.md", "Orders ship within 2 days."),
        ])
        .await
        .unwrap();
    let overview = client
        .search_knowledge_base(KnowledgeAction::Discover)
        .await
        .unwrap();
    assert_eq!(overview["documents"], 2);
    assert_eq!(overview["actions"].as_array().unwrap().len(), 13);

    let found = client
        .search_knowledge_base("search")
        .field("query", "refund days")
        .field("top_k", 1)
        .field("mode", Value::Null)
        .await
        .unwrap();
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["document_name"], "refunds.md");
    let id = hits[0]["document_id"].as_str().unwrap().to_owned();
    let doc = client
        .search_knowledge_base(KnowledgeAction::GetDoc)
        .field("document_id", id.as_str())
        .await
        .unwrap();
    assert_eq!(
        doc["document"]["text"],
        "Customers have 30 days to ask for a refund."
    );
    let list = client.search_knowledge_base("list").await.unwrap();
    assert_eq!(list["documents"].as_array().unwrap().len(), 2);

    let err = client.search_knowledge_base("search").await.unwrap_err();
    assert_eq!((err.status(), err.field()), (Some(422), Some("query")));
    let err = client.search_knowledge_base("summon").await.unwrap_err();
    assert_eq!(err.field(), Some("action"));

    // A read sent as POST: retried like a GET.
    let before = sb.request_count();
    sb.faults().fail_next(1, 503);
    client.search_knowledge_base("discover").await.unwrap();
    assert_eq!(sb.request_count() - before, 2);
    // get_run is a GET: retried.
    let started = client.run_orchestration("failing-team").await.unwrap();
    let before = sb.request_count();
    sb.faults().fail_next(1, 504);
    assert_eq!(
        client.get_run(&started.run_id).await.unwrap().status,
        "running"
    );
    assert_eq!(sb.request_count() - before, 2);
}

#[tokio::test]
async fn the_key_is_a_bearer_header_and_never_in_a_url() {
    let sb = Sandbox::start().await.unwrap();
    let urls = Arc::new(Mutex::new(Vec::new()));
    let seen = urls.clone();
    let client = client_for(&sb, |b| {
        b.on_request(move |i| seen.lock().unwrap().push(i.url.clone()))
    });
    client.chat("support-bot", "hi").answer().await.unwrap();
    client.upload_document(("a.md", "x")).await.unwrap();
    let key = sb.promptev().api_key();
    let urls = urls.lock().unwrap();
    assert_eq!(urls.len(), 2);
    assert!(
        urls.iter()
            .all(|u| !u.contains(&key) && !u.contains("REDACTED")),
        "{urls:?}"
    );
    assert!(!format!("{client:?}").contains(&key));
    assert_eq!(client.base_url(), sb.base_url());
    assert_eq!(
        agentwire::promptev::CONSOLE_BASE_URL,
        "https://console.promptev.ai"
    );
    assert_eq!(
        agentwire::promptev::DEFAULT_BASE_URL,
        "https://api.promptev.ai"
    );
}
