//! The event bus. Events are fire-and-forget and delivered at least once to
//! every actor kind subscribed to their routing key. This in-process bus is
//! what the embedded mode and a single node use; the RabbitMQ bridge extends
//! the same `publish`/`subscribe` surface across nodes.

pub mod bridge;
pub mod cluster;
mod envelope;
pub mod remote;
pub mod trust;

use actix::prelude::*;
use actix_rt::ArbiterHandle;
use chrono::Utc;
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

pub use crate::domain::{
    Event, OrderCancelled, OrderPlaced, OtpIssued, ProductChanged, UserCreated,
};
pub use envelope::{DeliverEvent, EventEnvelope};

use crate::domain::{ActorKind, Backoff};
use crate::runtime::ActorError;
use crate::runtime::Count;
use crate::runtime::KindOf;
use crate::runtime::{Address, Envelope, Handles};
use bridge::{Bridge, BridgeError, BridgeHandle, Consumer};

/// The broker has not taken the last events published: a new one is refused.
#[derive(Debug, thiserror::Error)]
#[error("the broker has not taken the last {0} events; try again shortly")]
pub struct BusFull(pub u64);

type Deliver = Arc<
    dyn Fn(Arc<EventEnvelope>) -> LocalBoxFuture<'static, Result<(), ActorError>> + Send + Sync,
>;

struct Subscriber {
    kind: ActorKind,
    routing_keys: &'static [&'static str],
    deliver: Deliver,
}

/// What the bus counted since start, and the events it holds now.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusCounters {
    #[schema(value_type = u64)]
    pub published: Count,
    /// Delivered to a local subscriber, or taken by the broker.
    #[schema(value_type = u64)]
    pub delivered: Count,
    #[schema(value_type = u64)]
    pub retried: Count,
    #[schema(value_type = u64)]
    pub dead_lettered: Count,
    /// Published and not yet delivered or taken.
    #[serde(serialize_with = "as_number")]
    #[schema(value_type = u64)]
    pub pending: AtomicU64,
}

fn as_number<S: serde::Serializer>(value: &AtomicU64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(value.load(Ordering::Relaxed))
}

struct Inner {
    node_id: String,
    delivery_attempts: u32,
    /// Most events waiting for the broker at once.
    publish_buffer: u64,
    subscribers: RwLock<Vec<Subscriber>>,
    counters: Arc<BusCounters>,
    idle: Notify,
    /// Where deliveries run: one of the node's own threads, which outlive
    /// the HTTP workers that publish most events, so that what was
    /// published before a shutdown is still delivered.
    deliveries: ArbiterHandle,
    /// Set when `bus.url` is: events then go through RabbitMQ (handed to
    /// the BridgeActor), and reach this node's subscribers from their queues.
    bridge: OnceLock<BridgeHandle>,
}

