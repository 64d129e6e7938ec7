use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp};

/// Every endpoint that takes a JSON body, with whether `{}` is incomplete.
fn json_endpoints(address_id: i64) -> Vec<(Method, String, bool)> {
    vec![
        (Method::POST, "/auth/otp".into(), true),
        (Method::POST, "/send-otp".into(), true),
        (Method::POST, "/auth/otp/verify".into(), true),
        (Method::POST, "/verify-otp".into(), true),
        (Method::PATCH, "/users/me".into(), false),
        (Method::POST, "/users/me/addresses".into(), true),
        (
            Method::PATCH,
            format!("/users/me/addresses/{address_id}"),
            false,
        ),
    ]
}

async fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent")
}

#[actix_web::test]
async fn bad_bodies_get_problem_json_4xx_on_every_endpoint() {
    let Some(app) = spawn_app().await else { return };
    let token = app.login("bad@example.com").await.token;
    let address: Value = app
        .send_json(
            Method::POST,
            "/users/me/addresses",
            Some(&token),
            &json!({ "street": "1 Main St", "city": "Springfield", "zipCode": "62701", "country": "US" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let json_type = "application/json";

    for (method, path, needs_fields) in json_endpoints(address["id"].as_i64().unwrap()) {
        let cases: Vec<(&str, &str, Vec<u8>, StatusCode)> = vec![
            (
                "malformed JSON",
                json_type,
                b"{\"email\": ".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "not an object",
                json_type,
                b"[1, 2, 3]".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "wrong types",
                json_type,
                br#"{"email": 5, "otp": true, "name": 7, "street": [], "city": {}}"#.to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "unknown field",
                json_type,
                br#"{"email": "a@example.com", "otp": "123456", "isAdmin": true}"#.to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (
                "1 MB body",
                json_type,
                format!("{{\"email\": \"{}\"}}", "a".repeat(1 << 20)).into_bytes(),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "not JSON content",
                "text/plain",
                br#"{"email": "a@example.com"}"#.to_vec(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            ("empty body", json_type, Vec::new(), StatusCode::BAD_REQUEST),
        ];
        for (case, content_type, body, status) in cases {
            let response = raw(&app, method.clone(), &path, &token, content_type, body).await;
            assert_eq!(response.status(), status, "{case} on {method} {path}");
            assert_problem(response, status).await;
        }
        if needs_fields {
            let response = raw(
                &app,
                method.clone(),
                &path,
                &token,
                json_type,
                b"{}".to_vec(),
            )
            .await;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "missing fields on {method} {path}"
            );
            let body = assert_problem(response, StatusCode::BAD_REQUEST).await;
            assert!(!body["detail"].as_str().unwrap().is_empty());
        }
    }
}

#[actix_web::test]
async fn invalid_values_name_their_fields() {
    let Some(app) = spawn_app().await else { return };
    let body = assert_problem(
        app.post_json("/auth/otp", &json!({ "email": "not-an-email" }))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"]["email"].is_string(), "{body}");
    let body = assert_problem(
        app.post_json(
            "/auth/otp",
            &json!({ "email": "a@example.com", "phoneNumber": "nope" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"]["phoneNumber"].is_string(), "{body}");
    let body = assert_problem(
        app.post_json(
            "/auth/otp/verify",
            &json!({ "email": "nope", "otp": "12ab56" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        body["errors"]["email"].is_string() && body["errors"]["otp"].is_string(),
        "{body}"
    );
    let body = assert_problem(
        app.post_json(
            "/auth/otp/verify",
            &json!({ "email": "a@example.com", "otp": "1234567" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"]["otp"].is_string(), "{body}");
}

#[actix_web::test]
async fn bad_ids_unknown_routes_and_methods() {
    let Some(app) = spawn_app().await else { return };
    let token = app.login("ids@example.com").await.token;
    for id in ["abc", "99999999999999999999", "1.5"] {
        let path = format!("/users/me/addresses/{id}");
        assert_problem(app.get(&path, Some(&token)).await, StatusCode::BAD_REQUEST).await;
    }
    for id in ["0", "-1", "123456"] {
        let path = format!("/users/me/addresses/{id}");
        assert_problem(app.get(&path, Some(&token)).await, StatusCode::NOT_FOUND).await;
    }
    assert_problem(app.get("/no/such/route", None).await, StatusCode::NOT_FOUND).await;
    let response = app.client.put(app.url("/healthz")).send().await.unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    let response = app.client.get(app.url("/auth/otp")).send().await.unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_problem(
        app.get(
            "/admin/actors/NoSuchActor",
            Some(&app.login(crate::helpers::ADMIN_EMAIL).await.token),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[actix_web::test]
async fn hostile_request_ids_are_replaced() {
    let Some(app) = spawn_app().await else { return };
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(500))
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(id.len() < 100 && !id.is_empty(), "{id}");
}
