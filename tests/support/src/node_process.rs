//! The storefront binary run as a real process: started with a cleared
//! environment, its port read from its JSON log, stopped with SIGTERM or
//! killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ADMIN_EMAIL;

/// The binary at `binary` (a suite's `env!("CARGO_BIN_EXE_storefront")`)
/// with only the variables named here, working in `data_dir`.
pub fn storefront(binary: &str, data_dir: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .current_dir(data_dir)
        .env_clear()
        .env("STOREFRONT__DATA_DIR", data_dir)
        .env(
            "STOREFRONT__DATABASE__URL",
            format!("sqlite://{}/storefront.db", data_dir.display()),
        )
        .env("STOREFRONT__MAIL__OUTBOX_DIR", data_dir.join("outbox"))
        .env("STOREFRONT__SERVER__WORKERS", "1")
        .env("STOREFRONT__SERVER__PORT", "0")
        .env("STOREFRONT__LOG__FORMAT", "json")
        .env("STOREFRONT__AUTH__ADMIN_EMAILS", ADMIN_EMAIL)
        .stdin(Stdio::null());
    command
}

/// A running binary: its port (it bound port 0 and said which port it got)
/// and everything it has written so far.
pub struct Running {
    child: Child,
    pub base: String,
    pub output: Arc<Mutex<Vec<String>>>,
    pub client: reqwest::Client,
}

impl Running {
    pub fn start(mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let (port_sender, port) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Ok(line) = serde_json::from_str::<Value>(&line) {
                        if line["fields"]["message"] == "storefront is listening" {
                            let _ = port_sender.send(line["fields"]["port"].as_u64().unwrap());
                        }
                    }
                    output.lock().unwrap().push(line);
                }
            });
        }
        {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        let port = port
            .recv_timeout(Duration::from_secs(30))
            .expect("storefront did not say where it listens");
        Running {
            child,
            base: format!("http://127.0.0.1:{port}"),
            output,
            // Under the server's keep-alive (5 s): a connection the server
            // is closing as it idles out is never picked for a request.
            client: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(3))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// SIGKILL: the process ends at once, in the middle of whatever it did.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM, waits for the exit and returns everything written.
    pub async fn stop(mut self) -> (std::process::ExitStatus, String) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "storefront did not stop; it wrote:\n{}",
                self.output.lock().unwrap().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // The reader threads end with the pipes; give them a moment to drain.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = usize::MAX;
        loop {
            let now = self.output.lock().unwrap().len();
            if now == last || Instant::now() > deadline {
                break;
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let output = self.output.lock().unwrap().join("\n");
        (status, output)
    }
}

/// A test that fails half-way leaves no server behind.
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
