//! The Colony's `X-Colony-Deprecated-*` headers end to end: the sandbox
//! announces each deprecated parameter, value and body field a request used,
//! the client logs each (route, name) once and keeps it for
//! `deprecations()`, malformed headers are skipped, and the service's own
//! list is public.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentwire::colony::{types, Client, Deprecation, DeprecationKind};
use agentwire::{Error, RetryConfig};
use agentwire_sandbox::Sandbox;
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::get;
use axum::Router;
use serde_json::json;

fn client(base: &str, key: &str) -> Client {
    Client::builder(key)
        .base_url(format!("{base}/api/v1"))
        .retry(RetryConfig::default().with_base_delay(Duration::from_millis(2)))
        .no_token_cache()
        .build()
        .unwrap()
}

/// Everything logged while the returned guard lives, on this thread (the
/// tests run on a current-thread runtime, so the client's hooks and the
/// sandbox run here too).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn start() -> (Capture, tracing::subscriber::DefaultGuard) {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "agentwire::colony::deprecations=warn",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

fn find<'a>(seen: &'a [Deprecation], route: &str, old: &str) -> &'a Deprecation {
    seen.iter()
        .find(|d| d.route == route && d.old == old)
        .unwrap_or_else(|| panic!("{route} {old} in {seen:#?}"))
}

#[tokio::test]
async fn each_header_kind_is_read_logged_once_and_kept() {
    let (log, _guard) = Capture::start();
    let sb = Sandbox::start().await.unwrap();
    let c = client(sb.base_url(), &sb.colony().register("alice"));
    assert!(c.deprecations().is_empty());

    // Nothing deprecated: nothing reported.
    (*c).get_posts().sort("newest").q("tool").await.unwrap();
    assert!(c.deprecations().is_empty());
    assert_eq!(log.text(), "");

    // A deprecated value, three times: one warning, one entry.
    for _ in 0..3 {
        (*c).get_posts().sort("new").await.unwrap();
    }
    let seen = c.deprecations();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    let value = &seen[0];
    assert_eq!(value.kind, DeprecationKind::Value);
    assert_eq!(value.route, "GET /posts");
    assert_eq!(value.operation, "get_posts");
    assert_eq!(value.parameter.as_deref(), Some("sort"));
    assert_eq!((value.old.as_str(), value.new.as_str()), ("new", "newest"));
    assert_eq!(
        value.to_string(),
        "GET /posts: sort=new is deprecated; use sort=newest"
    );
    assert_eq!(log.count("sort=new is deprecated"), 1, "{}", log.text());
    assert!(log.text().contains("WARN"), "{}", log.text());

    // Two deprecated parameter names in one request, then one of them again.
    (*c).get_posts()
        .search("tool")
        .colony_name("general")
        .await
        .unwrap();
    (*c).get_posts().search("again").await.unwrap();
    let seen = c.deprecations();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let search = find(&seen, "GET /posts", "search");
    assert_eq!(search.kind, DeprecationKind::Param);
    assert_eq!(
        (search.new.as_str(), search.parameter.as_ref()),
        ("q", None)
    );
    assert_eq!(find(&seen, "GET /posts", "colony_name").new, "colony");
    assert_eq!(log.count("query parameter `search` is deprecated"), 1);

    // A deprecated request-body field.
    let drop = types::DeadDropCreate {
        content: "a message in a bottle".try_into().unwrap(),
        duration: None,
        expires_in: Some("24h".into()),
        tags: None,
        extra: Default::default(),
    };
    (*c).create_drop().body(drop).await.unwrap();
    let seen = c.deprecations();
    let field = find(&seen, "POST /dead-drops", "expires_in");
    assert_eq!(field.kind, DeprecationKind::BodyField);
    assert_eq!(field.new, "duration");
    assert_eq!(log.count("body field `expires_in` is deprecated"), 1);

    // UUID segments are one route: two colonies' queues count once.
    for colony in [
        "2b1c0c1e-0000-4000-8000-000000000001",
        "2B1C0C1E-0000-4000-8000-000000000002",
    ] {
        (*c).get_mod_queue()
            .colony_id(colony)
            .page_size(10)
            .queue_status("open")
            .await
            .unwrap();
    }
    let seen = c.deprecations();
    assert_eq!(
        find(&seen, "GET /colonies/{id}/queue", "page_size").new,
        "limit"
    );
    assert_eq!(
        find(&seen, "GET /colonies/{id}/queue", "queue_status").new,
        "status"
    );
    assert_eq!(seen.len(), 6, "{seen:#?}");
    assert_eq!(log.count("The Colony reports a deprecated name"), 6);

    // Another client has its own record, and warns again.
    let other = client(sb.base_url(), &sb.colony().register("bob"));
    (*other).get_posts().sort("new").await.unwrap();
    assert_eq!(other.deprecations().len(), 1);
    assert_eq!(log.count("sort=new is deprecated"), 2);
    assert_eq!(c.deprecations().len(), 6);
}

#[tokio::test]
async fn error_answers_are_read_too() {
    let (log, _guard) = Capture::start();
    let sb = Sandbox::start().await.unwrap();
    let c = client(sb.base_url(), &sb.colony().register("alice"));
    // An unknown sort is refused; the deprecated name it also used is named
    // in the refusal's headers.
    let err = (*c)
        .get_posts()
        .search("tool")
        .sort("sideways")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Validation(_) | Error::Api(_)),
        "{err:?}"
    );
    let seen = c.deprecations();
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(find(&seen, "GET /posts", "search").new, "q");
    assert_eq!(log.count("query parameter `search` is deprecated"), 1);
}

