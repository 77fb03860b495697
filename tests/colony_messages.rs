//! The Colony's messaging end to end: direct messages and conversations, spam
//! flags, group conversations, per-message operations, attachments and
//! avatars — all over HTTP against the sandbox, between several agents.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire::colony::{
    is_deleted, Client, InviteStatus, MuteDuration, SnoozeDuration, SpamReason,
    DELETED_MESSAGE_BODY,
};
use agentwire::{CircuitBreakerConfig, Error, RetryConfig};
use agentwire_sandbox::Sandbox;

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(
            RetryConfig::default()
                .with_max_retries(4)
                .with_base_delay(Duration::from_millis(2)),
        )
        .build()
        .unwrap()
}

/// A sandbox and one client per name, each a registered agent.
async fn agents<const N: usize>(names: [&str; N]) -> (Sandbox, [Client; N]) {
    let sb = Sandbox::start().await.unwrap();
    let clients = names.map(|n| client(&sb, &sb.colony().register(n)));
    (sb, clients)
}

fn is_forbidden(e: &Error) -> bool {
    matches!(e, Error::Auth(api) if api.status == 403)
}

/// Bytes that are not UTF-8 and that contain what a multipart parser looks
/// for (CRLF, dashes), behind a PNG header announcing 2×3 pixels.
fn png_like() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&2u32.to_be_bytes());
    b.extend_from_slice(&3u32.to_be_bytes());
    b.extend_from_slice(b"\xff\xfe\x00\x80\r\n--\r\n--agentwire\r\n\r\n\xc3\x28");
    b.extend((0..=255u8).rev());
    b
}

#[tokio::test]
async fn direct_messages_round_trip_with_unread_counts() {
    let (sb, [alice, bob, carol]) = agents(["alice", "bob", "carol"]).await;
    let first = alice.send_message("bob", "hi bob").await.unwrap();
    assert_eq!(first.body, "hi bob");
    assert_eq!(first.sender.username, "alice");
    assert_eq!(first.sender.username, "alice");
    assert!(!first.is_read && first.edited_at.is_none() && !is_deleted(&first.body));
    assert!(first.read_at.is_none() && first.reply_to.is_none());
    assert_eq!(first.reactions.iter().len(), 0);
    alice.send_message("bob", "second").await.unwrap();

    assert_eq!(bob.get_unread_count().await.unwrap(), 2);
    let inbox = bob.list_conversations().await.unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].other_user.username, "alice");
    assert_eq!(inbox[0].other_user.username, "alice");
    assert_eq!(inbox[0].unread_count, 2);
    assert_eq!(inbox[0].last_message_preview.as_deref(), Some("second"));
    assert_eq!(inbox[0].id.to_string(), first.conversation_id.to_string());
    assert!(!inbox[0].is_archived);
    assert!(inbox[0].last_message_at >= first.created_at);

    // Reading the conversation marks it read.
    let thread = bob.get_conversation("alice").await.unwrap();
    assert_eq!(
        thread.id.map(|id| id.to_string()).as_deref(),
        Some(first.conversation_id.to_string().as_str())
    );
    assert_eq!(thread.other_user.username, "alice");
    let bodies: Vec<&str> = thread.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["hi bob", "second"]);
    assert!(thread.messages.iter().all(|m| m.is_read));
    assert_eq!(bob.get_unread_count().await.unwrap(), 0);
    assert_eq!(bob.list_conversations().await.unwrap()[0].unread_count, 0);
    // The sender sees that it was read.
    let seen = alice.get_conversation("bob").await.unwrap().messages;
    assert!(seen[0].is_read && seen[0].read_at.is_some());

    // A reply, addressed by user id, carries a preview of what it answers.
    let alice_id = sb.colony().user_id("alice").unwrap();
    let reply = bob
        .send_message(&alice_id, "hello alice")
        .reply_to(first.id.to_string())
        .await
        .unwrap();
    let preview = reply.reply_to.as_ref().unwrap();
    assert_eq!(preview.id.to_string(), first.id.to_string());
    assert_eq!(preview.body_preview, "hi bob");
    assert_eq!(preview.sender_username, "alice");
    assert_eq!(preview.sender_id.to_string(), alice_id);
    assert!(!preview.deleted);

    // Paging through the thread.
    let page = alice
        .get_conversation("bob")
        .limit(1)
        .offset(1)
        .await
        .unwrap();
    assert_eq!(
        page.messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["second"]
    );

    // No conversation yet: no id, no messages.
    let empty = carol.get_conversation("alice").await.unwrap();
    assert_eq!(empty.id, None);
    assert_eq!(empty.messages.iter().len(), 0);

    // The inbox lists the most recent conversation first and pages.
    alice.send_message("carol", "hi carol").await.unwrap();
    let names = |cs: Vec<agentwire::colony::Conversation>| -> Vec<String> {
        cs.iter()
            .map(|c| c.other_user.username.to_owned())
            .collect()
    };
    assert_eq!(
        names(alice.list_conversations().await.unwrap()),
        ["carol", "bob"]
    );
    assert_eq!(
        names(alice.list_conversations().limit(1).offset(1).await.unwrap()),
        ["bob"]
    );
    assert_eq!(
        names(
            alice
                .list_conversations()
                .include_archived(true)
                .await
                .unwrap()
        ),
        ["carol", "bob"]
    );
}

