//! A headless Chromium driven through chromedriver's W3C WebDriver API, with
//! the HTTP client the tests already have. Chromium is started so that any
//! request to a host other than the loopback fails: through a proxy that
//! does not exist, with every name resolving to nothing.

use reqwest::Client;
use serde_json::{json, Value};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Where a test reads the sign-in codes mailed to an address: the suite's
/// app, for `Browser::sign_in_on_page`.
pub trait SignInCodes {
    /// The code of the next sign-in mail to `email`.
    fn next_code(&self, email: &str) -> impl Future<Output = String>;
}

pub struct Browser {
    driver: Child,
    /// chromedriver's base URL.
    base: String,
    session: String,
    client: Client,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium. When either is missing
    /// the test is skipped, loudly, unless `CI=true`, where it fails.
    pub async fn start(window: (u32, u32)) -> Option<Browser> {
        let driver = on_path(&["chromedriver"]);
        let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            let problem = "chromium and chromedriver are not installed \
                           (apt-get install -y chromium chromium-driver)";
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("{problem}; CI=true requires them");
            }
            eprintln!("SKIPPED (browser): {problem}");
            return None;
        };
        let port = free_port();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            client: Client::new(),
        };
        browser.wait_until_ready().await;
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-dev-shm-usage",
                        "--disable-gpu",
                        "--no-first-run",
                        "--disable-background-networking",
                        "--disable-component-update",
                        "--disable-sync",
                        format!("--window-size={},{}", window.0, window.1),
                        // Loopback goes direct; anything else to a dead proxy.
                        "--proxy-server=http://127.0.0.1:9",
                        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                    ],
                },
            }},
        });
        let session = browser.command("POST", "/session", capabilities).await;
        browser.session = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Some(browser)
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = self
                .client
                .get(format!("{}/status", self.base))
                .send()
                .await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends one WebDriver command and returns its `value`.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url).json(&body),
        };
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let answer: Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "{method} {path}: {status} {answer}");
        answer["value"].clone()
    }

    async fn session_command(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.command(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.session_command("POST", "/url", json!({ "url": url }))
            .await;
    }

    /// The element `css` selects now (the test fails if none does).
    async fn find(&self, css: &str) -> String {
        let found = self
            .session_command(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        match found[ELEMENT].as_str() {
            Some(element) => element.to_owned(),
            None => panic!("no element {css}: {found}"),
        }
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.session_command("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.session_command(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Runs `script` (a function body; `return` gives the answer) in the page.
    pub async fn run(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Runs `script` until it returns something other than `null` or
    /// `false`, for at most `seconds`, and returns that.
    pub async fn wait_for(&self, what: &str, seconds: u64, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let answer = self.run(script).await;
            if !answer.is_null() && answer != false {
                return answer;
            }
            assert!(Instant::now() < deadline, "never happened: {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in through the operator's page's own form (open in this
    /// browser) as `email`, with the code from `app`'s mail.
    pub async fn sign_in_on_page(&self, app: &impl SignInCodes, email: &str) {
        self.wait_for(
            "the sign-in form",
            10,
            "return !document.getElementById('signin').hidden",
        )
        .await;
        assert_eq!(
            self.run("return document.getElementById('code-form').checkVisibility()")
                .await,
            Value::Bool(false),
            "the code field shows only once a code was asked for"
        );
        self.type_into("#email", email).await;
        self.click("#email-form button").await;
        self.wait_for(
            "the code field",
            10,
            "return document.getElementById('code-form').checkVisibility()",
        )
        .await;
        let code = app.next_code(email).await;
        self.type_into("#code", &code).await;
        self.click("#code-form button").await;
    }

    pub async fn delete_cookies(&self) {
        self.session_command("DELETE", "/cookie", Value::Null).await;
    }

    /// Saves what the window shows as a PNG.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let png = self
            .session_command("GET", "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 PNG"))
            .expect("a PNG");
        std::fs::write(path, bytes).expect("the screenshot is written");
    }
}

impl Drop for Browser {
    /// Ends the session, which takes Chromium with it, then chromedriver;
    /// also when the test failed midway. Blocking: there is no await in
    /// `drop`, and it is a test.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let address = self.base.trim_start_matches("http://");
        if let Ok(mut stream) = std::net::TcpStream::connect(address) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                stream,
                "DELETE /session/{} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = stream.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
