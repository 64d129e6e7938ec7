//! Plain types and rules, no I/O. Every value that enters from outside is
//! parsed into one of these types, so code past the HTTP layer never sees an
//! unchecked string.

mod address;
mod email;
mod notification;
mod otp;
mod product;
mod token;
mod user;

pub use address::{Address, AddressChanges, AddressFields, NewAddress};
pub use email::Email;
pub use notification::{render, MailContent};
pub use otp::{OtpCode, OtpHasher};
pub use product::{
    final_price, search_terms, stock_level, Faq, NewProduct, Product, ProductFields, Size, Variant,
};
pub use token::{Claims, IssuedToken, TokenError, TokenSigner};
pub use user::{PersonName, PhoneNumber, ProfileChanges, Role, User};

/// One field of the input that breaks a rule, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: &'static str,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Trims `raw` and checks it is 1..=max characters with no control characters.
pub(crate) fn bounded_text(
    field: &'static str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}
