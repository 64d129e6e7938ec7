//! The events storefront publishes: what happened, in the domain's words.
//! The store writes them to the outbox in the transaction that makes them
//! true, and the bus carries them; both need them, so they live here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::{Currency, Email, OtpCode, PaymentProvider, PaymentStatus};

/// Every event storefront publishes, serialised as `{"type": <routing key>, "body": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "body")]
pub enum Event {
    #[serde(rename = "notification.otp")]
    OtpIssued(OtpIssued),
    #[serde(rename = "user.created")]
    UserCreated(UserCreated),
    #[serde(rename = "product.changed")]
    ProductChanged(ProductChanged),
    #[serde(rename = "order.placed")]
    OrderPlaced(OrderPlaced),
    #[serde(rename = "order.cancelled")]
    OrderCancelled(OrderCancelled),
    #[serde(rename = "payment.succeeded")]
    PaymentSucceeded(PaymentSucceeded),
    #[serde(rename = "payment.refunded")]
    PaymentRefunded(PaymentRefunded),
    #[serde(rename = "payment.expired")]
    PaymentExpired(PaymentExpired),
}

impl Event {
    pub fn routing_key(&self) -> &'static str {
        match self {
            Event::OtpIssued(_) => Event::OTP_ISSUED,
            Event::UserCreated(_) => Event::USER_CREATED,
            Event::ProductChanged(_) => Event::PRODUCT_CHANGED,
            Event::OrderPlaced(_) => Event::ORDER_PLACED,
            Event::OrderCancelled(_) => Event::ORDER_CANCELLED,
            Event::PaymentSucceeded(_) => Event::PAYMENT_SUCCEEDED,
            Event::PaymentRefunded(_) => Event::PAYMENT_REFUNDED,
            Event::PaymentExpired(_) => Event::PAYMENT_EXPIRED,
        }
    }

    pub const OTP_ISSUED: &'static str = "notification.otp";
    pub const USER_CREATED: &'static str = "user.created";
    pub const PRODUCT_CHANGED: &'static str = "product.changed";
    pub const ORDER_PLACED: &'static str = "order.placed";
    pub const ORDER_CANCELLED: &'static str = "order.cancelled";
    pub const PAYMENT_SUCCEEDED: &'static str = "payment.succeeded";
    pub const PAYMENT_REFUNDED: &'static str = "payment.refunded";
    pub const PAYMENT_EXPIRED: &'static str = "payment.expired";
}

/// The only place a code travels in clear: to the mailer.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpIssued {
    pub email: Email,
    pub otp: OtpCode,
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for OtpIssued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpIssued")
            .field("email", &self.email)
            .field("otp", &"******")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCreated {
    pub user_id: i64,
    pub email: Email,
    pub phone_number: Option<String>,
}

/// A product was written: every node drops it from its cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductChanged {
    pub product_id: i64,
}

/// An order was placed: the mailer confirms it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlaced {
    pub order_id: i64,
    pub user_id: i64,
    pub email: Email,
    /// Minor units of `currency`.
    pub total: i64,
    pub currency: Currency,
}

/// An order was cancelled: the mailer tells its owner. (`email` is there
/// for the mailer; a consumer that does not know the field ignores it.)
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    pub order_id: i64,
    pub user_id: i64,
    pub email: Email,
    /// Its payment after the cancellation: `refunded` or `expired` go with
    /// a `payment.*` event of their own (whose mail tells the owner);
    /// `awaiting`, an unpaid order cancelled, is told by this one. Events
    /// written before payments have none: awaiting.
    #[serde(default = "unpaid")]
    pub payment_status: PaymentStatus,
}

fn unpaid() -> PaymentStatus {
    PaymentStatus::Awaiting
}

/// An order was paid in full: the mailer sends the receipt.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSucceeded {
    pub order_id: i64,
    pub user_id: i64,
    pub email: Email,
    /// Minor units of `currency`.
    pub total: i64,
    pub currency: Currency,
    pub provider: PaymentProvider,
}

/// A paid order was cancelled and its payment refunded in full (or, paid by
/// hand, left for the operator to return).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRefunded {
    pub order_id: i64,
    pub user_id: i64,
    pub email: Email,
    pub total: i64,
    pub currency: Currency,
    pub provider: PaymentProvider,
}

/// An order was not paid in time: it is cancelled (its `order.cancelled`
/// goes with this) and its stock is back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentExpired {
    pub order_id: i64,
    pub user_id: i64,
    pub email: Email,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_uses_routing_keys() {
        let event = Event::UserCreated(UserCreated {
            user_id: 1,
            email: Email::parse("a@example.com").unwrap(),
            phone_number: None,
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "user.created");
        assert_eq!(json["body"]["userId"], 1);
        assert!(!format!(
            "{:?}",
            OtpIssued {
                email: Email::parse("a@example.com").unwrap(),
                otp: OtpCode::parse("123456").unwrap(),
                expires_at: Utc::now()
            }
        )
        .contains("123456"));
    }
}
