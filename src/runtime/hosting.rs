//! The hosting side of a remote call: a kind declares the messages it
//! answers (`hosted_messages!`), and the node that hosts it decodes one by
//! name, asks the local pool and encodes the reply.

use futures_util::future::LocalBoxFuture;

use super::wire::WireMessage;
use super::{Address, CallError, Envelope};

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
        address: &Address<Self>,
        name: &str,
        body: &[u8],
    ) -> LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>>;
}

/// The hosting side of one remote call of `M`: decode, ask the local
/// instances, encode the reply.
pub fn answer_remote<A, M>(
    address: &Address<A>,
    body: &[u8],
) -> LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>>
where
    A: actix::Actor<Context = actix::Context<A>> + actix::Handler<Envelope<M>>,
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

/// Declares every message an actor answers, so that a node hosting it can
/// answer them for other nodes.
#[macro_export]
macro_rules! hosted_messages {
    ($actor:ty: [$($message:ty),* $(,)?]) => {
        impl $crate::runtime::Hosted for $actor {
            const MESSAGES: &'static [&'static str] =
                &[$(<$message as $crate::runtime::WireMessage>::NAME),*];

            fn dispatch(
                address: &$crate::runtime::Address<Self>,
                name: &str,
                body: &[u8],
            ) -> ::futures_util::future::LocalBoxFuture<
                'static,
                Result<Vec<u8>, $crate::runtime::DispatchError>,
            > {
                $(
                    if name == <$message as $crate::runtime::WireMessage>::NAME {
                        return $crate::runtime::answer_remote::<Self, $message>(address, body);
                    }
                )*
                let name = name.to_owned();
                Box::pin(async move {
                    Err($crate::runtime::DispatchError::UnknownMessage(name))
                })
            }
        }
    };
}
