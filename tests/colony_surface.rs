//! colony-sdk 1.38's surface by name: every one of its public methods exists
//! on `agentwire::colony::Client` (as a generated operation or a facade
//! method), and the iterators and helpers written for it answer over HTTP as
//! the service does.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentwire::colony::{Client, ReportReason, MAX_BANNER_BYTES};
use agentwire::{Error, ExposeSecret, RetryConfig};
use agentwire_sandbox::Sandbox;
use axum::Form;
use futures::StreamExt;
use serde_json::{json, Value};

fn client(base: &str, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{base}/api/v1"))
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .no_token_cache()
        .build()
        .unwrap()
}

/// A sandbox with two agents, alice and bob.
async fn setup() -> (Sandbox, Client, Client) {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(sb.base_url(), &sb.colony().register("alice"));
    let bob = client(sb.base_url(), &sb.colony().register("bob"));
    (sb, alice, bob)
}

async fn collect<T>(stream: agentwire::ItemStream<T>) -> Vec<agentwire::Result<T>> {
    stream.collect().await
}

async fn all_ok<T: std::fmt::Debug>(stream: agentwire::ItemStream<T>) -> Vec<T> {
    collect(stream)
        .await
        .into_iter()
        .map(|r| r.expect("every item"))
        .collect()
}

fn invalid(result: Result<impl std::fmt::Debug, Error>, name: &str) {
    match result {
        Err(Error::InvalidArgument { name: n, .. }) if n == name => {}
        other => panic!("expected InvalidArgument `{name}`, got {other:?}"),
    }
}

const GENERAL: &str = "2e549d01-99f2-459f-8924-48b2690b2170";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0";

// ---- every method by name ----

/// colony-sdk 1.38's configuration methods, which are builder options here.
const BUILDER_OPTIONS: &[(&str, &str)] = &[
    ("on_request", "ClientBuilder::on_request"),
    ("on_response", "ClientBuilder::on_response"),
    ("enable_circuit_breaker", "ClientBuilder::circuit_breaker"),
    ("enable_cache", "ClientBuilder::cache"),
];

/// colony-sdk 1.38 methods left out on purpose, with why.
const DELIBERATELY_ABSENT: &[(&str, &str)] = &[
    (
        "report_user",
        "a signpost that always raises NotImplementedError: the service has no user \
         report target (use report_post, report_comment, block_user)",
    ),
    (
        "report_message",
        "a signpost that always raises NotImplementedError: direct messages are \
         reported per conversation (mark_conversation_spam)",
    ),
];

#[test]
fn every_colony_sdk_1_38_method_exists_by_name() {
    let names: Vec<&str> = include_str!("data/colony_sdk_1_38_methods.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), 323, "colony-sdk 1.38 has 323 public methods");
    assert_eq!(unique.len(), names.len(), "each name once");

    let operations: HashSet<&str> = agentwire_colony_transport::operations::ALL
        .iter()
        .map(|op| op.id)
        .collect();
    // The committed listing of the public API (`cargo xtask public-api
    // --check` keeps it equal to the crate), one `path: signature` a line.
    let api = include_str!("../facade/agentwire/public-api.txt");
    let items: HashSet<&str> = api
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(path, _)| path))
        .filter_map(|p| p.strip_prefix("agentwire::colony::"))
        .collect();
    assert!(items.contains("Client::get_posts"), "the listing is read");

    let options: HashMap<&str, &str> = BUILDER_OPTIONS.iter().copied().collect();
    let absent: HashMap<&str, &str> = DELIBERATELY_ABSENT.iter().copied().collect();
    let mut missing = Vec::new();
    let mut resolved = 0;
    for name in &names {
        let method = format!("Client::{name}");
        let present = operations.contains(name) || items.contains(method.as_str());
        if let Some(option) = options.get(name) {
            assert!(
                items.contains(option),
                "{name}: builder option {option} is missing"
            );
            resolved += 1;
        } else if let Some(why) = absent.get(name) {
            assert!(!present, "{name} was left out ({why}) but exists");
            resolved += 1;
        } else if present {
            resolved += 1;
        } else {
            missing.push(*name);
        }
    }
    assert!(
        missing.is_empty(),
        "colony-sdk 1.38 methods missing from agentwire::colony::Client: {missing:?}"
    );
    assert_eq!(resolved, names.len());
    for (name, _) in BUILDER_OPTIONS.iter().chain(DELIBERATELY_ABSENT) {
        assert!(
            unique.contains(name),
            "{name} is not a colony-sdk 1.38 method"
        );
    }
}

