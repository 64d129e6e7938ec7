//! localstripe (a stateful Stripe API server that sends signed webhooks)
//! run as a process on a loopback port of the test's own. `.ci/run`
//! installs it into `target/localstripe-venv`; `STOREFRONT_TEST_LOCALSTRIPE`
//! names another executable.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The secret key the tests give storefront and use themselves: localstripe
/// takes any `sk_` key.
pub const SECRET_KEY: &str = "sk_test_storefront";

pub struct Localstripe {
    child: Child,
    pub base: String,
    client: reqwest::Client,
}

fn executable() -> String {
    std::env::var("STOREFRONT_TEST_LOCALSTRIPE").unwrap_or_else(|_| {
        format!(
            "{}/../../target/localstripe-venv/bin/localstripe",
            env!("CARGO_MANIFEST_DIR")
        )
    })
}

impl Localstripe {
    /// A fresh localstripe; `None` (said loudly) when it is not installed,
    /// which fails the test under `CI=true`.
    pub async fn start() -> Option<Localstripe> {
        let executable = executable();
        if !std::path::Path::new(&executable).exists() {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("localstripe is not installed at {executable}; CI=true requires it (.ci/run installs it)");
            }
            eprintln!("SKIPPED: localstripe is not installed at {executable} (python3 -m venv target/localstripe-venv && target/localstripe-venv/bin/pip install localstripe)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&executable)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("localstripe starts");
        let server = Localstripe {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "localstripe did not start listening"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(server)
    }

    /// Sends every event to `url`, signed with `secret`.
    pub async fn register_webhook(&self, url: &str, secret: &str) {
        let response = self
            .client
            .post(format!("{}/_config/webhooks/storefront", self.base))
            .form(&[("url", url), ("secret", secret)])
            .send()
            .await
            .expect("localstripe answers");
        assert!(response.status().is_success(), "{response:?}");
    }

    /// An object of its API, as the shop's account sees it.
    pub async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .expect("localstripe answers")
            .json()
            .await
            .expect("a JSON answer")
    }

    /// A form-encoded call of its API, as Stripe.js or the dashboard would
    /// make it: its status and body.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .expect("localstripe answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Confirms an intent with a test card, as Stripe.js would with the
    /// customer's card: `pm_card_visa` succeeds, `pm_card_chargeCustomerFail`
    /// is declined when charged (localstripe declines
    /// `pm_card_visa_chargeDeclined` only as it is attached to a customer,
    /// which a PaymentIntent's confirmation does not do).
    pub async fn pay(&self, intent_id: &str, card: &str) -> (u16, Value) {
        let (status, body) = self
            .post(
                &format!("/v1/payment_intents/{intent_id}"),
                &[("payment_method", card)],
            )
            .await;
        assert_eq!(status, 200, "the card is attached: {body}");
        self.post(&format!("/v1/payment_intents/{intent_id}/confirm"), &[])
            .await
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
