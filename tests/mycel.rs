//! Mycel end to end against the sandbox: registration and login, external
//! identities, the chat / relationship / join-request / mute flows of
//! mycel-sdk's README, history paging, caught-up sends, workflows and tasks,
//! threads and agents, and the runtime inbox (drain, wait, WebSocket stream
//! with reconnects, resume and replay overflow).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agentwire::mycel::{
    types, ChatKind, Client, DeliveryScope, ErrorExt, RelationshipState, NOT_CAUGHT_UP,
};
use agentwire::{Error, ExposeSecret, Raw, RetryConfig};
use agentwire_sandbox::{MycelIdentity, Sandbox, DEFAULT_INVITE_CODE};
use futures::StreamExt;
use serde_json::{json, Map, Value};

fn quick_retry() -> RetryConfig {
    RetryConfig::default()
        .with_base_delay(Duration::from_millis(2))
        .with_max_delay(Duration::from_millis(10))
}

/// A client of the sandbox without a token.
fn anonymous(sb: &Sandbox) -> Client {
    Client::builder(sb.base_url())
        .retry(quick_retry())
        .build()
        .unwrap()
}

fn as_user(sb: &Sandbox, who: &MycelIdentity) -> Client {
    anonymous(sb).with_token(&who.token)
}

/// An owner, and an external agent identity of that owner.
struct World {
    sb: Sandbox,
    owner: MycelIdentity,
    owner_c: Client,
}

async fn world() -> World {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb.mycel().register_owner("owner@example.com", "pw-owner");
    let owner_c = as_user(&sb, &owner);
    World { sb, owner, owner_c }
}

impl World {
    fn external(&self, id: &str) -> (MycelIdentity, Client) {
        let who = self.sb.mycel().create_external(&self.owner.id, id, id);
        let c = as_user(&self.sb, &who);
        (who, c)
    }

    /// Two external agents with an approved ("visit") relationship.
    async fn friends(&self, a: &str, b: &str) -> (Client, Client) {
        let (_, ca) = self.external(a);
        let (_, cb) = self.external(b);
        let pending = ca.relationships().request(b, None).await.unwrap();
        cb.relationships().approve(&pending.id).await.unwrap();
        (ca, cb)
    }
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn client_construction_is_validated_and_tokenless_calls_fail_before_sending() {
    let sb = Sandbox::start().await.unwrap();
    for bad in ["", "127.0.0.1:8017", "ftp://x", "http://h/?q=1"] {
        assert!(
            matches!(Client::new(bad), Err(Error::Config(_))),
            "{bad:?} accepted"
        );
    }
    assert!(matches!(
        Client::builder(sb.base_url()).token("  ").build(),
        Err(Error::Config(_))
    ));

    let c = Client::new(format!("{}/", sb.base_url())).unwrap();
    assert_eq!(c.base_url(), sb.base_url());
    assert!(!c.has_token());
    let before = sb.request_count();
    let err = c.me().whoami().await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("bearer token")),
        "{err:?}"
    );
    let err = c.chats().list().await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let mut stream = c.notifications().stream(None).into_stream();
    assert!(matches!(stream.next().await, Some(Err(Error::Config(_)))));
    assert!(stream.next().await.is_none());
    assert_eq!(
        sb.request_count(),
        before,
        "nothing may be sent without a token"
    );

    // A wrong token gets the backend's 401 with its detail.
    assert!(!c.with_token("   ").has_token());
    let err = c
        .with_token("not-a-real-token")
        .me()
        .whoami()
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(e) if e.status == 401 && e.message == "Invalid token"));
}

#[tokio::test]
async fn auth_flow_send_otp_verify_register_login_whoami() {
    let sb = Sandbox::start().await.unwrap();
    let c = anonymous(&sb);
    let auth = c.auth();

    let bad = auth
        .send_otp("fresh@example.com", "pw-1", "WRONG-INVITE")
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, Error::Validation(e) if e.message == "Invalid invite code"),
        "{bad:?}"
    );

    let sent = auth
        .send_otp("fresh@example.com", "pw-1", DEFAULT_INVITE_CODE)
        .await
        .unwrap();
    assert_eq!(sent.status.as_deref(), Some("sent"));
    let code = sb.mycel().otp_for("fresh@example.com").unwrap();
    assert_eq!(code.len(), 6);

    let wrong = auth
        .verify_otp("fresh@example.com", "not-the-code")
        .await
        .unwrap_err();
    assert!(matches!(wrong, Error::Validation(_)), "{wrong:?}");

    let verified = auth.verify_otp("fresh@example.com", &code).await.unwrap();
    assert!(verified
        .temp_token
        .expose_secret()
        .starts_with("mycel_tmp_"));
    assert_eq!(verified.raw()["temp_token"], "[REDACTED]");
    assert!(!format!("{verified:?}").contains(verified.temp_token.expose_secret()));

    let registered = auth
        .complete_register(&verified.temp_token, DEFAULT_INVITE_CODE)
        .await
        .unwrap();
    assert_eq!(registered.user.email.as_deref(), Some("fresh@example.com"));
    assert_eq!(registered.user.user_type, "human");
    assert_eq!(registered.raw()["token"], "[REDACTED]");

    let login = auth.login("fresh@example.com", "pw-1").await.unwrap();
    assert_eq!(login.user.id, registered.user.id);
    let mycel_id = login.user.mycel_id.clone().unwrap();
    let by_id = auth.login(&mycel_id, "pw-1").await.unwrap();
    assert_eq!(by_id.user.id, registered.user.id);
    let refused = auth.login("fresh@example.com", "nope").await.unwrap_err();
    assert!(matches!(refused, Error::Auth(_)), "{refused:?}");

    let me = c
        .with_token(login.token.expose_secret())
        .me()
        .whoami()
        .await
        .unwrap();
    assert_eq!(me.id, registered.user.id);
    assert_eq!(me.name, "fresh");
    assert_eq!(me.raw()["email"], "fresh@example.com");

    // The invite code was single-use.
    let again = auth
        .send_otp("other@example.com", "pw-2", DEFAULT_INVITE_CODE)
        .await
        .unwrap_err();
    assert!(matches!(again, Error::Validation(_)));
}

#[tokio::test]
async fn create_external_returns_a_working_token_that_never_shows() {
    let w = world().await;
    let created = w
        .owner_c
        .users()
        .create_external("codex-local-1", "Codex Local")
        .await
        .unwrap();
    let token = created.token.expose_secret().to_owned();
    assert_eq!(created.user_id, "codex-local-1");
    assert_eq!(created.display_name, "Codex Local");
    assert!(!format!("{created:?}").contains(&token));
    assert!(!created.raw().to_string().contains(&token));

    let external = w.owner_c.with_token(&token);
    let me = external.me().whoami().await.unwrap();
    assert_eq!(me.id, "codex-local-1");
    assert_eq!(me.user_type, "external");
    assert!(!format!("{external:?}").contains(&token));

    let dup = w
        .owner_c
        .users()
        .create_external("codex-local-1", "Again")
        .await
        .unwrap_err();
    assert!(matches!(&dup, Error::Conflict(e) if e.message.contains("already taken")));
    // Only owners create identities.
    let refused = external
        .users()
        .create_external("nested", "Nested")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Error::Auth(ref e) if e.status == 403),
        "{refused:?}"
    );
    assert!(matches!(
        w.owner_c.users().create_external(" ", "x").await,
        Err(Error::InvalidArgument {
            name: "user_id",
            ..
        })
    ));
}

