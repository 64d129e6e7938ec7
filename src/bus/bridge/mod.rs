//! The bridge to RabbitMQ: events and calls between the nodes of a
//! cluster, carried by BridgeActor over one connection.
//!
//! Topology, all under `bus.namespace` (`<ns>` below):
//!
//! - `<ns>.events`, a durable topic exchange: every event but broadcasts,
//!   by routing key;
//! - `<ns>.<kind>`, one durable quorum queue per consuming actor kind, bound
//!   to the routing keys the kind subscribes to: each event is handled by
//!   one node that hosts the kind; a delivery that keeps failing is
//!   dead-lettered by the broker after `x-delivery-limit`;
//! - `<ns>.broadcast`, a durable fanout exchange (`product.changed`), with
//!   `<ns>.node.<node>`, one exclusive queue per node: every node hears it;
//! - `<ns>.commands`, a direct exchange routing calls by kind to
//!   `<ns>.cmd.<kind>`, whose replies come back by direct reply-to;
//! - `<ns>.dead`, a fanout exchange and its queue: what could not be
//!   handled, with the broker's `x-death` reason.
//!
//! Events are persistent, published with confirms, consumed with manual
//! acks after the local handler succeeded, with a bounded prefetch. Each
//! carries `message_id`, `type`, `timestamp`, `x-origin-node` and the
//! signature of a node of the cluster (`super::trust`); a consumer refuses
//! (dead-letters) one whose signature fails or that is older than its id
//! is remembered, claims each id in the database before handling it, and
//! acks one claimed or handled elsewhere without handling it again.
//!
//! The files: `link` (the connection and what outlives it), `names`,
//! `publish`, `consume`, `call` (a command and its direct reply),
//! `counters`, and `actor` (BridgeActor).

mod actor;
mod call;
mod consume;
mod counters;
mod link;
mod names;
mod publish;

pub use actor::{BridgeActor, BridgeHandle, Call, Publish};
pub(crate) use consume::declare_own_queue;
pub use consume::{Consumer, LocalDelivery};
pub use counters::{BridgeCounters, BrokerState, QueueDepth};
pub use link::{Bridge, BridgeError, Claims, Link, Setup};
pub(crate) use link::{REPLY_FAILED, REPLY_OK};
pub use names::Names;
