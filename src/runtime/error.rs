//! What a call to an actor answers besides success: the handler's refusal or
//! fault (`ActorError`), or no answer at all (`CallError`). Both cross node
//! boundaries, so they hold kinds and text, never a driver's error.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::catalogue::CatalogueError;
use crate::domain::{ActorKind, Shortage, ValidationError};
use crate::mail::MailError;
use crate::store::StoreError;
use crate::telemetry::error_chain;

/// Why a call to an actor got no answer from its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CallError {
    #[error("{0} did not answer in time")]
    Timeout(ActorKind),
    #[error("{0} is not running")]
    Unavailable(ActorKind),
    #[error("{0} failed while handling the message and is being restarted")]
    Panicked(ActorKind),
    /// The node hosting it could not be reached, or answered something else
    /// than the reply of the message.
    #[error("{0} on another node could not be reached")]
    Remote(ActorKind),
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
    /// A checkout would charge another subtotal than the one the customer
    /// saw: nothing changed, and this is the cart as the checkout found it.
    #[error("the cart's subtotal is now {}", .0.subtotal)]
    SubtotalChanged(Box<crate::domain::Cart>),
    /// A checkout some of whose lines cannot be had: nothing changed.
    #[error("not every line can be had: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Short(Vec<Shortage>),
    /// Well-formed, but cannot be done as asked (a key reused for another request).
    #[error("cannot be processed: {0}")]
    Unprocessable(String),
    /// A write named a version that is no longer current.
    #[error("it changed since the version named")]
    Stale,
    #[error("too many requests")]
    RateLimited { retry_after: Duration },
    /// A dependency (database, Redis, mail server) is down: worth retrying.
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    /// The payment provider refused or failed what it was asked, and why
    /// (its own words): nothing changed here.
    #[error("the payment provider: {0}")]
    Provider(String),
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
            ActorError::Unavailable(_)
                | ActorError::Provider(_)
                | ActorError::Internal(_)
                | ActorError::Call(_)
        )
    }
}

impl From<StoreError> for ActorError {
    fn from(err: StoreError) -> ActorError {
        match err {
            StoreError::Unavailable { .. } | StoreError::Contention(_) => {
                ActorError::Unavailable(error_chain(&err))
            }
            StoreError::Conflict(message) => ActorError::Conflict(message),
            StoreError::Refused(message) => ActorError::Refused(message),
            StoreError::Failed(_) | StoreError::Corrupt(_) => {
                ActorError::Internal(error_chain(&err))
            }
        }
    }
}

impl From<CatalogueError> for ActorError {
    fn from(err: CatalogueError) -> ActorError {
        match err {
            CatalogueError::Store(err) => err.into(),
            CatalogueError::Text(_) | CatalogueError::Task(_) => {
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
