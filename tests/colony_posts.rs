//! The Colony end to end: accounts, tokens, posts, pagination, idempotent writes.

use std::time::Duration;

use agentwire::colony::{Client, PostSort, PostType};
use agentwire::{Error, ExposeSecret, Raw, RetryConfig};
use agentwire_sandbox::Sandbox;
use axum::routing::{get, post as post_route};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::json;

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

async fn setup() -> (Sandbox, Client) {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    let c = client(&sb, &key);
    (sb, c)
}

#[tokio::test]
async fn register_returns_a_working_key() {
    let sb = Sandbox::start().await.unwrap();
    let reg = Client::register("new-agent", "New Agent")
        .bio("I test things")
        .base_url(sb.base_url())
        .await
        .unwrap();
    assert_eq!(reg.username, "new-agent");
    assert!(!format!("{reg:?}").contains(reg.api_key.expose_secret()));
    let c = client(&sb, reg.api_key.expose_secret());
    let post = c.create_post("Hello world", "first post").await.unwrap();
    assert_eq!(post.author.username, "new-agent");

    let again = Client::register("new-agent", "Dup")
        .base_url(sb.base_url())
        .await;
    assert!(
        matches!(again, Err(Error::Conflict(ref e)) if e.code.as_deref() == Some("USERNAME_TAKEN")),
        "{again:?}"
    );
}

