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

    /// Cancels an intent; `false` when it can no longer be cancelled
    /// because it succeeded. One cancelled already is cancelled.
    pub async fn cancel_intent(&self, intent_id: &str) -> Result<bool, ProviderError> {
        let path = format!("/v1/payment_intents/{}/cancel", segment(intent_id)?);
        match self.post::<IntentStatus>(&path, &[], None).await {
            Ok(_) => Ok(true),
            Err(ProviderError::Refused(reason)) => {
                let intent: IntentStatus = self
                    .get(&format!("/v1/payment_intents/{}", segment(intent_id)?))
                    .await?;
                match intent.status.as_str() {
                    "canceled" => Ok(true),
                    "succeeded" | "processing" | "requires_capture" => Ok(false),
                    _ => Err(ProviderError::Refused(reason)),
                }
            }
            Err(err) => Err(err),
        }
    }

    /// Refunds an intent's payment in full.
    pub async fn refund(
        &self,
        intent_id: &str,
        idempotency_key: &str,
    ) -> Result<String, ProviderError> {
        let form = [("payment_intent", intent_id.to_owned())];
        let refund: Refund = self
            .post("/v1/refunds", &form, Some(idempotency_key))
            .await?;
        Ok(refund.id)
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

    fn url(&self, path: &str) -> Result<url::Url, ProviderError> {
        self.api_base
            .join(path)
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

/// Stripe's answer as `T`, or why not: a 4xx is its refusal with its
/// message, a 5xx or a body of another shape is unexpected.
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
    if status.is_client_error() {
        let reason = serde_json::from_slice::<ErrorBody>(&body)
            .ok()
            .and_then(|body| body.error.message.or(body.error.code))
            .unwrap_or_else(|| format!("status {status}"));
        return Err(ProviderError::Refused(reason));
    }
    Err(ProviderError::Unexpected(format!("status {status}")))
}
