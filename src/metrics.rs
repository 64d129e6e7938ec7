//! Prometheus metrics: HTTP requests by route and status, and every actor
//! mailbox's counters, rendered on each scrape.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder};
use std::fmt::Write;
use std::time::Duration;

use crate::actors::{ActorKind, Registry};
use crate::bus::bridge::BridgeCounters;
use crate::bus::EventBus;
use crate::runtime::KindSnapshot;

pub struct Metrics {
    registry: prometheus::Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = prometheus::Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("storefront_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "storefront_http_request_duration_seconds",
                "Time to answer an HTTP request",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registered once");
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    /// `route` is the matched pattern (`/users/me/addresses/{id}`), never
    /// the raw path, so the number of series stays bounded.
    pub fn observe_request(
        &self,
        method: &str,
        route: &str,
        status: actix_web::http::StatusCode,
        took: Duration,
    ) {
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn render(&self, actors: &Registry, bus: &EventBus) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into memory cannot fail");
        let mut text = String::from_utf8(buffer).expect("the text encoder writes UTF-8");
        render_actors(&mut text, actors);
        render_bus(&mut text, bus);
        text
    }
}

/// Name, type, help text and reading of one per-actor series.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&KindSnapshot) -> u64,
);

fn render_actors(text: &mut String, actors: &Registry) {
    let snapshots: Vec<_> = ActorKind::ALL
        .iter()
        .filter_map(|kind| actors.stats(*kind))
        .map(|stats| stats.snapshot())
        .collect();
    let series: [Series; 6] = [
        (
            "storefront_actor_instances",
            "gauge",
            "Instances of the kind on this node",
            |s| s.instances.len() as u64,
        ),
        (
            "storefront_actor_mailbox_queued",
            "gauge",
            "Messages waiting in the mailbox",
            |s| s.queued,
        ),
        (
            "storefront_actor_mailbox_in_flight",
            "gauge",
            "Messages being handled",
            |s| s.in_flight,
        ),
        (
            "storefront_actor_messages_handled_total",
            "counter",
            "Messages handled",
            |s| s.handled,
        ),
        (
            "storefront_actor_messages_failed_total",
            "counter",
            "Messages that failed, panicked or were cancelled",
            |s| s.failed,
        ),
        (
            "storefront_actor_restarts_total",
            "counter",
            "Restarts by the supervisor",
            |s| s.restarts,
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(text, "# HELP {name} {help}.\n# TYPE {name} {kind}");
        for snapshot in &snapshots {
            let _ = writeln!(
                text,
                "{name}{{actor=\"{}\"}} {}",
                snapshot.name,
                value(snapshot)
            );
        }
    }
    let name = "storefront_actor_handle_latency_ms";
    let _ = writeln!(
        text,
        "# HELP {name} Handling time of messages, in milliseconds.\n# TYPE {name} gauge"
    );
    for snapshot in &snapshots {
        let latency = snapshot.latency_ms;
        for (quantile, value) in [
            ("0.5", latency.p50),
            ("0.99", latency.p99),
            ("1", latency.max),
        ] {
            let _ = writeln!(
                text,
                "{name}{{actor=\"{}\",quantile=\"{quantile}\"}} {value}",
                snapshot.name
            );
        }
    }
}

fn render_bus(text: &mut String, bus: &EventBus) {
    let counters = bus.counters();
    for (name, kind, value) in [
        (
            "storefront_bus_events_published_total",
            "counter",
            counters.published.get(),
        ),
        (
            "storefront_bus_events_delivered_total",
            "counter",
            counters.delivered.get(),
        ),
        (
            "storefront_bus_events_retried_total",
            "counter",
            counters.retried.get(),
        ),
        (
            "storefront_bus_events_dead_lettered_total",
            "counter",
            counters.dead_lettered.get(),
        ),
        (
            "storefront_bus_events_pending",
            "gauge",
            counters.pending.load(std::sync::atomic::Ordering::Relaxed),
        ),
    ] {
        let _ = writeln!(text, "# TYPE {name} {kind}\n{name} {value}");
    }
    if let Some(bridge) = bus.bridge() {
        render_bridge(text, bridge.counters());
    }
}

/// The BridgeActor's own counts, with `bus.url`.
fn render_bridge(text: &mut String, counters: &BridgeCounters) {
    for (name, kind, value) in [
        (
            "storefront_bridge_published_total",
            "counter",
            counters.published.get(),
        ),
        (
            "storefront_bridge_confirmed_total",
            "counter",
            counters.confirmed.get(),
        ),
        (
            "storefront_bridge_publishes_queued",
            "gauge",
            counters.publishes_queued.get(),
        ),
        (
            "storefront_bridge_awaiting_confirm",
            "gauge",
            counters.awaiting_confirm.get(),
        ),
        (
            "storefront_bridge_consumed_total",
            "counter",
            counters.consumed.get(),
        ),
        (
            "storefront_bridge_dead_lettered_total",
            "counter",
            counters.dead_lettered.get(),
        ),
        (
            "storefront_bridge_calls_queued",
            "gauge",
            counters.calls_queued.get(),
        ),
        (
            "storefront_bridge_calls_waiting",
            "gauge",
            counters.calls_waiting.get(),
        ),
        (
            "storefront_bridge_refused_total",
            "counter",
            counters.refused.get(),
        ),
        (
            "storefront_bridge_reconnections_total",
            "counter",
            counters.reconnections.get(),
        ),
    ] {
        let _ = writeln!(text, "# TYPE {name} {kind}\n{name} {value}");
    }
    let name = "storefront_bridge_confirm_latency_ms";
    let _ = writeln!(
        text,
        "# HELP {name} From a publish to the broker's confirm, in milliseconds.\n# TYPE {name} gauge"
    );
    let latency = counters.confirm_latency_ms.get();
    for (quantile, value) in [
        ("0.5", latency.p50),
        ("0.99", latency.p99),
        ("1", latency.max),
    ] {
        let _ = writeln!(text, "{name}{{quantile=\"{quantile}\"}} {value}");
    }
}
