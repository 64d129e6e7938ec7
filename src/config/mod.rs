//! Settings. The defaults live here, in code; a config file (`./config.toml`
//! or `--config PATH`) changes what it names; the platforms' own variables
//! (`PORT`, `DATABASE_URL`, ...) come next; `STOREFRONT__SECTION__KEY`
//! variables win over everything. Every value is typed, so a bad one is
//! refused while loading with the name of its key.

mod values;

use config::{Config, Environment, File, FileFormat, Map, Source, Value};
use secrecy::SecretString;
use serde::Deserialize;
use std::collections::HashMap;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use values::{AtLeast, DatabaseUrl, KvUrl, LogFilter, Origins, SecretUrl, TrustedProxies};

use crate::domain::ActorKind;
use crate::domain::{Currency, Email, PaymentProvider, PriceBands};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid { key: &'static str, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Generated secret, default database and mail outbox.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub kv: KvSettings,
    pub mail: MailSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
    pub cart: CartSettings,
    pub bus: BusSettings,
    pub cluster: ClusterSettings,
    pub actors: ActorSettings,
    pub catalogue: CatalogueSettings,
    pub node: NodeSettings,
    pub log: LogSettings,
    pub payments: PaymentSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("var"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            kv: KvSettings::default(),
            mail: MailSettings::default(),
            auth: AuthSettings::default(),
            limits: LimitSettings::default(),
            cart: CartSettings::default(),
            bus: BusSettings::default(),
            cluster: ClusterSettings::default(),
            actors: ActorSettings::default(),
            catalogue: CatalogueSettings::default(),
            node: NodeSettings::default(),
            log: LogSettings::default(),
            payments: PaymentSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// HTTP worker threads; 0 is one per core.
    pub workers: usize,
    pub max_body_bytes: AtLeast<1024>,
    /// Most bytes of request headers; more is answered 431.
    pub max_header_bytes: AtLeast<1024>,
    /// A request body must have arrived completely this long after the
    /// request started, or the request is answered 408 and the connection closed.
    pub body_timeout_secs: NonZeroU64,
    pub shutdown_timeout_secs: u64,
    /// Proxies allowed to name the client in `X-Forwarded-For`, and to read
    /// `/metrics` on the main port.
    pub trusted_proxies: TrustedProxies,
    /// Origins of the shop's own front ends (exact), besides this server's:
    /// their cookie-authenticated writes are accepted.
    pub cors_origins: Origins,
    /// A port of its own for `/metrics` (on `host`); without one, the main
    /// port serves them to loopback and trusted proxies only.
    #[serde(deserialize_with = "values::optional_port")]
    pub metrics_port: Option<u16>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "127.0.0.1".into(),
            port: 8080,
            workers: 0,
            max_body_bytes: AtLeast::new(65_536),
            max_header_bytes: AtLeast::new(16_384),
            body_timeout_secs: NonZeroU64::new(10).expect("nonzero"),
            shutdown_timeout_secs: 30,
            trusted_proxies: TrustedProxies::default(),
            cors_origins: Origins::default(),
            metrics_port: None,
        }
    }
}

impl ServerSettings {
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs.get())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: DatabaseUrl,
    pub max_connections: NonZeroU32,
    pub acquire_timeout_secs: NonZeroU64,
    /// How long a statement waits for a lock another transaction holds
    /// before its transaction gives up (PostgreSQL's `lock_timeout`,
    /// SQLite's busy timeout): under the callers' timeout, so that a
    /// request stuck behind a lock is answered, not abandoned.
    pub lock_timeout_ms: NonZeroU64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: DatabaseUrl::Sqlite("sqlite://var/storefront.db".into()),
            max_connections: NonZeroU32::new(8).expect("nonzero"),
            acquire_timeout_secs: NonZeroU64::new(5).expect("nonzero"),
            lock_timeout_ms: NonZeroU64::new(3000).expect("nonzero"),
        }
    }
}

