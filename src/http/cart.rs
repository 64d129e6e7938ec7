//! `/cart`: the signed-in user's cart, or a guest's, found by the `cart_id`
//! cookie set on the guest's first change. That cookie holds a token only
//! this server issues (`domain::GuestCarts`); one it did not issue names no
//! cart, and its holder is a new guest.

use actix::Handler;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::client::Client;
use super::error::{ApiError, Problem};
use super::json::JsonBody;
use super::path_id::Id;
use super::session::{has_token, Authenticated};
use super::{ask, schemas, AppState};
use crate::actors::cart::{
    AddToCart, CartActor, ClearCart, GetCart, RemoveCartItem, SetCartQuantity,
};
use crate::domain::{Cart, CartOwner, GuestCarts, PricedLine, Quantity, Size};
use crate::runtime::{Envelope, WireMessage};

pub const CART_COOKIE: &str = "cart_id";

/// How long a guest's cart cookie lasts.
const GUEST_CART_DAYS: i64 = 30;

/// A cart line as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CartItem)]
pub struct CartLineBody<'a> {
    pub id: i64,
    pub product_id: i64,
    pub title: &'a str,
    pub size: Size,
    pub quantity: i64,
    /// The product's final price now, minor units.
    pub unit_price: i64,
    pub line_total: i64,
    /// Whether the product is still sold with this many of this size.
    pub available: bool,
}

/// A cart as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Cart)]
pub struct CartBody<'a> {
    /// `null` until the first item is added.
    pub id: Option<&'a str>,
    pub items: Vec<CartLineBody<'a>>,
    /// The available lines' totals, minor units.
    pub subtotal: i64,
    pub currency: &'a str,
}

impl<'a> From<&'a PricedLine> for CartLineBody<'a> {
    fn from(line: &'a PricedLine) -> Self {
        CartLineBody {
            id: line.id,
            product_id: line.product_id,
            title: &line.title,
            size: line.size,
            quantity: line.quantity.get(),
            unit_price: line.unit_price,
            line_total: line.line_total,
            available: line.available,
        }
    }
}

impl<'a> From<&'a Cart> for CartBody<'a> {
    fn from(cart: &'a Cart) -> Self {
        CartBody {
            id: cart.id.as_deref(),
            items: cart.items.iter().map(CartLineBody::from).collect(),
            subtotal: cart.subtotal,
            currency: &cart.currency,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddItemRequest {
    #[serde(deserialize_with = "super::json::integer")]
    pub product_id: i64,
    pub size: Size,
    #[serde(deserialize_with = "super::json::integer")]
    #[schema(schema_with = schemas::quantity)]
    pub quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityRequest {
    /// 0 removes the line.
    #[serde(deserialize_with = "super::json::integer")]
    #[schema(schema_with = schemas::quantity_or_zero)]
    pub quantity: i64,
}

/// The guest cart a request's `cart_id` cookie names, if this server
/// issued it.
pub fn guest_cart_of(req: &HttpRequest, guest_carts: &GuestCarts) -> Option<String> {
    let cookie = req.cookie(CART_COOKIE)?;
    Some(guest_carts.verify(cookie.value())?.into_string())
}

/// Whose cart a request is about, and, for a new guest, the token of the
/// cart made for them, which their cookie gets once the cart exists.
struct CartCaller {
    owner: CartOwner,
    new_guest_token: Option<String>,
}

impl CartCaller {
    /// A request with a session token is that user's (an invalid token is a
    /// 401, not a silent guest); without one, the guest's of its cookie, or
    /// a new guest's.
    async fn of(state: &AppState, req: &HttpRequest) -> Result<CartCaller, ApiError> {
        if has_token(req) {
            let caller = Authenticated::from_request(req, &mut Payload::None).await?;
            return Ok(CartCaller {
                owner: CartOwner::User(caller.user_id),
                new_guest_token: None,
            });
        }
        Ok(match guest_cart_of(req, &state.guest_carts) {
            Some(id) => CartCaller {
                owner: CartOwner::Guest(id),
                new_guest_token: None,
            },
            None => {
                let issued = state.guest_carts.issue();
                CartCaller {
                    owner: CartOwner::Guest(issued.id.into_string()),
                    new_guest_token: Some(issued.token),
                }
            }
        })
    }

    /// The answer with the cart, and the guest's cookie when it is new.
    fn answer(self, state: &AppState, cart: &Cart) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        if let (Some(token), Some(_)) = (self.new_guest_token, &cart.id) {
            response.cookie(
                Cookie::build(CART_COOKIE, token)
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .path("/")
                    .max_age(time::Duration::days(GUEST_CART_DAYS))
                    .secure(state.cookie_secure)
                    .finish(),
            );
        }
        response.json(CartBody::from(cart))
    }
}

/// Asks the CartActor the message `message` makes for the caller's cart,
/// and answers with the cart it gives back; `subject` names what a 404 is
/// about.
async fn with_cart<M>(
    state: &AppState,
    req: &HttpRequest,
    subject: &'static str,
    message: impl FnOnce(CartOwner, bool) -> M,
) -> Result<HttpResponse, ApiError>
where
    M: WireMessage<Reply = Cart>,
    CartActor: Handler<Envelope<M>>,
{
    let caller = CartCaller::of(state, req).await?;
    let new_guest = caller.new_guest_token.is_some();
    let cart = ask(
        state.registry.get::<CartActor>(),
        message(caller.owner.clone(), new_guest),
        subject,
    )
    .await?;
    Ok(caller.answer(state, &cart))
}

fn quantity(raw: i64) -> Result<Quantity, ApiError> {
    Quantity::parse(raw).map_err(ApiError::field)
}

/// The caller's cart, priced now.
#[utoipa::path(get, path = "/cart", tag = "cart", security((), ("session" = [])),
    responses((status = 200, description = "The cart; empty (id null) before the first item", body = CartBody)))]
