//! The event bus. Events are fire-and-forget and delivered at least once to
//! every actor kind subscribed to their routing key. This in-process bus is
//! what the embedded mode and a single node use; the RabbitMQ bridge extends
//! the same `publish`/`subscribe` surface across nodes.

mod events;

use actix::prelude::*;
use actix_rt::ArbiterHandle;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

pub use events::{Event, OrderCancelled, OrderPlaced, OtpIssued, ProductChanged, UserCreated};

use crate::actors::runtime::{Address, Envelope, Handles};
use crate::actors::ActorError;

/// An event with what every transport needs to route and de-duplicate it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub message_id: Uuid,
    pub origin_node: String,
    pub timestamp: DateTime<Utc>,
    pub event: Event,
}

/// Hands one event to a subscribed actor.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeliverEvent(pub Arc<EventEnvelope>);

crate::wire_name!(DeliverEvent => "event.deliver");

type Deliver = Arc<
    dyn Fn(Arc<EventEnvelope>) -> LocalBoxFuture<'static, Result<(), ActorError>> + Send + Sync,
>;

struct Subscriber {
    routing_keys: &'static [&'static str],
    deliver: Deliver,
}

#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusCounters {
    pub published: u64,
    pub delivered: u64,
    pub retried: u64,
    pub dead_lettered: u64,
    pub pending: u64,
}

struct Inner {
    node_id: String,
    delivery_attempts: u32,
    subscribers: RwLock<Vec<Subscriber>>,
    published: AtomicU64,
    delivered: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
    pending: AtomicU64,
    idle: Notify,
    /// Where deliveries run: one of the node's own threads, which outlive
    /// the HTTP workers that publish most events, so that what was
    /// published before a shutdown is still delivered.
    deliveries: ArbiterHandle,
}

#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl EventBus {
    pub fn new(
        node_id: String,
        delivery_attempts: std::num::NonZeroU32,
        deliveries: ArbiterHandle,
    ) -> EventBus {
        let delivery_attempts = delivery_attempts.get();
        EventBus {
            inner: Arc::new(Inner {
                node_id,
                delivery_attempts,
                subscribers: RwLock::new(Vec::new()),
                published: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                retried: AtomicU64::new(0),
                dead_lettered: AtomicU64::new(0),
                pending: AtomicU64::new(0),
                idle: Notify::new(),
                deliveries,
            }),
        }
    }

    /// Delivers every event whose routing key is in `routing_keys` to `address`.
    pub fn subscribe<A>(&self, routing_keys: &'static [&'static str], address: Address<A>)
    where
        A: Handles<DeliverEvent> + Handler<Envelope<DeliverEvent>>,
    {
        let deliver: Deliver = Arc::new(move |envelope| {
            let address = address.clone();
            Box::pin(async move { address.call(DeliverEvent(envelope)).await? })
        });
        self.inner
            .subscribers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(Subscriber {
                routing_keys,
                deliver,
            });
    }

    /// Queues `event` for every subscriber of its routing key and returns at
    /// once.
    pub fn publish(&self, event: Event) {
        let envelope = Arc::new(EventEnvelope {
            message_id: Uuid::new_v4(),
            origin_node: self.inner.node_id.clone(),
            timestamp: Utc::now(),
            event,
        });
        self.inner.published.fetch_add(1, Ordering::Relaxed);
        let key = envelope.event.routing_key();
        let subscribers = self
            .inner
            .subscribers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for subscriber in subscribers.iter().filter(|s| s.routing_keys.contains(&key)) {
            self.inner.pending.fetch_add(1, Ordering::Relaxed);
            let inner = self.inner.clone();
            let deliver = subscriber.deliver.clone();
            let delivered = envelope.clone();
            let span = tracing::Span::current();
            let request_id = crate::telemetry::current_request_id();
            let sent = self.inner.deliveries.spawn_fn(move || {
                let delivery = deliver_with_retries(inner, deliver, delivered);
                actix_rt::spawn(
                    crate::telemetry::with_request_id(request_id, delivery).instrument(span),
                );
            });
            if !sent {
                self.inner.pending.fetch_sub(1, Ordering::Relaxed);
                self.inner.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::error!(event = key, message_id = %envelope.message_id, "the node is stopping; event dropped");
            }
        }
    }

    pub fn counters(&self) -> BusCounters {
        let inner = &self.inner;
        BusCounters {
            published: inner.published.load(Ordering::Relaxed),
            delivered: inner.delivered.load(Ordering::Relaxed),
            retried: inner.retried.load(Ordering::Relaxed),
            dead_lettered: inner.dead_lettered.load(Ordering::Relaxed),
            pending: inner.pending.load(Ordering::Relaxed),
        }
    }

    /// Waits until every published event has been delivered (or given up
    /// on), at most `timeout`; `false` if some were still pending.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let all_done = async {
            loop {
                let notified = self.inner.idle.notified();
                if self.inner.pending.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, all_done).await.is_ok()
    }
}

async fn deliver_with_retries(inner: Arc<Inner>, deliver: Deliver, envelope: Arc<EventEnvelope>) {
    let key = envelope.event.routing_key();
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=inner.delivery_attempts {
        match deliver(envelope.clone()).await {
            Ok(()) => {
                inner.delivered.fetch_add(1, Ordering::Relaxed);
                break;
            }
            Err(err) if attempt < inner.delivery_attempts => {
                inner.retried.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    event = key, message_id = %envelope.message_id, attempt,
                    error = %crate::telemetry::error_chain(&err),
                    "event delivery failed; retrying in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            Err(err) => {
                inner.dead_lettered.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    event = key, message_id = %envelope.message_id, attempt,
                    error = %crate::telemetry::error_chain(&err),
                    "event delivery failed for good; dropped as dead"
                );
            }
        }
    }
    if inner.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        inner.idle.notify_waiters();
    }
}
