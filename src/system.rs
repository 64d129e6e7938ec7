//! The root of the actor tree: builds the stores and transports chosen by
//! configuration, then starts every actor under its supervisor.

use lettre::message::Mailbox as MailAddress;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::actors::mailer::{MailerActor, MailerParts, RetryPolicy};
use crate::actors::otp::{OtpActor, OtpActorParts, OtpPolicy};
use crate::actors::product::{ProductActor, ProductParts};
use crate::actors::registry::Mailboxes;
use crate::actors::user::UserActor;
use crate::actors::{ActorKind, Mailbox, Registry};
use crate::bus::EventBus;
use crate::config::{MailTransportKind, Settings};
use crate::domain::{OtpHasher, TokenSigner};
use crate::mail::{FileOutbox, MailError, MailTransport, SmtpRelay};
use crate::store::{
    MailQueue, MemoryOtpStore, OtpStore, PgStore, ProductStore, RedisOtpStore, SqliteStore,
    StoreError, UserStore,
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
    #[error("cannot set up mail")]
    Mail(#[from] MailError),
    #[error("cannot listen on {address}")]
    Bind {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Everything the HTTP layer needs from the running system.
#[derive(Clone)]
pub struct Services {
    pub registry: Registry,
    pub bus: EventBus,
    pub signer: Arc<TokenSigner>,
}

/// Builds stores and starts the actors on the current arbiter.
pub async fn start(settings: &Settings, node_id: String) -> Result<Services, StartupError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartupError::DataDir {
        path: settings.data_dir.clone(),
        source,
    })?;
    let secret = resolve_secret(settings)?;
    let Databases {
        users: database,
        mail_queue,
        catalogue,
    } = open_database(settings).await?;
    let otp_store: Arc<dyn OtpStore> = if settings.kv.url == "memory://" {
        Arc::new(MemoryOtpStore::new())
    } else {
        Arc::new(RedisOtpStore::connect(&settings.kv)?)
    };
    let transport: Arc<dyn MailTransport> = match settings.mail.transport {
        MailTransportKind::File => Arc::new(FileOutbox::new(settings.mail.outbox_dir.clone())?),
        MailTransportKind::Smtp => Arc::new(SmtpRelay::new(&settings.mail)?),
    };
    let from: MailAddress = settings
        .mail
        .from
        .parse()
        .expect("mail.from is checked when settings load");

    let bus = EventBus::new(node_id.clone(), settings.actors.event_delivery_attempts);
    let signer = Arc::new(TokenSigner::new(
        &secret,
        Duration::from_secs(settings.auth.token_ttl_secs),
    ));
    let timeout = settings.actors.call_timeout();

    let mail = &settings.mail;
    let mailer_parts = MailerParts {
        transport,
        queue: mail_queue,
        from,
        retry: RetryPolicy {
            base: Duration::from_millis(mail.retry_base_ms),
            max_attempts: mail.retry_max_attempts,
            poll: Duration::from_millis(mail.retry_poll_ms.max(10)),
            first_try: timeout / 2,
            lease: Duration::from_secs(mail.smtp_timeout_secs + 30),
        },
    };
    let mailer = Mailbox::start(ActorKind::Mailer, timeout, |stats| {
        MailerActor::new(mailer_parts, stats)
    });
    bus.subscribe(MailerActor::SUBSCRIBES_TO, mailer.clone());
    let user = Mailbox::start(ActorKind::User, timeout, |stats| {
        UserActor::new(database, bus.clone(), stats)
    });
    let auth = &settings.auth;
    let parts = OtpActorParts {
        store: otp_store,
        hasher: OtpHasher::new(&secret),
        signer: signer.clone(),
        users: user.clone(),
        bus: bus.clone(),
        policy: OtpPolicy {
            code_ttl: Duration::from_secs(auth.otp_ttl_secs),
            max_attempts: auth.otp_max_attempts,
            send_interval: Duration::from_secs(auth.otp_send_interval_secs),
            sends_per_hour: auth.otp_sends_per_hour,
            admin_emails: auth.admin_emails.iter().cloned().collect::<HashSet<_>>(),
        },
    };
    let otp = Mailbox::start(ActorKind::Otp, timeout, |stats| OtpActor::new(parts, stats));
    let product_parts = ProductParts {
        store: catalogue,
        bus: bus.clone(),
        currency: settings.catalogue.currency.clone(),
        cache_capacity: settings.catalogue.cache_capacity,
        cache_ttl: Duration::from_secs(settings.catalogue.cache_ttl_secs),
    };
    let product = Mailbox::start(ActorKind::Product, timeout, |stats| {
        ProductActor::new(product_parts, stats)
    });
    bus.subscribe(ProductActor::SUBSCRIBES_TO, product.clone());

    Ok(Services {
        registry: Registry::new(
            node_id,
            Mailboxes {
                otp,
                user,
                mailer,
                product,
            },
        ),
        bus,
        signer,
    })
}

/// The database's stores, one object behind each trait.
pub struct Databases {
    pub users: Arc<dyn UserStore>,
    pub mail_queue: Arc<dyn MailQueue>,
    pub catalogue: Arc<dyn ProductStore>,
}

/// Connects to `database.url` (SQLite or PostgreSQL) and migrates it.
pub async fn open_database(settings: &Settings) -> Result<Databases, StartupError> {
    Ok(if settings.database.url.starts_with("sqlite:") {
        let store = Arc::new(SqliteStore::connect(&settings.database).await?);
        Databases {
            users: store.clone(),
            mail_queue: store.clone(),
            catalogue: store,
        }
    } else {
        let store = Arc::new(PgStore::connect(&settings.database).await?);
        Databases {
            users: store.clone(),
            mail_queue: store.clone(),
            catalogue: store,
        }
    })
}

/// The configured secret, or one generated into the data folder on first
/// start and reused after, so restarts keep sessions.
fn resolve_secret(settings: &Settings) -> Result<Vec<u8>, StartupError> {
    if !settings.auth.jwt_secret.is_empty() {
        return Ok(settings.auth.jwt_secret.as_bytes().to_vec());
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
            write_private(&path, &generated).map_err(secret_error)?;
            Ok(generated.into_bytes())
        }
        Err(err) => Err(secret_error(err)),
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