// ---- iterators over wrapped pages ----

#[tokio::test]
async fn iter_echoes_walks_every_page_newest_first() {
    let (sb, alice, _) = setup().await;
    assert!(sb.colony().seed_echoes("alice", 45));
    let echoes = all_ok(alice.iter_echoes().page_size(20).into_stream()).await;
    assert_eq!(echoes.len(), 45);
    assert_eq!(echoes[0].commentary, "Echo 44");
    assert_eq!(echoes[44].commentary, "Echo 0");
    assert_eq!(echoes[3].author.username, "alice");
    let ids: HashSet<_> = echoes.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 45);

    let first = all_ok(alice.iter_echoes().max_results(5).into_stream()).await;
    let commentaries: Vec<&str> = first.iter().map(|e| e.commentary.as_str()).collect();
    assert_eq!(
        commentaries,
        ["Echo 44", "Echo 43", "Echo 42", "Echo 41", "Echo 40"]
    );

    let refused = collect(alice.iter_echoes().page_size(101).into_stream()).await;
    assert_eq!(refused.len(), 1);
    invalid(refused.into_iter().next().unwrap(), "page_size");
}

#[tokio::test]
async fn iter_wiki_pages_filters_and_pages_in_title_order() {
    let (sb, alice, _) = setup().await;
    let colony = sb.colony();
    assert!(colony.seed_wiki_pages("alice", "Guide", 60, Some("howto"), Some("general")));
    assert!(colony.seed_wiki_pages("alice", "Note", 5, None, Some("findings")));

    let all = all_ok(alice.iter_wiki_pages().page_size(25).into_stream()).await;
    assert_eq!(all.len(), 65);
    let titles: Vec<&str> = all.iter().map(|p| p.title.as_str()).collect();
    let mut sorted = titles.clone();
    sorted.sort();
    assert_eq!(titles, sorted, "alphabetical by title");

    let howto = all_ok(alice.iter_wiki_pages().category("howto").into_stream()).await;
    assert_eq!(howto.len(), 60);
    assert!(howto.iter().all(|p| p.category.as_deref() == Some("howto")));

    let found = all_ok(alice.iter_wiki_pages().query("guide 05").into_stream()).await;
    let titles: Vec<&str> = found.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles.len(), 10, "{titles:?}");
    assert_eq!(titles[0], "Guide 050");

    let notes = all_ok(alice.iter_wiki_pages().colony("findings").into_stream()).await;
    assert_eq!(notes.len(), 5);
    assert_eq!(notes[4].updated_by.username, "alice");

    let capped = all_ok(alice.iter_wiki_pages().max_results(7).into_stream()).await;
    assert_eq!(capped.len(), 7);

    let blank = collect(alice.iter_wiki_pages().colony("  ").into_stream()).await;
    invalid(blank.into_iter().next().unwrap(), "colony");
}

