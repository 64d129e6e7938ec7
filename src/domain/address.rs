use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bounded_text, ValidationError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub id: i64,
    pub label: Option<String>,
    pub street: String,
    pub city: String,
    pub state: Option<String>,
    pub zip_code: String,
    pub country: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An address as a client sends it: every field optional, so one shape serves
/// both creation (where some are required) and partial updates.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressFields {
    pub label: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country: Option<String>,
    pub is_default: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAddress {
    pub label: Option<String>,
    pub street: String,
    pub city: String,
    pub state: Option<String>,
    pub zip_code: String,
    pub country: String,
    pub is_default: bool,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressChanges {
    pub label: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country: Option<String>,
    pub is_default: Option<bool>,
}

impl AddressFields {
    /// Checks a new address: street, city, zipCode and country are required.
    pub fn into_new(self) -> Result<NewAddress, Vec<ValidationError>> {
        let mut errors = Vec::new();
        for (field, value) in [
            ("street", &self.street),
            ("city", &self.city),
            ("zipCode", &self.zip_code),
            ("country", &self.country),
        ] {
            if value.is_none() {
                errors.push(ValidationError::new(field, "is required"));
            }
        }
        let changes = self.into_changes();
        match changes {
            Err(mut more) => {
                errors.append(&mut more);
                Err(errors)
            }
            Ok(_) if !errors.is_empty() => Err(errors),
            Ok(changes) => Ok(NewAddress {
                label: changes.label,
                street: changes.street.unwrap_or_default(),
                city: changes.city.unwrap_or_default(),
                state: changes.state,
                zip_code: changes.zip_code.unwrap_or_default(),
                country: changes.country.unwrap_or_default(),
                is_default: changes.is_default.unwrap_or(false),
            }),
        }
    }

    /// Checks every field that is present.
    pub fn into_changes(self) -> Result<AddressChanges, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut check = |field: &'static str, value: Option<String>, max: usize| {
            value.and_then(|raw| {
                bounded_text(field, &raw, max)
                    .map_err(|e| errors.push(e))
                    .ok()
            })
        };
        let changes = AddressChanges {
            label: check("label", self.label, 40),
            street: check("street", self.street, 200),
            city: check("city", self.city, 100),
            state: check("state", self.state, 100),
            zip_code: check("zipCode", self.zip_code, 12),
            country: check("country", self.country, 56),
            is_default: self.is_default,
        };
        if let Some(zip) = &changes.zip_code {
            if !zip
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
            {
                errors.push(ValidationError::new(
                    "zipCode",
                    "may hold only letters, digits, spaces and dashes",
                ));
            }
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> AddressFields {
        AddressFields {
            label: Some("Home".into()),
            street: Some("1 Main St".into()),
            city: Some("Springfield".into()),
            state: None,
            zip_code: Some("12345".into()),
            country: Some("US".into()),
            is_default: None,
        }
    }

    #[test]
    fn new_address_needs_required_fields() {
        assert!(full().into_new().is_ok());
        let errors = AddressFields {
            street: None,
            country: None,
            ..full()
        }
        .into_new()
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["street", "country"]);
    }

    #[test]
    fn changes_check_present_fields_only() {
        let changes = AddressFields {
            city: Some("  Shelbyville ".into()),
            ..Default::default()
        }
        .into_changes()
        .unwrap();
        assert_eq!(changes.city.as_deref(), Some("Shelbyville"));
        assert!(AddressFields {
            zip_code: Some("12<45".into()),
            ..Default::default()
        }
        .into_changes()
        .is_err());
        assert!(AddressFields {
            street: Some("".into()),
            ..Default::default()
        }
        .into_changes()
        .is_err());
    }
}
