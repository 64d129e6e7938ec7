//! The root of the actor tree: builds the stores and transports chosen by
//! configuration, then starts every actor under its supervisor.

use futures_util::FutureExt;
use secrecy::ExposeSecret;
use std::path::PathBuf;
use std::sync::Arc;

use crate::actors::cart::{CartActor, CartParts, CartRules};
use crate::actors::mailer::{MailerActor, MailerParts, RetryPolicy};
use crate::actors::order::{OrderActor, OrderParts, Outbox};
use crate::actors::otp::{OtpActor, OtpActorParts, OtpPolicy};
use crate::actors::payment::{ExpireDue, PaymentActor, PaymentParts};
use crate::actors::product::{ProductActor, ProductParts};
use crate::actors::user::{UserActor, UserParts};
use crate::actors::{ActorKind, Registry};
use crate::bus::bridge::{Bridge, BridgeError, BridgeHandle, Claims};
use crate::bus::cluster::{join, ActorBeat, Heartbeat, Membership};
use crate::bus::remote::{declare_command_queues, serve_commands};
use crate::bus::trust::BusKeys;
use crate::bus::EventBus;
use crate::catalogue::{Catalogue, Render};
use crate::config::{DatabaseUrl, KvUrl, MailTransportKind, Settings};
use crate::domain::{AdminList, GuestCarts, OtpHasher, TokenSigner};
use crate::mail::{FileOutbox, MailError, MailSealer, MailTransport, SmtpRelay};
use crate::runtime::{
    Address, Arbiters, Factory, KindOf, KindStats, Placement, Pool, RemoteRoute, Timeline,
    SAMPLES_IN_HEARTBEAT,
};
use crate::store::{
    CartStore, ClientLimiter, ClientQuotas, LocalClientLimiter, MailBudget, MailQueue,
    MemoryOtpStore, MessageLog, MirroredRevocations, OrderStore, OtpStore, PaymentStore, PgStore,
    ProductStore, RedisStore, RevocationStore, Rounds, SqliteStore, StoreError, UserStore,
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot create the data folder {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read or write the generated secret {path}")]
    Secret {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the generated secret in {path} is shorter than 32 characters; delete it to make a new one"
    )]
    SecretTooShort { path: PathBuf },
    #[error("cannot open the database")]
    Database(#[from] StoreError),
    #[error("cannot load the catalogue")]
    Catalogue(#[source] crate::catalogue::CatalogueError),
    #[error("cannot set up the payment provider")]
    Payments(#[source] crate::payments::ProviderError),
    #[error("cannot set up mail")]
    Mail(#[from] MailError),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bus.url is set without bus.secret, which signs the messages of the cluster")]
    NoBusSecret,
    #[error("node.roles leave {0} out, and without bus.url no other node can host it")]
    Unhosted(ActorKind),
    #[error("cannot connect to RabbitMQ at {url}")]
    Bridge {
        url: String,
        #[source]
        source: BridgeError,
    },
}

/// Everything the HTTP layer needs from the running system.
pub struct Services {
    pub registry: Registry,
    pub bus: EventBus,
    pub signer: Arc<TokenSigner>,
    pub guest_carts: Arc<GuestCarts>,
    pub admins: Arc<AdminList>,
    /// Work that outlives the message that started it (a mail's first try).
    pub background: tokio_util::task::TaskTracker,
    /// The threads the actors run on; dropping this stops them.
    pub arbiters: Arbiters,
    /// This node as the cluster sees it, and the other nodes it heard from.
    pub cluster: Cluster,
}

/// This node's heartbeat, and the nodes heard from (none without a bus).
#[derive(Clone)]
pub struct Cluster {
    pub own: Arc<dyn Fn() -> Heartbeat + Send + Sync>,
    pub others: Arc<Membership>,
    /// The recent past of the kinds this node hosts.
    pub timeline: Arc<Timeline>,
}

/// Polls the store for products other nodes wrote, every `interval`, on the
/// node's first own thread (it stops with them). A round that fails or
/// panics is logged, and the next one tries again.
fn keep_up(catalogue: &Arc<Catalogue>, interval: std::time::Duration, arbiters: &Arbiters) {
    let catalogue = catalogue.clone();
    arbiters.handle(0).spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let round = std::panic::AssertUnwindSafe(catalogue.catch_up()).catch_unwind();
            match round.await {
                Ok(Ok(0)) => {}
                Ok(Ok(changed)) => tracing::debug!(changed, "catalogue caught up with other nodes"),
                Ok(Err(err)) => tracing::warn!(error = %crate::telemetry::error_chain(&err), "catalogue poll failed"),
                Err(_) => tracing::error!("catalogue poll panicked; polling again at the next round"),
            }
        }
    });
}

/// Starts the instances of `A` this node hosts and registers their address.
/// What this node says of itself in its heartbeats.
fn own_heartbeat(
    settings: &Settings,
    registry: &Registry,
    timeline: Arc<Timeline>,
    node_id: String,
    address: String,
) -> Arc<dyn Fn() -> Heartbeat + Send + Sync> {
    let registry = registry.clone();
    let roles = settings.node.roles.clone();
    Arc::new(move || Heartbeat {
        node_id: node_id.clone(),
        roles: roles.clone(),
        address: address.clone(),
        sent_at: chrono::Utc::now(),
        actors: ActorKind::ALL
            .iter()
            .filter_map(|kind| {
                let snapshot = registry.stats(*kind)?.snapshot();
                Some(ActorBeat {
                    counters: snapshot.into(),
                    recent: timeline.recent(*kind, SAMPLES_IN_HEARTBEAT),
                })
            })
            .collect(),
    })
}

/// How often a node relays what its outbox still holds (events the broker
/// did not take when they were written).
const OUTBOX_RELAY_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Relays the outbox every `OUTBOX_RELAY_EVERY` on the node's first own
/// thread (it stops with them).
fn relay_periodically(outbox: Outbox, arbiters: &Arbiters) {
    arbiters.handle(0).spawn_fn(move || {
        actix_rt::spawn(async move {
            let mut ticks = tokio::time::interval(OUTBOX_RELAY_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                outbox.relay().await;
            }
        });
    });
}

/// The stores and transports besides the database: where codes, client
/// limits and revocations live, and how mail leaves.
struct Backends {
    otp_store: Arc<dyn OtpStore>,
    clients: Arc<dyn ClientLimiter>,
    revocations: Arc<dyn RevocationStore>,
    transport: Arc<dyn MailTransport>,
}

impl Backends {
    fn open(settings: &Settings, database: &Databases) -> Result<Backends, StartupError> {
        let quotas = ClientQuotas {
            otp_requests_per_minute: settings.limits.otp_requests_per_client_per_minute,
            otp_verifies_per_minute: settings.limits.otp_verifies_per_client_per_minute,
            guest_carts_per_minute: settings.limits.guest_carts_per_minute,
        };
        // Codes and limits live in Redis when there is one, so every node sees
        // the same; in this process otherwise. Revocations must outlive a
        // restart: Redis, or else the database.
        let (otp_store, clients, revocations): (
            Arc<dyn OtpStore>,
            Arc<dyn ClientLimiter>,
            Arc<dyn RevocationStore>,
        ) = match &settings.kv.url {
            KvUrl::Memory => (
                Arc::new(MemoryOtpStore::new()),
                Arc::new(LocalClientLimiter::new(quotas)),
                database.revocations.clone(),
            ),
            KvUrl::Redis(_) => {
                let redis = Arc::new(RedisStore::connect(&settings.kv, quotas)?);
                (redis.clone(), redis.clone(), redis)
            }
        };
        let transport: Arc<dyn MailTransport> = match settings.mail.transport {
            MailTransportKind::File => Arc::new(FileOutbox::new(settings.mail.outbox_dir.clone())?),
            MailTransportKind::Smtp => Arc::new(SmtpRelay::new(&settings.mail)?),
        };
        Ok(Backends {
            otp_store,
            clients,
            revocations,
            transport,
        })
    }
}

/// How this node reaches the others: alone, or through RabbitMQ.
enum Topology {
    SingleNode,
    Cluster(Link),
}

/// A node's way into the cluster: the BridgeActor, which events and remote
/// calls go through, and the broker's address to name in errors.
struct Link {
    bridge: BridgeHandle,
    url: String,
}

impl Link {
    fn failed(&self, source: BridgeError) -> StartupError {
        StartupError::Bridge {
            url: self.url.clone(),
            source,
        }
    }
}

impl Topology {
    /// Connects to `bus.url` when there is one, and declares what every
    /// node needs there before it hosts anything.
    async fn connect(
        settings: &Settings,
        node_id: &str,
        database: &Databases,
    ) -> Result<Topology, StartupError> {
        let Some(url) = &settings.bus.url else {
            return Ok(Topology::SingleNode);
        };
        let secret = settings
            .bus
            .secret
            .as_ref()
            .ok_or(StartupError::NoBusSecret)?;
        let connected = async {
            let bridge = Bridge::connect(
                url.expose_secret(),
                &settings.bus.namespace,
                node_id,
                Claims::new(database.messages.clone(), settings.actors.call_timeout()),
                BusKeys::new(secret.expose_secret().as_bytes()),
            )
            .await?;
            declare_command_queues(&bridge).await?;
            // The mailer's event queue exists whichever node starts first,
            // so that what is published before a mailer node is up waits
            // for it.
            let attempts = settings.actors.event_delivery_attempts.get();
            bridge
                .on_connect(Arc::new(move |bridge: Arc<Bridge>| {
                    Box::pin(async move {
                        bridge
                            .declare_kind_queue(
                                ActorKind::Mailer.config_key(),
                                MailerActor::SUBSCRIBES_TO,
                                attempts,
                            )
                            .await
                            .map(drop)
                    })
                }))
                .await?;
            Ok(bridge)
        };
        let bridge = connected.await.map_err(|source| StartupError::Bridge {
            url: url.to_string(),
            source,
        })?;
        Ok(Topology::Cluster(Link {
            bridge: BridgeHandle::start(bridge, settings.actors.call_timeout()),
            url: url.to_string(),
        }))
    }

    /// On a cluster: the BridgeActor is a kind of this node like the others.
    fn register(&self, registry: &Registry) {
        if let Topology::Cluster(link) = self {
            registry.register(link.bridge.address(), Placement::Own);
        }
    }

    /// On a cluster: events go through the broker from now on, and the
    /// kinds this node hosts answer the commands other nodes send them.
    async fn serve(
        &self,
        settings: &Settings,
        bus: &EventBus,
        registry: &Registry,
    ) -> Result<(), StartupError> {
        let Topology::Cluster(link) = self else {
            return Ok(());
        };
        let serving = async {
            bus.attach(link.bridge.clone()).await?;
            for kind in ActorKind::ALL
                .iter()
                .filter(|kind| settings.node.hosts(**kind))
            {
                serve_commands(link.bridge.bridge().clone(), registry.clone(), *kind).await?;
            }
            Ok(())
        };
        serving.await.map_err(|source| link.failed(source))
    }

    /// On a cluster: starts sending this node's heartbeat and keeping the
    /// others'.
    async fn join(&self, cluster: &Cluster) -> Result<(), StartupError> {
        let Topology::Cluster(link) = self else {
            return Ok(());
        };
        join(
            link.bridge.bridge(),
            cluster.others.clone(),
            cluster.own.clone(),
        )
        .await
        .map_err(|source| link.failed(source))
    }
}

/// Where this node's kinds go: hosted here, or reached over the bridge.
struct Hosting<'a> {
    settings: &'a Settings,
    registry: &'a Registry,
    arbiters: &'a Arbiters,
    topology: &'a Topology,
}

