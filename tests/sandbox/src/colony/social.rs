//! Votes, reactions, polls, search and colony membership.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::notifications::{notify, Event};
use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::{bounded, ApiError, FastJson, FastQuery};
use crate::Shared;

/// The reactions the service accepts: (key, character), in display order.
const REACTIONS: [(&str, &str); 8] = [
    ("thumbs_up", "👍"),
    ("heart", "❤️"),
    ("laugh", "😂"),
    ("thinking", "🤔"),
    ("fire", "🔥"),
    ("eyes", "👀"),
    ("rocket", "🚀"),
    ("clap", "👏"),
];

/// What a vote or reaction is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    Post(Uuid),
    Comment(Uuid),
}

/// Votes, reactions, poll ballots and memberships.
#[derive(Default)]
pub(crate) struct Data {
    /// (target, voter) → 1 or -1
    votes: HashMap<(Target, Uuid), i64>,
    /// (target, emoji key) → who reacted
    reactions: HashMap<(Target, &'static str), HashSet<Uuid>>,
    /// poll post → voter → chosen option ids
    ballots: HashMap<Uuid, HashMap<Uuid, Vec<String>>>,
    /// (colony, member)
    members: HashSet<(Uuid, Uuid)>,
}

impl Data {
    /// The caller's vote on a post, if any.
    pub(crate) fn post_vote(&self, post: Uuid, voter: Uuid) -> Option<i64> {
        self.votes.get(&(Target::Post(post), voter)).copied()
    }
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/posts/{post_id}/vote", post(vote_post))
        .route("/api/v1/comments/{comment_id}/vote", post(vote_comment))
        .route("/api/v1/reactions/toggle", post(toggle_reaction))
        .route("/api/v1/polls/{post_id}/results", get(poll_results))
        .route("/api/v1/polls/{post_id}/vote", post(vote_poll))
        .route("/api/v1/search", get(search))
        .route("/api/v1/colonies", get(colonies))
        .route("/api/v1/colonies/{colony_id}/join", post(join))
        .route("/api/v1/colonies/{colony_id}/leave", post(leave))
}

fn id_of(raw: &str, what: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found(what))
}

// ---- votes ----

/// Records a vote and moves the target's score and its author's karma.
/// The same vote twice is a conflict; the opposite one replaces it.
fn apply_vote(
    data: &mut super::Data,
    target: Target,
    voter: Uuid,
    value: i64,
) -> ColonyResult<types::VoteResult> {
    let (author, title, post_id, comment_id) = match target {
        Target::Post(id) => {
            let p = data.posts.post(&id)?;
            (p.author.id, p.title.clone(), id, None)
        }
        Target::Comment(id) => {
            let c = data.comments.comment(&id)?;
            let title = data
                .posts
                .posts
                .get(&c.post_id)
                .map(|p| p.title.clone())
                .unwrap_or_default();
            (c.author.id, title, c.post_id, Some(id))
        }
    };
    if author == voter {
        return Err(ColonyError::bad_request(
            "VOTE_SELF_VOTE",
            "You cannot vote on your own content.",
        ));
    }
    let previous = data.social.votes.get(&(target, voter)).copied();
    if previous == Some(value) {
        return Err(ColonyError::conflict(
            "ALREADY_VOTED",
            "you have already voted this way",
        ));
    }
    data.social.votes.insert((target, voter), value);
    let delta = value - previous.unwrap_or(0);
    let new_score = match target {
        Target::Post(id) => {
            let p = data.posts.post_mut(&id)?;
            p.score += delta;
            p.score
        }
        Target::Comment(id) => {
            let c = data.comments.comment_mut(&id)?;
            c.score += delta;
            c.score
        }
    };
    {
        if let Some(account) = data.accounts.get_mut(&author) {
            account.user.karma += delta;
        }
        let who = data
            .user(&voter)
            .map(|u| u.username.clone())
            .unwrap_or_default();
        let how = if value > 0 { "upvoted" } else { "downvoted" };
        let what = if comment_id.is_some() {
            "comment on"
        } else {
            "post"
        };
        notify(
            data,
            Event {
                recipient: author,
                actor: voter,
                kind: "vote",
                message: format!("{who} {how} your {what} \"{title}\""),
                post_id: Some(post_id),
                comment_id,
            },
        );
    }
    Ok(types::VoteResult {
        extra: Default::default(),
        karma_conferred: true,
        karma_reason: "conferred".into(),
        new_score,
    })
}

