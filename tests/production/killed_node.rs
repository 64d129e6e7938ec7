//! Real node processes: a gateway and a mailer node sharing PostgreSQL,
//! Redis and RabbitMQ. The mailer node is killed with SIGKILL while codes
//! are being requested and started again: every code is mailed, once.

use reqwest::StatusCode;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cluster::{rabbit, rabbit_url, Namespace};
use crate::helpers::{code_in, production_services, TestDatabase};
use crate::node_process::{storefront, Running};
use crate::smtp_server::SmtpServer;

/// What every node of the test cluster shares.
struct Cluster<'a> {
    database: &'a TestDatabase,
    redis: &'a str,
    prefix: String,
    smtp: &'a SmtpServer,
    namespace: &'a Namespace,
    jwt_secret: String,
}

impl Cluster<'_> {
    /// A node process hosting `roles` (comma-separated; empty: a gateway).
    fn node(&self, data_dir: &Path, id: &str, roles: &str) -> Running {
        let mut command: Command = storefront(data_dir);
        command
            .env("STOREFRONT__DATABASE__URL", &self.database.url)
            .env("STOREFRONT__KV__URL", self.redis)
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
        Running::start(command)
    }
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
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(services) = production_services().await else {
        return;
    };
    let database = TestDatabase::create(&services.postgres).await;
    let smtp = SmtpServer::start().await;
    let cluster = Cluster {
        database: &database,
        redis: &services.redis,
        prefix: format!("sftest:{}:", uuid::Uuid::new_v4().simple()),
        smtp: &smtp,
        namespace: &namespace,
        jwt_secret: uuid::Uuid::new_v4().simple().to_string().repeat(2),
    };
    let gateway_dir = tempfile::tempdir().unwrap();
    let mailer_dir = tempfile::tempdir().unwrap();
    let gateway = cluster.node(gateway_dir.path(), "gateway", "otp,user,product,cart,order");
    let mailer = cluster.node(mailer_dir.path(), "mailer", "mailer");

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
    let mailer = cluster.node(mailer_dir.path(), "mailer", "mailer");
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
    let database_pool = sqlx::PgPool::connect(&database.url).await.unwrap();
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
