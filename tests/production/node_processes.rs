//! Real node processes of the binary sharing PostgreSQL, Redis and
//! RabbitMQ, each test in its own database, key prefix and namespace: the
//! original microservices' split serving a whole journey through a gateway,
//! and a mailer node killed with SIGKILL while codes are requested.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use storefront::config::DatabaseSettings;

use crate::cluster::{rabbit, rabbit_url, test_sender, user_created, Namespace};
use crate::helpers::assert_no_secret;
use crate::helpers::{code_in, eventually, production_services, TestDatabase, ADMIN_EMAIL};
use crate::BINARY;
use storefront_test_support::node_process::{storefront, Running};
use storefront_test_support::smtp_server::SmtpServer;

/// The services a test cluster runs on, made for one test.
struct Services {
    redis: String,
    database: TestDatabase,
    smtp: SmtpServer,
    namespace: Namespace,
    prefix: String,
    jwt_secret: String,
}

impl Services {
    async fn start() -> Option<Services> {
        rabbit().await?;
        let services = production_services().await?;
        Some(Services {
            database: TestDatabase::create(&services.postgres).await,
            redis: services.redis,
            smtp: SmtpServer::start().await,
            namespace: Namespace::new(),
            prefix: format!("sftest:{}:", uuid::Uuid::new_v4().simple()),
            jwt_secret: uuid::Uuid::new_v4().simple().to_string().repeat(2),
        })
    }

    /// A node process hosting `roles` (comma-separated; empty: a gateway).
    fn node(&self, data_dir: &Path, id: &str, roles: &str) -> Running {
        Running::start(self.command(data_dir, id, roles))
    }

    /// The command that starts such a node, to add to.
    fn command(&self, data_dir: &Path, id: &str, roles: &str) -> Command {
        let mut command = storefront(BINARY, data_dir);
        command
            .env("STOREFRONT__DATABASE__URL", &self.database.url)
            .env("STOREFRONT__KV__URL", &self.redis)
            .env("STOREFRONT__KV__PREFIX", &self.prefix)
            .env("STOREFRONT__MAIL__TRANSPORT", "smtp")
            .env("STOREFRONT__MAIL__SMTP_HOST", "127.0.0.1")
            .env("STOREFRONT__MAIL__SMTP_PORT", self.smtp.port.to_string())
            .env("STOREFRONT__MAIL__SMTP_TLS", "none")
            .env("STOREFRONT__MAIL__SMTP_TIMEOUT_SECS", "2")
            .env("STOREFRONT__MAIL__RETRY_BASE_MS", "100")
            .env("STOREFRONT__MAIL__RETRY_POLL_MS", "100")
            .env("STOREFRONT__BUS__URL", rabbit_url())
            .env("STOREFRONT__BUS__NAMESPACE", &self.namespace.name)
            .env("STOREFRONT__BUS__SECRET", &self.namespace.secret)
            .env("STOREFRONT__NODE__ID", id)
            .env("STOREFRONT__NODE__ROLES", roles)
            .env("STOREFRONT__ACTORS__CALL_TIMEOUT_MS", "2000")
            .env("STOREFRONT__AUTH__JWT_SECRET", &self.jwt_secret)
            .env("STOREFRONT__AUTH__OTP_SEND_INTERVAL_SECS", "0")
            .env("STOREFRONT__AUTH__OTP_SENDS_PER_HOUR", "1000")
            .env(
                "STOREFRONT__LIMITS__OTP_REQUESTS_PER_CLIENT_PER_MINUTE",
                "100000",
            )
            .env("STOREFRONT__LIMITS__OTP_MAILS_PER_MINUTE", "100000");
        command
    }
}

