//! A kind's instances, each on an arbiter of its own, behind one address.
//!
//! Instances start on the node's own arbiters. Kinds that answer requests
//! then move onto the HTTP workers (`Registry::settle_on_worker`): instance
//! `i` onto worker `i mod workers`, and a caller on a worker calls the
//! instance on its own thread. A call that stays on its thread costs a queue
//! push; one to another thread costs two wake-ups through the kernel, which
//! is most of what a cache hit costs. The actor on the caller's thread cannot
//! be busier than the caller itself, and the server already spreads
//! connections over the workers, so staying put also spreads the load.
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
use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tracing::Span;

use super::envelope::{DropInRuntime, Envelope, QueueTicket};
use super::incarnation::Incarnation;
use super::stats::{InstanceStats, KindStats};
use super::CallError;

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

    /// Replaces this incarnation with a fresh one, counted as a restart:
    /// what an actor does when something it owns (a connection) is gone
    /// and only a new start brings it back. This one answers what it holds,
    /// then stops.
    pub fn restart<A: Actor<Context = Context<A>>>(&self, ctx: &mut Context<A>) {
        self.incarnation.retire(ctx);
    }

    /// `round` as work of this actor, under the panic guard of its handlers:
    /// a panic is logged, counted as a failure, and restarts the instance.
    pub fn guard<A, F>(&self, round: F) -> impl ActorFuture<A, Output = ()>
    where
        A: Actor<Context = Context<A>>,
        F: std::future::Future<Output = ()> + 'static,
    {
        let incarnation = self.incarnation.clone();
        actix::fut::wrap_future::<_, A>(
            AssertUnwindSafe(DropInRuntime::new(Box::pin(round))).catch_unwind(),
        )
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

thread_local! {
    /// The HTTP worker this thread is, if it is one.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
    /// Where this thread's next pick starts looking, so that equally busy
    /// instances take turns without a counter every core writes to.
    static TURN: Cell<usize> = const { Cell::new(0) };
}

/// Marks the current thread as HTTP worker `worker`: calls from it go to the
/// instances that settled on it.
pub(super) fn enter_worker(worker: usize) {
    WORKER.with(|current| current.set(Some(worker)));
}

struct Slot<A: Actor> {
    stats: Arc<InstanceStats>,
    factory: Factory<A>,
    current: ArcSwap<Current<A>>,
    /// The node's own arbiter for this instance, where it starts and where
    /// it goes back when its worker is gone.
    home: ArbiterHandle,
    /// Where the instance runs now; taken to start an incarnation.
    arbiter: Mutex<ArbiterHandle>,
}

impl<A: Actor<Context = Context<A>>> Slot<A> {
    fn new(stats: Arc<InstanceStats>, home: ArbiterHandle, factory: Factory<A>) -> Arc<Slot<A>> {
        Arc::new_cyclic(|slot: &Weak<Slot<A>>| {
            let current = Self::launch(slot.clone(), &stats, &home, &factory);
            Slot {
                stats,
                factory,
                current: ArcSwap::from_pointee(current),
                arbiter: Mutex::new(home.clone()),
                home,
            }
        })
    }

    fn launch(
        slot: Weak<Slot<A>>,
        stats: &Arc<InstanceStats>,
        arbiter: &ArbiterHandle,
        factory: &Factory<A>,
    ) -> Current<A> {
        let incarnation = Arc::new(Incarnation::new(
            stats.clone(),
            Box::new(move || {
                if let Some(slot) = slot.upgrade() {
                    slot.restart();
                }
            }),
        ));
        let instance = Instance {
            incarnation: incarnation.clone(),
        };
        let factory = factory.clone();
        let addr = A::start_in_arbiter(arbiter, move |_| factory(instance));
        Current { addr, incarnation }
    }

    fn restart(self: &Arc<Self>) {
        self.stats.record_restart();
        let mut arbiter = self.arbiter.lock().expect("no code panics holding it");
        // A worker that died took its arbiter with it: the instance goes home.
        if !arbiter.spawn(async {}) {
            *arbiter = self.home.clone();
            self.stats.set_worker(None);
        }
        self.relaunch(&arbiter);
    }

    /// Starts a fresh incarnation on `arbiter` in this slot. The previous one
    /// loses its last address with it: it answers what it already holds,
    /// then stops.
    fn relaunch(self: &Arc<Self>, arbiter: &ArbiterHandle) {
        let current = Self::launch(Arc::downgrade(self), &self.stats, arbiter, &self.factory);
        self.current.store(Arc::new(current));
    }

    /// Moves the instance to `arbiter`: HTTP worker `worker`'s, or home.
    fn move_to(self: &Arc<Self>, arbiter: ArbiterHandle, worker: Option<usize>) {
        let mut place = self.arbiter.lock().expect("no code panics holding it");
        *place = arbiter;
        self.stats.set_worker(worker);
        self.relaunch(&place);
    }

    /// Restarts the slot if `stopped` is still its incarnation. An
    /// instance whose HTTP worker stopped (at shutdown, before the
    /// instances go home) went with it: that is no fault, and it restarts
    /// at home without an error line.
    fn replace_stopped(self: &Arc<Self>, stopped: &Arc<Current<A>>) {
        if Arc::ptr_eq(&self.current.load(), stopped) {
            let worker_gone = !self
                .arbiter
                .lock()
                .expect("no code panics holding it")
                .spawn(async {});
            let (actor, instance) = (self.stats.kind().actor_name(), self.stats.id());
            if worker_gone {
                tracing::debug!(
                    actor,
                    instance,
                    "instance stopped with its worker; restarting it at home"
                );
            } else {
                tracing::error!(actor, instance, "instance stopped; restarting it");
            }
            self.restart();
        }
    }
}

/// The node's own threads: instance `i` of every kind starts on arbiter
/// `i`. They stop when this is dropped. Only the application holds
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
            timeout,
        }
    }

    /// Starts one instance made by `factory` on the current arbiter, and
    /// restarts it there: for an actor that belongs with work this thread
    /// already does (the bridge, with its connection's I/O).
    pub fn start_here(stats: Arc<KindStats>, timeout: Duration, factory: Factory<A>) -> Pool<A> {
        let slot = Slot::new(stats.add_instance(), actix_rt::Arbiter::current(), factory);
        Pool {
            stats,
            slots: vec![slot],
            timeout,
        }
    }

    pub fn stats(&self) -> &Arc<KindStats> {
        &self.stats
    }

    /// On an HTTP worker that hosts instances, the least busy of those;
    /// elsewhere the least busy instance. Ties go to each in turn. Also
    /// tells whether the instance runs on this thread.
    fn pick(&self) -> (&Arc<Slot<A>>, bool) {
        let start = TURN.with(|turn| {
            let start = turn.get();
            turn.set(start.wrapping_add(1));
            start
        });
        let count = self.slots.len();
        let in_turn = (0..count).map(|offset| &self.slots[(start + offset) % count]);
        let here = WORKER.with(Cell::get);
        if here.is_some() {
            let local = in_turn
                .clone()
                .filter(|slot| slot.stats.worker() == here)
                .min_by_key(|slot| slot.stats.load());
            if let Some(slot) = local {
                return (slot, true);
            }
        }
        let slot = in_turn
            .min_by_key(|slot| slot.stats.load())
            .expect("a pool has an instance");
        (slot, false)
    }

    /// Moves the instances that belong to HTTP worker `worker` of `workers`
    /// (instance `i` to worker `i mod workers`) onto the current arbiter,
    /// which is that worker's, and marks the current thread as the worker.
    pub fn settle_on_worker(&self, worker: usize, workers: usize) {
        let Some(arbiter) = actix_rt::Arbiter::try_current() else {
            return;
        };
        enter_worker(worker);
        for (index, slot) in self.slots.iter().enumerate() {
            if index % workers.max(1) == worker {
                slot.move_to(arbiter.clone(), Some(worker));
            }
        }
    }

    /// Moves every instance that runs on an HTTP worker back to the node's
    /// own arbiters; the server stops its workers when it stops.
    pub fn go_home(&self) {
        for slot in &self.slots {
            if slot.stats.worker().is_some() {
                slot.move_to(slot.home.clone(), None);
            }
        }
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
        let (slot, here) = self.pick();
        let current = slot.current.load_full();
        let envelope = Envelope {
            msg,
            span: Span::current(),
            correlation_id: crate::telemetry::current_request_id(),
            ticket: QueueTicket::new(current.incarnation.clone()),
            answer_within: here.then_some(self.timeout),
        };
        let kind = self.stats.kind();
        // On this thread the instance cannot be stuck while its caller
        // runs: the instance itself times a handler that has to wait (see
        // `Envelope::answer_within`). Across threads the caller does.
        let sent = current.addr.send(envelope);
        let answer = if here {
            sent.await
        } else {
            sent.timeout(self.timeout).await
        };
        match answer {
            Ok(answer) => answer,
            Err(MailboxError::Timeout) => Err(CallError::Timeout(kind)),
            Err(MailboxError::Closed) => {
                slot.replace_stopped(&current);
                Err(CallError::Unavailable(kind))
            }
        }
    }
}

