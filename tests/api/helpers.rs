use reqwest::{Client, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

use storefront::actors::Registry;
use storefront::config::Settings;
use storefront::startup::Application;

pub const ADMIN_EMAIL: &str = "admin@example.com";

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub outbox: PathBuf,
    pub data_dir: PathBuf,
    pub registry: Registry,
    seen_mail: Mutex<HashSet<PathBuf>>,
    _data: Option<Arc<TempDir>>,
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

/// Settings for a test: the repository's defaults, then a private data
/// folder, a random port and one worker.
pub fn test_settings(data_dir: &Path) -> Settings {
    let mut settings = Settings::load(None).expect("the default configuration loads");
    settings.data_dir = data_dir.to_path_buf();
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.server.shutdown_timeout_secs = 1;
    settings.database.url = format!("sqlite://{}/storefront.db", data_dir.display());
    settings.mail.outbox_dir = data_dir.join("outbox");
    settings.auth.admin_emails = vec![ADMIN_EMAIL.to_owned()];
    // Most tests sign in several times; the send limit has tests of its own.
    settings.auth.otp_send_interval_secs = 0;
    settings.auth.otp_sends_per_hour = 1000;
    settings
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let data = Arc::new(tempfile::tempdir().expect("a temporary folder"));
    let mut settings = test_settings(data.path());
    tweak(&mut settings);
    start(settings, Some(data)).await
}

/// Starts the application with exactly these settings.
pub async fn start(settings: Settings, data: Option<Arc<TempDir>>) -> TestApp {
    let settings = settings.validated().expect("test settings are valid");
    let outbox = settings.mail.outbox_dir.clone();
    let data_dir = settings.data_dir.clone();
    let application = Application::build(settings)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let registry = application.registry().clone();
    actix_web::rt::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        outbox,
        data_dir,
        registry,
        seen_mail: Mutex::new(HashSet::new()),
        _data: data,
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

    fn unseen_mail(&self, email: &str, subject: &str) -> Option<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.outbox)
            .ok()?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        let mut seen = self.seen_mail.lock().unwrap();
        for path in files {
            if seen.contains(&path) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let to_matches = text
                .lines()
                .any(|line| line.eq_ignore_ascii_case(&format!("To: {email}")));
            let subject_matches = text
                .lines()
                .any(|line| line.starts_with(&format!("Subject: {subject}")));
            if to_matches && subject_matches {
                seen.insert(path);
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

    /// Every mail file in the outbox addressed to `email`.
    pub fn mails_to(&self, email: &str) -> Vec<String> {
        std::fs::read_dir(&self.outbox)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                    .filter(|text| text.lines().any(|line| line == format!("To: {email}")))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The six digits after "Your sign-in code is " in a mail's plain text.
pub fn code_in(mail: &str) -> String {
    let marker = "Your sign-in code is ";
    let start = mail.find(marker).expect("the mail holds a code") + marker.len();
    let code: String = mail[start..].chars().take(6).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "code {code:?}");
    code
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
