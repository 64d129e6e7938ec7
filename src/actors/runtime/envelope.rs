//! A message on its way to an instance, and what happens around its
//! handler: the counts, the time, the caller's span and request id, and the
//! panic guard.

use actix::dev::{MessageResponse, OneshotSender};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tracing::{Instrument, Span};

use super::pool::Incarnation;
use super::stats::{MessageRecord, Outcome};
use super::{ActorError, ActorKind, CallError};

/// What a handler gives back: a future run on the instance's arbiter. Sync
/// handlers return `Box::pin(async move { ... })` around their answer.
pub type Reply<T> = LocalBoxFuture<'static, T>;

/// The handler trait of storefront actors. Written instead of actix's
/// `Handler` so that the runtime can wrap every handler's sync part and its
/// future alike: both are timed and both have their panics caught.
pub trait Handles<M: Message>: Actor<Context = Context<Self>> {
    fn handle(&mut self, msg: M, ctx: &mut Context<Self>) -> Reply<M::Result>;
}

/// Lets the runtime tell a failed answer from a normal one.
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

    fn start(mut self, message_type: &'static str, correlation_id: Option<String>) -> InFlight {
        let incarnation = self.incarnation.take().expect("a ticket starts once");
        incarnation.stats.queued.fetch_sub(1, Ordering::Relaxed);
        incarnation.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            incarnation: Some(incarnation),
            message_type,
            correlation_id,
            received_at: Utc::now(),
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
    correlation_id: Option<String>,
    received_at: DateTime<Utc>,
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
                received_at: self.received_at,
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
    pub(super) correlation_id: Option<String>,
    pub(super) ticket: QueueTicket,
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

/// A future that is dropped with the tokio runtime entered. actix drops an
/// actor's context (and the handler futures it holds) from its `LocalSet`,
/// outside the runtime, when an arbiter stops; a handler dropped there in
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

/// What the instrumented handler answers: either a panic already caught, or
/// the handler's future. Its own `MessageResponse` answers the caller
/// before retiring a panicked instance.
pub struct Delivery<A: Actor, T>(DeliveryState<A, T>);

/// The handler's answer and whether it panicked.
type Handled<A, T> = Pin<Box<dyn ActorFuture<A, Output = (Result<T, CallError>, bool)>>>;

enum DeliveryState<A: Actor, T> {
    Panicked(ActorKind, Arc<Incarnation>),
    Running(Handled<A, T>, Arc<Incarnation>),
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
            DeliveryState::Panicked(kind, incarnation) => {
                answer(tx, Err(CallError::Panicked(kind)));
                incarnation.retire(ctx);
            }
            DeliveryState::Running(future, incarnation) => {
                ctx.spawn(future.map(move |(result, panicked), _actor, ctx| {
                    answer(tx, result);
                    if panicked {
                        incarnation.retire(ctx);
                    }
                }));
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
    M: Message + 'static,
    M::Result: ReportsOutcome + 'static,
{
    let Envelope {
        msg,
        span,
        correlation_id,
        ticket,
    } = envelope;
    let incarnation = ticket
        .incarnation
        .clone()
        .expect("an unstarted ticket has its incarnation");
    let kind = incarnation.stats.kind();
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
            return Delivery(DeliveryState::Panicked(kind, incarnation));
        }
    };
    let finished = DropInRuntime::new(
        crate::telemetry::with_request_id(request_id, AssertUnwindSafe(reply).catch_unwind())
            .instrument(handler_span.clone()),
    );
    Delivery(DeliveryState::Running(
        Box::pin(
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
        ),
        incarnation,
    ))
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
        impl<M> ::actix::Handler<$crate::actors::runtime::Envelope<M>> for $actor
        where
            Self: $crate::actors::runtime::Handles<M>,
            M: ::actix::Message + 'static,
            M::Result: $crate::actors::runtime::ReportsOutcome + 'static,
        {
            type Result = $crate::actors::runtime::Delivery<Self, M::Result>;

            fn handle(
                &mut self,
                envelope: $crate::actors::runtime::Envelope<M>,
                ctx: &mut ::actix::Context<Self>,
            ) -> Self::Result {
                $crate::actors::runtime::deliver(self, envelope, ctx)
            }
        }
    };
}