#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl EventBus {
    pub fn new(
        node_id: String,
        delivery_attempts: std::num::NonZeroU32,
        publish_buffer: std::num::NonZeroU64,
        deliveries: ArbiterHandle,
    ) -> EventBus {
        let delivery_attempts = delivery_attempts.get();
        EventBus {
            inner: Arc::new(Inner {
                node_id,
                delivery_attempts,
                publish_buffer: publish_buffer.get(),
                subscribers: RwLock::new(Vec::new()),
                counters: Arc::default(),
                idle: Notify::new(),
                deliveries,
                bridge: OnceLock::new(),
            }),
        }
    }

    /// Delivers every event whose routing key is in `routing_keys` to `address`.
    pub fn subscribe<A>(&self, routing_keys: &'static [&'static str], address: Address<A>)
    where
        A: KindOf + Handles<DeliverEvent> + Handler<Envelope<DeliverEvent>>,
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
                kind: A::KIND,
                routing_keys,
                deliver,
            });
    }

    /// Sends events through RabbitMQ from now on, and consumes this node's
    /// subscribers' queues: one queue per subscribed kind (each event to one
    /// node hosting it), and this node's broadcast queue. Subscribe first.
    pub async fn attach(&self, handle: BridgeHandle) -> Result<(), BridgeError> {
        let bridge = handle.bridge();
        let subscribers: Vec<(ActorKind, &'static [&'static str], Deliver)> = self
            .inner
            .subscribers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|s| (s.kind, s.routing_keys, s.deliver.clone()))
            .collect();
        let local = |deliver: Vec<Deliver>| -> bridge::LocalDelivery {
            Arc::new(move |envelope: Arc<EventEnvelope>| {
                let deliver = deliver.clone();
                Box::pin(async move {
                    for deliver in &deliver {
                        deliver(envelope.clone())
                            .await
                            .map_err(|err| crate::telemetry::error_chain(&err))?;
                    }
                    Ok(())
                })
            })
        };
        let attempts = self.inner.delivery_attempts;
        for (kind, keys, deliver) in &subscribers {
            let keys: Vec<&'static str> = keys
                .iter()
                .copied()
                .filter(|key| *key != Event::PRODUCT_CHANGED)
                .collect();
            if keys.is_empty() {
                continue;
            }
            let kind = *kind;
            let deliver = local(vec![deliver.clone()]);
            bridge
                .on_connect(Arc::new(move |bridge: Arc<Bridge>| {
                    let keys = keys.clone();
                    let deliver = deliver.clone();
                    Box::pin(async move {
                        let queue = bridge
                            .declare_kind_queue(kind.config_key(), &keys, attempts)
                            .await?;
                        bridge
                            .consume(Consumer {
                                queue,
                                deliver,
                                broker_limits_redelivery: true,
                            })
                            .await
                    })
                }))
                .await?;
        }
        let broadcast = local(
            subscribers
                .iter()
                .filter(|(_, keys, _)| keys.contains(&Event::PRODUCT_CHANGED))
                .map(|(_, _, deliver)| deliver.clone())
                .collect(),
        );
        bridge
            .on_connect(Arc::new(move |bridge: Arc<Bridge>| {
                let deliver = broadcast.clone();
                Box::pin(async move {
                    let queue = bridge.declare_node_queue().await?;
                    bridge
                        .consume(Consumer {
                            queue,
                            deliver,
                            broker_limits_redelivery: false,
                        })
                        .await
                })
            }))
            .await?;
        let _ = self.inner.bridge.set(handle);
        Ok(())
    }

    /// The bridge, when events go through RabbitMQ.
    pub fn bridge(&self) -> Option<&Arc<Bridge>> {
        self.inner.bridge.get().map(BridgeHandle::bridge)
    }

    /// Whether `publish` would take another event now.
    pub fn has_room(&self) -> bool {
        self.inner.bridge.get().is_none()
            || self.inner.counters.pending.load(Ordering::Relaxed) < self.inner.publish_buffer
    }

    /// Queues `event` for every subscriber of its routing key and returns at
    /// once. With a broker, the event is published until the broker confirms
    /// it, however long it is away; past `bus.publish_buffer` events waiting so,
    /// a new one is refused (callers answer 503).
    pub fn publish(&self, event: Event) -> Result<(), BusFull> {
        self.publish_as(Uuid::new_v4(), event)
    }

    /// `publish`, with the message id given: a sender that may send one
    /// event twice gives both the same id.
    fn publish_as(&self, message_id: Uuid, event: Event) -> Result<(), BusFull> {
        let envelope = Arc::new(EventEnvelope {
            message_id,
            origin_node: self.inner.node_id.clone(),
            timestamp: Utc::now(),
            event,
        });
        let counters = &self.inner.counters;
        counters.published.add();
        let key = envelope.event.routing_key();
        if let Some(bridge) = self.inner.bridge.get() {
            if counters.pending.fetch_add(1, Ordering::Relaxed) >= self.inner.publish_buffer {
                counters.pending.fetch_sub(1, Ordering::Relaxed);
                tracing::warn!(
                    event = key,
                    "the broker has not taken the events before; refused"
                );
                return Err(BusFull(self.inner.publish_buffer));
            }
            let inner = self.inner.clone();
            let bridge = bridge.clone();
            let sent = self.inner.deliveries.spawn_fn(move || {
                actix_rt::spawn(publish_until_confirmed(inner, bridge, envelope));
            });
            if !sent {
                counters.pending.fetch_sub(1, Ordering::Relaxed);
                counters.dead_lettered.add();
                tracing::error!(event = key, "the node is stopping; event dropped");
            }
            return Ok(());
        }
        let subscribers = self
            .inner
            .subscribers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for subscriber in subscribers.iter().filter(|s| s.routing_keys.contains(&key)) {
            counters.pending.fetch_add(1, Ordering::Relaxed);
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
                counters.pending.fetch_sub(1, Ordering::Relaxed);
                counters.dead_lettered.add();
                tracing::error!(event = key, message_id = %envelope.message_id, "the node is stopping; event dropped");
            }
        }
        Ok(())
    }

    /// Publishes `event` and answers whether it is safely on its way: with
    /// a broker, once the broker confirmed it (no retries here: the caller
    /// keeps the event and tries again later); in process, at once.
    pub async fn publish_confirmed(&self, message_id: Uuid, event: Event) -> bool {
        let Some(bridge) = self.inner.bridge.get().cloned() else {
            return self.publish_as(message_id, event).is_ok();
        };
        let envelope = Arc::new(EventEnvelope {
            message_id,
            origin_node: self.inner.node_id.clone(),
            timestamp: Utc::now(),
            event,
        });
        self.inner.counters.published.add();
        match bridge.publish(envelope.clone()).await {
            Ok(()) => {
                self.inner.counters.delivered.add();
                true
            }
            Err(err) => {
                tracing::warn!(event = envelope.event.routing_key(), error = %crate::telemetry::error_chain(&err), "the broker did not take an event; it stays in the outbox");
                false
            }
        }
    }

    pub fn counters(&self) -> &Arc<BusCounters> {
        &self.inner.counters
    }

    /// Waits until every published event has been delivered (or given up
    /// on), at most `timeout`; `false` if some were still pending.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let all_done = async {
            loop {
                let notified = self.inner.idle.notified();
                if self.inner.counters.pending.load(Ordering::Acquire) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, all_done).await.is_ok()
    }
}

