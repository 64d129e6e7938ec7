//! A message on its way to an instance, and what happens around its
//! handler: the counts, the time, the caller's span and request id, and the
//! panic guard.

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tracing::{Instrument, Span};

use super::incarnation::Incarnation;
use super::stats::{MessageRecord, Outcome};
use super::wire::{MailboxMessage, ReportsOutcome};
use super::{ActorKind, CallError};
use crate::telemetry::RequestId;

/// What a handler gives back: a future run on the instance's arbiter. Sync
/// handlers return `Box::pin(async move { ... })` around their answer.
pub type Reply<T> = LocalBoxFuture<'static, T>;

/// The handler trait of storefront actors. Written instead of actix's
/// `Handler` so that the runtime can wrap every handler's sync part and its
/// future alike: both are timed and both have their panics caught.
pub trait Handles<M: Message>: Actor<Context = Context<Self>> {
    fn handle(&mut self, msg: M, ctx: &mut Context<Self>) -> Reply<M::Result>;
}

/// Held by a message while it waits; gives the counts back if the message
/// is dropped unhandled.
pub(super) struct QueueTicket {
    incarnation: Option<Arc<Incarnation>>,
}

impl QueueTicket {
    pub(super) fn new(incarnation: Arc<Incarnation>) -> QueueTicket {
        incarnation.live.fetch_add(1, Ordering::Relaxed);
        incarnation.stats.queued.fetch_add(1, Ordering::Relaxed);
        QueueTicket {
            incarnation: Some(incarnation),
        }
    }

    fn start(mut self, message_type: &'static str, correlation_id: Option<RequestId>) -> InFlight {
        let incarnation = self.incarnation.take().expect("a ticket starts once");
        incarnation.stats.queued.fetch_sub(1, Ordering::Relaxed);
        incarnation.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            incarnation: Some(incarnation),
            message_type,
            correlation_id,
            started: Instant::now(),
        }
    }
}

