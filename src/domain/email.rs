use serde::{Deserialize, Serialize};
use std::fmt;

use super::{rules, ValidationError};

/// An email address (`rules::EMAIL`) that the mailer can send to, lower-cased
/// so that one mailbox is one user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Email, ValidationError> {
        if raw.chars().count() > rules::EMAIL_MAX {
            return Err(ValidationError::new(
                "email",
                format!("must be at most {} characters", rules::EMAIL_MAX),
            ));
        }
        if !rules::EMAIL_RE.is_match(raw) {
            return Err(ValidationError::new(
                "email",
                "must be an email address like name@example.com",
            ));
        }
        if rules::EMAIL_LONG_LOCAL_PART_RE.is_match(raw) {
            return Err(ValidationError::new(
                "email",
                format!(
                    "must have at most {} characters before the @",
                    rules::EMAIL_LOCAL_PART_MAX
                ),
            ));
        }
        Ok(Email(raw.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, which logs may show in place of the address.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

super::string_newtype!(Email);

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Email::parse("Ana@Example.COM").unwrap().as_str(),
            "ana@example.com"
        );
        assert!(Email::parse("first.last+tag@sub.example.org").is_ok());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@-b.com",
            ".a@b.com",
            "a..b@c.com",
            " a@b.com",
            "a@b.com\n",
            "a\u{0}@b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_part_before_the_at_has_at_most_64_characters() {
        let at = |local: usize| format!("{}@example.com", "a".repeat(local));
        assert!(Email::parse(&at(64)).is_ok());
        let refused = Email::parse(&at(65)).unwrap_err();
        assert!(refused.reason.contains("64"), "{}", refused.reason);
    }
}
