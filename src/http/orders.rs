//! `/orders`: checkout and the caller's orders; `/admin/orders` for admins.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::cart::CartBody;
use super::error::{ApiError, Problem};
use super::json::JsonBody;
use super::path_id::Id;
use super::session::{Admin, Authenticated};
use super::users::AddressBody;
use super::{ask, schemas, AppState};
use crate::actors::order::{FulfilOrder, GetOrder, ListOrders, OrderActor, PlaceOrder};
use crate::actors::payment::{CancelOrder, MarkPaid, PaymentActor, StartPayment};
use crate::actors::ActorError;
use crate::domain::{
    IdempotencyKey, Order, OrderLine, OrderStatus, Page, Payment, PaymentProvider,
    PaymentReference, PaymentStatus, Size, ValidationError,
};
use crate::store::{OrderFilter, OrderPage};

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderItem)]
pub struct OrderLineBody<'a> {
    pub product_id: i64,
    /// The title when the order was placed.
    pub title: &'a str,
    pub size: Size,
    pub quantity: i64,
    /// The price it was bought at, minor units.
    pub unit_price: i64,
    pub line_total: i64,
    /// Of a cancelled order: how many units went back to stock. Fewer than
    /// `quantity` when the size was removed since (a restock never brings
    /// one back) or its stock was at the most a product may hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restocked: Option<i64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = OrderStatus)]
pub enum StatusBody {
    Placed,
    Cancelled,
    Fulfilled,
}

impl From<OrderStatus> for StatusBody {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Placed => StatusBody::Placed,
            OrderStatus::Cancelled => StatusBody::Cancelled,
            OrderStatus::Fulfilled => StatusBody::Fulfilled,
        }
    }
}

impl From<StatusBody> for OrderStatus {
    fn from(status: StatusBody) -> Self {
        match status {
            StatusBody::Placed => OrderStatus::Placed,
            StatusBody::Cancelled => OrderStatus::Cancelled,
            StatusBody::Fulfilled => OrderStatus::Fulfilled,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PaymentStatus)]
pub enum PaymentStatusBody {
    Awaiting,
    Paid,
    Refunded,
    Expired,
}

impl From<PaymentStatus> for PaymentStatusBody {
    fn from(status: PaymentStatus) -> Self {
        match status {
            PaymentStatus::Awaiting => PaymentStatusBody::Awaiting,
            PaymentStatus::Paid => PaymentStatusBody::Paid,
            PaymentStatus::Refunded => PaymentStatusBody::Refunded,
            PaymentStatus::Expired => PaymentStatusBody::Expired,
        }
    }
}

impl From<PaymentStatusBody> for PaymentStatus {
    fn from(status: PaymentStatusBody) -> Self {
        match status {
            PaymentStatusBody::Awaiting => PaymentStatus::Awaiting,
            PaymentStatusBody::Paid => PaymentStatus::Paid,
            PaymentStatusBody::Refunded => PaymentStatus::Refunded,
            PaymentStatusBody::Expired => PaymentStatus::Expired,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = PaymentProvider)]
pub enum ProviderBody {
    Manual,
    Stripe,
}

impl From<PaymentProvider> for ProviderBody {
    fn from(provider: PaymentProvider) -> Self {
        match provider {
            PaymentProvider::Manual => ProviderBody::Manual,
            PaymentProvider::Stripe => ProviderBody::Stripe,
        }
    }
}

/// How an order is paid, and where that stands.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderPayment)]
pub struct PaymentBody<'a> {
    /// `manual`: a bank transfer or cash on delivery, marked paid by the
    /// shop; `stripe`: confirm `clientSecret` with Stripe.js.
    pub provider: ProviderBody,
    /// The Stripe PaymentIntent; `null` until it is made (if checkout could
    /// not reach Stripe, `POST /orders/{id}/payment` makes it).
    pub intent_id: Option<&'a str>,
    /// What Stripe.js confirms the intent with.
    pub client_secret: Option<&'a str>,
    /// How it was paid: the shop's note of a manual payment, or the Stripe
    /// event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'a str>,
    /// Why the last try to pay failed (a declined card), while awaited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'a str>,
    /// The refund, once refunded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund: Option<&'a str>,
    /// Still unpaid then, the order is cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
}

impl<'a> From<&'a Payment> for PaymentBody<'a> {
    fn from(payment: &'a Payment) -> Self {
        PaymentBody {
            provider: payment.provider.into(),
            intent_id: payment.intent_id.as_deref(),
            client_secret: payment.client_secret.as_deref(),
            reference: payment.reference.as_deref(),
            failure: payment.failure.as_deref(),
            refund: payment.refund.as_deref(),
            due_at: payment.due_at,
            paid_at: payment.paid_at,
        }
    }
}

