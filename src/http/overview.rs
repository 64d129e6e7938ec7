//! `GET /admin/overview`: everything one tick of the operator's page shows,
//! in one document rendered at most once per `FRESH_FOR` however many pages
//! poll it.

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

use super::admin::{bus_body, BusBody, QueuedMailBody, VIEW_WAIT};
use super::error::Problem;
use super::session::Admin;
use super::AppState;
use crate::actors::mailer::{ListQueuedMail, MailerActor};
use crate::bus::cluster::{admin_page, ActorBeat, Heartbeat, KindCounters};
use crate::runtime::{History, SAMPLE_EVERY};

/// How long a rendered document is served: a page polls every two seconds,
/// so a hundred pages cost one render a second.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// Queued mails listed by name; the counts cover them all.
const MAILS_LISTED: usize = 20;

/// The whole cluster as the operator's page shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview<'a> {
    /// The node that answered.
    pub node: String,
    pub generated_at: DateTime<Utc>,
    /// Seconds between two samples of a history.
    pub sample_every_secs: u64,
    /// This node first, then the others whose heartbeats arrive.
    pub nodes: Vec<NodeOverview>,
    pub bus: BusBody,
    /// `null` when the mailer did not answer.
    pub mail: Option<MailOverview<'a>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeOverview {
    pub node_id: String,
    pub this_node: bool,
    /// The config keys of the kinds it hosts.
    pub roles: Vec<String>,
    /// Where it says its HTTP listens: text, whatever it holds.
    pub address: String,
    /// Its operator's page, only when `address` is a plain `http(s)` origin
    /// (a host and port, nothing else): the only link the page makes to
    /// another node. `null` otherwise.
    pub admin_page: Option<String>,
    /// When its last heartbeat was sent, by its own clock (now, for the
    /// node answering).
    pub last_seen: DateTime<Utc>,
    /// Seconds since its last heartbeat arrived, by the answering node's
    /// clock (0 for the node answering): unlike `lastSeen`, not moved by a
    /// skewed clock.
    pub heard_secs_ago: f64,
    /// The kinds it hosts.
    pub kinds: Vec<KindOverview>,
}

/// One actor kind on one node: its counters summed over its instances, and
/// its recent past.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindOverview {
    #[serde(flatten)]
    pub counters: KindCounters,
    pub history: HistoryBody,
}

/// A kind's samples, oldest first, one every `sampleEverySecs`, as one list
/// per measure (the document stays short).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBody {
    /// Messages waiting at the end of each window.
    pub queued: Vec<u64>,
    pub handled_per_sec: Vec<f64>,
    /// The 99th percentile of the handling time of each window's messages
    /// (0 when none came).
    pub p99_ms: Vec<f64>,
}

impl From<&History> for HistoryBody {
    fn from(history: &History) -> HistoryBody {
        HistoryBody {
            queued: history.samples().map(|sample| sample.queued).collect(),
            handled_per_sec: history
                .samples()
                .map(|sample| sample.handled_per_sec)
                .collect(),
            p99_ms: history.samples().map(|sample| sample.p99_ms).collect(),
        }
    }
}

/// The mail queue: how much waits, and the oldest entries. Never a mail's
/// content (a sign-in mail holds a code).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailOverview<'a> {
    /// Waiting for their next try.
    pub parked: usize,
    /// Given up on; an operator may retry them.
    pub dead: usize,
    /// The oldest twenty, oldest first.
    pub oldest: Vec<QueuedMailBody<'a>>,
}

fn kind_overview(beat: ActorBeat, history: Option<&History>) -> KindOverview {
    KindOverview {
        history: HistoryBody::from(history.unwrap_or(&History::default())),
        counters: beat.counters,
    }
}

/// `heard` is `None` for the node answering.
fn node_overview(
    heartbeat: Heartbeat,
    heard: Option<Duration>,
    history_of: impl Fn(&str) -> Option<History>,
) -> NodeOverview {
    NodeOverview {
        node_id: heartbeat.node_id,
        this_node: heard.is_none(),
        heard_secs_ago: heard.map_or(0.0, |heard| (heard.as_secs_f64() * 10.0).round() / 10.0),
        roles: heartbeat
            .roles
            .iter()
            .map(|kind| kind.config_key().to_owned())
            .collect(),
        admin_page: admin_page(&heartbeat.address),
        address: heartbeat.address,
        last_seen: heartbeat.sent_at,
        kinds: heartbeat
            .actors
            .into_iter()
            .map(|beat| {
                let history = history_of(&beat.counters.name);
                kind_overview(beat, history.as_ref())
            })
            .collect(),
    }
}

async fn render(state: &AppState) -> Bytes {
    let timeline = &state.cluster.timeline;
    let own = node_overview((state.cluster.own)(), None, |name| {
        crate::actors::ActorKind::parse(name).map(|kind| timeline.history(kind))
    });
    let others = state
        .cluster
        .others
        .live_members()
        .into_iter()
        .map(|member| {
            node_overview(member.heartbeat, Some(member.heard), |name| {
                member.histories.get(name).cloned()
            })
        });
    let (bus, queued_mail) = futures_util::join!(
        bus_body(state),
        tokio::time::timeout(
            VIEW_WAIT,
            state.registry.get::<MailerActor>().call(ListQueuedMail)
        )
    );
    let queued_mail = queued_mail.ok().and_then(Result::ok).and_then(Result::ok);
    let document = Overview {
        node: state.registry.node_id().to_owned(),
        generated_at: Utc::now(),
        sample_every_secs: SAMPLE_EVERY.as_secs(),
        nodes: std::iter::once(own).chain(others).collect(),
        bus,
        mail: queued_mail.as_ref().map(|queued| {
            let dead = queued.iter().filter(|mail| mail.dead).count();
            MailOverview {
                parked: queued.len() - dead,
                dead,
                oldest: queued
                    .iter()
                    .take(MAILS_LISTED)
                    .map(QueuedMailBody::from)
                    .collect(),
            }
        }),
    };
    Bytes::from(serde_json::to_vec(&document).expect("plain data serialises"))
}

/// The cluster's nodes, actor kinds with their recent past, bus and mail
/// queue: one tick of the operator's page. Rendered at most once a second.
#[utoipa::path(get, path = "/admin/overview", tag = "admin", security(("session" = [])),
    responses(
        (status = 200, description = "The overview", body = Overview),
        (status = 401, description = "No valid session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn overview(state: web::Data<AppState>, _: Admin) -> HttpResponse {
    // One render at a time: the pages that ask meanwhile wait for it and
    // share it.
    let mut rendered = state.overview.rendered.lock().await;
    let document = match &*rendered {
        Some((at, document)) if at.elapsed() < FRESH_FOR => document.clone(),
        _ => {
            let document = render(&state).await;
            *rendered = Some((Instant::now(), document.clone()));
            document
        }
    };
    drop(rendered);
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(document)
}
