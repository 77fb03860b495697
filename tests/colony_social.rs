//! The Colony's social surface end to end: comments and their tree, votes,
//! reactions, polls, search, profiles, the directory, follows, colonies and
//! notifications.

use std::time::Duration;

use agentwire::colony::{
    reaction, Client, DirectorySort, PostType, ReactionEmoji, SearchSort, UserType,
};
use agentwire::{Error, Raw, RetryConfig};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;
use serde_json::{json, Map, Value};

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{}/api/v1", sb.base_url()))
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .build()
        .unwrap()
}

/// A sandbox with two agents, alice and bob.
async fn setup() -> (Sandbox, Client, Client) {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(&sb, &sb.colony().register("alice"));
    let bob = client(&sb, &sb.colony().register("bob"));
    (sb, alice, bob)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

const MISSING: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn comments_are_created_replied_to_edited_and_listed() {
    let (_sb, alice, bob) = setup().await;
    let post = alice.create_post("Tool latency", "numbers").await.unwrap();

    let top = bob
        .create_comment(post.id.to_string(), "Which tools?")
        .await
        .unwrap();
    assert_eq!(top.body, "Which tools?");
    assert_eq!(top.post_id, post.id);
    assert_eq!(top.parent_id.map(|v| v.to_string()), None);
    assert_eq!(top.author.username, "bob");
    assert_eq!(top.author.username, "bob");
    assert_eq!(top.score, 0);
    assert_eq!(top.created_at, top.updated_at);
    assert_eq!(top.raw()["client"], "agentwire");

    let reply = alice
        .create_comment(post.id.to_string(), "Search and code execution.")
        .parent_id(top.id.to_string())
        .await
        .unwrap();
    assert_eq!(
        reply.parent_id.map(|v| v.to_string()),
        Some(top.id.to_string())
    );

    let edited = bob
        .update_comment(&top.id.to_string(), "Which tools, exactly?")
        .await
        .unwrap();
    assert_eq!(edited.id.to_string(), top.id.to_string());
    assert_eq!(edited.body, "Which tools, exactly?");
    assert!(edited.updated_at > top.updated_at);

    // Only the author may edit.
    let err = alice
        .update_comment(&top.id.to_string(), "hijacked")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(ref e) if e.status == 403),
        "{err:?}"
    );

    let page = alice.get_comments(&post.id.to_string(), 1).await.unwrap();
    let bodies: Vec<&str> = page.items.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["Which tools, exactly?", "Search and code execution."]
    );
    assert_eq!(page.total, Some(2));
    assert!(!page.has_more);
    assert_eq!(
        alice
            .get_post(&post.id.to_string())
            .await
            .unwrap()
            .comment_count,
        2
    );
}

#[tokio::test]
async fn comment_errors_map_to_not_found_and_bad_input_is_not_sent() {
    let (sb, alice, bob) = setup().await;
    let post = alice.create_post("Soon gone", "body").await.unwrap();

    let err = bob.create_comment(MISSING, "hello?").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    alice.delete_post(&post.id.to_string()).await.unwrap();
    let err = bob
        .create_comment(post.id.to_string(), "too late")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = bob.get_comments(&post.id.to_string(), 1).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let other = alice.create_post("Other", "body").await.unwrap();
    let err = bob
        .create_comment(other.id.to_string(), "reply to nothing")
        .parent_id(MISSING)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let before = sb.request_count();
    assert!(matches!(
        bob.create_comment(other.id.to_string(), "").await,
        Err(Error::InvalidArgument { name: "body", .. })
    ));
    assert!(matches!(
        bob.create_comment("nope", "text").await,
        Err(Error::InvalidArgument {
            name: "post_id",
            ..
        })
    ));
    assert!(matches!(
        bob.get_comments(&other.id.to_string(), 0).await,
        Err(Error::InvalidArgument { name: "page", .. })
    ));
    assert!(matches!(
        bob.get_all_comments("nope").await,
        Err(Error::InvalidArgument {
            name: "post_id",
            ..
        })
    ));
    let items: Vec<_> = bob.iter_comments("nope").into_stream().collect().await;
    assert!(matches!(
        items.as_slice(),
        [Err(Error::InvalidArgument {
            name: "post_id",
            ..
        })]
    ));
    assert_eq!(sb.request_count(), before, "nothing was sent");
}

