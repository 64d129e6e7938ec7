//! Liveness, readiness and metrics.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::actors::DependencyStatus;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/healthz").route(web::get().to(healthz)))
        .service(super::resource("/readyz").route(web::get().to(readyz)))
        .service(super::resource("/metrics").route(web::get().to(metrics)));
}

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

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.registry, &state.bus))
}
