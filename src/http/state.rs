//! What every handler is given: the state the workers share, with its
//! caches, and the two helpers each handler uses to name its resource and
//! to ask an actor.

use actix::dev::ToEnvelope;
use actix::{Actor, Handler};
use actix_web::web;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use crate::actors::{Address, Registry};
use crate::bus::EventBus;
use crate::config::{Origins, TrustedProxies};
use crate::domain::{AdminList, GuestCarts, TokenSigner};
use crate::metrics::Metrics;
use crate::runtime::{Envelope, WireMessage};

use super::conditional::CatalogueAnswers;
use super::error;

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
    /// What the catalogue's answers are made with: their caching, their
    /// compressed bodies and the pages of lists.
    pub catalogue: CatalogueAnswers,
    pub overview: OverviewCache,
    pub known_users: KnownUsers,
}

/// What one request may send.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub body_timeout: Duration,
}

/// Which email each user id belongs to, as session checks found it. A
/// user's email never changes, so a session check need not ask the
/// UserActor (a database read, or a bus round trip where users live on
/// another node) on every request. An erased user's sessions are refused
/// at once by the revocation check, which every request makes anyway; an
/// entry lives `KNOWN_FOR`, so that a user removed from the database by
/// hand is noticed within it.
pub struct KnownUsers {
    pub(super) emails: moka::sync::Cache<i64, Arc<str>>,
}

const KNOWN_USERS: u64 = 100_000;
const KNOWN_FOR: Duration = Duration::from_secs(300);

impl Default for KnownUsers {
    fn default() -> KnownUsers {
        KnownUsers {
            emails: moka::sync::Cache::builder()
                .max_capacity(KNOWN_USERS)
                .time_to_live(KNOWN_FOR)
                .build(),
        }
    }
}

/// The last rendered document and when it was rendered.
#[derive(Default)]
pub struct OverviewCache {
    pub(super) rendered: tokio::sync::Mutex<Option<(Instant, Bytes)>>,
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