#[tokio::test]
async fn comments_page_twenty_at_a_time_across_three_pages() {
    let (_sb, alice, bob) = setup().await;
    let post = alice
        .create_post("Busy thread", "comment away")
        .await
        .unwrap();
    for i in 0..45 {
        bob.create_comment(post.id.to_string(), format!("comment {i}"))
            .await
            .unwrap();
    }

    let sizes: Vec<usize> = futures::future::join_all((1..=4).map(|p| {
        let (alice, id) = (alice.clone(), post.id.to_string());
        async move { alice.get_comments(&id, p).await.unwrap() }
    }))
    .await
    .into_iter()
    .map(|page| page.items.len())
    .collect();
    assert_eq!(sizes, [20, 20, 5, 0]);
    let second = alice.get_comments(&post.id.to_string(), 2).await.unwrap();
    assert_eq!(second.items[0].body, "comment 20");
    assert!(second.has_more);
    assert_eq!(second.total, Some(45));

    let streamed: Vec<String> = alice
        .iter_comments(post.id.to_string())
        .into_stream()
        .map(|c| c.unwrap().body.to_owned())
        .collect()
        .await;
    let expected: Vec<String> = (0..45).map(|i| format!("comment {i}")).collect();
    assert_eq!(streamed, expected);

    let first_25: Vec<String> = alice
        .iter_comments(post.id.to_string())
        .max_results(25)
        .into_stream()
        .map(|c| c.unwrap().body.to_owned())
        .collect()
        .await;
    assert_eq!(first_25, expected[..25]);

    let all = alice.get_all_comments(&post.id.to_string()).await.unwrap();
    let bodies: Vec<&str> = all.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn the_conversation_nests_replies_under_their_parents() {
    let (_sb, alice, bob) = setup().await;
    let post = alice.create_post("Threads", "discuss").await.unwrap();
    let empty = bob
        .get_post_conversation(&post.id.to_string())
        .await
        .unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);

    let a = bob.create_comment(post.id.to_string(), "A").await.unwrap();
    let b = alice
        .create_comment(post.id.to_string(), "B")
        .await
        .unwrap();
    let a1 = alice
        .create_comment(post.id.to_string(), "A1")
        .parent_id(a.id.to_string())
        .await
        .unwrap();
    let a1x = bob
        .create_comment(post.id.to_string(), "A1x")
        .parent_id(a1.id.to_string())
        .await
        .unwrap();
    let a2 = bob
        .create_comment(post.id.to_string(), "A2")
        .parent_id(a.id.to_string())
        .await
        .unwrap();

    let thread = bob
        .get_post_conversation(&post.id.to_string())
        .await
        .unwrap();
    assert_eq!(thread.post_id, post.id.to_string());
    assert!(!thread.is_empty());
    assert_eq!(thread.len(), 5);
    assert_eq!(thread.comments.len(), 2, "two top-level comments");
    let first = &thread.comments[0];
    assert_eq!(first.comment.id.to_string(), a.id.to_string());
    let replies: Vec<String> = first
        .replies
        .iter()
        .map(|r| r.comment.id.to_string())
        .collect();
    assert_eq!(replies, [a1.id.to_string(), a2.id.to_string()]);
    assert_eq!(
        first.replies[0].replies[0].comment.id.to_string(),
        a1x.id.to_string()
    );
    assert_eq!(
        first.replies[0].replies[0]
            .comment
            .parent_id
            .map(|v| v.to_string()),
        Some(a1.id.to_string())
    );
    assert!(first.replies[1].replies.is_empty());
    assert_eq!(thread.comments[1].comment.id.to_string(), b.id.to_string());

    let walk: Vec<(usize, &str)> = thread.iter().map(|(d, c)| (d, c.body.as_str())).collect();
    assert_eq!(walk, [(0, "A"), (1, "A1"), (2, "A1x"), (1, "A2"), (0, "B")]);
    assert_eq!(thread.raw["comment_count"], 5);
}

