use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

use std::num::{NonZeroU32, NonZeroU64};
use storefront::actors::Registry;
use storefront::config::{
    DatabaseUrl, KvUrl, MailTransportKind, SecretUrl, Settings, SmtpTls, TrustedProxies,
};
use storefront::domain::Email;
use storefront::startup::Application;

use storefront_test_support::smtp_server::{Inbox, SmtpServer};
use storefront_test_support::webdriver::SignInCodes;
pub use storefront_test_support::ADMIN_EMAIL;

/// Which backends a test binary runs the suite against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, in-process store, mail to `.eml` files.
    Embedded,
    /// PostgreSQL, Redis and SMTP: a fresh database, key prefix and SMTP server per test.
    Production,
}

/// What a test's app owns and gives back when the test ends. A restarted
/// app (a second node) shares it.
pub struct Resources {
    /// Kept for its lifetime: the folder goes when the last app using it ends.
    pub _data: TempDir,
    pub database: Option<TestDatabase>,
    pub smtp: Option<Mutex<SmtpServer>>,
}

pub struct TestApp {
    pub address: String,
    /// Where `/metrics` is served: the main port, or `server.metrics_port`'s.
    pub metrics: String,
    pub client: Client,
    pub outbox: PathBuf,
    pub data_dir: PathBuf,
    pub registry: Registry,
    pub settings: Settings,
    pub resources: Arc<Resources>,
    seen_mail: Mutex<HashSet<String>>,
}

/// A signed-in user as the tests see it.
pub struct Session {
    pub token: String,
    pub user: Value,
}

impl Session {
    pub fn id(&self) -> i64 {
        self.user["id"].as_i64().expect("user id")
    }
}

pub fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a nonzero number")
}

pub fn nonzero64(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).expect("a nonzero number")
}

/// Settings for a test: the built-in defaults, never a `config.toml` or the
/// environment, with every backend key set here (embedded backend), a
/// private data folder, a random port and one worker.
pub fn test_settings(data_dir: &Path) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.to_path_buf(),
        ..Settings::default()
    };
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.server.shutdown_timeout_secs = 1;
    settings.server.trusted_proxies = TrustedProxies::default();
    settings.database.url = DatabaseUrl::sqlite_file(&data_dir.join("storefront.db"));
    settings.kv.url = KvUrl::Memory;
    settings.mail.transport = MailTransportKind::File;
    settings.mail.outbox_dir = data_dir.join("outbox");
    settings.auth.jwt_secret = None;
    settings.auth.admin_emails = vec![Email::parse(ADMIN_EMAIL).expect("an email")];
    // Most tests sign in several times from one address; the limits have
    // tests of their own.
    settings.auth.otp_send_interval_secs = 0;
    settings.auth.otp_sends_per_hour = nonzero(1000);
    settings.limits.otp_requests_per_client_per_minute = nonzero(100_000);
    settings.limits.otp_verifies_per_client_per_minute = nonzero(100_000);
    settings.limits.otp_mails_per_minute = nonzero(100_000);
    settings.limits.guest_carts_per_minute = nonzero(100_000);
    settings.mail.retry_base_ms = nonzero64(100);
    settings.mail.retry_poll_ms = nonzero64(100);
    settings
}

pub async fn spawn_app() -> Option<TestApp> {
    spawn_app_with(|_| {}).await
}

/// Starts an app on this binary's backend; `None` (after saying so loudly)
/// when that backend's services are unreachable outside CI.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    spawn(tweak, false).await
}

/// `spawn_app_with`, but with mail over SMTP to a server of the test's own
/// on either backend (the embedded one keeps SQLite and its in-process
/// stores), for tests that make the server hold a message.
pub async fn spawn_app_with_smtp(tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    spawn(tweak, true).await
}

