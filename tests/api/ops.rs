use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn health_and_readiness() {
    let Some(app) = spawn_app().await else { return };
    let response = app.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let names: Vec<&str> = body["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dependency| {
            assert_eq!(dependency["ok"], true, "{dependency}");
            dependency["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(names, ["kv", "database", "mail"]);
}

#[actix_web::test]
async fn readiness_fails_when_mail_cannot_leave() {
    let Some(app) = spawn_app().await else { return };
    app.break_mail();
    let response = app.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    let mail = body["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|dependency| dependency["name"] == "mail")
        .unwrap();
    assert_eq!(mail["ok"], false);
    assert!(!mail["error"].as_str().unwrap().is_empty(), "{mail}");
}

#[actix_web::test]
async fn metrics_show_requests_and_mailboxes() {
    let Some(app) = spawn_app().await else { return };
    app.login("metrics@example.com").await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    for needle in [
        r#"storefront_http_requests_total{method="POST",route="/auth/otp/verify",status="200"} 1"#,
        r#"storefront_http_request_duration_seconds_bucket{method="POST",route="/auth/otp",status="202""#,
        r#"storefront_actor_messages_handled_total{actor="OtpActor"} "#,
        r#"storefront_actor_mailbox_queued{actor="UserActor"} 0"#,
        r#"storefront_actor_restarts_total{actor="MailerActor"} 0"#,
        r#"storefront_actor_handle_latency_ms{actor="OtpActor",quantile="0.99"}"#,
        "storefront_bus_events_published_total",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
}

#[actix_web::test]
async fn request_ids_are_echoed_or_made() {
    let Some(app) = spawn_app().await else { return };
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app.get("/no/such/route", None).await;
    assert!(!response.headers()["x-request-id"].is_empty());
}

/// Every route the app serves, as `METHOD path`.
const ROUTES: &[&str] = &[
    "post /auth/otp",
    "post /send-otp",
    "post /auth/otp/verify",
    "post /verify-otp",
    "post /auth/logout",
    "get /auth/me",
    "get /users/me",
    "patch /users/me",
    "get /users/me/addresses",
    "post /users/me/addresses",
    "get /users/me/addresses/{id}",
    "patch /users/me/addresses/{id}",
    "delete /users/me/addresses/{id}",
    "get /products",
    "post /products",
    "get /products/{id}",
    "put /products/{id}",
    "patch /products/{id}",
    "delete /products/{id}",
    "put /products/{id}/variants/{size}",
    "get /healthz",
    "get /readyz",
    "get /metrics",
    "get /admin/actors",
    "get /admin/actors/{name}",
    "get /admin/mail",
    "post /admin/mail/{id}/retry",
    "get /cart",
    "delete /cart",
    "post /cart/items",
    "patch /cart/items/{itemId}",
    "delete /cart/items/{itemId}",
    "get /orders",
    "post /orders",
    "get /orders/{id}",
    "post /orders/{id}/cancel",
    "post /orders/{id}/fulfil",
    "get /admin/orders",
    "get /admin/bus",
    "get /admin/cluster",
    "get /admin/overview",
    "delete /users/me",
    "get /users/me/export",
    "delete /admin/users/{id}",
];

#[actix_web::test]
async fn openapi_documents_every_route_and_only_those() {
    let Some(app) = spawn_app().await else { return };
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.push(format!("{method} {path}"));
            }
        }
    }
    documented.sort();
    let mut expected: Vec<String> = ROUTES.iter().map(|route| route.to_string()).collect();
    expected.sort();
    assert_eq!(documented, expected);

    // And every documented route is served: none answers "no such resource".
    for route in ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path
            .replace("{id}", "1")
            .replace("{itemId}", "1")
            .replace("{name}", "OtpActor")
            .replace("{size}", "M");
        let response = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        // A route that is not served answers 405, or 404 "no such resource";
        // a served one may still say 404 about the thing it looked for.
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && body["detail"] != "no such resource",
            "{route} is documented but answers {status} {body}"
        );
    }
}

#[actix_web::test]
async fn docs_page_is_served_without_the_internet() {
    let Some(app) = spawn_app().await else { return };
    let response = app.get("/docs", None).await;
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    let page = app.get("/docs/", None).await.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(
        !page.contains("https://"),
        "the page loads nothing from the internet"
    );
    let bundle = app.get("/docs/swagger-ui-bundle.js", None).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    let initializer = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}
