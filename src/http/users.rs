//! The signed-in user's profile and addresses, and the erasure of an
//! account. Every address message names the caller as owner, so another
//! user's address is a 404.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::json::JsonBody;
use super::path_id::Id;
use super::session::{Admin, Authenticated};
use super::{ask, schemas, AppState};
use crate::actors::user::UserActor;
use crate::actors::user::{
    AddAddress, DeleteAddress, DeleteUser, GetAddress, GetUser, ListAddresses, UpdateAddress,
    UpdateProfile,
};
use crate::domain::{
    Address, AddressChanges, AddressDraft, NewAddress, PersonName, PhoneNumber, ProfileChanges,
    Role, User, ValidationError,
};

/// A user as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserBody<'a> {
    pub id: i64,
    #[schema(format = Email)]
    pub email: &'a str,
    /// Kept as the client sent it, as text.
    pub phone_number: Option<&'a str>,
    pub name: Option<&'a str>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a User> for UserBody<'a> {
    fn from(user: &'a User) -> UserBody<'a> {
        UserBody {
            id: user.id,
            email: &user.email,
            phone_number: user.phone_number.as_deref(),
            name: user.name.as_deref(),
            role: user.role,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// An address as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Address)]
pub struct AddressBody<'a> {
    pub id: i64,
    pub label: Option<&'a str>,
    pub street: &'a str,
    pub city: &'a str,
    pub state: Option<&'a str>,
    pub zip_code: &'a str,
    pub country: &'a str,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a Address> for AddressBody<'a> {
    fn from(address: &'a Address) -> AddressBody<'a> {
        AddressBody {
            id: address.id,
            label: address.label.as_deref(),
            street: &address.street,
            city: &address.city,
            state: address.state.as_deref(),
            zip_code: &address.zip_code,
            country: &address.country,
            is_default: address.is_default,
            created_at: address.created_at,
            updated_at: address.updated_at,
        }
    }
}

/// A phone number as the original API sent it (a JSON number) or as text;
/// either way it is kept as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PhoneInput {
    Text(String),
    Number(#[serde(deserialize_with = "super::json::integer")] i64),
}

impl PhoneInput {
    pub fn parse(self) -> Result<PhoneNumber, ValidationError> {
        match self {
            PhoneInput::Text(text) => PhoneNumber::parse(&text),
            PhoneInput::Number(number) => PhoneNumber::parse(&number.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileRequest {
    #[schema(schema_with = schemas::optional_name)]
    pub name: Option<String>,
    #[schema(schema_with = schemas::optional_phone)]
    pub phone_number: Option<PhoneInput>,
}

impl ProfileRequest {
    fn into_changes(self) -> Result<ProfileChanges, ApiError> {
        let mut errors = Vec::new();
        let name = self
            .name
            .and_then(|raw| PersonName::parse(&raw).map_err(|e| errors.push(e)).ok());
        let phone_number = self
            .phone_number
            .and_then(|raw| raw.parse().map_err(|e| errors.push(e)).ok());
        if errors.is_empty() {
            Ok(ProfileChanges { name, phone_number })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// An address as a client sends it: to create one (street, city, zipCode
/// and country required, see `NewAddressRequest`), or to change the fields
/// present (and not null).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressRequest {
    #[schema(schema_with = schemas::optional_label)]
    pub label: Option<String>,
    #[schema(schema_with = schemas::optional_street)]
    pub street: Option<String>,
    #[schema(schema_with = schemas::optional_city)]
    pub city: Option<String>,
    #[schema(schema_with = schemas::optional_state)]
    pub state: Option<String>,
    #[schema(schema_with = schemas::optional_zip_code)]
    pub zip_code: Option<String>,
    #[schema(schema_with = schemas::optional_country)]
    pub country: Option<String>,
    pub is_default: Option<bool>,
}

impl From<AddressRequest> for AddressDraft {
    fn from(request: AddressRequest) -> AddressDraft {
        AddressDraft {
            label: request.label,
            street: request.street,
            city: request.city,
            state: request.state,
            zip_code: request.zip_code,
            country: request.country,
            is_default: request.is_default,
        }
    }
}

/// The schema of a new address: `AddressRequest` with its required fields.
/// The body is read as an `AddressRequest`, so that every missing field is
/// named in the answer, not only the first.
pub struct NewAddressRequest;

impl utoipa::PartialSchema for NewAddressRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schemas::requiring(
            <AddressRequest as utoipa::PartialSchema>::schema(),
            &[
                ("street", schemas::street()),
                ("city", schemas::city()),
                ("zipCode", schemas::zip_code()),
                ("country", schemas::country()),
            ],
        )
    }
}

impl ToSchema for NewAddressRequest {}

/// The caller's profile (also at `/auth/me`).
#[utoipa::path(get, path = "/users/me", tag = "users", security(("session" = [])),
    responses(
        (status = 200, description = "The profile", body = UserBody),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_profile(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = ask(
        state.registry.get::<UserActor>(),
        GetUser {
            user_id: caller.user_id,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(&user)))
}

/// Changes the caller's name or phone number.
#[utoipa::path(patch, path = "/users/me", tag = "users", security(("session" = [])), request_body = ProfileRequest,
    responses(
        (status = 200, description = "The updated profile", body = UserBody),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_profile(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let changes = body.read::<ProfileRequest>().await?.into_changes()?;
    let user = ask(
        state.registry.get::<UserActor>(),
        UpdateProfile {
            user_id: caller.user_id,
            changes,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(&user)))
}

/// Erases the caller's account: email, phone, name, addresses and cart go;
/// orders stay for the shop's books, anonymised. Every session of the
/// account ends at once, on every node; the email can sign up again later,
/// as a new account.
#[utoipa::path(delete, path = "/users/me", tag = "users", security(("session" = [])),
    responses(
        (status = 204, description = "Erased; the session cookie is cleared"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_me(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.get::<UserActor>(),
        DeleteUser {
            user_id: caller.user_id,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::NoContent()
        .cookie(super::session::session_cookie_removal(&state))
        .finish())
}

/// Erases a user's account (admins), as `DELETE /users/me` does.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("session" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "Erased (or erased before)"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_user(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.get::<UserActor>(),
        DeleteUser {
            user_id: id.into_inner().get(),
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's addresses, the default one first.
#[utoipa::path(get, path = "/users/me/addresses", tag = "users", security(("session" = [])),
    responses(
        (status = 200, description = "The addresses", body = [AddressBody]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_addresses(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let addresses = ask(
        state.registry.get::<UserActor>(),
        ListAddresses {
            user_id: caller.user_id,
        },
        "user",
    )
    .await?;
    let addresses: Vec<AddressBody> = addresses.iter().map(AddressBody::from).collect();
    Ok(HttpResponse::Ok().json(addresses))
}

/// Adds an address; the first one becomes the default.
#[utoipa::path(post, path = "/users/me/addresses", tag = "users", security(("session" = [])), request_body = NewAddressRequest,
    responses(
        (status = 201, description = "Created; Location names it", body = AddressBody),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let address = NewAddress::parse(body.read::<AddressRequest>().await?.into())?;
    let address = ask(
        state.registry.get::<UserActor>(),
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
        .json(AddressBody::from(&address)))
}

/// One of the caller's addresses.
#[utoipa::path(get, path = "/users/me/addresses/{id}", tag = "users", security(("session" = [])),
    params(("id" = i64, Path, description = "Address id")),
    responses(
        (status = 200, description = "The address", body = AddressBody),
        (status = 404, description = "No such address of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let address = ask(
        state.registry.get::<UserActor>(),
        GetAddress {
            user_id: caller.user_id,
            address_id: path.into_inner().get(),
        },
        "address",
    )
    .await?;
    Ok(HttpResponse::Ok().json(AddressBody::from(&address)))
}

/// Changes some fields of one of the caller's addresses.
#[utoipa::path(patch, path = "/users/me/addresses/{id}", tag = "users", security(("session" = [])),
    params(("id" = i64, Path, description = "Address id")), request_body = AddressRequest,
    responses(
        (status = 200, description = "The updated address", body = AddressBody),
        (status = 400, description = "Invalid input", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such address of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_address(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<Id>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let changes = AddressChanges::parse(body.read::<AddressRequest>().await?.into())?;
    let address = ask(
        state.registry.get::<UserActor>(),
        UpdateAddress {
            user_id: caller.user_id,
            address_id: path.into_inner().get(),
            changes,
        },
        "address",
    )
    .await?;
    Ok(HttpResponse::Ok().json(AddressBody::from(&address)))
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
    path: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.get::<UserActor>(),
        DeleteAddress {
            user_id: caller.user_id,
            address_id: path.into_inner().get(),
        },
        "address",
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