/// What the registry asks of a pool without knowing its actor type.
pub(super) trait Placed: Send + Sync {
    fn settle_on_worker(&self, worker: usize, workers: usize);
    fn go_home(&self);
}

impl<A: Actor<Context = Context<A>>> Placed for Pool<A> {
    fn settle_on_worker(&self, worker: usize, workers: usize) {
        Pool::settle_on_worker(self, worker, workers);
    }

    fn go_home(&self) {
        Pool::go_home(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::{ActorError, ActorKind};
    use crate::runtime::{Handles, Reply};
    use std::sync::atomic::{AtomicU32, Ordering};

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

    /// Answers after the time it names.
    #[derive(Message, serde::Serialize, serde::Deserialize)]
    #[rtype(result = "Result<u32, ActorError>")]
    struct Nap(u64);

    crate::wire_name!(Nap => "test.nap");

    impl Handles<Nap> for Probe {
        fn handle(&mut self, msg: Nap, _: &mut Context<Self>) -> Reply<Result<u32, ActorError>> {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(msg.0)).await;
                Ok(0)
            })
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
        pool_timing_out_after(Duration::from_secs(5), instances, arbiters, panicking_round)
    }

    fn pool_timing_out_after(
        timeout: Duration,
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
            timeout,
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

    #[actix_rt::test]
    async fn instances_settle_on_a_worker_and_go_home_again() {
        let arbiters = Arbiters::new(2);
        let (pool, starts) = pool(2, &arbiters, false);
        pool.settle_on_worker(0, 1);
        let workers = |pool: &Pool<Probe>| {
            pool.stats()
                .snapshot()
                .instances
                .iter()
                .map(|instance| instance.worker)
                .collect::<Vec<_>>()
        };
        assert_eq!(workers(&pool), [Some(0), Some(0)]);
        for n in 0..4 {
            assert_eq!(pool.call(Ping(n)).await.unwrap().unwrap(), n);
        }
        pool.go_home();
        assert_eq!(workers(&pool), [None, None]);
        assert_eq!(pool.call(Ping(9)).await.unwrap().unwrap(), 9);
        // Two starts, two moves there and two back; no restart counted. An
        // instance starts on its arbiter's thread, maybe after the call
        // above was answered by the other one: wait for it.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while starts.load(Ordering::SeqCst) < 6 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(starts.load(Ordering::SeqCst), 6);
        assert_eq!(pool.stats().snapshot().restarts, 0);
    }

    #[actix_rt::test]
    async fn an_instance_whose_worker_died_restarts_at_home() {
        let arbiters = Arbiters::new(1);
        let (pool, _) = pool(1, &arbiters, false);
        let worker = Arbiter::new();
        pool.slots[0].move_to(worker.handle(), Some(0));
        assert_eq!(pool.call(Ping(1)).await.unwrap().unwrap(), 1);
        worker.stop();
        worker.join().unwrap();
        assert_eq!(
            pool.call(Ping(2)).await.unwrap_err(),
            CallError::Unavailable(ActorKind::User)
        );
        assert_eq!(pool.call(Ping(3)).await.unwrap().unwrap(), 3);
        let snapshot = pool.stats().snapshot();
        assert_eq!((snapshot.restarts, snapshot.instances[0].worker), (1, None));
    }

    #[actix_rt::test]
    async fn a_slow_handler_times_out_on_either_side_of_a_thread_and_carries_on() {
        let arbiters = Arbiters::new(1);
        let (across, _) = pool_timing_out_after(Duration::from_millis(50), 1, &arbiters, false);
        let (here, _) = pool_timing_out_after(Duration::from_millis(50), 1, &arbiters, false);
        here.settle_on_worker(0, 1);
        for pool in [&across, &here] {
            assert_eq!(
                pool.call(Nap(300)).await.unwrap_err(),
                CallError::Timeout(ActorKind::User)
            );
            assert_eq!(pool.call(Nap(0)).await.unwrap().unwrap(), 0);
            until("the slow handler finished", || {
                pool.stats().snapshot().handled == 2
            })
            .await;
            assert_eq!(pool.stats().snapshot().failed, 0);
        }
    }
}