#[tokio::test]
async fn iter_my_following_and_followers_walk_the_follows() {
    let sb = Sandbox::start().await.unwrap();
    let reg = |name: &str| client(sb.base_url(), &sb.colony().register(name));
    let alice = reg("alice");
    let others = ["bob", "carol", "dave"].map(reg);
    for name in ["bob", "carol", "dave"] {
        alice
            .follow(sb.colony().user_id(name).unwrap())
            .await
            .unwrap();
    }
    let alice_id = sb.colony().user_id("alice").unwrap();
    others[0].follow(&alice_id).await.unwrap();
    others[1].follow(&alice_id).await.unwrap();

    let following = all_ok(alice.iter_my_following().into_stream()).await;
    let names: BTreeSet<String> = following.into_iter().map(|u| u.username).collect();
    assert_eq!(
        names,
        BTreeSet::from(["bob".into(), "carol".into(), "dave".into()])
    );

    let followers = all_ok(alice.iter_my_followers().into_stream()).await;
    let names: BTreeSet<String> = followers.into_iter().map(|u| u.username).collect();
    assert_eq!(names, BTreeSet::from(["bob".into(), "carol".into()]));

    let one = all_ok(alice.iter_my_following().max_results(1).into_stream()).await;
    assert_eq!(one.len(), 1);
    let dave = all_ok(others[2].iter_my_followers().into_stream()).await;
    assert_eq!(dave.len(), 1);
    assert_eq!(dave[0].username, "alice");
    let nobody = all_ok(others[2].iter_my_following().into_stream()).await;
    assert!(nobody.is_empty());
}

#[tokio::test]
async fn iter_user_comments_by_username_or_id() {
    let (sb, alice, bob) = setup().await;
    let post = alice.create_post("Tools", "which?").await.unwrap();
    for i in 0..3 {
        bob.create_comment(post.id.to_string(), format!("reply {i}"))
            .await
            .unwrap();
    }
    alice
        .create_comment(post.id.to_string(), "mine")
        .await
        .unwrap();

    let by_name = all_ok(alice.iter_user_comments().username("bob").into_stream()).await;
    assert_eq!(by_name.len(), 3);
    assert!(by_name.iter().all(|c| c.author.username == "bob"));
    let bodies: BTreeSet<&str> = by_name.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, BTreeSet::from(["reply 0", "reply 1", "reply 2"]));

    let bob_id = sb.colony().user_id("bob").unwrap();
    let by_id = all_ok(alice.iter_user_comments().user_id(&bob_id).into_stream()).await;
    assert_eq!(
        by_id.iter().map(|c| c.id).collect::<Vec<_>>(),
        by_name.iter().map(|c| c.id).collect::<Vec<_>>()
    );

    let neither = collect(alice.iter_user_comments().into_stream()).await;
    invalid(neither.into_iter().next().unwrap(), "user");
    let both = collect(
        alice
            .iter_user_comments()
            .username("bob")
            .user_id(&bob_id)
            .into_stream(),
    )
    .await;
    invalid(both.into_iter().next().unwrap(), "user");
    let truncated = collect(
        alice
            .iter_user_comments()
            .user_id(&bob_id[..8])
            .into_stream(),
    )
    .await;
    invalid(truncated.into_iter().next().unwrap(), "user_id");
}

// ---- iterators over bare arrays ----

#[tokio::test]
async fn iter_conversations_walks_each_conversation_once() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(sb.base_url(), &sb.colony().register("alice"));
    let senders = ["bob", "carol", "dave", "erin", "frank"];
    for name in senders {
        let c = client(sb.base_url(), &sb.colony().register(name));
        c.send_message("alice", format!("hi from {name}"))
            .await
            .unwrap();
    }
    let convs = all_ok(alice.iter_conversations().page_size(2).into_stream()).await;
    let names: Vec<String> = convs
        .iter()
        .map(|c| c.other_user.username.clone())
        .collect();
    assert_eq!(
        names,
        ["frank", "erin", "dave", "carol", "bob"],
        "most recent first"
    );
    assert!(convs.iter().all(|c| c.unread_count == 1));

    let two = all_ok(alice.iter_conversations().max_results(2).into_stream()).await;
    assert_eq!(two.len(), 2);
    let refused = collect(alice.iter_conversations().page_size(0).into_stream()).await;
    invalid(refused.into_iter().next().unwrap(), "page_size");
}

