use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{bounded_text, rules, Invalid, ValidationError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl Address {
    /// What an erased customer's order keeps of its shipping address for
    /// the shop's books: the country (which taxes ask for), nothing that
    /// leads to a person.
    pub fn anonymised(&self) -> Address {
        Address {
            id: self.id,
            label: None,
            street: ERASED.to_owned(),
            city: ERASED.to_owned(),
            state: None,
            zip_code: ERASED.to_owned(),
            country: self.country.clone(),
            is_default: false,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// What stands where an erased customer's data was.
pub const ERASED: &str = "(erased)";

/// An address as a client gave it, nothing checked yet: every field optional,
/// so one draft serves creation (where some are required) and partial updates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressDraft {
    pub label: Option<String>,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country: Option<String>,
    pub is_default: Option<bool>,
}

/// A checked partial update of an address; `None` leaves a field as it is.
/// Built only by `parse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AddressWire", into = "AddressWire")]
pub struct AddressChanges {
    label: Option<String>,
    street: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip_code: Option<String>,
    country: Option<String>,
    is_default: Option<bool>,
}

/// A checked new address. Built only by `parse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "AddressWire", into = "AddressWire")]
pub struct NewAddress {
    changes: AddressChanges,
}

/// The shape both checked types take on the wire between nodes; a receiving
/// node parses it again, so it cannot smuggle in an unchecked value.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressWire {
    label: Option<String>,
    street: Option<String>,
    city: Option<String>,
    state: Option<String>,
    zip_code: Option<String>,
    country: Option<String>,
    is_default: Option<bool>,
}

impl From<AddressWire> for AddressDraft {
    fn from(wire: AddressWire) -> AddressDraft {
        AddressDraft {
            label: wire.label,
            street: wire.street,
            city: wire.city,
            state: wire.state,
            zip_code: wire.zip_code,
            country: wire.country,
            is_default: wire.is_default,
        }
    }
}

impl From<AddressChanges> for AddressWire {
    fn from(changes: AddressChanges) -> AddressWire {
        AddressWire {
            label: changes.label,
            street: changes.street,
            city: changes.city,
            state: changes.state,
            zip_code: changes.zip_code,
            country: changes.country,
            is_default: changes.is_default,
        }
    }
}

impl From<NewAddress> for AddressWire {
    fn from(address: NewAddress) -> AddressWire {
        address.changes.into()
    }
}

impl TryFrom<AddressWire> for AddressChanges {
    type Error = Invalid;

    fn try_from(wire: AddressWire) -> Result<Self, Invalid> {
        AddressChanges::parse(wire.into()).map_err(Invalid)
    }
}

impl TryFrom<AddressWire> for NewAddress {
    type Error = Invalid;

    fn try_from(wire: AddressWire) -> Result<Self, Invalid> {
        NewAddress::parse(wire.into()).map_err(Invalid)
    }
}

impl AddressChanges {
    /// Checks every field that is present.
    pub fn parse(draft: AddressDraft) -> Result<AddressChanges, Vec<ValidationError>> {
        let mut errors = Vec::new();
        let mut check = |field: &'static str, value: Option<String>, max: usize| {
            value.and_then(|raw| {
                bounded_text(field, &raw, max)
                    .map_err(|e| errors.push(e))
                    .ok()
            })
        };
        let zip_code_shape = draft
            .zip_code
            .as_deref()
            .is_none_or(|zip| rules::ZIP_CODE_RE.is_match(zip));
        let changes = AddressChanges {
            label: check("label", draft.label, rules::LABEL_MAX),
            street: check("street", draft.street, rules::STREET_MAX),
            city: check("city", draft.city, rules::CITY_MAX),
            state: check("state", draft.state, rules::STATE_MAX),
            zip_code: check("zipCode", draft.zip_code, rules::ZIP_CODE_MAX),
            country: check("country", draft.country, rules::COUNTRY_MAX),
            is_default: draft.is_default,
        };
        if !zip_code_shape {
            errors.push(ValidationError::new(
                "zipCode",
                "may hold only letters, digits, spaces and dashes",
            ));
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }

    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    pub fn street(&self) -> Option<&str> {
        self.street.as_deref()
    }

    pub fn city(&self) -> Option<&str> {
        self.city.as_deref()
    }

    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    pub fn zip_code(&self) -> Option<&str> {
        self.zip_code.as_deref()
    }

    pub fn country(&self) -> Option<&str> {
        self.country.as_deref()
    }

    pub fn is_default(&self) -> Option<bool> {
        self.is_default
    }
}

impl NewAddress {
    /// Checks a new address: street, city, zipCode and country are required.
    pub fn parse(draft: AddressDraft) -> Result<NewAddress, Vec<ValidationError>> {
        let mut errors: Vec<ValidationError> = [
            ("street", &draft.street),
            ("city", &draft.city),
            ("zipCode", &draft.zip_code),
            ("country", &draft.country),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_none())
        .map(|(field, _)| ValidationError::new(field, "is required"))
        .collect();
        match AddressChanges::parse(draft) {
            Err(mut more) => {
                errors.append(&mut more);
                Err(errors)
            }
            Ok(_) if !errors.is_empty() => Err(errors),
            Ok(changes) => Ok(NewAddress { changes }),
        }
    }

    pub fn label(&self) -> Option<&str> {
        self.changes.label()
    }

    pub fn street(&self) -> &str {
        self.changes.street().unwrap_or_default()
    }

    pub fn city(&self) -> &str {
        self.changes.city().unwrap_or_default()
    }

    pub fn state(&self) -> Option<&str> {
        self.changes.state()
    }

    pub fn zip_code(&self) -> &str {
        self.changes.zip_code().unwrap_or_default()
    }

    pub fn country(&self) -> &str {
        self.changes.country().unwrap_or_default()
    }

    pub fn is_default(&self) -> bool {
        self.changes.is_default().unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> AddressDraft {
        AddressDraft {
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
        let address = NewAddress::parse(full()).unwrap();
        assert_eq!(address.street(), "1 Main St");
        assert!(!address.is_default());
        let errors = NewAddress::parse(AddressDraft {
            street: None,
            country: None,
            ..full()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_ref()).collect();
        assert_eq!(fields, ["street", "country"]);
    }

    #[test]
    fn changes_check_present_fields_only() {
        let changes = AddressChanges::parse(AddressDraft {
            city: Some("  Shelbyville ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(changes.city(), Some("Shelbyville"));
        for bad in [
            AddressDraft {
                zip_code: Some("12<45".into()),
                ..Default::default()
            },
            AddressDraft {
                street: Some("".into()),
                ..Default::default()
            },
            AddressDraft {
                city: Some("Spring\0field".into()),
                ..Default::default()
            },
        ] {
            assert!(AddressChanges::parse(bad).is_err());
        }
    }

    #[test]
    fn the_wire_form_is_checked_again() {
        let address = NewAddress::parse(full()).unwrap();
        let json = serde_json::to_string(&address).unwrap();
        assert_eq!(serde_json::from_str::<NewAddress>(&json).unwrap(), address);
        let forged = json.replace("12345", "12<45");
        assert!(serde_json::from_str::<NewAddress>(&forged).is_err());
    }
}
