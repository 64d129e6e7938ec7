//! The provider `payments.provider` names, as one type the PaymentActor
//! asks: it answers in the domain's words whoever takes the money.

use std::sync::Arc;

use super::{ProviderError, StartedPayment, Stopped, StripeClient};
use crate::config::PaymentSettings;
use crate::domain::{Order, PaymentProvider};

/// The provider of this node's orders.
#[derive(Clone)]
pub enum Provider {
    Manual,
    Stripe(Arc<StripeClient>),
}

impl Provider {
    pub fn from_settings(settings: &PaymentSettings) -> Result<Provider, ProviderError> {
        Ok(match settings.provider {
            PaymentProvider::Manual => Provider::Manual,
            PaymentProvider::Stripe => {
                Provider::Stripe(Arc::new(StripeClient::new(&settings.stripe)?))
            }
        })
    }

    pub fn kind(&self) -> PaymentProvider {
        match self {
            Provider::Manual => PaymentProvider::Manual,
            Provider::Stripe(_) => PaymentProvider::Stripe,
        }
    }

    /// What the customer pays `order` with: for Stripe a PaymentIntent of its
    /// exact total, made once per order however often this is asked.
    /// Nothing for a manual payment.
    pub async fn start(&self, order: &Order) -> Result<Option<StartedPayment>, ProviderError> {
        match self {
            Provider::Manual => Ok(None),
            Provider::Stripe(stripe) => stripe
                .create_intent(order, &order.payment_idempotency_key("intent"))
                .await
                .map(Some),
        }
    }

    /// Stops an unpaid order's payment, so that it can no longer be paid;
    /// or says it was paid meanwhile.
    pub async fn stop(&self, intent_id: &str) -> Result<Stopped, ProviderError> {
        match self {
            Provider::Manual => Ok(Stopped::Cancelled),
            Provider::Stripe(stripe) => stripe.cancel_intent(intent_id).await,
        }
    }

    /// Gives a paid order's money back in full: the provider's reference
    /// of the refund. A manual payment is returned by the operator; the
    /// reference says so. `attempt` counts the tries of this refund, each
    /// under a key of its own: Stripe keeps the answer to a key for a day,
    /// a refusal too, and a try after one must be asked anew.
    pub async fn refund(&self, order: &Order, attempt: u32) -> Result<String, ProviderError> {
        match (self, order.payment.provider, &order.payment.intent_id) {
            (Provider::Stripe(stripe), PaymentProvider::Stripe, Some(intent_id)) => {
                let key = order.payment_idempotency_key(&format!("refund-{attempt}"));
                stripe.refund(intent_id, &key).await
            }
            (_, PaymentProvider::Stripe, _) => Err(ProviderError::Refused(
                "the order was paid through Stripe, which this node is not configured for".into(),
            )),
            (_, PaymentProvider::Manual, _) => Ok("manual: to be returned by the operator".into()),
        }
    }
}
