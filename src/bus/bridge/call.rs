//! The caller's side of a call to an actor on another node: a command on
//! `<ns>.commands`, routed by kind, carrying the message's stable name as
//! its type, a correlation id, and RabbitMQ's direct reply-to as where the
//! reply goes. It expires with the caller's timeout, so a command nobody
//! took in time is dropped by the broker.
//!
//! Neither the command nor its reply is persistent or confirmed: a caller
//! that hears nothing times out and may retry, and a command runs at most
//! once (`super::super::remote`). That is one publish each way, and no
//! reply queue.

use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use tokio::sync::oneshot;

use super::link::{lock, Bridge, DIRECT_REPLY_TO};
use crate::bus::trust::{self, Sealing};
use crate::runtime::{CallError, RemoteCall};

impl Bridge {
    /// Sends `call` to the nodes that host its kind and waits for the
    /// reply, at most the call's timeout.
    pub async fn call(&self, call: RemoteCall) -> Result<Vec<u8>, CallError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        let _waiting = self.counters.calls_waiting.hold();
        lock(&self.waiting).insert(id.clone(), answer);
        let forget = || {
            lock(&self.waiting).remove(&id);
        };
        let mut headers = FieldTable::default();
        if let Some(request_id) = &call.correlation_id {
            headers.insert(
                "x-request-id".into(),
                AMQPValue::LongString(LongString::from(request_id.to_string())),
            );
        }
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_type(ShortString::from(call.message))
            .with_reply_to(ShortString::from(DIRECT_REPLY_TO))
            .with_correlation_id(ShortString::from(id.clone()))
            .with_message_id(ShortString::from(id.clone()))
            .with_expiration(ShortString::from(call.timeout.as_millis().to_string()))
            .with_timestamp(trust::now_secs())
            .with_headers(headers);
        let exchange = self.names.commands();
        let routing_key = call.kind.config_key();
        let (properties, body) = self.prepare(
            &exchange,
            routing_key,
            properties,
            &call.body,
            Sealing::Sealed,
        );
        let sent = self
            .link()
            .calls
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await;
        if sent.is_err() {
            forget();
            tracing::warn!(
                actor = call.kind.actor_name(),
                message = call.message,
                "a command could not be sent"
            );
            return Err(CallError::Remote(call.kind));
        }
        match tokio::time::timeout(call.timeout, answered).await {
            Ok(Ok(Ok(reply))) => Ok(reply),
            Ok(Ok(Err(reason))) => {
                tracing::warn!(actor = call.kind.actor_name(), message = call.message, reason = %reason, "the hosting node could not answer");
                Err(CallError::Remote(call.kind))
            }
            Ok(Err(_)) | Err(_) => {
                forget();
                Err(CallError::Remote(call.kind))
            }
        }
    }
}
