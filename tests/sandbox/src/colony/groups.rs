//! Group conversations: membership and invites, roles, pins, per-member
//! settings (mute, snooze, read receipts), search and sending.

use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::messages::{self, render, user_out, Conversation, Message, MessageIn, Paging};
use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// Members a group may hold, creator included.
const MAX_MEMBERS: usize = 50;

/// A group's own state; its messages live in the shared store.
pub(crate) struct Group {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) creator: Uuid,
    template: Option<String>,
    starter_message: Option<Uuid>,
    /// Accepted members and pending invitees, in the order they joined.
    members: Vec<Member>,
    /// Pinned message ids, oldest pin first.
    pinned: Vec<Uuid>,
}

struct Member {
    user: Uuid,
    admin: bool,
    accepted: bool,
    muted_until: Option<Option<DateTime<Utc>>>,
    snoozed_until: Option<DateTime<Utc>>,
    /// The member's override of their read-receipt setting.
    receipts: Option<bool>,
}

impl Member {
    fn new(user: Uuid, admin: bool, accepted: bool) -> Member {
        Member {
            user,
            admin,
            accepted,
            muted_until: None,
            snoozed_until: None,
            receipts: None,
        }
    }
}

impl Group {
    fn member(&self, user: Uuid) -> Option<&Member> {
        self.members.iter().find(|m| m.user == user)
    }

    fn member_mut(&mut self, user: Uuid) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.user == user)
    }

    /// Whether `user` has accepted (or created) the group.
    pub(crate) fn is_member(&self, user: Uuid) -> bool {
        self.member(user).is_some_and(|m| m.accepted)
    }

    pub(crate) fn member_ids(&self) -> Vec<Uuid> {
        self.members
            .iter()
            .filter(|m| m.accepted)
            .map(|m| m.user)
            .collect()
    }

    pub(crate) fn is_admin(&self, user: Uuid) -> bool {
        self.member(user).is_some_and(|m| m.accepted && m.admin)
    }

    /// Whether `user` lets the other members see their reads (the account
    /// default is yes).
    pub(crate) fn shows_receipts(&self, user: Uuid) -> bool {
        self.member(user).and_then(|m| m.receipts).unwrap_or(true)
    }
}

/// A predefined group set-up.
struct Template {
    slug: &'static str,
    title: &'static str,
    description: &'static str,
    starter: &'static str,
    roles: &'static [&'static str],
}

const TEMPLATES: [Template; 3] = [
    Template {
        slug: "research-squad",
        title: "Research squad",
        description: "A few agents working one question to the ground.",
        starter: "State the question, list sources as you find them, one thread per lead.",
        roles: &["lead", "reviewer"],
    },
    Template {
        slug: "code-review",
        title: "Code review circle",
        description: "Agents trading reviews of each other's changes.",
        starter: "Share what to review and what kind of feedback you want.",
        roles: &["author", "reviewer"],
    },
    Template {
        slug: "standup",
        title: "Daily standup",
        description: "Short daily check-ins.",
        starter: "Each day: what moved, what is next, what blocks you.",
        roles: &[],
    },
];

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/messages/groups", post(create))
        .route("/api/v1/messages/groups/templates", get(templates))
        .route("/api/v1/messages/groups/from-template", post(from_template))
        .route(
            "/api/v1/messages/groups/{conv_id}",
            get(detail).patch(update),
        )
        .route(
            "/api/v1/messages/groups/{conv_id}/invite/respond",
            post(respond),
        )
        .route(
            "/api/v1/messages/groups/{conv_id}/members",
            get(members).post(add_member),
        )
        .route(
            "/api/v1/messages/groups/{conv_id}/members/{user_id}",
            delete(remove_member),
        )
        .route(
            "/api/v1/messages/groups/{conv_id}/members/{user_id}/admin",
            put(set_admin),
        )
        .route(
            "/api/v1/messages/groups/{conv_id}/messages/{msg_id}/pin",
            post(pin).delete(unpin),
        )
        .route("/api/v1/messages/groups/{conv_id}/mute", post(mute))
        .route("/api/v1/messages/groups/{conv_id}/unmute", post(unmute))
        .route("/api/v1/messages/groups/{conv_id}/snooze", post(snooze))
        .route("/api/v1/messages/groups/{conv_id}/unsnooze", post(unsnooze))
        .route("/api/v1/messages/groups/{conv_id}/read-all", post(read_all))
        .route(
            "/api/v1/messages/groups/{conv_id}/receipts",
            patch(receipts),
        )
        .route("/api/v1/messages/groups/{conv_id}/search", get(search))
        .route("/api/v1/messages/groups/{conv_id}/send", post(send))
        .route(
            "/api/v1/messages/groups/{conv_id}/transfer-creator",
            post(transfer_creator),
        )
}

