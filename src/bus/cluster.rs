//! Membership: every node broadcasts a heartbeat (its id, roles, address and
//! mailbox summaries) on `<ns>.heartbeats`, a fanout exchange with one
//! exclusive queue per node; each node keeps the last heartbeat of every
//! other and counts a node live while its heartbeats keep coming.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bridge::{Bridge, BridgeError};

/// How often a node says it is there.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A node not heard of for this long is no longer listed.
const LIVE_FOR: Duration = Duration::from_secs(6);

/// One actor kind as a heartbeat sums it up.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorBeat {
    pub name: String,
    pub instances: usize,
    pub queued: u64,
    pub in_flight: u64,
    pub handled: u64,
}

/// What a node says of itself.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub node_id: String,
    /// The config keys of the kinds it hosts.
    pub roles: Vec<String>,
    /// Where its HTTP listens.
    pub address: String,
    /// When it sent this, by its own clock.
    pub sent_at: DateTime<Utc>,
    pub actors: Vec<ActorBeat>,
}

/// The other nodes this node heard from.
#[derive(Default)]
pub struct Membership {
    /// By node id: its last heartbeat and when it arrived, by this node's
    /// clock (so another node's skewed clock does not make it look dead).
    seen: Mutex<BTreeMap<String, (Heartbeat, Instant)>>,
}

impl Membership {
    fn record(&self, heartbeat: Heartbeat) {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(heartbeat.node_id.clone(), (heartbeat, Instant::now()));
    }

    /// The other live nodes' last heartbeats, by node id.
    pub fn live(&self) -> Vec<Heartbeat> {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.retain(|_, (_, at)| at.elapsed() < LIVE_FOR);
        seen.values()
            .map(|(heartbeat, _)| heartbeat.clone())
            .collect()
    }
}

/// Declares the heartbeat exchange and this node's queue, hears the other
/// nodes (again after every reconnection), and sends `own()` every
/// `HEARTBEAT_EVERY` for as long as the bridge lives.
pub async fn join(
    bridge: &Arc<Bridge>,
    membership: Arc<Membership>,
    own: Arc<dyn Fn() -> Heartbeat + Send + Sync>,
) -> Result<(), BridgeError> {
    let listener = membership.clone();
    bridge
        .on_connect(Arc::new(move |bridge: Arc<Bridge>| {
            Box::pin(listen(bridge, listener.clone()))
        }))
        .await?;
    let bridge = Arc::downgrade(bridge);
    actix_rt::spawn(async move {
        let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            ticks.tick().await;
            let Some(bridge) = bridge.upgrade() else {
                return;
            };
            let heartbeat = own();
            let body = serde_json::to_vec(&heartbeat).expect("plain data serialises");
            let exchange = bridge.names().heartbeats();
            // Lost heartbeats are fine: the next one comes soon.
            let _ = bridge
                .link()
                .publisher
                .basic_publish(
                    exchange.into(),
                    "".into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default(),
                )
                .await;
        }
    });
    Ok(())
}

async fn listen(bridge: Arc<Bridge>, membership: Arc<Membership>) -> Result<(), BridgeError> {
    let names = bridge.names().clone();
    let channel = bridge.link().connection.create_channel().await?;
    channel
        .exchange_declare(
            names.heartbeats().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let queue = names.heartbeat_queue(&bridge.node_id);
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-message-ttl".into(),
        AMQPValue::LongInt(LIVE_FOR.as_millis() as i32),
    );
    channel
        .queue_declare(
            queue.clone().into(),
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
            queue.clone().into(),
            names.heartbeats().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut heartbeats = channel
        .basic_consume(
            queue.into(),
            format!("{}-heartbeats", bridge.node_id).into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let own = bridge.node_id.clone();
    actix_rt::spawn(async move {
        while let Some(Ok(delivery)) = heartbeats.next().await {
            match serde_json::from_slice::<Heartbeat>(&delivery.data) {
                Ok(heartbeat) if heartbeat.node_id != own => membership.record(heartbeat),
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "a heartbeat does not decode; ignored"),
            }
        }
    });
    Ok(())
}
