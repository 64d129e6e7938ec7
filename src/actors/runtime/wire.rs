//! Messages that can cross a node boundary: serde types with a stable name.
//! A kind declares the messages it answers with `wire_messages!`, which
//! names them and builds the hosting side of a remote call: decode by name,
//! ask the local pool, encode the reply.

use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{ActorError, CallError};

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

/// Why a remote call could not be answered by the hosting node.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("no message is named {0:?} here")]
    UnknownMessage(String),
    #[error("the message does not decode")]
    Malformed(#[source] serde_json::Error),
    #[error("the call failed")]
    Call(#[from] CallError),
    #[error("delivered again after the node that took it first went away; not run twice")]
    Repeated,
}

/// The messages a kind answers, and how the node hosting it answers one that
/// came by name from another node.
pub trait Hosted: actix::Actor {
    const MESSAGES: &'static [&'static str];

    /// Decodes the message named `name`, asks the local instances and
    /// encodes their reply.
    fn dispatch(
        address: &super::Address<Self>,
        name: &str,
        body: &[u8],
    ) -> LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>>;
}

/// The hosting side of one remote call of `M`: decode, ask the local
/// instances, encode the reply.
pub fn answer_remote<A, M>(
    address: &super::Address<A>,
    body: &[u8],
) -> LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>>
where
    A: actix::Actor<Context = actix::Context<A>> + actix::Handler<super::Envelope<M>>,
    M: WireMessage,
{
    let address = address.clone();
    let message = serde_json::from_slice::<M>(body);
    Box::pin(async move {
        let reply = address
            .call(message.map_err(DispatchError::Malformed)?)
            .await?;
        Ok(serde_json::to_vec(&reply).expect("a reply that serialises once serialises again"))
    })
}

/// Gives a message its stable wire name.
#[macro_export]
macro_rules! wire_name {
    ($message:ty => $name:literal) => {
        impl $crate::actors::runtime::WireMessage for $message {
            type Reply =
                <<$message as ::actix::Message>::Result as $crate::actors::runtime::ReplyOf>::Reply;
            const NAME: &'static str = $name;
            const TYPE_NAME: &'static str = stringify!($message);
        }
    };
}

/// Declares every message an actor answers, so that a node hosting it can
/// answer them for other nodes.
#[macro_export]
macro_rules! hosted_messages {
    ($actor:ty: [$($message:ty),* $(,)?]) => {
        impl $crate::actors::runtime::Hosted for $actor {
            const MESSAGES: &'static [&'static str] =
                &[$(<$message as $crate::actors::runtime::WireMessage>::NAME),*];

            fn dispatch(
                address: &$crate::actors::runtime::Address<Self>,
                name: &str,
                body: &[u8],
            ) -> ::futures_util::future::LocalBoxFuture<
                'static,
                Result<Vec<u8>, $crate::actors::runtime::DispatchError>,
            > {
                $(
                    if name == <$message as $crate::actors::runtime::WireMessage>::NAME {
                        return $crate::actors::runtime::answer_remote::<Self, $message>(address, body);
                    }
                )*
                let name = name.to_owned();
                Box::pin(async move {
                    Err($crate::actors::runtime::DispatchError::UnknownMessage(name))
                })
            }
        }
    };
}
