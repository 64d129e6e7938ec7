//! Dependencies that fail under the running app.

use reqwest::StatusCode;
use serde_json::Value;
use std::time::{Duration, Instant};

use crate::helpers::{production_services, spawn_app, spawn_app_with, TestApp, ADMIN_EMAIL};

async fn mail_queue(app: &TestApp, admin: &str) -> Vec<Value> {
    let response = app.get("/admin/mail", Some(admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Polls the mail queue until `done` holds for the mails to `email`.
async fn wait_for_queue(
    app: &TestApp,
    admin: &str,
    email: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let queued: Vec<Value> = mail_queue(app, admin)
            .await
            .into_iter()
            .filter(|mail| mail["recipients"][0] == email)
            .collect();
        if done(&queued) {
            return queued;
        }
        assert!(
            Instant::now() < deadline,
            "the mail queue of {email} stayed at {queued:?}; all: {:?}; delivered: {:?}",
            mail_queue(app, admin).await,
            app.mails_to(email)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn resume_smtp(app: &TestApp) {
    app.resources
        .smtp
        .as_ref()
        .unwrap()
        .lock()
        .unwrap()
        .resume();
}

#[actix_web::test]
async fn mail_sent_while_smtp_is_down_arrives_when_it_is_back() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.break_mail();

    assert_eq!(
        app.request_otp("down@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    // Every mail is in the queue from before its first try; a failed try
    // leaves its error there.
    let queued = wait_for_queue(&app, &admin, "down@example.com", |queued| {
        queued.first().is_some_and(|mail| mail["lastError"] != "")
    })
    .await;
    assert_eq!(queued[0]["dead"], false);
    assert_eq!(queued[0]["kind"], "sign_in_code");
    assert!(
        queued[0]["lastError"].as_str().unwrap().contains("SMTP"),
        "{queued:?}"
    );
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    resume_smtp(&app);
    let code = app.next_code("down@example.com").await;
    assert_eq!(
        app.verify("down@example.com", &code).await.status(),
        StatusCode::OK
    );
    wait_for_queue(&app, &admin, "down@example.com", |queued| queued.is_empty()).await;
    // Readiness answers from its last SMTP check for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/readyz", None).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "readiness never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn dead_mail_is_kept_and_can_be_retried_by_an_operator() {
    let Some(app) =
        spawn_app_with(|settings| settings.mail.retry_max_attempts = crate::helpers::nonzero(2))
            .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let customer = app.login("nosy@example.com").await.token;
    // The welcome mail of a first login goes out while SMTP is down, and
    // dies at its second try.
    app.request_otp("dead@example.com").await;
    let code = app.next_code("dead@example.com").await;
    app.break_mail();
    assert_eq!(
        app.verify("dead@example.com", &code).await.status(),
        StatusCode::OK
    );
    let queued = wait_for_queue(&app, &admin, "dead@example.com", |queued| {
        queued.first().is_some_and(|m| m["dead"] == true)
    })
    .await;
    assert_eq!(queued[0]["kind"], "welcome");

    // A code mail queued meanwhile is retried once SMTP is back; when it has
    // arrived, a retry round ran with the server up, and left the dead mail alone.
    assert_eq!(
        app.request_otp("later@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    wait_for_queue(&app, &admin, "later@example.com", |queued| {
        queued.first().is_some_and(|m| m["lastError"] != "")
    })
    .await;
    resume_smtp(&app);
    app.next_code("later@example.com").await;
    assert!(
        app.mails_to("dead@example.com").len() == 1,
        "only its code mail arrived"
    );
    assert_eq!(
        wait_for_queue(&app, &admin, "dead@example.com", |queued| !queued
            .is_empty())
        .await[0]["dead"],
        true
    );

    // An operator retries it.
    let id = queued[0]["id"].as_i64().unwrap();
    let path = format!("/admin/mail/{id}/retry");
    let forbidden = app
        .client
        .post(app.url(&path))
        .bearer_auth(&customer)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.next_mail("dead@example.com", "Welcome to storefront")
        .await;
    wait_for_queue(&app, &admin, "dead@example.com", |queued| queued.is_empty()).await;
    let missing = app
        .client
        .post(app.url("/admin/mail/999999/retry"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn killed_database_connections_are_replaced_without_a_restart() {
    let Some(services) = production_services().await else {
        return;
    };
    let Some(app) = spawn_app().await else { return };
    let session = app.login("pg@example.com").await;
    let database = app
        .resources
        .database
        .as_ref()
        .expect("a test database")
        .name
        .clone();
    let admin = sqlx::PgPool::connect(&services.postgres).await.unwrap();
    let (killed,): (i64,) = sqlx::query_as(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&database)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(killed >= 1, "the app held no connection");
    for _ in 0..5 {
        assert_eq!(
            app.get("/users/me", Some(&session.token)).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn redis_down_is_a_503_and_shows_in_readiness() {
    let Some(app) = spawn_app_with(|settings| {
        // Nothing listens on port 1.
        settings.kv.url = storefront::config::KvUrl::Redis(
            storefront::config::SecretUrl::parse("redis://127.0.0.1:1/0").unwrap(),
        );
        settings.kv.timeout_ms = crate::helpers::nonzero64(300);
    })
    .await
    else {
        return;
    };
    let response = app.request_otp("nokv@example.com").await;
    crate::helpers::assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    let states: Vec<(String, bool)> = body["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap().to_owned(),
                d["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("kv".to_owned(), false),
            ("database".to_owned(), true),
            ("mail".to_owned(), true)
        ]
    );
}
