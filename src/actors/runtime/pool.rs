//! A kind's instances, each on an arbiter of its own, behind one address.
//!
//! A panic restarts one instance and fails only the message that panicked:
//! a fresh incarnation takes the instance's slot at once, while the old one
//! finishes the messages it already holds and only then stops. Nothing in
//! flight on it is cancelled. (actix's `Supervisor` would restart the
//! actor in its own context, cancelling every future it held.)

use actix::dev::ToEnvelope;
use actix::prelude::*;
use actix_rt::ArbiterHandle;
use arc_swap::ArcSwap;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tracing::Span;

use super::envelope::{DropInRuntime, Envelope, QueueTicket};
use super::stats::{InstanceStats, KindStats};
use super::CallError;

/// One start of an instance. A restart makes a new one in the same slot.
pub struct Incarnation {
    /// Messages sent to this incarnation and not answered yet.
    pub(super) live: AtomicU64,
    pub(super) stats: Arc<InstanceStats>,
    retired: AtomicBool,
    /// Puts a fresh incarnation in this one's slot.
    replace: Box<dyn Fn() + Send + Sync>,
}

/// How often a retired incarnation looks whether its last message is done.
const DRAIN_CHECK: Duration = Duration::from_millis(10);

impl Incarnation {
    /// The first panic retires an incarnation: a new one takes its slot, and
    /// this one stops once the messages it holds are answered.
    pub(super) fn retire<A: Actor<Context = Context<A>>>(self: &Arc<Self>, ctx: &mut Context<A>) {
        if self.retired.swap(true, Ordering::SeqCst) {
            return;
        }
        (self.replace)();
        let incarnation = self.clone();
        ctx.run_interval(DRAIN_CHECK, move |_, ctx| {
            if incarnation.live.load(Ordering::SeqCst) == 0 {
                ctx.stop();
            }
        });
    }
}

/// What an instance knows of itself, given to the actor when it starts: its
/// place in the pool, and the guard its own background work runs under.
#[derive(Clone)]
pub struct Instance {
    incarnation: Arc<Incarnation>,
}

impl Instance {
    /// Which instance of its kind this is, from 0.
    pub fn index(&self) -> usize {
        self.incarnation.stats.id()
    }

    /// `round` as work of this actor, under the panic guard of its handlers:
    /// a panic is logged, counted as a failure, and restarts the instance.
    pub fn guard<A, F>(&self, round: F) -> impl ActorFuture<A, Output = ()>
    where
        A: Actor<Context = Context<A>>,
        F: std::future::Future<Output = ()> + 'static,
    {
        let incarnation = self.incarnation.clone();
        actix::fut::wrap_future::<_, A>(DropInRuntime::new(AssertUnwindSafe(round).catch_unwind()))
            .map(move |result, _actor, ctx| {
                if result.is_err() {
                    tracing::error!(
                        actor = incarnation.stats.kind().actor_name(),
                        "background round panicked; restarting its instance"
                    );
                    incarnation.stats.record_failure();
                    incarnation.retire(ctx);
                }
            })
    }
}

/// Makes an instance of `A`; called on the instance's arbiter, at its start
/// and at every restart.
pub type Factory<A> = Arc<dyn Fn(Instance) -> A + Send + Sync>;

struct Current<A: Actor> {
    addr: Addr<A>,
    incarnation: Arc<Incarnation>,
}

struct Slot<A: Actor> {
    stats: Arc<InstanceStats>,
    arbiter: ArbiterHandle,
    factory: Factory<A>,
    current: ArcSwap<Current<A>>,
}

impl<A: Actor<Context = Context<A>>> Slot<A> {
    fn new(stats: Arc<InstanceStats>, arbiter: ArbiterHandle, factory: Factory<A>) -> Arc<Slot<A>> {
        Arc::new_cyclic(|slot: &Weak<Slot<A>>| {
            let current = Self::launch(slot.clone(), &stats, &arbiter, &factory);
            Slot {
                stats,
                arbiter,
                factory,
                current: ArcSwap::from_pointee(current),
            }
        })
    }

