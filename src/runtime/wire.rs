//! Messages that can cross a node boundary: serde types with a stable name.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::ActorError;

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
