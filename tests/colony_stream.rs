//! The Colony's real-time feed end to end: typed events in order, a
//! connection cut in the middle of an event and resumed with
//! `Last-Event-ID` (nothing lost, nothing repeated), the server's `retry:`,
//! clean ends that reconnect, refusals as typed errors, retries of 5xx up
//! to the limit, and bytes that are not a proper event stream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentwire::colony::{Client, StreamEvent, StreamEventKind, Verbosity};
use agentwire::{Error, ItemStream, RetryConfig};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;
use serde_json::json;
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

/// Polls `events` on a task of its own and hands each item over as it
/// arrives, so that the test can act between events.
fn pump(
    mut events: ItemStream<StreamEvent>,
) -> mpsc::UnboundedReceiver<agentwire::Result<StreamEvent>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = events.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (without a deadline of its own: the test's timeout bounds it)
/// until the sandbox holds `n` open stream connections.
async fn until_open(sb: &Sandbox, n: usize) {
    while sb.colony().open_streams() < n {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<agentwire::Result<StreamEvent>>) -> StreamEvent {
    match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
        Ok(Some(Ok(event))) => event,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn seq(id: &Option<String>) -> u64 {
    id.as_deref()
        .and_then(|id| id.split_once('-'))
        .and_then(|(_, s)| s.parse().ok())
        .expect("a sandbox event id")
}

#[tokio::test]
async fn events_arrive_typed_in_order_and_types_narrow_notifications_only() {
    let (sb, [alice, bob, carol]) = agents(["alice", "bob", "carol"]).await;
    let carol_id = sb.colony().user_id("carol").unwrap();
    let mut events = pump(
        carol
            .stream()
            .channels([
                format!("user:{carol_id}:notifications"),
                "user:carol:dm".to_owned(),
                "activity".to_owned(),
            ])
            .types(["mention"])
            .verbosity(Verbosity::Full)
            .into_stream(),
    );
    until_open(&sb, 1).await;

    // A follow raises a notification of another type: filtered out.
    bob.follow(carol_id.as_str()).await.unwrap();
    let post = alice
        .create_post("Tool use", "Findings")
        .colony("general")
        .await
        .unwrap();
    let comment = bob
        .create_comment(post.id, "@carol have a look")
        .await
        .unwrap();
    let dm = bob.send_message("carol", "hello carol").await.unwrap();
    let typing = sb.colony().publish_stream_event(
        &format!("user:{carol_id}:dm"),
        "dm.typing",
        json!({"from": "bob"}),
    );
    let unknown =
        sb.colony()
            .publish_stream_event("activity", "colony.renamed", json!({"name": "general"}));

    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(next(&mut events).await);
    }
    let kinds: Vec<&str> = got.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "post.created",
            "notification.new",
            "comment.created",
            "dm.new",
            "dm.typing",
            "colony.renamed"
        ]
    );
    // Ids grow with every event, so each is a resume point.
    let seqs: Vec<u64> = got.iter().map(|e| seq(&e.id)).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    assert_eq!(got[0].event, StreamEventKind::Other("post.created".into()));
    assert_eq!(got[0].data["id"], json!(post.id));
    assert_eq!(got[0].data["author"], "alice");

    let mention = got[1].notification().expect("full notification");
    assert_eq!(got[1].event, StreamEventKind::NotificationNew);
    assert_eq!(got[1].notification_type(), Some("mention"));
    assert_eq!(mention.notification_type, "mention");
    assert_eq!(mention.comment_id, Some(comment.id));
    assert_eq!(mention.actor.username, "bob");
    assert_eq!(got[1].message(), None);

    assert_eq!(got[2].data["post_id"], json!(post.id));

    assert_eq!(got[3].event, StreamEventKind::DmNew);
    let message = got[3].message().expect("full message");
    assert_eq!((message.id, message.body.as_str()), (dm.id, "hello carol"));
    assert_eq!(message.sender.username, "bob");
    assert_eq!(got[3].notification(), None);

    assert_eq!(got[4].event, StreamEventKind::DmTyping);
    assert_eq!(got[4].id.as_deref(), Some(typing.as_str()));
    assert_eq!(
        got[5].event,
        StreamEventKind::Other("colony.renamed".into())
    );
    assert_eq!(got[5].id.as_deref(), Some(unknown.as_str()));
    assert_eq!(got[5].data, json!({"name": "general"}));

    // One connection, authenticated by header: the token never went into
    // the URL, and nothing was resumed.
    let requests = sb.colony().stream_requests();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].token_in_url);
    assert_eq!(requests[0].last_event_id, None);
    assert_eq!(
        requests[0].channels,
        [
            format!("user:{carol_id}:notifications"),
            format!("user:{carol_id}:dm"),
            "activity".to_owned()
        ]
    );
    // Alice's own stream (default channels, compact) gets the comment
    // notification without the `full` object.
    let mut own = alice
        .stream()
        .last_event_id(got[0].id.clone().unwrap())
        .into_stream();
    let first = own.next().await.unwrap().unwrap();
    assert_eq!(first.event, StreamEventKind::NotificationNew);
    assert_eq!(first.data["comment_id"], json!(comment.id));
    assert!(first.data.get("full").is_none() && first.notification().is_none());
    assert_eq!(first.data["post_id"], json!(post.id));
}

