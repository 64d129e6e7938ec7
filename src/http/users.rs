//! The signed-in user's profile and addresses. Every address message names
//! the caller as owner, so another user's address is a 404.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::session::Authenticated;
use super::{ask, AppState};
use crate::actors::user::{
    AddAddress, DeleteAddress, GetAddress, GetUser, ListAddresses, UpdateAddress, UpdateProfile,
};
use crate::domain::{Address, AddressFields, PersonName, PhoneNumber, ProfileChanges, User};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/me")
            .route(web::get().to(get_profile))
            .route(web::patch().to(update_profile)),
    )
    .service(
        web::resource("/users/me/addresses")
            .route(web::get().to(list_addresses))
            .route(web::post().to(add_address)),
    )
    .service(
        web::resource("/users/me/addresses/{id}")
            .route(web::get().to(get_address))
            .route(web::patch().to(update_address))
            .route(web::delete().to(delete_address)),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileRequest {
    pub name: Option<String>,
    pub phone_number: Option<String>,
}

impl ProfileRequest {
    fn into_changes(self) -> Result<ProfileChanges, ApiError> {
        let mut errors = Vec::new();
        let name = self
            .name
            .and_then(|raw| PersonName::parse(&raw).map_err(|e| errors.push(e)).ok());
        let phone_number = self
            .phone_number
            .and_then(|raw| PhoneNumber::parse(&raw).map_err(|e| errors.push(e)).ok());
        if errors.is_empty() {
            Ok(ProfileChanges { name, phone_number })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// The caller's profile.
#[utoipa::path(get, path = "/users/me", tag = "users", security(("session" = [])),
    responses(
        (status = 200, description = "The profile", body = User),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_profile(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = ask(
        state.registry.user(),
        GetUser {
            user_id: caller.user_id,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// Changes the caller's name or phone number.
#[utoipa::path(patch, path = "/users/me", tag = "users", security(("session" = [])), request_body = ProfileRequest,
    responses(
        (status = 200, description = "The updated profile", body = User),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_profile(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<ProfileRequest>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_inner().into_changes()?;
    let user = ask(
        state.registry.user(),
        UpdateProfile {
            user_id: caller.user_id,
            changes,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Ok().json(user))
}

/// The caller's addresses, the default one first.
#[utoipa::path(get, path = "/users/me/addresses", tag = "users", security(("session" = [])),
    responses(
        (status = 200, description = "The addresses", body = [Address]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_addresses(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let addresses = ask(
        state.registry.user(),
        ListAddresses {
            user_id: caller.user_id,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Ok().json(addresses))
}

/// Adds an address; the first one becomes the default.
#[utoipa::path(post, path = "/users/me/addresses", tag = "users", security(("session" = [])), request_body = AddressFields,
    responses(
        (status = 201, description = "Created; Location names it", body = Address),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: web::Json<AddressFields>,
) -> Result<HttpResponse, ApiError> {
    let address = body.into_inner().into_new()?;
    let address = ask(
        state.registry.user(),
        AddAddress {
            user_id: caller.user_id,
            address,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/users/me/addresses/{}", address.id),
        ))
        .json(address))
}

/// One of the caller's addresses.
#[utoipa::path(get, path = "/users/me/addresses/{id}", tag = "users", security(("session" = [])),
    params(("id" = i64, Path, description = "Address id")),
    responses(
        (status = 200, description = "The address", body = Address),
        (status = 404, description = "No such address of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let address = ask(
        state.registry.user(),
        GetAddress {
            user_id: caller.user_id,
            address_id: path.into_inner(),
        },
        "address",
    )
    .await?;
    Ok(HttpResponse::Ok().json(address))
}

/// Changes some fields of one of the caller's addresses.
#[utoipa::path(patch, path = "/users/me/addresses/{id}", tag = "users", security(("session" = [])),
    params(("id" = i64, Path, description = "Address id")), request_body = AddressFields,
    responses(
        (status = 200, description = "The updated address", body = Address),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such address of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<i64>,
    body: web::Json<AddressFields>,
) -> Result<HttpResponse, ApiError> {
    let changes = body.into_inner().into_changes()?;
    let address = ask(
        state.registry.user(),
        UpdateAddress {
            user_id: caller.user_id,
            address_id: path.into_inner(),
            changes,
        },
        "address",
    )
    .await?;
    Ok(HttpResponse::Ok().json(address))
}

/// Deletes one of the caller's addresses.
#[utoipa::path(delete, path = "/users/me/addresses/{id}", tag = "users", security(("session" = [])),
    params(("id" = i64, Path, description = "Address id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such address of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.user(),
        DeleteAddress {
            user_id: caller.user_id,
            address_id: path.into_inner(),
        },
        "address",
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