impl Hosting<'_> {
    /// A kind this node does not host gets the bridge's remote route
    /// instead, and `None` comes back: there is nothing local to subscribe.
    /// `factory` is only made for a hosted kind, so what it needs need not
    /// exist elsewhere.
    async fn host<A: KindOf, Made>(
        &self,
        placement: Placement,
        factory: impl FnOnce() -> Made,
    ) -> Result<Option<Address<A>>, StartupError>
    where
        Made: std::future::Future<Output = Result<Factory<A>, StartupError>>,
    {
        let (settings, kind) = (self.settings, A::KIND);
        if !settings.node.hosts(kind) {
            let Topology::Cluster(link) = self.topology else {
                return Err(StartupError::Unhosted(kind));
            };
            self.registry.register(
                Address::<A>::remote(
                    kind,
                    Arc::new(link.bridge.clone()) as Arc<dyn RemoteRoute>,
                    settings.actors.call_timeout(),
                ),
                placement,
            );
            return Ok(None);
        }
        let pool = Pool::start(
            KindStats::new(kind),
            settings.actors.instances(kind),
            self.arbiters,
            settings.actors.call_timeout(),
            factory().await?,
        );
        let address = Address::local(pool);
        self.registry.register(address.clone(), placement);
        Ok(Some(address))
    }
}

