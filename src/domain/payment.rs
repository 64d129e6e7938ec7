//! The payment side of an order: where it stands, who takes the money, and
//! the rules for what a payment provider tells us (Stripe's signed
//! webhooks).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

use super::{bounded_text, rules, ValidationError};

/// Where an order's payment stands: `awaiting` → `paid` → `refunded`, or
/// `awaiting` → `expired` (the order was cancelled for want of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    Awaiting,
    Paid,
    Refunded,
    Expired,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 4] = [
        PaymentStatus::Awaiting,
        PaymentStatus::Paid,
        PaymentStatus::Refunded,
        PaymentStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Awaiting => "awaiting",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Refunded => "refunded",
            PaymentStatus::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == raw)
    }
}

/// Who takes an order's money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProvider {
    /// A bank transfer or cash on delivery: an operator says it was paid.
    Manual,
    /// A Stripe PaymentIntent the customer confirms with Stripe.js.
    Stripe,
}

impl PaymentProvider {
    pub const ALL: [PaymentProvider; 2] = [PaymentProvider::Manual, PaymentProvider::Stripe];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentProvider::Manual => "manual",
            PaymentProvider::Stripe => "stripe",
        }
    }

    pub fn parse(raw: &str) -> Option<PaymentProvider> {
        PaymentProvider::ALL
            .into_iter()
            .find(|provider| provider.as_str() == raw)
    }
}

/// How an order paid by hand was paid, as the operator notes it: a
/// transfer's reference, "cash on delivery". One line, kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentReference(String);

impl PaymentReference {
    pub fn parse(raw: &str) -> Result<PaymentReference, ValidationError> {
        bounded_text("reference", raw, rules::PAYMENT_REFERENCE_MAX).map(PaymentReference)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

super::string_newtype!(PaymentReference);

/// An order's payment as the store keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub provider: PaymentProvider,
    pub status: PaymentStatus,
    /// The Stripe PaymentIntent, once checkout created it.
    pub intent_id: Option<String>,
    /// What the shop's front end confirms the intent with: the owner's to
    /// see, never logged.
    pub client_secret: Option<String>,
    /// How it was paid: the operator's note, or the Stripe event.
    pub reference: Option<String>,
    /// Why the last try to pay failed, while it is still awaited.
    pub failure: Option<String>,
    /// The refund at the provider (a manual one is the operator's to make).
    pub refund: Option<String>,
    /// An order still awaiting payment then is cancelled; `None` never.
    pub due_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for Payment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payment")
            .field("provider", &self.provider)
            .field("status", &self.status)
            .field("intent_id", &self.intent_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("reference", &self.reference)
            .field("failure", &self.failure)
            .field("refund", &self.refund)
            .field("due_at", &self.due_at)
            .field("paid_at", &self.paid_at)
            .finish()
    }
}

/// How old a webhook's signature may be: what Stripe's libraries allow.
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// Why a webhook is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header has no timestamp and v1 signature")]
    Malformed,
    #[error("the signature is {0} s from now, more than the 300 s allowed")]
    Stale(i64),
    #[error("no v1 signature matches the payload")]
    Mismatch,
}

/// Checks a `Stripe-Signature` header (`t=<unix time>,v1=<hex>,...`) for
/// `payload`: one `v1` must be HMAC-SHA256 of `"{t}.{payload}"` under
/// `secret` (compared in constant time), and `t` within five minutes of
/// `now`. Nothing of the payload may be read before this passes.
pub fn verify_stripe_signature(
    header: &str,
    payload: &[u8],
    secret: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let expected = mac.finalize().into_bytes();
    let matches = signatures
        .iter()
        .fold(subtle::Choice::from(0), |any, signature| {
            any | expected[..].ct_eq(signature)
        });
    if !bool::from(matches) {
        return Err(SignatureError::Mismatch);
    }
    let age = now - timestamp;
    if age.abs() > WEBHOOK_TOLERANCE_SECS {
        return Err(SignatureError::Stale(age));
    }
    Ok(())
}

/// What a Stripe event says of a PaymentIntent, as far as orders care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentEvent {
    pub event_id: String,
    pub outcome: IntentOutcome,
    pub intent_id: String,
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentOutcome {
    Succeeded,
    /// With the provider's reason.
    Failed(String),
}

