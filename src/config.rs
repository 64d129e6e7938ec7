//! Settings: the built-in defaults (this repository's `config.toml`), then a
//! config file, then `STOREFRONT__SECTION__KEY` environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

/// The documented defaults, compiled in so the binary starts from any folder.
const DEFAULTS: &str = include_str!("../config.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: `{key}` {reason}")]
    Invalid { key: &'static str, reason: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub kv: KvSettings,
    pub mail: MailSettings,
    pub auth: AuthSettings,
    pub actors: ActorSettings,
    pub catalogue: CatalogueSettings,
    pub node: NodeSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvSettings {
    pub url: String,
    pub prefix: String,
    pub pool_size: u32,
    pub timeout_ms: u64,
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

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransportKind,
    pub outbox_dir: PathBuf,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_user: String,
    pub smtp_password: String,
    pub smtp_pool_size: u32,
    pub smtp_timeout_secs: u64,
    pub retry_base_ms: u64,
    pub retry_max_attempts: u32,
    pub retry_poll_ms: u64,
}

/// Written by hand so that the SMTP password never reaches a log line.
impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("transport", &self.transport)
            .field("outbox_dir", &self.outbox_dir)
            .field("from", &self.from)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_user", &self.smtp_user)
            .field("smtp_password", &"[redacted]")
            .field("smtp_pool_size", &self.smtp_pool_size)
            .field("smtp_timeout_secs", &self.smtp_timeout_secs)
            .field("retry_base_ms", &self.retry_base_ms)
            .field("retry_max_attempts", &self.retry_max_attempts)
            .field("retry_poll_ms", &self.retry_poll_ms)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub token_ttl_secs: u64,
    pub otp_ttl_secs: u64,
    pub otp_max_attempts: u32,
    pub otp_send_interval_secs: u64,
    pub otp_sends_per_hour: u32,
    pub admin_emails: Vec<String>,
    pub cookie_secure: bool,
}

/// Written by hand so that the secret never reaches a log line.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"[redacted]")
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("otp_ttl_secs", &self.otp_ttl_secs)
            .field("otp_max_attempts", &self.otp_max_attempts)
            .field("otp_send_interval_secs", &self.otp_send_interval_secs)
            .field("otp_sends_per_hour", &self.otp_sends_per_hour)
            .field("admin_emails", &self.admin_emails)
            .field("cookie_secure", &self.cookie_secure)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActorSettings {
    pub call_timeout_ms: u64,
    pub event_delivery_attempts: u32,
}

impl ActorSettings {
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.call_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueSettings {
    pub currency: String,
    pub cache_capacity: u64,
    pub cache_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl Settings {
    /// Loads the defaults, then `path` (or `./config.toml` when present), then
    /// the environment, and validates the result.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let file = match path {
            Some(path) => File::from(path).format(FileFormat::Toml).required(true),
            None => File::new("config.toml", FileFormat::Toml).required(false),
        };
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(file)
            .add_source(
                Environment::with_prefix("STOREFRONT")
                    .prefix_separator("__")
                    .separator("__")
                    .list_separator(",")
                    .with_list_parse_key("auth.admin_emails")
                    .try_parsing(true),
            )
            .build()?
            .try_deserialize()?;
        settings.validated()
    }

