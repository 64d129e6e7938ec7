//! The instrumented mailbox: every address handed out by the registry is a
//! `Mailbox`, which counts what waits, what runs and how it ended, measures
//! handling time, keeps the last messages, catches a handler's panic and stops
//! the actor so that its supervisor restarts it.
//!
//! actix exposes no queue length, so the counts come from here: a message is
//! `queued` from `call` until its handler starts, `in flight` until its reply
//! is ready.

use actix::dev::{MessageResponse, OneshotSender, ToEnvelope};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::{Instrument, Span};
use utoipa::ToSchema;

use super::{ActorError, ActorKind};

/// How many past messages each mailbox remembers for operators.
const RECENT_MESSAGES: usize = 50;

/// What a handler gives back: a future run on the actor's arbiter. Sync
/// handlers return `Box::pin(async move { ... })` around their answer.
pub type Reply<T> = LocalBoxFuture<'static, T>;

/// The handler trait of storefront actors. Written instead of actix's
/// `Handler` so that the mailbox can wrap every handler's sync part and its
/// future alike: both are timed and both have their panics caught.
pub trait Handles<M: Message>: Actor<Context = Context<Self>> {
    fn handle(&mut self, msg: M, ctx: &mut Context<Self>) -> Reply<M::Result>;
}

/// Why a call to an actor got no answer from its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, serde::Deserialize)]
pub enum CallError {
    #[error("{0} did not answer in time")]
    Timeout(ActorKind),
    #[error("{0} is not running")]
    Unavailable(ActorKind),
    #[error("{0} failed while handling the message and is being restarted")]
    Panicked(ActorKind),
}

/// How a handled message ended, as shown to operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered normally (domain refusals such as "not found" included).
    Ok,
    /// Answered with a fault of ours or of a dependency.
    Failed,
    /// The handler panicked; the actor was restarted.
    Panicked,
    /// The actor stopped before the handler finished.
    Cancelled,
}

/// Lets the mailbox tell a failed answer from a normal one.
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

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRecord {
    #[serde(rename = "type")]
    pub message_type: &'static str,
    pub correlation_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub took_ms: f64,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct LatencyMs {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// A point-in-time copy of a mailbox's counters.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailboxSnapshot {
    pub name: &'static str,
    pub queued: u64,
    pub in_flight: u64,
    pub handled: u64,
    pub failed: u64,
    pub restarts: u64,
    pub latency_ms: LatencyMs,
    pub last_message_at: Option<DateTime<Utc>>,
}

/// The counters of one actor kind's mailbox, shared by its address, its
/// envelopes and the actor itself (which counts its restarts).
pub struct MailboxStats {
    kind: ActorKind,
    queued: AtomicU64,
    in_flight: AtomicU64,
    handled: AtomicU64,
    failed: AtomicU64,
    restarts: AtomicU64,
    /// Handling time in microseconds, 1 µs to 1 h at 3 significant figures.
    latency_us: Mutex<Histogram<u64>>,
    recent: Mutex<VecDeque<MessageRecord>>,
}

impl MailboxStats {
    pub fn new(kind: ActorKind) -> MailboxStats {
        MailboxStats {
            kind,
            queued: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            handled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            latency_us: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            ),
            recent: Mutex::new(VecDeque::with_capacity(RECENT_MESSAGES)),
        }
    }

    pub fn kind(&self) -> ActorKind {
        self.kind
    }

    /// Called from `Supervised::restarting` of the actor.
    pub fn record_restart(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> MailboxSnapshot {
        let latency = {
            let histogram = lock(&self.latency_us);
            let ms = |us: u64| us as f64 / 1000.0;
            LatencyMs {
                p50: ms(histogram.value_at_quantile(0.50)),
                p99: ms(histogram.value_at_quantile(0.99)),
                max: ms(histogram.max()),
            }
        };
        MailboxSnapshot {
            name: self.kind.actor_name(),
            queued: self.queued.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            handled: self.handled.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            latency_ms: latency,
            last_message_at: lock(&self.recent).back().map(|record| record.received_at),
        }
    }

    /// The remembered messages, oldest first.
    pub fn recent(&self) -> Vec<MessageRecord> {
        lock(&self.recent).iter().cloned().collect()
    }

    fn enqueue(self: &Arc<Self>) -> QueueTicket {
        self.queued.fetch_add(1, Ordering::Relaxed);
        QueueTicket {
            stats: Some(self.clone()),
        }
    }

    fn record(&self, record: MessageRecord, took: Duration) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        if record.outcome != Outcome::Ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        lock(&self.latency_us).saturating_record(micros);
        let mut recent = lock(&self.recent);
        if recent.len() == RECENT_MESSAGES {
            recent.pop_front();
        }
        recent.push_back(record);
    }
}

