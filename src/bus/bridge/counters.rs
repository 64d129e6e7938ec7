//! What the bridge counts, as operators read it on the BridgeActor's view
//! and the bus's.

use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

use crate::runtime::{Count, Gauge, Latency, LatencyMs};

/// What the bridge counted since start, and what it holds now.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BridgeCounters {
    /// Messages sent to the broker with a confirm asked for, and of those,
    /// confirmed by it.
    #[schema(value_type = u64)]
    pub published: Count,
    #[schema(value_type = u64)]
    pub confirmed: Count,
    /// Events handed to the BridgeActor that it has not sent yet.
    #[schema(value_type = u64)]
    pub publishes_queued: Gauge,
    /// Messages sent and waiting for the broker's confirm.
    #[schema(value_type = u64)]
    pub awaiting_confirm: Gauge,
    /// From a publish to the broker's confirm.
    #[schema(value_type = LatencyMs)]
    pub confirm_latency_ms: Latency,
    /// Messages taken from this node's queues; of those, delivered again
    /// by the broker, already handled (acked unhandled), and given up on.
    #[schema(value_type = u64)]
    pub consumed: Count,
    #[schema(value_type = u64)]
    pub redelivered: Count,
    #[schema(value_type = u64)]
    pub duplicates: Count,
    #[schema(value_type = u64)]
    pub dead_lettered: Count,
    /// Calls to other nodes handed to the BridgeActor and not sent yet.
    #[schema(value_type = u64)]
    pub calls_queued: Gauge,
    /// Calls sent to other nodes whose reply has not come.
    #[schema(value_type = u64)]
    pub calls_waiting: Gauge,
    /// Replies to this node's calls that came after the caller gave up.
    #[schema(value_type = u64)]
    pub late_replies: Count,
    /// Commands delivered again (the node that took them first died, or
    /// lost its channel before acking) and answered as failed rather than
    /// perhaps run a second time.
    #[schema(value_type = u64)]
    pub repeated_commands: Count,
    /// Messages that failed the signature check or came too late:
    /// dead-lettered from queues that ack, dropped from the others (replies,
    /// heartbeats). Anyone with the broker's credentials can send them.
    #[schema(value_type = u64)]
    pub refused: Count,
    /// Heartbeats dropped: too large, malformed, or of a new node past
    /// `cluster.max_nodes`.
    #[schema(value_type = u64)]
    pub heartbeats_ignored: Count,
    /// Times the connection was lost and made again (each one a restart of
    /// the BridgeActor).
    #[schema(value_type = u64)]
    pub reconnections: Count,
}

/// The bridge as operators see it: its connection and its counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokerState {
    pub connected: bool,
    pub namespace: String,
    #[serde(flatten)]
    #[schema(inline, value_type = BridgeCounters)]
    pub counters: Arc<BridgeCounters>,
}

/// A queue on the broker: messages waiting, and consumers taking them.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepth {
    pub messages: u32,
    pub consumers: u32,
}