    /// Checks what serde cannot: ranges, URL schemes, non-empty values.
    pub fn validated(mut self) -> Result<Settings, ConfigError> {
        fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
            ConfigError::Invalid {
                key,
                reason: reason.into(),
            }
        }
        self.auth.admin_emails = self
            .auth
            .admin_emails
            .iter()
            .map(|email| email.trim().to_lowercase())
            .filter(|email| !email.is_empty())
            .collect();
        if self.server.host.trim().is_empty() {
            return Err(invalid("server.host", "must not be empty"));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(invalid("server.max_body_bytes", "must be at least 1024"));
        }
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| self.database.url.starts_with(scheme))
        {
            return Err(invalid(
                "database.url",
                format!(
                    "must be a sqlite:// or postgres:// URL, got `{}`",
                    redact_url(&self.database.url)
                ),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(invalid("database.max_connections", "must be at least 1"));
        }
        if self.kv.url != "memory://"
            && !self.kv.url.starts_with("redis://")
            && !self.kv.url.starts_with("rediss://")
        {
            return Err(invalid(
                "kv.url",
                format!(
                    "must be memory:// or redis://, got `{}`",
                    redact_url(&self.kv.url)
                ),
            ));
        }
        if self.kv.timeout_ms == 0 {
            return Err(invalid("kv.timeout_ms", "must be at least 1"));
        }
        if self.kv.pool_size == 0 {
            return Err(invalid("kv.pool_size", "must be at least 1"));
        }
        if self.mail.transport == MailTransportKind::Smtp {
            if self.mail.smtp_host.trim().is_empty() {
                return Err(invalid(
                    "mail.smtp_host",
                    "must be set when mail.transport is smtp",
                ));
            }
            if self.mail.smtp_pool_size == 0 {
                return Err(invalid("mail.smtp_pool_size", "must be at least 1"));
            }
            if self.mail.smtp_user.is_empty() != self.mail.smtp_password.is_empty() {
                return Err(invalid(
                    "mail.smtp_user",
                    "and mail.smtp_password must be set together",
                ));
            }
        }
        if self.mail.retry_base_ms == 0 {
            return Err(invalid("mail.retry_base_ms", "must be at least 1"));
        }
        let secret_len = self.auth.jwt_secret.len();
        if secret_len > 0 && secret_len < 32 {
            return Err(invalid(
                "auth.jwt_secret",
                "must be empty (generated) or at least 32 characters",
            ));
        }
        if self.auth.token_ttl_secs < 60 {
            return Err(invalid("auth.token_ttl_secs", "must be at least 60"));
        }
        if self.auth.otp_ttl_secs == 0 {
            return Err(invalid("auth.otp_ttl_secs", "must be at least 1"));
        }
        if self.auth.otp_max_attempts == 0 {
            return Err(invalid("auth.otp_max_attempts", "must be at least 1"));
        }
        if self.auth.otp_sends_per_hour == 0 {
            return Err(invalid("auth.otp_sends_per_hour", "must be at least 1"));
        }
        if let Some(bad) = self
            .auth
            .admin_emails
            .iter()
            .find(|email| crate::domain::Email::parse(email).is_err())
        {
            return Err(invalid(
                "auth.admin_emails",
                format!("holds `{bad}`, which is not an email address"),
            ));
        }
        let currency = &self.catalogue.currency;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid(
                "catalogue.currency",
                format!("`{currency}` is not an ISO 4217 code like USD"),
            ));
        }
        if self.actors.call_timeout_ms == 0 {
            return Err(invalid("actors.call_timeout_ms", "must be at least 1"));
        }
        if self.actors.event_delivery_attempts == 0 {
            return Err(invalid(
                "actors.event_delivery_attempts",
                "must be at least 1",
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid(
                "mail.from",
                format!("`{}` is not a mailbox like `Name <a@b.c>`", self.mail.from),
            ));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                format!("`{}` is not a tracing filter", self.log.level),
            ));
        }
        Ok(self)
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

/// Hides a password in `scheme://user:password@host` before it is shown.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://[redacted]@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials_in_urls() {
        assert_eq!(
            redact_url("postgres://app:secret@db:5432/shop"),
            "postgres://[redacted]@db:5432/shop"
        );
        assert_eq!(redact_url("memory://"), "memory://");
    }

    #[test]
    fn defaults_are_valid() {
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let settings = settings.validated().unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.auth.otp_ttl_secs, 120);
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let mut settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        settings.mail.smtp_password = "smtp-hunter2".into();
        settings.auth.jwt_secret = "jwt-hunter2-jwt-hunter2-jwt-hunter2".into();
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn invalid_values_name_their_key() {
        let settings: Settings = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .set_override("auth.otp_max_attempts", 0)
            .unwrap()
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let err = settings.validated().unwrap_err().to_string();
        assert!(err.contains("auth.otp_max_attempts"), "{err}");
    }
}
