//! The actor runtime every service runs on: pools of instances over
//! arbiters behind one instrumented address, local or remote, a registry of
//! those addresses by kind, and the counters operators read.

mod address;
mod counter;
mod dependency;
mod envelope;
mod error;
mod hosting;
mod incarnation;
mod pool;
mod registry;
mod stats;
mod timeline;
mod wire;

pub use address::{Address, RemoteCall, RemoteRoute};
pub use counter::{Count, Gauge, Held, Latency};
pub use dependency::{CheckDependency, DependencyStatus};
pub use envelope::{deliver, Delivery, DropInRuntime, Envelope, Handles, Reply};
pub use error::{ActorError, CallError};
#[cfg(test)]
pub use hosting::WireExample;
pub use hosting::{answer_remote, DispatchError, Hosted};
pub use pool::{Arbiters, Factory, Instance, Pool};
pub use registry::{KindOf, Placement, Registry};
pub use stats::{
    InstanceSnapshot, InstanceStats, KindSnapshot, KindStats, LatencyMs, MessageRecord, Outcome,
    RECENT_MESSAGES,
};
pub use timeline::{History, Sample, Timeline, SAMPLES_IN_HEARTBEAT, SAMPLES_KEPT, SAMPLE_EVERY};
pub use wire::{MailboxMessage, ReplyOf, ReportsOutcome, WireMessage};

use crate::domain::ActorKind;