impl DatabaseSettings {
    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.acquire_timeout_secs.get())
    }

    pub fn lock_timeout(&self) -> Duration {
        Duration::from_millis(self.lock_timeout_ms.get())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvSettings {
    pub url: KvUrl,
    pub prefix: String,
    pub pool_size: NonZeroU32,
    pub timeout_ms: NonZeroU64,
}

impl Default for KvSettings {
    fn default() -> Self {
        KvSettings {
            url: KvUrl::Memory,
            prefix: "storefront:".into(),
            pool_size: NonZeroU32::new(8).expect("nonzero"),
            timeout_ms: NonZeroU64::new(2000).expect("nonzero"),
        }
    }
}

impl KvSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.get())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub outbox_dir: PathBuf,
    #[serde(deserialize_with = "values::mailbox")]
    pub from: lettre::message::Mailbox,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_user: String,
    #[serde(deserialize_with = "values::optional_secret")]
    pub smtp_password: Option<SecretString>,
    pub smtp_pool_size: NonZeroU32,
    pub smtp_timeout_secs: NonZeroU64,
    /// `/readyz` checks SMTP at most this often and answers from the last result.
    pub smtp_check_interval_secs: NonZeroU64,
    pub retry_base_ms: NonZeroU64,
    pub retry_max_attempts: NonZeroU32,
    pub retry_poll_ms: NonZeroU64,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            transport: MailTransportKind::File,
            outbox_dir: PathBuf::from("var/outbox"),
            from: "storefront <no-reply@localhost>"
                .parse()
                .expect("a valid mailbox"),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_user: String::new(),
            smtp_password: None,
            smtp_pool_size: NonZeroU32::new(4).expect("nonzero"),
            smtp_timeout_secs: NonZeroU64::new(10).expect("nonzero"),
            smtp_check_interval_secs: NonZeroU64::new(5).expect("nonzero"),
            retry_base_ms: NonZeroU64::new(1000).expect("nonzero"),
            retry_max_attempts: NonZeroU32::new(10).expect("nonzero"),
            retry_poll_ms: NonZeroU64::new(1000).expect("nonzero"),
        }
    }
}

impl MailSettings {
    pub fn smtp_timeout(&self) -> Duration {
        Duration::from_secs(self.smtp_timeout_secs.get())
    }

    pub fn smtp_check_interval(&self) -> Duration {
        Duration::from_secs(self.smtp_check_interval_secs.get())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Empty: generated into `data_dir/jwt_secret`.
    #[serde(deserialize_with = "values::optional_jwt_secret")]
    pub jwt_secret: Option<SecretString>,
    pub token_ttl_secs: AtLeast<60>,
    pub otp_ttl_secs: NonZeroU64,
    pub otp_max_attempts: NonZeroU32,
    /// 0: no interval between two codes to one email.
    pub otp_send_interval_secs: u64,
    pub otp_sends_per_hour: NonZeroU32,
    #[serde(deserialize_with = "values::emails")]
    pub admin_emails: Vec<Email>,
    pub cookie_secure: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: None,
            token_ttl_secs: AtLeast::new(86_400),
            otp_ttl_secs: NonZeroU64::new(120).expect("nonzero"),
            otp_max_attempts: NonZeroU32::new(5).expect("nonzero"),
            otp_send_interval_secs: 30,
            otp_sends_per_hour: NonZeroU32::new(10).expect("nonzero"),
            admin_emails: Vec::new(),
            cookie_secure: false,
        }
    }
}

impl AuthSettings {
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs.get())
    }

    pub fn otp_ttl(&self) -> Duration {
        Duration::from_secs(self.otp_ttl_secs.get())
    }
}

/// Limits per client (the socket peer, or the address a trusted proxy names)
/// and per node, on the sign-in routes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    pub otp_requests_per_client_per_minute: NonZeroU32,
    pub otp_verifies_per_client_per_minute: NonZeroU32,
    pub otp_mails_per_minute: NonZeroU32,
    /// New guest carts per client.
    pub guest_carts_per_minute: NonZeroU32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            otp_requests_per_client_per_minute: NonZeroU32::new(20).expect("nonzero"),
            otp_verifies_per_client_per_minute: NonZeroU32::new(30).expect("nonzero"),
            otp_mails_per_minute: NonZeroU32::new(600).expect("nonzero"),
            guest_carts_per_minute: NonZeroU32::new(10).expect("nonzero"),
        }
    }
}