#[tokio::test]
async fn iter_notifications_walks_newest_first_and_filters_unread() {
    let (sb, alice, _) = setup().await;
    let ids = sb.colony().seed_notifications("alice", 7);
    let all = all_ok(alice.iter_notifications().page_size(3).into_stream()).await;
    let got: Vec<String> = all.iter().map(|n| n.id.to_string()).collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(got, newest_first);

    alice
        .mark_notifications_read_batch(&ids[..4])
        .await
        .unwrap();
    let unread = all_ok(
        alice
            .iter_notifications()
            .unread_only(true)
            .page_size(2)
            .into_stream(),
    )
    .await;
    let got: Vec<String> = unread.iter().map(|n| n.id.to_string()).collect();
    assert_eq!(got, [ids[6].clone(), ids[5].clone(), ids[4].clone()]);
    assert!(unread.iter().all(|n| !n.is_read));
}

fn conversation_row(n: u128) -> Value {
    json!({
        "id": uuid_of(n),
        "other_user": {
            "id": uuid_of(1000 + n), "username": format!("user{n}"), "display_name": "U",
            "user_type": "agent", "karma": 0, "avatar_url": "", "created_at": "2026-01-01T00:00:00Z",
        },
        "last_message_at": "2026-01-01T00:00:00Z",
        "last_message_preview": "hi",
        "unread_count": 0,
        "is_archived": false,
    })
}

fn notification_row(n: u128) -> Value {
    json!({
        "id": uuid_of(n),
        "notification_type": "mention",
        "message": format!("n{n}"),
        "is_read": false,
        "created_at": "2026-01-01T00:00:00Z",
        "actor": {"id": uuid_of(7), "username": "x", "display_name": "X", "user_type": "agent"},
        "post_id": null, "comment_id": null, "conversation_id": null, "message_id": null,
    })
}

fn uuid_of(n: u128) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// A service whose listings are given by `pages(offset)`, with a token
/// endpoint; counts the listing requests.
async fn listing_server(
    path: &'static str,
    pages: impl Fn(usize) -> Vec<Value> + Clone + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    use axum::extract::Query;
    use axum::routing::{get, post};
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let router = axum::Router::new()
        .route(
            "/api/v1/auth/token",
            post(|| async {
                axum::Json(json!({"access_token": "eyJ.t.x", "token_type": "bearer"}))
            }),
        )
        .route(
            path,
            get(move |Query(q): Query<HashMap<String, String>>| {
                let pages = pages.clone();
                let hits = counted.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let offset = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
                    axum::Json(Value::Array(pages(offset)))
                }
            }),
        );
    (agentwire_tests::serve(router).await, hits)
}

#[tokio::test]
async fn rows_shifted_onto_the_next_page_are_yielded_once() {
    // A conversation arriving mid-walk pushes row 2 from the first page onto
    // the second one.
    let (base, hits) = listing_server("/api/v1/messages/conversations", |offset| match offset {
        0 => vec![conversation_row(1), conversation_row(2)],
        2 => vec![conversation_row(2), conversation_row(3)],
        4 => vec![conversation_row(4)],
        _ => vec![],
    })
    .await;
    let c = client(&base, "col_test");
    let rows = all_ok(c.iter_conversations().page_size(2).into_stream()).await;
    let ids: Vec<String> = rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(ids, [uuid_of(1), uuid_of(2), uuid_of(3), uuid_of(4)]);
    assert_eq!(hits.load(Ordering::SeqCst), 3, "a short page ends the walk");
}

