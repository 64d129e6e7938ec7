//! Who takes an order's money: the provider `payments.provider` names. The
//! manual provider is a bank transfer or cash on delivery that an operator
//! marks paid, so it asks nothing of anyone; Stripe is asked over its HTTP
//! API (`stripe.rs`). Both answer in the domain's words, and the
//! PaymentActor writes what they answer in the store.

mod error;
mod provider;
mod stripe;

pub use error::ProviderError;
pub use provider::Provider;
pub use stripe::{StartedPayment, Stopped, StripeClient};