/// The newest mail to `to` whose subject starts with `subject`, waited for.
async fn mail_to(smtp: &SmtpServer, to: &str, subject: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(mail) = smtp.inbox.messages().into_iter().rev().find(|mail| {
            mail.contains(&format!("To: {to}")) && mail.contains(&format!("Subject: {subject}"))
        }) {
            return mail;
        }
        assert!(Instant::now() < deadline, "no mail {subject:?} to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Signs in through `node` with the code the mailer sent over SMTP.
async fn sign_in(node: &Running, smtp: &SmtpServer, email: &str) -> String {
    let asked = node
        .post("/auth/otp", json!({ "email": email }), None)
        .await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let code = code_in(&mail_to(smtp, email, "Your storefront sign-in code").await);
    let verified = node
        .post(
            "/auth/otp/verify",
            json!({ "email": email, "otp": code }),
            None,
        )
        .await;
    assert_eq!(verified.status(), StatusCode::OK);
    verified.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends `body` and returns the answer's status and JSON.
async fn send(node: &Running, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let answer = node.post(path, body, Some(token)).await;
    let status = answer.status();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// The original microservices' split, one process each: auth, mailer,
/// catalogue, and a gateway hosting no actor at all. Everything a shop
/// does goes through the gateway.
#[actix_web::test]
async fn the_microservices_split_serves_a_whole_journey_through_a_gateway() {
    let Some(services) = Services::start().await else {
        return;
    };
    let smtp = &services.smtp;
    let folders: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    // At debug level, so that the logs of the whole journey can be read for
    // secrets at the end.
    let node = |folder: usize, id: &str, roles: &str| {
        let mut command = services.command(folders[folder].path(), id, roles);
        command.env("STOREFRONT__LOG__LEVEL", "debug");
        Running::start(command)
    };
    let auth = node(0, "auth", "otp,user");
    let mailer = node(1, "mailer", "mailer");
    let catalogue = node(2, "catalogue", "product,cart,order");
    let gateway = node(3, "gateway", "");

    let admin = sign_in(&gateway, smtp, ADMIN_EMAIL).await;
    let (status, product) = send(
        &gateway,
        "/products",
        &admin,
        json!({ "title": "Split dress", "price": 2500, "category": "dresses",
                "variants": [{ "size": "M", "stock": 2 }] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{product}");
    let read: Value = gateway
        .client
        .get(gateway.url(&format!("/products/{}", product["id"])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, product, "read back through the remote ProductActor");

    let customer = sign_in(&gateway, smtp, "split@example.com").await;
    mail_to(smtp, "split@example.com", "Welcome to storefront").await;
    let (status, address) = send(
        &gateway,
        "/users/me/addresses",
        &customer,
        json!({ "street": "1 Main St", "city": "Springfield", "zipCode": "62701", "country": "US" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{address}");
    let (status, cart) = send(
        &gateway,
        "/cart/items",
        &customer,
        json!({ "productId": product["id"], "size": "M", "quantity": 2 }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{cart}");
    let (status, order) = send(
        &gateway,
        "/orders",
        &customer,
        json!({ "addressId": address["id"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let confirmation = mail_to(
        smtp,
        "split@example.com",
        &format!("Your storefront order {}", order["id"]),
    )
    .await;
    assert!(confirmation.contains("50.00"), "{confirmation}");

    eventually("the gateway hears every node's heartbeat", || async {
        let nodes: Vec<Value> = gateway
            .get("/admin/cluster", &admin)
            .await
            .json()
            .await
            .unwrap();
        let roles: Vec<(&str, usize)> = nodes
            .iter()
            .map(|node| {
                (
                    node["nodeId"].as_str().unwrap(),
                    node["roles"].as_array().unwrap().len(),
                )
            })
            .collect();
        // This node first, then the others by id.
        roles == [("gateway", 0), ("auth", 2), ("catalogue", 3), ("mailer", 1)]
    })
    .await;

    let mut secrets: Vec<String> = smtp
        .inbox
        .messages()
        .iter()
        .filter(|mail| mail.contains("sign-in code is"))
        .map(|mail| code_in(mail))
        .collect();
    assert_eq!(secrets.len(), 2, "two sign-ins, two codes");
    secrets.extend([admin, customer, services.namespace.secret.clone()]);
    let logs: Vec<String> = [&auth, &mailer, &catalogue, &gateway]
        .iter()
        .flat_map(|node| node.output.lock().unwrap().clone())
        .collect();
    assert_no_secret(&logs.join("\n"), &secrets);
}

/// The Message-ID header of a mail as it arrived.
fn message_id(mail: &str) -> String {
    mail.lines()
        .find_map(|line| line.strip_prefix("Message-ID: "))
        .expect("every mail has a Message-ID")
        .trim()
        .to_owned()
}

#[actix_web::test]
async fn a_mailer_node_killed_while_codes_are_requested_mails_each_code_once() {
    let Some(services) = Services::start().await else {
        return;
    };
    let smtp = &services.smtp;
    let gateway_dir = tempfile::tempdir().unwrap();
    let mailer_dir = tempfile::tempdir().unwrap();
    let gateway = services.node(gateway_dir.path(), "gateway", "otp,user,product,cart,order");
    let mailer = services.node(mailer_dir.path(), "mailer", "mailer");

    let emails: Vec<String> = (0..30).map(|n| format!("killed-{n}@example.com")).collect();
    let requests = {
        let client = gateway.client.clone();
        let url = gateway.url("/auth/otp");
        let emails = emails.clone();
        tokio::spawn(async move {
            for email in emails {
                let answer = client
                    .post(&url)
                    .json(&json!({ "email": email }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), StatusCode::ACCEPTED, "{email}");
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    // Killed once it has mailed a few: in the middle of the stream.
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.inbox.messages().len() < 5 {
        assert!(Instant::now() < deadline, "the mailer node mailed nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    mailer.kill();
    let at_kill = smtp.inbox.messages().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mailer = services.node(mailer_dir.path(), "mailer", "mailer");
    requests.await.unwrap();

    let mailed = |mails: &[String]| -> HashMap<String, Vec<String>> {
        let mut by_recipient: HashMap<String, Vec<String>> = HashMap::new();
        for mail in mails {
            let to = mail
                .lines()
                .find_map(|line| line.strip_prefix("To: "))
                .unwrap()
                .trim()
                .to_owned();
            by_recipient.entry(to).or_default().push(mail.clone());
        }
        by_recipient
    };
    // Done when every code was mailed and nothing is left to mail: no mail
    // in the queue (one whose try was cut by the kill is sent again when its
    // lease runs out) and no event claimed but unfinished (one the killed
    // node held is taken over when its claim's lease runs out).
    let database_pool = sqlx::PgPool::connect(&services.database.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let by_recipient = mailed(&smtp.inbox.messages());
        let (pending,): (i64,) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM mail_queue)
                  + (SELECT count(*) FROM handled_messages WHERE NOT done)",
        )
        .fetch_one(&database_pool)
        .await
        .unwrap();
        if pending == 0 && emails.iter().all(|email| by_recipient.contains_key(email)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "codes never mailed (killed after {at_kill} mails, {pending} pending): {:?}",
            emails
                .iter()
                .filter(|email| !by_recipient.contains_key(*email))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let by_recipient = mailed(&smtp.inbox.messages());
    for email in &emails {
        let mails = &by_recipient[email];
        // SMTP cannot make the server's acceptance and the sender's record
        // of it one step: a kill between the two sends the same message
        // (same Message-ID, same code) again, which mail systems show once.
        // A second message, or a second code, would be a real duplicate.
        let messages: HashSet<String> = mails.iter().map(|mail| message_id(mail)).collect();
        let codes: HashSet<String> = mails.iter().map(|mail| code_in(mail)).collect();
        assert_eq!(
            (messages.len(), codes.len()),
            (1, 1),
            "{email} got {} mails: {mails:#?}",
            mails.len()
        );
    }
    eprintln!(
        "killed after {at_kill} of {} mails; {} sent again by SMTP",
        emails.len(),
        smtp.inbox.messages().len() - emails.len()
    );
    drop((gateway, mailer));
}

/// libfaketime, which moves a process's clock (Debian's `faketime`).
const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// libfaketime if installed; under `CI=true` it must be.
fn faketime() -> Option<&'static str> {
    if Path::new(FAKETIME).exists() {
        return Some(FAKETIME);
    }
    assert!(
        std::env::var("CI").map_or(true, |value| value != "true"),
        "{FAKETIME} is missing; CI=true requires it (apt-get install faketime)"
    );
    eprintln!("SKIPPED (clock skew): {FAKETIME} is missing; apt-get install faketime");
    None
}

/// Two mailer nodes, one of them an hour ahead. The same event published
/// twice is handled once: the copy that reaches a node while the other
/// handles it waits for that, whatever either node's clock says. Each node
/// lists the other as live.
#[actix_web::test]
async fn a_node_an_hour_ahead_neither_breaks_deduplication_nor_looks_dead() {
    let Some(faketime) = faketime() else {
        return;
    };
    let Some(services) = Services::start().await else {
        return;
    };
    let smtp = &services.smtp;
    let folders: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let roles = "otp,user,mailer,product,cart,order";
    let on_time = services.node(folders[0].path(), "on-time", roles);
    let mut ahead = services.command(folders[1].path(), "ahead", roles);
    ahead
        .env("LD_PRELOAD", faketime)
        .env("FAKETIME", "+1h")
        // Sessions from the node on time are still young for it.
        .env("STOREFRONT__AUTH__TOKEN_TTL_SECS", "86400");
    let ahead = Running::start(ahead);
    let admin = sign_in(&on_time, smtp, ADMIN_EMAIL).await;

    eventually("each node lists the other", || async {
        let mut both = true;
        for (node, other) in [(&on_time, "ahead"), (&ahead, "on-time")] {
            let nodes: Vec<Value> = node
                .get("/admin/cluster", &admin)
                .await
                .json()
                .await
                .unwrap_or_default();
            both &= nodes.iter().any(|listed| listed["nodeId"] == other);
        }
        both
    })
    .await;

    // Each handling holds its claim for a while: the second copy arrives
    // while the first is being handled.
    smtp.inbox.delay_data(Duration::from_millis(1500));
    let sender = test_sender(
        &DatabaseSettings {
            url: services.database.database_url(),
            ..DatabaseSettings::default()
        },
        &services.namespace,
    )
    .await;
    let envelope = user_created("twice@example.com");
    sender.publish(&envelope).await.unwrap();
    sender.publish(&envelope).await.unwrap();

    let duplicates = || async {
        let mut total = 0;
        for node in [&on_time, &ahead] {
            let bus: Value = node.get("/admin/bus", &admin).await.json().await.unwrap();
            total += bus["broker"]["duplicates"].as_u64().unwrap();
        }
        total
    };
    eventually("the second copy is acked as a duplicate", || async {
        duplicates().await == 1
    })
    .await;
    mail_to(smtp, "twice@example.com", "Welcome to storefront").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let welcomes = smtp
        .inbox
        .messages()
        .iter()
        .filter(|mail| mail.contains("To: twice@example.com"))
        .count();
    assert_eq!(welcomes, 1);
    assert_eq!(duplicates().await, 1, "handled once, not taken over");
}
