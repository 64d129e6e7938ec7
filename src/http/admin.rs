//! Operators' view inside every actor's mailbox.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

use super::error::{ApiError, Problem};
use super::path_id::Id;
use super::session::Admin;
use super::{ask, AppState};
use crate::actors::mailer::MailerActor;
use crate::actors::mailer::{ListQueuedMail, RetryQueuedMail};
use crate::actors::order::{OrderActor, OutboxBacklog};
use crate::actors::ActorKind;
use crate::bus::bridge::{BrokerState, QueueDepth};
use crate::bus::cluster::{admin_page, ActorBeat, Heartbeat};
use crate::bus::BusCounters;
use crate::domain::MailKind;
use crate::runtime::{KindSnapshot, MessageRecord};
use crate::store::QueuedMailSummary;

/// How long an admin view waits for a number another actor (maybe on a node
/// that is down) keeps; past it the number shows as unknown (`null`)
/// rather than the view, and every page polling it, hanging.
pub const VIEW_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// One actor kind on this node: the sums over its instances, and each instance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorView {
    pub node: String,
    /// Whether this node runs instances of the kind (otherwise another node
    /// does, reached over the bus).
    pub hosted: bool,
    #[serde(flatten)]
    pub actor: KindSnapshot,
    /// With RabbitMQ: the kind's command queue (calls from other nodes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_queue: Option<QueueDepth>,
    /// With RabbitMQ, for a kind that consumes events from a queue of its
    /// own (the mailer): that queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_queue: Option<QueueDepth>,
    /// The BridgeActor's own counts: publishes queued and waiting for the
    /// broker's confirm, the confirm's latency, deliveries consumed and
    /// dead-lettered, calls waiting for replies, reconnections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BrokerState>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorDetail {
    #[serde(flatten)]
    pub actor: ActorView,
    /// The last messages handled, oldest first.
    pub recent_messages: Vec<MessageRecord>,
}

/// A mail in the queue, as operators see it: what it is and where it goes,
/// never what it says (a sign-in mail holds a code).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMailBody<'a> {
    pub id: i64,
    pub kind: MailKind,
    pub recipients: &'a [String],
    pub subject: &'a str,
    pub attempts: u32,
    pub last_error: &'a str,
    pub next_attempt_at: DateTime<Utc>,
    pub dead: bool,
    /// A sign-in mail is deleted, not delivered, after this.
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl<'a> From<&'a QueuedMailSummary> for QueuedMailBody<'a> {
    fn from(mail: &'a QueuedMailSummary) -> QueuedMailBody<'a> {
        QueuedMailBody {
            id: mail.id,
            kind: mail.kind,
            recipients: &mail.recipients,
            subject: &mail.subject,
            attempts: mail.attempts,
            last_error: &mail.last_error,
            next_attempt_at: mail.next_attempt_at,
            dead: mail.dead,
            expires_at: mail.expires_at,
            created_at: mail.created_at,
        }
    }
}

async fn view(state: &AppState, kind: ActorKind) -> ActorView {
    let stats = state.registry.stats(kind);
    let (cluster_queue, event_queue) = match state.bus.bridge() {
        Some(bridge) if kind.is_role() => {
            let names = bridge.names();
            let (commands, events) = (
                names.command_queue(kind.config_key()),
                names.kind_queue(kind.config_key()),
            );
            futures_util::join!(bridge.queue_depth(&commands), bridge.queue_depth(&events))
        }
        _ => (None, None),
    };
    ActorView {
        node: state.registry.node_id().to_owned(),
        hosted: stats.is_some(),
        actor: stats.map_or_else(|| KindSnapshot::unhosted(kind), |stats| stats.snapshot()),
        cluster_queue,
        event_queue,
        bridge: state
            .bus
            .bridge()
            .filter(|_| kind == ActorKind::Bridge)
            .map(|bridge| bridge.state()),
    }
}

