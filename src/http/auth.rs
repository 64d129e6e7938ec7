//! Passwordless sign-in: request a code by email, verify it for a session.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cart::{guest_cart_of, CART_COOKIE};
use super::client::Client;
use super::error::{ApiError, Problem};
use super::json::JsonBody;
use super::session::{session_cookie_removal, Authenticated, SESSION_COOKIE};
use super::users::{PhoneInput, UserBody};
use super::{ask, schemas, AppState};
use crate::actors::cart::{CartActor, MergeGuestCart};
use crate::actors::otp::OtpActor;
use crate::actors::otp::{RequestOtp, RevokeToken, VerifyOtp};
use crate::domain::{Email, OtpCode, PhoneNumber, ValidationError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtpRequest {
    #[schema(schema_with = schemas::email, example = "ana@example.com")]
    pub email: String,
    /// Accepted for clients of the original API, checked, and otherwise
    /// ignored here: send it with the code to `/auth/otp/verify`, which
    /// records it on the account.
    #[schema(schema_with = schemas::optional_phone)]
    pub phone_number: Option<PhoneInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyRequest {
    #[schema(schema_with = schemas::email, example = "ana@example.com")]
    pub email: String,
    #[schema(schema_with = schemas::otp, example = "042917")]
    pub otp: String,
    /// Recorded on the account when it has none yet.
    #[schema(schema_with = schemas::optional_phone)]
    pub phone_number: Option<PhoneInput>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    pub message: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody<'a> {
    pub user: UserBody<'a>,
    pub token: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Parses every field, collecting all the errors rather than the first.
fn parse_login_fields(
    email: &str,
    otp: Option<&str>,
    phone_number: Option<PhoneInput>,
) -> Result<(Email, Option<OtpCode>, Option<PhoneNumber>), ApiError> {
    let mut errors: Vec<ValidationError> = Vec::new();
    let email = Email::parse(email).map_err(|e| errors.push(e)).ok();
    let otp = otp.and_then(|raw| OtpCode::parse(raw).map_err(|e| errors.push(e)).ok());
    let phone = phone_number.and_then(|raw| raw.parse().map_err(|e| errors.push(e)).ok());
    match email {
        Some(email) if errors.is_empty() => Ok((email, otp, phone)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Sends a sign-in code to the email.
///
/// Answers the same whether or not an account exists for the email.
#[utoipa::path(post, path = "/auth/otp", tag = "auth", request_body = OtpRequest,
    responses(
        (status = 202, description = "Code sent", body = MessageBody),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Send limit reached; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The code could not be sent now (the broker is not taking mail events, or the code store is down); nothing was stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_otp(
    state: web::Data<AppState>,
    client: Client,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: OtpRequest = body.read().await?;
    let (email, _, _) = parse_login_fields(&body.email, None, body.phone_number)?;
    ask(
        state.registry.get::<OtpActor>(),
        RequestOtp {
            email,
            client: client.0,
        },
        "code",
    )
    .await?;
    Ok(HttpResponse::Accepted().json(MessageBody {
        message: "OTP sent successfully",
    }))
}

/// Verifies a code and starts a session.
///
/// Creates the user on first login. The token is set as the `access_token`
/// cookie and returned in the body.
#[utoipa::path(post, path = "/auth/otp/verify", tag = "auth", request_body = VerifyRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionBody),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong, expired or used code", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn verify_otp(
    state: web::Data<AppState>,
    client: Client,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: VerifyRequest = body.read().await?;
    let (email, code, phone_number) =
        parse_login_fields(&body.email, Some(&body.otp), body.phone_number)?;
    let code = code.expect("a code that failed to parse is a validation error");
    let session = ask(
        state.registry.get::<OtpActor>(),
        VerifyOtp {
            email,
            code,
            phone_number,
            client: client.0,
        },
        "code",
    )
    .await?;
    let max_age = time::Duration::seconds(state.signer.ttl().as_secs() as i64);
    let cookie = Cookie::build(SESSION_COOKIE, session.token.clone())
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(max_age)
        .secure(state.cookie_secure)
        .finish();
    let mut response = HttpResponse::Ok();
    response.cookie(cookie);
    if req.cookie(CART_COOKIE).is_some() {
        // The guest's cart becomes the user's; a merge that fails leaves the
        // cookie, so the next sign-in tries again. A cookie this server did
        // not issue names no cart: it just goes.
        let merged = match guest_cart_of(&req, &state.guest_carts) {
            Some(guest) => state
                .registry
                .get::<CartActor>()
                .call(MergeGuestCart {
                    guest,
                    user_id: session.user.id,
                })
                .await
                .map(|merged| merged.map(drop)),
            None => Ok(Ok(())),
        };
        match merged {
            Ok(Ok(())) => {
                let mut removal = Cookie::build(CART_COOKIE, "")
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .path("/")
                    .secure(state.cookie_secure)
                    .finish();
                removal.make_removal();
                response.cookie(removal);
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the guest cart could not be merged at sign-in")
            }
            Err(err) => {
                tracing::warn!(error = %err, "the guest cart could not be merged at sign-in")
            }
        }
    }
    Ok(response.json(SessionBody {
        user: UserBody::from(&session.user),
        token: &session.token,
        expires_at: session.expires_at,
    }))
}

/// Ends the session: the token is revoked until it expires.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("session" = [])),
    responses(
        (status = 204, description = "Signed out; cookie cleared"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.get::<OtpActor>(),
        RevokeToken {
            jti: caller.jti,
            expires_at: caller.expires_at,
        },
        "session",
    )
    .await?;
    Ok(HttpResponse::NoContent()
        .cookie(session_cookie_removal(&state))
        .finish())
}