/// A vote's body as the contract's `VoteCreate` validates it: `value` is
/// the literal 1 or -1 (a bool is neither), and no other field is allowed.
fn vote_value(body: &serde_json::Map<String, Value>) -> Result<i64, ApiError> {
    if let Some(extra) = body.keys().find(|k| *k != "value") {
        return Err(ApiError::validation(
            vec!["body".into(), extra.as_str().into()],
            "Extra inputs are not permitted",
            "extra_forbidden",
        ));
    }
    let Some(value) = body.get("value") else {
        return Err(ApiError::validation(
            vec!["body".into(), "value".into()],
            "Field required",
            "missing",
        ));
    };
    match value.as_i64() {
        Some(v @ (1 | -1)) if !value.is_boolean() => Ok(v),
        _ => Err(ApiError::validation_ctx(
            vec!["body".into(), "value".into()],
            "Input should be 1 or -1",
            "literal_error",
            serde_json::json!({ "expected": "1 or -1" }),
        )),
    }
}

async fn vote_post(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(post_id): Path<String>,
    FastJson(body): FastJson<serde_json::Map<String, Value>>,
) -> ColonyResult<Json<types::VoteResult>> {
    let value = vote_value(&body)?;
    let id = id_of(&post_id, "post")?;
    let mut data = shared.colony.lock();
    apply_vote(&mut data, Target::Post(id), caller.0, value).map(Json)
}

async fn vote_comment(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(comment_id): Path<String>,
    FastJson(body): FastJson<serde_json::Map<String, Value>>,
) -> ColonyResult<Json<types::VoteResult>> {
    let value = vote_value(&body)?;
    let id = id_of(&comment_id, "comment")?;
    let mut data = shared.colony.lock();
    apply_vote(&mut data, Target::Comment(id), caller.0, value).map(Json)
}

// ---- reactions ----

async fn toggle_reaction(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::ReactionToggle>,
) -> ColonyResult<Json<types::ReactionSummary>> {
    let target = match (body.post_id, body.comment_id) {
        (Some(p), None) => Target::Post(p),
        (None, Some(c)) => Target::Comment(c),
        _ => {
            return Err(ColonyError::bad_request(
                "INVALID_INPUT",
                "Give exactly one of post_id and comment_id.",
            ))
        }
    };
    let Some(&(key, _)) = REACTIONS.iter().find(|(k, _)| *k == body.emoji.as_str()) else {
        return Err(ColonyError::bad_request(
            "INVALID_EMOJI",
            format!("unknown reaction `{}`", body.emoji.as_str()),
        ));
    };
    let mut data = shared.colony.lock();
    let (author, post_id, comment_id) = match target {
        Target::Post(id) => (data.posts.post(&id)?.author.id, id, None),
        Target::Comment(id) => {
            let c = data.comments.comment(&id)?;
            (c.author.id, c.post_id, Some(id))
        }
    };
    let who = data.social.reactions.entry((target, key)).or_default();
    // A toggle: the same reaction again takes it back, and only an added
    // one tells the author.
    let added = !who.remove(&caller.0) && who.insert(caller.0);
    if added {
        let by = data.user(&caller.0)?.username.clone();
        let title = data
            .posts
            .posts
            .get(&post_id)
            .map(|p| p.title.clone())
            .unwrap_or_default();
        notify(
            &mut data,
            Event {
                recipient: author,
                actor: caller.0,
                kind: "post_reaction",
                message: format!("{by} reacted to your content on \"{title}\""),
                post_id: Some(post_id),
                comment_id,
            },
        );
    }
    let reactions = REACTIONS
        .iter()
        .filter_map(|(key, ch)| {
            let who = data.social.reactions.get(&(target, *key))?;
            (!who.is_empty()).then(|| types::Reaction {
                extra: Default::default(),
                count: who.len() as i64,
                emoji: (*key).to_owned(),
                emoji_char: (*ch).to_owned(),
                user_reacted: who.contains(&caller.0),
            })
        })
        .collect();
    Ok(Json(types::ReactionSummary {
        extra: Default::default(),
        reactions,
    }))
}

// ---- polls ----

/// A poll as its post's metadata describes it.
struct Poll {
    /// (id, text), in order.
    options: Vec<(String, String)>,
    multiple: bool,
    closed: bool,
}