/// An order as clients see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Order)]
pub struct OrderBody<'a> {
    pub id: i64,
    pub status: StatusBody,
    /// `awaiting` → `paid` → `refunded`, or `awaiting` → `expired` (not
    /// paid in time: cancelled, its stock back). Only a paid order is
    /// fulfilled.
    pub payment_status: PaymentStatusBody,
    pub payment: PaymentBody<'a>,
    pub items: Vec<OrderLineBody<'a>>,
    /// Minor units.
    pub subtotal: i64,
    pub currency: &'a str,
    /// The address as it was when the order was placed.
    pub shipping_address: AddressBody<'a>,
    pub created_at: DateTime<Utc>,
}

impl<'a> From<&'a OrderLine> for OrderLineBody<'a> {
    fn from(line: &'a OrderLine) -> Self {
        OrderLineBody {
            product_id: line.product_id,
            title: &line.title,
            size: line.size,
            quantity: line.quantity,
            unit_price: line.unit_price,
            line_total: line.total(),
            restocked: line.restocked,
        }
    }
}

impl<'a> From<&'a Order> for OrderBody<'a> {
    fn from(order: &'a Order) -> Self {
        OrderBody {
            id: order.id,
            status: order.status.into(),
            payment_status: order.payment.status.into(),
            payment: PaymentBody::from(&order.payment),
            items: order.items.iter().map(OrderLineBody::from).collect(),
            subtotal: order.subtotal,
            currency: &order.currency,
            shipping_address: AddressBody::from(&order.shipping_address),
            created_at: order.created_at,
        }
    }
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = OrderList)]
pub struct OrderPageBody<'a> {
    pub items: Vec<OrderBody<'a>>,
    /// How many there are in all.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
}

