//! Every service is an actor. Each file holds one actor with its messages and
//! handlers; `mailbox` and `registry` are the runtime around them.

pub mod mailbox;
pub mod mailer;
pub mod otp;
pub mod product;
pub mod registry;
pub mod user;

use serde::Serialize;
use std::fmt;
use std::time::Duration;

pub use mailbox::{CallError, Handles, Mailbox, MailboxStats, Reply};
pub use registry::Registry;

use crate::mail::MailError;
use crate::store::StoreError;

/// The kinds of actor a node can host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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

/// What an actor's handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    #[error("not found")]
    NotFound,
    #[error("the code is wrong, expired or already used")]
    InvalidCode,
    #[error("the input breaks the rules")]
    Invalid(Vec<crate::domain::ValidationError>),
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("mail delivery failed")]
    Mail(#[from] MailError),
    #[error("a call to another actor failed")]
    Call(#[from] CallError),
}

impl ActorError {
    /// A fault of ours or of a dependency, as opposed to a refusal of the input.
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            ActorError::Store(_) | ActorError::Mail(_) | ActorError::Call(_)
        )
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