/// Direct messages to carol, sent one by one.
async fn send(bob: &Client, n: std::ops::Range<u32>) {
    for i in n {
        bob.send_message("carol", format!("m{i}")).await.unwrap();
    }
}

fn bodies(events: &[StreamEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.message()
                .map(|m| m.body)
                .unwrap_or_else(|| e.data.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_drop_mid_event_resumes_after_the_last_whole_event_losing_and_repeating_nothing() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    let reconnects = Arc::new(Mutex::new(Vec::new()));
    let seen = reconnects.clone();
    let mut events = pump(
        carol
            .stream()
            .verbosity(Verbosity::Full)
            .reconnect_delay(Duration::from_millis(1), Duration::from_millis(5))
            .on_reconnect(move |r| {
                seen.lock().unwrap().push((
                    r.failures,
                    r.last_event_id.map(str::to_owned),
                    r.error.map(|e| matches!(e, Error::Network(_))),
                ))
            })
            .into_stream(),
    );
    until_open(&sb, 1).await;
    send(&bob, 0..2).await;
    let mut got = vec![next(&mut events).await, next(&mut events).await];
    // The next event is cut in the middle, and so is the first one the
    // resumed connection sends: two drops in a row, each after half a frame.
    sb.colony().cut_stream_next(2);
    send(&bob, 2..6).await;
    for _ in 2..6 {
        got.push(next(&mut events).await);
    }
    send(&bob, 6..7).await;
    got.push(next(&mut events).await);

    assert_eq!(bodies(&got), ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
    let seqs: Vec<u64> = got.iter().map(|e| seq(&e.id)).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Each reconnection resumed after the last event received whole: the
    // cut one (m2) was never yielded and came again.
    let requests = sb.colony().stream_requests();
    let resumed: Vec<Option<String>> = requests.iter().map(|r| r.last_event_id.clone()).collect();
    assert_eq!(resumed, [None, got[1].id.clone(), got[1].id.clone()]);
    assert_eq!(
        *reconnects.lock().unwrap(),
        [
            (0, got[1].id.clone(), Some(true)),
            (1, got[1].id.clone(), Some(true)),
        ]
    );
    assert!(requests.iter().all(|r| !r.token_in_url));
}

#[tokio::test]
async fn the_servers_retry_is_honoured_and_a_clean_end_reconnects() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    let retry = Duration::from_millis(300);
    sb.colony().set_stream_retry(Some(retry));
    let delays = Arc::new(Mutex::new(Vec::new()));
    let seen = delays.clone();
    let mut events = pump(
        carol
            .stream()
            .reconnect_delay(Duration::from_millis(1), Duration::from_millis(2))
            .on_reconnect(move |r| {
                seen.lock()
                    .unwrap()
                    .push((r.failures, r.delay, r.error.is_some()))
            })
            .into_stream(),
    );
    until_open(&sb, 1).await;
    send(&bob, 0..1).await;
    let first = next(&mut events).await;
    let ended = Instant::now();
    sb.colony().close_streams();
    // Sent while carol is away: replayed on the next connection.
    send(&bob, 1..2).await;
    let second = next(&mut events).await;
    assert_eq!(first.data["sender"], "bob");
    assert!(seq(&second.id) > seq(&first.id));
    // A clean end is no failure; the wait is the server's, not the client's
    // 1 ms. (A lower bound only: sleeping never takes less.)
    assert_eq!(*delays.lock().unwrap(), [(0, retry, false)]);
    assert!(ended.elapsed() >= retry);
    let requests = sb.colony().stream_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].last_event_id, first.id);
}

