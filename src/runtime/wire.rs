//! Messages that can cross a node boundary: serde types with a stable name.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::stats::Outcome;
use super::{ActorError, CallError};

/// Lets the runtime tell a failed answer from a normal one.
pub trait ReportsOutcome {
    fn outcome(&self) -> Outcome;
}

impl<T> ReportsOutcome for Result<T, ActorError> {
    fn outcome(&self) -> Outcome {
        match self {
            Err(err) if err.is_fault() => Outcome::Failed,
            _ => Outcome::Ok,
        }
    }
}

/// A call answered with a call's own failure (the bridge's, carrying one
/// to another node) failed.
impl<T> ReportsOutcome for Result<T, CallError> {
    fn outcome(&self) -> Outcome {
        match self {
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Failed,
        }
    }
}

/// A message an instance's mailbox takes: operators see it by its type's
/// name, and its answer tells a failure from a normal one. Messages that
/// stay on their node (the bridge's) need nothing more.
pub trait MailboxMessage: actix::Message<Result: ReportsOutcome> + Send + 'static {
    /// The type's own name (`GetProduct`), as operators see it.
    const TYPE_NAME: &'static str;
}

impl<M: WireMessage> MailboxMessage for M {
    const TYPE_NAME: &'static str = <M as WireMessage>::TYPE_NAME;
}

/// The `T` of a handler's `Result<T, ActorError>`.
pub trait ReplyOf {
    type Reply;
}

impl<T> ReplyOf for Result<T, ActorError> {
    type Reply = T;
}

/// A message an actor answers, on this node or from another: it travels as
/// JSON under `NAME`, and so does its reply.
pub trait WireMessage:
    actix::Message<Result = Result<<Self as WireMessage>::Reply, ActorError>>
    + Serialize
    + DeserializeOwned
    + Send
    + 'static
{
    type Reply: Serialize + DeserializeOwned + Send + 'static;
    /// Stable across versions: it is how nodes name the message to each other.
    const NAME: &'static str;
    /// The type's own name (`GetProduct`), as operators see it.
    const TYPE_NAME: &'static str;
}

/// Gives a message its stable wire name.
#[macro_export]
macro_rules! wire_name {
    ($message:ty => $name:literal) => {
        impl $crate::runtime::WireMessage for $message {
            type Reply =
                <<$message as ::actix::Message>::Result as $crate::runtime::ReplyOf>::Reply;
            const NAME: &'static str = $name;
            const TYPE_NAME: &'static str = stringify!($message);
        }
    };
}