/// The catalogue in memory, loaded when the first kind that reads it is
/// hosted (a mailer or sign-in node neither loads nor polls it).
struct SharedCatalogue<'a> {
    loaded: tokio::sync::OnceCell<Arc<Catalogue>>,
    store: Arc<dyn ProductStore>,
    render: Render,
    settings: &'a Settings,
    arbiters: &'a Arbiters,
}

impl SharedCatalogue<'_> {
    async fn get(&self) -> Result<Arc<Catalogue>, StartupError> {
        self.loaded
            .get_or_try_init(|| async {
                let catalogue = Catalogue::load(
                    self.store.clone(),
                    self.render,
                    self.settings.catalogue.price_bands.clone(),
                )
                .await
                .map_err(StartupError::Catalogue)?;
                keep_up(
                    &catalogue,
                    self.settings.catalogue.refresh_interval(),
                    self.arbiters,
                );
                Ok(catalogue)
            })
            .await
            .cloned()
    }
}

/// What every kind's parts are made of: the node's stores, bus, registry
/// and secret, and the settings.
struct Common<'a> {
    settings: &'a Settings,
    node_id: &'a str,
    secret: &'a [u8],
    database: &'a Databases,
    bus: &'a EventBus,
    registry: &'a Registry,
}

/// Builds stores and starts the actors on the current arbiter. `render`
/// makes the JSON of a product that the catalogue keeps ready for each one:
/// the HTTP layer says what its answers look like, so it is given here.
pub async fn start(
    settings: &Settings,
    node_id: String,
    address: String,
    render: Render,
) -> Result<Services, StartupError> {
    crate::files::create_private_dir(&settings.data_dir).map_err(|source| {
        StartupError::DataDir {
            path: settings.data_dir.clone(),
            source,
        }
    })?;
    let secret = resolve_secret(settings)?;
    let database = open_database(settings).await?;
    let backends = Backends::open(settings, &database)?;
    let arbiters = Arbiters::new(
        ActorKind::ROLES
            .iter()
            .map(|kind| settings.actors.instances(*kind))
            .max()
            .unwrap_or(1),
    );
    let topology = Topology::connect(settings, &node_id, &database).await?;
    let registry = Registry::new(node_id.clone());
    topology.register(&registry);
    let bus = EventBus::new(
        node_id.clone(),
        settings.actors.event_delivery_attempts,
        settings.bus.publish_buffer,
        arbiters.handle(0),
    );
    let hosting = Hosting {
        settings,
        registry: &registry,
        arbiters: &arbiters,
        topology: &topology,
    };
    let common = Common {
        settings,
        node_id: &node_id,
        secret: &secret,
        database: &database,
        bus: &bus,
        registry: &registry,
    };
    let background = tokio_util::task::TaskTracker::new();
    let signer = Arc::new(TokenSigner::new(&secret, settings.auth.token_ttl()));
    let admins = Arc::new(AdminList::new(&settings.auth.admin_emails));
    let catalogue = SharedCatalogue {
        loaded: tokio::sync::OnceCell::new(),
        store: database.catalogue.clone(),
        render,
        settings,
        arbiters: &arbiters,
    };

    host_mailer(&hosting, &common, &backends, &background).await?;
    host_sign_in(&hosting, &common, &backends, &signer, &admins).await?;
    host_shop(&hosting, &common, &backends, &catalogue).await?;
    let outbox = Outbox {
        store: database.orders.clone(),
        bus: bus.clone(),
    };
    topology.serve(settings, &bus, &registry).await?;
    // Events a crash left between commit and relay go out now, to the
    // consumers subscribed above (through RabbitMQ, with `bus.url`).
    outbox.relay().await;
    relay_periodically(outbox.clone(), &arbiters);
    host_orders(&hosting, &common, outbox, &catalogue).await?;

    let timeline = Timeline::new(&registry);
    let sampled = timeline.clone();
    arbiters.handle(0).spawn_fn(move || sampled.keep_sampling());
    let cluster = Cluster {
        own: own_heartbeat(settings, &registry, timeline.clone(), node_id, address),
        others: Arc::new(Membership::new(settings.cluster.max_nodes)),
        timeline,
    };
    topology.join(&cluster).await?;

    Ok(Services {
        registry,
        bus,
        signer,
        guest_carts: Arc::new(GuestCarts::new(&secret)),
        admins,
        background,
        arbiters,
        cluster,
    })
}