/// Counters stay meaningful after a panic elsewhere, so a poisoned lock is
/// used as it is.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Held by a message while it waits in the mailbox; gives the count back if
/// the message is dropped unhandled.
struct QueueTicket {
    stats: Option<Arc<MailboxStats>>,
}

impl QueueTicket {
    fn start(mut self, message_type: &'static str, correlation_id: Option<String>) -> InFlight {
        let stats = self.stats.take().expect("a ticket starts once");
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            stats: Some(stats),
            message_type,
            correlation_id,
            received_at: Utc::now(),
            started: Instant::now(),
        }
    }
}

impl Drop for QueueTicket {
    fn drop(&mut self) {
        if let Some(stats) = &self.stats {
            stats.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Held while a handler runs; records a cancelled message if dropped before
/// `finish` (the actor stopped under it).
struct InFlight {
    stats: Option<Arc<MailboxStats>>,
    message_type: &'static str,
    correlation_id: Option<String>,
    received_at: DateTime<Utc>,
    started: Instant,
}

impl InFlight {
    fn finish(mut self, outcome: Outcome) {
        self.close(outcome);
    }

    fn close(&mut self, outcome: Outcome) {
        let Some(stats) = self.stats.take() else {
            return;
        };
        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        let took = self.started.elapsed();
        stats.record(
            MessageRecord {
                message_type: self.message_type,
                correlation_id: self.correlation_id.take(),
                received_at: self.received_at,
                took_ms: took.as_secs_f64() * 1000.0,
                outcome,
            },
            took,
        );
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.close(Outcome::Cancelled);
    }
}

/// A message on its way through a mailbox, with what is needed to account
/// for it and to log it under the caller's request.
pub struct Envelope<M> {
    msg: M,
    span: Span,
    correlation_id: Option<String>,
    ticket: QueueTicket,
}

impl<M> Message for Envelope<M>
where
    M: Message,
    M::Result: 'static,
{
    type Result = Result<M::Result, CallError>;
}

/// The last path segment of a type name: `VerifyOtp` rather than
/// `storefront::actors::otp::VerifyOtp`.
fn short_type_name<M>() -> &'static str {
    let full = std::any::type_name::<M>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// What the instrumented handler answers: either a panic already caught, or
/// the handler's future. Its own `MessageResponse` sends the answer to the
/// caller *before* stopping a panicked actor, since stopping drops every
/// future the actor's context still holds.
pub struct Delivery<A: Actor, T>(DeliveryState<A, T>);

/// The handler's answer and whether it panicked.
type Handled<A, T> = Pin<Box<dyn ActorFuture<A, Output = (Result<T, CallError>, bool)>>>;

enum DeliveryState<A: Actor, T> {
    Panicked(ActorKind),
    Running(Handled<A, T>),
}

impl<A, M> MessageResponse<A, Envelope<M>> for Delivery<A, M::Result>
where
    A: Actor<Context = Context<A>>,
    M: Message + 'static,
    M::Result: 'static,
{
    fn handle(self, ctx: &mut Context<A>, tx: Option<OneshotSender<Result<M::Result, CallError>>>) {
        let answer = |tx: Option<OneshotSender<_>>, result| {
            if let Some(tx) = tx {
                // The caller may have given up (timeout); nothing to do then.
                let _ = tx.send(result);
            }
        };
        match self.0 {
            DeliveryState::Panicked(kind) => {
                answer(tx, Err(CallError::Panicked(kind)));
                ctx.stop();
            }
            DeliveryState::Running(future) => {
                ctx.spawn(future.map(move |(result, panicked), _actor, ctx| {
                    answer(tx, result);
                    if panicked {
                        ctx.stop();
                    }
                }));
            }
        }
    }
}

/// A future that is dropped with the tokio runtime entered. actix drops an
/// actor's context (and the handler futures it holds) from its `LocalSet`,
/// outside the runtime, when the system stops; a handler dropped there in
/// the middle of a query would drop a sqlx pool connection, which needs the
/// runtime to hand itself back and panics without it.
pub struct DropInRuntime<F> {
    future: Option<Pin<Box<F>>>,
    runtime: tokio::runtime::Handle,
}

impl<F> DropInRuntime<F> {
    /// Must be called on a tokio runtime (an actor's or a request's).
    pub fn new(future: F) -> DropInRuntime<F> {
        DropInRuntime {
            future: Some(Box::pin(future)),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl<F: std::future::Future> std::future::Future for DropInRuntime<F> {
    type Output = F::Output;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.future
            .as_mut()
            .expect("the future is there until dropped")
            .as_mut()
            .poll(cx)
    }
}

impl<F> Drop for DropInRuntime<F> {
    fn drop(&mut self) {
        let _entered = self.runtime.enter();
        self.future.take();
    }
}

/// Runs one enveloped message through `A`'s handler. Each actor forwards its
/// `Handler<Envelope<M>>` here (see `instrumented_actor!`).
pub fn deliver<A, M>(
    actor: &mut A,
    envelope: Envelope<M>,
    ctx: &mut Context<A>,
) -> Delivery<A, M::Result>
where
    A: Handles<M>,
    M: Message + 'static,
    M::Result: ReportsOutcome + 'static,
{
    let Envelope {
        msg,
        span,
        correlation_id,
        ticket,
    } = envelope;
    let kind = ticket
        .stats
        .as_ref()
        .map(|stats| stats.kind)
        .expect("an unstarted ticket has its stats");
    let message_type = short_type_name::<M>();
    let request_id = correlation_id.clone();
    let in_flight = ticket.start(message_type, correlation_id);
    let handler_span =
        tracing::info_span!(parent: &span, "actor", actor = kind.actor_name(), msg = message_type);

    let started = handler_span.in_scope(|| {
        crate::telemetry::sync_with_request_id(request_id.clone(), || {
            std::panic::catch_unwind(AssertUnwindSafe(|| Handles::handle(actor, msg, ctx)))
        })
    });
    let reply = match started {
        Ok(reply) => reply,
        Err(_) => {
            handler_span.in_scope(|| record_panic(kind, in_flight));
            return Delivery(DeliveryState::Panicked(kind));
        }
    };
    let finished = DropInRuntime::new(
        crate::telemetry::with_request_id(request_id, AssertUnwindSafe(reply).catch_unwind())
            .instrument(handler_span.clone()),
    );
    Delivery(DeliveryState::Running(Box::pin(
        finished
            .into_actor(actor)
            .map(move |result, _actor, _ctx| match result {
                Ok(answer) => {
                    in_flight.finish(answer.outcome());
                    (Ok(answer), false)
                }
                Err(_) => {
                    handler_span.in_scope(|| record_panic(kind, in_flight));
                    (Err(CallError::Panicked(kind)), true)
                }
            }),
    )))
}

/// Stopping hands the actor to its supervisor, which restarts it with the
/// same mailbox: messages still queued are handled after the restart, while
/// other messages in flight on this actor are cancelled with it.
fn record_panic(kind: ActorKind, in_flight: InFlight) {
    tracing::error!(
        actor = kind.actor_name(),
        "handler panicked; restarting the actor"
    );
    in_flight.finish(Outcome::Panicked);
}

/// Implements `Handler<Envelope<M>>` for every `M` the actor `Handles`.
#[macro_export]
macro_rules! instrumented_actor {
    ($actor:ty) => {
        impl<M> ::actix::Handler<$crate::actors::mailbox::Envelope<M>> for $actor
        where
            Self: $crate::actors::mailbox::Handles<M>,
            M: ::actix::Message + 'static,
            M::Result: $crate::actors::mailbox::ReportsOutcome + 'static,
        {
            type Result = $crate::actors::mailbox::Delivery<Self, M::Result>;

            fn handle(
                &mut self,
                envelope: $crate::actors::mailbox::Envelope<M>,
                ctx: &mut ::actix::Context<Self>,
            ) -> Self::Result {
                $crate::actors::mailbox::deliver(self, envelope, ctx)
            }
        }
    };
}

/// The address of one actor kind, instrumented.
pub struct Mailbox<A: Actor> {
    addr: Addr<A>,
    stats: Arc<MailboxStats>,
    timeout: Duration,
}

impl<A: Actor> Clone for Mailbox<A> {
    fn clone(&self) -> Self {
        Mailbox {
            addr: self.addr.clone(),
            stats: self.stats.clone(),
            timeout: self.timeout,
        }
    }
}

impl<A> Mailbox<A>
where
    A: Actor<Context = Context<A>> + Supervised,
{
    /// Starts `actor` under a supervisor on the current arbiter. `make` gets
    /// the mailbox's counters so the actor can count its restarts.
    pub fn start(
        kind: ActorKind,
        timeout: Duration,
        make: impl FnOnce(Arc<MailboxStats>) -> A,
    ) -> Mailbox<A> {
        let stats = Arc::new(MailboxStats::new(kind));
        let actor = make(stats.clone());
        let addr = Supervisor::start(move |_| actor);
        Mailbox {
            addr,
            stats,
            timeout,
        }
    }
}

impl<A: Actor> Mailbox<A> {
    pub fn stats(&self) -> &Arc<MailboxStats> {
        &self.stats
    }

    /// The actix address underneath, without instrumentation (benchmarks
    /// compare against it).
    pub fn addr(&self) -> &Addr<A> {
        &self.addr
    }

    /// Sends `msg` and waits for the handler's answer, at most the mailbox's
    /// timeout. The caller's tracing span and request id travel with it.
    pub async fn call<M>(&self, msg: M) -> Result<M::Result, CallError>
    where
        A: Handler<Envelope<M>>,
        A::Context: ToEnvelope<A, Envelope<M>>,
        M: Message + Send + 'static,
        M::Result: Send,
    {
        let envelope = Envelope {
            msg,
            span: Span::current(),
            correlation_id: crate::telemetry::current_request_id(),
            ticket: self.stats.enqueue(),
        };
        let kind = self.stats.kind;
        match self.addr.send(envelope).timeout(self.timeout).await {
            Ok(answer) => answer,
            Err(MailboxError::Timeout) => Err(CallError::Timeout(kind)),
            Err(MailboxError::Closed) => Err(CallError::Unavailable(kind)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Probe {
        stats: Arc<MailboxStats>,
    }

    impl Actor for Probe {
        type Context = Context<Self>;
    }

    impl Supervised for Probe {
        fn restarting(&mut self, _: &mut Context<Self>) {
            self.stats.record_restart();
        }
    }

    crate::instrumented_actor!(Probe);

    #[derive(Message)]
    #[rtype(result = "Result<u32, ActorError>")]
    struct Ping;

    #[derive(Message)]
    #[rtype(result = "Result<u32, ActorError>")]
    struct PanicNow;

    #[derive(Message)]
    #[rtype(result = "Result<u32, ActorError>")]
    struct PanicLater;

    impl Handles<Ping> for Probe {
        fn handle(&mut self, _: Ping, _: &mut Context<Self>) -> Reply<Result<u32, ActorError>> {
            Box::pin(async { Ok(7) })
        }
    }

    impl Handles<PanicNow> for Probe {
        fn handle(&mut self, _: PanicNow, _: &mut Context<Self>) -> Reply<Result<u32, ActorError>> {
            panic!("now")
        }
    }

    impl Handles<PanicLater> for Probe {
        fn handle(
            &mut self,
            _: PanicLater,
            _: &mut Context<Self>,
        ) -> Reply<Result<u32, ActorError>> {
            Box::pin(async {
                tokio::task::yield_now().await;
                panic!("later")
            })
        }
    }

    fn probe() -> Mailbox<Probe> {
        Mailbox::start(ActorKind::User, Duration::from_secs(5), |stats| Probe {
            stats,
        })
    }

    #[actix_rt::test]
    async fn counts_handled_messages() {
        let mailbox = probe();
        for _ in 0..3 {
            assert_eq!(mailbox.call(Ping).await.unwrap().unwrap(), 7);
        }
        let snapshot = mailbox.stats().snapshot();
        assert_eq!(
            (
                snapshot.handled,
                snapshot.failed,
                snapshot.queued,
                snapshot.in_flight
            ),
            (3, 0, 0, 0)
        );
        assert_eq!(mailbox.stats().recent().len(), 3);
        assert_eq!(mailbox.stats().recent()[0].message_type, "Ping");
    }

    #[actix_rt::test]
    async fn a_panic_in_the_handler_restarts_the_actor() {
        let mailbox = probe();
        assert_eq!(
            mailbox.call(PanicNow).await.unwrap_err(),
            CallError::Panicked(ActorKind::User)
        );
        assert_eq!(mailbox.call(Ping).await.unwrap().unwrap(), 7);
        assert_eq!(mailbox.stats().snapshot().restarts, 1);
    }

    #[actix_rt::test]
    async fn a_panic_in_the_handlers_future_restarts_the_actor() {
        let mailbox = probe();
        assert_eq!(
            mailbox.call(PanicLater).await.unwrap_err(),
            CallError::Panicked(ActorKind::User)
        );
        assert_eq!(mailbox.call(Ping).await.unwrap().unwrap(), 7);
        let snapshot = mailbox.stats().snapshot();
        assert_eq!(
            (snapshot.restarts, snapshot.failed, snapshot.handled),
            (1, 1, 2)
        );
    }

    #[actix_rt::test]
    async fn keeps_the_last_fifty_messages() {
        let mailbox = probe();
        for _ in 0..60 {
            mailbox.call(Ping).await.unwrap().unwrap();
        }
        assert_eq!(mailbox.stats().recent().len(), RECENT_MESSAGES);
        assert_eq!(mailbox.stats().snapshot().handled, 60);
    }
}
