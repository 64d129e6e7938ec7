//! Stripe's HTTP API, as far as orders need it: a PaymentIntent per order,
//! its cancellation, and a refund. Requests are form-encoded, carry only the
//! parameters the flow needs, and those that create something carry an
//! `Idempotency-Key`, so that a retry never makes a second one.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::ProviderError;
use crate::config::StripeSettings;
use crate::domain::Order;

/// A payment the customer completes with the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedPayment {
    pub intent_id: String,
    pub client_secret: String,
}

pub struct StripeClient {
    http: reqwest::Client,
    api_base: url::Url,
    secret_key: SecretString,
}

#[derive(Deserialize)]
struct Intent {
    id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct IntentStatus {
    status: String,
    amount: i64,
    currency: String,
}

/// Where an intent stands once asked to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Cancelled: it can no longer be paid.
    Cancelled,
    /// Too late: it was paid, this much.
    Paid { amount: i64, currency: String },
    /// Being paid now (a payment still processing): ask again later.
    Pending,
}

#[derive(Deserialize)]
struct Refunds {
    data: Vec<Refund>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    code: Option<String>,
}

impl StripeClient {
    pub fn new(settings: &StripeSettings) -> Result<StripeClient, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout())
            .build()
            .map_err(ProviderError::Unreachable)?;
        Ok(StripeClient {
            http,
            api_base: settings.api_base.clone(),
            secret_key: settings
                .secret_key
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
        })
    }

    /// A PaymentIntent for `order`'s total, in its currency, that names the
    /// order in its metadata.
    pub async fn create_intent(
        &self,
        order: &Order,
        idempotency_key: &str,
    ) -> Result<StartedPayment, ProviderError> {
        let form = [
            ("amount", order.subtotal.to_string()),
            ("currency", order.currency.to_ascii_lowercase()),
            ("metadata[order_id]", order.id.to_string()),
        ];
        let intent: Intent = self
            .post("/v1/payment_intents", &form, Some(idempotency_key))
            .await?;
        Ok(StartedPayment {
            intent_id: intent.id,
            client_secret: intent.client_secret,
        })
    }

    /// Cancels an intent. One cancelled already is cancelled; one that
    /// cannot be because it was paid says so, with what was paid.
    pub async fn cancel_intent(&self, intent_id: &str) -> Result<Stopped, ProviderError> {
        let path = format!("/v1/payment_intents/{}/cancel", segment(intent_id)?);
        match self.post::<IntentStatus>(&path, &[], None).await {
            Ok(_) => Ok(Stopped::Cancelled),
            Err(ProviderError::Refused(reason)) => {
                let intent: IntentStatus = self
                    .get(&format!("/v1/payment_intents/{}", segment(intent_id)?))
                    .await?;
                match intent.status.as_str() {
                    "canceled" => Ok(Stopped::Cancelled),
                    "succeeded" => Ok(Stopped::Paid {
                        amount: intent.amount,
                        currency: intent.currency,
                    }),
                    "processing" | "requires_capture" => Ok(Stopped::Pending),
                    _ => Err(ProviderError::Refused(reason)),
                }
            }
            Err(err) => Err(err),
        }
    }

    /// Refunds an intent's payment in full. Stripe never refunds more than
    /// was paid, so a try under a new key after one that was not answered
    /// finds the charge refunded: the refund made then is the answer.
    pub async fn refund(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        let form = [("payment_intent", intent_id.to_owned())];
        match self
            .post::<Refund>("/v1/refunds", &form, Some(idempotency_key))
            .await
        {
            Ok(refund) => Ok(refund.id),
            Err(ProviderError::Refused(reason)) => {
                let made: Refunds = self
                    .get(&format!(
                        "/v1/refunds?payment_intent={}",
                        segment(intent_id)?
                    ))
                    .await?;
                made.data
                    .into_iter()
                    .next()
                    .map(|refund| refund.id)
                    .ok_or(ProviderError::Refused(reason))
            }
            Err(err) => Err(err),
        }
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<T, ProviderError> {
        let mut request = self
            .http
            .post(self.url(path)?)
            .bearer_auth(self.secret_key.expose_secret())
            .form(form);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        answer(request.send().await).await
    }

    async fn get<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, ProviderError> {
        let request = self
            .http
            .get(self.url(path)?)
            .bearer_auth(self.secret_key.expose_secret());
        answer(request.send().await).await
    }

    /// `path` under `payments.stripe.api_base`, its own path kept (a
    /// proxy's prefix).
    fn url(&self, path: &str) -> Result<url::Url, ProviderError> {
        let base = self.api_base.as_str().trim_end_matches('/');
        url::Url::parse(&format!("{base}{path}"))
            .map_err(|err| ProviderError::Unexpected(format!("no URL for {path}: {err}")))
    }
}

/// An id from Stripe as one path segment: Stripe's ids are letters, digits
/// and underscores, so anything else is not one of its ids.
fn segment(id: &str) -> Result<&str, ProviderError> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(id)
    } else {
        Err(ProviderError::Unexpected(format!(
            "{id:?} is not a Stripe id"
        )))
    }
}

/// Stripe's answer as `T`, or why not. A 400 or 402 is its refusal of the
/// request, in its words (a card declined, a payment that cannot be
/// refunded); 401 and 403 are the shop's key refused, said without
/// Stripe's words (they name the key); 409 (the same key being answered)
/// and 429 are "try again"; a 5xx or a body of another shape is
/// unexpected.
async fn answer<T: for<'de> Deserialize<'de>>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ProviderError> {
    let response = sent.map_err(ProviderError::Unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(ProviderError::Unreachable)?;
    if status.is_success() {
        return serde_json::from_slice(&body)
            .map_err(|err| ProviderError::Unexpected(format!("a body it should not: {err}")));
    }
    match status.as_u16() {
        401 | 403 => {
            return Err(ProviderError::Unexpected(format!(
                "status {status}: the shop's Stripe key was refused (payments.stripe.secret_key)"
            )))
        }
        409 | 429 => return Err(ProviderError::Unexpected(format!("status {status}: busy"))),
        _ if status.is_client_error() => {
            let reason = serde_json::from_slice::<ErrorBody>(&body)
                .ok()
                .and_then(|body| body.error.message.or(body.error.code))
                .unwrap_or_else(|| format!("status {status}"));
            return Err(ProviderError::Refused(reason));
        }
        _ => {}
    }
    Err(ProviderError::Unexpected(format!("status {status}")))
}
