//! BridgeActor: the bridge as an actor of the runtime, supervised like the
//! others. Its mailbox takes this node's events for the broker (`Publish`)
//! and its calls to actors on other nodes (`Call`); each handler waits for
//! the broker's confirm or the reply on its own, without holding the
//! mailbox, so publishes and calls overlap as they would on the shared
//! connection alone. It owns the connection's life: when the connection is
//! lost it restarts, and its fresh start reconnects and replays the
//! topology, so its restarts count the reconnections.
//!
//! It sits with the bus rather than with the services in `actors/`: the
//! bus is what calls it, and the bus is below the services.

use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;

use super::link::{Bridge, BridgeError};
use crate::bus::envelope::EventEnvelope;
use crate::domain::{ActorKind, Backoff};
use crate::runtime::{
    Address, CallError, DispatchError, Held, Hosted, Instance, KindStats, MailboxMessage, Pool,
    RemoteCall, RemoteRoute, Reply, ReportsOutcome,
};

/// How often the actor looks whether its connection is still up.
const WATCH_EVERY: Duration = Duration::from_millis(500);

pub struct BridgeActor {
    bridge: Arc<Bridge>,
    instance: Instance,
}

/// An event for the broker: answered once the broker confirmed it.
pub struct Publish {
    envelope: Arc<EventEnvelope>,
    /// Counts it among the publishes queued until its handler starts.
    queued: Held,
}

impl Message for Publish {
    type Result = Result<(), BridgeError>;
}

impl MailboxMessage for Publish {
    const TYPE_NAME: &'static str = "Publish";
}

/// A call to an actor another node hosts: answered with its reply as JSON.
pub struct Call {
    call: RemoteCall,
    queued: Held,
}

impl Message for Call {
    type Result = Result<Vec<u8>, CallError>;
}

impl MailboxMessage for Call {
    const TYPE_NAME: &'static str = "Call";
}

impl ReportsOutcome for Result<(), BridgeError> {
    fn outcome(&self) -> crate::runtime::Outcome {
        match self {
            Ok(()) => crate::runtime::Outcome::Ok,
            Err(_) => crate::runtime::Outcome::Failed,
        }
    }
}

impl Actor for BridgeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.bridge.is_connected() {
            self.watch(ctx);
        } else {
            self.reconnect(ctx);
        }
    }
}

impl BridgeActor {
    /// Restarts the actor once the connection is gone.
    fn watch(&self, ctx: &mut Context<Self>) {
        ctx.run_interval(WATCH_EVERY, |actor, ctx| {
            if !actor.bridge.is_connected() {
                tracing::warn!("the connection to RabbitMQ is gone; reconnecting");
                actor.instance.restart(ctx);
            }
        });
    }

