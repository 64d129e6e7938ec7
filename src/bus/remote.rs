//! Calls to actors on other nodes, over the bridge: the runtime's remote
//! route. A call is a command on `<ns>.commands` routed by kind to
//! `<ns>.cmd.<kind>`, which the nodes hosting the kind consume; it carries
//! the message's stable name as its type, the caller's reply queue and a
//! correlation id, and expires with the caller's timeout, so a command
//! nobody took in time is dropped by the broker. The hosting node runs it
//! on its local instances and publishes the reply to the caller's queue.
//!
//! Commands and replies are signed and sealed (`super::trust`): a command
//! may carry the code a user typed, a reply a session token, and anyone
//! with the broker's credentials can bind a queue of their own to the
//! command exchange. A command is refused (dead-lettered) when its
//! signature fails or its signed timestamp and expiration have passed, so
//! a copy cannot be run again later; a reply whose signature fails is
//! dropped before it is matched to a caller.

use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use super::bridge::{Bridge, BridgeError};
use super::trust::{self, Sealing};
use crate::actors::{ActorKind, Registry};
use crate::runtime::{CallError, DispatchError, RemoteCall, RemoteRoute};

/// A reply's type: the handler's answer, or why there is none.
const REPLY_OK: &str = "reply";
const REPLY_FAILED: &str = "failed";

/// Commands a hosting node works on at once, per kind.
const COMMAND_PREFETCH: u16 = 64;

type Waiting = oneshot::Sender<Result<Vec<u8>, String>>;

/// The caller's side: sends commands, matches replies to their callers.
pub struct BridgeRoute {
    bridge: Arc<Bridge>,
    reply_queue: String,
    waiting: Mutex<HashMap<String, Waiting>>,
}

impl BridgeRoute {
    /// Declares this node's reply queue and consumes it, again after every
    /// reconnection.
    pub async fn start(bridge: Arc<Bridge>) -> Result<Arc<BridgeRoute>, BridgeError> {
        let route = Arc::new(BridgeRoute {
            reply_queue: bridge.names.reply_queue(&bridge.node_id),
            bridge: bridge.clone(),
            waiting: Mutex::new(HashMap::new()),
        });
        let receiver = Arc::downgrade(&route);
        bridge
            .on_connect(Arc::new(move |bridge: Arc<Bridge>| {
                Box::pin(consume_replies(bridge, receiver.clone()))
            }))
            .await?;
        Ok(route)
    }

    fn answer(&self, reply: lapin::message::Delivery) {
        // Checked before it is matched: a forged reply neither answers a
        // caller nor makes one give up.
        let body = match self.bridge.keys().delivered(&reply) {
            Ok(body) => body,
            Err(refusal) => {
                self.bridge.ignore_refused(&self.reply_queue, &refusal);
                return;
            }
        };
        let Some(id) = reply.properties.correlation_id().as_ref() else {
            return;
        };
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(id.as_str());
        let answer = match reply.properties.kind().as_ref().map(|kind| kind.as_str()) {
            Some(REPLY_OK) => Ok(body.into_owned()),
            _ => Err(String::from_utf8_lossy(&body).into_owned()),
        };
        match waiting {
            Some(caller) => {
                let _ = caller.send(answer);
            }
            None => {
                self.bridge
                    .counters
                    .late_replies
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(correlation_id = %id, "a reply came after its caller gave up; dropped");
            }
        }
    }
}