impl<'a> OrderPageBody<'a> {
    fn of(orders: &'a OrderPage, page: Page) -> Self {
        OrderPageBody {
            items: orders.items.iter().map(OrderBody::from).collect(),
            total: orders.total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutRequest {
    /// One of the caller's addresses.
    #[serde(deserialize_with = "super::json::integer")]
    pub address_id: i64,
    /// The cart's `subtotal` the customer was shown. Front ends should send
    /// it: when the cart costs anything else at checkout (a price changed
    /// meanwhile), nothing is ordered and the answer is 409 with the cart
    /// as it is now.
    #[serde(default, deserialize_with = "super::json::optional_integer")]
    #[schema(schema_with = schemas::optional_minor_units)]
    pub expected_subtotal: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100, default 20.
    #[param(schema_with = schemas::page_limit)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(schema_with = schemas::page_offset)]
    pub offset: Option<i64>,
}

impl PageQuery {
    fn page(&self) -> Result<Page, ApiError> {
        Ok(Page::parse(self.limit, self.offset)?)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdminOrdersQuery {
    /// Only orders in this state.
    pub status: Option<StatusBody>,
    /// Only orders whose payment is in this state.
    #[serde(rename = "paymentStatus")]
    #[param(rename = "paymentStatus")]
    pub payment_status: Option<PaymentStatusBody>,
    /// 1 to 100, default 20.
    #[param(schema_with = schemas::page_limit)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(schema_with = schemas::page_offset)]
    pub offset: Option<i64>,
}

/// The headers of a checkout, as the API document states them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct CheckoutHeaders {
    /// The same key gives the first order again instead of a second.
    #[serde(rename = "Idempotency-Key")]
    #[param(pattern = "^[!-~]{1,200}$", min_length = 1, max_length = 200)]
    pub idempotency_key: Option<String>,
}

/// The request's key, if it sent one; two are refused rather than one
/// picked, which a proxy in between might pick differently.
fn idempotency_key(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut keys = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(key) = keys.next() else {
        return Ok(None);
    };
    if keys.next().is_some() {
        return Err(ApiError::BadRequest(format!(
            "send one {IDEMPOTENCY_KEY} header, not several"
        )));
    }
    IdempotencyKey::parse(key.to_str().unwrap_or_default())
        .map(Some)
        .map_err(ApiError::field)
}

/// Checks out the caller's cart: takes the stock of every line or nothing.
#[utoipa::path(post, path = "/orders", tag = "orders", security(("session" = [])), request_body = CheckoutRequest,
    params(CheckoutHeaders),
    responses(
        (status = 201, description = "Placed, its payment awaited (with Stripe, `payment.clientSecret` is what Stripe.js confirms); Location names it", body = OrderBody),
        (status = 200, description = "Placed before with this Idempotency-Key", body = OrderBody),
        (status = 404, description = "No such address of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The cart is empty, lines cannot be had (each in the problem's `errors`: itemId, productId, title, size, asked, available), or the cart no longer costs `expectedSubtotal` (the problem's `cart` is the cart now); nothing was ordered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another checkout", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn place_order(
    state: web::Data<AppState>,
    caller: Authenticated,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&req)?;
    let body: CheckoutRequest = body.read().await?;
    if body.expected_subtotal.is_some_and(|subtotal| subtotal < 0) {
        return Err(ApiError::field(ValidationError::new(
            "expectedSubtotal",
            "must not be negative",
        )));
    }
    let answer = state
        .registry
        .get::<OrderActor>()
        .call(PlaceOrder {
            user_id: caller.user_id,
            email: caller.email,
            address_id: body.address_id,
            idempotency_key: key,
            expected_subtotal: body.expected_subtotal,
        })
        .await?;
    let placed = match answer {
        Ok(placed) => placed,
        Err(ActorError::SubtotalChanged(cart)) => {
            return Err(ApiError::SubtotalChanged {
                expected: body.expected_subtotal.unwrap_or_default(),
                subtotal: cart.subtotal,
                cart: serde_json::to_value(CartBody::from(&*cart)).expect("plain data serialises"),
            })
        }
        Err(err) => return Err(ApiError::from_actor(err, "address")),
    };
    let order = start_payment(&state, placed.order).await;
    let mut response = if placed.replayed {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response
        .insert_header((header::LOCATION, format!("/orders/{}", order.id)))
        .json(OrderBody::from(&order)))
}

/// A placed order with its payment started at the provider where it has
/// one to start. The order is placed either way: if the provider cannot be
/// reached now, it is answered without an intent, and
/// `POST /orders/{id}/payment` (or the same checkout again) starts it.
async fn start_payment(state: &AppState, order: Order) -> Order {
    if order.payment.provider != PaymentProvider::Stripe || order.payment.intent_id.is_some() {
        return order;
    }
    let started = state
        .registry
        .get::<PaymentActor>()
        .call(StartPayment {
            order_id: order.id,
            owner: Some(order.user_id),
        })
        .await;
    match started {
        Ok(Ok(order)) => order,
        Ok(Err(err)) => {
            tracing::warn!(order_id = order.id, error = %err, "the order is placed, but its payment could not be started now");
            order
        }
        Err(err) => {
            tracing::warn!(order_id = order.id, error = %err, "the order is placed, but the PaymentActor did not start its payment");
            order
        }
    }
}

/// A page of the caller's orders, newest first.
#[utoipa::path(get, path = "/orders", tag = "orders", security(("session" = [])), params(PageQuery),
    responses((status = 200, description = "The caller's orders", body = OrderPageBody)))]
pub async fn list_orders(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page()?;
    let orders = ask(
        state.registry.get::<OrderActor>(),
        ListOrders {
            filter: OrderFilter {
                user_id: Some(caller.user_id),
                ..OrderFilter::default()
            },
            page,
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderPageBody::of(&orders, page)))
}

/// A page of every order, newest first, optionally in one state (admins).
#[utoipa::path(get, path = "/admin/orders", tag = "admin", security(("session" = [])), params(AdminOrdersQuery),
    responses((status = 200, description = "The orders", body = OrderPageBody)))]
pub async fn list_all_orders(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<AdminOrdersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = Page::parse(query.limit, query.offset)?;
    let orders = ask(
        state.registry.get::<OrderActor>(),
        ListOrders {
            filter: OrderFilter {
                user_id: None,
                status: query.status.map(OrderStatus::from),
                payment_status: query.payment_status.map(PaymentStatus::from),
            },
            page,
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderPageBody::of(&orders, page)))
}

/// One of the caller's orders (an admin sees any).
#[utoipa::path(get, path = "/orders/{id}", tag = "orders", security(("session" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderBody),
        (status = 404, description = "No such order of the caller", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_order(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let order = ask(
        state.registry.get::<OrderActor>(),
        GetOrder {
            id: id.into_inner().get(),
            user_id: caller.own_only(),
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(&order)))
}

/// Cancels a placed order and puts its stock back (the owner or an admin);
/// a paid one is refunded in full through its provider first.
#[utoipa::path(post, path = "/orders/{id}/cancel", tag = "orders", security(("session" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The cancelled order (`paymentStatus` `refunded` if it was paid)", body = OrderBody),
        (status = 404, description = "No such order of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is no longer placed", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The payment provider refused the refund (its reason is the detail): the order stays paid and placed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_order(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let order = ask(
        state.registry.get::<PaymentActor>(),
        CancelOrder {
            id: id.into_inner().get(),
            owner: caller.own_only(),
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(&order)))
}

/// Marks a placed, paid order fulfilled (admins).
#[utoipa::path(post, path = "/orders/{id}/fulfil", tag = "orders", security(("session" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The fulfilled order", body = OrderBody),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order is no longer placed, or not paid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn fulfil_order(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let order = ask(
        state.registry.get::<OrderActor>(),
        FulfilOrder {
            id: id.into_inner().get(),
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(&order)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarkPaidRequest {
    /// What the money came as: a transfer's reference, "cash on delivery".
    #[schema(schema_with = payment_reference_schema)]
    pub reference: String,
}

fn payment_reference_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    schemas::line(crate::domain::rules::PAYMENT_REFERENCE_MAX, false).into()
}

/// Marks an order paid by hand (a bank transfer, cash on delivery) paid
/// (admins). Marking it again changes nothing.
#[utoipa::path(post, path = "/orders/{id}/pay", tag = "orders", security(("session" = [])),
    params(("id" = i64, Path, description = "Order id")), request_body = MarkPaidRequest,
    responses(
        (status = 200, description = "The paid order", body = OrderBody),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order no longer awaits payment, or is paid through Stripe", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn mark_paid(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Id>,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let body: MarkPaidRequest = body.read().await?;
    let reference = PaymentReference::parse(&body.reference).map_err(ApiError::field)?;
    let order = ask(
        state.registry.get::<PaymentActor>(),
        MarkPaid {
            order_id: id.into_inner().get(),
            reference,
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(&order)))
}

/// Starts the payment of one of the caller's orders at its provider, or
/// answers the one started: for Stripe, the PaymentIntent whose
/// `clientSecret` Stripe.js confirms. Asking again makes no second intent.
#[utoipa::path(post, path = "/orders/{id}/payment", tag = "orders", security(("session" = [])),
    params(("id" = i64, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order with its payment", body = OrderBody),
        (status = 404, description = "No such order of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The payment provider refused or cannot be reached now", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn start_order_payment(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    let order = ask(
        state.registry.get::<PaymentActor>(),
        StartPayment {
            order_id: id.into_inner().get(),
            owner: caller.own_only(),
        },
        "order",
    )
    .await?;
    Ok(HttpResponse::Ok().json(OrderBody::from(&order)))
}
