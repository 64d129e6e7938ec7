//! Membership: every node broadcasts a heartbeat (its id, roles, address and
//! mailbox summaries) on `<ns>.heartbeats`, a fanout exchange with one
//! exclusive queue per node; each node keeps the last heartbeat of every
//! other and counts a node live while its heartbeats keep coming.
//!
//! What a heartbeat says ends up in `/admin/cluster`, the overview and the
//! operator's page, so it is bounded before it is kept: signed by a node of
//! the cluster (`super::trust`), at most `MAX_HEARTBEAT_BYTES`, a short
//! printable id, known roles and kinds, each once, a few samples, and at
//! most `cluster.max_nodes` other nodes. An address is linked to only when
//! it is a plain `http(s)` origin (`admin_page`).

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, ExchangeKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bridge::{declare_own_queue, Bridge, BridgeError};
use super::trust::Sealing;
use crate::domain::{is_node_id, ActorKind};
use crate::runtime::{History, KindSnapshot, LatencyMs, Sample, SAMPLES_IN_HEARTBEAT};

/// How often a node says it is there: as often as it samples its kinds,
/// so each heartbeat carries about one new sample.
pub const HEARTBEAT_EVERY: Duration = crate::runtime::SAMPLE_EVERY;
/// A node not heard of for this long is no longer listed.
const LIVE_FOR: Duration = Duration::from_secs(6);
/// The largest heartbeat read: a real one is a few kilobytes.
pub const MAX_HEARTBEAT_BYTES: usize = 64 * 1024;
/// The longest address a heartbeat may carry.
const MAX_ADDRESS_CHARS: usize = 256;

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
    /// The kinds it hosts, as their config keys.
    #[serde(with = "crate::domain::config_keys")]
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<ActorKind>,
    /// Where its HTTP listens.
    pub address: String,
    /// When it sent this, by its own clock.
    pub sent_at: DateTime<Utc>,
    pub actors: Vec<ActorBeat>,
}

impl Heartbeat {
    /// Why this heartbeat is not kept, if it is not: only what a node of
    /// this version sends passes.
    pub fn check(&self) -> Result<(), &'static str> {
        if !is_node_id(&self.node_id) {
            return Err("its node id is not 1 to 128 printable ASCII characters");
        }
        if self.address.chars().count() > MAX_ADDRESS_CHARS {
            return Err("its address is longer than 256 characters");
        }
        for (index, role) in self.roles.iter().enumerate() {
            if self.roles[..index].contains(role) {
                return Err("its roles are not distinct actor kinds");
            }
        }
        for (index, beat) in self.actors.iter().enumerate() {
            let name = &beat.counters.name;
            let known = ActorKind::ALL.iter().any(|kind| kind.actor_name() == name);
            if !known
                || self.actors[..index]
                    .iter()
                    .any(|before| &before.counters.name == name)
            {
                return Err("its actors are not distinct actor kinds");
            }
            if beat.recent.len() > SAMPLES_IN_HEARTBEAT {
                return Err("it carries more samples than a heartbeat does");
            }
        }
        Ok(())
    }
}

/// The operator's page of the node at `address`, when the address is an
/// `http` or `https` origin (a host, perhaps a port, nothing else): the only
/// addresses the page links to. Any other is shown as text.
pub fn admin_page(address: &str) -> Option<String> {
    let url = url::Url::parse(address).ok()?;
    let plain = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    plain.then(|| format!("{}/admin", url.origin().ascii_serialization()))
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
pub struct Membership {
    /// By node id.
    seen: Mutex<BTreeMap<String, Seen>>,
    /// The most other nodes kept (`cluster.max_nodes`).
    max_nodes: usize,
}

/// Another live node: its last heartbeat and its kinds' histories.
pub struct Member {
    pub heartbeat: Heartbeat,
    pub histories: BTreeMap<String, History>,
    /// How long ago its last heartbeat arrived, by this node's clock.
    pub heard: Duration,
}

impl Membership {
    pub fn new(max_nodes: NonZeroU32) -> Membership {
        Membership {
            seen: Mutex::new(BTreeMap::new()),
            max_nodes: usize::try_from(max_nodes.get()).unwrap_or(usize::MAX),
        }
    }

    /// Keeps `heartbeat`; `false` when it is of a new node and
    /// `cluster.max_nodes` others are live already (it is not kept).
    fn record(&self, heartbeat: Heartbeat) -> bool {
        let mut seen = self.lock();
        // Node ids come from the wire: the ones gone quiet are dropped here
        // too, so the map holds only live nodes even if nobody reads it.
        seen.retain(|_, node| node.arrived.elapsed() < LIVE_FOR);
        if !seen.contains_key(&heartbeat.node_id) && seen.len() >= self.max_nodes {
            return false;
        }
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
        true
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
            // Lost heartbeats are fine: the next one comes soon.
            let _ = publish_heartbeat(&bridge, &own()).await;
        }
    });
    Ok(())
}

/// Sends `heartbeat` to every node, signed; returns once the broker has it
/// (not waiting for its confirm).
pub async fn publish_heartbeat(bridge: &Bridge, heartbeat: &Heartbeat) -> Result<(), BridgeError> {
    let body = serde_json::to_vec(heartbeat).expect("plain data serialises");
    publish_heartbeat_body(bridge, &body).await
}

