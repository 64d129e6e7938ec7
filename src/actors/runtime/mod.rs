//! The actor runtime every service runs on: pools of instances over
//! arbiters behind one instrumented address, local or remote, a registry of
//! those addresses by kind, and the counters operators read.

mod address;
mod envelope;
mod pool;
mod registry;
mod stats;
mod timeline;
mod wire;

pub use address::{Address, CallError, RemoteCall, RemoteRoute};
pub use envelope::{deliver, Delivery, DropInRuntime, Envelope, Handles, Reply, ReportsOutcome};
pub use pool::{Arbiters, Factory, Instance, Pool};
pub use registry::{KindOf, Placement, Registry};
pub use stats::{
    InstanceSnapshot, InstanceStats, KindSnapshot, KindStats, LatencyMs, MessageRecord, Outcome,
    RECENT_MESSAGES,
};
pub use timeline::{History, Sample, Timeline, SAMPLES_IN_HEARTBEAT, SAMPLES_KEPT, SAMPLE_EVERY};
pub use wire::{answer_remote, DispatchError, Hosted, ReplyOf, WireMessage};

use super::{ActorError, ActorKind};
