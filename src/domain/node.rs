//! What may name a node: the configuration checks a node's own id with it,
//! and the cluster checks the ids that heartbeats carry.

/// The longest node id.
const MAX_NODE_ID_CHARS: usize = 128;

/// Whether `id` may name a node: 1 to `MAX_NODE_ID_CHARS` printable ASCII
/// characters, no spaces.
pub fn is_node_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_NODE_ID_CHARS && id.bytes().all(|b| b.is_ascii_graphic())
}
