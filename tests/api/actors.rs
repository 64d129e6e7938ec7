use actix::prelude::*;
use reqwest::StatusCode;
use serde_json::Value;

use storefront::actors::mailbox::{CallError, Handles, Reply};
use storefront::actors::otp::OtpActor;
use storefront::actors::user::UserActor;
use storefront::actors::{ActorError, ActorKind};

use crate::helpers::{assert_problem, spawn_app, TestApp, ADMIN_EMAIL};

/// A message whose handler panics at once.
#[derive(Message)]
#[rtype(result = "Result<(), ActorError>")]
struct PanicNow;

impl Handles<PanicNow> for UserActor {
    fn handle(&mut self, _: PanicNow, _: &mut Context<Self>) -> Reply<Result<(), ActorError>> {
        panic!("injected failure in the handler");
    }
}

/// A message whose handler's future panics after an await.
#[derive(Message)]
#[rtype(result = "Result<(), ActorError>")]
struct PanicLater;

impl Handles<PanicLater> for OtpActor {
    fn handle(&mut self, _: PanicLater, _: &mut Context<Self>) -> Reply<Result<(), ActorError>> {
        Box::pin(async {
            tokio::task::yield_now().await;
            panic!("injected failure in the handler's future");
        })
    }
}

async fn actor(app: &TestApp, token: &str, name: &str) -> Value {
    let response = app.get(&format!("/admin/actors/{name}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[actix_web::test]
async fn a_panicking_actor_is_restarted_and_counted() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let customer = app.login("survivor@example.com").await.token;

    let answer = app.registry.user().call(PanicNow).await;
    assert_eq!(answer.unwrap_err(), CallError::Panicked(ActorKind::User));
    // The next request succeeds on the restarted actor.
    assert_eq!(
        app.get("/users/me", Some(&customer)).await.status(),
        StatusCode::OK
    );
    let user_actor = actor(&app, &admin, "UserActor").await;
    assert_eq!(user_actor["restarts"], 1);
    assert!(user_actor["failed"].as_u64().unwrap() >= 1);
    let outcomes: Vec<&str> = user_actor["recentMessages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"panicked"), "{outcomes:?}");

    let answer = app.registry.otp().call(PanicLater).await;
    assert_eq!(answer.unwrap_err(), CallError::Panicked(ActorKind::Otp));
    assert_eq!(
        app.get("/auth/me", Some(&customer)).await.status(),
        StatusCode::OK
    );
    assert_eq!(actor(&app, &admin, "OtpActor").await["restarts"], 1);

    let list: Vec<Value> = app
        .get("/admin/actors", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let restarts: Vec<(String, u64)> = list
        .iter()
        .map(|actor| {
            (
                actor["name"].as_str().unwrap().to_owned(),
                actor["restarts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        restarts,
        [
            ("OtpActor".to_owned(), 1),
            ("UserActor".to_owned(), 1),
            ("MailerActor".to_owned(), 0),
            ("ProductActor".to_owned(), 0),
        ]
    );
}

#[actix_web::test]
async fn admin_endpoints_refuse_anonymous_and_customers() {
    let Some(app) = spawn_app().await else { return };
    let customer = app.login("nosy@example.com").await.token;
    for path in ["/admin/actors", "/admin/actors/OtpActor"] {
        assert_problem(app.get(path, None).await, StatusCode::UNAUTHORIZED).await;
        assert_problem(app.get(path, Some(&customer)).await, StatusCode::FORBIDDEN).await;
    }
}

#[actix_web::test]
async fn mailboxes_show_counts_latency_and_the_request_id() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let response = app
        .client
        .post(app.url("/auth/otp"))
        .header("x-request-id", "trace-me-42")
        .json(&serde_json::json!({ "email": "traced@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    app.next_code("traced@example.com").await;
    assert_eq!(app.get("/products", None).await.status(), StatusCode::OK);

    let list: Vec<Value> = app
        .get("/admin/actors", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    for actor in &list {
        for key in [
            "name",
            "node",
            "hosted",
            "queued",
            "inFlight",
            "handled",
            "failed",
            "restarts",
            "latencyMs",
            "lastMessageAt",
        ] {
            assert!(actor.get(key).is_some(), "{key} missing in {actor}");
        }
        assert!(actor["handled"].as_u64().unwrap() > 0, "{actor}");
        assert!(
            actor["latencyMs"]["max"].as_f64().unwrap()
                >= actor["latencyMs"]["p50"].as_f64().unwrap()
        );
    }

    // The request id follows the request into the OTP actor and, through the
    // event it published, into the mailer.
    for name in ["OtpActor", "MailerActor"] {
        let detail = actor(&app, &admin, name).await;
        let traced = detail["recentMessages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|record| record["correlationId"] == "trace-me-42")
            .unwrap_or_else(|| panic!("{name} did not see the request id: {detail}"));
        assert_eq!(traced["outcome"], "ok");
        assert!(
            traced["type"].is_string()
                && traced["tookMs"].is_number()
                && traced["receivedAt"].is_string()
        );
    }
}