    fn launch(
        slot: Weak<Slot<A>>,
        stats: &Arc<InstanceStats>,
        arbiter: &ArbiterHandle,
        factory: &Factory<A>,
    ) -> Current<A> {
        let incarnation = Arc::new(Incarnation {
            live: AtomicU64::new(0),
            stats: stats.clone(),
            retired: AtomicBool::new(false),
            replace: Box::new(move || {
                if let Some(slot) = slot.upgrade() {
                    slot.restart();
                }
            }),
        });
        let instance = Instance {
            incarnation: incarnation.clone(),
        };
        let factory = factory.clone();
        let addr = A::start_in_arbiter(arbiter, move |_| factory(instance));
        Current { addr, incarnation }
    }

    fn restart(self: &Arc<Self>) {
        self.stats.record_restart();
        let current = Self::launch(
            Arc::downgrade(self),
            &self.stats,
            &self.arbiter,
            &self.factory,
        );
        self.current.store(Arc::new(current));
    }

    /// Restarts the slot if `stopped` is still its incarnation.
    fn replace_stopped(self: &Arc<Self>, stopped: &Arc<Current<A>>) {
        if Arc::ptr_eq(&self.current.load(), stopped) {
            tracing::error!(
                actor = self.stats.kind().actor_name(),
                instance = self.stats.id(),
                "instance stopped; restarting it"
            );
            self.restart();
        }
    }
}

/// The threads instances run on: instance `i` of every kind lives on
/// arbiter `i`. They stop when this is dropped. Only the application holds
/// it: actors hold the registry, which holds the pools, so pools holding
/// their arbiters would keep every thread alive for ever.
pub struct Arbiters {
    arbiters: Vec<Arbiter>,
}

impl Arbiters {
    pub fn new(count: usize) -> Arbiters {
        Arbiters {
            arbiters: (0..count.max(1)).map(|_| Arbiter::new()).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.arbiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.arbiters.is_empty()
    }

    pub fn handle(&self, index: usize) -> ArbiterHandle {
        self.arbiters[index % self.arbiters.len()].handle()
    }
}

impl Drop for Arbiters {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

/// The instances of one kind on this node.
pub struct Pool<A: Actor> {
    stats: Arc<KindStats>,
    slots: Vec<Arc<Slot<A>>>,
    next: AtomicUsize,
    timeout: Duration,
}

impl<A: Actor<Context = Context<A>>> Pool<A> {
    /// Starts `instances` instances made by `factory`, instance `i` on
    /// arbiter `i`.
    pub fn start(
        stats: Arc<KindStats>,
        instances: usize,
        arbiters: &Arbiters,
        timeout: Duration,
        factory: Factory<A>,
    ) -> Pool<A> {
        let slots = (0..instances.max(1))
            .map(|index| {
                Slot::new(
                    stats.add_instance(),
                    arbiters.handle(index),
                    factory.clone(),
                )
            })
            .collect();
        Pool {
            stats,
            slots,
            next: AtomicUsize::new(0),
            timeout,
        }
    }

    pub fn stats(&self) -> &Arc<KindStats> {
        &self.stats
    }

    /// The least busy instance, looking from the next one in turn so that
    /// equally busy instances share the work.
    fn pick(&self) -> &Arc<Slot<A>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.slots.len();
        (0..count)
            .map(|offset| &self.slots[(start + offset) % count])
            .min_by_key(|slot| slot.stats.load())
            .expect("a pool has an instance")
    }