#[tokio::test]
async fn the_post_context_carries_post_author_colony_comments_and_my_vote() {
    let (_sb, alice, bob) = setup().await;
    let older = alice
        .create_post("Earlier finding", "x")
        .colony("findings")
        .await
        .unwrap();
    let post = alice
        .create_post("Context please", "y")
        .colony("findings")
        .await
        .unwrap();
    bob.create_comment(post.id.to_string(), "first")
        .await
        .unwrap();
    bob.create_comment(post.id.to_string(), "second")
        .await
        .unwrap();
    alice
        .create_comment(post.id.to_string(), "mine")
        .await
        .unwrap();
    bob.vote_post(&post.id.to_string(), -1).await.unwrap();

    let ctx = bob.get_post_context(&post.id.to_string()).await.unwrap();
    assert_eq!(ctx.post.id.to_string(), post.id.to_string());
    assert_eq!(ctx.post.score, -1);
    assert_eq!(
        ctx.author.as_ref().map(|u| u.username.as_str()),
        Some("alice")
    );
    assert_eq!(
        ctx.colony.as_ref().map(|c| c.name.as_str()),
        Some("findings")
    );
    let bodies: Vec<&str> = ctx.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["first", "second", "mine"]);
    let related: Vec<String> = ctx.related_posts.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(related, [older.id.to_string()]);
    assert_eq!(ctx.my_vote, Some(-1));
    assert_eq!(ctx.my_comment_count, Some(2));
    assert_eq!(ctx.raw["comment_count"], 3);

    let mine = alice.get_post_context(&post.id.to_string()).await.unwrap();
    assert_eq!(mine.my_vote, None);
    assert_eq!(mine.my_comment_count, Some(1));

    let err = bob.get_post_context(MISSING).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn votes_move_scores_and_karma_and_repeat_votes_conflict() {
    let (sb, alice, bob) = setup().await;
    let post = alice.create_post("Vote on me", "please").await.unwrap();

    let up = bob.vote_post(&post.id.to_string(), 1).await.unwrap();
    assert_eq!(up.new_score, 1);
    assert!(up.karma_conferred);
    assert_eq!(up.karma_reason, "conferred");
    assert_eq!(alice.get_me().await.unwrap().karma, 1);

    let again = bob.vote_post(&post.id.to_string(), 1).await.unwrap_err();
    assert!(
        matches!(again, Error::Conflict(ref e) if e.code.as_deref() == Some("ALREADY_VOTED")),
        "{again:?}"
    );

    let down = bob.vote_post(&post.id.to_string(), -1).await.unwrap();
    assert_eq!(down.new_score, -1, "the opposite vote replaces the first");
    assert_eq!(
        alice.get_post(&post.id.to_string()).await.unwrap().score,
        -1
    );
    assert_eq!(alice.get_me().await.unwrap().karma, -1);

    let own = alice.vote_post(&post.id.to_string(), 1).await.unwrap_err();
    assert_eq!(
        own.code(),
        Some("VOTE_SELF_VOTE"),
        "nobody votes on their own post"
    );

    let comment = alice
        .create_comment(post.id.to_string(), "thanks")
        .await
        .unwrap();
    let c = bob.vote_comment(&comment.id.to_string(), 1).await.unwrap();
    assert_eq!(c.new_score, 1);
    let c = bob.vote_comment(&comment.id.to_string(), -1).await.unwrap();
    assert_eq!(c.new_score, -1);
    assert!(matches!(
        bob.vote_comment(&comment.id.to_string(), -1).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(
        alice
            .get_comments(&post.id.to_string(), 1)
            .await
            .unwrap()
            .items[0]
            .score,
        -1
    );

    let err = bob.vote_post(MISSING, 1).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = bob.vote_comment(MISSING, 1).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let before = sb.request_count();
    for value in [2, 0, -2] {
        assert!(matches!(
            bob.vote_post(&post.id.to_string(), value).await,
            Err(Error::InvalidArgument { name: "value", .. })
        ));
        assert!(matches!(
            bob.vote_comment(&comment.id.to_string(), value).await,
            Err(Error::InvalidArgument { name: "value", .. })
        ));
    }
    assert_eq!(sb.request_count(), before, "no request for a bad vote");
}

#[tokio::test]
async fn reactions_toggle_and_report_totals() {
    let (sb, alice, bob) = setup().await;
    let post = alice.create_post("React", "here").await.unwrap();

    let first = alice
        .react_post(&post.id.to_string(), "fire")
        .await
        .unwrap();
    let fire = first.reactions.first().unwrap();
    assert_eq!(first.reactions.iter().len(), 1);
    assert_eq!(
        ReactionEmoji::from(fire.emoji.as_str()),
        ReactionEmoji::Fire
    );
    assert_eq!(fire.emoji_char, "🔥");
    assert_eq!(fire.count, 1);
    assert!(fire.user_reacted);

    let both = bob
        .react_post(&post.id.to_string(), ReactionEmoji::Fire)
        .await
        .unwrap();
    assert_eq!(
        reaction(&both, ReactionEmoji::Fire).map_or(0, |r| r.count),
        2
    );
    assert!(reaction(&both, "fire").is_some_and(|r| r.user_reacted));
    let both = bob
        .react_post(&post.id.to_string(), ReactionEmoji::Rocket)
        .await
        .unwrap();
    let keys: Vec<ReactionEmoji> = both
        .reactions
        .iter()
        .map(|r| ReactionEmoji::from(r.emoji.as_str()))
        .collect();
    assert_eq!(keys, [ReactionEmoji::Fire, ReactionEmoji::Rocket]);

    let off = alice
        .react_post(&post.id.to_string(), "fire")
        .await
        .unwrap();
    assert_eq!(
        reaction(&off, "fire").map_or(0, |r| r.count),
        1,
        "reacting again takes it back"
    );
    assert!(!reaction(&off, ReactionEmoji::Fire).is_some_and(|r| r.user_reacted));
    assert_eq!(
        reaction(&off, ReactionEmoji::Heart).map_or(0, |r| r.count),
        0
    );

    let comment = bob
        .create_comment(post.id.to_string(), "nice")
        .await
        .unwrap();
    let on_comment = alice
        .react_comment(&comment.id.to_string(), ReactionEmoji::Clap)
        .await
        .unwrap();
    assert_eq!(
        reaction(&on_comment, ReactionEmoji::Clap).map_or(0, |r| r.count),
        1
    );
    assert!(reaction(&on_comment, ReactionEmoji::Clap).is_some_and(|r| r.user_reacted));
    assert_eq!(on_comment.raw()["reactions"][0]["emoji"], "clap");
    let removed = alice
        .react_comment(&comment.id.to_string(), "clap")
        .await
        .unwrap();
    assert_eq!(removed.reactions.iter().len(), 0);

    let err = alice
        .react_post(&post.id.to_string(), "banana")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(ref e) if e.code.as_deref() == Some("INVALID_EMOJI")),
        "{err:?}"
    );
    let err = alice.react_comment(MISSING, "fire").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let before = sb.request_count();
    assert!(matches!(
        alice.react_post("x", "fire").await,
        Err(Error::InvalidArgument {
            name: "post_id",
            ..
        })
    ));
    assert!(matches!(
        alice.react_post(&post.id.to_string(), "x".repeat(31)).await,
        Err(Error::InvalidArgument { name: "emoji", .. })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn polls_tally_votes_and_replace_earlier_choices() {
    let (sb, alice, bob) = setup().await;
    let carol = client(&sb, &sb.colony().register("carol"));
    let meta = object(json!({
        "poll_options": [{"id": "yes", "text": "Yes"}, {"id": "no", "text": "No"}],
        "multiple_choice": false,
    }));
    let poll = alice
        .create_post("Ship it?", "vote")
        .post_type(PostType::Poll)
        .metadata(meta)
        .await
        .unwrap();

    let fresh = bob.get_poll(&poll.id.to_string()).await.unwrap();
    assert_eq!(fresh.total_votes, 0);
    assert!(!fresh.user_voted);
    assert!(!fresh.is_closed);
    assert!(!fresh.multiple_choice);
    let options: Vec<(&str, &str)> = fresh
        .options
        .iter()
        .map(|o| (o.id.as_str(), o.text.as_str()))
        .collect();
    assert_eq!(options, [("yes", "Yes"), ("no", "No")]);

    let after_bob = bob.vote_poll(&poll.id.to_string(), ["yes"]).await.unwrap();
    assert_eq!(after_bob.total_votes, 1);
    assert!(after_bob.user_voted);
    assert_eq!(after_bob.user_option_ids, ["yes"]);
    carol
        .vote_poll(&poll.id.to_string(), vec!["no".to_owned()])
        .await
        .unwrap();
    alice.vote_poll(&poll.id.to_string(), ["no"]).await.unwrap();

    let tally = bob.get_poll(&poll.id.to_string()).await.unwrap();
    let counts: Vec<(i64, f64)> = tally
        .options
        .iter()
        .map(|o| (o.vote_count, o.percentage))
        .collect();
    assert_eq!(counts, [(1, 33.3), (2, 66.7)]);
    assert_eq!(tally.user_option_ids, ["yes"]);

    let changed = bob.vote_poll(&poll.id.to_string(), ["no"]).await.unwrap();
    assert_eq!(changed.total_votes, 3, "the earlier choice is replaced");
    let counts: Vec<i64> = changed.options.iter().map(|o| o.vote_count).collect();
    assert_eq!(counts, [0, 3]);

    let err = bob
        .vote_poll(&poll.id.to_string(), ["maybe"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(ref e) if e.code.as_deref() == Some("INVALID_OPTION")),
        "{err:?}"
    );
    let err = bob
        .vote_poll(&poll.id.to_string(), ["yes", "no"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(_)),
        "single choice: {err:?}"
    );
    let plain = alice.create_post("Not a poll", "x").await.unwrap();
    let err = bob.get_poll(&plain.id.to_string()).await.unwrap_err();
    assert!(
        matches!(err, Error::Validation(ref e) if e.code.as_deref() == Some("NOT_A_POLL")),
        "{err:?}"
    );
    let err = bob.get_poll(MISSING).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let multi = alice
        .create_post("Pick languages", "any")
        .post_type(PostType::Poll)
        .metadata(object(json!({
            "poll_options": [{"id": "rust", "text": "Rust"}, {"id": "go", "text": "Go"}],
            "multiple_choice": true,
        })))
        .await
        .unwrap();
    let both = bob
        .vote_poll(&multi.id.to_string(), ["rust", "go"])
        .await
        .unwrap();
    assert!(both.multiple_choice);
    assert_eq!(both.user_option_ids, ["rust", "go"]);

    let before = sb.request_count();
    assert!(matches!(
        bob.vote_poll(&poll.id.to_string(), Vec::<String>::new())
            .await,
        Err(Error::InvalidArgument {
            name: "option_ids",
            ..
        })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn search_filters_sorts_and_pages_posts_and_lists_users() {
    let (sb, alice, bob) = setup().await;
    let smith = client(&sb, &sb.colony().register("toolsmith"));
    let a = alice
        .create_post("Tool use in agents", "a study")
        .colony("findings")
        .post_type(PostType::Finding)
        .await
        .unwrap();
    let b = bob
        .create_post("Weekly notes", "mostly about tool calls")
        .await
        .unwrap();
    let c = smith
        .create_post("Which tool?", "asking")
        .post_type(PostType::Question)
        .await
        .unwrap();
    alice
        .create_post("Unrelated", "nothing here")
        .await
        .unwrap();
    bob.vote_post(&c.id.to_string(), 1).await.unwrap();
    alice.create_comment(b.id.to_string(), "+1").await.unwrap();

    let all = bob.search("tool").await.unwrap();
    assert_eq!(all.total, 3);
    assert!(!all.has_more);
    let ids: Vec<String> = all.posts.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(
        ids,
        [c.id.to_string(), a.id.to_string(), b.id.to_string()],
        "title matches first, newest first"
    );
    let users: Vec<&str> = all.users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(users, ["toolsmith"]);

    let page = bob
        .search("tool")
        .sort(SearchSort::Newest)
        .limit(1)
        .offset(1)
        .await
        .unwrap();
    assert_eq!(page.posts.len(), 1);
    assert_eq!(page.posts[0].id.to_string(), b.id.to_string());
    assert!(page.has_more);
    assert_eq!(page.total, 3);

    let newest_ids: Vec<String> = bob
        .search("tool")
        .sort(SearchSort::Newest)
        .await
        .unwrap()
        .posts
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    let mut oldest_ids: Vec<String> = bob
        .search("tool")
        .sort(SearchSort::Oldest)
        .await
        .unwrap()
        .posts
        .iter()
        .map(|p| p.id.to_string())
        .collect();
    oldest_ids.reverse();
    assert_eq!(
        oldest_ids, newest_ids,
        "oldest first is newest first reversed"
    );

    let top = bob.search("tool").sort(SearchSort::Top).await.unwrap();
    assert_eq!(top.posts[0].id.to_string(), c.id.to_string());
    let discussed = bob
        .search("tool")
        .sort(SearchSort::Discussed)
        .await
        .unwrap();
    assert_eq!(discussed.posts[0].id.to_string(), b.id.to_string());
    let relevance = bob
        .search("tool")
        .sort(SearchSort::Relevance)
        .await
        .unwrap();
    assert_eq!(relevance.posts[2].id.to_string(), b.id.to_string());

    let findings = bob.search("tool").colony("findings").await.unwrap();
    assert_eq!(findings.total, 1);
    assert_eq!(findings.posts[0].id.to_string(), a.id.to_string());
    let by_id = bob
        .search("tool")
        .colony(a.colony_id.expect("in a colony").to_string())
        .await
        .unwrap();
    assert_eq!(by_id.total, 1);
    let questions = bob
        .search("tool")
        .post_type(PostType::Question)
        .await
        .unwrap();
    assert_eq!(questions.posts[0].id.to_string(), c.id.to_string());
    assert_eq!(questions.total, 1);
    let agents = bob
        .search("tool")
        .author_type(UserType::Agent)
        .await
        .unwrap();
    assert_eq!(agents.total, 3);
    let humans = bob
        .search("tool")
        .author_type(UserType::Human)
        .await
        .unwrap();
    assert_eq!(humans.total, 0);

    let before = sb.request_count();
    assert!(matches!(
        bob.search("x").await,
        Err(Error::InvalidArgument { name: "query", .. })
    ));
    assert!(matches!(
        bob.search("tool").limit(101).await,
        Err(Error::InvalidArgument { name: "limit", .. })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn profiles_are_read_updated_and_fetched_by_id_or_name() {
    let (sb, alice, bob) = setup().await;
    let me = alice.get_me().await.unwrap();
    assert_eq!(me.username, "alice");
    assert_eq!(Some(me.id.to_string()), sb.colony().user_id("alice"));

    let mut caps = Map::new();
    caps.insert("skills".into(), json!(["research", "rust"]));
    let updated = alice
        .update_profile()
        .display_name("Alice the Analyst")
        .bio("I measure things")
        .capabilities(caps.clone())
        .current_model("claude-test")
        .harness("agentwire-harness")
        .await
        .unwrap();
    assert_eq!(updated.display_name, "Alice the Analyst");
    assert_eq!(updated.bio.as_deref(), Some("I measure things"));
    assert_eq!(updated.capabilities.as_ref(), Some(&caps));
    assert_eq!(updated.raw()["current_model"], "claude-test");
    assert_eq!(updated.raw()["harness"], "agentwire-harness");

    let by_name = bob.get_user("alice").await.unwrap();
    assert_eq!(by_name.display_name, "Alice the Analyst");
    let by_id = bob.get_user(&me.id.to_string()).await.unwrap();
    assert_eq!(by_id, by_name);
    let err = bob.get_user("nobody-here").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let users = bob
        .get_users_by_ids([me.id.to_string(), MISSING.to_owned(), "bob".to_owned()])
        .await
        .unwrap();
    let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice", "bob"], "in order, the missing one skipped");

    let before = sb.request_count();
    assert!(matches!(
        bob.get_user(" ").await,
        Err(Error::InvalidArgument {
            name: "user_id",
            ..
        })
    ));
    assert!(matches!(
        alice.update_profile().display_name("").await,
        Err(Error::InvalidArgument {
            name: "display_name",
            ..
        })
    ));
    assert!(matches!(
        bob.get_users_by_ids(["x".repeat(65)]).await,
        Err(Error::InvalidArgument {
            name: "user_id",
            ..
        })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn the_directory_filters_sorts_and_pages_accounts() {
    let (sb, alice, bob) = setup().await;
    let carol = client(&sb, &sb.colony().register("carol"));
    alice
        .update_profile()
        .bio("Researcher of tool use")
        .capabilities(object(json!({"skills": ["Research", "rust"]})))
        .current_model("claude-opus")
        .harness("custom-loop")
        .await
        .unwrap();
    let post = bob.create_post("Hello", "world").await.unwrap();
    carol.vote_post(&post.id.to_string(), 1).await.unwrap();
    carol.create_post("One", "1").await.unwrap();
    carol.create_post("Two", "2").await.unwrap();

    let all = alice.directory().await.unwrap();
    assert_eq!(all.total, Some(3));
    assert_eq!(all.items[0].username, "bob", "highest karma first");
    assert_eq!(all.items[0].karma, 1);
    let carol_entry = all.items.iter().find(|u| u.username == "carol").unwrap();
    assert_eq!(carol_entry.post_count, 2);
    assert_eq!(carol_entry.user_type, UserType::Agent);
    assert_eq!(
        Some(carol_entry.id.to_string()),
        sb.colony().user_id("carol")
    );

    let found = bob.directory().query("tool use").await.unwrap();
    assert_eq!(found.items.len(), 1);
    let a = &found.items[0];
    assert_eq!(a.username, "alice");
    assert_eq!(a.display_name, "alice");
    assert_eq!(a.bio.as_deref(), Some("Researcher of tool use"));
    assert_eq!(a.current_model.as_deref(), Some("claude-opus"));
    assert_eq!(a.capabilities.as_ref().unwrap()["skills"][1], "rust");
    assert!(a.created_at <= carol_entry.created_at);

    let research = bob.directory().specialty("research").await.unwrap();
    assert_eq!(research.items.len(), 1);
    let model = bob.directory().model("OPUS").await.unwrap();
    assert_eq!(model.items[0].username, "alice");
    let harness = bob.directory().harness("loop").await.unwrap();
    assert_eq!(harness.items[0].username, "alice");
    let none = bob.directory().harness("other").await.unwrap();
    assert!(none.items.is_empty());
    let agents = bob.directory().user_type(UserType::Agent).await.unwrap();
    assert_eq!(agents.total, Some(3));
    let humans = bob.directory().user_type(UserType::Human).await.unwrap();
    assert_eq!(humans.total, Some(0));
    let recent = bob.directory().active_within_days(30).await.unwrap();
    assert_eq!(recent.total, Some(3));

    let newest = bob.directory().sort(DirectorySort::Newest).await.unwrap();
    assert_eq!(newest.items[0].username, "carol");
    // The sandbox counts an account as active since it was created.
    let active = bob.directory().sort(DirectorySort::Active).await.unwrap();
    assert_eq!(active.items[0].username, "carol");
    let by_karma = bob.directory().sort(DirectorySort::Karma).await.unwrap();
    assert_eq!(by_karma.items[0].username, "bob");
    let page = bob
        .directory()
        .sort(DirectorySort::Newest)
        .limit(1)
        .offset(1)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].username, "bob");
    assert!(page.has_more);

    let before = sb.request_count();
    assert!(matches!(
        bob.directory().active_within_days(0).await,
        Err(Error::InvalidArgument {
            name: "active_within_days",
            ..
        })
    ));
    assert!(matches!(
        bob.directory().limit(0).await,
        Err(Error::InvalidArgument { name: "limit", .. })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn follows_are_receipted_once_and_undone() {
    let (sb, alice, bob) = setup().await;
    let receipt = alice.follow("bob").await.unwrap();
    assert_eq!(receipt.status, "following");
    assert_eq!(
        Some(receipt.follower_id.to_string()),
        sb.colony().user_id("alice")
    );
    assert_eq!(
        Some(receipt.followed_id.to_string()),
        sb.colony().user_id("bob")
    );
    assert_eq!(receipt.follow_id.to_string().len(), 36);
    assert!(receipt.created_at >= alice.get_me().await.unwrap().created_at);

    let err = alice.follow("bob").await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ref e) if e.code.as_deref() == Some("CONFLICT")),
        "{err:?}"
    );
    let bob_id = bob.get_me().await.unwrap().id.to_string();
    alice.unfollow(&bob_id).await.unwrap();
    let err = alice.unfollow("bob").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    alice.follow(&bob_id).await.unwrap();

    let err = alice.follow("alice").await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    let err = alice.follow("ghost").await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn colonies_are_listed_joined_by_slug_or_id_and_left() {
    let (sb, alice, bob) = setup().await;
    let all = alice.get_colonies().await.unwrap();
    let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
    // The service's built-in colonies, as colony-sdk 1.38 lists them.
    assert_eq!(
        names,
        [
            "general",
            "questions",
            "findings",
            "human-requests",
            "meta",
            "art",
            "crypto",
            "agent-economy",
            "introductions",
            "test-posts"
        ]
    );
    assert_eq!(
        all[2].id.to_string(),
        "bbe6be09-da95-4983-b23d-1dd980479a7e",
        "findings has the service's id"
    );
    let general = &all[0];
    assert!(general.is_default);
    assert_eq!(general.display_name, "General");
    assert_eq!(general.description.as_deref(), Some("The General colony"));
    assert_eq!(general.member_count, 0);
    assert!(general.created_at.to_rfc3339().starts_with("2026-01-01"));

    alice
        .create_post("In findings", "x")
        .colony("findings")
        .await
        .unwrap();
    let findings = alice.get_colonies().name("findings").await.unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].post_count, 1);

    let page = alice.get_colonies().limit(2).offset(1).await.unwrap();
    let names: Vec<&str> = page.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["questions", "findings"]);

    alice.join_colony("findings").await.unwrap();
    bob.join_colony(&findings[0].id.to_string()).await.unwrap();
    let busiest = alice.get_colonies().limit(1).await.unwrap();
    assert_eq!(busiest[0].name, "findings");
    assert_eq!(busiest[0].member_count, 2);
    let mine = alice.get_colonies().member_only(true).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].name, "findings");
    let others = alice.get_colonies().member_only(false).await.unwrap();
    assert_eq!(others.len(), 9);

    let err = alice.join_colony("findings").await.unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ref e) if e.code.as_deref() == Some("COLONY_ALREADY_MEMBER")),
        "{err:?}"
    );
    alice
        .leave_colony(&findings[0].id.to_string())
        .await
        .unwrap();
    bob.leave_colony("findings").await.unwrap();
    let err = bob.leave_colony("findings").await.unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{err:?}");
    assert_eq!(
        alice.get_colonies().name("findings").await.unwrap()[0].member_count,
        0
    );

    let err = alice.join_colony("no-such-colony").await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound(ref e) if e.message.contains("no-such-colony")),
        "{err:?}"
    );
    let err = alice.join_colony(MISSING).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    let before = sb.request_count();
    assert!(matches!(
        alice.join_colony("").await,
        Err(Error::InvalidArgument { name: "colony", .. })
    ));
    assert!(matches!(
        alice.get_colonies().limit(201).await,
        Err(Error::InvalidArgument { name: "limit", .. })
    ));
    assert_eq!(sb.request_count(), before);
}

#[tokio::test]
async fn other_agents_actions_notify_and_notifications_are_marked_read() {
    let (sb, alice, bob) = setup().await;
    let carol = client(&sb, &sb.colony().register("carol"));
    let post = alice.create_post("Notify me", "please").await.unwrap();
    let mine = alice
        .create_comment(post.id.to_string(), "my own")
        .await
        .unwrap();

    let on_post = bob
        .create_comment(post.id.to_string(), "hello alice")
        .await
        .unwrap();
    let reply = carol
        .create_comment(post.id.to_string(), "replying")
        .parent_id(mine.id.to_string())
        .await
        .unwrap();
    bob.vote_post(&post.id.to_string(), 1).await.unwrap();
    bob.follow("alice").await.unwrap();
    let other = bob.create_post("Bob's post", "x").await.unwrap();
    carol
        .create_comment(other.id.to_string(), "cc @alice and @nobody")
        .await
        .unwrap();
    assert!(
        bob.get_notifications().await.unwrap().len() == 1,
        "bob hears of carol's comment on his post"
    );

    let all = alice.get_notifications().await.unwrap();
    let kinds: Vec<&str> = all.iter().map(|n| n.notification_type.as_str()).collect();
    assert_eq!(
        kinds,
        ["mention", "follow", "vote", "reply", "comment"],
        "newest first, nothing for alice's own comment"
    );
    let comment = &all[4];
    assert_eq!(comment.actor.username, "bob");
    assert_eq!(
        Some(comment.actor.id.to_string()),
        sb.colony().user_id("bob")
    );
    assert_eq!(comment.post_id, Some(post.id));
    assert_eq!(
        comment.comment_id.map(|v| v.to_string()),
        Some(on_post.id.to_string())
    );
    assert!(comment.message.contains("Notify me"), "{}", comment.message);
    assert!(!comment.is_read);
    assert!(comment.created_at <= all[0].created_at);
    assert_eq!(
        all[3].comment_id.map(|v| v.to_string()),
        Some(reply.id.to_string())
    );
    assert_eq!(all[3].actor.username, "carol");
    assert_eq!(all[1].post_id, None);
    assert_eq!(all[0].post_id, Some(other.id));

    let two = alice.get_notifications().limit(2).await.unwrap();
    assert_eq!(two.len(), 2);

    alice
        .mark_notification_read(&all[4].id.to_string())
        .await
        .unwrap();
    let unread = alice.get_notifications().unread_only(true).await.unwrap();
    assert_eq!(unread.len(), 4);
    assert!(unread.iter().all(|n| !n.is_read));
    let everything = alice.get_notifications().unread_only(false).await.unwrap();
    assert_eq!(everything.len(), 5);
    assert!(everything[4].is_read);

    // Someone else's id, or an unknown one, changes nothing and is not an error.
    bob.mark_notification_read(&all[3].id.to_string())
        .await
        .unwrap();
    alice.mark_notification_read(MISSING).await.unwrap();
    assert_eq!(
        alice
            .get_notifications()
            .unread_only(true)
            .await
            .unwrap()
            .len(),
        4
    );

    alice.mark_notifications_read().await.unwrap();
    assert!(alice
        .get_notifications()
        .unread_only(true)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        bob.get_notifications()
            .unread_only(true)
            .await
            .unwrap()
            .len(),
        1
    );

    let before = sb.request_count();
    assert!(matches!(
        alice.mark_notification_read("nope").await,
        Err(Error::InvalidArgument {
            name: "notification_id",
            ..
        })
    ));
    assert!(matches!(
        alice.get_notifications().limit(0).await,
        Err(Error::InvalidArgument { name: "limit", .. })
    ));
    assert_eq!(sb.request_count(), before);
}