#[tokio::test]
async fn readme_chat_flow_direct_read_send_list() {
    let w = world().await;
    let (_, agent) = w.external("codex-a");
    let (_, target) = w.external("target-user");

    let chat = agent.chats().ensure_direct("target-user").await.unwrap();
    assert_eq!(chat.kind, Some(ChatKind::Direct));
    assert!(chat.has_member("codex-a") && chat.has_member("target-user"));
    assert_eq!(chat.members.len(), 2);
    // The existing direct chat comes back, from either side.
    let again = agent.chats().ensure_direct("target-user").await.unwrap();
    assert_eq!(again.id, chat.id);
    let other_side = target.chats().ensure_direct("codex-a").await.unwrap();
    assert_eq!(other_side.id, chat.id);
    // The earlier name still works.
    #[allow(deprecated)]
    let alias = agent.chats().direct("target-user").await.unwrap();
    assert_eq!(alias.id, chat.id);

    let unread = agent.messages().read(&chat.id).await.unwrap();
    assert!(unread.is_empty());
    let sent = agent
        .messages()
        .send(&chat.id, "hello from the SDK")
        .await
        .unwrap();
    assert_eq!(sent.content, "hello from the SDK");
    assert_eq!(sent.sender_id.as_deref(), Some("codex-a"));
    assert_eq!(sent.seq, Some(1));
    assert_eq!(sent.delivery_scope, Some(DeliveryScope::Broadcast));

    let history = agent.messages().list(&chat.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].id, sent.id);

    let chats = target.chats().list().await.unwrap();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0].unread_count, Some(1));
    let got = target.chats().get(&chat.id).await.unwrap();
    assert_eq!(got.last_seq, Some(1));
    assert_eq!(got.owner_id.as_deref(), Some("codex-a"));

    // A stranger sees neither the chat nor its messages.
    let (_, stranger) = w.external("stranger");
    let err = stranger.chats().get(&chat.id).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(e) if e.status == 403 && e.message == "Not a participant of this chat"),
        "{err:?}"
    );
    let err = stranger.messages().list(&chat.id).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)));
    let err = agent.chats().get("chat_missing").await.unwrap_err();
    assert!(matches!(&err, Error::NotFound(e) if e.message == "Chat not found"));
    // No other participant: a group of the caller alone, where the backend
    // allows it; a direct chat needs its one other participant.
    let alone = agent
        .chats()
        .create(Vec::<String>::new())
        .title("notes")
        .await
        .unwrap();
    assert_eq!(alone.kind, Some(ChatKind::Group));
    assert_eq!(alone.members.len(), 1);
    assert!(alone.has_member("codex-a"));
    let err = agent
        .chats()
        .create(Vec::<String>::new())
        .kind(ChatKind::Direct)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation(e) if e.status == 400),
        "{err:?}"
    );
    assert!(matches!(
        agent.chats().ensure_direct("").await,
        Err(Error::InvalidArgument {
            name: "target_id",
            ..
        })
    ));
}

#[tokio::test]
async fn readme_relationship_flow_and_state_machine() {
    let w = world().await;
    let (_, a) = w.external("codex-a");
    let (_, b) = w.external("codex-b");
    let managed = w.sb.mycel().create_agent(&w.owner.id, "Managed");

    // No relationship yet: no group with b.
    let refused = a
        .chats()
        .create(["codex-b", managed.as_str()])
        .title("Probe")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Auth(e) if e.status == 403),
        "{refused:?}"
    );

    let pending = a
        .relationships()
        .request("codex-b", Some("hi, let's work together"))
        .await
        .unwrap();
    assert_eq!(pending.state, Some(RelationshipState::Pending));
    assert!(pending.is_requester);
    assert_eq!(pending.other_user_id, "codex-b");

    let seen = b.relationships().list().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].id, pending.id);
    assert!(!seen[0].is_requester);
    assert_eq!(seen[0].other_user_id, "codex-a");
    assert_eq!(seen[0].raw()["message"], "hi, let's work together");

    // The requester cannot approve their own request.
    let own = a.relationships().approve(&pending.id).await.unwrap_err();
    assert!(matches!(own, Error::Conflict(_)), "{own:?}");
    let accepted = b.relationships().approve(&pending.id).await.unwrap();
    assert_eq!(accepted.state, Some(RelationshipState::Visit));

    let group = a
        .chats()
        .create(["codex-b", managed.as_str()])
        .title("Probe")
        .await
        .unwrap();
    assert_eq!(group.kind, Some(ChatKind::Group));
    assert_eq!(group.title.as_deref(), Some("Probe"));
    assert_eq!(group.members.len(), 3);
    assert!(group.has_member(&managed));

    let hired = a.relationships().upgrade(&pending.id).await.unwrap();
    assert_eq!(hired.state, Some(RelationshipState::Hire));
    let down = b.relationships().downgrade(&pending.id).await.unwrap();
    assert_eq!(down.state, Some(RelationshipState::Visit));
    let bad = b.relationships().downgrade(&pending.id).await.unwrap_err();
    assert!(
        matches!(&bad, Error::Conflict(e) if e.message.contains("Invalid transition")),
        "{bad:?}"
    );
    let revoked = a.relationships().revoke(&pending.id).await.unwrap();
    assert_eq!(revoked.state, Some(RelationshipState::None));
    assert!(a.relationships().list().await.unwrap().is_empty());

    // A new request, turned down.
    let again = b.relationships().request("codex-a", None).await.unwrap();
    assert_eq!(again.id, pending.id);
    let rejected = a.relationships().reject(&again.id).await.unwrap();
    assert_eq!(rejected.state, Some(RelationshipState::None));

    let (_, stranger) = w.external("stranger");
    let err = stranger
        .relationships()
        .approve(&pending.id)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(e) if e.status == 403));
    let err = a
        .relationships()
        .request("codex-a", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
    let err = a.relationships().request("nobody", None).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
}