impl Drop for QueueTicket {
    fn drop(&mut self) {
        if let Some(incarnation) = &self.incarnation {
            incarnation.stats.queued.fetch_sub(1, Ordering::Relaxed);
            incarnation.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Held while a handler runs; records a cancelled message if dropped before
/// `finish` (the instance stopped under it).
struct InFlight {
    incarnation: Option<Arc<Incarnation>>,
    message_type: &'static str,
    correlation_id: Option<RequestId>,
    started: Instant,
}

impl InFlight {
    fn finish(mut self, outcome: Outcome) {
        self.close(outcome);
    }

    fn close(&mut self, outcome: Outcome) {
        let Some(incarnation) = self.incarnation.take() else {
            return;
        };
        let stats = &incarnation.stats;
        stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        let took = self.started.elapsed();
        stats.record(
            MessageRecord {
                message_type: self.message_type,
                instance: stats.id(),
                correlation_id: self.correlation_id.take(),
                received_at: super::stats::wall_time(self.started),
                took_ms: took.as_secs_f64() * 1000.0,
                outcome,
            },
            took,
        );
        incarnation.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.close(Outcome::Cancelled);
    }
}

/// A message with what is needed to account for it and to log it under the
/// caller's request.
pub struct Envelope<M> {
    pub(super) msg: M,
    pub(super) span: Span,
    pub(super) correlation_id: Option<RequestId>,
    pub(super) ticket: QueueTicket,
    /// Set when the caller runs on the instance's own thread and so arms no
    /// timer of its own: a handler still pending after its first poll must
    /// answer within it, or the caller is told it timed out (the handler
    /// carries on). Answers ready at once then cost no timer at all.
    pub(super) answer_within: Option<std::time::Duration>,
}

impl<M> Message for Envelope<M>
where
    M: Message,
    M::Result: 'static,
{
    type Result = Result<M::Result, CallError>;
}

/// A future that is dropped with the tokio runtime entered. actix drops an
/// actor's context (and the handler futures it holds) from its `LocalSet`,
/// outside the runtime, when an arbiter stops; a handler dropped there in
/// the middle of a query would drop a sqlx pool connection, which needs the
/// runtime to hand itself back and panics without it. The future is boxed
/// already (handlers answer a `Reply`), so it is held as it is.
pub struct DropInRuntime<F: Unpin> {
    future: Option<F>,
    runtime: tokio::runtime::Handle,
}

impl<F: Unpin> DropInRuntime<F> {
    /// Must be called on a tokio runtime (an actor's or a request's).
    pub fn new(future: F) -> DropInRuntime<F> {
        DropInRuntime {
            future: Some(future),
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl<F: std::future::Future + Unpin> std::future::Future for DropInRuntime<F> {
    type Output = F::Output;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        Pin::new(
            self.future
                .as_mut()
                .expect("the future is there until dropped"),
        )
        .poll(cx)
    }
}

impl<F: Unpin> Drop for DropInRuntime<F> {
    fn drop(&mut self) {
        let _entered = self.runtime.enter();
        self.future.take();
    }
}

/// What the instrumented handler answers: the answer when the handler gave
/// it at once (or panicked), or the handler's future still running. Its own
/// `MessageResponse` retires a panicked instance before it answers, so that
/// the caller's next call finds the fresh one.
pub struct Delivery<A: Actor, T>(DeliveryState<T>, std::marker::PhantomData<fn(A)>);

/// The handler's answer and whether it panicked.
type Handled<T> = Pin<Box<dyn std::future::Future<Output = (Result<T, CallError>, bool)>>>;

enum DeliveryState<T> {
    Answered(Result<T, CallError>, bool, Arc<Incarnation>),
    Running(Handled<T>, Arc<Incarnation>, Option<std::time::Duration>),
}

impl<A: Actor, T> Delivery<A, T> {
    fn new(state: DeliveryState<T>) -> Self {
        Delivery(state, std::marker::PhantomData)
    }
}

impl<A, M> MessageResponse<A, Envelope<M>> for Delivery<A, M::Result>
where
    A: Actor<Context = Context<A>>,
    M: Message + 'static,
    M::Result: 'static,
{
    fn handle(self, ctx: &mut Context<A>, tx: Option<OneshotSender<Result<M::Result, CallError>>>) {
        let reply = |tx: Option<OneshotSender<_>>, result| {
            if let Some(tx) = tx {
                // The caller may have given up (timeout); nothing to do then.
                let _ = tx.send(result);
            }
        };
        match self.0 {
            DeliveryState::Answered(result, panicked, incarnation) => {
                if panicked {
                    incarnation.retire(ctx);
                }
                reply(tx, result);
            }
            DeliveryState::Running(future, incarnation, None) => {
                ctx.spawn(actix::fut::wrap_future::<_, A>(future).map(
                    move |(result, panicked), _actor, ctx| {
                        if panicked {
                            incarnation.retire(ctx);
                        }
                        reply(tx, result);
                    },
                ));
            }
            DeliveryState::Running(future, incarnation, Some(limit)) => {
                let kind = incarnation.stats.kind();
                let waiting = Rc::new(RefCell::new(tx));
                let timer = ctx.spawn(
                    actix::fut::wrap_future::<_, A>(tokio::time::sleep(limit)).map({
                        let waiting = waiting.clone();
                        move |(), _actor, _ctx| {
                            reply(waiting.take(), Err(CallError::Timeout(kind)));
                        }
                    }),
                );
                ctx.spawn(actix::fut::wrap_future::<_, A>(future).map(
                    move |(result, panicked), _actor, ctx| {
                        ctx.cancel_future(timer);
                        if panicked {
                            incarnation.retire(ctx);
                        }
                        reply(waiting.take(), result);
                    },
                ));
            }
        }
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
    M: MailboxMessage,
{
    let Envelope {
        msg,
        span,
        correlation_id,
        ticket,
        answer_within,
    } = envelope;
    let incarnation = ticket
        .incarnation
        .clone()
        .expect("an unstarted ticket has its incarnation");
    let kind = incarnation.stats.kind();
    let message_type = M::TYPE_NAME;
    let request_id = correlation_id.clone();
    let in_flight = ticket.start(message_type, correlation_id);
    let actor_name = kind.actor_name();

    // Most answers are ready at once (a cache hit, a refusal): the handler's
    // future is polled once here, under the caller's span and request id,
    // and an answer goes back without another allocation or a task on the
    // actor's context. A future still pending is wrapped and polled again by
    // the context, with its real waker.
    let started = span.in_scope(|| {
        crate::telemetry::sync_in_actor(request_id.clone(), actor_name, message_type, || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut reply = Handles::handle(actor, msg, ctx);
                let mut first_poll =
                    std::task::Context::from_waker(futures_util::task::noop_waker_ref());
                match reply.as_mut().poll(&mut first_poll) {
                    std::task::Poll::Ready(answer) => Ok(answer),
                    std::task::Poll::Pending => Err(reply),
                }
            }))
        })
    });
    let panicked = {
        let span = span.clone();
        let request_id = request_id.clone();
        move |in_flight| {
            span.in_scope(|| {
                crate::telemetry::sync_in_actor(request_id, actor_name, message_type, || {
                    record_panic(kind, in_flight)
                })
            })
        }
    };
    let reply = match started {
        Ok(Ok(answer)) => {
            in_flight.finish(answer.outcome());
            return Delivery::new(DeliveryState::Answered(Ok(answer), false, incarnation));
        }
        Ok(Err(pending)) => pending,
        Err(_) => {
            panicked(in_flight);
            return Delivery::new(DeliveryState::Answered(
                Err(CallError::Panicked(kind)),
                true,
                incarnation,
            ));
        }
    };
    let handled: Handled<M::Result> = Box::pin(
        crate::telemetry::in_actor(
            request_id,
            actor_name,
            message_type,
            AssertUnwindSafe(DropInRuntime::new(reply)).catch_unwind(),
        )
        .instrument(span)
        .map(move |result| match result {
            Ok(answer) => {
                in_flight.finish(answer.outcome());
                (Ok(answer), false)
            }
            Err(_) => {
                panicked(in_flight);
                (Err(CallError::Panicked(kind)), true)
            }
        }),
    );
    Delivery::new(DeliveryState::Running(handled, incarnation, answer_within))
}

fn record_panic(kind: ActorKind, in_flight: InFlight) {
    tracing::error!(
        actor = kind.actor_name(),
        "handler panicked; restarting its instance"
    );
    in_flight.finish(Outcome::Panicked);
}

/// Implements `Handler<Envelope<M>>` for every `M` the actor `Handles`.
#[macro_export]
macro_rules! instrumented_actor {
    ($actor:ty) => {
        impl<M> ::actix::Handler<$crate::runtime::Envelope<M>> for $actor
        where
            Self: $crate::runtime::Handles<M>,
            M: $crate::runtime::MailboxMessage,
        {
            type Result = $crate::runtime::Delivery<Self, M::Result>;

            fn handle(
                &mut self,
                envelope: $crate::runtime::Envelope<M>,
                ctx: &mut ::actix::Context<Self>,
            ) -> Self::Result {
                $crate::runtime::deliver(self, envelope, ctx)
            }
        }
    };
}