/// Publishes through the bridge until the broker confirms, with backoff
/// (the bridge reconnects meanwhile when the broker went away).
async fn publish_until_confirmed(
    inner: Arc<Inner>,
    bridge: BridgeHandle,
    envelope: Arc<EventEnvelope>,
) {
    let key = envelope.event.routing_key();
    let mut failures = 0;
    loop {
        match bridge.publish(envelope.clone()).await {
            Ok(()) => {
                inner.counters.delivered.add();
                break;
            }
            Err(err) => {
                inner.counters.retried.add();
                failures += 1;
                let backoff = Backoff::BUS.after(failures);
                tracing::warn!(event = key, message_id = %envelope.message_id, error = %crate::telemetry::error_chain(&err), "publishing failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
            }
        }
    }
    if inner.counters.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        inner.idle.notify_waiters();
    }
}

async fn deliver_with_retries(inner: Arc<Inner>, deliver: Deliver, envelope: Arc<EventEnvelope>) {
    let key = envelope.event.routing_key();
    for attempt in 1..=inner.delivery_attempts {
        match deliver(envelope.clone()).await {
            Ok(()) => {
                inner.counters.delivered.add();
                break;
            }
            Err(err) if attempt < inner.delivery_attempts => {
                inner.counters.retried.add();
                let backoff = Backoff::BUS.after(attempt);
                tracing::warn!(
                    event = key, message_id = %envelope.message_id, attempt,
                    error = %crate::telemetry::error_chain(&err),
                    "event delivery failed; retrying in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
            }
            Err(err) => {
                inner.counters.dead_lettered.add();
                tracing::error!(
                    event = key, message_id = %envelope.message_id, attempt,
                    error = %crate::telemetry::error_chain(&err),
                    "event delivery failed for good; dropped as dead"
                );
            }
        }
    }
    if inner.counters.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        inner.idle.notify_waiters();
    }
}
