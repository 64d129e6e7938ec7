//! Why a payment provider did not do what it was asked.

/// Why a provider did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// It answered no, and why (a refund of a failed payment, a bad amount).
    #[error("the payment provider refused: {0}")]
    Refused(String),
    /// It could not be asked or did not answer in time; the same request
    /// may be sent again.
    #[error("the payment provider cannot be reached")]
    Unreachable(#[source] reqwest::Error),
    /// It answered what it should not (a 5xx, a body that is not its API's).
    #[error("the payment provider answered {0}")]
    Unexpected(String),
}
