//! Every service is an actor. Each file holds one actor with its messages and
//! handlers; `mailbox` and `registry` are the runtime around them.

pub mod mailbox;
pub mod mailer;
pub mod otp;
pub mod product;
pub mod registry;
pub mod user;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

pub use mailbox::{CallError, Handles, Mailbox, MailboxStats, Reply};
pub use registry::Registry;

use crate::domain::ValidationError;
use crate::mail::MailError;
use crate::store::StoreError;
use crate::telemetry::error_chain;

/// The kinds of actor a node can host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActorKind {
    Otp,
    User,
    Mailer,
    Product,
}

impl ActorKind {
    pub const ALL: [ActorKind; 4] = [
        ActorKind::Otp,
        ActorKind::User,
        ActorKind::Mailer,
        ActorKind::Product,
    ];

    pub fn actor_name(self) -> &'static str {
        match self {
            ActorKind::Otp => "OtpActor",
            ActorKind::User => "UserActor",
            ActorKind::Mailer => "MailerActor",
            ActorKind::Product => "ProductActor",
        }
    }

    /// Accepts `OtpActor` as well as `otp`, any case.
    pub fn parse(raw: &str) -> Option<ActorKind> {
        let wanted = raw.to_ascii_lowercase();
        let wanted = wanted.strip_suffix("actor").unwrap_or(&wanted);
        ActorKind::ALL.into_iter().find(|kind| {
            kind.actor_name().to_ascii_lowercase().strip_suffix("actor") == Some(wanted)
        })
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.actor_name())
    }
}

/// What an actor's handler can answer besides success. It can cross a node
/// boundary, so it holds kinds and messages, never a driver's error: the
/// cause chain of a fault is kept as text (and logged where it is answered).
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum ActorError {
    #[error("not found")]
    NotFound,
    #[error("the code is wrong, expired or already used")]
    InvalidCode,
    #[error("the input breaks the rules")]
    Invalid(Vec<ValidationError>),
    /// The database refused a value that the rules let through.
    #[error("the value was refused: {0}")]
    Refused(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A write named a version that is no longer current.
    #[error("it changed since the version named")]
    Stale,
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// A dependency (database, Redis, mail server) is down: worth retrying.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    /// Our fault.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("a call to another actor failed")]
    Call(#[from] CallError),
}

impl ActorError {
    /// A fault of ours or of a dependency, as opposed to a refusal of the input.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            ActorError::Unavailable(_) | ActorError::Internal(_) | ActorError::Call(_)
        )
    }
}

impl From<StoreError> for ActorError {
    fn from(err: StoreError) -> ActorError {
        match err {
            StoreError::Unavailable { .. } => ActorError::Unavailable(error_chain(&err)),
            StoreError::Conflict(message) => ActorError::Conflict(message),
            StoreError::Refused(message) => ActorError::Refused(message),
            StoreError::Failed(_) | StoreError::Corrupt(_) => {
                ActorError::Internal(error_chain(&err))
            }
        }
    }
}

impl From<MailError> for ActorError {
    fn from(err: MailError) -> ActorError {
        if err.is_temporary() {
            ActorError::Unavailable(error_chain(&err))
        } else {
            ActorError::Internal(error_chain(&err))
        }
    }
}

/// The state of one dependency, as `/readyz` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DependencyStatus {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DependencyStatus {
    pub fn from_result<E: std::error::Error>(name: &'static str, result: Result<(), E>) -> Self {
        match result {
            Ok(()) => DependencyStatus {
                name,
                ok: true,
                error: None,
            },
            Err(err) => DependencyStatus {
                name,
                ok: false,
                error: Some(crate::telemetry::error_chain(&err)),
            },
        }
    }
}

/// Asks an actor to check the dependency it owns.
#[derive(Debug, actix::Message)]
#[rtype(result = "Result<DependencyStatus, ActorError>")]
pub struct CheckDependency;

#[cfg(test)]
mod tests {
    use super::ActorKind;

    #[test]
    fn parses_kind_names() {
        assert_eq!(ActorKind::parse("OtpActor"), Some(ActorKind::Otp));
        assert_eq!(ActorKind::parse("mailer"), Some(ActorKind::Mailer));
        assert_eq!(ActorKind::parse("useractor"), Some(ActorKind::User));
        assert_eq!(ActorKind::parse("actor"), None);
        assert_eq!(ActorKind::parse("nope"), None);
    }
}
