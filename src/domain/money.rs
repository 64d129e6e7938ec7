use serde::{Deserialize, Serialize};
use std::fmt;

use super::ValidationError;

/// An ISO 4217 currency code such as USD. Amounts are integer minor units.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, ValidationError> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "currency",
                format!("`{raw}` is not an ISO 4217 code like USD"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

super::string_newtype!(Currency);

#[cfg(test)]
mod tests {
    use super::Currency;

    #[test]
    fn three_capital_letters() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        for bad in ["", "usd", "US", "USDT", "U$D"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