#[tokio::test]
async fn an_explicit_idempotency_key_sends_once() {
    let (sb, [alice, _bob]) = agents(["alice", "bob"]).await;
    let a = alice
        .send_message("bob", "exactly once")
        .idempotency_key("send-42")
        .await
        .unwrap();
    let b = alice
        .send_message("bob", "exactly once")
        .idempotency_key("send-42")
        .await
        .unwrap();
    assert_eq!(a.id.to_string(), b.id.to_string());
    assert_eq!(
        sb.colony().messages_in_conversation_of(&a.id.to_string()),
        1
    );
    // The same key on another message is refused rather than replayed.
    let clash = alice
        .send_message("bob", "something else")
        .idempotency_key("send-42")
        .await;
    assert!(matches!(clash, Err(Error::Conflict(_))), "{clash:?}");
}

#[tokio::test]
async fn spam_mark_twice_replays_and_unmark_clears() {
    let (sb, [alice, _bob, carol]) = agents(["alice", "bob", "carol"]).await;
    let operations = Arc::new(Mutex::new(Vec::new()));
    let seen = operations.clone();
    let bob = Client::builder(sb.colony().register("bob"))
        .base_url(sb.base_url())
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .on_request(move |info| seen.lock().unwrap().push((info.operation, info.attempt)))
        .build()
        .unwrap();
    alice.send_message("bob", "buy my course").await.unwrap();
    bob.get_unread_count().await.unwrap();

    // Sent by hand, yet retried by the runtime like any write.
    sb.faults().fail_next(1, 503);
    let first = bob
        .mark_conversation_spam("alice")
        .reason(SpamReason::Harassment)
        .description("unsolicited ads")
        .await
        .unwrap();
    assert!(!first.replayed);
    assert!(first.flag.spam_reported_at.is_some());
    assert_eq!(
        first.flag.spam_reason_code.as_deref().map(SpamReason::from),
        Some(SpamReason::Harassment)
    );
    assert!(first.flag.spam_reported_at.is_some());
    let report = first
        .flag
        .report_id
        .map(|v| v.to_string())
        .expect("a report is filed");
    let attempts: Vec<u32> = operations
        .lock()
        .unwrap()
        .iter()
        .filter(|(op, _)| *op == "mark_conversation_spam")
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(attempts, [1, 2]);
    // Flagged conversations leave the inbox.
    assert!(bob.list_conversations().await.unwrap().is_empty());

    let again = bob.mark_conversation_spam("alice").await.unwrap();
    assert!(again.replayed);
    assert_eq!(
        again.flag.report_id.map(|v| v.to_string()).as_deref(),
        Some(report.as_str())
    );
    assert_eq!(
        again.flag.spam_reason_code.as_deref().map(SpamReason::from),
        Some(SpamReason::Harassment)
    );
    assert_eq!(
        again.flag.conversation_id.to_string(),
        first.flag.conversation_id.to_string()
    );

    let cleared = bob.unmark_conversation_spam("alice").await.unwrap();
    assert!(cleared.spam_reported_at.is_none());
    assert_eq!(
        cleared.spam_reason_code.as_deref().map(SpamReason::from),
        None
    );
    assert_eq!(
        cleared.report_id.map(|v| v.to_string()).as_deref(),
        Some(report.as_str()),
        "reports stay"
    );
    assert_eq!(bob.list_conversations().await.unwrap().len(), 1);

    // An unknown reason is filed as "other".
    let other = bob
        .mark_conversation_spam("alice")
        .reason(SpamReason::from("phishing"))
        .await
        .unwrap();
    assert_eq!(
        other.flag.spam_reason_code.as_deref().map(SpamReason::from),
        Some(SpamReason::OtherReason)
    );

    for err in [
        carol.mark_conversation_spam("alice").await.unwrap_err(),
        bob.mark_conversation_spam("nobody-here").await.unwrap_err(),
        carol.unmark_conversation_spam("alice").await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_group_from_creation_to_departure() {
    let (sb, [alice, bob, carol, dave]) = agents(["alice", "bob", "carol", "dave"]).await;
    let group = alice
        .create_group_conversation("Research crew", ["bob"])
        .await
        .unwrap();
    let gid = group.id.to_string();
    assert_eq!(group.title.as_deref(), Some("Research crew"));
    assert_eq!(
        group.creator_id.to_string(),
        sb.colony().user_id("alice").unwrap()
    );
    let invited: Vec<&str> = group.members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(invited, ["alice", "bob"]);
    assert!(group
        .members
        .iter()
        .all(|m| !m.id.to_string().is_empty() && !m.display_name.is_empty()));
    assert_eq!(group.template, None);
    assert_eq!(group.starter_message_id.map(|v| v.to_string()), None);

    // A pending invitee cannot read the group yet.
    assert!(is_forbidden(
        &bob.get_group_conversation(&gid).await.unwrap_err()
    ));
    assert_eq!(
        bob.respond_to_group_invite(&gid, true).await.unwrap(),
        InviteStatus::Accepted
    );

    let invite = alice.add_group_member(&gid, "carol").await.unwrap();
    assert!(invite.added && !invite.already_member);
    assert_eq!(invite.username, "carol");
    assert_eq!(
        invite.invite_status.as_deref().map(InviteStatus::from),
        Some(InviteStatus::Pending)
    );
    let again = alice.add_group_member(&gid, "carol").await.unwrap();
    assert!(!again.added && again.already_member);
    assert_eq!(
        carol.respond_to_group_invite(&gid, false).await.unwrap(),
        InviteStatus::Declined
    );
    let names = |ms: Vec<agentwire::colony::GroupMember>| -> Vec<String> {
        ms.iter().map(|m| m.username.to_owned()).collect()
    };
    assert_eq!(
        names(alice.list_group_members(&gid).await.unwrap()),
        ["alice", "bob"]
    );
    alice.add_group_member(&gid, "carol").await.unwrap();
    carol.respond_to_group_invite(&gid, true).await.unwrap();
    let members = alice.list_group_members(&gid).await.unwrap();
    assert_eq!(names(members.clone()), ["alice", "bob", "carol"]);
    assert_eq!(
        agentwire::colony::UserType::from(members[2].user_type.as_str()),
        agentwire::colony::UserType::Agent
    );
    assert_eq!(members[2].display_name, "carol");
    assert_eq!(members[2].presence_status, None);
    assert!(!members[2].id.to_string().is_empty());

    // Roles.
    assert!(is_forbidden(
        &carol
            .update_group_conversation(&gid)
            .title("Mine now")
            .await
            .unwrap_err()
    ));
    assert!(alice.set_group_admin(&gid, "bob", true).await.unwrap());
    let meta = bob
        .update_group_conversation(&gid)
        .title("Research crew II")
        .description("Tool latency")
        .await
        .unwrap();
    assert_eq!(meta.title.as_deref(), Some("Research crew II"));
    assert_eq!(meta.description.as_deref(), Some("Tool latency"));
    let cleared = bob
        .update_group_conversation(&gid)
        .description("")
        .await
        .unwrap();
    assert_eq!(cleared.description, None);
    assert!(is_forbidden(
        &bob.transfer_group_creator(&gid, "bob").await.unwrap_err()
    ));
    let transfer = alice.transfer_group_creator(&gid, "bob").await.unwrap();
    assert_eq!(transfer.creator_username, "bob");
    let bob_id = sb.colony().user_id("bob").unwrap();
    assert_eq!(transfer.creator_id.to_string(), bob_id);

    // A send retried through two 503s and a lost answer creates ONE message.
    alice.get_unread_count().await.unwrap();
    sb.faults().fail_next(2, 503);
    sb.faults().truncate_next(1);
    let sent = alice
        .send_group_message(&gid, "Findings are in")
        .await
        .unwrap();
    assert_eq!(sb.faults().pending(), 0);
    assert_eq!(
        sb.colony()
            .messages_in_conversation_of(&sent.id.to_string()),
        1
    );
    let detail = bob.get_group_conversation(&gid).await.unwrap();
    assert_eq!(detail.id.to_string(), gid);
    assert_eq!(detail.title.as_deref(), Some("Research crew II"));
    assert_eq!(detail.description, None);
    assert_eq!(detail.creator_id.map(|id| id.to_string()), Some(bob_id));
    assert_eq!(detail.member_count, 3);
    let msgs: Vec<(String, String)> = detail
        .messages
        .iter()
        .map(|m| (m.id.to_string(), m.body.to_owned()))
        .collect();
    assert_eq!(msgs, [(sent.id.to_string(), "Findings are in".to_owned())]);

    // Search, newest first, with the matches marked.
    bob.send_group_message(&gid, "tool latency is high")
        .await
        .unwrap();
    let carols = carol
        .send_group_message(&gid, "LATENCY again")
        .reply_to(sent.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        carols.reply_to.as_ref().unwrap().id.to_string(),
        sent.id.to_string()
    );
    let found = alice.search_group_messages(&gid, "latency").await.unwrap();
    assert_eq!(found.q, "latency");
    assert_eq!(found.count, 2);
    assert!(!found.pagination.as_ref().is_some_and(|p| p.has_more));
    let hits: Vec<&str> = found.results.iter().map(|h| h.body.as_str()).collect();
    assert_eq!(hits, ["LATENCY again", "tool latency is high"]);
    assert_eq!(
        found.results[0].body_highlight.as_deref(),
        Some("<mark>LATENCY</mark> again")
    );
    let first_page = alice
        .search_group_messages(&gid, "latency")
        .limit(1)
        .await
        .unwrap();
    assert_eq!(first_page.results.iter().len(), 1);
    assert!(first_page.pagination.as_ref().is_some_and(|p| p.has_more));
    let second_page = alice
        .search_group_messages(&gid, "latency")
        .limit(1)
        .offset(1)
        .await
        .unwrap();
    assert_eq!(second_page.results.first().unwrap().sender.username, "bob");

    // Pins (admins only).
    let pin = bob
        .pin_group_message(&gid, &sent.id.to_string())
        .await
        .unwrap();
    assert!(pin.pinned && !pin.already);
    assert!(
        bob.pin_group_message(&gid, &sent.id.to_string())
            .await
            .unwrap()
            .already
    );
    assert!(is_forbidden(
        &carol
            .pin_group_message(&gid, &sent.id.to_string())
            .await
            .unwrap_err()
    ));
    let pinned: Vec<String> = alice
        .get_group_conversation(&gid)
        .await
        .unwrap()
        .pinned
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(pinned, [sent.id.to_string()]);
    let unpin = bob
        .unpin_group_message(&gid, &sent.id.to_string())
        .await
        .unwrap();
    assert!(!unpin.pinned && !unpin.already);
    assert_eq!(
        alice
            .get_group_conversation(&gid)
            .await
            .unwrap()
            .pinned
            .len(),
        0
    );

    // Read receipts: carol hides hers, so her read does not show.
    let hidden = carol
        .set_group_read_receipts(&gid, Some(false))
        .await
        .unwrap();
    assert!(!hidden.effective);
    assert_eq!(hidden.override_, Some(false));
    assert_eq!(carol.mark_group_all_read(&gid).await.unwrap(), 2);
    assert_eq!(carol.mark_group_all_read(&gid).await.unwrap(), 0);
    let reads = alice
        .list_message_reads(&sent.id.to_string())
        .await
        .unwrap();
    assert!(reads.is_group);
    assert_eq!(reads.total_others, 2);
    let seen: Vec<&str> = reads.seen.iter().map(|r| r.username.as_str()).collect();
    let unseen: Vec<&str> = reads.unseen.iter().map(|r| r.username.as_str()).collect();
    assert_eq!((seen, unseen), (vec!["bob"], vec!["carol"]));
    assert_eq!(reads.seen_count, 1);
    let shown = carol.set_group_read_receipts(&gid, None).await.unwrap();
    assert!(shown.effective);
    assert_eq!(shown.override_, None);
    assert_eq!(
        alice
            .list_message_reads(&sent.id.to_string())
            .await
            .unwrap()
            .seen_count,
        2
    );
    let page = alice
        .get_group_conversation(&gid)
        .limit(1)
        .offset(2)
        .await
        .unwrap();
    let last: Vec<&str> = page.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(last, ["LATENCY again"]);
    assert_eq!(
        page.messages.first().unwrap().read_count,
        1,
        "alice has read it"
    );

    // Mute and snooze.
    let muted = alice
        .mute_group_conversation(&gid, MuteDuration::OneHour)
        .await
        .unwrap();
    assert!(muted.muted && muted.muted_until.is_some());
    let forever = alice
        .mute_group_conversation(&gid, MuteDuration::Forever)
        .await
        .unwrap();
    assert!(forever.muted && forever.muted_until.is_none());
    assert!(!alice.unmute_group_conversation(&gid).await.unwrap().muted);
    let snoozed = alice
        .snooze_group_conversation(&gid, SnoozeDuration::UntilMorning)
        .await
        .unwrap();
    let until = snoozed.snoozed_until.unwrap();
    assert!(until > sent.created_at && !snoozed.cleared);
    assert!(
        alice
            .unsnooze_group_conversation(&gid)
            .await
            .unwrap()
            .cleared
    );
    let none = alice.unsnooze_group_conversation(&gid).await.unwrap();
    assert!(!none.cleared && none.snoozed_until.is_none());

    // Outsiders and departures.
    let err = dave
        .send_group_message(&gid, "let me in")
        .await
        .unwrap_err();
    assert!(is_forbidden(&err), "{err:?}");
    assert!(is_forbidden(
        &dave
            .mute_group_conversation(&gid, MuteDuration::OneDay)
            .await
            .unwrap_err()
    ));
    assert!(bob.remove_group_member(&gid, "carol").await.unwrap());
    assert!(is_forbidden(
        &carol.get_group_conversation(&gid).await.unwrap_err()
    ));
    assert!(is_forbidden(
        &alice.remove_group_member(&gid, "bob").await.unwrap_err()
    ));
    assert!(alice.remove_group_member(&gid, "alice").await.unwrap());
    assert_eq!(names(bob.list_group_members(&gid).await.unwrap()), ["bob"]);
}

#[tokio::test]
async fn groups_from_templates_start_with_a_pinned_message() {
    let (_sb, [alice, bob]) = agents(["alice", "bob"]).await;
    let templates = alice.list_group_templates().await.unwrap();
    assert!(!templates.is_empty());
    let t = &templates[0];
    assert!(!t.slug.is_empty() && !t.title.is_empty() && !t.description.is_empty());
    assert!(!t.starter_pinned_message.is_empty());
    let _ = t.suggested_roles;

    let group = alice
        .create_group_from_template(&t.slug, ["bob"])
        .title("Our squad")
        .await
        .unwrap();
    assert_eq!(group.title.as_deref(), Some("Our squad"));
    assert_eq!(group.template.as_deref(), Some(t.slug.as_str()));
    assert_eq!(group.description.as_deref(), Some(t.description.as_str()));
    let starter = group.starter_message_id.map(|v| v.to_string()).unwrap();
    bob.respond_to_group_invite(&group.id.to_string(), true)
        .await
        .unwrap();
    let detail = bob
        .get_group_conversation(group.id.to_string())
        .await
        .unwrap();
    let pinned: Vec<(String, String)> = detail
        .pinned
        .iter()
        .map(|m| (m.id.to_string(), m.body.to_owned()))
        .collect();
    assert_eq!(pinned, [(starter, t.starter_pinned_message.to_owned())]);

    let plain = alice
        .create_group_from_template(&t.slug, ["bob"])
        .await
        .unwrap();
    assert_eq!(plain.title.as_deref(), Some(t.title.as_str()));
    let missing = alice
        .create_group_from_template("no-such-template", ["bob"])
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

#[tokio::test]
async fn per_message_reads_reactions_edits_stars_forwards_and_deletes() {
    let (sb, [alice, bob, carol]) = agents(["alice", "bob", "carol"]).await;
    let msg = alice.send_message("bob", "draft one").await.unwrap();
    let id = msg.id.to_string();

    // Reads.
    let mark = bob.mark_message_read(&id).await.unwrap();
    assert!(!mark.already && !mark.self_authored);
    assert!(bob.mark_message_read(&id).await.unwrap().already);
    assert!(alice.mark_message_read(&id).await.unwrap().self_authored);
    let reads = alice.list_message_reads(&id).await.unwrap();
    assert!(!reads.is_group);
    assert_eq!(reads.total_others, 1);
    let reader = reads.seen.first().unwrap();
    assert_eq!(reader.username, "bob");
    assert_eq!(reader.display_name, "bob");
    assert_eq!(
        reader.user_id.to_string(),
        sb.colony().user_id("bob").unwrap()
    );
    assert!(reader.read_at.is_some());
    assert_eq!(reads.unseen.iter().len(), 0);

    // Reactions.
    let thumbs = bob.add_message_reaction(&id, "👍").await.unwrap();
    assert_eq!(thumbs.emoji, "👍");
    assert_eq!(thumbs.username, "bob");
    assert_eq!(
        thumbs.user_id.to_string(),
        sb.colony().user_id("bob").unwrap()
    );
    let twice = bob.add_message_reaction(&id, "👍").await.unwrap();
    assert_eq!(twice.created_at, thumbs.created_at);
    alice.add_message_reaction(&id, "🔥").await.unwrap();
    let listed = bob.get_conversation("alice").await.unwrap().messages;
    let emojis: Vec<(&str, &str)> = listed[0]
        .reactions
        .iter()
        .map(|r| (r.username.as_str(), r.emoji.as_str()))
        .collect();
    assert_eq!(emojis, [("bob", "👍"), ("alice", "🔥")]);
    assert!(bob.remove_message_reaction(&id, "👍").await.unwrap());
    assert!(!bob.remove_message_reaction(&id, "👍").await.unwrap());

    // Edits, by the sender only, within 5 minutes.
    let edited = alice.edit_message(&id, "draft two").await.unwrap();
    assert_eq!(edited.body, "draft two");
    assert!(edited.edited_at.is_some() && edited.edited_at.is_some());
    assert!(is_forbidden(
        &bob.edit_message(&id, "hijack").await.unwrap_err()
    ));
    let versions = bob.list_message_edits(&id).await.unwrap();
    let texts: Vec<(&str, bool)> = versions
        .iter()
        .map(|v| (v.body.as_str(), v.is_current))
        .collect();
    assert_eq!(texts, [("draft two", true), ("draft one", false)]);
    assert!(versions[0].created_at >= versions[1].created_at);
    assert!(sb.colony().age_message(&id, Duration::from_secs(6 * 60)));
    match alice.edit_message(&id, "too late").await {
        Err(Error::Auth(e)) => {
            assert_eq!(e.status, 403);
            assert_eq!(e.code.as_deref(), Some("EDIT_WINDOW_EXPIRED"));
        }
        other => panic!("{other:?}"),
    }

    // Stars.
    assert!(bob.toggle_star_message(&id).await.unwrap());
    let saved = bob.list_saved_messages().await.unwrap();
    assert_eq!(saved.items.len(), 1);
    assert_eq!(saved.total, Some(1));
    assert!(!saved.has_more);
    let entry = &saved.items[0];
    assert_eq!(entry.message.id.to_string(), id);
    assert_eq!(entry.other_username.as_deref(), Some("alice"));
    assert!(!entry.is_group && entry.conversation_title.is_none());
    assert!(entry.note.is_none() && entry.saved_at >= msg.created_at);
    let paged = bob.list_saved_messages().limit(1).offset(1).await.unwrap();
    assert!(paged.items.is_empty());
    assert!(!bob.toggle_star_message(&id).await.unwrap());
    assert!(bob.list_saved_messages().await.unwrap().items.is_empty());

    // Forwarding quotes the message in a new 1:1 message.
    let fwd = bob
        .forward_message(id.clone(), "carol")
        .comment("FYI")
        .await
        .unwrap();
    assert_eq!(fwd.body, "FYI\n\n> draft two");
    assert_ne!(
        fwd.conversation_id.to_string(),
        msg.conversation_id.to_string()
    );
    let at_carol = carol.get_conversation("bob").await.unwrap().messages;
    assert_eq!(at_carol[0].id.to_string(), fwd.id.to_string());
    let bare = bob.forward_message(id.clone(), "carol").await.unwrap();
    assert_eq!(bare.body, "> draft two");
    assert!(is_forbidden(
        &carol
            .forward_message(id.clone(), "alice")
            .await
            .unwrap_err()
    ));

    // Deleting leaves a tombstone in place.
    let answer = bob
        .send_message("alice", "noted")
        .reply_to(id.clone())
        .await
        .unwrap();
    assert!(is_forbidden(&bob.delete_message(&id).await.unwrap_err()));
    assert!(alice.delete_message(&id).await.unwrap());
    let thread = bob.get_conversation("alice").await.unwrap().messages;
    assert_eq!(thread.len(), 2, "still listed");
    assert_eq!(thread[0].id.to_string(), id);
    assert!(is_deleted(&thread[0].body));
    assert_eq!(thread[0].body, DELETED_MESSAGE_BODY);
    assert_eq!(thread[0].reactions.iter().len(), 0);
    assert_eq!(thread[1].id.to_string(), answer.id.to_string());
    assert!(thread[1].reply_to.as_ref().unwrap().deleted);
    assert!(!is_deleted(&thread[1].body));
}

#[tokio::test]
async fn attachments_round_trip_their_bytes() {
    let (sb, [alice, bob, carol]) = agents(["alice", "bob", "carol"]).await;
    let data = png_like();
    assert!(std::str::from_utf8(&data).is_err());
    alice.get_unread_count().await.unwrap();

    // The form is an in-memory body, so the runtime can retry it.
    sb.faults().fail_next(1, 503);
    let att = alice
        .upload_message_attachment(&data, "diagram.png", "image/png")
        .await
        .unwrap();
    assert_eq!(att.mime_type, "image/png");
    assert_eq!(att.size_bytes, data.len() as i64);
    assert_eq!((att.width, att.height), (Some(2), Some(3)));
    assert!(att.full_url.ends_with(&format!("{}/full", att.id)));
    assert!(att.thumb_url.ends_with("/thumb"));

    let back = alice
        .get_message_attachment(&att.id.to_string(), "full")
        .await
        .unwrap();
    assert_eq!(back.bytes.as_ref(), data.as_slice());
    assert_eq!(back.content_type.as_deref(), Some("image/png"));
    assert!(format!("{back:?}").contains(&data.len().to_string()));

    // The same file again is the same attachment.
    let dup = alice
        .upload_message_attachment(data.clone(), "copy.png", "image/png")
        .await
        .unwrap();
    assert_eq!(dup.id.to_string(), att.id.to_string());

    // An attachment-only message; the recipient may download it, others not.
    let msg = alice
        .send_message("bob", "")
        .attachments([att.id.to_string()])
        .await
        .unwrap();
    assert_eq!(msg.body, "");
    let listed: Vec<String> = msg.attachments.iter().map(|a| a.id.to_string()).collect();
    assert_eq!(listed, [att.id.to_string()]);
    assert_eq!(
        bob.get_message_attachment(&att.id.to_string(), "full")
            .await
            .unwrap()
            .bytes
            .as_ref(),
        data.as_slice()
    );
    assert!(is_forbidden(
        &carol
            .get_message_attachment(&att.id.to_string(), "full")
            .await
            .unwrap_err()
    ));
    assert!(is_forbidden(
        &bob.delete_message_attachment(&att.id.to_string())
            .await
            .unwrap_err()
    ));

    let notes = alice
        .upload_message_attachment("# Notes\nline two\n", "notes.md", "text/markdown")
        .await
        .unwrap();
    assert_eq!(notes.width, None);
    let text = alice
        .get_message_attachment(&notes.id.to_string(), "full")
        .await
        .unwrap();
    assert_eq!(text.bytes.as_ref(), b"# Notes\nline two\n");
    assert_eq!(text.content_type.as_deref(), Some("text/markdown"));

    alice
        .delete_message_attachment(&att.id.to_string())
        .await
        .unwrap();
    let gone = alice
        .get_message_attachment(&att.id.to_string(), "full")
        .await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    let thread = bob.get_conversation("alice").await.unwrap().messages;
    assert_eq!(thread[0].attachments.iter().len(), 0);

    let zip = alice
        .upload_message_attachment(b"PK\x03\x04", "a.zip", "application/zip")
        .await;
    assert!(
        matches!(zip, Err(Error::Validation(ref e)) if e.code.as_deref() == Some("UNSUPPORTED_FILE_TYPE")),
        "{zip:?}"
    );
}

#[tokio::test]
async fn group_avatars_are_uploaded_by_admins_and_served_to_members() {
    let (_sb, [alice, bob]) = agents(["alice", "bob"]).await;
    let gid = alice
        .create_group_conversation("Avatars", ["bob"])
        .await
        .unwrap()
        .id
        .to_string();
    bob.respond_to_group_invite(&gid, true).await.unwrap();
    let none = bob.get_group_avatar(&gid).await;
    assert!(matches!(none, Err(Error::NotFound(_))), "{none:?}");

    let image = png_like();
    let url = alice
        .upload_group_avatar(&gid, &image, "image/png")
        .await
        .unwrap();
    assert!(url.contains(&gid) && url.ends_with("/avatar"));
    let got = bob.get_group_avatar(&gid).await.unwrap();
    assert_eq!(got.bytes.as_ref(), image.as_slice());
    assert_eq!(got.content_type.as_deref(), Some("image/png"));

    assert!(is_forbidden(
        &bob.upload_group_avatar(&gid, &image, "image/png")
            .await
            .unwrap_err()
    ));
    let text = alice
        .upload_group_avatar(&gid, b"not an image", "text/plain")
        .await;
    assert!(matches!(text, Err(Error::Validation(_))), "{text:?}");
}

#[tokio::test]
async fn hand_sent_operations_respect_the_circuit_breaker() {
    let sb = Sandbox::start().await.unwrap();
    let alice = Client::builder(sb.colony().register("alice"))
        .base_url(sb.base_url())
        .retry(RetryConfig::none())
        .circuit_breaker(CircuitBreakerConfig::new(1).with_cooldown(Duration::from_secs(60)))
        .build()
        .unwrap();
    alice.get_unread_count().await.unwrap();
    sb.faults().fail_next(1, 500);
    assert!(matches!(
        alice
            .upload_message_attachment(b"hi", "a.txt", "text/plain")
            .await,
        Err(Error::Server(_))
    ));
    let before = sb.request_count();
    let refused = alice.get_message_attachment(&uuid_like(), "full").await;
    assert!(
        matches!(refused, Err(Error::CircuitOpen { .. })),
        "{refused:?}"
    );
    assert_eq!(sb.request_count(), before, "nothing was sent");
}

fn uuid_like() -> String {
    "00000000-0000-4000-8000-000000000001".into()
}

#[tokio::test]
async fn messaging_errors_are_typed() {
    let (sb, [alice, bob, _carol]) = agents(["alice", "bob", "carol"]).await;
    let err = alice
        .send_message("nobody-here", "hello?")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = alice.get_conversation("nobody-here").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let gid = alice
        .create_group_conversation("Closed circle", ["bob"])
        .await
        .unwrap()
        .id
        .to_string();
    let outsider = client(&sb, &sb.colony().register("dave"));
    let err = outsider
        .send_group_message(&gid, "hi all")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(ref e) if e.status == 403 && e.code.as_deref() == Some("FORBIDDEN")),
        "{err:?}"
    );
    // A pending invitee is not a member yet either.
    assert!(is_forbidden(
        &bob.send_group_message(&gid, "early").await.unwrap_err()
    ));
    let missing = alice.get_group_conversation(uuid_like()).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let bad_title = alice
        .create_group_conversation("Closed circle", ["nobody-here"])
        .await;
    assert!(
        matches!(bad_title, Err(Error::NotFound(_))),
        "{bad_title:?}"
    );

    // The published contract sets no lower bound on a message's body, so an
    // empty one without attachments is the service's refusal.
    let empty = alice.send_message("bob", "").await.unwrap_err();
    assert!(matches!(empty, Error::Validation(_)), "{empty:?}");

    // Arguments the contract rules out never leave the client.
    let before = sb.request_count();
    let invalid = [
        alice.edit_message("not-a-uuid", "x").await.unwrap_err(),
        alice.get_conversation("bob").limit(0).await.unwrap_err(),
        alice.get_conversation("bob").limit(101).await.unwrap_err(),
        alice.list_saved_messages().limit(0).await.unwrap_err(),
        alice
            .create_group_conversation("", ["bob"])
            .await
            .unwrap_err(),
        alice
            .create_group_conversation(&"t".repeat(101), ["bob"])
            .await
            .unwrap_err(),
        alice.search_group_messages(&gid, "x").await.unwrap_err(),
        alice
            .send_message("bob", "hi")
            .attachments(["nope"])
            .await
            .unwrap_err(),
        alice
            .upload_message_attachment(b"x", "", "text/plain")
            .await
            .unwrap_err(),
        alice
            .upload_message_attachment(b"x", "a.txt", "text")
            .await
            .unwrap_err(),
    ];
    for err in invalid {
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    }
    assert_eq!(sb.request_count(), before);
}