/// Reads a poll from its post's metadata: `poll_options` (or `options`) as
/// objects with `id` and `text`, or as plain strings numbered from 1;
/// `multiple_choice`; `closes_at`.
fn poll_of(post: &types::Post) -> ColonyResult<Poll> {
    if post.post_type.as_str() != "poll" {
        return Err(ColonyError::bad_request(
            "NOT_A_POLL",
            "this post is not a poll",
        ));
    }
    let meta = post.metadata.clone().unwrap_or_default();
    let raw = meta
        .get("poll_options")
        .or_else(|| meta.get("options"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let options = raw
        .iter()
        .enumerate()
        .filter_map(|(i, o)| match o {
            Value::String(text) => Some(((i + 1).to_string(), text.clone())),
            Value::Object(o) => {
                let text = o.get("text").and_then(Value::as_str)?.to_owned();
                let id = match o.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => (i + 1).to_string(),
                };
                Some((id, text))
            }
            _ => None,
        })
        .collect();
    let multiple = meta
        .get("multiple_choice")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let closed = meta
        .get("closes_at")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .is_some_and(|t| t < Utc::now());
    Ok(Poll {
        options,
        multiple,
        closed,
    })
}

fn tally(data: &super::Data, post_id: Uuid, caller: Uuid) -> ColonyResult<types::PollResults> {
    let post = data.posts.post(&post_id)?;
    let Poll {
        options,
        multiple,
        closed,
    } = poll_of(post)?;
    let ballots = data.social.ballots.get(&post_id);
    let count = |id: &str| -> i64 {
        ballots.map_or(0, |b| {
            b.values()
                .filter(|chosen| chosen.iter().any(|c| c == id))
                .count() as i64
        })
    };
    let total: i64 = options.iter().map(|(id, _)| count(id)).sum();
    let mine = ballots
        .and_then(|b| b.get(&caller))
        .cloned()
        .unwrap_or_default();
    Ok(types::PollResults {
        extra: Default::default(),
        closing_soon: false,
        is_closed: closed,
        multiple_choice: multiple,
        options: options
            .iter()
            .map(|(id, text)| {
                let n = count(id);
                types::PollOption {
                    extra: Default::default(),
                    id: id.clone(),
                    percentage: if total == 0 {
                        0.0
                    } else {
                        (n as f64 * 1000.0 / total as f64).round() / 10.0
                    },
                    text: text.clone(),
                    vote_count: n,
                }
            })
            .collect(),
        show_results_before_voting: true,
        total_votes: total,
        user_voted: !mine.is_empty(),
        user_option_ids: mine,
    })
}

async fn poll_results(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(post_id): Path<String>,
) -> ColonyResult<Json<types::PollResults>> {
    let id = id_of(&post_id, "post")?;
    let data = shared.colony.lock();
    tally(&data, id, caller.0).map(Json)
}

async fn vote_poll(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(post_id): Path<String>,
    FastJson(body): FastJson<types::PollVoteCreate>,
) -> ColonyResult<Json<types::PollResults>> {
    let id = id_of(&post_id, "post")?;
    if body.option_ids.is_empty() {
        return Err(ApiError::validation_ctx(
            vec!["body".into(), "option_ids".into()],
            "List should have at least 1 item after validation, not 0",
            "too_short",
            serde_json::json!({"field_type": "List", "min_length": 1, "actual_length": 0}),
        )
        .into());
    }
    let mut data = shared.colony.lock();
    let Poll {
        options,
        multiple,
        closed,
    } = poll_of(data.posts.post(&id)?)?;
    if closed {
        return Err(ColonyError::bad_request(
            "POLL_CLOSED",
            "this poll is closed",
        ));
    }
    let mut chosen: Vec<String> = Vec::new();
    for option in body.option_ids {
        if !options.iter().any(|(id, _)| *id == option) {
            return Err(ColonyError::bad_request(
                "INVALID_OPTION",
                format!("no option `{option}` in this poll"),
            ));
        }
        if !chosen.contains(&option) {
            chosen.push(option);
        }
    }
    if chosen.len() > 1 && !multiple {
        return Err(ColonyError::bad_request(
            "SINGLE_CHOICE",
            "this poll takes one option",
        ));
    }
    data.social
        .ballots
        .entry(id)
        .or_default()
        .insert(caller.0, chosen);
    tally(&data, id, caller.0).map(Json)
}

// ---- search ----

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    post_type: Option<String>,
    #[serde(rename = "type")]
    type_: Option<String>,
    colony: Option<String>,
    colony_name: Option<String>,
    colony_id: Option<Uuid>,
    author_type: Option<String>,
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<usize>,
}

/// Users listed beside the posts of a search.
const SEARCH_USERS: usize = 5;

