//! The binary itself: configuration errors, JSON logs, graceful shutdown.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_storefront");

fn storefront(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(data_dir)
        .env_remove("RUST_LOG")
        .env("STOREFRONT__DATA_DIR", data_dir)
        .env(
            "STOREFRONT__DATABASE__URL",
            format!("sqlite://{}/storefront.db", data_dir.display()),
        )
        .env("STOREFRONT__MAIL__OUTBOX_DIR", data_dir.join("outbox"))
        .env("STOREFRONT__SERVER__WORKERS", "1")
        .stdin(Stdio::null());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn failed_start(configure: impl FnOnce(&mut Command)) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut command = storefront(data.path());
    configure(&mut command);
    let output = command.output().unwrap();
    assert!(
        !output.status.success(),
        "storefront started with a bad configuration"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
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
        command.args(["--config", "/no/such/file.toml"]);
    });
    assert!(stderr.contains("/no/such/file.toml"), "{stderr}");
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
    let port = free_port();
    let mut child = storefront(data.path())
        .env("STOREFRONT__SERVER__PORT", port.to_string())
        .env("STOREFRONT__LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            if response.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "storefront did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let response = client
        .post(format!("{base}/auth/otp"))
        .header("x-request-id", "shutdown-test")
        .json(&serde_json::json!({ "email": "last@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let output = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "storefront did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "exit status {:?}", output.status);

    // The code accepted before the signal was mailed before the exit.
    let mails: Vec<_> = std::fs::read_dir(data.path().join("outbox"))
        .unwrap()
        .collect();
    assert_eq!(mails.len(), 1);

    // Logs are JSON, and the actors' lines carry the request id.
    let logs = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let delivered = lines
        .iter()
        .find(|line| line["fields"]["message"] == "mail delivered")
        .expect("the mailer logged the delivery");
    assert_eq!(
        delivered["spans"][0]["request_id"], "shutdown-test",
        "{delivered}"
    );
    assert!(!logs.contains("sign-in code is"), "a code reached the logs");
}

#[actix_web::test]
async fn seed_loads_the_demo_catalogue_once() {
    let data = tempfile::tempdir().unwrap();
    for expected in ["seeded 288 products", "seeded 0 products"] {
        let output = storefront(data.path()).arg("seed").output().unwrap();
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
