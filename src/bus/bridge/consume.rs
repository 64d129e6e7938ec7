//! Consuming this node's queues: each event handed to the local
//! subscribers once, acked when handled, sent back for redelivery when its
//! handler failed, dead-lettered when it cannot be believed or read.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::Channel;
use std::sync::Arc;
use std::time::Duration;

use super::link::{Bridge, BridgeError};
use crate::bus::envelope::EventEnvelope;
use crate::bus::trust::{self, Refusal};
use crate::store::Claim;

/// Deliveries a consumer holds unacknowledged at once.
const PREFETCH: u16 = 32;

/// How often a delivery whose message another delivery holds asks again.
const HELD_POLL: Duration = Duration::from_millis(500);

/// Hands an event to the local subscribers; `Err` asks for redelivery.
pub type LocalDelivery = Arc<
    dyn Fn(Arc<EventEnvelope>) -> futures_util::future::LocalBoxFuture<'static, Result<(), String>>
        + Send
        + Sync,
>;

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

impl Bridge {
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

    /// Consumes `consumer.queue` on a channel of its own until the
    /// connection closes. Deliveries are handled side by side, as many as
    /// the prefetch lets in.
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
        counters.consumed.add();
        if delivery.redelivered {
            counters.redelivered.add();
        }
        // Believed first, decoded after: nothing of a forged message is read.
        let decoded = self.keys().delivered(&delivery).and_then(|body| {
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
                    counters.duplicates.add();
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
                    counters.dead_lettered.add();
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
    pub(crate) async fn refuse(
        &self,
        queue: &str,
        delivery: lapin::message::Delivery,
        refusal: &Refusal,
    ) {
        self.counters.refused.add();
        tracing::warn!(queue, reason = %refusal, "a message is not believed; dead-lettered");
        self.dead_letter(queue, delivery, &refusal.to_string())
            .await;
    }
}

/// Declares `queue` with `arguments` as this connection's own (it goes
/// with the connection) and binds it to the fanout `exchange`: how a node
/// hears what is sent to every node.
pub(crate) async fn declare_own_queue(
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