async fn search(
    AxumState(shared): AxumState<Arc<Shared>>,
    _caller: Caller,
    FastQuery(query): FastQuery<SearchQuery>,
) -> ColonyResult<Json<types::SearchResults>> {
    let q = query.q.ok_or_else(|| ApiError::missing_query("q"))?;
    let len = q.chars().count();
    if !(2..=200).contains(&len) {
        return Err(ApiError::query_length("q", len, 2, 200).into());
    }
    let limit = bounded("limit", query.limit, 20, 1, 100)?;
    let offset = query.offset.unwrap_or(0);
    let needle = q.to_lowercase();
    let post_type = query.post_type.or(query.type_);
    let colony = query.colony.or(query.colony_name);
    let data = shared.colony.lock();
    // Newest first is the base order; relevance puts title matches ahead.
    let mut hits: Vec<&types::Post> = data
        .posts
        .order
        .iter()
        .rev()
        .filter_map(|id| data.posts.posts.get(id))
        .filter(|p| {
            p.title.to_lowercase().contains(&needle) || p.body.to_lowercase().contains(&needle)
        })
        .filter(|p| {
            post_type
                .as_deref()
                .is_none_or(|t| p.post_type.as_str() == t)
        })
        .filter(|p| {
            colony
                .as_deref()
                .is_none_or(|c| p.colony_name.as_deref() == Some(c))
        })
        .filter(|p| query.colony_id.is_none_or(|c| p.colony_id == Some(c)))
        .filter(|p| {
            query
                .author_type
                .as_deref()
                .is_none_or(|t| p.author.user_type.as_str() == t)
        })
        .collect();
    match query.sort.as_deref().unwrap_or("relevance") {
        "relevance" => hits.sort_by_key(|p| !p.title.to_lowercase().contains(&needle)),
        "newest" | "new" => {}
        "oldest" => hits.reverse(),
        "top" => hits.sort_by_key(|p| std::cmp::Reverse(p.score)),
        "discussed" => hits.sort_by_key(|p| std::cmp::Reverse(p.comment_count)),
        _ => {
            return Err(ApiError::query_pattern(
                "sort",
                "^(relevance|newest|new|oldest|top|discussed)$",
            )
            .into())
        }
    }
    let total = hits.len();
    let items: Vec<types::Post> = hits.into_iter().skip(offset).take(limit).cloned().collect();
    let mut users: Vec<types::User> = data
        .accounts
        .values()
        // Pending (inactive) accounts are not found.
        .filter(|a| a.pending.is_none())
        .map(|a| &a.user)
        .filter(|u| {
            u.username.to_lowercase().contains(&needle)
                || u.display_name.to_lowercase().contains(&needle)
                || u.bio
                    .as_deref()
                    .is_some_and(|b| b.to_lowercase().contains(&needle))
        })
        .cloned()
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    users.truncate(SEARCH_USERS);
    Ok(Json(types::SearchResults {
        extra: Default::default(),
        has_more: offset + items.len() < total,
        items,
        next_cursor: None,
        total: total as i64,
        users,
    }))
}

// ---- colonies ----

#[derive(Debug, Deserialize)]
struct ColoniesQuery {
    name: Option<String>,
    member_colonies: Option<bool>,
    limit: Option<i64>,
    offset: Option<usize>,
}

async fn colonies(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastQuery(query): FastQuery<ColoniesQuery>,
) -> ColonyResult<Json<Vec<types::Colony>>> {
    let limit = bounded("limit", query.limit, 50, 1, 200)?;
    let data = shared.colony.lock();
    let mut list: Vec<&types::Colony> = data
        .posts
        .colonies
        .iter()
        .filter(|c| query.name.as_deref().is_none_or(|n| c.name == n))
        .filter(|c| {
            query
                .member_colonies
                .is_none_or(|m| data.social.members.contains(&(c.id, caller.0)) == m)
        })
        .collect();
    // Busiest first; the sort is stable, so ties keep their founding order.
    list.sort_by_key(|c| std::cmp::Reverse(c.member_count));
    Ok(Json(
        list.into_iter()
            .skip(query.offset.unwrap_or(0))
            .take(limit)
            .cloned()
            .collect(),
    ))
}

async fn join(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(colony_id): Path<String>,
) -> ColonyResult<StatusCode> {
    let id = id_of(&colony_id, "colony")?;
    let mut data = shared.colony.lock();
    let data = &mut *data;
    let colony = data
        .posts
        .colonies
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| ColonyError::not_found("colony"))?;
    if !data.social.members.insert((id, caller.0)) {
        return Err(ColonyError::conflict(
            "COLONY_ALREADY_MEMBER",
            "you are already a member of this colony",
        ));
    }
    colony.member_count += 1;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(colony_id): Path<String>,
) -> ColonyResult<StatusCode> {
    let id = id_of(&colony_id, "colony")?;
    let mut data = shared.colony.lock();
    let data = &mut *data;
    let colony = data
        .posts
        .colonies
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(|| ColonyError::not_found("colony"))?;
    if !data.social.members.remove(&(id, caller.0)) {
        return Err(ColonyError::bad_request(
            "NOT_A_MEMBER",
            "you are not a member of this colony",
        ));
    }
    colony.member_count -= 1;
    Ok(StatusCode::NO_CONTENT)
}
