//! The routes behind colony-sdk 1.38's iterators and helpers that no other
//! area answers: echoes and the wiki listing (seeded from the test side),
//! the caller's follows, a user's comments, notification batches, reports,
//! the recovery email, colony and profile images, and the OAuth token
//! exchange at the site root.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{attachments, Caller, ColonyError, ColonyHandle, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// Largest colony banner the service takes.
const MAX_BANNER: usize = 5 << 20;
/// Karma a moderator needs to set a banner.
const BANNER_KARMA: i64 = 100;
/// The report reasons the service accepts, in its order.
const REPORT_REASONS: &[&str] = &[
    "spam",
    "harassment",
    "misinformation",
    "off_topic",
    "prompt_injection",
    "other",
];
/// The scopes the OAuth server knows.
const SCOPES: &[&str] = &["openid", "profile", "email"];
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What these routes hold.
#[derive(Default)]
pub(crate) struct Data {
    /// Newest last.
    echoes: Vec<types::EchoOut>,
    wiki: Vec<types::WikiPageListItem>,
    reports: Vec<(Uuid, types::ReportOut)>,
    /// (colony, user)
    moderators: HashSet<(Uuid, Uuid)>,
    /// colony → header image size
    banners: HashMap<Uuid, usize>,
    /// The relying parties the OAuth server issues tokens for.
    audiences: HashSet<String>,
    /// The latest request to `/oauth/token`, as received.
    last_oauth: Option<OauthRequest>,
}

/// A request the OAuth endpoint received, for tests to look at.
#[derive(Debug, Clone)]
pub struct OauthRequest {
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Whether it carried an `Authorization` header.
    pub had_authorization: bool,
    /// Its form fields.
    pub form: HashMap<String, String>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/echoes", get(echoes))
        .route("/api/v1/wiki", get(wiki))
        .route("/api/v1/users/me/following", get(following))
        .route("/api/v1/users/me/followers", get(followers))
        .route("/api/v1/users/{user_id}/comments", get(user_comments))
        .route(
            "/api/v1/users/by-username/{username}/comments",
            get(user_comments_by_name),
        )
        .route("/api/v1/notifications/read", post(read_batch))
        .route("/api/v1/notifications/delete", post(delete_batch))
        .route("/api/v1/reports", post(report))
        .route("/api/v1/colonies/{colony_id}/icon", post(icon))
        .route("/api/v1/colonies/{colony_id}/header", post(header))
        .route("/api/v1/users/me/avatar/upload", post(avatar))
        .route("/oauth/token", post(oauth_token))
        // Room for a banner at the service's cap, and the form around it.
        .layer(DefaultBodyLimit::max(MAX_BANNER + (64 << 10)))
}

fn unprocessable(message: impl Into<String>) -> ColonyError {
    ColonyError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        message,
    )
}

#[derive(Debug, Deserialize)]
struct Paging {
    limit: Option<usize>,
    offset: Option<usize>,
    page: Option<usize>,
}

impl Paging {
    /// (offset, limit), with the route's default and largest page.
    fn window(&self, default: usize, max: usize) -> ColonyResult<(usize, usize)> {
        let limit = self.limit.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(unprocessable(format!("limit must be between 1 and {max}")));
        }
        let from_page = match self.page {
            Some(0) => return Err(unprocessable("page starts at 1")),
            Some(p) => Some((p - 1) * limit),
            None => None,
        };
        match (self.offset, from_page) {
            (Some(o), Some(p)) if o != p => Err(ColonyError::bad_request(
                "INVALID_PAGINATION",
                "offset and page disagree",
            )),
            (Some(o), _) => Ok((o, limit)),
            (None, Some(p)) => Ok((p, limit)),
            (None, None) => Ok((0, limit)),
        }
    }
}

/// `{items, total, has_more}` of one window of `all`.
fn page<T: Clone + serde::Serialize>(all: &[T], offset: usize, limit: usize) -> Json<Value> {
    let items: Vec<&T> = all.iter().skip(offset).take(limit).collect();
    let has_more = offset.saturating_add(items.len()) < all.len();
    Json(json!({"items": items, "total": all.len(), "has_more": has_more}))
}

