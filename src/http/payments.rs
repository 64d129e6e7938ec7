//! `/payments/stripe/webhook`: what Stripe tells of the shop's payments.

use actix_web::{web, HttpRequest, HttpResponse};

use super::error::{ApiError, Problem};
use super::json::JsonBody;
use super::{ask, AppState};
use crate::actors::payment::{PaymentActor, StripeWebhook};

pub const STRIPE_SIGNATURE: &str = "Stripe-Signature";

/// Stripe's webhook. Its `Stripe-Signature` is verified (HMAC-SHA256 with
/// `payments.stripe.webhook_secret`, at most 5 minutes old) before anything
/// of the body is read. An event that changes nothing (told before, of an
/// intent no order has, of another amount) is answered 200 too, so that
/// Stripe stops sending it.
#[utoipa::path(post, path = "/payments/stripe/webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature of the body: `t=<unix time>,v1=<hex HMAC-SHA256>`")),
    request_body(content = Object, description = "A Stripe event, as Stripe sends it", content_type = "application/json"),
    responses(
        (status = 200, description = "Taken (and written, if it changed anything)"),
        (status = 400, description = "No signature, one that does not match or is too old, or a body that is not a Stripe event: nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than any Stripe event", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let mut signatures = req.headers().get_all(STRIPE_SIGNATURE);
    let signature = match (signatures.next(), signatures.next()) {
        (Some(signature), None) => signature
            .to_str()
            .map_err(|_| ApiError::BadRequest(format!("{STRIPE_SIGNATURE} is not ASCII")))?
            .to_owned(),
        (None, _) => {
            return Err(ApiError::BadRequest(format!(
                "a Stripe webhook needs its {STRIPE_SIGNATURE} header"
            )))
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(format!(
                "send one {STRIPE_SIGNATURE} header, not several"
            )))
        }
    };
    let payload = String::from_utf8(body.read_bytes().await?.to_vec())
        .map_err(|_| ApiError::BadRequest("the body is not UTF-8".into()))?;
    ask(
        state.registry.get::<PaymentActor>(),
        StripeWebhook { payload, signature },
        "webhook",
    )
    .await?;
    Ok(HttpResponse::Ok().finish())
}
