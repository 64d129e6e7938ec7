//! The hosting side of calls from other nodes: the command queues
//! `<ns>.cmd.<kind>`, which the nodes hosting the kind consume. A command
//! (sent by `bridge::Bridge::call`) carries the message's stable name as its
//! type, where its reply goes and a correlation id; the hosting node runs it
//! on its local instances and publishes the reply there, without a confirm.
//!
//! Commands and replies are signed and sealed (`super::trust`): a command
//! may carry the code a user typed, a reply a session token, and anyone
//! with the broker's credentials can bind a queue of their own to the
//! command exchange. A command is refused (dead-lettered) when its
//! signature fails or its signed timestamp and expiration have passed, so
//! a copy cannot be run again later; a reply whose signature fails is
//! dropped before it is matched to a caller.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::BasicProperties;
use std::sync::Arc;

use super::bridge::{Bridge, BridgeError, REPLY_FAILED, REPLY_OK};
use super::trust::{self, Sealing};
use crate::domain::ActorKind;
use crate::runtime::{DispatchError, Registry};

/// Commands a hosting node works on at once, per kind.
const COMMAND_PREFETCH: u16 = 64;

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
    for kind in ActorKind::ALL.iter().filter(|kind| kind.takes_commands()) {
        let queue = bridge.names().command_queue(kind.config_key());
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
                bridge.names().commands().into(),
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
    let queue = bridge.names().command_queue(kind.config_key());
    let mut commands = channel
        .basic_consume(
            queue.clone().into(),
            format!("{}-{queue}", bridge.node_id()).into(),
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
                    bridge.counters().repeated_commands.add();
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
                    // To where the caller said, through the default
                    // exchange: its direct reply-to, or a queue of its own.
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
                        .calls
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