async fn spawn(tweak: impl FnOnce(&mut Settings), smtp: bool) -> Option<TestApp> {
    let data = tempfile::tempdir().expect("a temporary folder");
    let mut settings = test_settings(data.path());
    let mut resources = Resources {
        _data: data,
        database: None,
        smtp: None,
    };
    if crate::BACKEND == Backend::Production {
        let services = production_services().await?;
        let database = TestDatabase::create(&services.postgres).await;
        settings.database.url = database.database_url();
        settings.kv.url = KvUrl::Redis(SecretUrl::parse(&services.redis).expect("a Redis URL"));
        settings.kv.prefix = format!("sftest:{}:", uuid::Uuid::new_v4().simple());
        resources.database = Some(database);
    }
    if smtp || crate::BACKEND == Backend::Production {
        let smtp = SmtpServer::start().await;
        settings.mail.transport = MailTransportKind::Smtp;
        settings.mail.smtp_host = "127.0.0.1".into();
        settings.mail.smtp_port = smtp.port;
        settings.mail.smtp_tls = SmtpTls::None;
        settings.mail.smtp_timeout_secs = nonzero64(2);
        resources.smtp = Some(Mutex::new(smtp));
    }
    tweak(&mut settings);
    Some(start(settings, Arc::new(resources)).await)
}

/// Starts the application with exactly these settings.
pub async fn start(settings: Settings, resources: Arc<Resources>) -> TestApp {
    let settings = settings.validated().expect("test settings are valid");
    let application = Application::build(settings.clone())
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics = match application.metrics_port() {
        Some(port) => format!("http://127.0.0.1:{port}/metrics"),
        None => format!("{address}/metrics"),
    };
    let registry = application.registry().clone();
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp {
        address,
        metrics,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Under the server's keep-alive (5 s): a connection the server
            // is closing as it idles out is never picked for a request.
            .pool_idle_timeout(Duration::from_secs(3))
            .build()
            .expect("a client"),
        outbox: settings.mail.outbox_dir.clone(),
        data_dir: settings.data_dir.clone(),
        registry,
        settings,
        resources,
        seen_mail: Mutex::new(HashSet::new()),
    }
}

pub struct ProductionServices {
    pub postgres: String,
    pub redis: String,
}

/// The PostgreSQL and Redis the production suite uses, if they answer.
/// Unreachable services fail the run under `CI=true` and skip it otherwise.
pub async fn production_services() -> Option<ProductionServices> {
    let postgres = std::env::var("STOREFRONT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let redis = std::env::var("STOREFRONT_TEST_REDIS")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let postgres_up =
        tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&postgres))
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|result| result.map_err(|err| err.to_string()));
    let redis_up = async {
        let client = redis::Client::open(redis.as_str()).map_err(|err| err.to_string())?;
        let mut connection = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|err| err.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(|err| err.to_string())
    }
    .await;
    let problem = match (&postgres_up, &redis_up) {
        (Err(err), _) => Some(format!("PostgreSQL at {postgres} is unreachable: {err}")),
        (_, Err(err)) => Some(format!("Redis at {redis} is unreachable: {err}")),
        _ => None,
    };
    if let Some(problem) = problem {
        if std::env::var("CI").is_ok_and(|value| value == "true") {
            panic!("{problem}; CI=true requires the production backends");
        }
        eprintln!("SKIPPED (production backend): {problem}");
        return None;
    }
    Some(ProductionServices { postgres, redis })
}

/// A PostgreSQL database made for one test and dropped after it.
pub struct TestDatabase {
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl TestDatabase {
    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::Postgres(SecretUrl::parse(&self.url).expect("a PostgreSQL URL"))
    }

