use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

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
}

impl Event {
    pub fn routing_key(&self) -> &'static str {
        match self {
            Event::OtpIssued(_) => Event::OTP_ISSUED,
            Event::UserCreated(_) => Event::USER_CREATED,
            Event::ProductChanged(_) => Event::PRODUCT_CHANGED,
        }
    }

    pub const OTP_ISSUED: &'static str = "notification.otp";
    pub const USER_CREATED: &'static str = "user.created";
    pub const PRODUCT_CHANGED: &'static str = "product.changed";
}

/// The only place a code travels in clear: to the mailer.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpIssued {
    pub email: String,
    pub otp: String,
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
    pub email: String,
    pub phone_number: Option<String>,
}

/// A product was written: every node drops it from its cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductChanged {
    pub product_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_uses_routing_keys() {
        let event = Event::UserCreated(UserCreated {
            user_id: 1,
            email: "a@example.com".into(),
            phone_number: None,
        });
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "user.created");
        assert_eq!(json["body"]["userId"], 1);
        assert!(!format!(
            "{:?}",
            OtpIssued {
                email: "a@example.com".into(),
                otp: "123456".into(),
                expires_at: Utc::now()
            }
        )
        .contains("123456"));
    }
}