async fn consume_replies(
    bridge: Arc<Bridge>,
    route: std::sync::Weak<BridgeRoute>,
) -> Result<(), BridgeError> {
    let reply_queue = bridge.names.reply_queue(&bridge.node_id);
    let channel = bridge.link().connection.create_channel().await?;
    channel
        .queue_declare(
            reply_queue.clone().into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let mut replies = channel
        .basic_consume(
            reply_queue.into(),
            format!("{}-replies", bridge.node_id).into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    actix_rt::spawn(async move {
        while let Some(Ok(reply)) = replies.next().await {
            let Some(route) = route.upgrade() else {
                return;
            };
            route.answer(reply);
        }
        tracing::warn!("the reply consumer ended");
    });
    Ok(())
}

#[async_trait(?Send)]
impl RemoteRoute for BridgeRoute {
    async fn call(&self, call: RemoteCall) -> Result<Vec<u8>, CallError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id.clone(), answer);
        let forget = || {
            self.waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&id);
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
            .with_reply_to(ShortString::from(self.reply_queue.clone()))
            .with_correlation_id(ShortString::from(id.clone()))
            .with_message_id(ShortString::from(id.clone()))
            .with_expiration(ShortString::from(call.timeout.as_millis().to_string()))
            .with_timestamp(trust::now_secs())
            .with_headers(headers);
        let exchange = self.bridge.names.commands();
        let routing_key = call.kind.config_key();
        let (properties, body) = self.bridge.prepare(
            &exchange,
            routing_key,
            properties,
            &call.body,
            Sealing::Sealed,
        );
        let sent = self
            .bridge
            .link()
            .publisher
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await;
        let confirmed = match sent {
            Ok(confirm) => confirm.await.map(|confirmation| confirmation.is_ack()),
            Err(err) => Err(err),
        };
        if !matches!(confirmed, Ok(true)) {
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

/// Declares the command queue of every kind (so that commands for a kind
/// whose node is not up yet wait for it, until they expire), now and after
/// every reconnection.
pub async fn declare_command_queues(bridge: &Arc<Bridge>) -> Result<(), BridgeError> {
    bridge
        .on_connect(Arc::new(|bridge: Arc<Bridge>| {
            Box::pin(async move { command_queues(&bridge).await })
        }))
        .await
}

async fn command_queues(bridge: &Bridge) -> Result<(), BridgeError> {
    let link = bridge.link();
    for kind in ActorKind::ALL {
        let queue = bridge.names.command_queue(kind.config_key());
        link.publisher
            .queue_declare(
                queue.clone().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        link.publisher
            .queue_bind(
                queue.into(),
                bridge.names.commands().into(),
                kind.config_key().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// Answers the commands for `kind`, which this node hosts, now and after
/// every reconnection.
pub async fn serve_commands(
    bridge: Arc<Bridge>,
    registry: Registry,
    kind: ActorKind,
) -> Result<(), BridgeError> {
    bridge
        .clone()
        .on_connect(Arc::new(move |bridge: Arc<Bridge>| {
            Box::pin(consume_commands(bridge, registry.clone(), kind))
        }))
        .await
}

async fn consume_commands(
    bridge: Arc<Bridge>,
    registry: Registry,
    kind: ActorKind,
) -> Result<(), BridgeError> {
    let channel = bridge.link().connection.create_channel().await?;
    channel
        .basic_qos(COMMAND_PREFETCH, BasicQosOptions::default())
        .await?;
    let queue = bridge.names.command_queue(kind.config_key());
    let mut commands = channel
        .basic_consume(
            queue.clone().into(),
            format!("{}-{queue}", bridge.node_id).into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    actix_rt::spawn(async move {
        while let Some(Ok(command)) = commands.next().await {
            let registry = registry.clone();
            let bridge = bridge.clone();
            // Each command on its own task: one slow handler does not hold
            // up the others (the prefetch bounds how many run).
            let queue = queue.clone();
            actix_rt::spawn(async move {
                let checked = bridge.keys().delivered(&command).and_then(|body| {
                    // A copy replayed later is not run: the signed
                    // timestamp and expiration say when it was for.
                    trust::check_command_expiry(&command.properties, trust::now_secs())?;
                    Ok(body.into_owned())
                });
                let body = match checked {
                    Ok(body) => body,
                    Err(refusal) => {
                        bridge.refuse(&queue, command, &refusal).await;
                        return;
                    }
                };
                let name = command
                    .properties
                    .kind()
                    .as_ref()
                    .map(|name| name.as_str().to_owned())
                    .unwrap_or_default();
                // A command is run at most once: one delivered again may
                // have run on a node that died before acking it, and the
                // caller, told it failed, may retry (writes that must not
                // happen twice carry their own idempotency key).
                let answer = if command.redelivered {
                    bridge
                        .counters
                        .repeated_commands
                        .fetch_add(1, Ordering::Relaxed);
                    Err(DispatchError::Repeated)
                } else {
                    registry.dispatch(kind, &name, &body).await
                };
                let (reply_type, body) = match answer {
                    Ok(body) => (REPLY_OK, body),
                    Err(err) => {
                        tracing::warn!(actor = kind.actor_name(), message = %name, error = %crate::telemetry::error_chain(&err), "a command could not be answered");
                        (REPLY_FAILED, err.to_string().into_bytes())
                    }
                };
                if let (Some(reply_to), Some(correlation_id)) = (
                    command.properties.reply_to().clone(),
                    command.properties.correlation_id().clone(),
                ) {
                    // To the caller's own queue, through the default exchange.
                    let (properties, body) = bridge.prepare(
                        "",
                        reply_to.as_str(),
                        BasicProperties::default()
                            .with_content_type(ShortString::from("application/json"))
                            .with_type(ShortString::from(reply_type))
                            .with_correlation_id(correlation_id)
                            .with_timestamp(trust::now_secs()),
                        &body,
                        Sealing::Sealed,
                    );
                    let sent = bridge
                        .link()
                        .publisher
                        .basic_publish(
                            "".into(),
                            reply_to.as_str().into(),
                            BasicPublishOptions::default(),
                            &body,
                            properties,
                        )
                        .await;
                    if let Err(err) = sent {
                        tracing::warn!(error = %err, "a reply could not be sent");
                    }
                }
                let _ = command.ack(BasicAckOptions::default()).await;
            });
        }
        tracing::warn!(actor = kind.actor_name(), "the command consumer ended");
    });
    Ok(())
}
