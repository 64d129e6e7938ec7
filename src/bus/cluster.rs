//! Membership: every node broadcasts a heartbeat (its id, roles, address and
//! mailbox summaries) on `<ns>.heartbeats`, a fanout exchange with one
//! exclusive queue per node; each node keeps the last heartbeat of every
//! other and counts a node live while its heartbeats keep coming.

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bridge::{declare_own_queue, Bridge, BridgeError};
use crate::actors::runtime::{History, KindSnapshot, LatencyMs, Sample};

/// How often a node says it is there: as often as it samples its kinds,
/// so each heartbeat carries about one new sample.
pub const HEARTBEAT_EVERY: Duration = crate::actors::runtime::SAMPLE_EVERY;
/// A node not heard of for this long is no longer listed.
const LIVE_FOR: Duration = Duration::from_secs(6);

/// One actor kind's counters on one node, summed over its instances. The
/// fields after `handled` came later: a heartbeat of an older node lacks
/// them and reads as zeros.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindCounters {
    pub name: String,
    pub instances: usize,
    pub queued: u64,
    pub in_flight: u64,
    pub handled: u64,
    #[serde(default)]
    pub failed: u64,
    #[serde(default)]
    pub restarts: u64,
    /// Since the node started.
    #[serde(default)]
    pub latency_ms: LatencyMs,
}

impl From<KindSnapshot> for KindCounters {
    fn from(snapshot: KindSnapshot) -> KindCounters {
        KindCounters {
            name: snapshot.name.to_owned(),
            instances: snapshot.instances.len(),
            queued: snapshot.queued,
            in_flight: snapshot.in_flight,
            handled: snapshot.handled,
            failed: snapshot.failed,
            restarts: snapshot.restarts,
            latency_ms: snapshot.latency_ms,
        }
    }
}

/// One actor kind as a heartbeat sums it up.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorBeat {
    #[serde(flatten)]
    pub counters: KindCounters,
    /// The last windows the node sampled, oldest first (`SAMPLES_IN_HEARTBEAT`
    /// at most; none before its first).
    #[serde(default)]
    pub recent: Vec<Sample>,
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

/// What this node knows of another.
struct Seen {
    heartbeat: Heartbeat,
    /// When the heartbeat arrived, by this node's clock (so another node's
    /// skewed clock does not make it look dead).
    arrived: Instant,
    /// By kind name: the samples its heartbeats carried.
    histories: BTreeMap<String, History>,
}

/// The other nodes this node heard from.
#[derive(Default)]
pub struct Membership {
    /// By node id.
    seen: Mutex<BTreeMap<String, Seen>>,
}

/// Another live node: its last heartbeat and its kinds' histories.
pub struct Member {
    pub heartbeat: Heartbeat,
    pub histories: BTreeMap<String, History>,
    /// How long ago its last heartbeat arrived, by this node's clock.
    pub heard: Duration,
}

impl Membership {
    fn record(&self, heartbeat: Heartbeat) {
        let mut seen = self.lock();
        // Node ids come from the wire: the ones gone quiet are dropped here
        // too, so the map holds only live nodes even if nobody reads it.
        seen.retain(|_, node| node.arrived.elapsed() < LIVE_FOR);
        let node = seen
            .entry(heartbeat.node_id.clone())
            .or_insert_with(|| Seen {
                heartbeat: heartbeat.clone(),
                arrived: Instant::now(),
                histories: BTreeMap::new(),
            });
        // Only the kinds it hosts now keep a history.
        node.histories.retain(|name, _| {
            heartbeat
                .actors
                .iter()
                .any(|beat| &beat.counters.name == name)
        });
        for beat in &heartbeat.actors {
            node.histories
                .entry(beat.counters.name.clone())
                .or_default()
                .merge(&beat.recent);
        }
        node.heartbeat = heartbeat;
        node.arrived = Instant::now();
    }

    /// The other live nodes' last heartbeats, by node id.
    pub fn live(&self) -> Vec<Heartbeat> {
        self.live_members()
            .into_iter()
            .map(|member| member.heartbeat)
            .collect()
    }

    /// The other live nodes with their histories, by node id.
    pub fn live_members(&self) -> Vec<Member> {
        let mut seen = self.lock();
        seen.retain(|_, node| node.arrived.elapsed() < LIVE_FOR);
        seen.values()
            .map(|node| Member {
                heartbeat: node.heartbeat.clone(),
                histories: node.histories.clone(),
                heard: node.arrived.elapsed(),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Seen>> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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
    declare_own_queue(&channel, &queue, &names.heartbeats(), arguments).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(name: &str, queued: u64) -> ActorBeat {
        ActorBeat {
            counters: KindCounters {
                name: name.to_owned(),
                instances: 1,
                queued,
                in_flight: 0,
                handled: 0,
                failed: 0,
                restarts: 0,
                latency_ms: LatencyMs::default(),
            },
            recent: vec![Sample {
                window: queued,
                queued,
                ..Sample::default()
            }],
        }
    }

    fn heartbeat(actors: Vec<ActorBeat>) -> Heartbeat {
        Heartbeat {
            node_id: "other".to_owned(),
            roles: Vec::new(),
            address: "http://127.0.0.1:1".to_owned(),
            sent_at: Utc::now(),
            actors,
        }
    }

    #[test]
    fn heartbeats_build_each_kinds_history_of_another_node() {
        let membership = Membership::default();
        membership.record(heartbeat(vec![beat("OtpActor", 1), beat("UserActor", 5)]));
        membership.record(heartbeat(vec![beat("OtpActor", 2)]));
        let members = membership.live_members();
        assert_eq!(members.len(), 1);
        let histories = &members[0].histories;
        let queued: Vec<u64> = histories["OtpActor"]
            .samples()
            .map(|sample| sample.queued)
            .collect();
        assert_eq!(queued, [1, 2]);
        assert!(
            !histories.contains_key("UserActor"),
            "a kind the node no longer hosts has no history"
        );
    }

    #[test]
    fn a_heartbeat_of_an_older_node_reads_as_zeros() {
        let older = serde_json::json!({
            "nodeId": "old", "roles": ["otp"], "address": "http://127.0.0.1:1",
            "sentAt": "2026-01-01T00:00:00Z",
            "actors": [{"name": "OtpActor", "instances": 1, "queued": 0, "inFlight": 0, "handled": 7}],
        });
        let heartbeat: Heartbeat = serde_json::from_value(older).unwrap();
        assert_eq!(heartbeat.actors[0].counters.handled, 7);
        assert_eq!(heartbeat.actors[0].counters.failed, 0);
        assert!(heartbeat.actors[0].recent.is_empty());
    }
}