/// Carts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CartSettings {
    /// Most lines in one cart.
    pub max_lines: NonZeroU32,
    /// A guest cart nobody changed for this long is deleted.
    pub guest_ttl_secs: NonZeroU64,
    /// How often idle guest carts are looked for (by one node at a time).
    pub guest_sweep_secs: NonZeroU64,
}

impl Default for CartSettings {
    fn default() -> Self {
        CartSettings {
            max_lines: NonZeroU32::new(50).expect("nonzero"),
            guest_ttl_secs: NonZeroU64::new(30 * 24 * 3600).expect("nonzero"),
            guest_sweep_secs: NonZeroU64::new(3600).expect("nonzero"),
        }
    }
}

impl CartSettings {
    pub fn guest_ttl(&self) -> Duration {
        Duration::from_secs(self.guest_ttl_secs.get())
    }

    pub fn guest_sweep(&self) -> Duration {
        Duration::from_secs(self.guest_sweep_secs.get())
    }
}

/// How orders are paid.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSettings {
    /// `manual` (a bank transfer or cash on delivery, marked paid by an
    /// admin) or `stripe`.
    pub provider: PaymentProvider,
    /// An order paid through Stripe still awaiting payment this long after
    /// checkout is cancelled and its stock returned.
    pub payment_timeout_secs: NonZeroU64,
    /// The same for an order paid by hand: a bank transfer takes days.
    pub manual_timeout_secs: NonZeroU64,
    /// How often a node looks for orders past their time.
    pub expiry_poll_ms: NonZeroU64,
    pub stripe: StripeSettings,
}

impl Default for PaymentSettings {
    fn default() -> Self {
        PaymentSettings {
            provider: PaymentProvider::Manual,
            payment_timeout_secs: NonZeroU64::new(1800).expect("nonzero"),
            manual_timeout_secs: NonZeroU64::new(7 * 24 * 3600).expect("nonzero"),
            expiry_poll_ms: NonZeroU64::new(1000).expect("nonzero"),
            stripe: StripeSettings::default(),
        }
    }
}

impl PaymentSettings {
    /// How long an order of `provider` may wait for its payment.
    pub fn payment_timeout(&self, provider: PaymentProvider) -> Duration {
        Duration::from_secs(match provider {
            PaymentProvider::Stripe => self.payment_timeout_secs.get(),
            PaymentProvider::Manual => self.manual_timeout_secs.get(),
        })
    }

    pub fn expiry_poll(&self) -> Duration {
        Duration::from_millis(self.expiry_poll_ms.get())
    }
}

/// Stripe's API, with `payments.provider = "stripe"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeSettings {
    /// The account's secret key (`sk_...`): never printed.
    #[serde(deserialize_with = "values::optional_secret")]
    pub secret_key: Option<SecretString>,
    /// The webhook endpoint's signing secret (`whsec_...`).
    #[serde(deserialize_with = "values::optional_secret")]
    pub webhook_secret: Option<SecretString>,
    /// Where Stripe's API answers (a test points it at a local server).
    #[serde(deserialize_with = "values::http_base")]
    pub api_base: url::Url,
    /// How long one request to Stripe may take.
    pub timeout_secs: NonZeroU64,
}

impl Default for StripeSettings {
    fn default() -> Self {
        StripeSettings {
            secret_key: None,
            webhook_secret: None,
            api_base: url::Url::parse("https://api.stripe.com").expect("a valid URL"),
            timeout_secs: NonZeroU64::new(10).expect("nonzero"),
        }
    }
}

impl StripeSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.get())
    }
}

/// RabbitMQ, which carries messages between nodes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// Empty: every message stays in this process.
    #[serde(deserialize_with = "values::optional_amqp_url")]
    pub url: Option<SecretUrl>,
    /// The key every node of the cluster shares: it signs every message a
    /// node publishes and seals those that carry secrets, so that the
    /// broker's credentials alone can neither speak for a node nor read
    /// them. Required with `url`.
    #[serde(deserialize_with = "values::optional_bus_secret")]
    pub secret: Option<SecretString>,
    /// Prefix of every exchange and queue.
    pub namespace: String,
    /// Events a node keeps trying to publish while the broker does not take
    /// them, before it refuses new ones (callers answer 503): memory stays
    /// bounded when the broker is gone for long. Order events wait in the
    /// outbox instead, without a bound.
    pub publish_buffer: NonZeroU64,
}

