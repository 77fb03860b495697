//! Mycel calls as mycel-sdk 0.1.83 makes them, against the sandbox: guest
//! owners, the backend's self-description, optimistic concurrency on
//! workflows, fields cleared with an explicit null, the owner sign-up a
//! program can finish against the standalone sandbox, and which calls are
//! retried when an answer is lost.

use std::sync::Arc;
use std::time::Duration;

use agentwire::mycel::{Client, ErrorExt, DEFAULT_TIMEOUT, STATE_CONFLICT};
use agentwire::{Error, ExposeSecret, RetryConfig};
use agentwire_sandbox::{Sandbox, DEFAULT_INVITE_CODE};
use serde_json::{json, Map, Value};

fn quick() -> RetryConfig {
    RetryConfig::default()
        .with_base_delay(Duration::from_millis(2))
        .with_max_delay(Duration::from_millis(10))
}

fn anonymous(sb: &Sandbox) -> Client {
    Client::builder(sb.base_url())
        .retry(quick())
        .build()
        .unwrap()
}

/// An owner's client, counting the attempts of each operation.
fn counted(sb: &Sandbox, token: &str) -> (Client, Arc<std::sync::Mutex<Vec<&'static str>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let c = Client::builder(sb.base_url())
        .token(token)
        .retry(quick())
        .on_request(move |i| log.lock().unwrap().push(i.operation))
        .build()
        .unwrap();
    (c, seen)
}

