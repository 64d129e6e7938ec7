//! `GET /admin/overview`, the one document the operator's page polls.

use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use storefront::actors::ActorKind;
use storefront::http::overview::FRESH_FOR;

use crate::helpers::{
    assert_no_secret, assert_problem, eventually, spawn_app, TestApp, ADMIN_EMAIL,
};

async fn overview(app: &TestApp, token: &str) -> (String, Value) {
    let response = app.get("/admin/overview", Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap();
    (text, body)
}

#[actix_web::test]
async fn the_overview_is_for_admins_only() {
    let Some(app) = spawn_app().await else { return };
    assert_problem(
        app.get("/admin/overview", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let customer = app.login("curious@example.com").await.token;
    assert_problem(
        app.get("/admin/overview", Some(&customer)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[actix_web::test]
async fn the_overview_shows_this_node_its_kinds_their_past_the_bus_and_the_mail() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let (_, body) = overview(&app, &admin).await;

    assert_eq!(body["sampleEverySecs"], 2);
    let nodes = body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "no bus: this node alone");
    let node = &nodes[0];
    assert_eq!(node["thisNode"], true);
    assert_eq!(node["nodeId"], body["node"]);
    let kinds: Vec<&str> = node["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind["name"].as_str().unwrap())
        .collect();
    let every: Vec<&str> = ActorKind::ALL
        .iter()
        .filter(|kind| app.settings.node.hosts(**kind))
        .map(|kind| kind.actor_name())
        .collect();
    assert_eq!(kinds, every);
    let otp = &node["kinds"][0];
    assert!(otp["handled"].as_u64().unwrap() >= 2, "{otp}");
    assert!(otp["instances"].as_u64().unwrap() >= 1, "{otp}");
    assert!(otp["latencyMs"]["p99"].as_f64().unwrap() > 0.0, "{otp}");
    assert_eq!(body["bus"]["broker"], Value::Null);
    assert_eq!(body["bus"]["outboxBacklog"], 0);
    // The welcome mail may still be on its first try.
    assert!(body["mail"]["parked"].as_u64().unwrap() <= 1, "{body}");
    assert_eq!(body["mail"]["dead"], 0);

    // A sample every two seconds: the sign-in's messages show in the first.
    eventually("a sample of the last window", || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, body) = overview(&app, &admin).await;
        let history = &body["nodes"][0]["kinds"][0]["history"];
        let samples = history["queued"].as_array().unwrap().len();
        samples >= 1
            && history["handledPerSec"].as_array().unwrap().len() == samples
            && history["p99Ms"].as_array().unwrap().len() == samples
    })
    .await;
}

#[actix_web::test]
async fn the_overview_is_rendered_once_per_tick() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let started = std::time::Instant::now();
    let (first, _) = overview(&app, &admin).await;
    // Traffic in between changes the counts, not the document of the tick.
    app.get("/products", None).await;
    let (second, _) = overview(&app, &admin).await;
    // Only while the tick lasts, which a slow machine may outrun.
    if started.elapsed() < FRESH_FOR {
        assert_eq!(first, second);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (third, _) = overview(&app, &admin).await;
    assert_ne!(first, third);
}

#[actix_web::test]
async fn a_parked_sign_in_mail_shows_in_the_overview_without_its_code() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.break_mail();
    let email = "parked@example.com";
    assert_eq!(app.request_otp(email).await.status(), StatusCode::ACCEPTED);
    let seen = std::cell::RefCell::new(String::new());
    eventually("the sign-in mail is parked", || async {
        let (text, body) = overview(&app, &admin).await;
        let parked = body["mail"]["oldest"]
            .as_array()
            .unwrap()
            .iter()
            .any(|mail| mail["recipients"][0] == email);
        *seen.borrow_mut() = text;
        parked
    })
    .await;
    app.fix_mail();
    let code = app.next_code(email).await;
    assert_no_secret(&seen.into_inner(), &[code]);
}