/// The mailer, on the node's own threads (mail still being sent outlives
/// the HTTP workers), subscribed to the events it mails.
async fn host_mailer(
    hosting: &Hosting<'_>,
    common: &Common<'_>,
    backends: &Backends,
    background: &tokio_util::task::TaskTracker,
) -> Result<(), StartupError> {
    let mail = &common.settings.mail;
    let first_try = common.settings.actors.call_timeout() / 2;
    let mailer = hosting
        .host::<MailerActor, _>(Placement::Own, || async {
            let parts = Arc::new(MailerParts {
                background: background.clone(),
                transport: backends.transport.clone(),
                queue: common.database.mail_queue.clone(),
                sealer: MailSealer::new(common.secret),
                from: mail.from.clone(),
                retry: RetryPolicy {
                    base: std::time::Duration::from_millis(mail.retry_base_ms.get()),
                    max_attempts: mail.retry_max_attempts.get(),
                    poll: std::time::Duration::from_millis(mail.retry_poll_ms.get()),
                    first_try,
                    lease: mail.smtp_timeout() + std::time::Duration::from_secs(30),
                },
            });
            Ok(Arc::new(move |instance| MailerActor::new(parts.clone(), instance)) as Factory<_>)
        })
        .await?;
    if let Some(mailer) = mailer {
        common.bus.subscribe(MailerActor::SUBSCRIBES_TO, mailer);
    }
    Ok(())
}

