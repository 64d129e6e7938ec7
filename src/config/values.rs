//! Typed setting values. Each one refuses a bad value while settings are
//! deserialised, so the error names the key (`... for key `auth.jwt_secret``)
//! and nothing downstream re-checks it.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::net::IpAddr;

/// A whole number of at least `MIN`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AtLeast<const MIN: u64>(u64);

impl<const MIN: u64> AtLeast<MIN> {
    /// For defaults written in code; a value under `MIN` is a bug there.
    pub const fn new(value: u64) -> Self {
        assert!(value >= MIN, "a default below its own minimum");
        AtLeast(value)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl<const MIN: u64> fmt::Debug for AtLeast<MIN> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de, const MIN: u64> Deserialize<'de> for AtLeast<MIN> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(deserializer)?;
        if value < MIN {
            return Err(serde::de::Error::custom(format!(
                "{value} is too small: must be at least {MIN}"
            )));
        }
        Ok(AtLeast(value))
    }
}

/// A URL that may carry a password. `Debug` and `Display` show it with the
/// password replaced; `expose_secret` gives the whole URL to the one driver
/// that connects with it.
#[derive(Clone)]
pub struct SecretUrl {
    full: SecretString,
    shown: String,
}

impl SecretUrl {
    pub fn parse(raw: &str) -> Result<SecretUrl, url::ParseError> {
        let mut url = url::Url::parse(raw.trim())?;
        if url.password().is_some() {
            // Only fails for URLs that cannot hold a password, which this one does.
            let _ = url.set_password(Some("redacted"));
        }
        Ok(SecretUrl {
            full: SecretString::from(raw.trim().to_owned()),
            shown: url.to_string(),
        })
    }

    pub fn scheme(&self) -> &str {
        self.shown.split(':').next().unwrap_or_default()
    }

    pub fn expose_secret(&self) -> &str {
        self.full.expose_secret()
    }
}

impl PartialEq for SecretUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose_secret() == other.expose_secret()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Parses a URL whose scheme is one of `schemes`, naming them when it is not.
fn url_with_scheme<E: serde::de::Error>(raw: &str, schemes: &[&str]) -> Result<SecretUrl, E> {
    let url = SecretUrl::parse(raw).map_err(|err| {
        E::custom(format!(
            "not a URL ({err}); expected {}",
            schemes.join(" or ")
        ))
    })?;
    if schemes.iter().any(|scheme| url.scheme() == *scheme) {
        Ok(url)
    } else {
        Err(E::custom(format!(
            "`{url}` has scheme `{}`; expected {}",
            url.scheme(),
            schemes.join(" or ")
        )))
    }
}

/// Where the database is: a SQLite file (embedded) or a PostgreSQL server.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH`, exactly as sqlx takes it.
    Sqlite(String),
    Postgres(SecretUrl),
}

impl DatabaseUrl {
    pub fn sqlite_file(path: &std::path::Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(format!("sqlite://{}", path.display()))
    }

    pub fn parse<E: serde::de::Error>(raw: &str) -> Result<DatabaseUrl, E> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:") {
            return Ok(DatabaseUrl::Sqlite(raw.to_owned()));
        }
        url_with_scheme(raw, &["sqlite", "postgres", "postgresql"]).map(DatabaseUrl::Postgres)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(url) => f.write_str(url),
            DatabaseUrl::Postgres(url) => url.fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DatabaseUrl::parse(&String::deserialize(deserializer)?)
    }
}

/// Where codes, limits and revocations live: this process, or Redis.
#[derive(Debug, Clone, PartialEq)]
pub enum KvUrl {
    Memory,
    Redis(SecretUrl),
}

impl<'de> Deserialize<'de> for KvUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        if raw.trim() == "memory://" {
            return Ok(KvUrl::Memory);
        }
        url_with_scheme(&raw, &["memory", "redis", "rediss"]).map(KvUrl::Redis)
    }
}

/// A RabbitMQ URL, or nothing when empty.
pub fn optional_amqp_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretUrl>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    if raw.trim().is_empty() {
        return Ok(None);
    }
    url_with_scheme(&raw, &["amqp", "amqps"]).map(Some)
}

/// A list of actor kinds by their config keys (`otp`, `user`, ...).
pub fn actor_kinds<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<crate::domain::ActorKind>, D::Error> {
    use crate::domain::ActorKind;
    let mut kinds = Vec::new();
    for raw in Vec::<String>::deserialize(deserializer)? {
        let key = raw.trim();
        if key.is_empty() {
            continue;
        }
        let kind = ActorKind::from_config_key(key).map_err(serde::de::Error::custom)?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

/// A secret given as text; an empty value means "not set".
pub fn optional_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    Ok((!raw.is_empty()).then(|| SecretString::from(raw)))
}

/// A key of at least 32 characters, or nothing; `refusal` says why not.
fn optional_key<'de, D: Deserializer<'de>>(
    deserializer: D,
    refusal: &str,
) -> Result<Option<SecretString>, D::Error> {
    let secret = optional_secret(deserializer)?;
    if secret
        .as_ref()
        .is_some_and(|secret| secret.expose_secret().chars().count() < 32)
    {
        return Err(serde::de::Error::custom(refusal));
    }
    Ok(secret)
}

/// The key that signs tokens and hashes codes: at least 32 characters.
pub fn optional_jwt_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    optional_key(
        deserializer,
        "must be empty (generated) or at least 32 characters",
    )
}

/// The key the nodes of a cluster share: at least 32 characters.
pub fn optional_bus_secret<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SecretString>, D::Error> {
    optional_key(deserializer, "must be at least 32 characters")
}