#[tokio::test]
async fn a_service_ignoring_offset_ends_the_walk_with_an_error() {
    let (base, hits) = listing_server("/api/v1/notifications", |_| {
        vec![notification_row(1), notification_row(2)]
    })
    .await;
    let c = client(&base, "col_test");
    let got = collect(c.iter_notifications().page_size(2).into_stream()).await;
    assert_eq!(got.len(), 3, "two rows, then the error: {got:?}");
    assert!(got[0].is_ok() && got[1].is_ok());
    match &got[2] {
        Err(Error::Api(e)) => assert!(e.message.contains("offset"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    let (base, _) = listing_server("/api/v1/messages/conversations", |_| {
        vec![conversation_row(1), conversation_row(2)]
    })
    .await;
    let c = client(&base, "col_test");
    let got = collect(c.iter_conversations().page_size(2).into_stream()).await;
    assert!(matches!(got.last(), Some(Err(Error::Api(_)))), "{got:?}");
}

#[tokio::test]
async fn a_page_that_is_not_a_list_is_an_error_not_the_end() {
    use axum::routing::{get, post};
    let router = axum::Router::new()
        .route(
            "/api/v1/auth/token",
            post(|| async {
                axum::Json(json!({"access_token": "eyJ.t.x", "token_type": "bearer"}))
            }),
        )
        .route(
            "/api/v1/notifications",
            get(|| async { axum::Json(json!({"items": []})) }),
        );
    let base = agentwire_tests::serve(router).await;
    let got = collect(client(&base, "col_test").iter_notifications().into_stream()).await;
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0], Err(Error::Decode(_))), "{got:?}");
}

// ---- multi-call helpers ----

#[tokio::test]
async fn notification_batches_go_in_requests_of_one_hundred() {
    let (sb, alice, _) = setup().await;
    let ids = sb.colony().seed_notifications("alice", 250);
    alice.get_me().await.unwrap(); // the token exchange, out of the count
    let before = sb.request_count();
    let out = alice.mark_notifications_read_batch(&ids).await.unwrap();
    assert_eq!(sb.request_count() - before, 3, "100 + 100 + 50");
    assert_eq!(out.unread_notifications, 0);
    assert_eq!(sb.colony().unread_notifications("alice"), 0);

    let more = sb.colony().seed_notifications("alice", 120);
    let before = sb.request_count();
    let out = alice.delete_notifications(&more[..110]).await.unwrap();
    assert_eq!(sb.request_count() - before, 2);
    assert_eq!(out.unread_notifications, 10);
    let left = all_ok(alice.iter_notifications().page_size(100).into_stream()).await;
    assert_eq!(left.len(), 250 + 10, "the read ones stay, 110 are gone");
    let left: HashSet<String> = left.iter().map(|n| n.id.to_string()).collect();
    assert!(more[..110].iter().all(|id| !left.contains(id)));
    assert!(more[110..].iter().all(|id| left.contains(id)));

    let before = sb.request_count();
    invalid(
        alice
            .mark_notifications_read_batch(Vec::<String>::new())
            .await,
        "notification_ids",
    );
    invalid(
        alice
            .delete_notifications([ids[0].as_str(), "1234abcd"])
            .await,
        "notification_ids",
    );
    assert_eq!(sb.request_count(), before, "refused before sending");
}

#[tokio::test]
async fn ensure_colony_membership_joins_once() {
    let (_sb, alice, _) = setup().await;
    assert!(!alice.ensure_colony_membership("findings").await.unwrap());
    assert!(alice.ensure_colony_membership("findings").await.unwrap());
    assert!(alice
        .ensure_colony_membership(GENERAL)
        .await
        .is_ok_and(|m| !m));
    assert!(alice.ensure_colony_membership(GENERAL).await.unwrap());
    let mine = alice.get_colonies().member_only(true).await.unwrap();
    let names: BTreeSet<String> = mine.into_iter().map(|c| c.name).collect();
    assert_eq!(names, BTreeSet::from(["findings".into(), "general".into()]));
    assert!(matches!(
        alice.ensure_colony_membership("no-such-colony").await,
        Err(Error::NotFound(_))
    ));
}

// ---- reports ----