fn attempts(log: &std::sync::Mutex<Vec<&'static str>>, op: &str) -> usize {
    log.lock().unwrap().iter().filter(|o| **o == op).count()
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn a_guest_owner_gets_a_working_session_without_invite_or_email() {
    let sb = Sandbox::start().await.unwrap();
    let c = anonymous(&sb);
    let session = c.auth().create_guest_owner(Some("Visitor")).await.unwrap();
    assert_eq!(session.user.name, "Visitor");
    assert_eq!(session.user.user_type, "human");
    assert_eq!(session.user.extra["is_guest"], true);
    let token = session.token.expose_secret().to_owned();
    assert!(!format!("{session:?}").contains(&token));
    assert!(!serde_json::to_string(&session).unwrap().contains(&token));

    let guest = c.with_token(&token);
    let me = guest.me().whoami().await.unwrap();
    assert_eq!(me.id, session.user.id);
    assert_eq!(me.name, "Visitor");
    // A guest can start chatting at once.
    let other = c.auth().create_guest_owner(None).await.unwrap();
    assert!(other.user.name.starts_with("Guest "), "{}", other.user.name);
    let chat = guest.chats().ensure_direct(&other.user.id).await.unwrap();
    assert!(chat.has_member(&other.user.id));
}

#[tokio::test]
async fn backend_info_reads_the_backends_own_document() {
    let sb = Sandbox::start().await.unwrap();
    let info = anonymous(&sb).backend_info().await.unwrap();
    assert_eq!(info.base_url, sb.base_url());
    assert!(info.openapi.starts_with("3.1"), "{}", info.openapi);
    assert_eq!(info.title, "Mycel Web Backend");
    assert_eq!(info.version, "0.1.83");
    let caps = info.capabilities;
    assert!(caps.guest_auth && caps.external_users && caps.chat_messages && caps.runtime_inbox);
    assert!(info.serves("/api/chats/{chat_id}/read"));
    assert!(!info.serves("/api/chats/{chat_id}/reactions"));

    // A backend without the document is an error, not an empty answer.
    let bare = agentwire_tests::serve(axum::Router::new()).await;
    let err = Client::new(bare).unwrap().backend_info().await.unwrap_err();
    assert!(matches!(&err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn workflow_changes_with_an_expected_state_version_refuse_a_stale_one() {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb.mycel().register_owner("o@example.com", "pw");
    let peer = sb.mycel().create_external(&owner.id, "peer", "Peer");
    let c = anonymous(&sb).with_token(&owner.token);
    let chat = c.chats().ensure_direct(&peer.id).await.unwrap();
    let chats = c.chats();

    let first = chats.set_workflow(&chat.id, "review").await.unwrap();
    assert_eq!(first.state_version, Some(1));
    let second = chats
        .set_workflow(&chat.id, "review")
        .state("paused")
        .expected_state_version(1)
        .await
        .unwrap();
    assert_eq!(second.state_version, Some(2));
    // Someone else's change computed from version 1 comes too late.
    let err = chats
        .set_workflow(&chat.id, "review")
        .state("stopped")
        .expected_state_version(1)
        .await
        .unwrap_err();
    assert!(err.is_state_conflict(), "{err:?}");
    assert_eq!(err.code(), Some(STATE_CONFLICT));
    assert!(!err.is_not_caught_up());
    let now = chats.get_workflow(&chat.id).await.unwrap();
    assert_eq!((now.state.as_str(), now.state_version), ("paused", Some(2)));

    let event = chats
        .create_workflow_event(&chat.id, "approval")
        .await
        .unwrap();
    assert_eq!(event.state_version, Some(1));
    let settled = chats
        .update_workflow_event(&chat.id, &event.id)
        .state("approved")
        .settled_at(1_700_000_000.0)
        .expected_state_version(1)
        .await
        .unwrap();
    assert_eq!(settled.state_version, Some(2));
    let err = chats
        .update_workflow_event(&chat.id, &event.id)
        .state("rejected")
        .expected_state_version(1)
        .await
        .unwrap_err();
    assert!(err.is_state_conflict(), "{err:?}");
    // Without a version the change applies whatever happened before; a
    // field can be cleared: the event is open again.
    let reopened = chats
        .update_workflow_event(&chat.id, &event.id)
        .state("open")
        .clear_settled_at()
        .await
        .unwrap();
    assert_eq!(reopened.settled_at, None);
    assert_eq!(reopened.state.as_deref(), Some("open"));
    assert_eq!(reopened.state_version, Some(3));
}

#[tokio::test]
async fn task_updates_can_clear_a_field_with_null() {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb.mycel().register_owner("o@example.com", "pw");
    let peer = sb.mycel().create_external(&owner.id, "peer", "Peer");
    let c = anonymous(&sb).with_token(&owner.token);
    let chat = c.chats().ensure_direct(&peer.id).await.unwrap();
    let chats = c.chats();
    let task = chats
        .create_task(&chat.id, "ship it")
        .owner("peer")
        .active_form("Shipping")
        .blocks(["task_x"])
        .metadata(map(json!({"k": 1})))
        .await
        .unwrap();
    assert_eq!(task.owner.as_deref(), Some("peer"));

    // Omitted fields stay; cleared ones go.
    let unassigned = chats
        .update_task(&chat.id, &task.id)
        .clear_owner()
        .clear_blocks()
        .status("in_progress")
        .await
        .unwrap();
    assert_eq!(unassigned.owner, None, "unassigned");
    assert!(unassigned.blocks.is_empty());
    assert_eq!(unassigned.active_form.as_deref(), Some("Shipping"), "kept");
    assert_eq!(unassigned.metadata, map(json!({"k": 1})), "kept");
    assert_eq!(unassigned.status, "in_progress");
    let stored = chats.get_task(&chat.id, &task.id).await.unwrap();
    assert_eq!(stored.owner, None);

    // A setter after a clear wins, and the other way round.
    let reassigned = chats
        .update_task(&chat.id, &task.id)
        .clear_owner()
        .owner("owner-again")
        .metadata(map(json!({"k": 2})))
        .clear_metadata()
        .await
        .unwrap();
    assert_eq!(reassigned.owner.as_deref(), Some("owner-again"));
    assert!(reassigned.metadata.is_empty());
}

#[tokio::test]
async fn a_lost_answer_to_a_delete_or_put_is_reported_and_not_retried_into_a_false_failure() {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb.mycel().register_owner("o@example.com", "pw");
    let peer = sb.mycel().create_external(&owner.id, "peer", "Peer");
    let (c, log) = counted(&sb, &owner.token);
    let chat = c.chats().ensure_direct(&peer.id).await.unwrap();
    let chats = c.chats();
    let task = chats.create_task(&chat.id, "to delete").await.unwrap();

    // The delete happens, its answer is lost. Repeated, it would come back
    // 404 for a delete that did happen: it is reported as the lost answer.
    sb.faults().drop_answer_next(1);
    let err = chats.delete_task(&chat.id, &task.id).await.unwrap_err();
    assert!(matches!(&err, Error::Network(_)), "{err:?}");
    assert_eq!(attempts(&log, "chats_tasks_delete"), 1, "sent once");
    let gone = chats.get_task(&chat.id, &task.id).await.unwrap_err();
    assert!(
        matches!(&gone, Error::NotFound(_)),
        "it did happen: {gone:?}"
    );

    // A versioned PUT: repeated, it would conflict with its own change.
    chats.set_workflow(&chat.id, "review").await.unwrap();
    sb.faults().drop_answer_next(1);
    let err = chats
        .set_workflow(&chat.id, "review")
        .state("paused")
        .expected_state_version(1)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Network(_)), "{err:?}");
    assert!(!err.is_state_conflict());
    assert_eq!(
        attempts(&log, "chats_workflow_set"),
        2,
        "one each, no repeat"
    );
    let now = chats.get_workflow(&chat.id).await.unwrap();
    assert_eq!((now.state.as_str(), now.state_version), ("paused", Some(2)));

    // The other DELETEs alike.
    for (op, result) in [
        ("chats_workflow_delete", {
            sb.faults().drop_answer_next(1);
            chats.delete_workflow(&chat.id).await.map(drop)
        }),
        ("chats_workflow_events_delete", {
            let event = chats.create_workflow_event(&chat.id, "k").await.unwrap();
            sb.faults().drop_answer_next(1);
            chats
                .delete_workflow_event(&chat.id, &event.id)
                .await
                .map(drop)
        }),
    ] {
        assert!(
            matches!(&result, Err(Error::Network(_))),
            "{op}: {result:?}"
        );
        assert_eq!(attempts(&log, op), 1, "{op} sent once");
    }

    // Reads are safe to repeat: the same lost answer is retried away.
    sb.faults().drop_answer_next(1);
    assert!(chats.list_tasks(&chat.id).await.unwrap().is_empty());
    assert_eq!(attempts(&log, "chats_tasks_list"), 2);
}

#[tokio::test]
async fn the_owner_sign_up_completes_with_the_code_from_the_mail_catcher() {
    let sb = Sandbox::start().await.unwrap();
    let c = anonymous(&sb);
    let email = "new-owner@example.com";
    c.auth()
        .send_otp(email, "pw-new-owner", DEFAULT_INVITE_CODE)
        .await
        .unwrap();
    // What a program against the standalone sandbox reads: the mail, over
    // HTTP, as from a local mail catcher.
    let mail: Value = reqwest::get(format!("{}/_sandbox/mycel/mail", sb.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = &mail["messages"][0];
    assert_eq!(last["to"], email);
    let code = last["code"].as_str().unwrap().to_owned();
    assert!(last["body"].as_str().unwrap().contains(&code));
    assert_eq!(sb.mycel().sent_mail()[0].code, code);

    let verified = c.auth().verify_otp(email, &code).await.unwrap();
    let session = c
        .auth()
        .complete_register(&verified.temp_token, DEFAULT_INVITE_CODE)
        .await
        .unwrap();
    let me = c
        .with_token(session.token.expose_secret())
        .me()
        .whoami()
        .await
        .unwrap();
    assert_eq!(me.email.as_deref(), Some(email));
}

#[tokio::test]
async fn the_request_timeout_is_mycel_sdks_unless_configured() {
    let sb = Sandbox::start().await.unwrap();
    let who = sb.mycel().register_owner("o@example.com", "pw");
    assert_eq!(DEFAULT_TIMEOUT, Duration::from_secs(15));
    // A wait must end before the request does: 15 s by default.
    let c = anonymous(&sb).with_token(&who.token);
    let err = c
        .notifications()
        .wait(Duration::from_secs(20))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { name: "timeout", message } if message.contains("(15.0 s)")),
        "{err:?}"
    );
    let longer = Client::builder(sb.base_url())
        .token(&who.token)
        .timeout(Duration::from_secs(25))
        .build()
        .unwrap();
    let err = longer
        .notifications()
        .wait(Duration::from_secs(28))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { message, .. } if message.contains("(25.0 s)")),
        "{err:?}"
    );
}