#[tokio::test]
async fn create_get_update_delete_a_post() {
    let (_sb, c) = setup().await;
    let mut meta = serde_json::Map::new();
    meta.insert("confidence".into(), 0.9.into());
    let post = c
        .create_post("Tool use findings", "We measured tool latency.")
        .colony("findings")
        .post_type(PostType::Finding)
        .metadata(meta)
        .tags(["tools", "latency"])
        .await
        .unwrap();
    assert_eq!(post.title, "Tool use findings");
    assert_eq!(post.post_type, PostType::Finding);
    assert_eq!(post.colony_name.as_deref(), Some("findings"));
    assert_eq!(
        post.tags.as_deref().unwrap_or_default(),
        ["tools", "latency"]
    );
    assert_eq!(post.metadata.as_ref().unwrap()["confidence"], 0.9);
    assert_eq!(post.raw()["title"], "Tool use findings");

    let fetched = c.get_post(&post.id.to_string()).await.unwrap();
    assert_eq!(fetched, post);

    let edited = c
        .update_post(post.id.to_string())
        .title("Tool use findings (v2)")
        .await
        .unwrap();
    assert_eq!(edited.title, "Tool use findings (v2)");
    assert_eq!(edited.body, "We measured tool latency.");

    c.delete_post(&post.id.to_string()).await.unwrap();
    assert!(matches!(
        c.get_post(&post.id.to_string()).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test]
async fn bad_arguments_fail_before_sending() {
    let (sb, c) = setup().await;
    let before = sb.request_count();
    assert!(matches!(
        c.get_post("not-a-uuid").await,
        Err(Error::InvalidArgument {
            name: "post_id",
            ..
        })
    ));
    assert!(matches!(
        c.create_post("", "body").await,
        Err(Error::InvalidArgument { name: "title", .. })
    ));
    assert!(matches!(
        c.get_posts().limit(0).await,
        Err(Error::InvalidArgument { name: "limit", .. })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn only_the_author_may_edit() {
    let (sb, alice) = setup().await;
    let bob = client(&sb, &sb.colony().register("bob"));
    let post = alice.create_post("Mine", "body").await.unwrap();
    let err = bob
        .update_post(post.id.to_string())
        .body("hijacked")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(ref e) if e.status == 403 && e.code.as_deref() == Some("FORBIDDEN")),
        "{err:?}"
    );
}

#[tokio::test]
async fn ids_are_taken_as_the_models_carry_them_or_as_text() {
    let (_sb, c) = setup().await;
    let post = c.create_post("Ids", "as Uuid or text").await.unwrap();
    let by_uuid = c.get_post(post.id).await.unwrap();
    let by_ref = c.get_post(&post.id).await.unwrap();
    let by_text = c.get_post(post.id.to_string()).await.unwrap();
    assert_eq!(by_uuid.id, post.id);
    assert_eq!(by_ref.id, post.id);
    assert_eq!(by_text.id, post.id);
    let comment = c.create_comment(post.id, "first").await.unwrap();
    let reply = c
        .create_comment(post.id, "second")
        .parent_id(comment.id)
        .await
        .unwrap();
    assert_eq!(reply.parent_id, Some(comment.id));
    // A malformed one is still refused before sending, by name.
    let err = c.get_post("not-a-uuid").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                name: "post_id",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn get_posts_filters_sorts_and_pages() {
    let (sb, c) = setup().await;
    sb.colony().seed_posts("alice", "general", 30);
    c.create_post("A question about tools", "How?")
        .colony("general")
        .post_type(PostType::Question)
        .tags(["tools"])
        .await
        .unwrap();
    let page = c
        .get_posts()
        .colony("general")
        .limit(10)
        .offset(5)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.total, Some(31));
    assert!(page.has_more);
    assert_eq!(
        page.items[0].title, "Post 25",
        "newest first, after skipping 5"
    );

    let questions = c.get_posts().post_type(PostType::Question).await.unwrap();
    assert_eq!(questions.items.len(), 1);
    let tagged = c
        .get_posts()
        .tag("tools")
        .sort(PostSort::Top)
        .await
        .unwrap();
    assert_eq!(tagged.items[0].title, "A question about tools");
    let found = c.get_posts().search("post 1").limit(100).await.unwrap();
    assert_eq!(found.total, Some(11), "Post 1 and Post 10–19");

    // The sort values are the contract's: `discussed` (missing from the
    // hand-typed enum this replaced) orders by comments.
    let talked_about = c.get_posts().limit(3).await.unwrap().items[2].clone();
    c.create_comment(talked_about.id.to_string(), "first")
        .await
        .unwrap();
    let discussed = c
        .get_posts()
        .sort(PostSort::Discussed)
        .limit(1)
        .await
        .unwrap();
    assert_eq!(discussed.items[0].id, talked_about.id);
    assert_eq!(
        PostSort::Newest.as_str(),
        "newest",
        "the default, not the deprecated `new`"
    );
    // A value the service does not take is its refusal, not a panic here.
    let err = c
        .get_posts()
        .sort(PostSort::Other("loudest".into()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
}

#[tokio::test]
async fn iter_posts_walks_ten_thousand_posts_in_order() {
    let (sb, c) = setup().await;
    sb.colony().seed_posts("alice", "general", 10_000);
    let mut stream = Box::pin(
        c.iter_posts()
            .colony("general")
            .page_size(100)
            .into_stream(),
    );
    let mut n = 0usize;
    while let Some(post) = stream.next().await {
        let post = post.unwrap();
        assert_eq!(post.title, format!("Post {}", 9_999 - n));
        n += 1;
    }
    assert_eq!(n, 10_000);
}

#[tokio::test]
async fn iter_posts_stops_at_max_results_and_reports_errors() {
    let (sb, c) = setup().await;
    sb.colony().seed_posts("alice", "general", 50);
    let titles: Vec<String> = c
        .iter_posts()
        .page_size(20)
        .max_results(25)
        .into_stream()
        .map(|p| p.unwrap().title.to_owned())
        .collect()
        .await;
    assert_eq!(titles.len(), 25);

    let strict = Client::builder(sb.colony().register("carol"))
        .base_url(sb.base_url())
        .retry(RetryConfig::none())
        .build()
        .unwrap();
    sb.faults().fail_next(1, 500);
    let items: Vec<_> = strict.iter_posts().into_stream().collect().await;
    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], Err(Error::Server(_))));
}

#[tokio::test]
async fn get_posts_by_ids_skips_missing_ones() {
    let (_sb, c) = setup().await;
    let a = c.create_post("First", "1").await.unwrap();
    let b = c.create_post("Second", "2").await.unwrap();
    let gone = c.create_post("Gone", "3").await.unwrap();
    c.delete_post(&gone.id.to_string()).await.unwrap();
    let posts = c
        .get_posts_by_ids([b.id.to_string(), gone.id.to_string(), a.id.to_string()])
        .await
        .unwrap();
    let titles: Vec<&str> = posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Second", "First"]);
}

#[tokio::test]
async fn a_create_post_retried_through_503s_creates_exactly_one_post() {
    let (sb, c) = setup().await;
    c.get_posts().await.unwrap(); // token exchanged beforehand
    sb.faults().fail_next(2, 503);
    let post = c
        .create_post("Exactly once", "even through 503s")
        .await
        .unwrap();
    assert_eq!(sb.colony().post_count(), 1);
    assert_eq!(
        c.get_post(&post.id.to_string()).await.unwrap().title,
        "Exactly once"
    );
}

#[tokio::test]
async fn a_dropped_response_to_a_write_is_replayed_not_repeated() {
    let (sb, c) = setup().await;
    c.get_posts().await.unwrap();
    // The server creates the post but the answer is lost: the retry carries
    // the same Idempotency-Key and gets the recorded answer.
    sb.faults().truncate_next(1);
    let post = c.create_post("Once only", "lost answer").await;
    let post = post.unwrap();
    assert_eq!(sb.colony().post_count(), 1, "{post:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_with_an_expired_token_exchange_once() {
    let (sb, c) = setup().await;
    c.get_posts().await.unwrap();
    assert_eq!(sb.colony().token_exchanges(), 1);
    sb.faults().expire_tokens();
    let calls = (0..100).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.get_posts().limit(1).await.map(|p| p.items.len()) })
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap().unwrap();
    }
    assert_eq!(sb.colony().token_exchanges(), 2, "one exchange for all 100");
    assert_eq!(c.token_exchanges(), 2);
}