/// Every actor kind on this node with its mailbox counters.
#[utoipa::path(get, path = "/admin/actors", tag = "admin", security(("session" = [])),
    responses(
        (status = 200, description = "The actors", body = [ActorView]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_actors(state: web::Data<AppState>, _: Admin) -> HttpResponse {
    let actors: Vec<ActorView> =
        futures_util::future::join_all(state.registry.kinds().map(|kind| view(&state, kind))).await;
    HttpResponse::Ok().json(actors)
}

/// One actor's counters and its last messages.
#[utoipa::path(get, path = "/admin/actors/{name}", tag = "admin", security(("session" = [])),
    params(("name" = String, Path, description = "Actor kind, e.g. OtpActor")),
    responses(
        (status = 200, description = "The actor", body = ActorDetail),
        (status = 404, description = "No such actor kind", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_actor(
    state: web::Data<AppState>,
    _: Admin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let kind = ActorKind::parse(&name)
        .filter(|kind| state.registry.kinds().any(|known| known == *kind))
        .ok_or(ApiError::NotFound("actor"))?;
    Ok(HttpResponse::Ok().json(ActorDetail {
        actor: view(&state, kind).await,
        recent_messages: state
            .registry
            .stats(kind)
            .map(|stats| stats.recent())
            .unwrap_or_default(),
    }))
}

/// The event bus of this node: its own counts, and the broker's when
/// `bus.url` is set.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusBody {
    pub node: String,
    /// Events published here and their deliveries (local, or hand-offs to
    /// the broker).
    #[schema(value_type = BusCounters)]
    pub events: Arc<BusCounters>,
    /// `null` without `bus.url`: every event stays in this process.
    pub broker: Option<BrokerState>,
    /// Order events written and not yet relayed (`null` when the node
    /// hosting orders did not answer).
    pub outbox_backlog: Option<u64>,
}

/// The bus's state and counts.
#[utoipa::path(get, path = "/admin/bus", tag = "admin", security(("session" = [])),
    responses(
        (status = 200, description = "The bus of this node", body = BusBody),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn bus_state(state: web::Data<AppState>, _admin: Admin) -> HttpResponse {
    HttpResponse::Ok().json(bus_body(&state).await)
}

pub async fn bus_body(state: &AppState) -> BusBody {
    let backlog = tokio::time::timeout(
        VIEW_WAIT,
        state.registry.get::<OrderActor>().call(OutboxBacklog),
    )
    .await;
    BusBody {
        node: state.registry.node_id().to_owned(),
        events: state.bus.counters().clone(),
        broker: state.bus.bridge().map(|bridge| bridge.state()),
        outbox_backlog: backlog.ok().and_then(Result::ok).and_then(Result::ok),
    }
}

/// A node of the cluster as the admin view shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeBody {
    pub node_id: String,
    pub roles: Vec<String>,
    /// Where it says its HTTP listens: text, whatever it holds.
    pub address: String,
    /// Its operator's page, only when `address` is a plain `http(s)` origin
    /// (a host and port, nothing else); `null` otherwise.
    pub admin_page: Option<String>,
    /// When its last heartbeat was sent (now, for the node answering).
    pub last_seen: DateTime<Utc>,
    pub actors: Vec<ActorBeat>,
}

impl From<Heartbeat> for NodeBody {
    fn from(heartbeat: Heartbeat) -> Self {
        NodeBody {
            node_id: heartbeat.node_id,
            roles: heartbeat
                .roles
                .iter()
                .map(|kind| kind.config_key().to_owned())
                .collect(),
            admin_page: admin_page(&heartbeat.address),
            address: heartbeat.address,
            last_seen: heartbeat.sent_at,
            actors: heartbeat.actors,
        }
    }
}

/// The live nodes: this one first, then those whose heartbeats arrive.
#[utoipa::path(get, path = "/admin/cluster", tag = "admin", security(("session" = [])),
    responses(
        (status = 200, description = "The live nodes", body = [NodeBody]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cluster(state: web::Data<AppState>, _admin: Admin) -> HttpResponse {
    let nodes: Vec<NodeBody> = std::iter::once((state.cluster.own)())
        .chain(state.cluster.others.live())
        .map(NodeBody::from)
        .collect();
    HttpResponse::Ok().json(nodes)
}

/// Mail that could not be delivered yet: waiting for its next try, or dead.
#[utoipa::path(get, path = "/admin/mail", tag = "admin", security(("session" = [])),
    responses(
        (status = 200, description = "The mail queue, oldest first", body = [QueuedMailBody]),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_queued_mail(
    state: web::Data<AppState>,
    _: Admin,
) -> Result<HttpResponse, ApiError> {
    let queued = ask(state.registry.get::<MailerActor>(), ListQueuedMail, "mail").await?;
    let queued: Vec<QueuedMailBody> = queued.iter().map(QueuedMailBody::from).collect();
    Ok(HttpResponse::Ok().json(queued))
}

/// Tries a queued (or dead) mail again now, unless a try is sending it.
#[utoipa::path(post, path = "/admin/mail/{id}/retry", tag = "admin", security(("session" = [])),
    params(("id" = i64, Path, description = "Queued mail id")),
    responses(
        (status = 202, description = "The mail is due now"),
        (status = 404, description = "No such queued mail", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A try is sending the mail now; nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn retry_queued_mail(
    state: web::Data<AppState>,
    _: Admin,
    id: web::Path<Id>,
) -> Result<HttpResponse, ApiError> {
    ask(
        state.registry.get::<MailerActor>(),
        RetryQueuedMail {
            id: id.into_inner().get(),
        },
        "queued mail",
    )
    .await?;
    Ok(HttpResponse::Accepted().finish())
}
