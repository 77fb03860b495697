//! The Mycel inbox stream across what the backend does to its numbering:
//! a restart of the inbox state while a client is connected (seqs start at
//! 1 again), and a resume from a seq the server can no longer replay. In
//! both the stream drains the inbox to recover, and must lose nothing and
//! repeat nothing; and the inbox protocol's other facts (drain and wait
//! rebuilt from unread counts).

use std::time::Duration;

use agentwire::mycel::{Client, Notification};
use agentwire::{Error, RetryConfig};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;
use tokio::sync::mpsc;

fn client(sb: &Sandbox, token: &str) -> Client {
    Client::builder(sb.base_url())
        .token(token)
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

async fn until(mut cond: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not reached");
}

/// Reads the stream in the background; items arrive on the channel.
fn follow(
    stream: agentwire::ItemStream<Notification>,
) -> mpsc::UnboundedReceiver<agentwire::Result<Notification>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

async fn next(rx: &mut mpsc::UnboundedReceiver<agentwire::Result<Notification>>) -> Notification {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification")
        .expect("the stream is still open")
        .expect("not an error")
}

/// A sender and a receiver sharing a direct chat; the receiver's inbox
/// stream is connected.
struct Pair {
    sb: Sandbox,
    sender: Client,
    receiver_id: String,
    receiver: Client,
    chat_id: String,
}

async fn pair() -> Pair {
    let sb = Sandbox::start().await.unwrap();
    let owner = sb.mycel().register_owner("owner@example.com", "pw");
    let a = sb.mycel().create_external(&owner.id, "sender", "Sender");
    let b = sb
        .mycel()
        .create_external(&owner.id, "receiver", "Receiver");
    let sender = client(&sb, &a.token);
    let receiver = client(&sb, &b.token);
    let chat_id = sender.chats().ensure_direct("receiver").await.unwrap().id;
    Pair {
        sb,
        sender,
        receiver_id: b.id,
        receiver,
        chat_id,
    }
}

impl Pair {
    async fn say(&self, text: &str) -> String {
        self.sender
            .messages()
            .send(&self.chat_id, text)
            .await
            .unwrap()
            .id
    }
}

#[tokio::test]
async fn a_stream_connected_across_a_backend_restart_loses_nothing_and_repeats_nothing() {
    let p = pair().await;
    let mut rx = follow(p.receiver.notifications().stream(None).into_stream());
    until(|| p.sb.mycel().inbox_connections() == 1).await;

    let mut sent = Vec::new();
    for text in ["one", "two", "three"] {
        sent.push(p.say(text).await);
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next(&mut rx).await);
    }
    assert_eq!(got.iter().map(|n| n.seq).collect::<Vec<_>>(), [1, 2, 3]);

    // The backend restarts: the socket drops, the numbering starts again.
    // One message arrives before the client is back, two after.
    p.sb.mycel().restart_inbox();
    sent.push(p.say("four, while reconnecting").await);
    until(|| p.sb.mycel().inbox_connections() == 1).await;
    assert_eq!(
        p.sb.mycel().inbox_seq(&p.receiver_id),
        1,
        "numbered from 1 again"
    );
    for text in ["five", "six"] {
        sent.push(p.say(text).await);
    }
    for _ in 0..3 {
        got.push(next(&mut rx).await);
    }
    // One more: were anything repeated, it would come before this one.
    sent.push(p.say("seven").await);
    got.push(next(&mut rx).await);

    let ids: Vec<&str> = got
        .iter()
        .map(|n| n.metadata.message_id.as_deref().unwrap())
        .collect();
    assert_eq!(ids, sent, "every message once, in order");
    assert_eq!(
        got.iter().map(|n| n.seq).collect::<Vec<_>>(),
        [1, 2, 3, 1, 2, 3, 4],
        "the seqs of each numbering"
    );
    // Every field the backend sends is kept, recovered ones included.
    for (n, text) in got.iter().zip([
        "one",
        "two",
        "three",
        "four, while reconnecting",
        "five",
        "six",
        "seven",
    ]) {
        let m = &n.metadata;
        assert_eq!(m.chat_id.as_deref(), Some(p.chat_id.as_str()));
        assert_eq!(m.event_type.as_deref(), Some("chat.message"));
        assert_eq!(m.sender_id.as_deref(), Some("sender"));
        assert_eq!(m.summary.as_deref(), Some(text));
        assert!(m.message_seq.is_some());
    }
    assert!(rx.try_recv().is_err(), "nothing else came");
}