#[tokio::test]
async fn rotate_key_switches_the_client_and_retires_the_old_key() {
    let (sb, c) = setup().await;
    let old_key = sb.colony().register("alice");
    let new_key = c.rotate_key().await.unwrap();
    assert_ne!(new_key.expose_secret(), old_key);
    sb.faults().expire_tokens();
    c.get_posts()
        .await
        .expect("the client now uses the new key");
    let stale = client(&sb, &old_key);
    assert!(matches!(stale.get_posts().await, Err(Error::Auth(ref e)) if e.status == 401));
}

#[tokio::test]
async fn refresh_token_exchanges_now_and_bad_keys_are_auth_errors() {
    let (sb, c) = setup().await;
    c.refresh_token().await.unwrap();
    c.refresh_token().await.unwrap();
    assert_eq!(sb.colony().token_exchanges(), 2);
    let bad = client(&sb, "col_not_a_real_key_123");
    match bad.refresh_token().await {
        Err(Error::Auth(e)) => assert_eq!(e.code.as_deref(), Some("AUTH_INVALID_KEY")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(bad.get_posts().await, Err(Error::Auth(_))));
}

#[tokio::test]
async fn fields_the_contract_does_not_know_survive_at_every_depth() {
    // A real post from the sandbox, then served by a fake Colony with fields
    // added at the top, inside `author`, and inside `author.trust_level`.
    let (_sb, c) = setup().await;
    let post = c.create_post("Forward", "compatible").await.unwrap();
    let mut served = post.raw();
    served["brand_new_field"] = json!({"nested": [1, 2]});
    served["author"]["pronouns"] = json!("they");
    served["author"]["trust_level"] = json!({
        "icon": "*", "min_karma": 10, "name": "regular", "rate_multiplier": 1.5,
        "badge_color": "teal"
    });
    let id = post.id.to_string();
    let body = served.clone();
    let app = Router::new()
        .route(
            "/api/v1/auth/token",
            post_route(|| async { Json(json!({"access_token": "tok_fake_fwdcompat_000000"})) }),
        )
        .route(
            &format!("/api/v1/posts/{id}"),
            get(move || async move { Json(body) }),
        );
    let base = agentwire_tests::serve(app).await;
    let fake = Client::builder("col_fake_fwdcompat_key_0123")
        .base_url(base)
        .retry(RetryConfig::none())
        .no_token_cache()
        .build()
        .unwrap();

    let got = fake.get_post(&id).await.unwrap();
    assert_eq!(got.title, "Forward");
    assert_eq!(got.extra["brand_new_field"], json!({"nested": [1, 2]}));
    assert_eq!(got.author.extra["pronouns"], "they");
    let trust = got
        .author
        .trust_level
        .as_ref()
        .expect("known field decoded");
    assert_eq!(trust.name, "regular");
    assert_eq!(trust.extra["badge_color"], "teal");
    assert!(!post.extra.contains_key("brand_new_field"));
    // Nothing is lost on the way back to JSON either.
    assert_eq!(got.raw(), served);
    assert_eq!(got.raw()["author"]["trust_level"]["badge_color"], "teal");
}

#[tokio::test]
async fn every_operation_is_a_generated_builder_behind_the_client() {
    let (sb, c) = setup().await;
    let post = c.create_post("Reachable", "by name").await.unwrap();

    // No hand-written method: the generated builder, through the runtime.
    let me = c.get_me().await.unwrap();
    assert_eq!(me.username, "alice");
    assert_eq!(c.vault_status().await.unwrap().file_count, 0);
    assert!(c.get_webhooks().await.unwrap().is_empty());
    c.mark_notifications_read().await.unwrap();

    // A shadowed operation stays reachable with an explicit dereference.
    let same = (*c).get_post().post_id(post.id).await.unwrap();
    assert_eq!(same, post);
    let page = (*c).get_posts().limit(5u64).await.unwrap();
    assert_eq!(page.items, [post]);

    // Arguments a builder cannot use fail when awaited, named, unsent.
    let before = sb.request_count();
    for (err, expected) in [
        ((*c).get_post().await.unwrap_err(), "post_id"),
        (
            (*c).get_post().post_id("not-a-uuid").await.unwrap_err(),
            "post_id",
        ),
        ((*c).get_posts().limit(0u64).await.unwrap_err(), "limit"),
    ] {
        assert!(
            matches!(err, Error::InvalidArgument { name, .. } if name == expected),
            "{err:?}"
        );
    }
    assert_eq!(sb.request_count(), before);
}

/// colony-sdk 1.38: a post created without a colony belongs to none
/// (`no_colony`), and the service answers `colony_id: null` for it; a page
/// that holds one still decodes, and a colony's listing leaves it out.
#[tokio::test]
async fn a_post_in_no_colony_decodes_in_a_page() {
    let (sb, c) = setup().await;
    sb.colony().seed_posts("alice", "general", 2);
    let loose = c
        .create_post("Nowhere in particular", "A note.")
        .await
        .unwrap();
    assert_eq!(loose.colony_id, None);
    assert_eq!(loose.colony_name, None);
    let by_uuid = c
        .create_post("By id", "In findings.")
        .colony("bbe6be09-da95-4983-b23d-1dd980479a7e")
        .await
        .unwrap();
    // The id travelled as `colony_id` (as a name it would be unknown).
    assert_eq!(by_uuid.colony_name.as_deref(), Some("findings"));

    let everything = c.get_posts().limit(100).await.unwrap();
    let found = everything
        .items
        .iter()
        .find(|p| p.id == loose.id)
        .expect("the colony-less post is listed");
    assert_eq!(found.colony_id, None);
    assert!(everything.items.iter().any(|p| p.colony_id.is_some()));
    let general = c.get_posts().colony("general").limit(100).await.unwrap();
    assert!(general.items.iter().all(|p| p.id != loose.id));
    assert_eq!(general.items.len(), 2);
}

/// colony-sdk's request defaults: an order is always sent (`newest` unless
/// set), and the first page goes without an offset.
#[tokio::test]
async fn get_posts_sends_newest_and_no_offset_on_the_first_page() {
    let sb = Sandbox::start().await.unwrap();
    let key = sb.colony().register("alice");
    sb.colony().seed_posts("alice", "general", 30);
    let urls = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = urls.clone();
    let c = Client::builder(&key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .on_request(move |info| {
            if info.operation == "get_posts" {
                seen.lock().unwrap().push(info.url.clone());
            }
        })
        .build()
        .unwrap();
    let first = c.get_posts().limit(20).await.unwrap();
    assert_eq!(first.items.len(), 20);
    let top = c.get_posts().sort(PostSort::Top).await.unwrap();
    assert!(!top.items.is_empty());
    let walked: Vec<_> = c
        .iter_posts()
        .page_size(20)
        .into_stream()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(walked.len(), 30);
    let urls = urls.lock().unwrap().clone();
    let query = |u: &str| {
        u.split_once('?')
            .map(|(_, q)| q.to_owned())
            .unwrap_or_default()
    };
    assert_eq!(query(&urls[0]), "limit=20&sort=newest");
    assert_eq!(query(&urls[1]), "limit=20&sort=top");
    assert_eq!(query(&urls[2]), "limit=20&sort=newest");
    assert_eq!(query(&urls[3]), "limit=20&offset=20&sort=newest");
}
