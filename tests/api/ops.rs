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

/// Every route the app serves, as `method path`, from its route table.
fn routes() -> Vec<String> {
    storefront::http::routes::table()
        .iter()
        .map(|route| format!("{} {}", route.method, route.path))
        .collect()
}

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
    let mut expected = routes();
    expected.sort();
    assert_eq!(documented, expected);

    // And every documented route is served: none answers "no such resource".
    for route in routes() {
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

/// The guards the route table reads from each handler's arguments are the
/// ones the routes keep: a customer is refused every admin route with 403,
/// a caller without a session every session route with 401, and the
/// document says so.
#[actix_web::test]
async fn each_route_keeps_the_guard_its_handler_declares() {
    use storefront::http::guards::Caller;
    let Some(app) = spawn_app().await else { return };
    let customer = app.login("guarded-customer@example.com").await;
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for route in storefront::http::routes::table() {
        let path = route
            .path
            .replace("{id}", "1")
            .replace("{itemId}", "1")
            .replace("{name}", "OtpActor")
            .replace("{size}", "M");
        let request = |token: Option<&str>| {
            let mut request = app
                .client
                .request(route.method.to_uppercase().parse().unwrap(), app.url(&path))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request
        };
        let documented = &spec["paths"][route.path][route.method]["responses"];
        match route.guard.caller {
            Caller::Admin => {
                let status = request(Some(&customer.token))
                    .send()
                    .await
                    .unwrap()
                    .status();
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} {}",
                    route.method,
                    route.path
                );
                assert_eq!(documented["403"]["description"], "Not an admin");
            }
            Caller::Session => {
                let status = request(None).send().await.unwrap().status();
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{} {}",
                    route.method,
                    route.path
                );
                assert!(
                    documented["401"].is_object(),
                    "{} {}",
                    route.method,
                    route.path
                );
            }
            Caller::Anyone => {}
        }
        if route.guard.limited {
            assert!(
                documented["429"].is_object(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
