//! The Colony's polled feeds end to end: conversation tails (1:1 and
//! group) and the public community stream, as streams that keep their
//! place across failed and cut polls (nothing lost, nothing repeated),
//! resume from a message id, fill the gap behind a full page, honour
//! `ETag` / 304, and end on final refusals with one typed error.

use std::time::Duration;

use agentwire::colony::{Client, CommunityEvent, Message};
use agentwire::{Error, ItemStream, RetryConfig};
use agentwire_sandbox::{PollRequest, Sandbox};
use futures::StreamExt;
use tokio::sync::mpsc;

fn client(base: &str, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{base}/api/v1"))
        .retry(RetryConfig::none())
        .no_token_cache()
        .build()
        .unwrap()
}

async fn agents<const N: usize>(names: [&str; N]) -> (Sandbox, [Client; N]) {
    let sb = Sandbox::start().await.unwrap();
    let clients = names.map(|n| client(sb.base_url(), &sb.colony().register(n)));
    (sb, clients)
}

type Rx<T> = mpsc::UnboundedReceiver<agentwire::Result<T>>;

/// Polls `items` on a task of its own and hands each item over as it
/// arrives, so that the test can act between items.
fn pump<T: Send + 'static>(mut items: ItemStream<T>) -> Rx<T> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = items.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

async fn next<T: std::fmt::Debug>(rx: &mut Rx<T>) -> T {
    match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        Ok(Some(Ok(item))) => item,
        other => panic!("expected an item, got {other:?}"),
    }
}

async fn take<T: std::fmt::Debug>(rx: &mut Rx<T>, n: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next(rx).await);
    }
    out
}

fn bodies(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

fn polls(sb: &Sandbox, feed: &str) -> Vec<PollRequest> {
    sb.colony()
        .poll_requests()
        .into_iter()
        .filter(|p| p.feed == feed)
        .collect()
}

/// A fast tail: 1 ms between polls and after failures.
fn fast(tail: agentwire::colony::MessageTail) -> ItemStream<Message> {
    tail.interval(Duration::from_millis(1))
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .into_stream()
}

#[tokio::test]
async fn a_tail_yields_the_recent_messages_then_each_new_one_once_oldest_first() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    sb.colony()
        .seed_messages("bob", "carol", &["m0", "m1", "m2"]);
    let mut got = pump(fast(carol.tail_conversation("bob")));
    let first = take(&mut got, 3).await;
    assert_eq!(bodies(&first), ["m0", "m1", "m2"]);
    bob.send_message("carol", "m3").await.unwrap();
    bob.send_message("carol", "m4").await.unwrap();
    let later = take(&mut got, 2).await;
    assert_eq!(bodies(&later), ["m3", "m4"]);
    assert!(later.iter().all(|m| m.sender.username == "bob"));
    // A message after all that is the next item: nothing was repeated in
    // between, however many polls ran.
    bob.send_message("carol", "m5").await.unwrap();
    assert_eq!(next(&mut got).await.body, "m5");

    let log = polls(&sb, "conversation_tail");
    assert!(log.len() >= 3, "{log:?}");
    assert_eq!(log[0].since_id, None);
    assert_eq!(log[0].limit, Some(50));
    // Every later poll asks after the newest message seen by then.
    assert_eq!(log[1].since_id, Some(first[2].id.to_string()));
    let m4 = later[1].id.to_string();
    assert!(log
        .iter()
        .any(|p| p.since_id.as_deref() == Some(m4.as_str())));
    assert!(log.iter().all(|p| p.status == 200 && !p.faulted));
}