fn validation(message: impl Into<String>) -> ColonyError {
    ColonyError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        message,
    )
}

fn missing(name: &str) -> ColonyError {
    validation(format!("query parameter {name} is required"))
}

pub(crate) fn conv_id(raw: &str) -> ColonyResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ColonyError::not_found("group"))
}

/// The group with this id (a 1:1 conversation is not one).
pub(crate) fn group<'a>(
    data: &'a messages::Data,
    id: &Uuid,
) -> ColonyResult<(&'a Conversation, &'a Group)> {
    let conv = data
        .conversations
        .get(id)
        .ok_or_else(|| ColonyError::not_found("group"))?;
    let g = conv
        .group()
        .ok_or_else(|| ColonyError::not_found("group"))?;
    Ok((conv, g))
}

fn group_mut<'a>(data: &'a mut messages::Data, id: &Uuid) -> ColonyResult<&'a mut Group> {
    match data.conversations.get_mut(id).map(|c| &mut c.kind) {
        Some(messages::Kind::Group(g)) => Ok(g),
        _ => Err(ColonyError::not_found("group")),
    }
}

/// The group, if `user` is an accepted member.
pub(crate) fn member_of<'a>(
    data: &'a messages::Data,
    id: &Uuid,
    user: Uuid,
) -> ColonyResult<(&'a Conversation, &'a Group)> {
    let (c, g) = group(data, id)?;
    if !g.is_member(user) {
        return Err(ColonyError::forbidden("not a member of this group"));
    }
    Ok((c, g))
}

/// The group, if `user` is one of its admins.
pub(crate) fn admin_of<'a>(
    data: &'a messages::Data,
    id: &Uuid,
    user: Uuid,
) -> ColonyResult<&'a Group> {
    let (_, g) = member_of(data, id, user)?;
    if !g.is_admin(user) {
        return Err(ColonyError::forbidden("only group admins may do this"));
    }
    Ok(g)
}

fn summary(data: &super::Data, id: Uuid) -> ColonyResult<types::GroupConversation> {
    let (_, g) = group(&data.messages, &id)?;
    Ok(types::GroupConversation {
        extra: Default::default(),
        creator_id: g.creator,
        description: g.description.clone(),
        id,
        is_group: true,
        members: g
            .members
            .iter()
            .map(|m| {
                let u = user_out(data, &m.user);
                types::GroupMemberSummary {
                    extra: Default::default(),
                    display_name: u.display_name,
                    id: m.user,
                    username: u.username,
                }
            })
            .collect(),
        starter_message_id: g.starter_message,
        template: g.template.clone(),
        title: g.title.clone(),
    })
}

fn group_message(data: &super::Data, m: &Message, viewer: Uuid) -> types::GroupMessage {
    let out = render(data, m, viewer);
    types::GroupMessage {
        extra: Default::default(),
        attachments: out.attachments,
        body: out.body,
        conversation_id: out.conversation_id,
        created_at: out.created_at,
        edited_at: out.edited_at,
        id: out.id,
        is_read: out.is_read,
        reactions: out.reactions,
        read_at: out.read_at,
        read_count: messages::read_count(data, m),
        reply_to: out.reply_to,
        sender: out.sender,
    }
}

/// Query of the two create operations: `members` may repeat.
struct CreateQuery {
    title: Option<String>,
    template: Option<String>,
    title_override: Option<String>,
    members: Vec<String>,
}

impl CreateQuery {
    fn parse(pairs: Vec<(String, String)>) -> CreateQuery {
        let mut q = CreateQuery {
            title: None,
            template: None,
            title_override: None,
            members: Vec::new(),
        };
        for (k, v) in pairs {
            match k.as_str() {
                "title" => q.title = Some(v),
                "template" => q.template = Some(v),
                "title_override" => q.title_override = Some(v),
                "members" => q.members.push(v),
                _ => {}
            }
        }
        q
    }
}

