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
        assert!(Instant::now() < deadline, "mail queue stayed at {queued:?}");
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
    let queued = wait_for_queue(&app, &admin, "down@example.com", |queued| {
        !queued.is_empty()
    })
    .await;
    assert_eq!(queued[0]["dead"], false);
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
    assert_eq!(app.get("/readyz", None).await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn dead_mail_is_kept_and_can_be_retried_by_an_operator() {
    let Some(app) = spawn_app_with(|settings| settings.mail.retry_max_attempts = 1).await else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.break_mail();
    app.request_otp("dead@example.com").await;
    let queued = wait_for_queue(&app, &admin, "dead@example.com", |queued| {
        queued.first().is_some_and(|m| m["dead"] == true)
    })
    .await;
    // Dead mail stays dead while the server is back...
    resume_smtp(&app);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(app.mails_to("dead@example.com").is_empty());
    // ...until an operator retries it.
    let id = queued[0]["id"].as_i64().unwrap();
    let customer = app.login("nosy@example.com").await.token;
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
    app.next_code("dead@example.com").await;
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
        .settings
        .database
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
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
        settings.kv.url = "redis://127.0.0.1:1/0".into();
        settings.kv.timeout_ms = 300;
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
