//! Who is calling: the session token from the `access_token` cookie or an
//! `Authorization: Bearer` header, checked for signature, expiry and
//! revocation, and against the user it names: a session is only as good as
//! the user behind it, and the role is decided now, not when it was issued.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;

use super::error::ApiError;
use super::{ask, AppState};
use crate::actors::otp::IsRevoked;
use crate::actors::otp::OtpActor;
use crate::actors::user::GetUser;
use crate::actors::user::UserActor;
use crate::actors::ActorError;
use crate::domain::Role;

pub const SESSION_COOKIE: &str = "access_token";

/// A signed-in caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    pub jti: String,
    pub expires_at: DateTime<Utc>,
}

impl Authenticated {
    /// The user whose things alone the caller may see: none for an admin.
    pub fn own_only(&self) -> Option<i64> {
        (self.role != Role::Admin).then_some(self.user_id)
    }
}

/// The email of `user_id`; `None` when there is no such user.
async fn email_of(state: &AppState, user_id: i64) -> Result<Option<Arc<str>>, ApiError> {
    if let Some(email) = state.known_users.emails.get(&user_id) {
        return Ok(Some(email));
    }
    match state
        .registry
        .get::<UserActor>()
        .call(GetUser { user_id })
        .await?
    {
        Ok(user) => {
            let email: Arc<str> = user.email.into();
            state.known_users.emails.insert(user_id, email.clone());
            Ok(Some(email))
        }
        Err(ActorError::NotFound) => Ok(None),
        Err(err) => Err(ApiError::from_actor(err, "user")),
    }
}

/// A cookie that makes the browser forget its session cookie.
pub fn session_cookie_removal(state: &AppState) -> Cookie<'static> {
    let mut removal = Cookie::build(SESSION_COOKIE, "")
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.cookie_secure)
        .finish();
    removal.make_removal();
    removal
}

/// A signed-in caller with the admin role; a customer gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub Authenticated);

fn token_of(req: &HttpRequest) -> Option<String> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    bearer.or_else(|| {
        req.cookie(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_owned())
    })
}

/// Whether the request carries a session token at all (valid or not).
pub fn has_token(req: &HttpRequest) -> bool {
    token_of(req).is_some()
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = token_of(req);
        Box::pin(async move {
            let state = state.expect("AppState is registered on the app");
            let token = token.ok_or(ApiError::Unauthorized(
                "sign in first: no session token was sent",
            ))?;
            let invalid = || ApiError::Unauthorized("the session token is invalid or expired");
            let claims = state.signer.verify(&token).map_err(|_| invalid())?;
            let user_id = claims.user_id().map_err(|_| invalid())?;
            let (revoked, email) = futures_util::join!(
                ask(
                    state.registry.get::<OtpActor>(),
                    IsRevoked {
                        jti: claims.jti.clone(),
                        user_id,
                    },
                    "session",
                ),
                email_of(&state, user_id),
            );
            if revoked? {
                return Err(ApiError::Unauthorized("the session has been signed out"));
            }
            // The id names another email when the database was replaced
            // under tokens signed with the same secret.
            let email =
                email?
                    .filter(|email| **email == *claims.email)
                    .ok_or(ApiError::Unauthorized(
                        "the user of this session no longer exists",
                    ))?;
            Ok(Authenticated {
                user_id,
                role: state.admins.role_for(&email),
                expires_at: claims.expires_at(),
                email: claims.email,
                jti: claims.jti,
            })
        })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Authenticated::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.role == Role::Admin {
                Ok(Admin(caller))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}
