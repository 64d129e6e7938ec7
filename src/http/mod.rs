//! actix-web: one file per resource. Handlers parse input into domain types,
//! send one message to an actor and map the answer; nothing here touches a
//! store.

pub mod admin;
pub mod admin_page;
pub mod auth;
pub mod cart;
pub mod client;
pub mod error;
pub mod export;
pub mod json;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod origin;
pub mod overview;
pub mod products;
pub mod schemas;
pub mod session;
pub mod users;

use actix::dev::ToEnvelope;
use actix::{Actor, Handler};
use actix_web::web;
use std::sync::Arc;
use std::time::Duration;

use crate::actors::runtime::{Envelope, WireMessage};
use crate::actors::{Address, Registry};
use crate::bus::EventBus;
use crate::config::{Origins, TrustedProxies};
use crate::domain::{AdminList, GuestCarts, TokenSigner};
use crate::metrics::Metrics;

/// Shared by every worker.
pub struct AppState {
    pub registry: Registry,
    pub bus: EventBus,
    pub signer: Arc<TokenSigner>,
    pub guest_carts: Arc<GuestCarts>,
    pub admins: Arc<AdminList>,
    pub cluster: crate::system::Cluster,
    pub metrics: Arc<Metrics>,
    pub cookie_secure: bool,
    pub trusted_proxies: TrustedProxies,
    /// Origins besides this server's whose cookie-authenticated writes
    /// are accepted.
    pub cors_origins: Origins,
    /// `/metrics` has a listener of its own (`server.metrics_port`), so the
    /// main one does not serve it.
    pub metrics_apart: bool,
    pub limits: RequestLimits,
    pub overview: overview::OverviewCache,
    pub known_users: session::KnownUsers,
}

/// What one request may send.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub body_timeout: Duration,
}

/// Registers every route and the extractor settings that turn bad input
/// into problem+json answers (bodies are read by `json::JsonBody`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Routes are matched in this order: the most frequent first.
    cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .configure(ops::routes)
        .configure(products::routes)
        .configure(auth::routes)
        .configure(cart::routes)
        .configure(orders::routes)
        .configure(users::routes)
        .configure(export::routes)
        .configure(admin::routes)
        .configure(overview::routes)
        .configure(admin_page::routes)
        .configure(openapi::routes);
}

/// A resource named after its pattern: the middleware labels metrics by the
/// name, which costs no string per request.
pub fn resource(pattern: &'static str) -> actix_web::Resource {
    web::resource(pattern).name(pattern)
}

/// Sends `msg` to an actor and maps both kinds of failure, the call's and
/// the handler's, to an `ApiError`; `subject` names what the answer is about.
pub async fn ask<A, M>(
    address: &Address<A>,
    msg: M,
    subject: &'static str,
) -> Result<M::Reply, error::ApiError>
where
    A: Actor<Context = actix::Context<A>> + Handler<Envelope<M>>,
    A::Context: ToEnvelope<A, Envelope<M>>,
    M: WireMessage,
{
    address
        .call(msg)
        .await?
        .map_err(|err| error::ApiError::from_actor(err, subject))
}
