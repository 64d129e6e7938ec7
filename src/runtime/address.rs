//! The one address type: a kind's local pool on this node, or a route to
//! the node that hosts it. Callers call either the same way, with the same
//! typed messages and replies; only the latency tells them apart.

use actix::dev::ToEnvelope;
use actix::prelude::*;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

use super::envelope::Envelope;
use super::pool::Pool;
use super::stats::KindStats;
use super::wire::WireMessage;
use super::{ActorKind, CallError};

/// One call to an actor hosted on another node, as the bus carries it.
#[derive(Debug)]
pub struct RemoteCall {
    pub kind: ActorKind,
    /// The message's stable name (`WireMessage::NAME`).
    pub message: &'static str,
    /// The message as JSON.
    pub body: Vec<u8>,
    pub correlation_id: Option<crate::telemetry::RequestId>,
    pub timeout: Duration,
}

/// How a call reaches a kind hosted elsewhere: the bus bridge implements it.
/// The answer is the reply as JSON, as the hosting node's address gave it.
#[async_trait(?Send)]
pub trait RemoteRoute: Send + Sync {
    async fn call(&self, call: RemoteCall) -> Result<Vec<u8>, CallError>;
}

enum Route<A: Actor> {
    Local(Arc<Pool<A>>),
    Remote {
        kind: ActorKind,
        route: Arc<dyn RemoteRoute>,
        timeout: Duration,
    },
}

/// The address of an actor kind.
pub struct Address<A: Actor> {
    route: Route<A>,
}

impl<A: Actor> Clone for Address<A> {
    fn clone(&self) -> Self {
        Address {
            route: match &self.route {
                Route::Local(pool) => Route::Local(pool.clone()),
                Route::Remote {
                    kind,
                    route,
                    timeout,
                } => Route::Remote {
                    kind: *kind,
                    route: route.clone(),
                    timeout: *timeout,
                },
            },
        }
    }
}

impl<A: Actor<Context = Context<A>>> Address<A> {
    pub fn local(pool: Pool<A>) -> Address<A> {
        Address {
            route: Route::Local(Arc::new(pool)),
        }
    }

    /// The address of a pool its owner keeps a handle on too.
    pub fn shared(pool: Arc<Pool<A>>) -> Address<A> {
        Address {
            route: Route::Local(pool),
        }
    }

    pub fn remote(kind: ActorKind, route: Arc<dyn RemoteRoute>, timeout: Duration) -> Address<A> {
        Address {
            route: Route::Remote {
                kind,
                route,
                timeout,
            },
        }
    }

    /// The local instances; `None` for a remote kind.
    pub fn local_pool(&self) -> Option<&Arc<Pool<A>>> {
        match &self.route {
            Route::Local(pool) => Some(pool),
            Route::Remote { .. } => None,
        }
    }

    /// The counters of the local instances; `None` for a remote kind.
    pub fn local_stats(&self) -> Option<&Arc<KindStats>> {
        match &self.route {
            Route::Local(pool) => Some(pool.stats()),
            Route::Remote { .. } => None,
        }
    }

    /// Sends `msg` and waits for the reply, from the local pool or over the
    /// remote route. The caller's span and request id travel with it.
    pub async fn call<M>(&self, msg: M) -> Result<M::Result, CallError>
    where
        A: Handler<Envelope<M>>,
        A::Context: ToEnvelope<A, Envelope<M>>,
        M: WireMessage,
    {
        match &self.route {
            Route::Local(pool) => pool.call(msg).await,
            Route::Remote {
                kind,
                route,
                timeout,
            } => {
                let body = serde_json::to_vec(&msg).map_err(|err| {
                    tracing::error!(actor = kind.actor_name(), message = M::NAME, error = %err, "cannot encode a message");
                    CallError::Remote(*kind)
                })?;
                let reply = route
                    .call(RemoteCall {
                        kind: *kind,
                        message: M::NAME,
                        body,
                        correlation_id: crate::telemetry::current_request_id(),
                        timeout: *timeout,
                    })
                    .await?;
                serde_json::from_slice(&reply).map_err(|err| {
                    tracing::error!(actor = kind.actor_name(), message = M::NAME, error = %err, "a remote reply does not decode");
                    CallError::Remote(*kind)
                })
            }
        }
    }
}