/// Users and sign-in codes, on the HTTP workers.
async fn host_sign_in(
    hosting: &Hosting<'_>,
    common: &Common<'_>,
    backends: &Backends,
    signer: &Arc<TokenSigner>,
    admins: &Arc<AdminList>,
) -> Result<(), StartupError> {
    let settings = common.settings;
    hosting
        .host::<UserActor, _>(Placement::Workers, || async {
            let parts = UserParts {
                store: common.database.users.clone(),
                bus: common.bus.clone(),
                registry: common.registry.clone(),
                revocations: backends.revocations.clone(),
                session_ttl: settings.auth.token_ttl(),
            };
            Ok(Arc::new(move |_| UserActor::new(parts.clone())) as Factory<_>)
        })
        .await?;
    hosting
        .host::<OtpActor, _>(Placement::Workers, || async {
            let auth = &settings.auth;
            let parts = Arc::new(OtpActorParts {
                store: backends.otp_store.clone(),
                revocations: backends.revocations.clone(),
                clients: backends.clients.clone(),
                mail_budget: MailBudget::per_minute(settings.limits.otp_mails_per_minute),
                hasher: OtpHasher::new(common.secret),
                signer: signer.clone(),
                registry: common.registry.clone(),
                bus: common.bus.clone(),
                policy: OtpPolicy {
                    code_ttl: auth.otp_ttl(),
                    max_attempts: auth.otp_max_attempts.get(),
                    send_interval: std::time::Duration::from_secs(auth.otp_send_interval_secs),
                    sends_per_hour: auth.otp_sends_per_hour.get(),
                    admins: admins.clone(),
                },
            });
            Ok(Arc::new(move |_| OtpActor::new(parts.clone())) as Factory<_>)
        })
        .await?;
    Ok(())
}