#[tokio::test]
async fn failed_and_cut_polls_lose_nothing_and_repeat_nothing() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    sb.colony()
        .seed_messages("bob", "carol", &["m0", "m1", "m2"]);
    // The first poll fails with a 500, the second is cut half-way through
    // its answer (which held all three messages).
    sb.colony().fail_next_poll(1, 500);
    sb.colony().cut_next_poll(1);
    let mut got = pump(fast(carol.tail_conversation("bob")));
    let first = take(&mut got, 3).await;
    assert_eq!(bodies(&first), ["m0", "m1", "m2"]);
    let log = polls(&sb, "conversation_tail");
    assert_eq!(
        log[..3]
            .iter()
            .map(|p| (p.since_id.clone(), p.faulted))
            .collect::<Vec<_>>(),
        [(None, true), (None, true), (None, false)]
    );

    // Later failures keep the cursor: every poll after a faulted one asks
    // from the same message, and the messages sent meanwhile come once.
    sb.colony().cut_next_poll(1);
    sb.colony().fail_next_poll(2, 503);
    sb.colony().seed_messages("bob", "carol", &["m3", "m4"]);
    bob.send_message("carol", "m5").await.unwrap();
    let later = take(&mut got, 3).await;
    assert_eq!(bodies(&later), ["m3", "m4", "m5"]);
    bob.send_message("carol", "m6").await.unwrap();
    assert_eq!(next(&mut got).await.body, "m6");

    let log = polls(&sb, "conversation_tail");
    let faulted: Vec<usize> = (0..log.len()).filter(|&i| log[i].faulted).collect();
    assert_eq!(faulted.len(), 5, "{log:?}");
    for &i in &faulted[2..] {
        assert_eq!(log[i + 1].since_id, log[i].since_id, "{log:?}");
    }
}

#[tokio::test]
async fn a_tail_resumes_after_a_given_message() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    let ids = sb
        .colony()
        .seed_messages("bob", "carol", &["m0", "m1", "m2", "m3"]);
    let mut got = pump(fast(carol.tail_conversation("bob").since_id(&ids[1])));
    assert_eq!(bodies(&take(&mut got, 2).await), ["m2", "m3"]);
    bob.send_message("carol", "m4").await.unwrap();
    assert_eq!(next(&mut got).await.body, "m4");
    assert_eq!(
        polls(&sb, "conversation_tail")[0].since_id,
        Some(ids[1].clone())
    );
}

#[tokio::test]
async fn a_full_page_is_followed_by_the_history_down_to_where_the_tail_was() {
    let (sb, [carol]) = agents(["carol"]).await;
    sb.colony().register("bob");
    let bodies_of = |range: std::ops::Range<u32>| -> Vec<String> {
        range.map(|i| format!("m{i}")).collect::<Vec<_>>()
    };
    let seed = |range: std::ops::Range<u32>| {
        let b = bodies_of(range);
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        sb.colony().seed_messages("bob", "carol", &b)
    };

    // Resuming after m1 with pages of 2: the tail answers m5 and m6 only;
    // the history before m5 gives back m2 to m4.
    let ids = seed(0..7);
    let mut got = pump(fast(
        carol.tail_conversation("bob").since_id(&ids[1]).limit(2),
    ));
    let first = take(&mut got, 5).await;
    assert_eq!(bodies(&first), bodies_of(2..7));
    let history = polls(&sb, "conversation_history");
    assert_eq!(history[0].before, Some(ids[5].clone()));
    let tail = polls(&sb, "conversation_tail");
    assert_eq!(
        (tail[0].since_id.clone(), tail[0].limit),
        (Some(ids[1].clone()), Some(2))
    );

    // Live: five messages land between two polls (all at once), more than
    // a page; the gap behind the page is read from the history.
    seed(7..12);
    assert_eq!(bodies(&take(&mut got, 5).await), bodies_of(7..12));
    seed(12..13);
    assert_eq!(next(&mut got).await.body, "m12");
    assert!(polls(&sb, "conversation_history").len() >= 2);
}

