//! The bridge to RabbitMQ: events between the nodes of a cluster.
//!
//! Topology, all under `bus.namespace` (`<ns>` below):
//!
//! - `<ns>.events`, a durable topic exchange: every event but broadcasts,
//!   by routing key;
//! - `<ns>.<kind>`, one durable quorum queue per consuming actor kind, bound
//!   to the routing keys the kind subscribes to: each event is handled by
//!   one node that hosts the kind; a delivery that keeps failing is
//!   dead-lettered by the broker after `x-delivery-limit`;
//! - `<ns>.broadcast`, a durable fanout exchange (`product.changed`), with
//!   `<ns>.node.<node>`, one exclusive queue per node: every node hears it;
//! - `<ns>.dead`, a fanout exchange and its queue: what could not be
//!   handled, with the broker's `x-death` reason.
//!
//! Messages are persistent, published with confirms, consumed with manual
//! acks after the local handler succeeded, with a bounded prefetch. Each
//! carries `message_id`, `type`, `timestamp`, `x-origin-node` and the
//! signature of a node of the cluster (`super::trust`); a consumer refuses
//! (dead-letters) one whose signature fails or that is older than its id
//! is remembered, claims each id in the database before handling it, and
//! acks one claimed or handled elsewhere without handling it again.

use arc_swap::ArcSwap;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::envelope::EventEnvelope;
use super::trust::{self, BusKeys, Refusal, Sealing, ORIGIN_HEADER};
use crate::domain::{Backoff, Event};
use crate::store::{Claim, MessageLog};

/// Deliveries a consumer holds unacknowledged at once.
const PREFETCH: u16 = 32;

/// How often a delivery whose message another delivery holds asks again.
const HELD_POLL: Duration = Duration::from_millis(500);

/// The handled-message log, and how long a claim in it holds: a node that
/// took a message and died lets another delivery of it be handled once
/// this has passed since the claim.
#[derive(Clone)]
pub struct Claims {
    log: Arc<dyn MessageLog>,
    lease: Duration,
}

impl Claims {
    /// Claims that outlast a local handler running for up to
    /// `handler_timeout`, with room for the database round trips around it.
    pub fn new(log: Arc<dyn MessageLog>, handler_timeout: Duration) -> Claims {
        Claims {
            log,
            lease: handler_timeout + Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("RabbitMQ refused or failed")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm the message")]
    NotConfirmed,
}

/// The names of the topology under one namespace.
#[derive(Debug, Clone)]
pub struct Names {
    namespace: String,
}

impl Names {
    pub fn new(namespace: &str) -> Names {
        Names {
            namespace: namespace.to_owned(),
        }
    }

    pub fn events(&self) -> String {
        format!("{}.events", self.namespace)
    }

    pub fn broadcast(&self) -> String {
        format!("{}.broadcast", self.namespace)
    }

    pub fn dead(&self) -> String {
        format!("{}.dead", self.namespace)
    }

    pub fn kind_queue(&self, kind: &str) -> String {
        format!("{}.{kind}", self.namespace)
    }

    pub fn node_queue(&self, node_id: &str) -> String {
        format!("{}.node.{node_id}", self.namespace)
    }

    pub fn commands(&self) -> String {
        format!("{}.commands", self.namespace)
    }

    pub fn command_queue(&self, kind: &str) -> String {
        format!("{}.cmd.{kind}", self.namespace)
    }

    pub fn reply_queue(&self, node_id: &str) -> String {
        format!("{}.replies.{node_id}", self.namespace)
    }

    pub fn heartbeats(&self) -> String {
        format!("{}.heartbeats", self.namespace)
    }

    pub fn heartbeat_queue(&self, node_id: &str) -> String {
        format!("{}.heartbeat.{node_id}", self.namespace)
    }
}

/// What the bridge counted since start.
#[derive(Debug, Default)]
pub struct BridgeCounters {
    pub published: AtomicU64,
    pub confirmed: AtomicU64,
    pub consumed: AtomicU64,
    pub redelivered: AtomicU64,
    pub duplicates: AtomicU64,
    pub dead_lettered: AtomicU64,
    /// Replies to calls whose caller had given up (timed out).
    pub late_replies: AtomicU64,
    /// Commands delivered again (the node that took them first died, or
    /// lost its channel before acking) and answered as failed rather than
    /// perhaps run a second time.
    pub repeated_commands: AtomicU64,
    /// Messages not believed: no valid signature of a node of the cluster,
    /// or signed too long ago (`trust::Refusal`).
    pub refused: AtomicU64,
    /// Heartbeats of nodes that are not kept: too large, malformed, or of a
    /// new node past `cluster.max_nodes`.
    pub heartbeats_ignored: AtomicU64,
}

/// Hands an event to the local subscribers; `Err` asks for redelivery.
pub type LocalDelivery = Arc<
    dyn Fn(Arc<EventEnvelope>) -> futures_util::future::LocalBoxFuture<'static, Result<(), String>>
        + Send
        + Sync,
>;

/// A queue on the broker: messages waiting, and consumers taking them.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepth {
    pub messages: u32,
    pub consumers: u32,
}

/// The bridge's state as operators see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerSnapshot {
    pub connected: bool,
    pub namespace: String,
    /// Messages sent to the broker, and of those, confirmed by it.
    pub published: u64,
    pub confirmed: u64,
    /// Messages taken from this node's queues; of those, delivered again
    /// by the broker, already handled (acked unhandled), and given up on.
    pub consumed: u64,
    pub redelivered: u64,
    pub duplicates: u64,
    pub dead_lettered: u64,
    /// Replies to this node's calls that came after the caller gave up.
    pub late_replies: u64,
    /// Commands this node refused to run twice.
    pub repeated_commands: u64,
    /// Messages that failed the signature check or came too late:
    /// dead-lettered from queues that ack, dropped from the others (replies,
    /// heartbeats). Anyone with the broker's credentials can send them.
    pub refused: u64,
    /// Heartbeats dropped: too large, malformed, or of a new node past
    /// `cluster.max_nodes`.
    pub heartbeats_ignored: u64,
}