/// Products (subscribed to other nodes' product changes) and carts, on the
/// HTTP workers.
async fn host_shop(
    hosting: &Hosting<'_>,
    common: &Common<'_>,
    backends: &Backends,
    catalogue: &SharedCatalogue<'_>,
) -> Result<(), StartupError> {
    let settings = common.settings;
    let currency = &settings.catalogue.currency;
    let product = hosting
        .host::<ProductActor, _>(Placement::Workers, || async {
            let parts = ProductParts {
                store: common.database.catalogue.clone(),
                catalogue: catalogue.get().await?,
                bus: common.bus.clone(),
                currency: currency.clone(),
                node_id: common.node_id.to_owned(),
            };
            Ok(Arc::new(move |_| ProductActor::new(parts.clone())) as Factory<_>)
        })
        .await?;
    if let Some(product) = product {
        common.bus.subscribe(ProductActor::SUBSCRIBES_TO, product);
    }
    hosting
        .host::<CartActor, _>(Placement::Workers, || async {
            let cart = &settings.cart;
            let parts = CartParts {
                store: common.database.carts.clone(),
                products: common.database.catalogue.clone(),
                catalogue: catalogue.get().await?,
                currency: currency.clone(),
                clients: backends.clients.clone(),
                rounds: common.database.rounds.clone(),
                rules: CartRules {
                    max_lines: cart.max_lines.get(),
                    guest_ttl: cart.guest_ttl(),
                    guest_sweep: cart.guest_sweep(),
                },
            };
            Ok(Arc::new(move |instance| CartActor::new(parts.clone(), instance)) as Factory<_>)
        })
        .await?;
    Ok(())
}

/// Orders and their payments, on the HTTP workers, writing through
/// `outbox`; where payments are hosted, unpaid orders past their time are
/// swept for.
async fn host_orders(
    hosting: &Hosting<'_>,
    common: &Common<'_>,
    outbox: Outbox,
    catalogue: &SharedCatalogue<'_>,
) -> Result<(), StartupError> {
    let settings = common.settings;
    let payments = &settings.payments;
    let orders = OrderParts {
        outbox,
        catalogue: catalogue.get().await?,
        currency: settings.catalogue.currency.clone(),
        payment_provider: payments.provider,
        payment_timeout: payments.payment_timeout(payments.provider),
        // A quarter of the caller's patience is left for the way back (over
        // the bus, maybe) and the HTTP answer.
        answer_within: settings.actors.call_timeout() * 3 / 4,
    };
    let parts = orders.clone();
    hosting
        .host::<OrderActor, _>(Placement::Workers, || async {
            Ok(Arc::new(move |_| OrderActor::new(parts.clone())) as Factory<_>)
        })
        .await?;
    let payment = hosting
        .host::<PaymentActor, _>(Placement::Workers, || async {
            let parts = PaymentParts {
                store: common.database.payments.clone(),
                provider: crate::payments::Provider::from_settings(payments)
                    .map_err(StartupError::Payments)?,
                orders,
                webhook_secret: payments
                    .stripe
                    .webhook_secret
                    .as_ref()
                    .map(|secret| Arc::from(secret.expose_secret().as_bytes())),
                node_id: common.node_id.to_owned(),
                claim_lease: payments.stripe.timeout() * 3,
            };
            Ok(Arc::new(move |_| PaymentActor::new(parts.clone())) as Factory<_>)
        })
        .await?;
    if let Some(payment) = payment {
        expire_periodically(payment, payments.expiry_poll(), hosting.arbiters);
    }
    Ok(())
}