    pub async fn create(admin_url: &str) -> TestDatabase {
        let name = format!("sftest_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(admin_url)
            .await
            .expect("PostgreSQL answers");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("a test database");
        admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(admin_url);
        TestDatabase {
            url: format!("{base}/{name}"),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs outside any async context we may block, so use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(&statement).execute(&admin).await;
                    admin.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send_json(reqwest::Method::POST, path, None, body)
            .await
    }

    pub async fn request_otp(&self, email: &str) -> Response {
        self.post_json("/auth/otp", &json!({ "email": email }))
            .await
    }

    pub async fn verify(&self, email: &str, code: &str) -> Response {
        self.post_json("/auth/otp/verify", &json!({ "email": email, "otp": code }))
            .await
    }

    /// Waits for a mail to `email` whose subject starts with `subject` that no
    /// earlier call returned, and returns its raw text.
    pub async fn next_mail(&self, email: &str, subject: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(mail) = self.unseen_mail(email, subject) {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {email} with subject {subject:?} arrived in {}",
                self.outbox.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every mail delivered so far, with a key that names it.
    pub fn delivered_mail(&self) -> Vec<(String, String)> {
        if let Some(inbox) = self.smtp_inbox() {
            return inbox
                .messages()
                .into_iter()
                .enumerate()
                .map(|(index, text)| (format!("smtp-{index}"), text))
                .collect();
        }
        let mut files: Vec<_> = std::fs::read_dir(&self.outbox)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .collect()
            })
            .unwrap_or_default();
        files.retain(|path: &PathBuf| path.extension().is_some_and(|ext| ext == "eml"));
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .filter_map(|path| {
                let text = std::fs::read_to_string(&path).ok()?;
                Some((path.display().to_string(), text))
            })
            .collect()
    }

    fn unseen_mail(&self, email: &str, subject: &str) -> Option<String> {
        let mut seen = self.seen_mail.lock().unwrap();
        for (key, text) in self.delivered_mail() {
            if seen.contains(&key) {
                continue;
            }
            if is_to(&text, email)
                && text
                    .lines()
                    .any(|line| line.starts_with(&format!("Subject: {subject}")))
            {
                seen.insert(key);
                return Some(text);
            }
        }
        None
    }

    /// The code of the next sign-in mail to `email`, read from the outbox.
    pub async fn next_code(&self, email: &str) -> String {
        code_in(&self.next_mail(email, "Your storefront sign-in code").await)
    }

    /// Requests a code, reads it from the mail and verifies it.
    pub async fn login(&self, email: &str) -> Session {
        let response = self.request_otp(email).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let code = self.next_code(email).await;
        let response = self.verify(email, &code).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        Session {
            token: body["token"].as_str().unwrap().to_owned(),
            user: body["user"].clone(),
        }
    }

    /// Every mail delivered to `email`.
    pub fn mails_to(&self, email: &str) -> Vec<String> {
        self.delivered_mail()
            .into_iter()
            .map(|(_, text)| text)
            .filter(|text| is_to(text, email))
            .collect()
    }

    /// Makes mail delivery fail: the outbox folder goes, or the SMTP server stops.
    pub fn break_mail(&self) {
        match &self.resources.smtp {
            Some(smtp) => smtp.lock().unwrap().stop(),
            // A mail being written meanwhile makes removal fail with "not
            // empty": try again until the folder is gone.
            None => {
                for attempt in 0.. {
                    match std::fs::remove_dir_all(&self.outbox) {
                        Ok(()) => break,
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => break,
                        Err(err) if attempt == 100 => panic!("cannot remove the outbox: {err}"),
                        Err(_) => std::thread::yield_now(),
                    }
                }
            }
        }
    }

    /// Waits until every event published so far has been handled (the bus
    /// has nothing pending), as `/metrics` tells.
    pub async fn settle(&self) {
        eventually("the bus has nothing pending", || async {
            let metrics = self
                .client
                .get(&self.metrics)
                .send()
                .await
                .expect("request sent")
                .text()
                .await
                .unwrap();
            metrics
                .lines()
                .any(|line| line == "storefront_bus_events_pending 0")
        })
        .await;
    }

    /// Signs the session out.
    pub async fn logout(&self, token: &str) -> Response {
        self.client
            .post(self.url("/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// What the test's SMTP server received, on the production backend.
    pub fn smtp_inbox(&self) -> Option<Inbox> {
        let smtp = self.resources.smtp.as_ref()?;
        Some(smtp.lock().unwrap().inbox.clone())
    }

    /// Undoes `break_mail`.
    pub fn fix_mail(&self) {
        match &self.resources.smtp {
            Some(smtp) => smtp.lock().unwrap().resume(),
            None => std::fs::create_dir_all(&self.outbox).unwrap(),
        }
    }

    /// The first column, as text, of the rows `query` selects on the app's
    /// database, read behind its back.
    pub async fn text_column(&self, query: &str) -> Vec<String> {
        let rows: Vec<(String,)> = match &self.settings.database.url {
            DatabaseUrl::Sqlite(url) => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                let rows = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
            DatabaseUrl::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
                let rows = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
        };
        rows.into_iter().map(|(value,)| value).collect()
    }

    /// Runs one statement on the app's database, behind its back.
    pub async fn execute_sql(&self, statement: &str) {
        match &self.settings.database.url {
            DatabaseUrl::Sqlite(url) => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
            DatabaseUrl::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
                sqlx::query(statement).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
    }

    /// The recipients and stored bytes of every mail in the queue, read
    /// behind the app's back.
    pub async fn queued_mail_rows(&self) -> Vec<(String, Vec<u8>)> {
        let query = "SELECT recipients, raw FROM mail_queue";
        match &self.settings.database.url {
            DatabaseUrl::Sqlite(url) => {
                let pool = sqlx::SqlitePool::connect(url).await.unwrap();
                let rows = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
            DatabaseUrl::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url.expose_secret()).await.unwrap();
                let rows = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
                pool.close().await;
                rows
            }
        }
    }

    /// Sends `request` as raw bytes, then waits up to `wait` for the answer,
    /// which the server ends by closing the connection (or the wait ends).
    pub async fn raw_http(&self, request: &[u8], wait: Duration) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.address.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    }
}

/// `Browser::sign_in_on_page` reads the code from the app's mail.
impl SignInCodes for TestApp {
    async fn next_code(&self, email: &str) -> String {
        TestApp::next_code(self, email).await
    }
}

/// Polls `check` until it holds, for at most ten seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_to(mail: &str, email: &str) -> bool {
    mail.lines()
        .any(|line| line.eq_ignore_ascii_case(&format!("To: {email}")))
}

/// The six digits after "Your sign-in code is " in a mail's plain text.
pub fn code_in(mail: &str) -> String {
    let marker = "Your sign-in code is ";
    let start = mail.find(marker).expect("the mail holds a code") + marker.len();
    let code: String = mail[start..].chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "code {code:?}");
    code
}

/// When a sign-in mail says its code expires: "... at HH:MM:SS UTC", today,
/// rounded up to the next second.
pub fn expiry_in(mail: &str) -> chrono::DateTime<chrono::Utc> {
    let marker = "minute(s), at ";
    let start = mail.find(marker).expect("the mail states an expiry") + marker.len();
    let time =
        chrono::NaiveTime::parse_from_str(&mail[start..start + 8], "%H:%M:%S").expect("HH:MM:SS");
    let today = chrono::Utc::now().date_naive();
    let mut at = today.and_time(time).and_utc();
    if at + chrono::Duration::hours(12) < chrono::Utc::now() {
        at += chrono::Duration::days(1);
    }
    at + chrono::Duration::seconds(1)
}

/// Checks an answer is problem+json with `status`, and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "status of {}", response.url());
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    assert!(body["type"].is_string(), "{body}");
    body
}

/// Whether `secret` stands in `text` as itself: not as a run of digits
/// inside a longer number or a timestamp's fraction of a second, which a
/// six-digit code may match by chance.
fn mentions(text: &str, secret: &str) -> bool {
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.')
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// No code or token of `secrets`, and no mail body, is in `text` (logs, a
/// page, a document).
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    assert!(!text.is_empty());
    for secret in secrets {
        assert!(
            !mentions(text, secret),
            "a code or token is in what was read:\n{text}"
        );
    }
    assert!(
        !text.to_lowercase().contains("sign-in code is"),
        "a mail body is in what was read:\n{text}"
    );
}