#[tokio::test]
async fn without_recovery_a_restart_ends_the_stream_with_a_typed_error() {
    let p = pair().await;
    let mut rx = follow(
        p.receiver
            .notifications()
            .stream(None)
            .recover_by_draining(false)
            .into_stream(),
    );
    until(|| p.sb.mycel().inbox_connections() == 1).await;
    p.say("one").await;
    p.say("two").await;
    assert_eq!(next(&mut rx).await.seq, 1);
    assert_eq!(next(&mut rx).await.seq, 2);
    p.sb.mycel().restart_inbox();
    until(|| p.sb.mycel().inbox_connections() == 1).await;
    p.say("three").await;
    let ended = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    match ended.expect("the stream answers") {
        Some(Err(Error::Stream { message, raw, .. })) => {
            assert!(message.contains("numbering restarted"), "{message}");
            assert_eq!(raw["type"], "restart");
            assert_eq!(raw["seq"], 1);
            assert_eq!(raw["last_seq"], 2);
        }
        other => panic!("expected a stream error, got {other:?}"),
    }
    let after = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert!(
        after.expect("the stream ends").is_none(),
        "the stream ended"
    );
}

#[tokio::test]
async fn a_replay_overflow_is_recovered_by_draining() {
    let p = pair().await;
    // More than the server replays (256), queued before the client comes.
    assert_eq!(p.sb.mycel().push_notifications(&p.receiver_id, 300), 300);
    let mut rx = follow(p.receiver.notifications().stream(Some(0)).into_stream());
    let mut seqs = Vec::new();
    for _ in 0..300 {
        seqs.push(next(&mut rx).await.seq);
    }
    assert_eq!(
        seqs,
        (1..=300).collect::<Vec<_>>(),
        "all of them, once, in order"
    );
    // The stream carries on live after the recovery.
    p.sb.mycel().push_notifications(&p.receiver_id, 1);
    assert_eq!(next(&mut rx).await.seq, 301);
    assert!(rx.try_recv().is_err());
}

#[tokio::test]
async fn drain_and_wait_report_every_unread_chat_until_it_is_read() {
    let p = pair().await;
    let inbox = p.receiver.notifications();
    let id = p.say("hello").await;
    let queued = inbox.drain().await.unwrap();
    assert_eq!(queued.count, 1);
    assert_eq!(
        queued.notifications[0].seq,
        Some(1),
        "a queued one has its seq"
    );

    // The queue is empty, but the chat is still unread: rebuilt from the
    // unread count, without a seq, naming the latest unread message.
    for _ in 0..2 {
        let again = inbox.drain().await.unwrap();
        assert_eq!(again.count, 1);
        let n = &again.notifications[0];
        assert_eq!(n.chat_id.as_deref(), Some(p.chat_id.as_str()));
        assert_eq!(n.message_id.as_deref(), Some(id.as_str()));
        assert_eq!(n.unread_count, Some(1));
        assert_eq!(n.seq, None);
    }
    // So a wait has something at once.
    let waited = inbox.wait(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        waited.notifications[0].message_id.as_deref(),
        Some(id.as_str())
    );

    // Once read, nothing is left to report.
    p.receiver
        .messages()
        .mark_all_read(&p.chat_id)
        .await
        .unwrap();
    assert_eq!(inbox.drain().await.unwrap().count, 0);
    assert_eq!(
        inbox.wait(Duration::from_millis(50)).await.unwrap().count,
        0
    );
}
