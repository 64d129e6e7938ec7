use actix::prelude::*;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

use storefront::actors::otp::OtpActor;
use storefront::actors::user::UserActor;
use storefront::actors::{ActorError, ActorKind, CallError, Handles, Reply};

use crate::helpers::{assert_problem, spawn_app, spawn_app_with, TestApp, ADMIN_EMAIL};

/// A message whose handler panics at once.
#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ActorError>")]
struct PanicNow;

storefront::wire_name!(PanicNow => "test.panic_now");

impl Handles<PanicNow> for UserActor {
    fn handle(&mut self, _: PanicNow, _: &mut Context<Self>) -> Reply<Result<(), ActorError>> {
        panic!("injected failure in the handler");
    }
}

/// A message whose handler's future panics after an await.
#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "Result<(), ActorError>")]
struct PanicLater;

storefront::wire_name!(PanicLater => "test.panic_later");

/// A message whose handler takes a while, then answers.
#[derive(Message, Serialize, Deserialize)]
#[rtype(result = "Result<u32, ActorError>")]
struct Slow(u32);

storefront::wire_name!(Slow => "test.slow");

impl Handles<Slow> for UserActor {
    fn handle(&mut self, msg: Slow, _: &mut Context<Self>) -> Reply<Result<u32, ActorError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(msg.0)
        })
    }
}

impl Handles<PanicLater> for UserActor {
    fn handle(&mut self, _: PanicLater, _: &mut Context<Self>) -> Reply<Result<(), ActorError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            panic!("injected failure among other requests");
        })
    }
}

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

    let answer = app.registry.get::<UserActor>().call(PanicNow).await;
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

    let answer = app.registry.get::<OtpActor>().call(PanicLater).await;
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
            ("CartActor".to_owned(), 0),
            ("OrderActor".to_owned(), 0),
            ("PaymentActor".to_owned(), 0),
        ]
    );
}

#[actix_web::test]
async fn a_panic_fails_only_its_own_message_while_fifty_others_are_in_flight() {
    let Some(app) = spawn_app_with(|settings| {
        settings.actors.set_instances(ActorKind::User, 2);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let users = app.registry.get::<UserActor>();
    let slow = join_all((0..50).map(|n| users.call(Slow(n))));
    let panic = async {
        // Once the slow ones are spread over both instances.
        tokio::time::sleep(Duration::from_millis(20)).await;
        users.call(PanicLater).await
    };
    let (answers, panicked) = futures_util::join!(slow, panic);
    assert_eq!(panicked.unwrap_err(), CallError::Panicked(ActorKind::User));
    for (n, answer) in answers.into_iter().enumerate() {
        assert_eq!(
            answer.unwrap().unwrap(),
            n as u32,
            "request {n} was cut off"
        );
    }
    let detail = actor(&app, &admin, "UserActor").await;
    assert_eq!(detail["restarts"], 1, "{detail}");
    let instances = detail["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "one entry per instance: {detail}");
    assert_eq!(
        instances
            .iter()
            .map(|instance| instance["restarts"].as_u64().unwrap())
            .sum::<u64>(),
        1
    );
    for instance in instances {
        for key in [
            "id",
            "queued",
            "inFlight",
            "handled",
            "failed",
            "restarts",
            "latencyMs",
        ] {
            assert!(instance.get(key).is_some(), "{key} missing in {instance}");
        }
    }
    // Both slots answer afterwards.
    for n in 0..4 {
        assert_eq!(users.call(Slow(n)).await.unwrap().unwrap(), n);
    }
}

#[actix_web::test]
async fn the_admin_view_shows_each_instance_of_a_kind() {
    let Some(app) = spawn_app_with(|settings| {
        settings.actors.set_instances(ActorKind::Product, 3);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    for _ in 0..9 {
        assert_eq!(app.get("/products", None).await.status(), StatusCode::OK);
    }
    let detail = actor(&app, &admin, "ProductActor").await;
    let instances = detail["instances"].as_array().unwrap();
    assert_eq!(
        instances
            .iter()
            .map(|instance| instance["id"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2]
    );
    let handled: Vec<u64> = instances
        .iter()
        .map(|instance| instance["handled"].as_u64().unwrap())
        .collect();
    assert_eq!(
        handled.iter().sum::<u64>(),
        detail["handled"].as_u64().unwrap()
    );
    assert!(
        handled.iter().all(|count| *count > 0),
        "work is spread: {handled:?}"
    );
    let list: Vec<Value> = app
        .get("/admin/actors", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let product = list.iter().find(|a| a["name"] == "ProductActor").unwrap();
    assert_eq!(product["instances"].as_array().unwrap().len(), 3);
    assert_eq!(product["hosted"], true);
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
    assert_eq!(app.get("/cart", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/orders", Some(&admin)).await.status(),
        StatusCode::OK
    );

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

#[actix_web::test]
async fn instances_serving_requests_run_on_the_http_workers() {
    let Some(app) = spawn_app_with(|settings| {
        settings.server.workers = 2;
        settings.actors.set_instances(ActorKind::Product, 2);
        settings.actors.set_instances(ActorKind::User, 3);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    // A fresh connection each time, so that the server hands them to both
    // workers in turn.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..12 {
        let response = client.get(app.url("/products")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    let workers_of = |detail: &Value| -> Vec<Value> {
        detail["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|instance| instance["worker"].clone())
            .collect()
    };
    let products = actor(&app, &admin, "ProductActor").await;
    assert_eq!(workers_of(&products), [json!(0), json!(1)]);
    assert!(
        products["instances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|instance| instance["handled"].as_u64().unwrap() > 0),
        "each worker called its own instance: {products}"
    );
    let users = actor(&app, &admin, "UserActor").await;
    assert_eq!(workers_of(&users), [json!(0), json!(1), json!(0)]);
    // The mailer's work goes on after the last request: it stays on the
    // node's own threads.
    let mailer = actor(&app, &admin, "MailerActor").await;
    assert!(workers_of(&mailer).iter().all(Value::is_null), "{mailer}");
}

#[actix_web::test]
async fn the_bus_view_counts_events_and_has_no_broker_in_one_process() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.settle().await;
    let bus: Value = app
        .get("/admin/bus", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bus["broker"], Value::Null);
    assert_eq!(bus["outboxBacklog"], 0);
    assert!(bus["events"]["published"].as_u64().unwrap() >= 2, "{bus}");
    assert_eq!(bus["events"]["pending"], 0);
    let nodes: Vec<Value> = app
        .get("/admin/cluster", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nodes.len(), 1, "one process is a cluster of one: {nodes:?}");
    assert_eq!(
        nodes[0]["actors"].as_array().unwrap().len(),
        ActorKind::ROLES.len() + 1,
        "the roles and the PaymentActor beside the orders"
    );
    let customer = app.login("curious@example.com").await.token;
    assert_problem(
        app.get("/admin/bus", Some(&customer)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}