/// The sandbox announces the spam mark's `reason_code` as the service does
/// (the facade itself sends `reason`).
#[tokio::test]
async fn the_sandbox_names_the_spam_marks_old_body_field() {
    let sb = Sandbox::start().await.unwrap();
    let alice_key = sb.colony().register("alice");
    let alice = client(sb.base_url(), &alice_key);
    sb.colony().register("bob");
    alice.send_message("bob", "hello").await.unwrap();
    alice.mark_conversation_spam("bob").await.unwrap();
    assert!(alice.deprecations().is_empty());

    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/api/v1/auth/token", sb.base_url()))
        .json(&json!({ "api_key": alice_key }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let answer = http
        .post(format!(
            "{}/api/v1/messages/conversations/bob/spam",
            sb.base_url()
        ))
        .bearer_auth(token)
        .json(&json!({ "reason_code": "spam" }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(
        answer.headers()["x-colony-deprecated-body-fields"],
        "reason_code=reason"
    );
}

/// A server that answers the public deprecation list with the given extra
/// headers.
async fn server_with(headers: HeaderMap) -> String {
    let router = Router::new().route(
        "/api/v1/deprecations",
        get(move || {
            let headers = headers.clone();
            async move {
                let body = json!({
                    "items": [], "count": 0, "policy": "kept until removed",
                });
                (headers, axum::Json(body))
            }
        }),
    );
    agentwire_tests::serve(router).await
}

#[tokio::test]
async fn malformed_headers_are_skipped_never_an_error() {
    let (log, _guard) = Capture::start();
    let mut headers = HeaderMap::new();
    for value in ["garbage, =q, search=, , search=q", "  ", "a=b=c"] {
        headers.append(
            "x-colony-deprecated-params",
            HeaderValue::from_static(value),
        );
    }
    headers.append(
        "x-colony-deprecated-params",
        HeaderValue::from_bytes(b"caf\xe9=coffee").unwrap(),
    );
    for value in [
        "new=newest",
        "sort:=newest",
        ":new=newest",
        "sort:new",
        "page:2=3,",
    ] {
        headers.append(
            "x-colony-deprecated-values",
            HeaderValue::from_static(value),
        );
    }
    headers.insert(
        "x-colony-deprecated-body-fields",
        HeaderValue::from_static(",,,"),
    );
    let base = server_with(headers).await;
    let c = client(&base, "col_unused_key");
    let list = c.get_deprecations().await.unwrap();
    assert_eq!(list.count, 0);
    let mut seen = c.deprecations();
    seen.sort_by(|a, b| a.old.cmp(&b.old));
    let got: Vec<(DeprecationKind, Option<&str>, &str, &str)> = seen
        .iter()
        .map(|d| {
            (
                d.kind,
                d.parameter.as_deref(),
                d.old.as_str(),
                d.new.as_str(),
            )
        })
        .collect();
    // Only the well-formed pieces: `search=q`, `a=b=c` read as `a` → `b=c`,
    // and the value `page:2=3`.
    assert_eq!(
        got,
        [
            (DeprecationKind::Value, Some("page"), "2", "3"),
            (DeprecationKind::Param, None, "a", "b=c"),
            (DeprecationKind::Param, None, "search", "q"),
        ]
    );
    assert!(seen.iter().all(|d| d.route == "GET /deprecations"));
    assert_eq!(log.count("The Colony reports a deprecated name"), 3);
}

#[tokio::test]
async fn the_deprecation_list_is_public_and_complete() {
    let sb = Sandbox::start().await.unwrap();
    // A key the service does not know: the list needs no token, so none is
    // asked for.
    let c = client(sb.base_url(), "col_not_a_real_key");
    let list = c.get_deprecations().await.unwrap();
    assert_eq!(c.token_exchanges(), 0);
    assert_eq!(list.count as usize, list.items.len());
    assert_eq!(list.header, "X-Colony-Deprecated-Params");
    assert_eq!(list.value_header, "X-Colony-Deprecated-Values");
    assert_eq!(list.body_header, "X-Colony-Deprecated-Body-Fields");
    let has = |surface: types::DeprecationEntrySurface, place: &str, old: &str, new: &str| {
        list.items
            .iter()
            .any(|i| i.surface == surface && i.where_ == place && i.old == old && i.new == new)
    };
    use types::DeprecationEntrySurface as S;
    assert!(has(S::RestParam, "GET /api/v1/posts", "search", "q"));
    assert!(has(S::RestParam, "GET /api/v1/wiki", "search", "q"));
    assert!(has(
        S::RestParam,
        "GET /api/v1/search",
        "colony_name",
        "colony"
    ));
    assert!(has(
        S::RestParamValue,
        "GET /api/v1/posts",
        "sort=new",
        "sort=newest"
    ));
    assert!(has(
        S::RestBodyField,
        "DeadDropCreate",
        "expires_in",
        "duration"
    ));
    assert!(has(
        S::RestBodyField,
        "DmSpamMarkIn",
        "reason_code",
        "reason"
    ));
    assert!(list
        .items
        .iter()
        .any(|i| i.surface == S::RestResponseField && i.old == "unread_count"));
    // The wiki search is answered by the sandbox's contract fallback, and
    // still announced.
    let c = client(sb.base_url(), &sb.colony().register("carol"));
    let _ = (*c).get_wiki_pages().search("intro").await;
    assert!(
        c.deprecations()
            .iter()
            .any(|d| d.route == "GET /wiki" && d.old == "search"),
        "{:#?}",
        c.deprecations()
    );
}
