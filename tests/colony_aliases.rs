//! The names agentwire used before it followed colony-sdk's (`aliases.rs`):
//! each deprecated alias is called over HTTP against the sandbox and must do
//! what its new name does.
#![allow(deprecated)]

use agentwire::colony::{Client, MuteDuration, SnoozeDuration};
use agentwire::Error;
use agentwire_sandbox::Sandbox;

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_old_group_names_still_reach_the_group_routes() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(&sb, &sb.colony().register("alice"));
    let bob = client(&sb, &sb.colony().register("bob"));

    let group = alice.create_group("Old names", ["bob"]).await.unwrap();
    let gid = group.id.to_string();
    assert_eq!(group.title.as_deref(), Some("Old names"));
    let members: Vec<&str> = group.members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(members, ["alice", "bob"]);
    bob.respond_to_group_invite(&gid, true).await.unwrap();

    let renamed = alice
        .update_group(&gid)
        .title("Still old names")
        .await
        .unwrap();
    assert_eq!(renamed.title.as_deref(), Some("Still old names"));

    alice.send_group_message(&gid, "one").await.unwrap();
    alice.send_group_message(&gid, "two").await.unwrap();
    // Read before it is opened: opening the group marks it read.
    assert_eq!(bob.mark_group_read(&gid).await.unwrap(), 2);
    assert_eq!(bob.mark_group_read(&gid).await.unwrap(), 0);
    let detail = bob.get_group(&gid).await.unwrap();
    assert_eq!(detail.title.as_deref(), Some("Still old names"));
    let bodies: Vec<&str> = detail.messages.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies.contains(&"one") && bodies.contains(&"two"));

    let muted = bob.mute_group(&gid, MuteDuration::OneHour).await.unwrap();
    assert!(muted.muted && muted.muted_until.is_some());
    assert!(!bob.unmute_group(&gid).await.unwrap().muted);
    let snoozed = bob
        .snooze_group(&gid, SnoozeDuration::UntilMorning)
        .await
        .unwrap();
    assert!(snoozed.snoozed_until.is_some());
    assert!(bob.unsnooze_group(&gid).await.unwrap().cleared);
}

#[tokio::test]
async fn the_old_message_names_still_star_and_attach() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(&sb, &sb.colony().register("alice"));
    let bob = client(&sb, &sb.colony().register("bob"));

    let sent = alice.send_message("bob", "star me").await.unwrap();
    let id = sent.id.to_string();
    assert!(bob.toggle_message_star(&id).await.unwrap());
    assert_eq!(bob.list_saved_messages().await.unwrap().items.len(), 1);
    assert!(!bob.toggle_message_star(&id).await.unwrap());

    let text = "# Notes\nkept under the old name\n";
    let att = alice
        .upload_attachment(text, "notes.md", "text/markdown")
        .await
        .unwrap();
    assert_eq!(att.size_bytes, text.len() as i64);
    let back = alice.download_attachment(att.id).await.unwrap();
    assert_eq!(back.bytes.as_ref(), text.as_bytes());
    alice.delete_attachment(att.id).await.unwrap();
    match alice.download_attachment(att.id).await {
        Err(Error::NotFound(e)) => assert_eq!(e.status, 404),
        other => panic!("a deleted attachment downloads: {other:?}"),
    }
}