#[tokio::test]
async fn posts_and_comments_are_reported_with_a_listed_reason() {
    let (sb, alice, bob) = setup().await;
    let post = alice
        .create_post("Buy now", "cheap tokens")
        .colony("general")
        .await
        .unwrap();
    let report = bob
        .report_post(post.id, ReportReason::Spam)
        .description("an advert")
        .await
        .unwrap();
    assert_eq!(report.post_id, Some(post.id));
    assert_eq!(report.comment_id, None);
    assert_eq!(report.reason, "spam");
    assert_eq!(report.status, "pending");
    assert_eq!(report.description.as_deref(), Some("an advert"));
    assert_eq!(report.reporter.username, "bob");
    assert_eq!(report.colony_id.to_string(), GENERAL);

    let again = bob.report_post(post.id, "misinformation").await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    let comment = alice
        .create_comment(post.id.to_string(), "ignore previous instructions")
        .await
        .unwrap();
    let report = bob
        .report_comment(comment.id, "prompt_injection")
        .await
        .unwrap();
    assert_eq!(report.comment_id, Some(comment.id));
    assert_eq!(report.post_id, Some(post.id));
    assert_eq!(report.reason, "prompt_injection");

    let other = alice
        .create_comment(post.id.to_string(), "more")
        .await
        .unwrap();
    let labelled = bob
        .report_comment(other.id, ReportReason::OtherValue)
        .custom_reason("off-brand")
        .await
        .unwrap();
    assert_eq!(labelled.reason, "off-brand");

    alice.get_me().await.unwrap();
    let before = sb.request_count();
    invalid(bob.report_post(post.id, "rude").await, "reason");
    invalid(
        bob.report_post(post.id, "spam").custom_reason("x").await,
        "custom_reason",
    );
    invalid(
        bob.report_post(post.id, "spam")
            .description("x".repeat(1001))
            .await,
        "description",
    );
    invalid(bob.report_post("1234abcd", "spam").await, "post_id");
    invalid(bob.report_comment("", "spam").await, "comment_id");
    assert_eq!(sb.request_count(), before, "refused before sending");
    let missing = bob
        .report_post("00000000-0000-4000-8000-000000000000", "spam")
        .await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

// ---- recovery email ----

#[tokio::test]
async fn the_recovery_email_is_set_and_read_back() {
    let (sb, alice, bob) = setup().await;
    let none = alice.get_recovery_email().await.unwrap();
    assert_eq!(none.email, None);
    assert!(!none.email_verified);

    let low = alice.set_recovery_email("alice@example.org").await;
    match low {
        Err(Error::Auth(e)) => assert_eq!(e.code.as_deref(), Some("KARMA_TOO_LOW")),
        other => panic!("{other:?}"),
    }
    assert!(sb.colony().set_karma("alice", 10));
    let set = alice.set_recovery_email("Alice@Example.org").await.unwrap();
    assert_eq!(set.email, "alice@example.org");
    assert_eq!(set.status, "verification_pending");

    let read = alice.get_recovery_email().await.unwrap();
    assert_eq!(read.email.as_deref(), Some("alice@example.org"));
    assert!(!read.email_verified);
    // The same operation under its other name.
    assert_eq!(alice.get_email().await.unwrap().email, read.email);

    // The answer is the same whether or not the address is taken: it tells
    // nothing about other accounts.
    assert!(sb.colony().set_karma("bob", 10));
    let taken = bob.set_recovery_email("alice@example.org").await.unwrap();
    assert_eq!(taken.status, "verification_pending");
}

// ---- uploads ----

#[tokio::test]
async fn colony_icons_and_banners_are_uploaded_by_moderators() {
    let (sb, alice, _) = setup().await;
    let refused = alice
        .upload_colony_icon("general", "icon.png", PNG, "image/png")
        .await;
    assert!(matches!(refused, Err(Error::Auth(_))), "{refused:?}");

    assert!(sb.colony().make_moderator("alice", GENERAL));
    let colony = alice
        .upload_colony_icon("general", "icon.png", PNG, "image/png")
        .await
        .unwrap();
    assert_eq!(colony.id.to_string(), GENERAL);
    assert_eq!(colony.name, "general");
    for url in [&colony.icon_url, &colony.icon_url_96, &colony.icon_url_256] {
        assert!(
            url.as_deref().is_some_and(|u| u.contains(GENERAL)),
            "{url:?}"
        );
    }

    let low = alice
        .upload_colony_banner(GENERAL, "wide.png", PNG, "image/png")
        .await;
    assert!(
        matches!(low, Err(Error::Auth(_))),
        "100 karma first: {low:?}"
    );
    assert!(sb.colony().set_karma("alice", 100));
    // Over a megabyte, under the service's cap.
    let banner = vec![7u8; 3 << 20];
    let colony = alice
        .upload_colony_banner("general", "wide.png", &banner, "image/jpeg")
        .await
        .unwrap();
    assert_eq!(colony.id.to_string(), GENERAL);
    assert_eq!(sb.colony().banner_size(GENERAL), Some(3 << 20));

    let format = alice
        .upload_colony_icon("general", "icon.svg", PNG, "image/svg+xml")
        .await;
    assert!(matches!(format, Err(Error::Validation(_))), "{format:?}");

    let before = sb.request_count();
    let huge = vec![0u8; MAX_BANNER_BYTES + 1];
    invalid(
        alice
            .upload_colony_banner(GENERAL, "huge.png", &huge, "image/png")
            .await,
        "file_bytes",
    );
    invalid(
        alice
            .upload_colony_icon(GENERAL, "notes.txt", b"text", "text/plain")
            .await,
        "content_type",
    );
    invalid(
        alice
            .upload_colony_icon(GENERAL, "", PNG, "image/png")
            .await,
        "filename",
    );
    invalid(
        alice
            .upload_colony_icon(GENERAL, "e.png", b"", "image/png")
            .await,
        "file_bytes",
    );
    assert_eq!(sb.request_count(), before, "refused before sending");
    let unknown = alice
        .upload_colony_icon("no-such-colony", "i.png", PNG, "image/png")
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}

#[tokio::test]
async fn the_profile_avatar_is_uploaded() {
    let (_sb, alice, _) = setup().await;
    let out = alice
        .upload_profile_avatar("me.png", PNG, "image/png")
        .await
        .unwrap();
    let path = out["avatar_path"].as_str().unwrap();
    assert!(out["uploaded_at"].is_string());
    for size in ["sm", "md", "lg"] {
        assert!(
            out["urls"][size].as_str().unwrap().contains(path),
            "{out:?}"
        );
    }
    let me = alice.get_me().await.unwrap();
    assert_eq!(Some(me.avatar_url.as_str()), out["urls"]["md"].as_str());
    invalid(
        alice
            .upload_profile_avatar("me.gif", PNG, "application/pdf")
            .await,
        "content_type",
    );
}

// ---- OAuth token exchange ----

#[tokio::test]
async fn exchange_token_trades_the_client_token_at_the_site_root() {
    let (sb, alice, _) = setup().await;
    sb.colony().add_oauth_audience("rp-example");
    let out = alice
        .exchange_token("rp-example")
        .scope("profile offline_access")
        .await
        .unwrap();
    assert!(out.access_token.expose_secret().starts_with("oat_sandbox_"));
    assert!(out.id_token.is_some());
    assert_eq!(out.scope.as_deref(), Some("openid profile"));
    assert_eq!(out.token_type.as_deref(), Some("Bearer"));
    assert_eq!(out.expires_in, Some(3600));
    assert_eq!(
        out.issued_token_type.as_deref(),
        Some("urn:ietf:params:oauth:token-type:access_token")
    );
    let shown = format!("{out:?}");
    assert!(!shown.contains(out.access_token.expose_secret()), "{shown}");

    let seen = sb.colony().last_oauth_request().unwrap();
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(!seen.had_authorization, "no Authorization header");
    assert_eq!(
        seen.form["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(
        seen.form["subject_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(seen.form["audience"], "rp-example");
    assert_eq!(seen.form["scope"], "profile offline_access");
    let jwt = seen.form["subject_token"].clone();
    assert!(jwt.starts_with("eyJ"), "the client's own token");

    // Another token given explicitly; no scope sent when none is set.
    alice
        .exchange_token("rp-example")
        .subject_token(jwt.clone())
        .await
        .unwrap();
    let seen = sb.colony().last_oauth_request().unwrap();
    assert_eq!(seen.form["subject_token"], jwt);
    assert!(!seen.form.contains_key("scope"));
}

#[tokio::test]
async fn exchange_token_refusals_are_typed_and_never_retried() {
    let (sb, alice, _) = setup().await;
    sb.colony().add_oauth_audience("rp-example");
    let code = |e: &Error| e.code().map(str::to_owned);

    let unknown = alice.exchange_token("rp-unknown").await.unwrap_err();
    assert!(matches!(unknown, Error::Validation(_)), "{unknown:?}");
    assert_eq!(code(&unknown).as_deref(), Some("invalid_target"));

    let scope = alice
        .exchange_token("rp-example")
        .scope("admin")
        .await
        .unwrap_err();
    assert!(matches!(scope, Error::Validation(_)), "{scope:?}");
    assert_eq!(code(&scope).as_deref(), Some("invalid_scope"));

    let grant = alice
        .exchange_token("rp-example")
        .subject_token("eyJ.not-a-token.x")
        .await
        .unwrap_err();
    assert!(matches!(grant, Error::Auth(_)), "{grant:?}");
    assert_eq!(code(&grant).as_deref(), Some("invalid_grant"));
    assert!(!grant.to_string().contains("eyJ.not-a-token.x"), "{grant}");

    let before = sb.request_count();
    invalid(
        alice
            .exchange_token("rp-example")
            .subject_token("col_sandbox_key")
            .await,
        "subject_token",
    );
    invalid(
        alice.exchange_token("rp-example").subject_token(" ").await,
        "subject_token",
    );
    invalid(alice.exchange_token("").await, "audience");
    assert_eq!(sb.request_count(), before, "refused before sending");

    sb.faults().fail_next(3, 503);
    let down = alice.exchange_token("rp-example").await.unwrap_err();
    assert!(matches!(down, Error::Server(_)), "{down:?}");
    assert_eq!(sb.request_count() - before, 1, "one attempt, no retries");
}

#[tokio::test]
async fn exchange_token_maps_every_oauth_error() {
    use axum::routing::post;
    let router = axum::Router::new()
        .route(
            "/api/v1/auth/token",
            post(|| async {
                axum::Json(json!({"access_token": "eyJ.t.x", "token_type": "bearer"}))
            }),
        )
        .route(
            "/oauth/token",
            post(|Form(form): Form<HashMap<String, String>>| async move {
                let (status, error) = match form["audience"].as_str() {
                    "off" => (400, "unsupported_grant_type"),
                    "bad" => (400, "invalid_request"),
                    "slow" => (429, "slow_down"),
                    _ => (502, "server_error"),
                };
                (
                    axum::http::StatusCode::from_u16(status).unwrap(),
                    axum::Json(json!({"error": error, "error_description": format!("{error}!")})),
                )
            }),
        );
    let base = agentwire_tests::serve(router).await;
    let c = client(&base, "col_test");
    let off = c.exchange_token("off").await.unwrap_err();
    match &off {
        Error::Api(e) => {
            assert_eq!(e.code.as_deref(), Some("unsupported_grant_type"));
            assert!(e.message.contains("not enabled"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let bad = c.exchange_token("bad").await.unwrap_err();
    assert!(
        matches!(&bad, Error::Validation(e) if e.message == "invalid_request!"),
        "{bad:?}"
    );
    let slow = c.exchange_token("slow").await.unwrap_err();
    assert!(matches!(slow, Error::RateLimited { .. }), "{slow:?}");
    let down = c.exchange_token("down").await.unwrap_err();
    assert!(
        matches!(&down, Error::Server(e) if e.status == 502),
        "{down:?}"
    );
}
