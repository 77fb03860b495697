//! The sandbox plays The Colony as its documentation describes it, checked
//! over HTTP: FastAPI's 422 shape for request validation beside the
//! service's own `{"detail": {"message", "code"}}` refusals, the documented
//! refusals (own votes, votes other than ±1, self-follows, repeated follows
//! and blocks, a reaction on two targets), the unread counts as things
//! happen and are read, and blocks that hide content.

use std::time::Duration;

use agentwire::colony::{Client, ReactionEmoji};
use agentwire::{Error, ExposeSecret, RetryConfig};
use agentwire_sandbox::Sandbox;
use serde_json::{json, Value};

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .no_token_cache()
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

async fn setup() -> (Sandbox, Client, Client) {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(&sb, &sb.colony().register("alice"));
    let bob = client(&sb, &sb.colony().register("bob"));
    (sb, alice, bob)
}

/// Raw HTTP as `who`, for what the facade refuses to send: (status, body).
async fn raw(
    sb: &Sandbox,
    who: &Client,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let token = who.get_auth_token().await.unwrap();
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/api/v1{path}", sb.base_url()))
        .bearer_auth(token.expose_secret());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The one entry of a FastAPI validation list.
fn only_entry(body: &Value) -> &Value {
    let list = body["detail"].as_array().expect("detail is a list");
    assert_eq!(list.len(), 1, "{body}");
    &list[0]
}

#[tokio::test]
async fn request_validation_is_fastapis_422_and_refusals_are_the_services_envelope() {
    let (sb, alice, _) = setup().await;
    use reqwest::Method;

    let (status, body) = raw(&sb, &alice, Method::GET, "/posts?limit=500", None).await;
    assert_eq!(status, 422);
    assert_eq!(
        only_entry(&body),
        &json!({"loc": ["query", "limit"], "msg": "Input should be less than or equal to 100",
                "type": "less_than_equal", "ctx": {"le": 100}})
    );
    let (_, body) = raw(&sb, &alice, Method::GET, "/posts?limit=0", None).await;
    assert_eq!(only_entry(&body)["type"], "greater_than_equal");
    let (status, body) = raw(&sb, &alice, Method::GET, "/posts?limit=ten", None).await;
    assert_eq!(status, 422);
    assert_eq!(only_entry(&body)["type"], "int_parsing");
    let (_, body) = raw(&sb, &alice, Method::GET, "/posts?sort=best", None).await;
    assert_eq!(
        only_entry(&body),
        &json!({"loc": ["query", "sort"],
                "msg": "String should match pattern '^(newest|new|top|hot|discussed)$'",
                "type": "string_pattern_mismatch",
                "ctx": {"pattern": "^(newest|new|top|hot|discussed)$"}})
    );
    let (_, body) = raw(&sb, &alice, Method::GET, "/search", None).await;
    assert_eq!(
        only_entry(&body),
        &json!({"loc": ["query", "q"], "msg": "Field required", "type": "missing"})
    );
    let (_, body) = raw(&sb, &alice, Method::GET, "/search?q=x", None).await;
    assert_eq!(only_entry(&body)["type"], "string_too_short");

    // Bodies: a missing field, a bound of the contract, a wrong type.
    let (status, body) = raw(
        &sb,
        &alice,
        Method::POST,
        "/posts",
        Some(json!({"body": "b"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(only_entry(&body)["loc"], json!(["body", "title"]));
    assert_eq!(only_entry(&body)["type"], "missing");
    let long = "t".repeat(301);
    let (_, body) = raw(
        &sb,
        &alice,
        Method::POST,
        "/posts",
        Some(json!({"title": long, "body": "b"})),
    )
    .await;
    assert_eq!(
        only_entry(&body),
        &json!({"loc": ["body", "title"], "msg": "String should have at most 300 characters",
                "type": "string_too_long", "ctx": {"max_length": 300}})
    );
    let (_, body) = raw(
        &sb,
        &alice,
        Method::POST,
        "/posts",
        Some(json!({"title": 7, "body": "b"})),
    )
    .await;
    assert_eq!(only_entry(&body)["type"], "string_type");

    // The facade reads both shapes: the list's location, the envelope's code.
    let err = (*alice)
        .get_posts()
        .limit(100u64)
        .sort("best")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(err.status(), Some(422));
    assert!(err.to_string().contains("sort"), "{err}");
    assert_eq!(
        err.code(),
        None,
        "request validation carries no service code"
    );

    let (status, body) = raw(
        &sb,
        &alice,
        Method::GET,
        "/posts/00000000-0000-4000-8000-000000000000",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert!(body["detail"]["message"].is_string(), "{body}");
    assert_eq!(body["detail"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn nobody_votes_on_their_own_content_and_votes_are_plus_or_minus_one() {
    let (sb, alice, bob) = setup().await;
    use reqwest::Method;
    let post = alice.create_post("Mine", "my own").await.unwrap();
    let comment = alice.create_comment(post.id, "also mine").await.unwrap();

    for err in [
        alice.vote_post(post.id, 1).await.unwrap_err(),
        alice.vote_comment(comment.id, -1).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::Validation(_)), "{err:?}");
        assert_eq!(
            (err.status(), err.code()),
            (Some(400), Some("VOTE_SELF_VOTE"))
        );
    }
    assert_eq!(alice.get_post(post.id).await.unwrap().score, 0);
    assert_eq!(alice.get_me().await.unwrap().karma, 0);

    // Only the literals 1 and -1 (0, 2 and true are refused by the contract).
    let path = format!("/posts/{}/vote", post.id);
    for value in [json!(0), json!(2), json!(true), json!("1")] {
        let (status, body) = raw(
            &sb,
            &bob,
            Method::POST,
            &path,
            Some(json!({"value": value})),
        )
        .await;
        assert_eq!(status, 422, "{value}");
        assert_eq!(
            only_entry(&body),
            &json!({"loc": ["body", "value"], "msg": "Input should be 1 or -1",
                    "type": "literal_error", "ctx": {"expected": "1 or -1"}})
        );
    }
    let (_, body) = raw(&sb, &bob, Method::POST, &path, Some(json!({}))).await;
    assert_eq!(only_entry(&body)["type"], "missing");
    let (_, body) = raw(
        &sb,
        &bob,
        Method::POST,
        &path,
        Some(json!({"value": 1, "weight": 3})),
    )
    .await;
    assert_eq!(
        only_entry(&body),
        &json!({"loc": ["body", "weight"], "msg": "Extra inputs are not permitted",
                "type": "extra_forbidden"})
    );
    // The facade refuses such values before sending.
    assert!(matches!(
        bob.vote_post(post.id, 2).await,
        Err(Error::InvalidArgument { .. })
    ));

    let (status, body) = raw(&sb, &bob, Method::POST, &path, Some(json!({"value": -1}))).await;
    assert_eq!((status, body["new_score"].clone()), (200, json!(-1)));
    assert_eq!(alice.get_me().await.unwrap().karma, -1);
}

#[tokio::test]
async fn follows_and_reactions_refuse_as_documented() {
    let (sb, alice, bob) = setup().await;
    use reqwest::Method;
    let err = alice.follow("alice").await.unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(400), Some("INVALID_INPUT"))
    );

    let receipt = alice.follow("bob").await.unwrap();
    let again = alice.follow("bob").await.unwrap_err();
    assert!(matches!(again, Error::Conflict(_)), "{again:?}");
    assert_eq!(again.code(), Some("CONFLICT"));
    let detail = &again.body().unwrap()["detail"];
    assert_eq!(
        detail["follow_id"],
        receipt.follow_id.to_string(),
        "{detail}"
    );
    assert!(detail["created_at"].is_string());

    let post = bob.create_post("React", "to me").await.unwrap();
    let comment = bob.create_comment(post.id, "me too").await.unwrap();
    let (status, body) = raw(
        &sb,
        &alice,
        Method::POST,
        "/reactions/toggle",
        Some(json!({"emoji": "fire", "post_id": post.id, "comment_id": comment.id})),
    )
    .await;
    assert_eq!(
        (status, body["detail"]["code"].clone()),
        (400, json!("INVALID_INPUT"))
    );

    // A toggle: the second one takes the reaction back; only adding tells
    // the author.
    let before = count_notifications(&sb, &bob).await;
    let on = alice
        .react_post(post.id, ReactionEmoji::Fire)
        .await
        .unwrap();
    assert_eq!(on.reactions.len(), 1);
    assert_eq!(count_notifications(&sb, &bob).await, before + 1);
    let off = alice
        .react_post(post.id, ReactionEmoji::Fire)
        .await
        .unwrap();
    assert!(off.reactions.is_empty());
    assert_eq!(count_notifications(&sb, &bob).await, before + 1);
}

/// `GET /notifications/count`, checking that both names carry one number.
async fn count_notifications(sb: &Sandbox, who: &Client) -> i64 {
    let (status, body) = raw(sb, who, reqwest::Method::GET, "/notifications/count", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["unread_notifications"], body["unread_count"], "{body}");
    body["unread_notifications"].as_i64().unwrap()
}

/// `GET /messages/unread-count`, checking that both names carry one number.
async fn unread_dms(sb: &Sandbox, who: &Client) -> i64 {
    let (status, body) = raw(
        sb,
        who,
        reqwest::Method::GET,
        "/messages/unread-count",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["unread_direct_messages"], body["unread_count"],
        "{body}"
    );
    body["unread_direct_messages"].as_i64().unwrap()
}

#[tokio::test]
async fn unread_counts_follow_what_happens_and_what_is_read() {
    let (sb, alice, bob) = setup().await;
    let count = |who: &Client| {
        let who = who.clone();
        async move {
            let counts = who.get_notification_count().await.unwrap();
            assert_eq!(counts["unread_notifications"], counts["unread_count"]);
            counts["unread_notifications"].unwrap()
        }
    };
    assert_eq!(count(&alice).await, 0);

    let post = alice.create_post("Counted", "count me").await.unwrap();
    bob.create_comment(post.id, "a comment").await.unwrap();
    bob.vote_post(post.id, 1).await.unwrap();
    bob.follow("alice").await.unwrap();
    assert_eq!(count(&alice).await, 3);
    assert_eq!(count(&bob).await, 0, "nobody is told about their own doing");

    let first = alice.get_notifications().await.unwrap();
    alice.mark_notification_read(first[0].id).await.unwrap();
    assert_eq!(count(&alice).await, 2);
    (*alice).mark_notifications_read().await.unwrap();
    assert_eq!(count(&alice).await, 0);

    // Direct messages are counted apart, under both names.
    bob.send_message("alice", "one").await.unwrap();
    bob.send_message("alice", "two").await.unwrap();
    assert_eq!(unread_dms(&sb, &alice).await, 2);
    assert_eq!(alice.get_unread_count().await.unwrap(), 2);
    let summary = (*alice).unread_summary().await.unwrap();
    assert_eq!(
        (
            summary.unread_direct_messages,
            summary.unread_notifications,
            summary.unread_total
        ),
        (2, count(&alice).await, 2 + count(&alice).await)
    );
    alice.get_conversation("bob").await.unwrap();
    assert_eq!(
        unread_dms(&sb, &alice).await,
        0,
        "reading the conversation reads it"
    );
    assert_eq!(unread_dms(&sb, &bob).await, 0);
}

#[tokio::test]
async fn a_block_hides_posts_and_direct_messages_and_silences_notifications() {
    let (sb, alice, bob) = setup().await;
    let carol = client(&sb, &sb.colony().register("carol"));
    let bob_id = sb.colony().user_id("bob").unwrap();
    bob.send_message("alice", "before the block").await.unwrap();
    let bobs = bob.create_post("By bob", "bob writes").await.unwrap();
    carol.create_post("By carol", "carol writes").await.unwrap();
    alice.follow("bob").await.unwrap();
    bob.follow("alice").await.unwrap();

    let blocked = (*alice)
        .block_user()
        .user_id(bob_id.as_str())
        .await
        .unwrap();
    assert_eq!(blocked.status, "blocked");
    let again = (*alice).block_user().user_id("bob").await.unwrap_err();
    assert_eq!(
        (again.status(), again.code()),
        (Some(409), Some("CONFLICT"))
    );
    let own = (*alice).block_user().user_id("alice").await.unwrap_err();
    assert_eq!(
        (own.status(), own.code()),
        (Some(400), Some("INVALID_INPUT"))
    );
    let list = (*alice).list_blocked().await.unwrap();
    assert_eq!(
        list.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["bob"]
    );
    assert!(
        (*bob).list_blocked().await.unwrap().is_empty(),
        "blocks are private"
    );

    // Bob's posts leave Alice's feed (not anyone else's).
    let titles = |page: agentwire::colony::Page<agentwire::colony::Post>| {
        page.items.into_iter().map(|p| p.title).collect::<Vec<_>>()
    };
    assert_eq!(titles(alice.get_posts().await.unwrap()), ["By carol"]);
    assert_eq!(titles(carol.get_posts().await.unwrap()).len(), 2);

    // Bob can no longer message Alice; their thread leaves her inbox.
    let refused = bob.send_message("alice", "after").await.unwrap_err();
    assert!(matches!(refused, Error::Auth(_)), "{refused:?}");
    assert_eq!(refused.status(), Some(403));
    assert!(alice.list_conversations().await.unwrap().is_empty());
    assert_eq!(alice.get_unread_count().await.unwrap(), 0);

    // Follows went both ways.
    let err = alice.unfollow("bob").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(matches!(
        bob.unfollow("alice").await,
        Err(Error::NotFound(_))
    ));

    // Bob may still comment on Alice's posts, visibly, but she is not told.
    let post = alice.create_post("Alice's", "open thread").await.unwrap();
    let before = alice.get_notification_count().await.unwrap()["unread_notifications"];
    bob.create_comment(post.id, "still here").await.unwrap();
    carol.create_comment(post.id, "hello").await.unwrap();
    let after = alice.get_notification_count().await.unwrap()["unread_notifications"];
    assert_eq!(
        after,
        before.map(|n| n + 1),
        "only carol's comment notifies"
    );
    assert_eq!(alice.get_comments(post.id, 1).await.unwrap().items.len(), 2);

    // Unblocking shows the posts again but restores no follow.
    (*alice).unblock_user().user_id("bob").await.unwrap();
    assert!(titles(alice.get_posts().await.unwrap()).contains(&bobs.title));
    assert!(matches!(
        alice.unfollow("bob").await,
        Err(Error::NotFound(_))
    ));
    bob.send_message("alice", "hi again").await.unwrap();
    let err = (*alice).unblock_user().user_id("bob").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}
