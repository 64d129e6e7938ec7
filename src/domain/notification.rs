//! The text of every mail storefront sends. Rendering is pure so it can be
//! tested without a transport.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PaymentProvider;

/// What a mail is for. Logs and operators see the kind, never the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    SignInCode,
    Welcome,
    OrderPlaced,
    OrderCancelled,
    PaymentReceived,
    PaymentRefunded,
    PaymentExpired,
}

impl MailKind {
    pub const ALL: [MailKind; 7] = [
        MailKind::SignInCode,
        MailKind::Welcome,
        MailKind::OrderPlaced,
        MailKind::OrderCancelled,
        MailKind::PaymentReceived,
        MailKind::PaymentRefunded,
        MailKind::PaymentExpired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::SignInCode => "sign_in_code",
            MailKind::Welcome => "welcome",
            MailKind::OrderPlaced => "order_placed",
            MailKind::OrderCancelled => "order_cancelled",
            MailKind::PaymentReceived => "payment_received",
            MailKind::PaymentRefunded => "payment_refunded",
            MailKind::PaymentExpired => "payment_expired",
        }
    }

    pub fn parse(raw: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// Subject and bodies of one mail, before addressing and transport. A secret
/// (a sign-in code) is only ever in the bodies, never in the subject, and a
/// mail that holds one expires with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    pub kind: MailKind,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// After this the mail is worthless and must not be delivered.
    pub expires_at: Option<DateTime<Utc>>,
}

pub mod render {
    use super::*;

    pub fn otp(code: &str, expires_at: DateTime<Utc>) -> MailContent {
        let minutes = ((expires_at - Utc::now()).num_seconds().max(0) + 59) / 60;
        let minutes = minutes.max(1);
        let subject = "Your storefront sign-in code".to_owned();
        let text = format!(
            "Your sign-in code is {code}\n\n\
             It expires in {minutes} minute(s), at {expires} UTC, and works once.\n\
             If you did not ask for it, ignore this mail: nobody can sign in without the code.\n",
            expires = expires_at.format("%H:%M:%S"),
        );
        let html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p>Your sign-in code is</p>\
             <p style=\"font-size:28px;font-weight:bold;letter-spacing:4px\">{code}</p>\
             <p>It expires in {minutes} minute(s), at {expires} UTC, and works once.</p>\
             <p>If you did not ask for it, ignore this mail: nobody can sign in without the code.</p>\
             </body></html>",
            expires = expires_at.format("%H:%M:%S"),
        );
        MailContent {
            kind: MailKind::SignInCode,
            subject,
            text,
            html,
            expires_at: Some(expires_at),
        }
    }

    pub fn welcome(email: &str) -> MailContent {
        let email = html_escape(email);
        MailContent {
            kind: MailKind::Welcome,
            expires_at: None,
            subject: "Welcome to storefront".to_owned(),
            text: format!(
                "Welcome!\n\nYour account {email} is ready. Sign in any time with a code sent to this address.\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Welcome!</p><p>Your account {email} is ready. \
                 Sign in any time with a code sent to this address.</p></body></html>"
            ),
        }
    }

    /// `total` minor units as `49.00 USD`.
    fn money(total: i64, currency: &str) -> String {
        format!(
            "{}{}.{:02} {}",
            if total < 0 { "-" } else { "" },
            total.abs() / 100,
            total.abs() % 100,
            html_escape(currency)
        )
    }

    pub fn order_placed(order_id: i64, total: i64, currency: &str) -> MailContent {
        let total = money(total, currency);
        MailContent {
            kind: MailKind::OrderPlaced,
            expires_at: None,
            subject: format!("Your storefront order {order_id}"),
            text: format!(
                "Thank you for your order!\n\nOrder {order_id} is placed: {total}. \
                 We will write again when it ships.\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Thank you for your order!</p><p>Order {order_id} is placed: {total}. \
                 We will write again when it ships.</p></body></html>"
            ),
        }
    }

    pub fn order_cancelled(order_id: i64) -> MailContent {
        MailContent {
            kind: MailKind::OrderCancelled,
            expires_at: None,
            subject: format!("Your storefront order {order_id} is cancelled"),
            text: format!(
                "Order {order_id} is cancelled. Nothing will be charged for it.\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Order {order_id} is cancelled. Nothing will be charged for it.</p></body></html>"
            ),
        }
    }

    /// The receipt.
    pub fn payment_received(order_id: i64, total: i64, currency: &str) -> MailContent {
        let total = money(total, currency);
        MailContent {
            kind: MailKind::PaymentReceived,
            expires_at: None,
            subject: format!("Receipt for your storefront order {order_id}"),
            text: format!(
                "We received your payment of {total} for order {order_id}. Thank you!\n\n\
                 We will write again when it ships.\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>We received your payment of {total} for order {order_id}. Thank you!</p>\
                 <p>We will write again when it ships.</p></body></html>"
            ),
        }
    }

    pub fn payment_refunded(
        order_id: i64,
        total: i64,
        currency: &str,
        provider: PaymentProvider,
    ) -> MailContent {
        let total = money(total, currency);
        let how = match provider {
            PaymentProvider::Stripe => "to the card you paid with; it shows within 5 to 10 days",
            PaymentProvider::Manual => "the way you paid; we will be in touch if we need details",
        };
        MailContent {
            kind: MailKind::PaymentRefunded,
            expires_at: None,
            subject: format!("Your storefront order {order_id} is cancelled and refunded"),
            text: format!("Order {order_id} is cancelled. We refund {total} {how}.\n"),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Order {order_id} is cancelled. We refund {total} {how}.</p></body></html>"
            ),
        }
    }

    pub fn payment_expired(order_id: i64) -> MailContent {
        MailContent {
            kind: MailKind::PaymentExpired,
            expires_at: None,
            subject: format!("Your storefront order {order_id} was cancelled: no payment"),
            text: format!(
                "Order {order_id} was not paid in time, so it is cancelled and its items are \
                 back on sale. Nothing was charged. You are welcome to order again.\n"
            ),
            html: format!(
                "<!doctype html><html><body style=\"font-family:sans-serif\">\
                 <p>Order {order_id} was not paid in time, so it is cancelled and its items are \
                 back on sale. Nothing was charged. You are welcome to order again.</p></body></html>"
            ),
        }
    }

    fn html_escape(raw: &str) -> String {
        raw.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
}

#[cfg(test)]
mod tests {
    use super::{render, MailKind};
    use chrono::{Duration, Utc};

    #[test]
    fn otp_mail_carries_code_in_both_bodies() {
        let mail = render::otp("042917", Utc::now() + Duration::seconds(120));
        assert!(mail.text.contains("042917"));
        assert!(mail.html.contains("042917"));
        assert!(mail.text.contains("2 minute(s)"));
        assert!(
            !mail.subject.contains("042917"),
            "the code stays out of the subject"
        );
        assert_eq!(mail.kind, MailKind::SignInCode);
        assert!(mail.expires_at.is_some());
    }
}