/// Publishes `body` as a heartbeat, signed, whatever it holds: what every
/// node's membership must read with care.
pub async fn publish_heartbeat_body(bridge: &Bridge, body: &[u8]) -> Result<(), BridgeError> {
    let exchange = bridge.names().heartbeats();
    let (properties, body) = bridge.prepare(
        &exchange,
        "",
        BasicProperties::default()
            .with_content_type("application/json".into())
            .with_timestamp(super::trust::now_secs()),
        body,
        Sealing::Readable,
    );
    bridge
        .link()
        .publisher
        .basic_publish(
            exchange.into(),
            "".into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await?;
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
    let queue = names.heartbeat_queue(bridge.node_id());
    let heard = queue.clone();
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-message-ttl".into(),
        AMQPValue::LongInt(LIVE_FOR.as_millis() as i32),
    );
    declare_own_queue(&channel, &queue, &names.heartbeats(), arguments).await?;
    let mut heartbeats = channel
        .basic_consume(
            queue.into(),
            format!("{}-heartbeats", bridge.node_id()).into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    actix_rt::spawn(async move {
        while let Some(Ok(delivery)) = heartbeats.next().await {
            hear(&bridge, &membership, &heard, &delivery);
        }
    });
    Ok(())
}

/// Keeps a heartbeat from `queue` that a node of the cluster sent and that
/// stays within the bounds; counts and logs any other.
fn hear(
    bridge: &Bridge,
    membership: &Membership,
    queue: &str,
    delivery: &lapin::message::Delivery,
) {
    let ignored = |reason: &str| {
        bridge.counters().heartbeats_ignored.add();
        tracing::warn!(queue, reason, "a heartbeat is ignored");
    };
    if delivery.data.len() > MAX_HEARTBEAT_BYTES {
        return ignored("it is larger than 64 KiB");
    }
    let body = match bridge.keys().delivered(delivery) {
        Ok(body) => body,
        Err(refusal) => return bridge.ignore_refused(queue, &refusal),
    };
    // serde's message may quote the body: the kind of error only.
    let heartbeat = match serde_json::from_slice::<Heartbeat>(&body) {
        Ok(heartbeat) => heartbeat,
        Err(err) => {
            tracing::warn!(queue, error = ?err.classify(), "a heartbeat does not decode");
            return ignored("it does not decode");
        }
    };
    if heartbeat.node_id == bridge.node_id() {
        return;
    }
    if let Err(reason) = heartbeat.check() {
        return ignored(reason);
    }
    if !membership.record(heartbeat) {
        ignored("cluster.max_nodes other nodes are live already");
    }
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

    fn membership(max_nodes: u32) -> Membership {
        Membership::new(NonZeroU32::new(max_nodes).unwrap())
    }

    #[test]
    fn heartbeats_build_each_kinds_history_of_another_node() {
        let membership = membership(64);
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
        assert_eq!(heartbeat.check(), Ok(()));
        assert_eq!(heartbeat.roles, vec![ActorKind::Otp]);
        assert_eq!(
            serde_json::to_value(&heartbeat).unwrap()["roles"],
            serde_json::json!(["otp"])
        );
    }

    #[test]
    fn a_heartbeat_naming_a_role_that_is_no_kind_does_not_decode() {
        let cashier = serde_json::json!({
            "nodeId": "odd", "roles": ["cashier"], "address": "http://127.0.0.1:1",
            "sentAt": "2026-01-01T00:00:00Z", "actors": [],
        });
        assert!(serde_json::from_value::<Heartbeat>(cashier).is_err());
    }

    #[test]
    fn nodes_past_the_cap_are_not_kept_and_those_kept_still_are() {
        let membership = membership(2);
        let of = |id: &str| Heartbeat {
            node_id: id.to_owned(),
            ..heartbeat(vec![beat("OtpActor", 1)])
        };
        assert!(membership.record(of("a")));
        assert!(membership.record(of("b")));
        assert!(!membership.record(of("c")));
        assert!(membership.record(of("a")), "a node kept is heard again");
        let ids: Vec<String> = membership
            .live()
            .into_iter()
            .map(|heartbeat| heartbeat.node_id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn only_heartbeats_a_node_sends_pass_the_check() {
        let good = heartbeat(vec![beat("OtpActor", 1), beat("MailerActor", 1)]);
        assert_eq!(good.check(), Ok(()));
        let bad = [
            Heartbeat {
                node_id: "x".repeat(129),
                ..good.clone()
            },
            Heartbeat {
                node_id: "bell\u{7}".to_owned(),
                ..good.clone()
            },
            Heartbeat {
                node_id: "two words".to_owned(),
                ..good.clone()
            },
            Heartbeat {
                node_id: String::new(),
                ..good.clone()
            },
            Heartbeat {
                address: format!("http://{}", "a".repeat(300)),
                ..good.clone()
            },
            Heartbeat {
                roles: vec![ActorKind::Otp, ActorKind::Otp],
                ..good.clone()
            },
            heartbeat(vec![beat("CashierActor", 1)]),
            heartbeat(vec![beat("OtpActor", 1), beat("OtpActor", 2)]),
            heartbeat(vec![ActorBeat {
                recent: vec![Sample::default(); SAMPLES_IN_HEARTBEAT + 1],
                ..beat("OtpActor", 1)
            }]),
        ];
        for heartbeat in bad {
            assert!(heartbeat.check().is_err(), "{heartbeat:?}");
        }
    }

    #[test]
    fn only_a_plain_http_origin_is_a_page_to_link_to() {
        assert_eq!(
            admin_page("http://127.0.0.1:8081").as_deref(),
            Some("http://127.0.0.1:8081/admin")
        );
        assert_eq!(
            admin_page("https://node-b.shop.example").as_deref(),
            Some("https://node-b.shop.example/admin")
        );
        for address in [
            "https://evil.example/phish",
            "https://evil.example/?q=1",
            "https://evil.example/#x",
            "https://user:pw@evil.example",
            "https://user@evil.example",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://127.0.0.1:21",
            "//evil.example",
            "127.0.0.1:8080",
            "",
        ] {
            assert_eq!(admin_page(address), None, "{address}");
        }
    }
}