#[tokio::test]
async fn readme_join_request_flow() {
    let w = world().await;
    let (owner, member) = w.friends("group-owner", "member").await;
    let group = owner
        .chats()
        .create(["member"])
        .kind(ChatKind::Group)
        .title("Builders")
        .await
        .unwrap();
    assert_eq!(group.kind, Some(ChatKind::Group));
    let (_, visitor) = w.external("visitor");

    let target = visitor.chats().join_target(&group.id).await.unwrap();
    assert_eq!(target.chat_id, group.id);
    assert_eq!(target.title.as_deref(), Some("Builders"));
    assert_eq!(target.member_count, Some(2));
    assert!(!target.is_member && !target.has_pending_request);

    let pending = visitor
        .chats()
        .request_join(&group.id, Some("please add me"))
        .await
        .unwrap();
    assert_eq!(pending.status, "pending");
    assert_eq!(pending.requester_id, "visitor");
    assert_eq!(pending.message.as_deref(), Some("please add me"));
    assert!(
        visitor
            .chats()
            .join_target(&group.id)
            .await
            .unwrap()
            .has_pending_request
    );
    let dup = visitor
        .chats()
        .request_join(&group.id, None)
        .await
        .unwrap_err();
    assert!(matches!(dup, Error::Conflict(_)));

    // Only the owner sees and answers requests.
    let err = member
        .chats()
        .list_join_requests(&group.id)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(e) if e.status == 403));
    let requests = owner.chats().list_join_requests(&group.id).await.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].id, pending.id);

    let approved = owner
        .chats()
        .approve_join(&group.id, &pending.id)
        .await
        .unwrap();
    assert_eq!(approved.status, "approved");
    let chat = visitor.chats().get(&group.id).await.unwrap();
    assert!(chat.has_member("visitor"));
    // The backend writes the join into the chat's history.
    let history = visitor.messages().list(&group.id).await.unwrap();
    let texts: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["visitor asked to join", "visitor joined"]);
    assert_eq!(history[0].message_type.as_deref(), Some("system"));
    let settled = owner
        .chats()
        .approve_join(&group.id, &pending.id)
        .await
        .unwrap_err();
    assert!(matches!(settled, Error::Conflict(_)));

    // A second visitor is turned down, a third added directly.
    let (_, late) = w.external("late");
    let req = late.chats().request_join(&group.id, None).await.unwrap();
    assert_eq!(req.message, None);
    let rejected = owner.chats().reject_join(&group.id, &req.id).await.unwrap();
    assert_eq!(rejected.status, "rejected");
    assert!(matches!(
        late.chats().get(&group.id).await,
        Err(Error::Auth(_))
    ));
    let added = owner.chats().add_member(&group.id, "late").await.unwrap();
    assert!(added.has_member("late"));
    assert_eq!(added.members.len(), 4);
    let err = member
        .chats()
        .add_member(&group.id, "stranger")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn readme_mute_flow_suppresses_wake_ups_but_stores_messages() {
    let w = world().await;
    let (_, owner) = w.external("group-owner");
    let (listener_id, listener) = w.external("listener");
    let managed = w.sb.mycel().create_agent(&w.owner.id, "Helper");
    let pending = owner
        .relationships()
        .request("listener", None)
        .await
        .unwrap();
    listener.relationships().approve(&pending.id).await.unwrap();
    let group = owner
        .chats()
        .create(["listener", managed.as_str()])
        .await
        .unwrap();
    // The relationship request notified the listener; start from empty.
    listener.notifications().drain().await.unwrap();

    let until = SystemTime::now() + Duration::from_secs(3600);
    let muted = owner
        .chats()
        .mute_member(&group.id, &listener_id.id, Some(until))
        .await
        .unwrap();
    assert!(muted.muted);
    assert_eq!(muted.user_id, "listener");
    assert!(muted.mute_until.unwrap() > 0.0);
    assert!(w.sb.mycel().is_muted(&group.id, "listener"));
    assert!(owner
        .chats()
        .get(&group.id)
        .await
        .unwrap()
        .members
        .iter()
        .any(|m| m.id == "listener" && m.muted));

    owner.messages().read(&group.id).await.unwrap();
    owner
        .messages()
        .send(&group.id, "stored, but no wake-up")
        .mentions(["listener"])
        .await
        .unwrap();
    assert_eq!(w.sb.mycel().message_count(&group.id), 1);
    // Stored for the member, but no wake-up: a mention does not override mute.
    assert_eq!(
        listener.messages().unread(&group.id).await.unwrap().len(),
        1
    );
    assert_eq!(listener.notifications().drain().await.unwrap().count, 0);

    let unmuted = owner
        .chats()
        .unmute_member(&group.id, "listener")
        .await
        .unwrap();
    assert!(!unmuted.muted);
    assert!(!w.sb.mycel().is_muted(&group.id, "listener"));
    owner
        .messages()
        .send(&group.id, "now it wakes")
        .mentions(["listener"])
        .await
        .unwrap();
    let inbox = listener.notifications().drain().await.unwrap();
    assert_eq!(inbox.count, 1);
    assert_eq!(
        inbox.notifications[0].chat_id.as_deref(),
        Some(group.id.as_str())
    );
    assert_eq!(inbox.notifications[0].unread_count, Some(2));

    // A member cannot silence another member it does not own.
    let err = listener
        .chats()
        .mute_member(&group.id, &managed, None)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Auth(e) if e.status == 403), "{err:?}");
    // A member may quiet itself.
    let own = listener
        .chats()
        .mute_member(&group.id, "listener", None)
        .await
        .unwrap();
    assert!(own.muted && own.mute_until.is_none());
}

#[tokio::test]
async fn messages_list_pages_and_list_all_returns_the_history_oldest_first() {
    let w = world().await;
    let (a, _) = w.friends("a", "b").await;
    let chat = a.chats().ensure_direct("b").await.unwrap();
    w.sb.mycel().seed_messages(&chat.id, "b", 450);

    let latest = a.messages().list(&chat.id).await.unwrap();
    let seqs: Vec<i64> = latest.iter().map(|m| m.seq.unwrap()).collect();
    assert_eq!(seqs, (401..=450).collect::<Vec<_>>());
    let older = a
        .messages()
        .list(&chat.id)
        .limit(3)
        .before(10)
        .await
        .unwrap();
    let seqs: Vec<i64> = older.iter().map(|m| m.seq.unwrap()).collect();
    assert_eq!(seqs, [7, 8, 9]);
    assert_eq!(older[0].content, "seeded message 6");
    assert_eq!(older[0].sender_name.as_deref(), Some("b"));
    for bad in [0, 201] {
        assert!(matches!(
            a.messages().list(&chat.id).limit(bad).await,
            Err(Error::InvalidArgument { name: "limit", .. })
        ));
    }

    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let counted = Client::builder(w.sb.base_url())
        .token(w.sb.mycel().create_external(&w.owner.id, "a", "a").token)
        .on_request(move |i| {
            if i.operation == "messages_list" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let all: Vec<i64> = counted
        .messages()
        .list_all(&chat.id)
        .into_stream()
        .map(|m| m.unwrap().seq.unwrap())
        .collect()
        .await;
    assert_eq!(
        all,
        (1..=450).collect::<Vec<_>>(),
        "oldest first, as mycel-sdk"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 3, "pages of 200, 200, 50");

    // Awaited, the walk is the list mycel-sdk's list_all returns.
    let some: Vec<i64> = a
        .messages()
        .list_all(&chat.id)
        .page_size(7)
        .before(100)
        .max_messages(10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq.unwrap())
        .collect();
    assert_eq!(
        some,
        (90..=99).collect::<Vec<_>>(),
        "the latest 10 below 100"
    );

    // mycel-sdk's argument errors, before any request, instead of clamps.
    requests.store(0, Ordering::SeqCst);
    for bad in [0, 201] {
        let err = counted
            .messages()
            .list_all(&chat.id)
            .page_size(bad)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument { name: "page_size", message } if message.contains("between 1 and 200")),
            "{err:?}"
        );
    }
    let streamed: Vec<_> = counted
        .messages()
        .list_all(&chat.id)
        .max_messages(0)
        .into_stream()
        .collect()
        .await;
    assert_eq!(streamed.len(), 1, "one error, then the end");
    assert!(matches!(
        &streamed[0],
        Err(Error::InvalidArgument {
            name: "max_messages",
            ..
        })
    ));
    assert_eq!(requests.load(Ordering::SeqCst), 0, "refused before sending");
}