    /// Reconnects with backoff until the new connection carries the whole
    /// topology again, then watches it.
    fn reconnect(&self, ctx: &mut Context<Self>) {
        let bridge = self.bridge.clone();
        let reconnected = async move {
            let mut failures = 0;
            loop {
                match bridge.reconnect().await {
                    Ok(()) => {
                        tracing::info!("reconnected to RabbitMQ");
                        return;
                    }
                    Err(err) => {
                        failures += 1;
                        let backoff = Backoff::BUS.after(failures);
                        tracing::warn!(error = %crate::telemetry::error_chain(&err), "cannot reconnect to RabbitMQ yet; retrying in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                    }
                }
            }
        };
        ctx.spawn(
            self.instance
                .guard(reconnected)
                .map(|(), actor: &mut Self, ctx| actor.watch(ctx)),
        );
    }
}

/// Runs a wait of the bridge as a task of its own, and answers when it
/// ends. actix polls every future an actor's context holds each time any
/// of them wakes, so dozens of confirms awaited there would each be polled
/// at every confirm; the context holds only the task's handle, which is
/// cheap to poll. The wait is polled once here first, so that its message
/// goes to the connection in this turn rather than the task's first (one
/// thread hop fewer: events published through the actor went from 0.86 to
/// about 0.93 of the shared connection's rate). A panic in the task is the
/// handler's, and restarts the actor as any handler's does.
fn on_its_own<T: 'static>(wait: impl std::future::Future<Output = T> + 'static) -> Reply<T> {
    let mut wait = Box::pin(wait);
    let mut first_poll = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
    if let std::task::Poll::Ready(answer) = wait.as_mut().poll(&mut first_poll) {
        return Box::pin(async move { answer });
    }
    let task = actix_rt::spawn(wait);
    Box::pin(async move {
        match task.await {
            Ok(answer) => answer,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    })
}

impl crate::runtime::Handles<Publish> for BridgeActor {
    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) -> Reply<Result<(), BridgeError>> {
        let Publish { envelope, queued } = msg;
        drop(queued);
        let bridge = self.bridge.clone();
        on_its_own(async move { bridge.publish(&envelope).await })
    }
}

impl crate::runtime::Handles<Call> for BridgeActor {
    fn handle(&mut self, msg: Call, _: &mut Context<Self>) -> Reply<Result<Vec<u8>, CallError>> {
        let Call { call, queued } = msg;
        drop(queued);
        let bridge = self.bridge.clone();
        on_its_own(async move { bridge.call(call).await })
    }
}

crate::instrumented_actor!(BridgeActor);

/// Other nodes send the bridge nothing by name: it is how they send.
impl Hosted for BridgeActor {
    const MESSAGES: &'static [&'static str] = &[];

    fn dispatch(
        _: &Address<Self>,
        name: &str,
        _: &[u8],
    ) -> futures_util::future::LocalBoxFuture<'static, Result<Vec<u8>, DispatchError>> {
        let name = name.to_owned();
        Box::pin(async move { Err(DispatchError::UnknownMessage(name)) })
    }
}

/// The way to the BridgeActor: what the bus publishes through and the
/// route of every kind another node hosts.
#[derive(Clone)]
pub struct BridgeHandle {
    bridge: Arc<Bridge>,
    pool: Arc<Pool<BridgeActor>>,
}

impl BridgeHandle {
    /// Starts the BridgeActor over `bridge` on the current arbiter, which
    /// must be the one that connected it: the connection's I/O runs there,
    /// so the actor's publishes and their confirms stay on its thread, and
    /// a caller elsewhere crosses threads once each way, as it would to the
    /// connection alone. A call waits for the actor at most `timeout`
    /// beyond its own, so a remote call's own timeout speaks first.
    pub fn start(bridge: Arc<Bridge>, timeout: Duration) -> BridgeHandle {
        let supervised = bridge.clone();
        let pool = Pool::start_here(
            KindStats::new(ActorKind::Bridge),
            timeout * 2,
            Arc::new(move |instance| BridgeActor {
                bridge: supervised.clone(),
                instance,
            }),
        );
        BridgeHandle {
            bridge,
            pool: Arc::new(pool),
        }
    }

    /// The actor's address, for the registry.
    pub fn address(&self) -> Address<BridgeActor> {
        Address::shared(self.pool.clone())
    }

    pub fn bridge(&self) -> &Arc<Bridge> {
        &self.bridge
    }

    /// Publishes `envelope` through the actor and waits for the broker's
    /// confirm.
    pub async fn publish(&self, envelope: Arc<EventEnvelope>) -> Result<(), BridgeError> {
        let queued = self.bridge.counters.publishes_queued.hold();
        self.pool.call(Publish { envelope, queued }).await?
    }
}

#[async_trait::async_trait(?Send)]
impl RemoteRoute for BridgeHandle {
    async fn call(&self, call: RemoteCall) -> Result<Vec<u8>, CallError> {
        let kind = call.kind;
        let queued = self.bridge.counters.calls_queued.hold();
        match self.pool.call(Call { call, queued }).await {
            Ok(answer) => answer,
            Err(err) => {
                tracing::warn!(actor = kind.actor_name(), error = %err, "the BridgeActor did not take a call");
                Err(CallError::Remote(kind))
            }
        }
    }
}