/// A queue this node consumes and what to do with what arrives.
#[derive(Clone)]
pub struct Consumer {
    pub queue: String,
    pub deliver: LocalDelivery,
    /// Whether the broker counts deliveries and dead-letters past a limit
    /// (a quorum queue). Otherwise a delivery that failed twice is
    /// dead-lettered here.
    pub broker_limits_redelivery: bool,
}

/// One connection to the broker and its publishing channel; replaced as a
/// whole when the bridge reconnects.
pub struct Link {
    pub connection: Connection,
    /// In confirm mode: a publish resolves once the broker has the message.
    pub publisher: Channel,
}

/// A step that sets up part of the topology or a consumer on a fresh link;
/// run at once, and again after every reconnection.
pub type Setup = Arc<
    dyn Fn(Arc<Bridge>) -> futures_util::future::LocalBoxFuture<'static, Result<(), BridgeError>>
        + Send
        + Sync,
>;

/// How often the bridge looks whether its connection is still up.
const WATCH_EVERY: Duration = Duration::from_millis(500);

pub struct Bridge {
    pub(super) names: Names,
    pub(super) node_id: String,
    url: String,
    /// Shown by the broker (`rabbitmqctl list_connections client_properties`).
    connection_name: String,
    link: ArcSwap<Link>,
    /// Replayed in order on every new link. Only touched on the arbiter
    /// that connected (setups are local futures).
    setups: std::sync::Mutex<Vec<Setup>>,
    claims: Claims,
    /// Sign what this node publishes, check and open what it reads.
    keys: BusKeys,
    pub counters: BridgeCounters,
}

impl Bridge {
    /// Connects, declares the exchanges and the dead-letter queue, and
    /// watches the connection: when it goes, the bridge reconnects with
    /// backoff and replays every setup step (queues, consumers).
    pub async fn connect(
        url: &str,
        namespace: &str,
        node_id: &str,
        claims: Claims,
        keys: BusKeys,
    ) -> Result<Arc<Bridge>, BridgeError> {
        let names = Names::new(namespace);
        let name = format!("storefront {node_id} {namespace}");
        let link = open(url, &names, &name).await?;
        let bridge = Arc::new(Bridge {
            names,
            node_id: node_id.to_owned(),
            url: url.to_owned(),
            connection_name: name,
            link: ArcSwap::from_pointee(link),
            setups: std::sync::Mutex::new(Vec::new()),
            claims,
            keys,
            counters: BridgeCounters::default(),
        });
        actix_rt::spawn(watch(Arc::downgrade(&bridge)));
        Ok(bridge)
    }

    /// The current link.
    pub fn link(&self) -> Arc<Link> {
        self.link.load_full()
    }