    /// Sends `msg` to one instance and waits for its answer, at most the
    /// pool's timeout. The caller's span and request id travel with it.
    pub async fn call<M>(&self, msg: M) -> Result<M::Result, CallError>
    where
        A: Handler<Envelope<M>>,
        A::Context: ToEnvelope<A, Envelope<M>>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let slot = self.pick();
        let current = slot.current.load_full();
        let envelope = Envelope {
            msg,
            span: Span::current(),
            correlation_id: crate::telemetry::current_request_id(),
            ticket: QueueTicket::new(current.incarnation.clone()),
        };
        let kind = self.stats.kind();
        match current.addr.send(envelope).timeout(self.timeout).await {
            Ok(answer) => answer,
            Err(MailboxError::Timeout) => Err(CallError::Timeout(kind)),
            Err(MailboxError::Closed) => {
                slot.replace_stopped(&current);
                Err(CallError::Unavailable(kind))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::runtime::{Handles, Reply};
    use crate::actors::{ActorError, ActorKind};
    use std::sync::atomic::AtomicU32;

    struct Probe {
        instance: Instance,
        starts: Arc<AtomicU32>,
        panicking_round: bool,
    }

    impl Actor for Probe {
        type Context = Context<Self>;

        /// With `panicking_round`, the first incarnation's background round panics.
        fn started(&mut self, ctx: &mut Context<Self>) {
            if self.starts.fetch_add(1, Ordering::SeqCst) == 0 && self.panicking_round {
                ctx.spawn(self.instance.guard(async {
                    tokio::task::yield_now().await;
                    panic!("a timer's round")
                }));
            }
        }
    }

    crate::instrumented_actor!(Probe);

    #[derive(Message, serde::Serialize, serde::Deserialize)]
    #[rtype(result = "Result<u32, ActorError>")]
    struct Ping(u32);

    crate::wire_name!(Ping => "test.ping");

    #[derive(Message, serde::Serialize, serde::Deserialize)]
    #[rtype(result = "Result<u32, ActorError>")]
    struct PanicNow;

    crate::wire_name!(PanicNow => "test.panic_now");

    impl Handles<Ping> for Probe {
        fn handle(&mut self, msg: Ping, _: &mut Context<Self>) -> Reply<Result<u32, ActorError>> {
            Box::pin(async move { Ok(msg.0) })
        }
    }

    impl Handles<PanicNow> for Probe {
        fn handle(&mut self, _: PanicNow, _: &mut Context<Self>) -> Reply<Result<u32, ActorError>> {
            panic!("now")
        }
    }

    fn pool(
        instances: usize,
        arbiters: &Arbiters,
        panicking_round: bool,
    ) -> (Pool<Probe>, Arc<AtomicU32>) {
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        let pool = Pool::start(
            KindStats::new(ActorKind::User),
            instances,
            arbiters,
            Duration::from_secs(5),
            Arc::new(move |instance| Probe {
                instance,
                starts: counted.clone(),
                panicking_round,
            }),
        );
        (pool, starts)
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !check() {
            assert!(std::time::Instant::now() < deadline, "never: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[actix_rt::test]
    async fn counts_every_message_of_every_instance() {
        let arbiters = Arbiters::new(2);
        let (pool, _) = pool(2, &arbiters, false);
        for n in 0..6 {
            assert_eq!(pool.call(Ping(n)).await.unwrap().unwrap(), n);
        }
        let snapshot = pool.stats().snapshot();
        assert_eq!(
            (snapshot.handled, snapshot.failed, snapshot.queued),
            (6, 0, 0)
        );
        assert_eq!(snapshot.instances.len(), 2);
        assert!(snapshot
            .instances
            .iter()
            .all(|instance| instance.handled > 0));
        assert_eq!(pool.stats().recent().len(), 6);
        assert_eq!(pool.stats().recent()[0].message_type, "Ping");
    }

    #[actix_rt::test]
    async fn a_panicking_handler_restarts_its_instance_only() {
        let arbiters = Arbiters::new(1);
        let (pool, starts) = pool(1, &arbiters, false);
        assert_eq!(
            pool.call(PanicNow).await.unwrap_err(),
            CallError::Panicked(ActorKind::User)
        );
        assert_eq!(pool.call(Ping(7)).await.unwrap().unwrap(), 7);
        let snapshot = pool.stats().snapshot();
        assert_eq!((snapshot.restarts, snapshot.failed), (1, 1));
        assert_eq!(starts.load(Ordering::SeqCst), 2);
    }

    #[actix_rt::test]
    async fn a_background_rounds_panic_is_caught_counted_and_restarts() {
        let arbiters = Arbiters::new(1);
        let (pool, starts) = pool(1, &arbiters, true);
        until("the instance restarted", || {
            starts.load(Ordering::SeqCst) == 2
        })
        .await;
        let snapshot = pool.stats().snapshot();
        assert_eq!((snapshot.restarts, snapshot.failed), (1, 1));
        assert_eq!(pool.call(Ping(1)).await.unwrap().unwrap(), 1);
    }
}