async fn echoes(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<Value>> {
    let (offset, limit) = paging.window(30, 100)?;
    let data = shared.colony.lock();
    let newest_first: Vec<types::EchoOut> = data.surface.echoes.iter().rev().cloned().collect();
    Ok(page(&newest_first, offset, limit))
}

#[derive(Debug, Deserialize)]
struct WikiQuery {
    category: Option<String>,
    q: Option<String>,
    search: Option<String>,
    colony: Option<String>,
    // Not a flattened `Paging`: the query decoder cannot read numbers
    // through `flatten`.
    limit: Option<usize>,
    offset: Option<usize>,
    page: Option<usize>,
}

async fn wiki(
    AxumState(shared): AxumState<Arc<Shared>>,
    Query(query): Query<WikiQuery>,
) -> ColonyResult<Json<Value>> {
    let paging = Paging {
        limit: query.limit,
        offset: query.offset,
        page: query.page,
    };
    let (offset, limit) = paging.window(50, 200)?;
    let text = match (&query.q, &query.search) {
        (Some(q), Some(s)) if q != s => {
            return Err(ColonyError::bad_request(
                "CONFLICTING_PARAMETERS",
                "q and search differ",
            ))
        }
        (q, s) => q.clone().or_else(|| s.clone()),
    };
    if let Some(t) = &text {
        if !(2..=200).contains(&t.chars().count()) {
            return Err(unprocessable("q must be 2 to 200 characters"));
        }
    }
    let data = shared.colony.lock();
    let mut pages: Vec<types::WikiPageListItem> = data
        .surface
        .wiki
        .iter()
        .filter(|p| {
            query
                .category
                .as_ref()
                .is_none_or(|c| p.category.as_ref() == Some(c))
        })
        .filter(|p| {
            query
                .colony
                .as_ref()
                .is_none_or(|c| p.colony_name.as_ref() == Some(c))
        })
        .filter(|p| {
            text.as_ref()
                .is_none_or(|t| p.title.to_lowercase().contains(&t.to_lowercase()))
        })
        .cloned()
        .collect();
    pages.sort_by(|a, b| a.title.cmp(&b.title));
    Ok(page(&pages, offset, limit))
}

fn follow_page(
    shared: &Shared,
    caller: Uuid,
    followers: bool,
    paging: &Paging,
) -> ColonyResult<Json<Value>> {
    let (offset, limit) = paging.window(50, 100)?;
    let data = shared.colony.lock();
    let mut rows: Vec<(chrono::DateTime<Utc>, Uuid)> = data
        .users
        .follows
        .iter()
        .filter_map(|((from, to), (_, since))| match followers {
            true if *to == caller => Some((*since, *from)),
            false if *from == caller => Some((*since, *to)),
            _ => None,
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let users: Vec<types::User> = rows
        .into_iter()
        .filter_map(|(_, id)| data.accounts.get(&id).map(|a| a.user.clone()))
        .collect();
    Ok(page(&users, offset, limit))
}

async fn following(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<Value>> {
    follow_page(&shared, caller.0, false, &paging)
}

async fn followers(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<Value>> {
    follow_page(&shared, caller.0, true, &paging)
}

fn comments_of(shared: &Shared, author: Uuid, paging: &Paging) -> ColonyResult<Json<Value>> {
    let (offset, limit) = paging.window(50, 100)?;
    let data = shared.colony.lock();
    let mut mine: Vec<types::Comment> = data
        .comments
        .comments
        .values()
        .filter(|c| c.author.id == author)
        .cloned()
        .collect();
    mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    Ok(page(&mine, offset, limit))
}

async fn user_comments(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    Path(user_id): Path<String>,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<Value>> {
    let id = Uuid::parse_str(&user_id).map_err(|_| ColonyError::not_found("user"))?;
    shared.colony.lock().user(&id)?;
    comments_of(&shared, id, &paging)
}

async fn user_comments_by_name(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    Path(username): Path<String>,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<Value>> {
    let id = shared
        .colony
        .lock()
        .by_username
        .get(&username)
        .copied()
        .ok_or_else(|| ColonyError::not_found("user"))?;
    comments_of(&shared, id, &paging)
}

#[derive(Debug, Deserialize)]
struct Ids {
    ids: Vec<Uuid>,
}

fn check_batch(ids: &[Uuid]) -> ColonyResult<()> {
    if ids.is_empty() || ids.len() > 100 {
        return Err(unprocessable("ids must hold 1 to 100 notification ids"));
    }
    Ok(())
}

fn unread_answer(data: &super::Data, caller: Uuid) -> Json<Value> {
    let unread = data
        .notifications
        .items
        .iter()
        .filter(|(to, n)| *to == caller && !n.is_read)
        .count();
    Json(json!({"unread_notifications": unread, "unread_count": unread}))
}

async fn read_batch(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<Ids>,
) -> ColonyResult<Json<Value>> {
    check_batch(&body.ids)?;
    let wanted: HashSet<Uuid> = body.ids.into_iter().collect();
    let mut data = shared.colony.lock();
    for (to, n) in &mut data.notifications.items {
        // Someone else's ids are ignored, so they cannot be probed.
        if *to == caller.0 && wanted.contains(&n.id) {
            n.is_read = true;
        }
    }
    Ok(unread_answer(&data, caller.0))
}

async fn delete_batch(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<Ids>,
) -> ColonyResult<Json<Value>> {
    check_batch(&body.ids)?;
    let wanted: HashSet<Uuid> = body.ids.into_iter().collect();
    let mut data = shared.colony.lock();
    data.notifications
        .items
        .retain(|(to, n)| !(*to == caller.0 && wanted.contains(&n.id)));
    Ok(unread_answer(&data, caller.0))
}

#[derive(Debug, Deserialize)]
struct ReportIn {
    target_type: String,
    target_id: Uuid,
    reason: String,
    description: Option<String>,
    custom_reason: Option<String>,
}

async fn report(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<ReportIn>,
) -> ColonyResult<(StatusCode, Json<types::ReportOut>)> {
    if !REPORT_REASONS.contains(&body.reason.as_str()) {
        return Err(unprocessable(format!(
            "reason must be one of {}",
            REPORT_REASONS.join(", ")
        )));
    }
    if body.custom_reason.is_some() && body.reason != "other" {
        return Err(unprocessable(
            "custom_reason is only allowed with reason other",
        ));
    }
    if body
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 1000)
    {
        return Err(unprocessable("description is at most 1000 characters"));
    }
    let mut data = shared.colony.lock();
    let (post_id, comment_id) = match body.target_type.as_str() {
        "post" => (body.target_id, None),
        "comment" => {
            let c = data.comments.comment(&body.target_id)?;
            (c.post_id, Some(c.id))
        }
        _ => return Err(unprocessable("target_type must be post or comment")),
    };
    let colony_id = data
        .posts
        .posts
        .get(&post_id)
        .ok_or_else(|| ColonyError::not_found("post"))?
        .colony_id
        .unwrap_or(Uuid::nil());
    let target = |r: &types::ReportOut| match comment_id {
        Some(c) => r.comment_id == Some(c),
        None => r.comment_id.is_none() && r.post_id == Some(post_id),
    };
    if data
        .surface
        .reports
        .iter()
        .any(|(by, r)| *by == caller.0 && r.status == "pending" && target(r))
    {
        return Err(ColonyError::conflict(
            "CONFLICT",
            "you already have a pending report on this",
        ));
    }
    let reporter = data.user(&caller.0)?.clone();
    let out = types::ReportOut {
        extra: Default::default(),
        colony_id,
        comment_id,
        created_at: Utc::now(),
        description: body.description,
        id: Uuid::new_v4(),
        post_id: Some(post_id),
        reason: match body.custom_reason {
            Some(label) => label,
            None => body.reason,
        },
        reporter,
        status: "pending".into(),
    };
    data.surface.reports.push((caller.0, out.clone()));
    Ok((StatusCode::CREATED, Json(out)))
}

/// The colony named by the path, with the caller checked as its moderator.
fn moderated(data: &super::Data, raw: &str, caller: Uuid) -> ColonyResult<Uuid> {
    let id = Uuid::parse_str(raw).map_err(|_| ColonyError::not_found("colony"))?;
    if !data.posts.colonies.iter().any(|c| c.id == id) {
        return Err(ColonyError::not_found("colony"));
    }
    if !data.surface.moderators.contains(&(id, caller)) {
        return Err(ColonyError::forbidden(
            "only the colony's moderators may do this",
        ));
    }
    Ok(id)
}

fn image_or_refuse(mime: &str, code: &'static str) -> ColonyResult<()> {
    if matches!(
        mime,
        "image/png" | "image/jpeg" | "image/webp" | "image/gif"
    ) {
        Ok(())
    } else {
        Err(ColonyError::bad_request(
            code,
            format!("{mime} is not an accepted image format"),
        ))
    }
}

async fn icon(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(colony_id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ColonyResult<(StatusCode, Json<types::Colony>)> {
    let id = moderated(&shared.colony.lock(), &colony_id, caller.0)?;
    let (_bytes, mime) = attachments::file_part(form).await?;
    image_or_refuse(&mime, "AVATAR_INVALID_FORMAT")?;
    let mut data = shared.colony.lock();
    let colony = data
        .posts
        .colonies
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| ColonyError::not_found("colony"))?;
    let stamp = Utc::now().timestamp_millis();
    colony.icon_url = Some(format!("/static/colony-icons/{id}-32.webp?v={stamp}"));
    colony.icon_url_96 = Some(format!("/static/colony-icons/{id}-96.webp?v={stamp}"));
    colony.icon_url_256 = Some(format!("/static/colony-icons/{id}-256.webp?v={stamp}"));
    Ok((StatusCode::CREATED, Json(colony.clone())))
}

async fn header(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(colony_id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> ColonyResult<(StatusCode, Json<types::Colony>)> {
    let id = {
        let data = shared.colony.lock();
        let id = moderated(&data, &colony_id, caller.0)?;
        if data.user(&caller.0)?.karma < BANNER_KARMA {
            return Err(ColonyError::forbidden(format!(
                "setting a banner needs {BANNER_KARMA} karma"
            )));
        }
        id
    };
    let (bytes, mime) = attachments::file_part(form).await?;
    image_or_refuse(&mime, "HEADER_INVALID_FORMAT")?;
    let mut data = shared.colony.lock();
    data.surface.banners.insert(id, bytes.len());
    let colony = data
        .posts
        .colonies
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| ColonyError::not_found("colony"))?;
    Ok((StatusCode::CREATED, Json(colony)))
}

async fn avatar(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    form: Result<Multipart, MultipartRejection>,
) -> ColonyResult<(StatusCode, Json<Value>)> {
    let (_bytes, mime) = attachments::file_part(form).await?;
    image_or_refuse(&mime, "AVATAR_INVALID_FORMAT")?;
    let mut data = shared.colony.lock();
    let account = data
        .accounts
        .get_mut(&caller.0)
        .ok_or_else(|| ColonyError::not_found("user"))?;
    let now = Utc::now();
    let path = format!("avatars/{}/{}", caller.0, now.timestamp_millis());
    account.user.avatar_url = format!("/static/{path}-96.webp");
    let urls: Map<String, Value> = [("sm", 32), ("md", 96), ("lg", 256)]
        .into_iter()
        .map(|(k, px)| (k.to_owned(), json!(format!("/static/{path}-{px}.webp"))))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({"avatar_path": path, "uploaded_at": now, "urls": urls})),
    ))
}

fn oauth_refusal(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn oauth_token(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let epoch = shared.faults.token_epoch();
    let mut data = shared.colony.lock();
    data.surface.last_oauth = Some(OauthRequest {
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        had_authorization: headers.contains_key("authorization"),
        form: form.clone(),
    });
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != TOKEN_EXCHANGE {
        return oauth_refusal(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only token exchange is supported",
        );
    }
    if field("subject_token_type") != ACCESS_TOKEN {
        return oauth_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "subject_token_type must be an access token",
        );
    }
    let audience = field("audience");
    if audience.is_empty() {
        return oauth_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "audience is required",
        );
    }
    let subject = match data.tokens.get(field("subject_token")) {
        Some((id, issued)) if *issued == epoch && data.accounts.contains_key(id) => *id,
        _ => {
            return oauth_refusal(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the subject token is not a valid Colony access token",
            )
        }
    };
    if !data.surface.audiences.contains(audience) {
        return oauth_refusal(
            StatusCode::BAD_REQUEST,
            "invalid_target",
            "unknown audience",
        );
    }
    let mut granted = vec!["openid".to_owned()];
    for scope in field("scope").split_whitespace() {
        if scope == "offline_access" {
            continue;
        }
        if !SCOPES.contains(&scope) {
            return oauth_refusal(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("unknown scope {scope}"),
            );
        }
        if !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_owned());
        }
    }
    let token = format!("oat_sandbox_{}", Uuid::new_v4().simple());
    let id_token = format!("eyJhbGciOiJSUzI1NiJ9.{}.sandbox-id", subject.simple());
    Json(json!({
        "access_token": token,
        "id_token": id_token,
        "issued_token_type": ACCESS_TOKEN,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": granted.join(" "),
    }))
    .into_response()
}

impl ColonyHandle {
    /// Adds `n` echoes by `username` (of a post of its own, "Echoed 0"…),
    /// the last one newest. False if no such user.
    pub fn seed_echoes(&self, username: &str, n: usize) -> bool {
        let mut data = self.shared.colony.lock();
        let Some(user) = data
            .by_username
            .get(username)
            .and_then(|id| data.accounts.get(id))
            .map(|a| a.user.clone())
        else {
            return false;
        };
        let author = types::EchoAuthor {
            extra: Default::default(),
            display_name: user.display_name.clone(),
            id: user.id,
            team_role: None,
            user_type: user.user_type.to_string(),
            username: user.username.clone(),
        };
        for i in 0..n {
            let now = Utc::now();
            data.surface.echoes.push(types::EchoOut {
                extra: Default::default(),
                author: author.clone(),
                commentary: format!("Echo {i}"),
                created_at: now,
                id: Uuid::new_v4(),
                post: types::EchoPost {
                    extra: Default::default(),
                    comment_count: 0,
                    created_at: now,
                    id: Uuid::new_v4(),
                    post_type: "discussion".into(),
                    score: 0,
                    title: format!("Echoed {i}"),
                },
                user: Some(author.clone()),
            });
        }
        true
    }

    /// Adds `n` wiki pages edited by `username`, titled "`prefix` 000"…,
    /// with this category and colony name. False if no such user.
    pub fn seed_wiki_pages(
        &self,
        username: &str,
        prefix: &str,
        n: usize,
        category: Option<&str>,
        colony: Option<&str>,
    ) -> bool {
        let mut data = self.shared.colony.lock();
        let Some(user) = data
            .by_username
            .get(username)
            .and_then(|id| data.accounts.get(id))
            .map(|a| a.user.clone())
        else {
            return false;
        };
        for i in 0..n {
            let now = Utc::now();
            let title = format!("{prefix} {i:03}");
            data.surface.wiki.push(types::WikiPageListItem {
                extra: Default::default(),
                category: category.map(str::to_owned),
                colony: colony.map(str::to_owned),
                colony_name: colony.map(str::to_owned),
                created_at: now,
                id: Uuid::new_v4(),
                revision_count: 1,
                slug: title.to_lowercase().replace(' ', "-"),
                title,
                updated_at: now,
                updated_by: types::WikiAuthor {
                    extra: Default::default(),
                    display_name: user.display_name.clone(),
                    username: user.username.clone(),
                },
            });
        }
        true
    }

    /// Adds `n` unread notifications for `username` (a follow by itself is
    /// never notified, so they are recorded directly), the last one newest.
    /// Returns their ids, oldest first; empty if no such user.
    pub fn seed_notifications(&self, username: &str, n: usize) -> Vec<String> {
        let mut data = self.shared.colony.lock();
        let Some(user) = data
            .by_username
            .get(username)
            .and_then(|id| data.accounts.get(id))
            .map(|a| a.user.clone())
        else {
            return Vec::new();
        };
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let id = Uuid::new_v4();
            ids.push(id.to_string());
            data.notifications.items.push((
                user.id,
                types::Notification {
                    extra: Default::default(),
                    actor: types::NotificationActor {
                        extra: Default::default(),
                        display_name: user.display_name.clone(),
                        id: user.id,
                        user_type: user.user_type.to_string(),
                        username: user.username.clone(),
                    },
                    comment_id: None,
                    conversation_id: None,
                    created_at: Utc::now(),
                    id,
                    is_read: false,
                    message: format!("Notification {i}"),
                    message_id: None,
                    notification_type: "mention".into(),
                    post_id: None,
                },
            ));
        }
        ids
    }

    /// Makes `username` a moderator of the colony with this id. False if
    /// no such user or colony.
    pub fn make_moderator(&self, username: &str, colony_id: &str) -> bool {
        let mut data = self.shared.colony.lock();
        let (Some(user), Ok(colony)) = (
            data.by_username.get(username).copied(),
            Uuid::parse_str(colony_id),
        ) else {
            return false;
        };
        if !data.posts.colonies.iter().any(|c| c.id == colony) {
            return false;
        }
        data.surface.moderators.insert((colony, user));
        true
    }

    /// Size of the banner a colony was given, if any.
    pub fn banner_size(&self, colony_id: &str) -> Option<usize> {
        let id = Uuid::parse_str(colony_id).ok()?;
        self.shared.colony.lock().surface.banners.get(&id).copied()
    }

    /// Lets the OAuth server issue tokens for this relying party.
    pub fn add_oauth_audience(&self, audience: &str) {
        self.shared
            .colony
            .lock()
            .surface
            .audiences
            .insert(audience.to_owned());
    }

    /// The latest request `/oauth/token` received.
    pub fn last_oauth_request(&self) -> Option<OauthRequest> {
        self.shared.colony.lock().surface.last_oauth.clone()
    }

    /// Unread notifications of `username`.
    pub fn unread_notifications(&self, username: &str) -> usize {
        let data = self.shared.colony.lock();
        let Some(id) = data.by_username.get(username) else {
            return 0;
        };
        data.notifications
            .items
            .iter()
            .filter(|(to, n)| to == id && !n.is_read)
            .count()
    }
}
