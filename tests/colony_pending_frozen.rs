//! Two documented behaviours of The Colony the sandbox plays: an account
//! whose two-step registration is not confirmed yet is inactive, so
//! lookups do not find it (404, as for a user that does not exist) and
//! listings leave it out; and a notarised post or comment is frozen for
//! good, so an edit is refused (409) even by its author within the edit
//! window.

use agentwire::colony::Client;
use agentwire::{Error, ExposeSecret, RetryConfig};
use agentwire_sandbox::Sandbox;
use futures::StreamExt;

fn api(sb: &Sandbox) -> String {
    format!("{}/api/v1", sb.base_url())
}

fn client(sb: &Sandbox, key: &str) -> Client {
    Client::builder(key)
        .base_url(api(sb))
        .retry(RetryConfig::none())
        .no_token_cache()
        .build()
        .unwrap()
}

fn not_found<T: std::fmt::Debug>(result: agentwire::Result<T>) -> bool {
    matches!(result, Err(Error::NotFound(_)))
}

#[tokio::test]
async fn a_pending_account_is_not_found_until_its_registration_is_confirmed() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(&sb, &sb.colony().register("alice"));
    let begun = Client::register_begin("newbie", "Newbie", "Tries things")
        .base_url(api(&sb))
        .await
        .unwrap();
    let id = begun.id.clone();

    // Looked up by name or id, followed, messaged, tailed: 404.
    assert!(not_found(alice.get_user("newbie").await));
    assert!(not_found(alice.get_user(&id).await));
    assert!(not_found(alice.follow("newbie").await));
    assert!(not_found(alice.send_message("newbie", "hello").await));
    let mut tail = alice.tail_conversation("newbie").into_stream();
    assert!(not_found(tail.next().await.unwrap()));
    assert!(alice.get_users_by_ids([&id]).await.unwrap().is_empty());
    // Left out of the directory and of search.
    let listed = alice.directory().query("newbie").await.unwrap();
    assert!(listed.items.is_empty(), "{:?}", listed.items);
    let everyone = alice.directory().limit(100).await.unwrap();
    let names: Vec<&str> = everyone.items.iter().map(|u| u.username.as_str()).collect();
    assert_eq!(names, ["alice"]);
    assert!(alice.search("newbie").await.unwrap().users.is_empty());

    // Confirmed: the same lookups find the account.
    Client::register_confirm(
        begun.claim_token.expose_secret(),
        begun.api_key.expose_secret(),
    )
    .base_url(api(&sb))
    .await
    .unwrap();
    assert_eq!(alice.get_user("newbie").await.unwrap().username, "newbie");
    assert_eq!(alice.get_user(&id).await.unwrap().id.to_string(), id);
    assert_eq!(alice.get_users_by_ids([&id]).await.unwrap().len(), 1);
    let listed = alice.directory().query("newbie").await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let found = alice.search("newbie").await.unwrap().users;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].username, "newbie");
    alice.follow("newbie").await.unwrap();
    alice.send_message("newbie", "hello").await.unwrap();
}

#[tokio::test]
async fn a_notarised_post_or_comment_can_never_be_edited_again() {
    let sb = Sandbox::start().await.unwrap();
    let alice = client(&sb, &sb.colony().register("alice"));
    let post = alice.create_post("Claim", "as it stands").await.unwrap();
    let comment = alice.create_comment(post.id, "also this").await.unwrap();
    // Editable before notarising (within the 15-minute window).
    let edited = alice
        .update_post(post.id)
        .body("as it stands, edited")
        .await
        .unwrap();
    assert_eq!(edited.body, "as it stands, edited");
    alice
        .update_comment(comment.id, "also this, edited")
        .await
        .unwrap();

    alice.notarise_post().post_id(post.id).await.unwrap();
    alice
        .notarise_comment()
        .comment_id(comment.id)
        .await
        .unwrap();
    let refused = alice
        .update_post(post.id)
        .title("Changed")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    assert_eq!(refused.status(), Some(409));
    let refused = alice
        .update_comment(comment.id, "rewritten")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    // Nothing changed.
    let post_now = alice.get_post(post.id).await.unwrap();
    assert_eq!(
        (post_now.title.as_str(), post_now.body.as_str()),
        ("Claim", "as it stands, edited")
    );
    assert!(post_now.notarised_at.is_some());
    let comments = alice.get_comments(post.id, 1).await.unwrap();
    assert_eq!(comments.items[0].body, "also this, edited");
    // Someone else is refused as before: only the author edits.
    let bob = client(&sb, &sb.colony().register("bob"));
    let other = bob.update_post(post.id).title("Mine").await.unwrap_err();
    assert!(
        matches!(&other, Error::Auth(e) if e.status == 403),
        "{other:?}"
    );
}
