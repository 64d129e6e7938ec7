use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

use super::{bounded_text, Email, ValidationError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::Customer, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "customer" => Some(Role::Customer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who has the admin role: the emails of `auth.admin_emails`. The list is
/// asked at every login and every request, so taking an email off it takes
/// the role away at once.
#[derive(Debug, Clone, Default)]
pub struct AdminList(HashSet<String>);

impl AdminList {
    pub fn new<'a>(emails: impl IntoIterator<Item = &'a Email>) -> AdminList {
        AdminList(
            emails
                .into_iter()
                .map(|email| email.as_str().to_owned())
                .collect(),
        )
    }

    pub fn role_for(&self, email: &str) -> Role {
        if self.0.contains(email) {
            Role::Admin
        } else {
            Role::Customer
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: i64,
    pub email: String,
    pub phone_number: Option<String>,
    pub name: Option<String>,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A phone number in a loose international form: digits with an optional
/// leading `+` and the usual separators, 7 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<PhoneNumber, ValidationError> {
        if super::rules::PHONE_RE.is_match(raw) {
            Ok(PhoneNumber(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "phoneNumber",
                "must be a phone number of 7 to 15 digits, optionally starting with +",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<PersonName, ValidationError> {
        bounded_text("name", raw, super::rules::NAME_MAX).map(PersonName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A partial profile update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileChanges {
    pub name: Option<PersonName>,
    pub phone_number: Option<PhoneNumber>,
}

super::string_newtype!(PhoneNumber);
super::string_newtype!(PersonName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers() {
        assert!(PhoneNumber::parse("+44 20 7946 0958").is_ok());
        assert!(PhoneNumber::parse("(555) 123-4567").is_ok());
        for bad in [
            "",
            "12345",
            "call me",
            "+1234567890123456",
            "++1234567",
            " +15551234567",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(PersonName::parse("  Ana  ").unwrap().as_str(), "Ana");
        assert!(PersonName::parse("   ").is_err());
        assert!(PersonName::parse(&"x".repeat(101)).is_err());
    }
}