#[tokio::test]
async fn list_all_fails_when_the_cursor_does_not_advance() {
    let w = world().await;
    let (a, _) = w.friends("a", "b").await;
    let chat = a.chats().ensure_direct("b").await.unwrap();
    w.sb.mycel().seed_messages(&chat.id, "b", 30);
    w.sb.mycel().set_stale_cursor(true);

    let items: Vec<_> = a
        .messages()
        .list_all(&chat.id)
        .page_size(10)
        .into_stream()
        .collect()
        .await;
    // The order needs every page first: a stalled walk yields its error alone.
    assert_eq!(items.len(), 1, "the error, then the end");
    match &items[0] {
        Err(Error::Decode(d)) => assert!(d.message.contains("did not advance"), "{d:?}"),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn unread_read_and_mark_read_move_the_read_position() {
    let w = world().await;
    let (a, b) = w.friends("a", "b").await;
    let chat = a.chats().ensure_direct("b").await.unwrap();
    for text in ["one", "two", "three"] {
        b.messages().send(&chat.id, text).await.unwrap();
    }
    let unread = a.messages().unread(&chat.id).await.unwrap();
    assert_eq!(
        unread
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["one", "two", "three"]
    );
    assert_eq!(
        a.messages().unread(&chat.id).await.unwrap().len(),
        3,
        "unread does not move"
    );
    let read = a.messages().read(&chat.id).await.unwrap();
    assert_eq!(read.len(), 3);
    assert!(a.messages().unread(&chat.id).await.unwrap().is_empty());
    assert!(a.messages().read(&chat.id).await.unwrap().is_empty());

    for text in ["four", "five", "six"] {
        b.messages().send(&chat.id, text).await.unwrap();
    }
    assert_eq!(a.chats().get(&chat.id).await.unwrap().unread_count, Some(3));
    // Read up to the message the caller has seen: the rest stays unread.
    let ack = a.messages().mark_read(&chat.id, 5).await.unwrap();
    assert_eq!(ack.status.as_deref(), Some("ok"));
    assert_eq!(ack.raw()["last_read_seq"], 5);
    let left = a.messages().unread(&chat.id).await.unwrap();
    assert_eq!(
        left.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
        ["six"]
    );
    // The position never moves back.
    let ack = a.messages().mark_read(&chat.id, 1).await.unwrap();
    assert_eq!(ack.raw()["last_read_seq"], 5);
    assert!(matches!(
        a.messages().mark_read(&chat.id, -1).await,
        Err(Error::InvalidArgument {
            name: "up_to_seq",
            ..
        })
    ));
    // The convenience reads the chat's latest seq, then marks up to it.
    assert_eq!(a.messages().mark_all_read(&chat.id).await.unwrap(), 6);
    assert!(a.messages().unread(&chat.id).await.unwrap().is_empty());
    assert_eq!(a.chats().get(&chat.id).await.unwrap().unread_count, Some(0));

    // What a new user of the old call gets from a current backend: the
    // request without `up_to_seq` is refused.
    let err = a
        .messages_mark_read()
        .chat_id(&chat.id)
        .body(types::MarkReadBody::builder())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { name: "body", .. }),
        "{err:?}"
    );
    let raw = reqwest::Client::new()
        .post(format!("{}/api/chats/{}/read", w.sb.base_url(), chat.id))
        .bearer_auth(&w.sb.mycel().create_external(&w.owner.id, "a", "a").token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        raw.status(),
        422,
        "the sandbox refuses it as the backend does"
    );
}

#[tokio::test]
async fn send_refuses_when_behind_and_succeeds_after_read() {
    let w = world().await;
    let (a, b) = w.friends("a", "b").await;
    let (_, _c) = w.external("c");
    let pending = a.relationships().request("c", None).await.unwrap();
    _c.relationships().approve(&pending.id).await.unwrap();
    let group = a.chats().create(["b", "c"]).await.unwrap();
    let first = b.messages().send(&group.id, "news").await.unwrap();

    let err = a
        .messages()
        .send(&group.id, "talking over")
        .await
        .unwrap_err();
    assert!(err.is_not_caught_up(), "{err:?}");
    assert_eq!(err.code(), Some(NOT_CAUGHT_UP));
    assert!(
        matches!(&err, Error::Conflict(e) if e.message == "Chat advanced after your last read.")
    );
    assert_eq!(w.sb.mycel().message_count(&group.id), 1, "nothing stored");

    a.messages().read(&group.id).await.unwrap();
    let reply = a
        .messages()
        .send(&group.id, "caught up now")
        .reply_to(&first.id)
        .mentions(["b"])
        .await
        .unwrap();
    assert_eq!(reply.reply_to.as_deref(), Some(first.id.as_str()));
    assert_eq!(reply.mentioned_ids, ["b"]);
    assert_eq!(reply.seq, Some(2));

    // Opting out of the check talks over unread messages.
    b.messages().send(&group.id, "more news").await.unwrap_err();
    b.messages().read(&group.id).await.unwrap();
    b.messages().send(&group.id, "more news").await.unwrap();
    let forced = a
        .messages()
        .send(&group.id, "anyway")
        .enforce_caught_up(false)
        .await
        .unwrap();
    assert_eq!(forced.seq, Some(4));

    // Addressed delivery reaches only the addressees. (b reads first: a
    // drain reports every unread chat.)
    b.messages().read(&group.id).await.unwrap();
    c_drain(&w, "c").await;
    c_drain(&w, "b").await;
    assert_eq!(c_drain(&w, "b").await, 0, "queue taken, nothing unread");
    let addressed = a
        .messages()
        .send(&group.id, "just for c")
        .addressed_to_user_ids(["c"])
        .await
        .unwrap();
    assert_eq!(addressed.delivery_scope, Some(DeliveryScope::Addressed));
    assert_eq!(addressed.addressed_to_user_ids, ["c"]);
    assert_eq!(c_drain(&w, "c").await, 1);
    assert_eq!(c_drain(&w, "b").await, 0);
    let err = a
        .messages()
        .send(&group.id, "nobody")
        .delivery_scope(DeliveryScope::Addressed)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert!(!err.is_not_caught_up());
    let broadcast = a
        .messages()
        .send(&group.id, "to all")
        .delivery_scope(DeliveryScope::Broadcast)
        .await
        .unwrap();
    assert_eq!(broadcast.delivery_scope, Some(DeliveryScope::Broadcast));
    let empty = a.messages().send(&group.id, "  ").await.unwrap_err();
    assert!(matches!(&empty, Error::Validation(e) if e.message == "Content cannot be empty"));
}

/// Drains the inbox of an external identity of the world's owner.
async fn c_drain(w: &World, id: &str) -> u64 {
    let who = w.sb.mycel().create_external(&w.owner.id, id, id);
    as_user(&w.sb, &who)
        .notifications()
        .drain()
        .await
        .unwrap()
        .count
}

