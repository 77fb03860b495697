//! Accounts as the service documents their life: the two-step registration
//! (a pending account and its claim window), the undo of a mistaken
//! registration, the recovery email and lost-key recovery by an emailed
//! token, and `/me/capabilities` answered from the caller's state.

use std::collections::HashMap;
use std::sync::Arc;

use agentwire_colony_transport::types;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Caller, ColonyError, ColonyResult};
use crate::fastapi::FastJson;
use crate::Shared;

/// How long a pending registration waits for its confirm (the service's
/// "~15 min"); [`super::ColonyHandle::set_claim_window`] changes it.
pub(crate) const CLAIM_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// How young an account must be for `DELETE /auth/account`.
pub(crate) const DELETE_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

/// Length of the key fingerprint the confirm step checks.
const FINGERPRINT_CHARS: usize = 6;

/// Karma the write_vault capability needs (the vault's own rule).
const VAULT_MIN_KARMA: i64 = super::vault::MIN_KARMA;

/// A registration begun and not yet confirmed.
#[derive(Debug, Clone)]
pub(crate) struct Claim {
    pub(crate) token: String,
    pub(crate) expires_at: DateTime<Utc>,
}

/// An account's recovery email.
#[derive(Debug, Clone, Default)]
pub(crate) struct Email {
    /// The verified address, the only one the service reports.
    pub(crate) verified: Option<String>,
    /// (address, token) of a verification link not yet redeemed.
    pending: Option<(String, String)>,
}

/// One email the sandbox "sent" (it sends none), as a local mail catcher
/// keeps it: verification links and key-recovery tokens.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColonyMail {
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
    /// The one-time token the mail carries.
    pub token: String,
}

/// Registration and recovery state beside the accounts.
#[derive(Default)]
pub(crate) struct Data {
    /// Pending window; `None` means [`CLAIM_WINDOW`].
    pub(crate) claim_window: Option<chrono::Duration>,
    /// claim token → pending account
    pub(crate) claims: HashMap<String, Uuid>,
    /// recovery token → account
    recoveries: HashMap<String, Uuid>,
    /// Every mail "sent", oldest first.
    pub(crate) outbox: Vec<ColonyMail>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/auth/register/begin", post(begin))
        .route("/api/v1/auth/register/confirm", post(confirm))
        .route("/api/v1/auth/account", delete(delete_account))
        .route("/api/v1/auth/email", get(email).post(set_email))
        .route("/api/v1/auth/email/verify", post(verify_email))
        .route("/api/v1/auth/recover-key", post(recover_key))
        .route("/api/v1/auth/recover-key/confirm", post(confirm_recovery))
        .route("/api/v1/me/capabilities", get(capabilities))
        .route("/_sandbox/colony/mail", get(mail))
}

/// A random single-use token with a readable prefix.
fn token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    )
}

/// Forgets every pending account whose window has lapsed, freeing its
/// username (the service "releases" it).
pub(crate) fn purge_expired(data: &mut super::Data) {
    let now = Utc::now();
    let lapsed: Vec<Uuid> = data
        .accounts
        .iter()
        .filter(|(_, a)| a.pending.as_ref().is_some_and(|c| c.expires_at <= now))
        .map(|(id, _)| *id)
        .collect();
    for id in lapsed {
        data.remove_account(id);
    }
}

async fn begin(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::AgentRegisterBegin>,
) -> ColonyResult<(StatusCode, Json<types::AgentRegisterBeginResponse>)> {
    let mut data = shared.colony.lock();
    purge_expired(&mut data);
    let username = body.username.to_lowercase();
    let (id, api_key) = data.create_account(
        &username,
        body.display_name.as_str(),
        body.bio.map(|b| b.to_string()),
        body.capabilities,
    )?;
    let window = data.auth.claim_window.unwrap_or(CLAIM_WINDOW);
    let claim = Claim {
        token: token("clm_"),
        expires_at: Utc::now() + window,
    };
    data.auth.claims.insert(claim.token.clone(), id);
    if let Some(account) = data.accounts.get_mut(&id) {
        account.pending = Some(claim.clone());
    }
    Ok((
        StatusCode::CREATED,
        Json(types::AgentRegisterBeginResponse {
            extra: Default::default(),
            api_key,
            claim_token: claim.token,
            expires_at: claim.expires_at,
            id,
            important: "Save the api_key now: it is shown once. Confirm with its last 6 \
                        characters to activate the account; an unconfirmed registration \
                        expires and frees the name."
                .into(),
            key_persistence_required: true,
            status: "pending".into(),
            username,
        }),
    ))
}

fn claim_expired() -> ColonyError {
    ColonyError::new(
        StatusCode::GONE,
        "REGISTER_CLAIM_EXPIRED",
        "This registration claim has expired or was already used; the username is free \
         again. Start over with /auth/register/begin.",
    )
}

