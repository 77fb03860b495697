//! Identity: owner registration (invite code + emailed one-time code),
//! login, external agent identities, and who the caller is.

use agentwire_mycel_transport::types;
use agentwire_runtime::Result;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::{Ack, Client, ExternalUser, OtpVerified, Session, User};

/// Owner registration and login; these calls need no token. See
/// [`Client::auth`].
#[derive(Debug, Clone, Copy)]
pub struct Auth<'a> {
    pub(crate) client: &'a Client,
}

/// External agent identities. See [`Client::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    pub(crate) client: &'a Client,
}

/// The caller's identity. See [`Client::me`].
#[derive(Debug, Clone, Copy)]
pub struct Me<'a> {
    pub(crate) client: &'a Client,
}

/// Takes a secret out of an answer: returns the first of `keys` found
/// (registered with the redactor, and removed: the model serializes it
/// masked) and masks any other.
fn take_secret(client: &Client, map: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    let mut found = None;
    for key in keys {
        if let Some(Value::String(s)) = map.get(*key) {
            client.keep_secret(s);
            if found.is_none() {
                found = Some(s.clone());
                map.remove(*key);
            } else {
                map.insert((*key).to_owned(), Value::String("[REDACTED]".into()));
            }
        }
    }
    found
}

/// The decode error of an answer that lacks its secret.
fn no_secret(client: &Client, what: &str, map: Map<String, Value>) -> agentwire_runtime::Error {
    client.decode_error(format!("the answer has no {what}"), &Value::Object(map))
}

impl Auth<'_> {
    /// Starts registering an owner: Mycel emails a one-time code to `email`.
    /// The invite code must be valid.
    pub async fn send_otp(&self, email: &str, password: &str, invite_code: &str) -> Result<Ack> {
        let c = self.client;
        c.keep_secret(password);
        let body = types::SendOtpRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            invite_code: invite_code.to_owned(),
            extra: Map::new(),
        };
        let out = c.t().auth_send_otp().body(body).await?;
        c.decode(Value::Object(out.0))
    }

    /// Checks the emailed code; the answer's temporary token finishes the
    /// registration.
    pub async fn verify_otp(&self, email: &str, code: &str) -> Result<OtpVerified> {
        let c = self.client;
        let body = types::VerifyOtpRequest {
            email: email.to_owned(),
            token: code.to_owned(),
            extra: Map::new(),
        };
        let mut extra = c.t().auth_verify_otp().body(body).await?.0;
        let Some(token) = take_secret(c, &mut extra, &["temp_token"]) else {
            return Err(no_secret(c, "temp_token", extra));
        };
        Ok(OtpVerified {
            temp_token: SecretString::from(token),
            extra,
        })
    }

    /// Creates the owner account; returns its session.
    pub async fn complete_register(
        &self,
        temp_token: &SecretString,
        invite_code: &str,
    ) -> Result<Session> {
        let c = self.client;
        let body = types::CompleteRegisterRequest {
            temp_token: temp_token.expose_secret().to_owned(),
            invite_code: invite_code.to_owned(),
            extra: Map::new(),
        };
        let out = c.t().auth_complete_register().body(body).await?;
        session(c, out.0)
    }

    /// Logs in with an email address or numeric Mycel id and a password.
    pub async fn login(&self, identifier: &str, password: &str) -> Result<Session> {
        let c = self.client;
        c.keep_secret(password);
        let body = types::LoginRequest {
            identifier: identifier.to_owned(),
            password: password.to_owned(),
            extra: Map::new(),
        };
        let out = c.t().auth_login().body(body).await?;
        session(c, out.0)
    }
}

impl Auth<'_> {
    /// Creates a guest owner: a restricted owner account made without an
    /// invite code, an email or a password, for trying Mycel out. Returns its
    /// session; `display_name` is the name others see (the backend picks
    /// one when `None`). The token is the account's only credential: store
    /// it, or the account is gone for good.
    pub async fn create_guest_owner(&self, display_name: Option<&str>) -> Result<Session> {
        let c = self.client;
        let body = types::CreateGuestOwnerRequest {
            display_name: display_name.map(str::to_owned),
            extra: Map::new(),
        };
        let out = c.t().auth_create_guest_owner().body(body).await?;
        session(c, out.0)
    }
}

fn session(c: &Client, mut extra: Map<String, Value>) -> Result<Session> {
    let Some(token) = take_secret(c, &mut extra, &["token", "access_token"]) else {
        return Err(no_secret(c, "token", extra));
    };
    let user = match extra.remove("user") {
        Some(u) => c.decode(u)?,
        None => User::default(),
    };
    Ok(Session {
        token: SecretString::from(token),
        user,
        extra,
    })
}

impl Users<'_> {
    /// Creates an external agent identity owned by the caller (an owner)
    /// and returns its own bearer token. The token is shown once.
    pub async fn create_external(&self, user_id: &str, display_name: &str) -> Result<ExternalUser> {
        let c = self.client;
        crate::config::non_empty("user_id", user_id)?;
        let body = types::CreateExternalUserRequest {
            user_id: user_id.to_owned(),
            display_name: display_name.to_owned(),
            extra: Map::new(),
        };
        let mut extra = c.authed()?.users_create_external().body(body).await?.0;
        let Some(token) = take_secret(c, &mut extra, &["token", "access_token"]) else {
            return Err(no_secret(c, "token", extra));
        };
        let mut field = |k: &str, default: &str| match extra.remove(k) {
            Some(Value::String(s)) => s,
            Some(other) => {
                extra.insert(k.to_owned(), other);
                default.to_owned()
            }
            None => default.to_owned(),
        };
        Ok(ExternalUser {
            user_id: field("user_id", user_id),
            display_name: field("display_name", display_name),
            token: SecretString::from(token),
            extra,
        })
    }
}

impl Me<'_> {
    /// Who the token belongs to.
    pub async fn whoami(&self) -> Result<User> {
        let c = self.client;
        let out = c.authed()?.me_whoami().await?;
        c.decode(Value::Object(out.0))
    }
}
