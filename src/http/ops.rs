//! Liveness, readiness and metrics. Metrics tell the shop's traffic and
//! order counts: on the main port they are for the machine itself and its
//! trusted proxies (a scraper there), unless they have a port of their own.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::Problem;
use super::AppState;
use crate::actors::DependencyStatus;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub dependencies: Vec<DependencyStatus>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Every dependency answers; 503 naming the ones that do not.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A dependency is down", body = Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut dependencies = crate::actors::check_dependencies(&state.registry).await;
    if let Some(bridge) = state.bus.bridge() {
        let connected = bridge.is_connected();
        dependencies.push(DependencyStatus {
            name: "bus".to_owned(),
            ok: connected,
            error: (!connected).then(|| "the connection to RabbitMQ is closed".to_owned()),
        });
    }
    if dependencies.iter().all(|dependency| dependency.ok) {
        HttpResponse::Ok().json(Readiness {
            status: "ready",
            dependencies,
        })
    } else {
        HttpResponse::ServiceUnavailable().json(Readiness {
            status: "unavailable",
            dependencies,
        })
    }
}

/// Prometheus text exposition, to loopback and `server.trusted_proxies`
/// peers; no such resource for anyone else, nor at all when
/// `server.metrics_port` gives metrics a listener of their own.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain"),
        (status = 404, description = "Not served to this peer, or not on this port", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let peer_may_read = req.peer_addr().is_some_and(|peer| {
        let ip = peer.ip().to_canonical();
        ip.is_loopback() || state.trusted_proxies.contains(ip)
    });
    if state.metrics_apart || !peer_may_read {
        // Answered as an unknown path is (problem+json by the middleware).
        return HttpResponse::NotFound().finish();
    }
    exposition(&state)
}

/// The metrics listener (`server.metrics_port`): `/metrics` to whoever
/// reaches that port, and nothing else.
pub fn metrics_listener_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        super::resource("/metrics")
            .route(web::get().to(|state: web::Data<AppState>| async move { exposition(&state) })),
    );
}

fn exposition(state: &AppState) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.registry, &state.bus))
}