#[tokio::test]
async fn refusals_are_typed_errors_that_end_the_stream() {
    let (sb, [alice, carol]) = agents(["alice", "carol"]).await;

    // A key the service does not know: 401 at the token exchange.
    let stranger = client(sb.base_url(), "col_not_a_key");
    let mut events = stranger.stream().into_stream();
    assert!(matches!(events.next().await, Some(Err(Error::Auth(e))) if e.status == 401));
    assert!(events.next().await.is_none());

    // Another account's channel: 403, not retried.
    let mut events = carol
        .stream()
        .channels(["user:alice:notifications"])
        .into_stream();
    assert!(matches!(events.next().await, Some(Err(Error::Auth(e))) if e.status == 403));
    assert!(events.next().await.is_none());

    // An unknown notification type: 400 is final too.
    let before = sb.request_count();
    let mut events = carol.stream().types(["no_such_type"]).into_stream();
    assert!(matches!(events.next().await, Some(Err(Error::Validation(e))) if e.status == 400));
    assert!(events.next().await.is_none());
    assert_eq!(sb.request_count(), before + 1);
    assert!(sb.colony().stream_requests().is_empty());

    // Checked before sending: values that would change the comma-separated
    // lists, an id no header can carry.
    for builder in [
        carol.stream().types(["mention,follow"]),
        carol.stream().channels([" "]),
        carol.stream().last_event_id("1-1\r\nx: y"),
    ] {
        let mut events = builder.into_stream();
        assert!(matches!(
            events.next().await,
            Some(Err(Error::InvalidArgument { .. }))
        ));
        assert!(events.next().await.is_none());
    }
    assert_eq!(sb.request_count(), before + 1);
    drop(alice);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_on_reconnect_and_the_stream_goes_on() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    let mut events = pump(
        carol
            .stream()
            .reconnect_delay(Duration::from_millis(1), Duration::from_millis(2))
            .into_stream(),
    );
    until_open(&sb, 1).await;
    send(&bob, 0..1).await;
    let first = next(&mut events).await;
    let exchanges = carol.token_exchanges();
    sb.faults().expire_tokens();
    sb.colony().close_streams();
    send(&bob, 1..2).await; // bob's own token is refreshed as well
    let second = next(&mut events).await;
    assert!(seq(&second.id) > seq(&first.id));
    assert_eq!(carol.token_exchanges(), exchanges + 1);
    assert_eq!(sb.colony().stream_requests()[1].last_event_id, first.id);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_up_to_the_limit() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    carol.get_me().await.unwrap(); // the token, exchanged before the faults
    let failures = Arc::new(Mutex::new(Vec::new()));
    let seen = failures.clone();
    sb.faults().fail_next(100, 503);
    let before = sb.request_count();
    let mut events = carol
        .stream()
        .max_reconnect_attempts(3)
        .reconnect_delay(Duration::from_millis(1), Duration::from_millis(3))
        .on_reconnect(move |r| {
            seen.lock()
                .unwrap()
                .push((r.failures, r.delay, r.error.map(|e| e.status())))
        })
        .into_stream();
    assert!(matches!(events.next().await, Some(Err(Error::Server(e))) if e.status == 503));
    assert!(events.next().await.is_none());
    assert_eq!(sb.request_count(), before + 3);
    assert_eq!(
        *failures.lock().unwrap(),
        [
            (1, Duration::from_millis(1), Some(Some(503))),
            (2, Duration::from_millis(2), Some(Some(503))),
        ]
    );

    // Two failures, then the connection: the events follow.
    sb.faults().clear();
    sb.faults().fail_next(2, 502);
    let mut events = pump(
        carol
            .stream()
            .reconnect_delay(Duration::from_millis(1), Duration::from_millis(3))
            .into_stream(),
    );
    until_open(&sb, 1).await;
    send(&bob, 0..1).await;
    assert_eq!(next(&mut events).await.data["sender"], "bob");
}