    /// Runs `setup` now and after every reconnection.
    pub async fn on_connect(self: &Arc<Self>, setup: Setup) -> Result<(), BridgeError> {
        setup(self.clone()).await?;
        self.setups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(setup);
        Ok(())
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    /// The keys the cluster shares: what signs this node's messages.
    pub fn keys(&self) -> &BusKeys {
        &self.keys
    }

    /// The depth of `queue`; `None` when it does not exist or the broker
    /// cannot be asked now.
    pub async fn queue_depth(&self, queue: &str) -> Option<QueueDepth> {
        // A passive declare of a missing queue closes its channel: one of
        // its own, then.
        let channel = self.link().connection.create_channel().await.ok()?;
        let declared = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .ok();
        let _ = channel.close(200, "done".into()).await;
        declared.map(|queue| QueueDepth {
            messages: queue.message_count(),
            consumers: queue.consumer_count(),
        })
    }

    pub fn is_connected(&self) -> bool {
        self.link.load().connection.status().connected()
    }

    pub fn snapshot(&self) -> BrokerSnapshot {
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counters = &self.counters;
        BrokerSnapshot {
            connected: self.is_connected(),
            namespace: self.names.namespace.clone(),
            published: count(&counters.published),
            confirmed: count(&counters.confirmed),
            consumed: count(&counters.consumed),
            redelivered: count(&counters.redelivered),
            duplicates: count(&counters.duplicates),
            dead_lettered: count(&counters.dead_lettered),
            late_replies: count(&counters.late_replies),
            repeated_commands: count(&counters.repeated_commands),
            refused: count(&counters.refused),
            heartbeats_ignored: count(&counters.heartbeats_ignored),
        }
    }

    /// Declares the queue of an actor kind, bound to its routing keys, with
    /// the broker dead-lettering a message delivered `attempts` times.
    pub async fn declare_kind_queue(
        &self,
        kind: &str,
        routing_keys: &[&str],
        attempts: u32,
    ) -> Result<String, BridgeError> {
        let queue = self.names.kind_queue(kind);
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        arguments.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongInt(attempts as i32),
        );
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from(self.names.dead())),
        );
        self.link()
            .publisher
            .queue_declare(
                queue.clone().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                arguments,
            )
            .await?;
        for key in routing_keys {
            self.link()
                .publisher
                .queue_bind(
                    queue.clone().into(),
                    self.names.events().into(),
                    (*key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(queue)
    }

    /// Declares this node's own queue on the broadcast exchange.
    pub async fn declare_node_queue(&self) -> Result<String, BridgeError> {
        let queue = self.names.node_queue(&self.node_id);
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from(self.names.dead())),
        );
        declare_own_queue(
            &self.link().publisher,
            &queue,
            &self.names.broadcast(),
            arguments,
        )
        .await?;
        Ok(queue)
    }

    /// Publishes `envelope` and waits for the broker's confirm.
    pub async fn publish(&self, envelope: &EventEnvelope) -> Result<(), BridgeError> {
        let key = envelope.event.routing_key();
        let exchange = if key == Event::PRODUCT_CHANGED {
            self.names.broadcast()
        } else {
            self.names.events()
        };
        let body = serde_json::to_vec(envelope).expect("plain data serialises");
        self.publish_raw(&exchange, key, &body, Some(envelope))
            .await
    }

    /// Publishes bytes as they are, signed (and a sign-in code's sealed) as
    /// every event is, with an envelope's id and time when there is one and
    /// the time now otherwise: what a test uses to send what a broken node
    /// of the cluster might.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        envelope: Option<&EventEnvelope>,
    ) -> Result<(), BridgeError> {
        let mut properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_delivery_mode(2)
            .with_type(ShortString::from(routing_key.to_owned()));
        let timestamp = match envelope {
            Some(envelope) => {
                properties =
                    properties.with_message_id(ShortString::from(envelope.message_id.to_string()));
                u64::try_from(envelope.timestamp.timestamp()).unwrap_or_default()
            }
            None => trust::now_secs(),
        };
        // Only the mailer reads a sign-in code: the broker's other readers
        // get ciphertext.
        let sealing = if routing_key == Event::OTP_ISSUED {
            Sealing::Sealed
        } else {
            Sealing::Readable
        };
        let (properties, body) = self.prepare(
            exchange,
            routing_key,
            properties.with_timestamp(timestamp),
            body,
            sealing,
        );
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        let confirmation = self
            .link()
            .publisher
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await?
            .await?;
        if !confirmation.is_ack() {
            return Err(BridgeError::NotConfirmed);
        }
        self.counters.confirmed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// A message as this node publishes it to `exchange` with `routing_key`:
    /// named as from this node (`x-origin-node`), sealed when asked, and
    /// signed. `properties` must hold everything else it carries.
    pub fn prepare(
        &self,
        exchange: &str,
        routing_key: &str,
        properties: BasicProperties,
        body: &[u8],
        sealing: Sealing,
    ) -> (BasicProperties, Vec<u8>) {
        let mut headers = properties.headers().clone().unwrap_or_default();
        headers.insert(
            ORIGIN_HEADER.into(),
            AMQPValue::LongString(LongString::from(self.node_id.clone())),
        );
        self.keys.outgoing(
            exchange,
            routing_key,
            properties.with_headers(headers),
            body,
            sealing,
        )
    }

    /// Consumes `consumer.queue` on a channel of its own until the
    /// connection closes: each event is handed over once, acked when
    /// handled, sent back for redelivery when its handler failed, and
    /// dead-lettered when it cannot be read. Deliveries are handled side by
    /// side, as many as the prefetch lets in.
    pub async fn consume(self: &Arc<Self>, consumer: Consumer) -> Result<(), BridgeError> {
        let channel = self.link().connection.create_channel().await?;
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        let mut deliveries = channel
            .basic_consume(
                consumer.queue.clone().into(),
                format!("{}-{}", self.node_id, consumer.queue).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let bridge = self.clone();
        let consumer = Arc::new(consumer);
        // On this arbiter: the local deliveries it makes are actor calls.
        actix_rt::spawn(async move {
            while let Some(delivery) = deliveries.next().await {
                let Ok(delivery) = delivery else {
                    break;
                };
                actix_rt::spawn(bridge.clone().handle(consumer.clone(), delivery));
            }
            tracing::warn!(queue = %consumer.queue, "consumer ended");
        });
        Ok(())
    }

    async fn handle(self: Arc<Self>, consumer: Arc<Consumer>, delivery: lapin::message::Delivery) {
        let counters = &self.counters;
        counters.consumed.fetch_add(1, Ordering::Relaxed);
        if delivery.redelivered {
            counters.redelivered.fetch_add(1, Ordering::Relaxed);
        }
        // Believed first, decoded after: nothing of a forged message is read.
        let decoded = self.keys.delivered(&delivery).and_then(|body| {
            trust::check_event_age(&delivery.properties, trust::now_secs())?;
            Ok(serde_json::from_slice::<EventEnvelope>(&body))
        });
        let envelope: EventEnvelope = match decoded {
            Ok(Ok(envelope)) => envelope,
            Err(refusal) => {
                self.refuse(&consumer.queue, delivery, &refusal).await;
                return;
            }
            Ok(Err(err)) => {
                // Unknown types and missing ids fail here too: both are
                // required fields of the envelope.
                let reason = format!("the message does not decode as an event: {err}");
                // serde's message may quote a value of the body (a sign-in
                // code): the log gets where and what kind of error, the
                // dead message the whole of it.
                tracing::error!(queue = %consumer.queue, error = ?err.classify(), line = err.line(), column = err.column(), "a message does not decode; dead-lettered");
                self.dead_letter(&consumer.queue, delivery, &reason).await;
                return;
            }
        };
        let id = envelope.message_id.to_string();
        loop {
            match self
                .claims
                .log
                .claim(&consumer.queue, &id, self.claims.lease)
                .await
            {
                Ok(Claim::Ours) => break,
                Ok(Claim::Done) => {
                    counters.duplicates.fetch_add(1, Ordering::Relaxed);
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                    return;
                }
                // Another delivery of it is being handled, or was by a node
                // that died: whichever, it is held here until that one
                // finishes or its lease runs out.
                Ok(Claim::Held) => tokio::time::sleep(HELD_POLL).await,
                Err(err) => {
                    tracing::warn!(queue = %consumer.queue, error = %crate::telemetry::error_chain(&err), "cannot check for a duplicate; redelivering");
                    let _ = delivery
                        .nack(BasicNackOptions {
                            requeue: true,
                            ..Default::default()
                        })
                        .await;
                    return;
                }
            }
        }
        match (consumer.deliver)(Arc::new(envelope)).await {
            Ok(()) => {
                if let Err(err) = self.claims.log.finish(&consumer.queue, &id).await {
                    tracing::warn!(queue = %consumer.queue, error = %crate::telemetry::error_chain(&err), "cannot record a handled message");
                }
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            Err(reason) => {
                if let Err(err) = self.claims.log.release(&consumer.queue, &id).await {
                    tracing::warn!(queue = %consumer.queue, error = %crate::telemetry::error_chain(&err), "cannot release a failed message; it is retried after its lease");
                }
                let requeue = consumer.broker_limits_redelivery || !delivery.redelivered;
                tracing::warn!(queue = %consumer.queue, message_id = %id, reason = %reason, requeue, "handler failed");
                if !requeue {
                    counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
                }
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue,
                        ..Default::default()
                    })
                    .await;
            }
        }
    }

    /// Dead-letters a message from `queue` that is not believed, with the
    /// reason (never its body) in the log and on the dead message.
    pub(super) async fn refuse(
        &self,
        queue: &str,
        delivery: lapin::message::Delivery,
        refusal: &Refusal,
    ) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(queue, reason = %refusal, "a message is not believed; dead-lettered");
        self.dead_letter(queue, delivery, &refusal.to_string())
            .await;
    }

    /// Counts and logs a message from `queue`, which nobody acks, that is
    /// not believed; the caller drops it.
    pub(super) fn ignore_refused(&self, queue: &str, refusal: &Refusal) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(queue, reason = %refusal, "a message is not believed; dropped");
    }

    /// Moves a message that can never be handled to the dead-letter queue
    /// with `reason` in its `x-dead-reason` header and the queue it came
    /// from in `x-dead-queue`, for the operator who
    /// reads it there; a plain reject (the broker's own dead-lettering,
    /// without the reason) when that publish fails.
    pub(super) async fn dead_letter(
        &self,
        queue: &str,
        delivery: lapin::message::Delivery,
        reason: &str,
    ) {
        self.counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(
            "x-dead-reason".into(),
            AMQPValue::LongString(LongString::from(reason.to_owned())),
        );
        headers.insert(
            "x-dead-queue".into(),
            AMQPValue::LongString(LongString::from(queue.to_owned())),
        );
        let properties = delivery.properties.clone().with_headers(headers);
        let published = async {
            self.link()
                .publisher
                .basic_publish(
                    self.names.dead().into(),
                    delivery.routing_key.clone(),
                    BasicPublishOptions::default(),
                    &delivery.data,
                    properties,
                )
                .await?
                .await
        }
        .await;
        match published {
            Ok(confirmation) if confirmation.is_ack() => {
                let _ = delivery.ack(BasicAckOptions::default()).await;
            }
            _ => {
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            }
        }
    }
}