impl Default for BusSettings {
    fn default() -> Self {
        BusSettings {
            url: None,
            secret: None,
            namespace: "storefront".into(),
            publish_buffer: NonZeroU64::new(10_000).expect("nonzero"),
        }
    }
}

/// What a node keeps of the others, from their heartbeats.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// The most other nodes a node keeps track of: heartbeats of new nodes
    /// past it are ignored (and counted), so that what a node lists stays
    /// bounded whoever sends heartbeats.
    pub max_nodes: NonZeroU32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            max_nodes: NonZeroU32::new(64).expect("nonzero"),
        }
    }
}

/// One actor kind's settings, under `[actors.<kind>]`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KindSettings {
    /// Instances on this node, each on its own arbiter; 0 is one per core.
    pub instances: usize,
}

#[derive(Debug, Clone)]
pub struct ActorSettings {
    pub call_timeout_ms: NonZeroU64,
    pub event_delivery_attempts: NonZeroU32,
    kinds: std::collections::BTreeMap<ActorKind, KindSettings>,
}

impl Default for ActorSettings {
    fn default() -> Self {
        ActorSettings {
            call_timeout_ms: NonZeroU64::new(5000).expect("nonzero"),
            event_delivery_attempts: NonZeroU32::new(5).expect("nonzero"),
            kinds: std::collections::BTreeMap::new(),
        }
    }
}

/// `[actors]` holds its own keys and one table per actor kind, named by the
/// kind's key; any other table is refused with the kinds there are.
impl<'de> Deserialize<'de> for ActorSettings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            call_timeout_ms: Option<NonZeroU64>,
            event_delivery_attempts: Option<NonZeroU32>,
            #[serde(flatten)]
            kinds: std::collections::BTreeMap<String, KindSettings>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let defaults = ActorSettings::default();
        let kinds = raw
            .kinds
            .into_iter()
            // 0 is the default (one per core); only what differs is kept.
            .filter(|(_, settings)| settings.instances != 0)
            .map(|(key, settings)| {
                let kind = ActorKind::from_config_key(&key).map_err(serde::de::Error::custom)?;
                Ok((kind, settings))
            })
            .collect::<Result<_, D::Error>>()?;
        Ok(ActorSettings {
            call_timeout_ms: raw.call_timeout_ms.unwrap_or(defaults.call_timeout_ms),
            event_delivery_attempts: raw
                .event_delivery_attempts
                .unwrap_or(defaults.event_delivery_attempts),
            kinds,
        })
    }
}

impl ActorSettings {
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms.get())
    }

    /// How many instances of `kind` this node runs: as configured, or one
    /// per core.
    pub fn instances(&self, kind: ActorKind) -> usize {
        match self
            .kinds
            .get(&kind)
            .map_or(0, |settings| settings.instances)
        {
            0 => std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            configured => configured,
        }
    }

    pub fn set_instances(&mut self, kind: ActorKind, instances: usize) {
        self.kinds.insert(kind, KindSettings { instances });
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueSettings {
    #[serde(deserialize_with = "values::currency")]
    pub currency: Currency,
    /// How often the node asks the store which products other nodes wrote.
    pub refresh_secs: NonZeroU64,
    /// How long a browser or CDN may keep a catalogue answer
    /// (`Cache-Control: public, max-age`).
    pub cache_max_age_secs: u64,
    /// How long past that it may answer from what it kept while it asks
    /// again (`stale-while-revalidate`).
    pub stale_while_revalidate_secs: u64,
    /// The bounds between the price bands `GET /products?facets=true`
    /// counts products in, minor units, strictly increasing.
    pub price_bands: PriceBands,
}

impl CatalogueSettings {
    pub fn refresh_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.refresh_secs.get())
    }
}

