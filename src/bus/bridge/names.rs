//! The names of the topology under one namespace.

/// The exchanges and queues of one namespace (`bus.namespace`).
#[derive(Debug, Clone)]
pub struct Names {
    namespace: String,
}

impl Names {
    pub fn new(namespace: &str) -> Names {
        Names {
            namespace: namespace.to_owned(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn events(&self) -> String {
        format!("{}.events", self.namespace)
    }

    pub fn broadcast(&self) -> String {
        format!("{}.broadcast", self.namespace)
    }

    pub fn dead(&self) -> String {
        format!("{}.dead", self.namespace)
    }

    pub fn kind_queue(&self, kind: &str) -> String {
        format!("{}.{kind}", self.namespace)
    }

    pub fn node_queue(&self, node_id: &str) -> String {
        format!("{}.node.{node_id}", self.namespace)
    }

    pub fn commands(&self) -> String {
        format!("{}.commands", self.namespace)
    }

    pub fn command_queue(&self, kind: &str) -> String {
        format!("{}.cmd.{kind}", self.namespace)
    }

    pub fn heartbeats(&self) -> String {
        format!("{}.heartbeats", self.namespace)
    }

    pub fn heartbeat_queue(&self, node_id: &str) -> String {
        format!("{}.heartbeat.{node_id}", self.namespace)
    }
}