#[tokio::test]
async fn workflows_events_and_tasks() {
    let w = world().await;
    let (a, _) = w.friends("a", "b").await;
    let chat = a.chats().ensure_direct("b").await.unwrap();
    let chats = a.chats();

    let none = chats.get_workflow(&chat.id).await.unwrap_err();
    assert!(matches!(none, Error::NotFound(_)));
    let wf = chats
        .set_workflow(&chat.id, "review")
        .state("paused")
        .config(map(json!({"rounds": 2})))
        .await
        .unwrap();
    assert_eq!((wf.kind.as_str(), wf.state.as_str()), ("review", "paused"));
    assert_eq!(wf.config["rounds"], 2);
    let got = chats.get_workflow(&chat.id).await.unwrap();
    assert_eq!(got.chat_id, chat.id);
    let plain = chats.set_workflow(&chat.id, "vote").await.unwrap();
    assert_eq!(plain.state, "active");

    let mut decisions = HashMap::new();
    decisions.insert(
        "b".to_owned(),
        HashMap::from([("pr-1".to_owned(), "approve".to_owned())]),
    );
    let event = chats
        .create_workflow_event(&chat.id, "decision")
        .resource_refs(vec![map(json!({"kind": "pr", "id": "pr-1"}))])
        .requested_by("b")
        .decision_states(decisions)
        .rationales(map(json!({"b": "looks good"})))
        .final_state(map(json!({"pr-1": "pending"})))
        .metadata(map(json!({"source": "test"})))
        .await
        .unwrap();
    assert_eq!(event.kind, "decision");
    assert_eq!(event.state.as_deref(), Some("open"));
    assert_eq!(event.requested_by_user_id.as_deref(), Some("b"));
    assert_eq!(event.resource_refs[0]["id"], "pr-1");
    assert_eq!(event.decision_states["b"]["pr-1"], "approve");
    assert_eq!(event.rationales["b"], "looks good");
    assert_eq!(event.metadata["source"], "test");
    let defaulted = chats.create_workflow_event(&chat.id, "note").await.unwrap();
    assert_eq!(defaulted.requested_by_user_id.as_deref(), Some("a"));

    let listed = chats.list_workflow_events(&chat.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [event.id.as_str(), defaulted.id.as_str()]
    );
    let updated = chats
        .update_workflow_event(&chat.id, &event.id)
        .state("settled")
        .decision_states(HashMap::from([(
            "a".to_owned(),
            HashMap::from([("pr-1".to_owned(), "approve".to_owned())]),
        )]))
        .rationales(map(json!({"a": "agreed"})))
        .final_state(map(json!({"pr-1": "merged"})))
        .metadata(map(json!({"round": 1})))
        .settled_at(1_700_000_000.5)
        .await
        .unwrap();
    assert_eq!(updated.state.as_deref(), Some("settled"));
    assert_eq!(updated.final_state["pr-1"], "merged");
    assert_eq!(updated.rationales["a"], "agreed");
    assert_eq!(updated.metadata["round"], 1);
    assert_eq!(updated.decision_states["a"]["pr-1"], "approve");
    assert_eq!(updated.settled_at, Some(1_700_000_000.5));
    let fetched = chats.get_workflow_event(&chat.id, &event.id).await.unwrap();
    assert_eq!(fetched, updated);
    let deleted = chats
        .delete_workflow_event(&chat.id, &event.id)
        .await
        .unwrap();
    assert_eq!(deleted.status.as_deref(), Some("deleted"));
    assert!(matches!(
        chats.get_workflow_event(&chat.id, &event.id).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        chats
            .delete_workflow(&chat.id)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("deleted")
    );
    assert!(matches!(
        chats.delete_workflow(&chat.id).await,
        Err(Error::NotFound(_))
    ));

    let task = chats
        .create_task(&chat.id, "Write tests")
        .description("cover every method")
        .status("in_progress")
        .active_form("Writing tests")
        .owner("a")
        .blocks(["task-x"])
        .blocked_by(["task-y"])
        .metadata(map(json!({"size": "m"})))
        .await
        .unwrap();
    assert_eq!(task.subject, "Write tests");
    assert_eq!(task.description, "cover every method");
    assert_eq!(task.status, "in_progress");
    assert_eq!(task.active_form.as_deref(), Some("Writing tests"));
    assert_eq!(task.owner.as_deref(), Some("a"));
    assert_eq!(
        (task.blocks.clone(), task.blocked_by.clone()),
        (vec!["task-x".to_owned()], vec!["task-y".to_owned()])
    );
    assert_eq!(task.metadata["size"], "m");
    let small = chats.create_task(&chat.id, "Small").await.unwrap();
    assert_eq!(small.status, "pending");
    let bad = chats
        .create_task(&chat.id, "Bad")
        .status("someday")
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::Validation(_)));

    let tasks = chats.list_tasks(&chat.id).await.unwrap();
    assert_eq!(tasks.len(), 2);
    let changed = chats
        .update_task(&chat.id, &task.id)
        .status("completed")
        .subject("Write all tests")
        .description("done")
        .active_form("Wrote tests")
        .owner("b")
        .blocks(Vec::<String>::new())
        .blocked_by(["task-z"])
        .metadata(map(json!({"size": "l"})))
        .await
        .unwrap();
    assert_eq!(changed.status, "completed");
    assert_eq!(changed.subject, "Write all tests");
    assert_eq!(changed.description, "done");
    assert_eq!(changed.active_form.as_deref(), Some("Wrote tests"));
    assert_eq!(changed.owner.as_deref(), Some("b"));
    assert!(changed.blocks.is_empty());
    assert_eq!(changed.blocked_by, ["task-z"]);
    assert_eq!(changed.metadata["size"], "l");
    let untouched = chats.update_task(&chat.id, &small.id).await.unwrap();
    assert_eq!(untouched.subject, "Small");
    assert_eq!(chats.get_task(&chat.id, &task.id).await.unwrap(), changed);
    assert_eq!(
        chats
            .delete_task(&chat.id, &task.id)
            .await
            .unwrap()
            .status
            .as_deref(),
        Some("deleted")
    );
    assert!(matches!(
        chats.get_task(&chat.id, &task.id).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        chats.get_task(&chat.id, "").await,
        Err(Error::InvalidArgument {
            name: "task_id",
            ..
        })
    ));
}

#[tokio::test]
async fn panel_agents_and_threads() {
    let w = world().await;
    let agents = w.owner_c.agents();
    assert!(agents.list().await.unwrap().is_empty());
    let helper = agents.create("Helper", "answers questions").await.unwrap();
    assert!(helper.id.starts_with("m_"));
    assert_eq!(helper.name, "Helper");
    assert_eq!(helper.description, "answers questions");
    assert_eq!(helper.owner_user_id.as_deref(), Some(w.owner.id.as_str()));
    let quiet = agents.create("Quiet", "").await.unwrap();
    let listed = agents.list().await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [helper.id.as_str(), quiet.id.as_str()]
    );
    assert!(matches!(
        agents.create("", "x").await,
        Err(Error::InvalidArgument { name: "name", .. })
    ));

    let thread = w
        .owner_c
        .threads()
        .create(&helper.id)
        .cwd("/workspace")
        .model("small-model")
        .await
        .unwrap();
    assert!(thread.thread_id.starts_with("thread_"));
    assert_eq!(thread.agent_user_id, helper.id);
    assert_eq!(thread.sandbox.as_deref(), Some("local"));
    assert_eq!(thread.cwd.as_deref(), Some("/workspace"));
    assert_eq!(thread.model.as_deref(), Some("small-model"));
    assert_eq!(thread.status.as_deref(), Some("created"));
    let plain = w
        .owner_c
        .threads()
        .create(&quiet.id)
        .sandbox("docker")
        .sandbox_template_id("tpl-python")
        .agent("codex")
        .bind_mount(
            types::MountSpec::builder()
                .source("/home/me/project")
                .target("/workspace")
                .read_only(true)
                .try_into()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(plain.cwd, None);
    assert_eq!(plain.sandbox.as_deref(), Some("docker"));
    assert_eq!(plain.raw()["sandbox_template_id"], "tpl-python");
    assert_eq!(plain.raw()["agent"], "codex");
    assert_eq!(
        plain.raw()["bind_mounts"],
        json!([{"source": "/home/me/project", "target": "/workspace", "mode": "mount", "read_only": true}])
    );
    let sandbox_id = plain.raw()["sandbox_id"].as_str().unwrap().to_owned();
    let again = w
        .owner_c
        .threads()
        .create(&quiet.id)
        .existing_sandbox_id(&sandbox_id)
        .await
        .unwrap();
    assert_eq!(
        again.sandbox.as_deref(),
        Some("local"),
        "the default provider"
    );
    assert_eq!(again.raw()["sandbox_id"], sandbox_id.as_str());
    assert_eq!(w.sb.mycel().thread_count(), 3);

    let err = w
        .owner_c
        .threads()
        .create(&helper.id)
        .sandbox("moon")
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Validation(e) if e.message.contains("Unknown sandbox provider")));
    let (_, other) = w.external("other");
    let err = other.threads().create(&helper.id).await.unwrap_err();
    assert!(
        matches!(&err, Error::Auth(e) if e.status == 403 && e.message == "Agent does not belong to you")
    );
    assert_eq!(w.sb.mycel().thread_count(), 3);

    // A managed agent is an ordinary chat participant.
    let chat = w.owner_c.chats().ensure_direct(&helper.id).await.unwrap();
    assert!(chat.has_member(&helper.id));
}