impl Default for CatalogueSettings {
    fn default() -> Self {
        CatalogueSettings {
            currency: Currency::parse("USD").expect("a valid currency"),
            refresh_secs: NonZeroU64::new(2).expect("nonzero"),
            cache_max_age_secs: 5,
            stale_while_revalidate_secs: 30,
            price_bands: PriceBands::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSettings {
    /// Empty: hostname:port.
    pub id: String,
    /// The actor kinds this node hosts; the others are reached over the bus.
    #[serde(deserialize_with = "values::actor_kinds")]
    pub roles: Vec<ActorKind>,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            id: String::new(),
            roles: ActorKind::ROLES.to_vec(),
        }
    }
}

impl NodeSettings {
    /// Whether this node hosts `kind`: a role it was given, or a runtime
    /// kind hosted beside one.
    pub fn hosts(&self, kind: ActorKind) -> bool {
        self.roles.contains(&kind)
            || kind
                .hosted_beside()
                .is_some_and(|role| self.roles.contains(&role))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: LogFilter,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Pretty,
            level: LogFilter::new("info"),
        }
    }
}

/// Keys that can hold a comma-separated list in an environment variable.
const LIST_KEYS: [&str; 4] = [
    "auth.admin_emails",
    "server.trusted_proxies",
    "server.cors_origins",
    "node.roles",
];

/// Variables that platforms and the original services' `.env` files set,
/// read as fallbacks for the key they name.
const PLATFORM_VARIABLES: [(&str, &str); 5] = [
    ("PORT", "server.port"),
    ("DATABASE_URL", "database.url"),
    ("REDIS_URL", "kv.url"),
    ("JWT_SECRET", "auth.jwt_secret"),
    ("RABBIT_MQ_URL", "bus.url"),
];

/// The platform variables present in `env`, as a configuration source.
#[derive(Debug, Clone)]
struct PlatformVariables(Map<String, Value>);

impl PlatformVariables {
    fn from(env: &HashMap<String, String>) -> PlatformVariables {
        let origin = "the environment".to_owned();
        PlatformVariables(
            PLATFORM_VARIABLES
                .iter()
                .filter_map(|(variable, key)| {
                    let value = env.get(*variable).filter(|value| !value.is_empty())?;
                    Some((
                        (*key).to_owned(),
                        Value::new(Some(&origin), value.to_owned()),
                    ))
                })
                .collect(),
        )
    }
}

impl Source for PlatformVariables {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.0.clone())
    }
}

impl Settings {
    /// Loads the defaults, then `file` (or `./config.toml` when there is
    /// one), then the platform variables and `STOREFRONT__*` variables of `env`.
    pub fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Settings, ConfigError> {
        let file = match file {
            Some(path) => File::from(path).format(FileFormat::Toml).required(true),
            None => File::new("config.toml", FileFormat::Toml).required(false),
        };
        let storefront_variables: Map<String, String> = env
            .iter()
            .filter(|(name, _)| name.starts_with("STOREFRONT__"))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let mut environment = Environment::with_prefix("STOREFRONT")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .try_parsing(true)
            .source(Some(storefront_variables));
        for key in LIST_KEYS {
            environment = environment.with_list_parse_key(key);
        }
        let settings: Settings = Config::builder()
            .add_source(file)
            .add_source(PlatformVariables::from(env))
            .add_source(environment)
            .build()?
            .try_deserialize()?;
        settings.validated()
    }

