//! Publishing with the broker's confirm: events, and what goes to the
//! dead-letter exchange.

use lapin::options::{BasicAckOptions, BasicPublishOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, LongString, ShortString};
use lapin::BasicProperties;
use std::time::Instant;

use super::link::{Bridge, BridgeError};
use crate::bus::envelope::EventEnvelope;
use crate::bus::trust::{self, Sealing};
use crate::domain::Event;

impl Bridge {
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
        let counters = &self.counters;
        counters.published.add();
        let _awaiting = counters.awaiting_confirm.hold();
        let sent = Instant::now();
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
        counters.confirm_latency_ms.record(sent.elapsed());
        counters.confirmed.add();
        Ok(())
    }

    /// Moves a message that can never be handled to the dead-letter queue
    /// with `reason` in its `x-dead-reason` header and the queue it came
    /// from in `x-dead-queue`, for the operator who reads it there; a plain
    /// reject (the broker's own dead-lettering, without the reason) when
    /// that publish fails.
    pub(crate) async fn dead_letter(
        &self,
        queue: &str,
        delivery: lapin::message::Delivery,
        reason: &str,
    ) {
        self.counters.dead_lettered.add();
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