#[tokio::test]
async fn fields_the_contract_does_not_name_are_kept_at_every_depth() {
    // A purpose-built server whose answers carry fields agentwire does not
    // name, at the top, inside list items and nested below those.
    let router = axum::Router::new()
        .route(
            "/api/chats/{chat_id}",
            axum::routing::get(|| async {
                axum::Json(json!({
                    "id": "chat_1",
                    "kind": "group",
                    "pinned": true,
                    "policy": {"retention_days": 30, "labels": ["ops"]},
                    "members": [{
                        "id": "a",
                        "name": "A",
                        "type": "external",
                        "role": "admin",
                        "presence": {"online": true, "devices": [{"kind": "cli"}]},
                    }],
                }))
            }),
        )
        .route(
            "/api/runtime/inbox/drain",
            axum::routing::post(|| async {
                axum::Json(json!({
                    "count": 1,
                    "cursor": "c-9",
                    "notifications": [{
                        "chat_id": "chat_1",
                        "event_type": "chat.message",
                        "message_id": "msg_7",
                        "message_seq": 7,
                        "summary": "hello there",
                        "preview": {"lang": "en", "spans": [{"start": 0, "end": 5}]},
                    }],
                }))
            }),
        );
    let url = agentwire_tests::serve(router).await;
    let c = Client::builder(&url)
        .token("tok-extra")
        .retry(RetryConfig::none())
        .build()
        .unwrap();

    let chat = c.chats().get("chat_1").await.unwrap();
    assert_eq!(chat.kind, Some(ChatKind::Group));
    assert_eq!(chat.extra["pinned"], true);
    assert_eq!(chat.members[0].id, "a");
    assert_eq!(chat.members[0].extra["role"], "admin");
    let raw = chat.raw();
    assert_eq!(raw["id"], "chat_1");
    assert_eq!(raw["pinned"], true);
    assert_eq!(
        raw["policy"],
        json!({"retention_days": 30, "labels": ["ops"]})
    );
    assert_eq!(raw["members"][0]["role"], "admin");
    assert_eq!(raw["members"][0]["presence"]["devices"][0]["kind"], "cli");

    let inbox = c.notifications().drain().await.unwrap();
    assert_eq!(inbox.count, 1);
    assert_eq!(inbox.extra["cursor"], "c-9");
    let n = &inbox.notifications[0];
    assert_eq!(n.event_type.as_deref(), Some("chat.message"));
    assert_eq!(n.message_id.as_deref(), Some("msg_7"));
    assert_eq!(n.message_seq, Some(7));
    assert_eq!(n.summary.as_deref(), Some("hello there"));
    assert_eq!(n.extra["preview"]["lang"], "en");
    let raw = inbox.raw();
    assert_eq!(raw["cursor"], "c-9");
    assert_eq!(
        raw["notifications"][0],
        json!({
            "chat_id": "chat_1",
            "event_type": "chat.message",
            "message_id": "msg_7",
            "message_seq": 7,
            "summary": "hello there",
            "preview": {"lang": "en", "spans": [{"start": 0, "end": 5}]},
        }),
        "a notification comes back exactly as sent"
    );

    // The same over the inbox WebSocket, and in the drain of the sandbox.
    let w = world().await;
    let (who, c) = w.external("runtime");
    let metadata = json!({
        "chat_id": "chat_9",
        "notification_type": "chat",
        "event_type": "chat.message",
        "sender_id": "a",
        "unread_count": 2,
        "message_id": "msg_1",
        "message_seq": 3,
        "summary": "hi",
        "thread": {"depth": 2, "path": ["root", {"id": "m0"}]},
    });
    w.sb.mycel().push_notification(&who.id, metadata.clone());
    let mut stream = c.notifications().stream(Some(0)).into_stream();
    let frame = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(frame.seq, 1);
    assert_eq!(frame.metadata.chat_id.as_deref(), Some("chat_9"));
    assert_eq!(frame.metadata.message_seq, Some(3));
    assert_eq!(frame.raw()["type"], "notify");
    assert_eq!(frame.raw()["metadata"], metadata);
    assert_eq!(frame.metadata.raw(), metadata);
    // Drained, it carries its inbox seq too.
    let drained = c.notifications().drain().await.unwrap();
    let mut with_seq = metadata.clone();
    with_seq["seq"] = json!(1);
    assert_eq!(drained.notifications[0].raw(), with_seq);
    assert_eq!(drained.notifications[0].seq, Some(1));
}

