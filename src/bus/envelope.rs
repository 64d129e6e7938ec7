//! An event as it travels: with the ids every transport needs to route and
//! de-duplicate it, and the message that hands it to a subscribed actor.

use actix::Message;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

use crate::domain::Event;
use crate::runtime::ActorError;

/// An event with what every transport needs to route and de-duplicate it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub message_id: Uuid,
    pub origin_node: String,
    pub timestamp: DateTime<Utc>,
    pub event: Event,
}

/// Hands one event to a subscribed actor.
#[derive(Debug, Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ActorError>")]
pub struct DeliverEvent(pub Arc<EventEnvelope>);

crate::wire_name!(DeliverEvent => "event.deliver");