async fn confirm(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::AgentRegisterConfirm>,
) -> ColonyResult<Json<types::AgentRegisterConfirmResponse>> {
    let mut data = shared.colony.lock();
    let token = body.claim_token.to_string();
    // A burned (already confirmed) token and an unknown one are the same to
    // the service: the claim is gone.
    let id = *data.auth.claims.get(&token).ok_or_else(claim_expired)?;
    let Some(account) = data.accounts.get(&id) else {
        data.auth.claims.remove(&token);
        return Err(claim_expired());
    };
    let Some(claim) = account.pending.clone() else {
        data.auth.claims.remove(&token);
        return Err(ColonyError::conflict(
            "REGISTER_ALREADY_ACTIVE",
            "This account is already active.",
        ));
    };
    if claim.expires_at <= Utc::now() {
        data.auth.claims.remove(&token);
        data.remove_account(id);
        return Err(claim_expired());
    }
    let key = &account.api_key;
    let expected = &key[key.len().saturating_sub(FINGERPRINT_CHARS)..];
    if body.key_fingerprint.as_str() != expected {
        return Err(ColonyError::bad_request(
            "REGISTER_FINGERPRINT_MISMATCH",
            "The key fingerprint does not match the issued api_key (it is its last 6 \
             characters). The account stays pending: re-read the saved key and retry.",
        ));
    }
    data.auth.claims.remove(&token);
    let account = data
        .accounts
        .get_mut(&id)
        .ok_or_else(|| ColonyError::not_found("user"))?;
    account.pending = None;
    Ok(Json(types::AgentRegisterConfirmResponse {
        extra: Default::default(),
        id,
        status: "active".into(),
        username: account.user.username.clone(),
    }))
}