/// Declares `queue` with `arguments` as this connection's own (it goes
/// with the connection) and binds it to the fanout `exchange`: how a node
/// hears what is sent to every node.
pub(super) async fn declare_own_queue(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    arguments: FieldTable,
) -> Result<(), lapin::Error> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// Opens a connection and its publishing channel, and declares the
/// exchanges and the dead-letter queue.
async fn open(url: &str, names: &Names, name: &str) -> Result<Link, BridgeError> {
    let connection = Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name(name.into()),
    )
    .await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (exchange, kind) in [
        (names.events(), ExchangeKind::Topic),
        (names.broadcast(), ExchangeKind::Fanout),
        (names.dead(), ExchangeKind::Fanout),
        (names.commands(), ExchangeKind::Direct),
    ] {
        publisher
            .exchange_declare(exchange.into(), kind, durable, FieldTable::default())
            .await?;
    }
    publisher
        .queue_declare(
            names.dead().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    publisher
        .queue_bind(
            names.dead().into(),
            names.dead().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Link {
        connection,
        publisher,
    })
}

/// Watches the bridge's connection for as long as the bridge lives; when it
/// is gone, reconnects with backoff and replays the setup steps.
async fn watch(bridge: std::sync::Weak<Bridge>) {
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let Some(current) = bridge.upgrade() else {
            return;
        };
        if current.is_connected() {
            continue;
        }
        tracing::warn!("the connection to RabbitMQ is gone; reconnecting");
        let mut failures = 0;
        loop {
            failures += 1;
            let backoff = Backoff::BUS.after(failures);
            match open(&current.url, &current.names, &current.connection_name).await {
                Ok(link) => {
                    current.link.store(Arc::new(link));
                    let setups = current
                        .setups
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .clone();
                    let mut replayed = true;
                    for setup in setups {
                        if let Err(err) = setup(current.clone()).await {
                            tracing::warn!(error = %crate::telemetry::error_chain(&err), "a setup step failed after reconnecting");
                            replayed = false;
                            break;
                        }
                    }
                    if replayed {
                        tracing::info!("reconnected to RabbitMQ");
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %crate::telemetry::error_chain(&err), "cannot reach RabbitMQ yet; retrying in {backoff:?}");
                }
            }
            tokio::time::sleep(backoff).await;
        }
    }
}
