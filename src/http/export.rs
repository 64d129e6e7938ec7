//! `GET /users/me/export`: everything the shop holds about the caller, in
//! the shapes the rest of the API answers with.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::cart::CartBody;
use super::error::{ApiError, Problem};
use super::orders::OrderBody;
use super::session::Authenticated;
use super::users::{AddressBody, UserBody};
use super::{ask, AppState};
use crate::actors::user::{ExportUser, UserActor};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = UserExport)]
pub struct ExportBody<'a> {
    pub user: UserBody<'a>,
    pub addresses: Vec<AddressBody<'a>>,
    /// Every order, newest first.
    pub orders: Vec<OrderBody<'a>>,
    pub cart: CartBody<'a>,
}

/// Everything the shop holds about the caller: profile, addresses, orders
/// and cart.
#[utoipa::path(get, path = "/users/me/export", tag = "users", security(("session" = [])),
    responses(
        (status = 200, description = "The caller's data, as an attachment", body = ExportBody),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn export(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let export = ask(
        state.registry.get::<UserActor>(),
        ExportUser {
            user_id: caller.user_id,
        },
        "user",
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"storefront-export.json\"",
        ))
        .json(ExportBody {
            user: UserBody::from(&export.user),
            addresses: export.addresses.iter().map(AddressBody::from).collect(),
            orders: export.orders.iter().map(OrderBody::from).collect(),
            cart: CartBody::from(&export.cart),
        }))
}