#[tokio::test]
async fn group_tails_work_the_same_and_refusals_end_the_stream_with_one_error() {
    let (sb, [alice, bob]) = agents(["alice", "bob"]).await;
    sb.colony().register("carol");
    let group = alice
        .create_group_conversation("ops", ["carol"])
        .await
        .unwrap();
    alice.send_group_message(group.id, "g0").await.unwrap();
    alice.send_group_message(group.id, "g1").await.unwrap();
    let mut got = pump(fast(alice.tail_group_conversation(group.id)));
    assert_eq!(bodies(&take(&mut got, 2).await), ["g0", "g1"]);
    alice.send_group_message(group.id, "g2").await.unwrap();
    let g2 = next(&mut got).await;
    assert_eq!((g2.body.as_str(), g2.conversation_id), ("g2", group.id));
    assert!(polls(&sb, "group_conversation_tail").len() >= 2);

    // Not a member: 403, final.
    let mut refused = fast(bob.tail_group_conversation(group.id));
    assert!(matches!(refused.next().await, Some(Err(Error::Auth(e))) if e.status == 403));
    assert!(refused.next().await.is_none());
    // No such user: 404, final.
    let mut refused = fast(bob.tail_conversation("nobody-here"));
    assert!(matches!(
        refused.next().await,
        Some(Err(Error::NotFound(_)))
    ));
    assert!(refused.next().await.is_none());
    // A key the service does not know: 401, final (after one exchange).
    let stranger = client(sb.base_url(), "col_not_a_key");
    let mut refused = fast(stranger.tail_conversation("alice"));
    assert!(matches!(refused.next().await, Some(Err(Error::Auth(e))) if e.status == 401));
    assert!(refused.next().await.is_none());

    // Refused before sending: a truncated id, a limit out of range.
    let before = sb.request_count();
    for stream in [
        fast(bob.tail_group_conversation("1234abcd")),
        fast(bob.tail_conversation("alice").since_id("1234")),
        fast(bob.tail_conversation("alice").limit(201)),
        fast(bob.tail_conversation("alice").limit(0)),
        fast(bob.tail_conversation(" ")),
    ] {
        let mut stream = stream;
        assert!(matches!(
            stream.next().await,
            Some(Err(Error::InvalidArgument { .. }))
        ));
        assert!(stream.next().await.is_none());
    }
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn transient_failures_end_the_stream_only_after_the_limit() {
    let (sb, [carol]) = agents(["carol"]).await;
    sb.colony().register("bob");
    carol.get_me().await.unwrap(); // the token, before the faults
    sb.colony().fail_next_poll(3, 502);
    let mut stream = carol
        .tail_conversation("bob")
        .max_failures(3)
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .into_stream();
    assert!(matches!(stream.next().await, Some(Err(Error::Server(e))) if e.status == 502));
    assert!(stream.next().await.is_none());
    assert_eq!(polls(&sb, "conversation_tail").len(), 3);
}

fn fast_community(stream: agentwire::colony::CommunityStream) -> ItemStream<CommunityEvent> {
    stream
        .interval(Duration::from_millis(1))
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
        .into_stream()
}

fn titles(events: &[CommunityEvent]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.raw()["title"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn the_community_stream_is_public_and_uses_etags() {
    let sb = Sandbox::start().await.unwrap();
    sb.colony().register("alice");
    sb.colony().seed_posts("alice", "general", 3);
    // A key the service does not know: the public feed needs none.
    let anyone = client(sb.base_url(), "col_not_a_key");
    let mut got = pump(fast_community(anyone.community_stream().types(["post"])));
    let first = take(&mut got, 3).await;
    assert_eq!(titles(&first), ["Post 0", "Post 1", "Post 2"]);
    for e in &first {
        assert_eq!(e.event_type, "post");
        assert_eq!(e.colony.as_deref(), Some("general"));
        assert!(e.id.starts_with("post:") && e.created_at.is_some());
        assert_eq!(e.raw()["author"], "alice");
    }
    // Nothing new: the polls carry the ETag and get 304s.
    let not_modified = async {
        while !polls(&sb, "community_stream")
            .iter()
            .any(|p| p.status == 304)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), not_modified)
        .await
        .expect("a poll answered 304");
    sb.colony().seed_posts("alice", "findings", 1);
    let new = next(&mut got).await;
    assert_eq!(titles(std::slice::from_ref(&new)), ["Post 0"]);
    assert_eq!(new.colony.as_deref(), Some("findings"));
    assert_ne!(new.id, first[0].id);

    let log = polls(&sb, "community_stream");
    assert_eq!(log[0].if_none_match, None);
    assert_eq!(log[0].limit, Some(100));
    assert!(log[1..].iter().all(|p| p.if_none_match.is_some()));
    // The ETag changes with the feed: the poll that saw the new post got a
    // 200, and those after it send the new tag.
    let fresh = log.iter().rposition(|p| p.status == 200).unwrap();
    assert!(fresh > 0);
    assert_eq!(sb.colony().token_exchanges(), 0);
}

#[tokio::test]
async fn the_community_stream_keeps_its_place_across_failures_and_fills_gaps() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(sb.base_url(), &sb.colony().register("alice"));
    sb.colony().seed_posts("alice", "general", 2);
    sb.colony().fail_next_poll(1, 503);
    sb.colony().cut_next_poll(1);
    let mut got = pump(fast_community(
        alice.community_stream().types(["post"]).limit(2),
    ));
    let first = take(&mut got, 2).await;
    assert_eq!(titles(&first), ["Post 0", "Post 1"]);
    let log = polls(&sb, "community_stream");
    assert!(log[0].faulted && log[1].faulted && !log[2].faulted);

    // Five posts at once, more than a page of 2: the stream pages back
    // with `before` until it meets what it has seen.
    sb.colony().fail_next_poll(1, 500);
    sb.colony().seed_posts("alice", "general", 5);
    let gap = take(&mut got, 5).await;
    assert_eq!(
        titles(&gap),
        ["Post 0", "Post 1", "Post 2", "Post 3", "Post 4"]
    );
    let mut ids: Vec<&str> = first.iter().chain(&gap).map(|e| e.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 7);
    assert!(polls(&sb, "community_stream")
        .iter()
        .any(|p| p.before.is_some()));
    sb.colony().seed_posts("alice", "general", 1);
    assert_eq!(titles(&[next(&mut got).await]), ["Post 0"]);
}

#[tokio::test]
async fn community_filters_are_sent_and_checked() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(sb.base_url(), &sb.colony().register("alice"));
    sb.colony().seed_posts("alice", "general", 1);
    sb.colony().seed_posts("alice", "findings", 1);
    let post = alice
        .create_post("On tails", "polling")
        .colony("findings")
        .await
        .unwrap();
    alice.create_comment(post.id, "a comment").await.unwrap();
    let mut got = pump(fast_community(
        alice
            .community_stream()
            .types(["post", "comment"])
            .colony("findings"),
    ));
    let events = take(&mut got, 3).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["post", "post", "comment"]);
    assert_eq!(events[2].raw()["post_id"], post.id.to_string());
    assert!(events
        .iter()
        .all(|e| e.colony.as_deref() == Some("findings")));

    // Members are events too, without a colony.
    let mut members = fast_community(alice.community_stream().types(["member"]));
    let member = members.next().await.unwrap().unwrap();
    assert_eq!(member.raw()["username"], "alice");

    let before = sb.request_count();
    for stream in [
        alice.community_stream().types(["post,comment"]),
        alice.community_stream().colony("x".repeat(65)),
        alice.community_stream().limit(0),
        alice.community_stream().limit(201),
    ] {
        let mut stream = stream.into_stream();
        assert!(matches!(
            stream.next().await,
            Some(Err(Error::InvalidArgument { .. }))
        ));
        assert!(stream.next().await.is_none());
    }
    assert_eq!(sb.request_count(), before);
}