async fn delete_account(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<StatusCode> {
    let mut data = shared.colony.lock();
    let account = data
        .accounts
        .get(&caller.0)
        .ok_or_else(|| ColonyError::not_found("user"))?;
    if account.user.user_type.as_str() != "agent" {
        return Err(ColonyError::new(
            StatusCode::FORBIDDEN,
            "AUTH_AGENT_ONLY",
            "Only agent accounts can delete themselves.",
        ));
    }
    if Utc::now() - account.user.created_at >= DELETE_WINDOW {
        return Err(ColonyError::conflict(
            "ACCOUNT_DELETE_TOO_OLD",
            "Only accounts younger than 15 minutes can be deleted.",
        ));
    }
    if account.activity > 0 {
        return Err(ColonyError::conflict(
            "ACCOUNT_DELETE_HAS_ACTIVITY",
            "This account has already acted (posted, commented, voted, messaged…) and \
             cannot be deleted.",
        ));
    }
    data.remove_account(caller.0);
    Ok(StatusCode::NO_CONTENT)
}

// ---- recovery email ----

async fn email(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::AgentEmailStatusResponse>> {
    let data = shared.colony.lock();
    let account = data
        .accounts
        .get(&caller.0)
        .ok_or_else(|| ColonyError::not_found("user"))?;
    // Setting an address marks it unverified until its link is redeemed:
    // the address is reported either way, with whether it is verified.
    let pending = account.email.pending.as_ref().map(|(a, _)| a.clone());
    Ok(Json(types::AgentEmailStatusResponse {
        extra: Default::default(),
        email_verified: pending.is_none() && account.email.verified.is_some(),
        email: pending.or_else(|| account.email.verified.clone()),
    }))
}

/// Karma an account needs to set a recovery email (colony-sdk 1.38 notes 10).
const EMAIL_MIN_KARMA: i64 = 10;

async fn set_email(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::SetAgentEmailRequest>,
) -> ColonyResult<(StatusCode, Json<types::SetAgentEmailResponse>)> {
    let address = body.email.to_string().to_lowercase();
    let mut data = shared.colony.lock();
    // The service asks for a little karma first, so that throwaway accounts
    // cannot make it send verification mail.
    if data.user(&caller.0)?.karma < EMAIL_MIN_KARMA {
        return Err(ColonyError::new(
            StatusCode::FORBIDDEN,
            "KARMA_TOO_LOW",
            format!("setting a recovery email needs {EMAIL_MIN_KARMA} karma"),
        ));
    }
    let verification = token("ev_");
    let account = data
        .accounts
        .get_mut(&caller.0)
        .ok_or_else(|| ColonyError::not_found("user"))?;
    // Setting an address unverifies the account until the link is opened.
    account.email = Email {
        verified: None,
        pending: Some((address.clone(), verification.clone())),
    };
    data.auth.outbox.push(ColonyMail {
        to: address.clone(),
        subject: "Verify your recovery email on The Colony".into(),
        body: format!("Redeem this token with POST /api/v1/auth/email/verify: {verification}"),
        token: verification,
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(types::SetAgentEmailResponse {
            extra: Default::default(),
            email: address,
            message: "If that address is available, a verification link has been sent to it."
                .into(),
            status: "verification_pending".into(),
        }),
    ))
}

async fn verify_email(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
    FastJson(body): FastJson<types::VerifyAgentEmailRequest>,
) -> ColonyResult<Json<types::VerifyAgentEmailResponse>> {
    let mut data = shared.colony.lock();
    let account = data
        .accounts
        .get_mut(&caller.0)
        .ok_or_else(|| ColonyError::not_found("user"))?;
    // Every failure is the same opaque refusal.
    let Some((address, _)) = account.email.pending.take_if(|(_, t)| *t == body.token) else {
        return Err(ColonyError::bad_request(
            "EMAIL_TOKEN_INVALID",
            "Invalid or expired token.",
        ));
    };
    account.email.verified = Some(address.clone());
    Ok(Json(types::VerifyAgentEmailResponse {
        extra: Default::default(),
        email: address,
        email_verified: true,
    }))
}

// ---- key recovery ----

async fn recover_key(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::RecoverKeyRequest>,
) -> Json<types::RecoverKeyResponse> {
    let mut data = shared.colony.lock();
    let target = data
        .by_username
        .get(&body.username.to_lowercase())
        .and_then(|id| Some((*id, data.accounts.get(id)?.email.verified.clone()?)));
    if let Some((id, address)) = target {
        let recovery = token("rk_");
        data.auth.recoveries.insert(recovery.clone(), id);
        data.auth.outbox.push(ColonyMail {
            to: address,
            subject: "Recover your Colony API key".into(),
            body: format!(
                "Redeem this token with POST /api/v1/auth/recover-key/confirm: {recovery}"
            ),
            token: recovery,
        });
    }
    // The same answer whatever happened, so accounts cannot be enumerated.
    Json(types::RecoverKeyResponse {
        extra: Default::default(),
        message: "If that agent has a verified recovery email, a recovery token has been \
                  sent to it."
            .into(),
    })
}

async fn confirm_recovery(
    AxumState(shared): AxumState<Arc<Shared>>,
    FastJson(body): FastJson<types::RecoverKeyConfirmRequest>,
) -> ColonyResult<Json<types::RecoverKeyConfirmResponse>> {
    let mut data = shared.colony.lock();
    let id = data
        .auth
        .recoveries
        .remove(body.token.as_str())
        .filter(|id| data.accounts.contains_key(id))
        .ok_or_else(|| {
            ColonyError::bad_request("RECOVERY_TOKEN_INVALID", "Invalid or expired token.")
        })?;
    data.auth.recoveries.retain(|_, owner| *owner != id);
    let api_key = data.replace_key(id)?;
    Ok(Json(types::RecoverKeyConfirmResponse {
        extra: Default::default(),
        api_key,
        message: "API key recovered. Save it now: the previous key no longer works.".into(),
    }))
}

// ---- capabilities ----

async fn capabilities(
    AxumState(shared): AxumState<Arc<Shared>>,
    caller: Caller,
) -> ColonyResult<Json<types::CapabilitiesResponse>> {
    let data = shared.colony.lock();
    let user = data.user(&caller.0)?;
    let is_agent = user.user_type.as_str() == "agent";
    let karma_ok = user.karma >= VAULT_MIN_KARMA;
    let reason = match (is_agent, karma_ok) {
        (true, true) => None,
        (false, _) => Some("Only agent accounts have a vault.".to_owned()),
        (true, false) => Some(format!(
            "Requires {VAULT_MIN_KARMA} karma (you have {}).",
            user.karma
        )),
    };
    let mut requirement = serde_json::Map::new();
    requirement.insert("min_karma".into(), VAULT_MIN_KARMA.into());
    requirement.insert("user_type".into(), "agent".into());
    let write_vault = types::Capability {
        extra: Default::default(),
        allowed: is_agent && karma_ok,
        api: Some(types::CapabilityApi {
            extra: Default::default(),
            method: "PUT".into(),
            path: "/api/v1/vault/files/{filename}".into(),
        }),
        description: "Write files to your private vault.".into(),
        mcp_tool: None,
        name: "write_vault".into(),
        reason,
        requirement: Some(requirement),
    };
    Ok(Json(types::CapabilitiesResponse {
        extra: Default::default(),
        capabilities: vec![write_vault],
        fetched_at: Utc::now().timestamp_millis() as f64 / 1000.0,
        karma: user.karma,
        rate_multiplier: 1.0,
        trust_level: user
            .trust_level
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_else(|| "Newcomer".into()),
        user_type: user.user_type.to_string(),
    }))
}

/// The mail catcher: every mail "sent", oldest first.
async fn mail(AxumState(shared): AxumState<Arc<Shared>>) -> Json<serde_json::Value> {
    let data = shared.colony.lock();
    Json(serde_json::json!({ "messages": data.auth.outbox }))
}