    /// The rules that join several keys; each key alone was checked by its type.
    pub fn validated(self) -> Result<Settings, ConfigError> {
        let invalid = |key, reason: &str| ConfigError::Invalid {
            key,
            reason: reason.to_owned(),
        };
        if self.server.host.trim().is_empty() {
            return Err(invalid("server.host", "must not be empty"));
        }
        if self
            .server
            .metrics_port
            .is_some_and(|port| port != 0 && port == self.server.port)
        {
            return Err(invalid(
                "server.metrics_port",
                "must differ from server.port (or be empty to serve /metrics there)",
            ));
        }
        if self.mail.transport == MailTransportKind::Smtp {
            if self.mail.smtp_host.trim().is_empty() {
                return Err(invalid(
                    "mail.smtp_host",
                    "must be set when mail.transport is smtp",
                ));
            }
            if self.mail.smtp_user.is_empty() != self.mail.smtp_password.is_none() {
                return Err(invalid(
                    "mail.smtp_user",
                    "and mail.smtp_password must be set together",
                ));
            }
        }
        if self.bus.url.is_some() && self.bus.secret.is_none() {
            return Err(invalid(
                "bus.secret",
                "must be set when bus.url is: every node of the cluster signs its messages with it \
                 (at least 32 characters, the same on every node)",
            ));
        }
        if self.payments.provider == PaymentProvider::Stripe {
            if self.payments.stripe.secret_key.is_none() {
                return Err(invalid(
                    "payments.stripe.secret_key",
                    "must be set when payments.provider is stripe",
                ));
            }
            if self.payments.stripe.webhook_secret.is_none() {
                return Err(invalid(
                    "payments.stripe.webhook_secret",
                    "must be set when payments.provider is stripe: unsigned webhooks are refused",
                ));
            }
        }
        if !self.node.id.is_empty() && !crate::domain::is_node_id(&self.node.id) {
            return Err(invalid(
                "node.id",
                "must be 1 to 128 printable ASCII characters without spaces",
            ));
        }
        let unhosted = self.unhosted_kinds();
        if self.bus.url.is_none() && !unhosted.is_empty() {
            return Err(ConfigError::Invalid {
                key: "node.roles",
                reason: format!(
                    "leaves {} to other nodes, but bus.url is empty: nothing could reach them",
                    unhosted.join(", ")
                ),
            });
        }
        Ok(self)
    }

