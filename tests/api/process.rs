//! The binary itself: configuration errors, JSON logs that hold no secret,
//! private files, graceful shutdown, seeding. Every run gets a cleared
//! environment and its own folder, so nothing on the machine bends it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::assert_no_secret;
use crate::helpers::{code_in, ADMIN_EMAIL};
use crate::BINARY;
use storefront_test_support::node_process::{storefront, Running};
use storefront_test_support::smtp_server::SmtpServer;

/// Runs the binary with a configuration it must refuse at start; returns
/// what it said. One that starts anyway is stopped and fails the test.
fn failed_start(configure: impl FnOnce(&mut Command)) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut command = storefront(BINARY, data.path());
    configure(&mut command);
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("storefront started with a bad configuration");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        !status.success(),
        "storefront exited 0 with a bad configuration"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    stderr
}

#[test]
fn invalid_configuration_stops_the_start_naming_the_key() {
    let stderr = failed_start(|command| {
        command.env("STOREFRONT__SERVER__PORT", "not-a-port");
    });
    assert!(stderr.contains("server.port"), "{stderr}");

    let stderr = failed_start(|command| {
        command.env("STOREFRONT__AUTH__OTP_MAX_ATTEMPTS", "0");
    });
    assert!(stderr.contains("auth.otp_max_attempts"), "{stderr}");

    let stderr = failed_start(|command| {
        command.env(
            "STOREFRONT__AUTH__ADMIN_EMAILS",
            "ok@example.com,not-an-email",
        );
    });
    assert!(
        stderr.contains("auth.admin_emails") && stderr.contains("not-an-email"),
        "{stderr}"
    );

    let stderr = failed_start(|command| {
        command.env("STOREFRONT__AUTH__JWT_SECRET", "tooShortSecretValue");
    });
    assert!(stderr.contains("auth.jwt_secret"), "{stderr}");
    assert!(
        !stderr.contains("tooShortSecretValue"),
        "the secret leaked: {stderr}"
    );

    let stderr = failed_start(|command| {
        command
            .env_remove("STOREFRONT__DATABASE__URL")
            .env("DATABASE_URL", "postgres://app:hunter2@[::1");
    });
    assert!(stderr.contains("database.url"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");

    let stderr = failed_start(|command| {
        command.env("STOREFRONT__NODE__ROLES", "otp,user,mailer");
    });
    assert!(
        stderr.contains("node.roles") && stderr.contains("product"),
        "{stderr}"
    );

    let stderr = failed_start(|command| {
        command.args(["--config", "/no/such/file.toml"]);
    });
    assert!(stderr.contains("/no/such/file.toml"), "{stderr}");
}

/// A node on a broker signs its messages with `bus.secret`: without one
/// (or with one too short to be a key) it does not start.
#[test]
fn a_node_on_a_bus_without_its_secret_does_not_start() {
    let bus = |command: &mut Command| {
        command.env(
            "STOREFRONT__BUS__URL",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
        );
    };
    let stderr = failed_start(bus);
    assert!(stderr.contains("bus.secret"), "{stderr}");
    let stderr = failed_start(|command| {
        bus(command);
        command.env("STOREFRONT__BUS__SECRET", "tooShortBusSecret");
    });
    assert!(stderr.contains("bus.secret"), "{stderr}");
    assert!(
        !stderr.contains("tooShortBusSecret"),
        "the secret leaked: {stderr}"
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("custom.toml");
    std::fs::write(&file, "[server]\nprot = 9000\n").unwrap();
    let stderr = failed_start(|command| {
        command.arg("--config").arg(&file);
    });
    assert!(stderr.contains("prot"), "{stderr}");
}

#[tokio::test]
async fn sigterm_finishes_accepted_work_and_exits_zero() {
    let data = tempfile::tempdir().unwrap();
    let server = Running::start(storefront(BINARY, data.path()));
    let response = server
        .client
        .post(server.url("/auth/otp"))
        .header("x-request-id", "shutdown-test")
        .json(&json!({ "email": "last@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (status, logs) = server.stop().await;
    assert!(status.success(), "exit status {status:?}");

    // The code accepted before the signal was mailed before the exit.
    let mails: Vec<_> = std::fs::read_dir(data.path().join("outbox"))
        .unwrap()
        .collect();
    assert_eq!(mails.len(), 1);

    // Logs are JSON, and the actors' lines carry the request id.
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let delivered = lines
        .iter()
        .find(|line| line["fields"]["message"] == "mail delivered")
        .expect("the mailer logged the delivery");
    assert_eq!(delivered["request_id"], "shutdown-test", "{delivered}");
    assert_eq!(delivered["actor"], "MailerActor", "{delivered}");
    let access = lines
        .iter()
        .find(|line| line["fields"]["message"] == "request finished")
        .expect("the access line");
    assert_eq!(access["request_id"], "shutdown-test", "{access}");
    assert_eq!(access["fields"]["method"], "POST", "{access}");
    assert_eq!(access["fields"]["path"], "/auth/otp", "{access}");
    assert_eq!(access["fields"]["status"], 202, "{access}");
    assert!(access["fields"]["took_us"].is_u64(), "{access}");
    assert_eq!(delivered["fields"]["kind"], "sign_in_code");
    assert_eq!(delivered["fields"]["to_domain"], "example.com");
}

/// Where a journey reads its mail from.
enum Mailbox<'a> {
    Outbox(PathBuf),
    Smtp(&'a SmtpServer),
}

impl Mailbox<'_> {
    async fn code_for(&self, email: &str, seen: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails: Vec<String> = match self {
                Mailbox::Outbox(folder) => std::fs::read_dir(folder)
                    .map(|entries| {
                        entries
                            .filter_map(Result::ok)
                            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                Mailbox::Smtp(server) => server.inbox.messages(),
            };
            let codes: Vec<String> = mails
                .iter()
                .filter(|mail| {
                    mail.contains(&format!("To: {email}")) && mail.contains("sign-in code is")
                })
                .map(|mail| code_in(mail))
                .collect();
            if codes.len() > seen {
                let mut codes = codes;
                codes.sort();
                // Any code not seen before; which one matters not, only the newest verifies.
                return codes.pop().unwrap();
            }
            assert!(Instant::now() < deadline, "no code for {email} arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Signs a customer and an admin in (a wrong code first), uses the session,
/// looks at the mail queue, signs out; returns every code and token used.
async fn login_journey(server: &Running, mail: &Mailbox<'_>) -> Vec<String> {
    let mut secrets = Vec::new();
    for email in ["journey@example.com", ADMIN_EMAIL] {
        let response = server
            .post("/auth/otp", json!({ "email": email }), None)
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let code = mail.code_for(email, 0).await;
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let response = server
            .post(
                "/auth/otp/verify",
                json!({ "email": email, "otp": wrong }),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = server
            .post(
                "/auth/otp/verify",
                json!({ "email": email, "otp": code }),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let token = response.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            server.get("/auth/me", &token).await.status(),
            StatusCode::OK
        );
        secrets.push(code);
        secrets.push(token);
    }
    let admin = secrets[3].clone();
    let queue = server
        .get("/admin/mail", &admin)
        .await
        .text()
        .await
        .unwrap();
    for secret in &secrets {
        assert!(
            !queue.contains(secret.as_str()),
            "the admin view shows a secret"
        );
    }
    let response = server.post("/auth/logout", json!(null), Some(&admin)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    secrets
}

#[tokio::test]
async fn a_login_journey_logs_no_code_or_token_with_the_outbox() {
    for level in ["info", "debug"] {
        let data = tempfile::tempdir().unwrap();
        let mut command = storefront(BINARY, data.path());
        command.env("STOREFRONT__LOG__LEVEL", level);
        let server = Running::start(command);
        let secrets = login_journey(&server, &Mailbox::Outbox(data.path().join("outbox"))).await;
        let (status, logs) = server.stop().await;
        assert!(status.success());
        assert_no_secret(&logs, &secrets);
    }
}

#[tokio::test]
async fn a_login_journey_logs_no_code_or_token_over_smtp() {
    for level in ["info", "debug"] {
        let smtp = SmtpServer::start().await;
        let data = tempfile::tempdir().unwrap();
        let mut command = storefront(BINARY, data.path());
        command
            .env("STOREFRONT__LOG__LEVEL", level)
            .env("STOREFRONT__MAIL__TRANSPORT", "smtp")
            .env("STOREFRONT__MAIL__SMTP_HOST", "127.0.0.1")
            .env("STOREFRONT__MAIL__SMTP_PORT", smtp.port.to_string())
            .env("STOREFRONT__MAIL__SMTP_TLS", "none");
        let server = Running::start(command);
        let secrets = login_journey(&server, &Mailbox::Smtp(&smtp)).await;
        let (status, logs) = server.stop().await;
        assert!(status.success());
        assert_no_secret(&logs, &secrets);
    }
}

/// Sends `request` as raw bytes on a new connection and returns the answer,
/// which ends when the server closes the connection.
async fn raw_http(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_malformed_request_header_is_the_clients_fault_logged_at_debug() {
    let data = tempfile::tempdir().unwrap();
    let mut command = storefront(BINARY, data.path());
    command.env("STOREFRONT__LOG__LEVEL", "debug");
    let server = Running::start(command);
    for request in [
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"[..],
        &b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n"[..],
    ] {
        let answer = raw_http(&server.base, request).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    let (status, logs) = server.stop().await;
    assert!(status.success());
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let errors: Vec<&Value> = lines
        .iter()
        .filter(|line| line["level"] == "ERROR")
        .collect();
    assert!(errors.is_empty(), "logged as errors: {errors:?}");
    let refused = lines
        .iter()
        .filter(|line| {
            line["level"] == "DEBUG"
                && line["fields"]["message"] == "a request that is not valid HTTP was refused"
        })
        .count();
    assert_eq!(refused, 2, "{logs}");
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn files_that_hold_codes_or_data_are_private_whatever_the_umask() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut command = Command::new("sh");
    command
        .args(["-c", "umask 000 && exec \"$0\"", BINARY])
        .current_dir(root.path())
        .env_clear()
        .env("STOREFRONT__DATA_DIR", &data)
        .env(
            "STOREFRONT__DATABASE__URL",
            format!("sqlite://{}/db/storefront.db", data.display()),
        )
        .env("STOREFRONT__MAIL__OUTBOX_DIR", data.join("outbox"))
        .env("STOREFRONT__SERVER__PORT", "0")
        .env("STOREFRONT__SERVER__WORKERS", "1")
        .env("STOREFRONT__LOG__FORMAT", "json")
        .stdin(Stdio::null());
    let server = Running::start(command);
    let response = server
        .post("/auth/otp", json!({ "email": "private@example.com" }), None)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    Mailbox::Outbox(data.join("outbox"))
        .code_for("private@example.com", 0)
        .await;
    for folder in [data.clone(), data.join("db"), data.join("outbox")] {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
    }
    let mut files = vec![
        data.join("jwt_secret"),
        data.join("db/storefront.db"),
        data.join("db/storefront.db-wal"),
        data.join("db/storefront.db-shm"),
    ];
    files.extend(
        std::fs::read_dir(data.join("outbox"))
            .unwrap()
            .map(|entry| entry.unwrap().path()),
    );
    for file in files {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let (status, _) = server.stop().await;
    assert!(status.success());
}

#[actix_web::test]
async fn seed_loads_the_demo_catalogue_once() {
    let data = tempfile::tempdir().unwrap();
    for expected in ["seeded 288 products", "seeded 0 products"] {
        let output = storefront(BINARY, data.path())
            .arg("seed")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), expected);
    }
    let mut settings = crate::helpers::test_settings(data.path());
    settings.database.url =
        storefront::config::DatabaseUrl::sqlite_file(&data.path().join("storefront.db"));
    let resources = std::sync::Arc::new(crate::helpers::Resources {
        _data: tempfile::tempdir().unwrap(),
        database: None,
        smtp: None,
    });
    let app = crate::helpers::start(settings, resources).await;
    let page: serde_json::Value = app
        .get("/products?limit=1", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 288);
    let page: serde_json::Value = app
        .get("/products?q=linen&category=dresses", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(page["total"].as_u64().unwrap() >= 8, "{page}");
}

/// At the default level the first lines are the service's own: the search
/// index's notes on each commit stay out, and a filter that names tantivy
/// brings them back.
#[actix_web::test]
async fn the_search_index_keeps_its_notes_below_the_default_level() {
    let data = tempfile::tempdir().unwrap();
    let seeded = storefront(BINARY, data.path())
        .arg("seed")
        .output()
        .unwrap();
    assert!(seeded.status.success());
    let index_notes = |logs: &str| {
        logs.lines()
            .filter(|line| line.contains("save metas") || line.contains("Garbage collect"))
            .count()
    };

    // What a start that serves a catalogue page and stops writes.
    let logs_of = |command: Command| async move {
        let server = Running::start(command);
        let page = server
            .client
            .get(server.url("/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let (status, logs) = server.stop().await;
        assert!(status.success());
        logs
    };

    let logs = logs_of(storefront(BINARY, data.path())).await;
    assert_eq!(index_notes(&logs), 0, "{logs}");
    assert!(logs.contains("storefront is listening"), "{logs}");

    let mut asked = storefront(BINARY, data.path());
    asked.env("RUST_LOG", "info,tantivy=info");
    let logs = logs_of(asked).await;
    assert!(index_notes(&logs) > 0, "{logs}");
}

/// Settings built in code skip the configuration's checks: a single node
/// whose roles leave a kind out still refuses to start, naming the kind,
/// instead of panicking.
#[actix_web::test]
async fn a_single_node_that_hosts_not_every_kind_does_not_start() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(data.path());
    settings.bus.url = None;
    settings.node.roles = vec![storefront::domain::ActorKind::Otp];
    let refused = storefront::startup::Application::build(settings)
        .await
        .err()
        .expect("a node that cannot reach the kinds it does not host does not start");
    assert!(
        matches!(refused, storefront::system::StartupError::Unhosted(_)),
        "{refused}"
    );
    assert!(refused.to_string().contains("MailerActor"), "{refused}");
}