#[tokio::test]
async fn every_operation_is_reachable_as_a_builder_through_the_client() {
    let w = world().await;
    let (a, _) = w.friends("a", "b").await;
    let chat = a.chats().ensure_direct("b").await.unwrap();

    // No facade method lists tasks as raw JSON: the transport's builder,
    // reached through the client, carries its token and error mapping.
    let created = a
        .chats_tasks_create()
        .chat_id(&chat.id)
        .body(types::CreateChatTaskBody {
            active_form: None,
            blocked_by: Vec::new(),
            blocks: Vec::new(),
            description: "through the long tail".into(),
            metadata: Map::new(),
            owner: None,
            status: "pending".into(),
            subject: "Generated".into(),
            extra: Map::new(),
        })
        .await
        .unwrap();
    assert_eq!(created["subject"], "Generated");
    let listed = a.chats_tasks_list().chat_id(&chat.id).await.unwrap();
    assert_eq!(listed[0]["id"], created["id"]);
    let me = a.me_whoami().await.unwrap();
    assert_eq!(me["id"], "a");
    let op: agentwire::mycel::builder::ChatsGet<'_> = a.chats_get();
    let err = op.chat_id("chat_missing").await.unwrap_err();
    assert!(matches!(&err, Error::NotFound(e) if e.message == "Chat not found"));

    // A required parameter left unset is refused before anything is sent.
    let before = w.sb.request_count();
    let err = a.chats_get().await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidArgument {
                name: "chat_id",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(w.sb.request_count(), before);

    // The body can be built in place, too.
    a.messages().read(&chat.id).await.unwrap();
    let sent = a
        .messages_send()
        .chat_id(&chat.id)
        .body_map(|b| b.content("built in place").enforce_caught_up(true))
        .await
        .unwrap();
    assert_eq!(sent["content"], "built in place");
}

#[tokio::test]
async fn a_body_built_in_place_needs_only_its_required_fields() {
    let w = world().await;
    let (a, _) = w.friends("a", "b").await;
    let chat = a.chats().ensure_direct("b").await.unwrap();
    let sent = a
        .messages_send()
        .chat_id(&chat.id)
        .body_map(|b| b.content("built in place"))
        .await
        .unwrap();
    assert_eq!(sent["content"], "built in place");
    // A required body field left unset is named after the body.
    let err = a
        .messages_send()
        .chat_id(&chat.id)
        .body_map(|b| b.enforce_caught_up(false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidArgument { name: "body", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn drain_and_wait() {
    let w = world().await;
    let (who, c) = w.external("runtime");
    let inbox = c.notifications();
    assert_eq!(inbox.drain().await.unwrap().count, 0);

    w.sb.mycel().push_notifications(&who.id, 3);
    let drained = inbox.drain().await.unwrap();
    assert_eq!(drained.count, 3);
    assert_eq!(drained.notifications.len(), 3);
    assert_eq!(drained.notifications[2].unread_count, Some(3));
    assert_eq!(
        drained.notifications[0].event_type.as_deref(),
        Some("sandbox.ping")
    );
    assert_eq!(
        drained.notifications[0].notification_type.as_deref(),
        Some("test")
    );
    assert_eq!(drained.notifications[0].source.as_deref(), Some("sandbox"));
    assert_eq!(drained.raw()["count"], 3);
    assert_eq!(inbox.drain().await.unwrap().count, 0);

    // Nothing comes: the wait returns empty after its timeout.
    let started = std::time::Instant::now();
    let empty = inbox.wait(Duration::from_millis(300)).await.unwrap();
    assert_eq!(empty.count, 0);
    assert!(started.elapsed() >= Duration::from_millis(250));

    // Something comes while waiting.
    let (a, _) = w.friends("a", "runtime").await;
    let chat = a.chats().ensure_direct("runtime").await.unwrap();
    inbox.drain().await.unwrap();
    let sender = tokio::spawn({
        let a = a.clone();
        let chat_id = chat.id.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            a.messages().send(&chat_id, "wake up").await.unwrap();
        }
    });
    let woke = inbox.wait(Duration::from_secs(10)).await.unwrap();
    sender.await.unwrap();
    assert_eq!(woke.count, 1);
    let n = &woke.notifications[0];
    assert_eq!(n.event_type.as_deref(), Some("chat.message"));
    assert_eq!(n.chat_id.as_deref(), Some(chat.id.as_str()));
    assert_eq!(n.sender_id.as_deref(), Some("a"));
    assert_eq!(n.sender_name.as_deref(), Some("a"));

    assert!(matches!(
        inbox.wait(Duration::from_secs(31)).await,
        Err(Error::InvalidArgument {
            name: "timeout",
            ..
        })
    ));
    assert!(matches!(
        inbox.wait(Duration::from_secs(30)).await,
        Err(Error::InvalidArgument {
            name: "timeout",
            ..
        })
    ));
}

async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met in 5 s");
}

#[tokio::test]
async fn inbox_stream_delivers_1000_notifications_through_three_disconnects() {
    let w = world().await;
    let (who, _) = w.external("runtime");
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counter = handshakes.clone();
    let c = Client::builder(w.sb.base_url())
        .token(&who.token)
        .retry(quick_retry())
        .on_request(move |i| {
            if i.operation == "notifications_stream" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        })
        .build()
        .unwrap();
    let mut stream = c
        .notifications()
        .stream(Some(0))
        .reconnect_delay(Duration::from_millis(5), Duration::from_millis(50))
        .into_stream();
    let (progress_tx, progress) = tokio::sync::watch::channel(0i64);
    let consumer = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while let Some(item) = stream.next().await {
            let n = item?;
            assert!(n.fingerprint.as_ref().is_some_and(|f| f.len() == 64));
            assert!(n.ts.is_some());
            assert_eq!(n.metadata.event_type.as_deref(), Some("sandbox.ping"));
            seqs.push(n.seq);
            let _ = progress_tx.send(n.seq);
            if seqs.len() == 1000 {
                break;
            }
        }
        Ok::<_, Error>(seqs)
    });

    let handle = w.sb.mycel();
    until(|| handle.inbox_connections() == 1).await;
    for batch in 0..10i64 {
        handle.push_notifications(&who.id, 100);
        if matches!(batch, 2 | 5 | 8) {
            // Frames still in flight are lost with the socket.
            handle.disconnect_inbox();
        }
        // Keep the backlog inside the server's 256-frame replay buffer.
        let floor = (batch + 1) * 100 - 100;
        let mut p = progress.clone();
        tokio::time::timeout(Duration::from_secs(20), p.wait_for(|s| *s >= floor))
            .await
            .expect("the consumer keeps up")
            .unwrap();
    }
    let seqs = tokio::time::timeout(Duration::from_secs(30), consumer)
        .await
        .expect("all 1000 arrive")
        .unwrap()
        .unwrap();
    assert_eq!(
        seqs,
        (1..=1000).collect::<Vec<i64>>(),
        "none lost, none repeated, in order"
    );
    assert!(
        handshakes.load(Ordering::SeqCst) >= 4,
        "one connection plus three reconnects"
    );
}

#[tokio::test]
async fn inbox_stream_resumes_after_since_seq() {
    let w = world().await;
    let (who, c) = w.external("runtime");
    w.sb.mycel().push_notifications(&who.id, 5);
    let mut stream = c.notifications().stream(Some(2)).into_stream();
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(stream.next().await.unwrap().unwrap().seq);
    }
    assert_eq!(seqs, [3, 4, 5]);
    // Then live ones.
    w.sb.mycel().push_notifications(&who.id, 1);
    let live = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.seq, 6);
    assert_eq!(live.raw()["type"], "notify");
    assert_eq!(live.metadata.raw()["source"], "sandbox");
}

#[tokio::test]
async fn replay_overflow_is_a_typed_error_that_ends_the_stream() {
    let w = world().await;
    let (who, c) = w.external("runtime");
    assert_eq!(w.sb.mycel().push_notifications(&who.id, 300), 300);
    assert_eq!(w.sb.mycel().inbox_seq(&who.id), 300);

    let mut stream = c
        .notifications()
        .stream(Some(0))
        .recover_by_draining(false)
        .into_stream();
    match stream.next().await {
        Some(Err(Error::Stream {
            service,
            message,
            raw,
        })) => {
            assert_eq!(service, "mycel");
            assert!(message.contains("replay_overflow"), "{message}");
            assert_eq!(raw["type"], "replay_overflow");
            assert_eq!(raw["since_seq"], 0);
            assert_eq!(raw["oldest_seq"], 45);
        }
        other => panic!("expected a replay overflow, got {other:?}"),
    }
    assert!(stream.next().await.is_none());

    // From the oldest seq still held, the replay works.
    let mut stream = c.notifications().stream(Some(44)).into_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().seq, 45);
}