/// A group title as the contract bounds it (1–100 characters).
fn check_title(title: &str) -> ColonyResult<()> {
    let n = title.chars().count();
    if !(1..=100).contains(&n) {
        return Err(validation("title must be 1 to 100 characters"));
    }
    Ok(())
}

/// Creates a group of `creator` plus invitations for `members`.
fn new_group(
    data: &mut super::Data,
    creator: Uuid,
    title: String,
    description: Option<String>,
    template: Option<String>,
    members: &[String],
) -> ColonyResult<Uuid> {
    if members.is_empty() {
        return Err(validation("invite at least one member"));
    }
    let mut list = vec![Member::new(creator, true, true)];
    for name in members {
        let user = data.find_user(name)?;
        if list.iter().all(|m| m.user != user) {
            list.push(Member::new(user, false, false));
        }
    }
    if list.len() > MAX_MEMBERS {
        return Err(validation(format!(
            "a group holds at most {MAX_MEMBERS} members"
        )));
    }
    Ok(data.messages.insert_group(Group {
        title: Some(title),
        description,
        creator,
        template,
        starter_message: None,
        members: list,
        pinned: Vec::new(),
    }))
}

async fn create(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ColonyResult<(StatusCode, Json<types::GroupConversation>)> {
    let q = CreateQuery::parse(pairs);
    let title = q.title.ok_or_else(|| missing("title"))?;
    check_title(&title)?;
    let mut data = shared.colony.lock();
    let id = new_group(&mut data, caller.0, title, None, None, &q.members)?;
    Ok((StatusCode::CREATED, Json(summary(&data, id)?)))
}

async fn templates(_caller: Caller) -> Json<types::GroupTemplatesListOut> {
    Json(types::GroupTemplatesListOut {
        extra: Default::default(),
        pagination: Some(types::PageMeta {
            extra: Default::default(),
            has_more: false,
            total: TEMPLATES.len() as i64,
        }),
        templates: TEMPLATES
            .iter()
            .map(|t| types::GroupTemplate {
                extra: Default::default(),
                description: t.description.into(),
                slug: t.slug.into(),
                starter_pinned_message: t.starter.into(),
                suggested_roles: t.roles.iter().map(|r| (*r).to_owned()).collect(),
                title: t.title.into(),
            })
            .collect(),
    })
}

async fn from_template(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ColonyResult<(StatusCode, Json<types::GroupConversation>)> {
    let q = CreateQuery::parse(pairs);
    let slug = q.template.ok_or_else(|| missing("template"))?;
    let t = TEMPLATES
        .iter()
        .find(|t| t.slug == slug)
        .ok_or_else(|| ColonyError::not_found("template"))?;
    let title = match q.title_override {
        Some(o) => {
            if !(1..=100).contains(&o.chars().count()) {
                return Err(validation("title_override must be 1 to 100 characters"));
            }
            o
        }
        None => t.title.to_owned(),
    };
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    let id = new_group(
        data,
        caller.0,
        title,
        Some(t.description.into()),
        Some(t.slug.into()),
        &q.members,
    )?;
    let starter = messages::post_message(
        data,
        id,
        caller.0,
        MessageIn {
            body: t.starter.into(),
            attachment_ids: Vec::new(),
            reply_to_message_id: None,
        },
    )?;
    let g = group_mut(&mut data.messages, &id)?;
    g.starter_message = Some(starter);
    g.pinned.push(starter);
    Ok((StatusCode::CREATED, Json(summary(data, id)?)))
}

async fn detail(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(paging): Query<Paging>,
) -> ColonyResult<Json<types::GroupConversationDetail>> {
    let (offset, limit) = paging.window()?;
    let id = conv_id(&id)?;
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    let (conv, _) = member_of(&data.messages, &id, caller.0)?;
    let page: Vec<Uuid> = conv
        .order
        .iter()
        .skip(offset)
        .take(limit)
        .copied()
        .collect();
    // Fetching a page reads it.
    data.messages.mark_read_by(&page, caller.0);
    let (_, g) = group(&data.messages, &id)?;
    let render_all = |ids: &[Uuid]| -> Vec<types::GroupMessage> {
        ids.iter()
            .filter_map(|m| data.messages.messages.get(m))
            .map(|m| group_message(data, m, caller.0))
            .collect()
    };
    Ok(Json(types::GroupConversationDetail {
        extra: Default::default(),
        creator_id: Some(g.creator),
        description: g.description.clone(),
        id,
        member_count: g.member_ids().len() as i64,
        messages: render_all(&page),
        pinned: render_all(&g.pinned),
        title: g.title.clone(),
    }))
}

#[derive(Debug, Deserialize)]
struct UpdateQuery {
    title: Option<String>,
    description: Option<String>,
}

async fn update(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<UpdateQuery>,
) -> ColonyResult<Json<types::GroupMetadata>> {
    let id = conv_id(&id)?;
    if let Some(t) = &q.title {
        check_title(t)?;
    }
    if q.description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500)
    {
        return Err(validation("description is longer than 500 characters"));
    }
    let mut data = shared.colony.lock();
    admin_of(&data.messages, &id, caller.0)?;
    let g = group_mut(&mut data.messages, &id)?;
    if let Some(t) = q.title {
        g.title = Some(t);
    }
    if let Some(d) = q.description {
        // An empty description clears it.
        g.description = (!d.is_empty()).then_some(d);
    }
    Ok(Json(types::GroupMetadata {
        extra: Default::default(),
        description: g.description.clone(),
        title: g.title.clone(),
    }))
}

#[derive(Debug, Deserialize)]
struct RespondQuery {
    accept: Option<bool>,
}

async fn respond(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<RespondQuery>,
) -> ColonyResult<Json<types::GroupInviteResponseOut>> {
    let accept = q.accept.ok_or_else(|| missing("accept"))?;
    let id = conv_id(&id)?;
    let mut data = shared.colony.lock();
    let g = group_mut(&mut data.messages, &id)?;
    match g.member_mut(caller.0) {
        Some(m) if !m.accepted => {
            if accept {
                m.accepted = true;
            } else {
                g.members.retain(|m| m.user != caller.0);
            }
        }
        _ => return Err(ColonyError::not_found("pending invite")),
    }
    Ok(Json(types::GroupInviteResponseOut {
        extra: Default::default(),
        invite_status: if accept { "accepted" } else { "declined" }.into(),
    }))
}

async fn members(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::GroupMembersListOut>> {
    let id = conv_id(&id)?;
    let data = shared.colony.lock();
    let (_, g) = member_of(&data.messages, &id, caller.0)?;
    let members = g
        .member_ids()
        .iter()
        .map(|u| {
            let user = user_out(&data, u);
            types::GroupMember {
                extra: Default::default(),
                display_name: user.display_name,
                id: *u,
                presence_status: None,
                user_type: user.user_type.to_string(),
                username: user.username,
            }
        })
        .collect();
    Ok(Json(types::GroupMembersListOut {
        extra: Default::default(),
        creator_id: Some(g.creator),
        description: g.description.clone(),
        members,
        title: g.title.clone(),
    }))
}

#[derive(Debug, Deserialize)]
struct AddQuery {
    username: Option<String>,
}

async fn add_member(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<AddQuery>,
) -> ColonyResult<(StatusCode, Json<types::GroupInvite>)> {
    let name = q.username.ok_or_else(|| missing("username"))?;
    let id = conv_id(&id)?;
    let mut data = shared.colony.lock();
    admin_of(&data.messages, &id, caller.0)?;
    let user = data.find_user(&name)?;
    let username = data.user(&user)?.username.clone();
    let g = group_mut(&mut data.messages, &id)?;
    let out = match g.member(user) {
        Some(m) => types::GroupInvite {
            extra: Default::default(),
            added: false,
            already_member: true,
            invite_status: Some(if m.accepted { "accepted" } else { "pending" }.into()),
            username,
        },
        None => {
            if g.members.len() >= MAX_MEMBERS {
                return Err(ColonyError::conflict(
                    "GROUP_FULL",
                    format!("a group holds at most {MAX_MEMBERS} members"),
                ));
            }
            g.members.push(Member::new(user, false, false));
            types::GroupInvite {
                extra: Default::default(),
                added: true,
                already_member: false,
                invite_status: Some("pending".into()),
                username,
            }
        }
    };
    Ok((StatusCode::CREATED, Json(out)))
}

async fn remove_member(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
) -> ColonyResult<Json<types::GroupRemoveMemberOut>> {
    let id = conv_id(&id)?;
    let mut data = shared.colony.lock();
    let target = data.find_user(&user)?;
    let (_, g) = group(&data.messages, &id)?;
    if g.member(target).is_none() {
        return Err(ColonyError::not_found("member"));
    }
    if target != caller.0 && !g.is_admin(caller.0) {
        return Err(ColonyError::forbidden(
            "only group admins may remove other members",
        ));
    }
    if target == g.creator {
        return Err(ColonyError::forbidden(
            "the creator cannot be removed; transfer the creator role first",
        ));
    }
    let g = group_mut(&mut data.messages, &id)?;
    g.members.retain(|m| m.user != target);
    Ok(Json(types::GroupRemoveMemberOut {
        extra: Default::default(),
        removed: true,
    }))
}

#[derive(Debug, Deserialize)]
struct AdminQuery {
    is_admin: Option<bool>,
}

async fn set_admin(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((id, user)): Path<(String, String)>,
    Query(q): Query<AdminQuery>,
) -> ColonyResult<Json<types::GroupSetAdminOut>> {
    let is_admin = q.is_admin.ok_or_else(|| missing("is_admin"))?;
    let id = conv_id(&id)?;
    let mut data = shared.colony.lock();
    let target = data.find_user(&user)?;
    let g = admin_of(&data.messages, &id, caller.0)?;
    if !g.is_member(target) {
        return Err(ColonyError::not_found("member"));
    }
    if target == g.creator && !is_admin {
        return Err(ColonyError::forbidden("the creator is always an admin"));
    }
    let g = group_mut(&mut data.messages, &id)?;
    if let Some(m) = g.member_mut(target) {
        m.admin = is_admin;
    }
    Ok(Json(types::GroupSetAdminOut {
        extra: Default::default(),
        is_admin,
        user_id: target,
    }))
}

/// Checks that the caller may pin in the group and the message is in it.
fn pin_target(
    data: &messages::Data,
    conv: &str,
    msg: &str,
    caller: Uuid,
) -> ColonyResult<(Uuid, Uuid)> {
    let id = conv_id(conv)?;
    let msg = messages::message_id(msg)?;
    admin_of(data, &id, caller)?;
    if data.message(&msg)?.conversation != id {
        return Err(ColonyError::not_found("message"));
    }
    Ok((id, msg))
}

async fn pin(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((conv, msg)): Path<(String, String)>,
) -> ColonyResult<Json<types::PinResult>> {
    let mut data = shared.colony.lock();
    let (id, msg) = pin_target(&data.messages, &conv, &msg, caller.0)?;
    let g = group_mut(&mut data.messages, &id)?;
    let already = g.pinned.contains(&msg);
    if !already {
        g.pinned.push(msg);
    }
    Ok(Json(types::PinResult {
        extra: Default::default(),
        already,
        pinned: true,
    }))
}

async fn unpin(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path((conv, msg)): Path<(String, String)>,
) -> ColonyResult<Json<types::PinResult>> {
    let mut data = shared.colony.lock();
    let (id, msg) = pin_target(&data.messages, &conv, &msg, caller.0)?;
    let g = group_mut(&mut data.messages, &id)?;
    let was = g.pinned.contains(&msg);
    g.pinned.retain(|m| *m != msg);
    Ok(Json(types::PinResult {
        extra: Default::default(),
        already: !was,
        pinned: false,
    }))
}

/// Runs `f` on the caller's membership of an accepted group.
fn with_member<T>(
    shared: &Shared,
    id: &str,
    caller: Uuid,
    f: impl FnOnce(&mut Member) -> T,
) -> ColonyResult<T> {
    let id = conv_id(id)?;
    let mut data = shared.colony.lock();
    member_of(&data.messages, &id, caller)?;
    let g = group_mut(&mut data.messages, &id)?;
    let m = g
        .member_mut(caller)
        .ok_or_else(|| ColonyError::forbidden("not a member of this group"))?;
    Ok(f(m))
}

#[derive(Debug, Deserialize)]
struct MuteQuery {
    duration: Option<String>,
    until: Option<String>,
}

async fn mute(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<MuteQuery>,
) -> ColonyResult<Json<types::MuteState>> {
    let choice = q.duration.or(q.until).unwrap_or_else(|| "forever".into());
    let until = match choice.as_str() {
        "1h" => Some(Utc::now() + Duration::hours(1)),
        "8h" => Some(Utc::now() + Duration::hours(8)),
        "1d" => Some(Utc::now() + Duration::days(1)),
        "1w" => Some(Utc::now() + Duration::weeks(1)),
        "forever" => None,
        _ => return Err(validation("duration must be 1h, 8h, 1d, 1w or forever")),
    };
    with_member(&shared, &id, caller.0, |m| m.muted_until = Some(until))?;
    Ok(Json(types::MuteState {
        extra: Default::default(),
        muted: true,
        muted_until: until,
    }))
}

async fn unmute(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::MuteState>> {
    with_member(&shared, &id, caller.0, |m| m.muted_until.take())?;
    Ok(Json(types::MuteState {
        extra: Default::default(),
        muted: false,
        muted_until: None,
    }))
}

#[derive(Debug, Deserialize)]
struct SnoozeQuery {
    duration: Option<String>,
}

/// The next 08:00 UTC after `now`.
fn next_morning(now: DateTime<Utc>) -> DateTime<Utc> {
    let eight = now
        .date_naive()
        .and_hms_opt(8, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    if eight > now {
        eight
    } else {
        eight + Duration::days(1)
    }
}

async fn snooze(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<SnoozeQuery>,
) -> ColonyResult<Json<types::SnoozeState>> {
    let now = Utc::now();
    let until = match q.duration.ok_or_else(|| missing("duration"))?.as_str() {
        "1h" => now + Duration::hours(1),
        "3h" => now + Duration::hours(3),
        "until_morning" => next_morning(now),
        "1d" => now + Duration::days(1),
        "1w" => now + Duration::weeks(1),
        _ => {
            return Err(validation(
                "duration must be 1h, 3h, until_morning, 1d or 1w",
            ))
        }
    };
    with_member(&shared, &id, caller.0, |m| m.snoozed_until = Some(until))?;
    Ok(Json(types::SnoozeState {
        extra: Default::default(),
        cleared: false,
        snoozed_until: Some(until),
    }))
}

async fn unsnooze(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::SnoozeState>> {
    let was = with_member(&shared, &id, caller.0, |m| m.snoozed_until.take())?;
    Ok(Json(types::SnoozeState {
        extra: Default::default(),
        cleared: was.is_some(),
        snoozed_until: None,
    }))
}

async fn read_all(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ColonyResult<Json<types::MarkAllReadOut>> {
    let id = conv_id(&id)?;
    let mut data = shared.colony.lock();
    let (conv, _) = member_of(&data.messages, &id, caller.0)?;
    let ids = conv.order.clone();
    let now = Utc::now();
    let mut marked = 0;
    for m in ids {
        if let Some(m) = data.messages.messages.get_mut(&m) {
            if m.sender != caller.0 && !m.reads.contains_key(&caller.0) {
                m.reads.insert(caller.0, now);
                marked += 1;
            }
        }
    }
    Ok(Json(types::MarkAllReadOut {
        extra: Default::default(),
        marked,
    }))
}

#[derive(Debug, Deserialize)]
struct ReceiptsQuery {
    show: Option<bool>,
}

async fn receipts(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ReceiptsQuery>,
) -> ColonyResult<Json<types::ReadReceipts>> {
    with_member(&shared, &id, caller.0, |m| m.receipts = q.show)?;
    Ok(Json(types::ReadReceipts {
        extra: Default::default(),
        effective: q.show.unwrap_or(true),
        override_: q.show,
    }))
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    #[serde(flatten)]
    paging: Paging,
}

/// Byte ranges of every case-insensitive occurrence of `needle` in `hay`.
fn find_all(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    let mut out = Vec::new();
    let mut starts = hay.char_indices().map(|(i, _)| i).peekable();
    while let Some(start) = starts.next() {
        let mut want = needle.iter();
        let mut end = start;
        let mut matched = false;
        let mut pending: Vec<char> = Vec::new();
        for (i, c) in hay[start..].char_indices() {
            pending.extend(c.to_lowercase());
            let mut ok = true;
            for p in pending.drain(..) {
                match want.next() {
                    Some(w) if *w == p => {}
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                break;
            }
            end = start + i + c.len_utf8();
            if want.len() == 0 {
                matched = true;
                break;
            }
        }
        if matched {
            out.push((start, end));
            // Occurrences do not overlap.
            while starts.peek().is_some_and(|i| *i < end) {
                starts.next();
            }
        }
    }
    out
}

fn highlight(body: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(body.len() + ranges.len() * 13);
    let mut at = 0;
    for (s, e) in ranges {
        out.push_str(&body[at..*s]);
        out.push_str("<mark>");
        out.push_str(&body[*s..*e]);
        out.push_str("</mark>");
        at = *e;
    }
    out.push_str(&body[at..]);
    out
}

async fn search(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<SearchQuery>,
) -> ColonyResult<Json<types::GroupSearch>> {
    let q = query.q.ok_or_else(|| missing("q"))?;
    if !(2..=200).contains(&q.chars().count()) {
        return Err(validation("q must be 2 to 200 characters"));
    }
    let (offset, limit) = query.paging.window()?;
    let id = conv_id(&id)?;
    let data = shared.colony.lock();
    let (conv, _) = member_of(&data.messages, &id, caller.0)?;
    let hits: Vec<(&Message, Vec<(usize, usize)>)> = conv
        .order
        .iter()
        .rev()
        .filter_map(|m| data.messages.messages.get(m))
        .filter(|m| !m.deleted)
        .filter_map(|m| {
            let ranges = find_all(&m.body, &q);
            (!ranges.is_empty()).then_some((m, ranges))
        })
        .collect();
    let count = hits.len();
    let results: Vec<types::GroupSearchHit> = hits
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(m, ranges)| {
            let out = render(&data, m, caller.0);
            types::GroupSearchHit {
                extra: Default::default(),
                attachments: out.attachments,
                body_highlight: Some(highlight(&m.body, &ranges)),
                body: out.body,
                conversation_id: out.conversation_id,
                created_at: out.created_at,
                edited_at: out.edited_at,
                id: out.id,
                is_read: out.is_read,
                reactions: out.reactions,
                read_at: out.read_at,
                reply_to: out.reply_to,
                sender: out.sender,
            }
        })
        .collect();
    let has_more = offset + results.len() < count;
    Ok(Json(types::GroupSearch {
        extra: Default::default(),
        count: count as i64,
        pagination: Some(types::PageMeta {
            extra: Default::default(),
            has_more,
            total: count as i64,
        }),
        q,
        results,
    }))
}

async fn send(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    FastJson(body): FastJson<MessageIn>,
) -> ColonyResult<(StatusCode, Json<types::Message>)> {
    let id = conv_id(&id)?;
    let mut guard = shared.colony.lock();
    let data = &mut *guard;
    member_of(&data.messages, &id, caller.0)?;
    let m = messages::post_message(data, id, caller.0, body)?;
    let m = data.messages.message(&m)?;
    Ok((StatusCode::CREATED, Json(render(data, m, caller.0))))
}

#[derive(Debug, Deserialize)]
struct TransferQuery {
    new_creator_username: Option<String>,
}

async fn transfer_creator(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<TransferQuery>,
) -> ColonyResult<Json<types::CreatorTransfer>> {
    let name = q
        .new_creator_username
        .ok_or_else(|| missing("new_creator_username"))?;
    let id = conv_id(&id)?;
    let mut data = shared.colony.lock();
    let target = data.find_user(&name)?;
    let username = data.user(&target)?.username.clone();
    let (_, g) = member_of(&data.messages, &id, caller.0)?;
    if g.creator != caller.0 {
        return Err(ColonyError::forbidden(
            "only the creator may hand over the creator role",
        ));
    }
    if !g.is_member(target) {
        return Err(ColonyError::not_found("member"));
    }
    let g = group_mut(&mut data.messages, &id)?;
    g.creator = target;
    if let Some(m) = g.member_mut(target) {
        m.admin = true;
    }
    Ok(Json(types::CreatorTransfer {
        extra: Default::default(),
        creator_id: target,
        creator_username: username,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_finds_every_case_insensitive_occurrence() {
        let body = "Tool use, TOOLS and a tool";
        let ranges = find_all(body, "tool");
        assert_eq!(ranges.len(), 3);
        assert_eq!(
            highlight(body, &ranges),
            "<mark>Tool</mark> use, <mark>TOOL</mark>S and a <mark>tool</mark>"
        );
        assert!(find_all("abc", "abcd").is_empty());
        assert_eq!(find_all("ÉTÉ été", "été").len(), 2);
    }

    #[test]
    fn morning_is_always_ahead() {
        let now = Utc::now();
        let m = next_morning(now);
        assert!(m > now && m - now <= Duration::days(1));
    }
}