/// Asks the PaymentActor to cancel the unpaid orders past their time, every
/// `every`; nodes sweeping together each claim their own in the database.
fn expire_periodically(
    payment: Address<PaymentActor>,
    every: std::time::Duration,
    arbiters: &Arbiters,
) {
    arbiters.handle(0).spawn_fn(move || {
        actix_rt::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match payment.call(ExpireDue).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "unpaid orders past their time could not be expired now; trying again")
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "the PaymentActor did not sweep for unpaid orders; trying again")
                    }
                }
            }
        });
    });
}

/// The database's stores, one object behind each trait.
pub struct Databases {
    pub users: Arc<dyn UserStore>,
    pub mail_queue: Arc<dyn MailQueue>,
    pub catalogue: Arc<dyn ProductStore>,
    pub revocations: Arc<dyn RevocationStore>,
    pub carts: Arc<dyn CartStore>,
    pub orders: Arc<dyn OrderStore>,
    pub payments: Arc<dyn PaymentStore>,
    pub messages: Arc<dyn MessageLog>,
    pub rounds: Arc<dyn Rounds>,
}

/// Connects to `database.url` (SQLite or PostgreSQL) and migrates it.
pub async fn open_database(settings: &Settings) -> Result<Databases, StartupError> {
    Ok(match &settings.database.url {
        DatabaseUrl::Sqlite(_) => {
            let store = Arc::new(SqliteStore::connect(&settings.database).await?);
            // The SQLite file is this node's alone (a cluster shares
            // PostgreSQL), so this process sees every revocation written to
            // it and can answer session checks from memory.
            let live = store.live_revocations().await?;
            Databases {
                users: store.clone(),
                mail_queue: store.clone(),
                catalogue: store.clone(),
                revocations: Arc::new(MirroredRevocations::new(store.clone(), live)),
                carts: store.clone(),
                orders: store.clone(),
                payments: store.clone(),
                messages: store.clone(),
                rounds: store,
            }
        }
        DatabaseUrl::Postgres(_) => {
            let store = Arc::new(PgStore::connect(&settings.database).await?);
            Databases {
                users: store.clone(),
                mail_queue: store.clone(),
                catalogue: store.clone(),
                revocations: store.clone(),
                carts: store.clone(),
                orders: store.clone(),
                payments: store.clone(),
                messages: store.clone(),
                rounds: store,
            }
        }
    })
}

/// The configured secret, or one generated into the data folder on first
/// start and reused after, so restarts keep sessions.
fn resolve_secret(settings: &Settings) -> Result<Vec<u8>, StartupError> {
    if let Some(secret) = &settings.auth.jwt_secret {
        return Ok(secret.expose_secret().as_bytes().to_vec());
    }
    let path = settings.data_dir.join("jwt_secret");
    tracing::warn!(
        path = %path.display(),
        "auth.jwt_secret is not set: using a secret generated into the data folder; set one in production"
    );
    let secret_error = |source| StartupError::Secret {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(existing) => {
            let existing = existing.trim();
            if existing.len() < 32 {
                return Err(StartupError::SecretTooShort { path });
            }
            Ok(existing.as_bytes().to_vec())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let generated = hex::encode(rand::random::<[u8; 32]>());
            crate::files::write_new_private(&path, generated.as_bytes()).map_err(secret_error)?;
            Ok(generated.into_bytes())
        }
        Err(err) => Err(secret_error(err)),
    }
}
