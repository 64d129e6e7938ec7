//! Mail against a real SMTP server that misbehaves.

use futures_util::future::join_all;
use reqwest::StatusCode;
use std::time::Duration;

use crate::helpers::{eventually, nonzero64, spawn_app_with, ADMIN_EMAIL};

#[actix_web::test]
async fn a_server_slow_to_accept_data_gets_each_mail_once() {
    // The first try waits half the call timeout (1 s) for the server, which
    // takes 3 s to accept the message: the try goes on, leased, and nothing
    // else sends the mail meanwhile.
    let Some(app) = spawn_app_with(|settings| {
        settings.actors.call_timeout_ms = nonzero64(2000);
        settings.mail.smtp_timeout_secs = nonzero64(10);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.smtp_inbox().unwrap().delay_data(Duration::from_secs(3));
    assert_eq!(
        app.request_otp("slow@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.next_code("slow@example.com").await;
    eventually("the delivered mail leaves the queue", || async {
        let queue: Vec<serde_json::Value> = app
            .get("/admin/mail", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        queue
            .iter()
            .all(|mail| mail["recipients"][0] != "slow@example.com")
    })
    .await;
    assert_eq!(
        app.mails_to("slow@example.com").len(),
        1,
        "the code came twice"
    );
    app.smtp_inbox().unwrap().delay_data(Duration::ZERO);
    assert_eq!(
        app.verify("slow@example.com", &code).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn readiness_asks_the_smtp_server_at_most_every_few_seconds() {
    let Some(app) = spawn_app_with(|settings| {
        settings.mail.smtp_check_interval_secs = nonzero64(60);
    })
    .await
    else {
        return;
    };
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
    let before = app.smtp_inbox().unwrap().connections();
    let answers = join_all((0..50).map(|_| app.get("/readyz", None))).await;
    assert!(answers.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(
        app.smtp_inbox().unwrap().connections(),
        before,
        "readiness opened SMTP connections"
    );
}