    /// The config keys of the kinds `node.roles` leaves to other nodes.
    pub fn unhosted_kinds(&self) -> Vec<&'static str> {
        ActorKind::ROLES
            .iter()
            .filter(|kind| !self.node.roles.contains(kind))
            .map(|kind| kind.config_key())
            .collect()
    }

    /// The node id shown to operators: configured, or hostname:port.
    pub fn node_id(&self, port: u16) -> String {
        if !self.node.id.is_empty() {
            return self.node.id.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|name| !name.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .ok()
                    .map(|name| name.trim().to_owned())
            })
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("storefront.toml");
        std::fs::write(&path, file.unwrap_or_default()).unwrap();
        let env = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Settings::load(Some(&path), &env)
    }

    /// `config.toml` shows every key commented out with its default: those
    /// lines, uncommented (and nothing a user set there), must load to
    /// exactly the defaults.
    #[test]
    fn the_documented_file_states_the_defaults() {
        let documented: String = include_str!("../../config.toml")
            .lines()
            .filter_map(|line| match line.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => Some(rest),
                _ if line.starts_with('[') => Some(line),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let loaded = load(Some(&documented), &[]).unwrap();
        assert_eq!(format!("{loaded:?}"), format!("{:?}", Settings::default()));
    }

    #[test]
    fn the_file_and_the_environment_change_only_what_they_name() {
        let settings = load(
            Some("[server]\nport = 9000\n[auth]\nadmin_emails = [\"A@Example.com\"]\n"),
            &[
                ("STOREFRONT__SERVER__WORKERS", "3"),
                (
                    "STOREFRONT__SERVER__TRUSTED_PROXIES",
                    "10.0.0.0/8,127.0.0.1",
                ),
            ],
        )
        .unwrap();
        assert_eq!(settings.server.port, 9000);
        assert_eq!(settings.server.workers, 3);
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.auth.admin_emails[0].as_str(), "a@example.com");
        assert!(settings
            .server
            .trusted_proxies
            .contains("10.2.3.4".parse().unwrap()));
        assert_eq!(settings.auth.otp_ttl_secs.get(), 120);
        assert_eq!(settings.server.metrics_port, None);
        let settings = load(
            Some("[server]\nmetrics_port = 9090\n"),
            &[("STOREFRONT__SERVER__PORT", "9000")],
        )
        .unwrap();
        assert_eq!(settings.server.metrics_port, Some(9090));
        let settings = load(None, &[("STOREFRONT__SERVER__METRICS_PORT", "9091")]).unwrap();
        assert_eq!(settings.server.metrics_port, Some(9091));
    }

    #[test]
    fn platform_variables_are_fallbacks_under_storefront_variables() {
        let settings = load(
            None,
            &[
                ("PORT", "9100"),
                ("DATABASE_URL", "postgres://app:pw@db/shop"),
                ("REDIS_URL", "redis://cache:6379/0"),
                ("JWT_SECRET", "a-platform-secret-of-at-least-32-chars"),
            ],
        )
        .unwrap();
        assert_eq!(settings.server.port, 9100);
        assert!(matches!(settings.database.url, DatabaseUrl::Postgres(_)));
        assert!(matches!(settings.kv.url, KvUrl::Redis(_)));
        assert_eq!(
            settings.auth.jwt_secret.unwrap().expose_secret(),
            "a-platform-secret-of-at-least-32-chars"
        );
        let settings = load(
            Some("[server]\nport = 9000\n"),
            &[("PORT", "9100"), ("STOREFRONT__SERVER__PORT", "9200")],
        )
        .unwrap();
        assert_eq!(settings.server.port, 9200);
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        for (variable, value, key) in [
            (
                "STOREFRONT__AUTH__OTP_MAX_ATTEMPTS",
                "0",
                "auth.otp_max_attempts",
            ),
            (
                "STOREFRONT__AUTH__TOKEN_TTL_SECS",
                "59",
                "auth.token_ttl_secs",
            ),
            ("STOREFRONT__SERVER__PORT", "not-a-port", "server.port"),
            (
                "STOREFRONT__SERVER__MAX_BODY_BYTES",
                "10",
                "server.max_body_bytes",
            ),
            ("STOREFRONT__DATABASE__URL", "mysql://x", "database.url"),
            ("STOREFRONT__KV__URL", "memcached://x", "kv.url"),
            ("STOREFRONT__AUTH__JWT_SECRET", "short", "auth.jwt_secret"),
            ("STOREFRONT__BUS__SECRET", "short", "bus.secret"),
            ("STOREFRONT__CLUSTER__MAX_NODES", "0", "cluster.max_nodes"),
            (
                "STOREFRONT__AUTH__ADMIN_EMAILS",
                "ok@example.com,nope",
                "auth.admin_emails",
            ),
            (
                "STOREFRONT__CATALOGUE__CURRENCY",
                "usd",
                "catalogue.currency",
            ),
            ("STOREFRONT__MAIL__FROM", "not a mailbox", "mail.from"),
            ("STOREFRONT__MAIL__SMTP_TLS", "ssl", "mail.smtp_tls"),
            ("STOREFRONT__LOG__LEVEL", "info,[", "log.level"),
            (
                "STOREFRONT__SERVER__TRUSTED_PROXIES",
                "10.0.0.0/99",
                "server.trusted_proxies",
            ),
            (
                "STOREFRONT__SERVER__METRICS_PORT",
                "70000",
                "server.metrics_port",
            ),
            (
                "STOREFRONT__SERVER__METRICS_PORT",
                "8080",
                "server.metrics_port",
            ),
        ] {
            let err = load(None, &[(variable, value)]).unwrap_err();
            let shown = crate::telemetry::error_chain(&err);
            assert!(shown.contains(key), "{variable}={value}: {shown}");
            assert!(!shown.contains("short"), "a secret was shown: {shown}");
        }
        let err = load(
            None,
            &[
                ("STOREFRONT__MAIL__TRANSPORT", "smtp"),
                ("STOREFRONT__MAIL__SMTP_HOST", "mail.example.com"),
                ("STOREFRONT__MAIL__SMTP_USER", "apikey"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("mail.smtp_user"), "{err}");
    }

    #[test]
    fn a_node_that_leaves_kinds_to_nobody_is_refused() {
        let err = load(None, &[("STOREFRONT__NODE__ROLES", "otp,user,mailer")]).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("node.roles") && shown.contains("product"),
            "{shown}"
        );
        let err = load(None, &[("STOREFRONT__NODE__ROLES", "otp,cashier")]).unwrap_err();
        assert!(crate::telemetry::error_chain(&err).contains("cashier"));
        let settings = load(
            Some("[actors.product]\ninstances = 3\n"),
            &[("STOREFRONT__ACTORS__OTP__INSTANCES", "2")],
        )
        .unwrap();
        assert_eq!(settings.actors.instances(ActorKind::Product), 3);
        assert_eq!(settings.actors.instances(ActorKind::Otp), 2);
        assert!(settings.actors.instances(ActorKind::User) >= 1);
        let err = load(Some("[actors.cashier]\ninstances = 3\n"), &[]).unwrap_err();
        assert!(crate::telemetry::error_chain(&err).contains("cashier"));
    }

    #[test]
    fn overlapping_price_bands_and_a_stripe_without_keys_are_refused() {
        let err = load(Some("[catalogue]\nprice_bands = [5000, 2500]\n"), &[]).unwrap_err();
        let chain = crate::telemetry::error_chain(&err);
        assert!(
            chain.contains("price_bands") && chain.contains("overlaps"),
            "{chain}"
        );
        let settings = load(Some("[catalogue]\nprice_bands = [1000, 9000]\n"), &[]).unwrap();
        assert_eq!(settings.catalogue.price_bands.bands().count(), 3);
        let err = load(None, &[("STOREFRONT__PAYMENTS__PROVIDER", "stripe")]).unwrap_err();
        assert!(
            err.to_string().contains("payments.stripe.secret_key"),
            "{err}"
        );
        let err = load(
            None,
            &[
                ("STOREFRONT__PAYMENTS__PROVIDER", "stripe"),
                ("STOREFRONT__PAYMENTS__STRIPE__SECRET_KEY", "sk_test_x"),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("webhook_secret"), "{err}");
        let err = load(Some("[payments.stripe]\napi_base = \"ftp://x\"\n"), &[]).unwrap_err();
        let chain = crate::telemetry::error_chain(&err);
        assert!(chain.contains("api_base"), "{chain}");
        let shown = format!(
            "{:?}",
            load(
                None,
                &[
                    ("STOREFRONT__PAYMENTS__PROVIDER", "stripe"),
                    (
                        "STOREFRONT__PAYMENTS__STRIPE__SECRET_KEY",
                        "sk_live_never_shown"
                    ),
                    (
                        "STOREFRONT__PAYMENTS__STRIPE__WEBHOOK_SECRET",
                        "whsec_never_shown"
                    ),
                ],
            )
            .unwrap()
        );
        assert!(!shown.contains("never_shown"), "{shown}");
    }

    #[test]
    fn a_bus_without_its_secret_is_refused() {
        let url = (
            "STOREFRONT__BUS__URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        );
        let err = load(None, &[url]).unwrap_err();
        assert!(err.to_string().contains("bus.secret"), "{err}");
        let settings = load(
            None,
            &[
                url,
                (
                    "STOREFRONT__BUS__SECRET",
                    "a-bus-secret-of-at-least-32-chars",
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            settings.bus.secret.unwrap().expose_secret(),
            "a-bus-secret-of-at-least-32-chars"
        );
        let err = load(None, &[("STOREFRONT__NODE__ID", "two words")]).unwrap_err();
        assert!(err.to_string().contains("node.id"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = load(Some("[server]\nprot = 9000\n"), &[]).unwrap_err();
        assert!(crate::telemetry::error_chain(&err).contains("prot"));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let settings = load(
            None,
            &[
                ("STOREFRONT__MAIL__SMTP_PASSWORD", "smtp-hunter2"),
                (
                    "STOREFRONT__AUTH__JWT_SECRET",
                    "jwt-hunter2-jwt-hunter2-jwt-hunter2",
                ),
                (
                    "STOREFRONT__BUS__SECRET",
                    "bus-hunter2-bus-hunter2-bus-hunter2",
                ),
                (
                    "STOREFRONT__DATABASE__URL",
                    "postgres://app:db-hunter2@db/shop",
                ),
                ("STOREFRONT__KV__URL", "redis://:kv-hunter2@cache:6379/0"),
            ],
        )
        .unwrap();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
