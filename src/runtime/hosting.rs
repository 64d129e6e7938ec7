//! The hosting side of a remote call: a kind declares the messages it
//! answers (`#[storefront_macros::handlers]`), and the node that hosts it decodes one by
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

    /// One message and reply of each kind the actor answers, as the wire
    /// test sends them through JSON and back (`#[handlers]` fills it from
    /// each handler's `#[example]`).
    #[cfg(test)]
    fn examples() -> Vec<WireExample> {
        Vec::new()
    }
}

/// A message and its reply as JSON, and the check that both read back the same.
#[cfg(test)]
pub struct WireExample {
    pub name: &'static str,
    pub check: Box<dyn Fn()>,
}

#[cfg(test)]
impl WireExample {
    pub fn of<M: WireMessage>(
        message: M,
        reply: Result<M::Reply, super::ActorError>,
    ) -> WireExample {
        let message = serde_json::to_value(&message).expect("a message serialises");
        let reply = serde_json::to_value(&reply).expect("a reply serialises");
        WireExample {
            name: M::NAME,
            check: Box::new(move || {
                let back: M = serde_json::from_value(message.clone()).unwrap();
                assert_eq!(serde_json::to_value(&back).unwrap(), message, "{}", M::NAME);
                let back: Result<M::Reply, super::ActorError> =
                    serde_json::from_value(reply.clone()).unwrap();
                assert_eq!(serde_json::to_value(&back).unwrap(), reply, "{}", M::NAME);
            }),
        }
    }
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