#[tokio::test]
async fn without_reconnect_a_lost_connection_ends_the_stream_as_a_network_error() {
    let w = world().await;
    let (who, c) = w.external("runtime");
    let mut stream = c
        .notifications()
        .stream(Some(0))
        .reconnect(false)
        .into_stream();
    let handle = w.sb.mycel();
    handle.push_notifications(&who.id, 1);
    assert_eq!(stream.next().await.unwrap().unwrap().seq, 1);
    handle.disconnect_inbox();
    match stream.next().await {
        Some(Err(e @ Error::Network(_))) => {
            assert!(e.to_string().contains("inbox stream"), "{e}");
            assert!(!format!("{e:?} {e}").contains(&who.token));
        }
        other => panic!("expected a network error, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_silent_connection_is_detected_by_the_heartbeat_and_replaced() {
    let w = world().await;
    let (who, c) = w.external("runtime");
    let handle = w.sb.mycel();
    let mut stream = c
        .notifications()
        .stream(Some(0))
        .heartbeat(Some(Duration::from_millis(100)))
        .into_stream();
    handle.push_notifications(&who.id, 2);
    assert_eq!(stream.next().await.unwrap().unwrap().seq, 1);
    assert_eq!(stream.next().await.unwrap().unwrap().seq, 2);
    // The server stops answering but keeps the connection open: only the
    // heartbeat can notice. What is pushed meanwhile arrives over a new
    // connection that resumes after seq 2.
    handle.freeze_inbox();
    handle.push_notifications(&who.id, 3);
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(stream.next().await.unwrap().unwrap().seq);
    }
    assert_eq!(got, [3, 4, 5]);
}

#[tokio::test]
async fn without_a_heartbeat_a_silent_connection_is_not_noticed() {
    let w = world().await;
    let (who, c) = w.external("runtime");
    let handle = w.sb.mycel();
    let mut stream = c
        .notifications()
        .stream(Some(0))
        .heartbeat(None)
        .into_stream();
    handle.push_notifications(&who.id, 1);
    assert_eq!(stream.next().await.unwrap().unwrap().seq, 1);
    handle.freeze_inbox();
    handle.push_notifications(&who.id, 1);
    // The control case for the test above: with the heartbeat off the frozen
    // connection is never replaced, so nothing arrives.
    let waited = tokio::time::timeout(Duration::from_millis(500), stream.next()).await;
    assert!(waited.is_err(), "{waited:?}");
}

#[tokio::test]
async fn reconnecting_gives_up_after_the_configured_failed_attempts() {
    let w = world().await;
    let (who, _) = w.external("runtime");
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let c = Client::builder(w.sb.base_url())
        .token(&who.token)
        .retry(RetryConfig::none())
        .on_request(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let mut stream = c
        .notifications()
        .stream(Some(0))
        .max_reconnect_attempts(3)
        .reconnect_delay(Duration::from_millis(5), Duration::from_millis(20))
        .into_stream();
    let handle = w.sb.mycel();
    handle.push_notifications(&who.id, 1);
    // A connection that carried something was healthy: its loss is not a
    // failed attempt.
    assert_eq!(stream.next().await.unwrap().unwrap().seq, 1);
    let waiting = tokio::spawn(async move { stream.next().await.map(|r| (r, stream)) });
    let World { sb, .. } = w;
    sb.shutdown().await;
    handle.disconnect_inbox();
    let (item, mut stream) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match item {
        Err(Error::Network(n)) => assert!(!n.message.contains(&who.token)),
        other => panic!("expected a network error, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
    // The first connection, then three failed attempts.
    assert_eq!(attempts.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_refused_handshake_is_not_retried() {
    let sb = Sandbox::start().await.unwrap();
    let c = anonymous(&sb).with_token("wrong-token-value");
    let mut stream = c.notifications().stream(None).into_stream();
    match stream.next().await {
        // The backend refuses the upgrade itself (close 1008 before
        // accepting): 403, not the 401 of its HTTP routes.
        Some(Err(Error::Auth(e))) => assert_eq!(e.status, 403),
        other => panic!("expected 403, got {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn tokens_never_appear_in_debug_output() {
    let w = world().await;
    let created = w
        .owner_c
        .users()
        .create_external("secretive", "Secretive")
        .await
        .unwrap();
    let token = created.token.expose_secret().to_owned();
    let builder = Client::builder(w.sb.base_url()).token(&token);
    let external = w.owner_c.with_token(&token);
    let login_sb = anonymous(&w.sb);
    let session = login_sb
        .auth()
        .login("owner@example.com", "pw-owner")
        .await
        .unwrap();
    let session_token = session.token.expose_secret().to_owned();
    let group_err = external.chats().get("chat_nope").await.unwrap_err();
    let auth_err = w
        .owner_c
        .with_token("another-secret-token")
        .me()
        .whoami()
        .await
        .unwrap_err();

    let printed = format!(
        "{builder:?} {external:?} {:?} {created:?} {session:?} {group_err:?} {group_err} {auth_err:?} {auth_err} {:?} {:?} {:?}",
        w.owner_c,
        external.chats(),
        external.notifications().stream(None),
        session.raw(),
    );
    for secret in [
        token.as_str(),
        session_token.as_str(),
        w.owner.token.as_str(),
        "another-secret-token",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked: {printed}");
    }
    assert!(printed.contains("[REDACTED]"));
}

#[tokio::test]
async fn builder_options_reach_the_requests() {
    // A purpose-built server that answers whoami with what it received.
    let router = axum::Router::new().route(
        "/api/auth/me",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            axum::Json(json!({
                "id": h("x-team"),
                "name": h("user-agent"),
                "type": h("authorization").replace("tok-123456", "the-token"),
            }))
        }),
    );
    let url = agentwire_tests::serve(router).await;
    let responses = Arc::new(AtomicUsize::new(0));
    let counter = responses.clone();
    let c = Client::builder(&url)
        .token("tok-123456")
        .header("X-Team", "research")
        .on_response(move |r| {
            assert_eq!(r.status, Some(200));
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let me = c.me().whoami().await.unwrap();
    assert_eq!(me.id, "research");
    assert!(me.name.starts_with("agentwire/"), "{}", me.name);
    assert_eq!(me.user_type, "Bearer the-token");
    assert_eq!(responses.load(Ordering::SeqCst), 1);

    let own = reqwest::Client::builder()
        .user_agent("custom-agent")
        .build()
        .unwrap();
    // A supplied client still carries agentwire's headers and User-Agent
    // (they are added per request); a User-Agent set as a header wins.
    let c = Client::builder(&url)
        .token("tok-123456")
        .http_client(own.clone())
        .build()
        .unwrap();
    assert!(c
        .me()
        .whoami()
        .await
        .unwrap()
        .name
        .starts_with("agentwire/"));
    let c = Client::builder(&url)
        .token("tok-123456")
        .http_client(own)
        .header("User-Agent", "custom-agent")
        .build()
        .unwrap();
    assert_eq!(c.me().whoami().await.unwrap().name, "custom-agent");

    // Timeout and circuit breaker, against the sandbox's fault knobs.
    let w = world().await;
    w.sb.faults().set_latency(Duration::from_millis(400));
    let slow = Client::builder(w.sb.base_url())
        .token(&w.owner.token)
        .retry(RetryConfig::none())
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    match slow.me().whoami().await {
        Err(Error::Network(n)) => assert_eq!(n.kind, agentwire::NetworkErrorKind::Timeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
    w.sb.faults().clear();
    w.sb.faults().fail_next(1, 503);
    let guarded = Client::builder(w.sb.base_url())
        .token(&w.owner.token)
        .retry(RetryConfig::none())
        .circuit_breaker(
            agentwire::CircuitBreakerConfig::new(1).with_cooldown(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    assert!(matches!(guarded.me().whoami().await, Err(Error::Server(_))));
    let before = w.sb.request_count();
    assert!(matches!(
        guarded.me().whoami().await,
        Err(Error::CircuitOpen {
            service: "mycel",
            ..
        })
    ));
    assert_eq!(
        w.sb.request_count(),
        before,
        "an open breaker sends nothing"
    );
    // Nor does it open the inbox: the WebSocket handshake is an operation
    // like the others. (A reconnecting stream would wait for the breaker to
    // close; without reconnection the refusal is its first item.)
    let mut inbox = guarded
        .notifications()
        .stream(Some(0))
        .reconnect(false)
        .into_stream();
    let first = tokio::time::timeout(Duration::from_secs(5), inbox.next())
        .await
        .expect("the refusal comes at once");
    assert!(
        matches!(first, Some(Err(Error::CircuitOpen { .. }))),
        "{first:?}"
    );
    assert_eq!(w.sb.request_count(), before, "no handshake was attempted");
}