/// The parts of a Stripe event read; the rest is ignored.
#[derive(Deserialize)]
struct StripeEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: StripeEventData,
}

#[derive(Deserialize)]
struct StripeEventData {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct StripeIntent {
    id: String,
    amount: i64,
    currency: String,
    last_payment_error: Option<StripeError>,
}

#[derive(Deserialize)]
struct StripeError {
    message: Option<String>,
    code: Option<String>,
}

/// Why a webhook's body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Stripe event: {0}")]
pub struct NotAnEvent(String);

/// Reads a verified webhook's body: `Ok(None)` for an event of another
/// type (answered, ignored).
pub fn parse_intent_event(payload: &[u8]) -> Result<Option<IntentEvent>, NotAnEvent> {
    let event: StripeEvent =
        serde_json::from_slice(payload).map_err(|err| NotAnEvent(err.to_string()))?;
    let succeeded = match event.kind.as_str() {
        "payment_intent.succeeded" => true,
        "payment_intent.payment_failed" => false,
        _ => return Ok(None),
    };
    let intent: StripeIntent =
        serde_json::from_value(event.data.object).map_err(|err| NotAnEvent(err.to_string()))?;
    let outcome = if succeeded {
        IntentOutcome::Succeeded
    } else {
        let reason = intent
            .last_payment_error
            .and_then(|error| error.message.or(error.code))
            .unwrap_or_else(|| "the payment failed".into());
        IntentOutcome::Failed(reason)
    };
    Ok(Some(IntentEvent {
        event_id: event.id,
        outcome,
        intent_id: intent.id,
        amount: intent.amount,
        currency: intent.currency,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], timestamp: i64, payload: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{timestamp}.").as_bytes());
        mac.update(payload);
        format!(
            "t={timestamp},v1={}",
            hex::encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn a_signature_is_believed_only_for_its_payload_secret_and_time() {
        let payload = br#"{"id":"evt_1"}"#;
        let header = sign(b"whsec_a", 1_000, payload);
        assert_eq!(
            verify_stripe_signature(&header, payload, b"whsec_a", 1_100),
            Ok(())
        );
        assert_eq!(
            verify_stripe_signature(&header, b"{}", b"whsec_a", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe_signature(&header, payload, b"whsec_b", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_stripe_signature(&header, payload, b"whsec_a", 1_301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify_stripe_signature("v1=00", payload, b"whsec_a", 1_000),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_stripe_signature("t=1000", payload, b"whsec_a", 1_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let payload = b"{}";
        let good = sign(b"whsec_new", 50, payload);
        let header = format!("t=50,v1={},{}", "ab".repeat(32), &good[5..]);
        assert_eq!(
            verify_stripe_signature(&header, payload, b"whsec_new", 60),
            Ok(())
        );
    }

    #[test]
    fn intent_events_say_what_happened_to_which_intent() {
        let succeeded = br#"{"id":"evt_1","type":"payment_intent.succeeded",
            "data":{"object":{"id":"pi_1","amount":4900,"currency":"usd","last_payment_error":null}}}"#;
        assert_eq!(
            parse_intent_event(succeeded).unwrap(),
            Some(IntentEvent {
                event_id: "evt_1".into(),
                outcome: IntentOutcome::Succeeded,
                intent_id: "pi_1".into(),
                amount: 4900,
                currency: "usd".into(),
            })
        );
        let failed = br#"{"id":"evt_2","type":"payment_intent.payment_failed",
            "data":{"object":{"id":"pi_1","amount":4900,"currency":"usd",
            "last_payment_error":{"code":"card_declined","message":"Your card was declined."}}}}"#;
        assert_eq!(
            parse_intent_event(failed).unwrap().unwrap().outcome,
            IntentOutcome::Failed("Your card was declined.".into())
        );
        let other = br#"{"id":"evt_3","type":"customer.created","data":{"object":{}}}"#;
        assert_eq!(parse_intent_event(other).unwrap(), None);
        assert!(parse_intent_event(b"not json").is_err());
    }
}