#[tokio::test]
async fn without_reconnecting_a_drop_ends_the_stream_with_a_network_error() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    let mut events = pump(carol.stream().reconnect(false).into_stream());
    until_open(&sb, 1).await;
    send(&bob, 0..1).await;
    next(&mut events).await;
    sb.colony().cut_stream_next(1);
    send(&bob, 1..2).await;
    assert!(matches!(events.recv().await, Some(Err(Error::Network(_)))));
    assert!(events.recv().await.is_none());
    assert_eq!(sb.colony().stream_requests().len(), 1);
}

#[tokio::test]
async fn bytes_that_are_not_a_proper_stream_neither_panic_nor_stop_it() {
    let (sb, [bob, carol]) = agents(["bob", "carol"]).await;
    sb.colony().set_stream_heartbeat(Duration::from_millis(5));
    let mut events = pump(carol.stream().into_stream());
    until_open(&sb, 1).await;
    let colony = sb.colony();
    for garbage in [
        &b"\xff\xfe\xfd not utf-8 \xc3\x28\n"[..],
        b"no field separator at all\n",
        b"retry: soon\nretry: -5\n",
        b"id: has\0nul\n",
        b"event:\n",
        b":a comment\r\n\r\n",
        b"\r\r\n\n",
        b"data\n\n",
        b"event: dm.new\ndata: {not json\n\n",
        b"data: [1, 2,\ndata: 3]\n\n",
    ] {
        colony.write_stream_bytes(garbage);
    }
    send(&bob, 0..1).await;
    let got: Vec<StreamEvent> = vec![
        next(&mut events).await,
        next(&mut events).await,
        next(&mut events).await,
        next(&mut events).await,
    ];
    let summary: Vec<(String, serde_json::Value)> = got
        .iter()
        .map(|e| (e.event.to_string(), e.data.clone()))
        .collect();
    assert_eq!(summary[0], ("message".to_owned(), json!("")));
    assert_eq!(summary[1], ("dm.new".to_owned(), json!("{not json")));
    assert_eq!(summary[2], ("message".to_owned(), json!([1, 2, 3])));
    assert_eq!(summary[3].0, "dm.new");
    assert_eq!(summary[3].1["sender"], "bob");
    assert!(got[1].message().is_none());
    // The garbage carried no id: the last id is still that of the event.
    assert!(got[..3].iter().all(|e| e.id.is_none()));
    assert!(got[3].id.is_some());
    assert_eq!(sb.colony().stream_requests().len(), 1);
}

/// A purpose-built server whose stream is pseudo-random bytes: the client
/// reads whatever events they happen to form and never panics.
#[tokio::test]
async fn random_bytes_as_a_stream_never_panic() {
    use axum::routing::{get, post};
    async fn token() -> axum::Json<serde_json::Value> {
        axum::Json(json!({"access_token": "t", "token_type": "bearer"}))
    }
    async fn noise() -> axum::response::Response {
        let pieces: [&[u8]; 16] = [
            b"data: ",
            b"data",
            b"event: ",
            b"id: ",
            b"retry: ",
            b"\n",
            b"\r",
            b"\r\n",
            b":",
            b"{\"a\":1}",
            b"\xff\xc3",
            b"\x00",
            b"17",
            b" ",
            b"dm.new",
            b"\n\n",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut bytes = Vec::new();
        for _ in 0..32 * 1024 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.extend_from_slice(pieces[(x % pieces.len() as u64) as usize]);
        }
        axum::response::Response::builder()
            .header("content-type", "text/event-stream")
            .body(axum::body::Body::from(bytes))
            .unwrap()
    }
    let base = agentwire_tests::serve(
        axum::Router::new()
            .route("/api/v1/auth/token", post(token))
            .route("/api/v1/stream", get(noise)),
    )
    .await;
    let c = client(&base, "col_key");
    let mut events = c.stream().reconnect(false).into_stream();
    let mut n = 0;
    while let Some(item) = events.next().await {
        // Every item is an event (or a skipped oversized one); none panics.
        if item.is_ok() {
            n += 1;
        }
    }
    assert!(n > 0, "random bytes with blank lines form some events");
}
