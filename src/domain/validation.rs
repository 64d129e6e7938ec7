//! What every checked type answers when its input breaks a rule, and the
//! checks of free text that several types share.

use super::rules;

/// One field of the input that breaks a rule, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    pub field: std::borrow::Cow<'static, str>,
    pub reason: String,
}

impl ValidationError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field: std::borrow::Cow::Borrowed(field),
            reason: reason.into(),
        }
    }
}

/// Several broken rules at once, as serde wants one error.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<ValidationError>);

/// Gives a newtype checked by `parse(&str)` its serde form: a plain string
/// that is parsed again when read.
macro_rules! string_newtype {
    ($name:ident) => {
        impl TryFrom<String> for $name {
            type Error = $crate::domain::ValidationError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                $name::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}
pub(crate) use string_newtype;

/// Checks one line of text against `rules::SINGLE_LINE` and `max`
/// characters, and keeps it trimmed.
pub(crate) fn bounded_text(
    field: &'static str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    checked_text(
        field,
        raw,
        max,
        &rules::SINGLE_LINE_RE,
        "must hold something other than spaces, and no control characters",
    )
}

/// Checks text that may span lines against `rules::MULTI_LINE` and `max`
/// characters, and keeps it trimmed; it may be empty.
pub(crate) fn long_text(
    field: &'static str,
    raw: &str,
    max: usize,
) -> Result<String, ValidationError> {
    checked_text(
        field,
        raw,
        max,
        &rules::MULTI_LINE_RE,
        "must not contain control characters other than line breaks and tabs",
    )
}

fn checked_text(
    field: &'static str,
    raw: &str,
    max: usize,
    pattern: &regex::Regex,
    refusal: &'static str,
) -> Result<String, ValidationError> {
    if raw.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if !pattern.is_match(raw) {
        return Err(ValidationError::new(field, refusal));
    }
    Ok(raw.trim().to_owned())
}