pub async fn get_cart(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    with_cart(&state, &req, "cart", |owner, _| GetCart { owner }).await
}

/// Adds a product in a size; the same product and size add to their line.
#[utoipa::path(post, path = "/cart/items", tag = "cart", security((), ("session" = [])), request_body = AddItemRequest,
    responses(
        (status = 200, description = "The cart after the change; a guest's first change sets the cart_id cookie", body = CartBody),
        (status = 404, description = "No such product or size", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "More than the stock, or a new line past cart.max_lines", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "This client started too many guest carts; see Retry-After", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_item(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: AddItemRequest = body.read().await?;
    let quantity = quantity(body.quantity)?;
    with_cart(&state, &req, "product", |owner, new_guest| AddToCart {
        owner,
        product_id: body.product_id,
        size: body.size,
        quantity,
        new_guest: new_guest.then_some(client.0),
    })
    .await
}

/// Sets a line's quantity; 0 removes it.
#[utoipa::path(patch, path = "/cart/items/{itemId}", tag = "cart", security((), ("session" = [])), request_body = QuantityRequest,
    params(("itemId" = i64, Path, description = "Cart line id")),
    responses(
        (status = 200, description = "The cart after the change", body = CartBody),
        (status = 404, description = "No such line in the caller's cart", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "More than the stock", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_quantity(
    state: web::Data<AppState>,
    req: HttpRequest,
    item_id: web::Path<Id>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: QuantityRequest = body.read().await?;
    let quantity = match body.quantity {
        0 => None,
        raw => Some(quantity(raw)?),
    };
    with_cart(&state, &req, "cart line", |owner, _| SetCartQuantity {
        owner,
        item_id: item_id.into_inner().get(),
        quantity,
    })
    .await
}

/// Removes a line.
#[utoipa::path(delete, path = "/cart/items/{itemId}", tag = "cart", security((), ("session" = [])),
    params(("itemId" = i64, Path, description = "Cart line id")),
    responses(
        (status = 200, description = "The cart after the change", body = CartBody),
        (status = 404, description = "No such line in the caller's cart", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_item(
    state: web::Data<AppState>,
    req: HttpRequest,
    item_id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    with_cart(&state, &req, "cart line", |owner, _| RemoveCartItem {
        owner,
        item_id: item_id.into_inner().get(),
    })
    .await
}

/// Empties the cart.
#[utoipa::path(delete, path = "/cart", tag = "cart", security((), ("session" = [])),
    responses((status = 200, description = "The emptied cart", body = CartBody)))]
pub async fn clear_cart(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    with_cart(&state, &req, "cart", |owner, _| ClearCart { owner }).await
}