/// A list of emails, each checked and lower-cased; empty entries are dropped
/// (an empty environment variable is an empty list).
pub fn emails<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<crate::domain::Email>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .filter(|raw| !raw.trim().is_empty())
        .map(|raw| {
            crate::domain::Email::parse(raw)
                .map_err(|_| serde::de::Error::custom(format!("`{raw}` is not an email address")))
        })
        .collect()
}

/// A port, or nothing when empty: a listener that is optional.
pub fn optional_port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u16>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse().map(Some).map_err(|_| {
        serde::de::Error::custom(format!(
            "`{raw}` is not a port number (0 to 65535), or empty for none"
        ))
    })
}

/// A mailbox like `Shop <no-reply@shop.example>`.
pub fn mailbox<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<lettre::message::Mailbox, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{raw}` is not a mailbox like `Name <a@b.example>`"
        ))
    })
}

/// The base of an HTTP API, like `https://api.stripe.com`: http or https,
/// with a host, without a query.
pub fn http_base<'de, D: Deserializer<'de>>(deserializer: D) -> Result<url::Url, D::Error> {
    let raw = String::deserialize(deserializer)?;
    match url::Url::parse(&raw) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host().is_some()
                && url.query().is_none() =>
        {
            Ok(url)
        }
        _ => Err(serde::de::Error::custom(format!(
            "`{raw}` is not an http(s) URL like https://api.stripe.com"
        ))),
    }
}

/// A currency code like USD.
pub fn currency<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<crate::domain::Currency, D::Error> {
    let raw = String::deserialize(deserializer)?;
    crate::domain::Currency::parse(&raw).map_err(|err| serde::de::Error::custom(err.reason))
}

/// A `tracing` filter such as `info` or `storefront=debug,sqlx=warn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFilter(String);

impl LogFilter {
    pub fn new(filter: &str) -> LogFilter {
        LogFilter(filter.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for LogFilter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        tracing_subscriber::EnvFilter::try_new(&raw)
            .map_err(|err| serde::de::Error::custom(format!("`{raw}` is not a filter: {err}")))?;
        Ok(LogFilter(raw))
    }
}

/// Addresses or networks (`10.0.0.0/8`, `127.0.0.1`) of proxies whose
/// `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<ipnet::IpNet>) -> TrustedProxies {
        TrustedProxies(networks)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|network| network.contains(&ip))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|raw| raw.trim())
            .filter(|raw| !raw.is_empty())
            .map(|raw| {
                raw.parse::<ipnet::IpNet>()
                    .or_else(|_| raw.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        serde::de::Error::custom(format!(
                            "`{raw}` is not an address or a network like 10.0.0.0/8"
                        ))
                    })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

/// Web origins (`https://shop.example`, `http://localhost:3000`), exactly:
/// a scheme, a host and a port, nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(Vec<String>);

impl Origins {
    /// The origin `raw` names as a browser writes it in `Origin` (the
    /// scheme's default port left out); `None` when it is no origin.
    pub fn normalise(raw: &str) -> Option<String> {
        let url = url::Url::parse(raw).ok()?;
        let bare = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none();
        bare.then(|| url.origin().ascii_serialization())
    }

    pub fn contains(&self, origin: &str) -> bool {
        Origins::normalise(origin).is_some_and(|origin| self.0.contains(&origin))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Origins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|raw| raw.trim())
            .filter(|raw| !raw.is_empty())
            .map(|raw| {
                Origins::normalise(raw).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "`{raw}` is not an origin like https://shop.example (a scheme, a host, \
                         maybe a port, and no path)"
                    ))
                })
            })
            .collect::<Result<_, _>>()
            .map(Origins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_exact() {
        let origins: Origins = serde_json::from_str(
            r#"["https://shop.example", "http://localhost:3000", "HTTPS://Shop.Example:443"]"#,
        )
        .unwrap();
        assert!(origins.contains("https://shop.example"));
        assert!(origins.contains("http://localhost:3000"));
        assert!(!origins.contains("http://shop.example"));
        assert!(!origins.contains("https://evil.example"));
        assert!(!origins.contains("null"));
        for refused in [
            r#"["https://shop.example/path"]"#,
            r#"["*"]"#,
            r#"["shop.example"]"#,
            r#"["https://user@shop.example"]"#,
            r#"["ftp://shop.example"]"#,
        ] {
            assert!(
                serde_json::from_str::<Origins>(refused).is_err(),
                "{refused}"
            );
        }
    }

    #[test]
    fn urls_hide_their_password() {
        let url = SecretUrl::parse("postgres://app:hunter2@db:5432/shop").unwrap();
        assert_eq!(url.to_string(), "postgres://app:redacted@db:5432/shop");
        assert_eq!(format!("{url:?}"), "postgres://app:redacted@db:5432/shop");
        assert_eq!(url.expose_secret(), "postgres://app:hunter2@db:5432/shop");
        assert_eq!(url.scheme(), "postgres");
    }

    #[test]
    fn trusted_proxies_take_addresses_and_networks() {
        let proxies: TrustedProxies =
            serde_json::from_str(r#"["10.0.0.0/8", "192.168.1.7", " "]"#).unwrap();
        assert!(proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(proxies.contains("192.168.1.7".parse().unwrap()));
        assert!(!proxies.contains("192.168.1.8".parse().unwrap()));
        assert!(serde_json::from_str::<TrustedProxies>(r#"["nope"]"#).is_err());
    }
}
