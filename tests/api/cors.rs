//! A shop's own front end on another origin calls the API with the session
//! cookie: CORS for the origins `server.cors_origins` lists, nothing for
//! the others, never for the admin routes; and a real Chromium on another
//! origin signs in, reads the cart and adds to it, while a page of an
//! origin not listed is refused by the browser.

use actix_web::{web, App, HttpResponse, HttpServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp, ADMIN_EMAIL};
use crate::orders::product;
use storefront::config::Origins;
use storefront_test_support::webdriver::Browser;

const FRONT: &str = "http://front.shop.example";

fn origins(list: &[&str]) -> Origins {
    serde_json::from_value(json!(list)).expect("origins")
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

#[actix_web::test]
async fn listed_origins_get_cors_with_credentials_and_others_get_none() {
    let Some(app) = spawn_app_with(|settings| {
        settings.server.cors_origins = origins(&[FRONT]);
    })
    .await
    else {
        return;
    };
    let allowed = preflight(&app, "/orders", FRONT, "POST").await;
    assert!(allowed.status().is_success(), "{allowed:?}");
    assert_eq!(header(&allowed, "access-control-allow-origin"), Some(FRONT));
    assert_eq!(
        header(&allowed, "access-control-allow-credentials"),
        Some("true")
    );
    let methods = header(&allowed, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.contains("idempotency-key"), "{headers}");
    assert!(header(&allowed, "vary")
        .unwrap()
        .to_ascii_lowercase()
        .contains("origin"));

    let read = app
        .client
        .get(app.url("/products"))
        .header("Origin", FRONT)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(header(&read, "access-control-allow-origin"), Some(FRONT));
    let exposed = header(&read, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("etag") && exposed.contains("x-request-id"),
        "{exposed}"
    );

    for stranger in [
        "http://evil.example",
        "null",
        "http://front.shop.example.evil.example",
    ] {
        let refused = preflight(&app, "/orders", stranger, "POST").await;
        assert!(refused.status().as_u16() < 500, "{refused:?}");
        assert_eq!(
            header(&refused, "access-control-allow-origin"),
            None,
            "{stranger}"
        );
        let read = app
            .client
            .get(app.url("/products"))
            .header("Origin", stranger)
            .send()
            .await
            .unwrap();
        assert_eq!(
            read.status(),
            StatusCode::OK,
            "the answer is the browser's to refuse"
        );
        assert_eq!(header(&read, "access-control-allow-origin"), None);
    }
    // The admin routes and the operator's page answer no other origin.
    for path in ["/admin/actors", "/admin", "/admin/orders"] {
        let admin = preflight(&app, path, FRONT, "GET").await;
        assert_eq!(
            header(&admin, "access-control-allow-origin"),
            None,
            "{path}"
        );
    }
    // A method or header the API does not take is refused before routing,
    // as a problem.
    let bad = preflight(&app, "/products", FRONT, "TRACE").await;
    assert!(bad.status().is_client_error(), "{bad:?}");
    assert_eq!(
        header(&bad, "content-type"),
        Some("application/problem+json")
    );
    assert_eq!(header(&bad, "access-control-allow-origin"), None);
}

#[actix_web::test]
async fn without_listed_origins_the_api_is_same_origin_only() {
    let Some(app) = spawn_app_with(|_| {}).await else {
        return;
    };
    let response = preflight(&app, "/products", FRONT, "GET").await;
    assert!(response.status().as_u16() < 500);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_ne!(
        response.status(),
        StatusCode::METHOD_NOT_ALLOWED,
        "a preflight is answered, not routed"
    );
}

/// The front end's page: every call goes to the API with the cookie.
const FRONT_PAGE: &str = r#"<!doctype html><html><body><script>
window.call = (method, path, body) => {
  window.answer = null;
  fetch(window.api + path, {
    method, credentials: 'include',
    headers: body ? {'Content-Type': 'application/json'} : {},
    body: body ? JSON.stringify(body) : undefined,
  }).then(r => r.json().then(j => window.answer = {status: r.status, body: j}))
    .catch(e => window.answer = {refused: String(e)});
};
</script></body></html>"#;

/// Serves the front end's page on a port of its own: another origin.
fn front_end() -> String {
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|| async {
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(FRONT_PAGE)
        }))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    format!("http://127.0.0.1:{port}")
}

async fn call(browser: &Browser, api: &str, method: &str, path: &str, body: Value) -> Value {
    browser
        .run(&format!(
            "window.api = {api:?}; window.call({method:?}, {path:?}, {body}); return null;"
        ))
        .await;
    browser
        .wait_for("the API's answer", 10, "return window.answer")
        .await
}

#[actix_web::test]
async fn a_front_end_on_another_origin_signs_in_and_shops_with_the_cookie() {
    let Some(browser) = Browser::start((800, 600)).await else {
        return;
    };
    let front = front_end();
    let stranger = front_end();
    let listed = front.clone();
    let Some(app) = spawn_app_with(move |settings| {
        settings.server.cors_origins = origins(&[&listed]);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Cross-origin dress", 2000, 3).await;
    let api = app.address.clone();
    let email = "front@example.com";

    browser.goto(&front).await;
    let asked = call(
        &browser,
        &api,
        "POST",
        "/auth/otp",
        json!({ "email": email }),
    )
    .await;
    assert!(asked["status"].as_u64().unwrap() < 300, "{asked}");
    let code = app.next_code(email).await;
    let verified = call(
        &browser,
        &api,
        "POST",
        "/auth/otp/verify",
        json!({ "email": email, "otp": code }),
    )
    .await;
    assert_eq!(verified["status"], 200, "{verified}");
    let cart = call(&browser, &api, "GET", "/cart", Value::Null).await;
    assert_eq!(cart["status"], 200, "the cookie came along: {cart}");
    let added = call(
        &browser,
        &api,
        "POST",
        "/cart/items",
        json!({ "productId": dress, "size": "M", "quantity": 1 }),
    )
    .await;
    assert_eq!(added["status"], 200, "{added}");
    let me = call(&browser, &api, "GET", "/users/me", Value::Null).await;
    assert_eq!(me["body"]["email"], email, "{me}");

    browser.goto(&stranger).await;
    let refused = call(&browser, &api, "GET", "/products", Value::Null).await;
    assert!(
        refused["refused"].is_string(),
        "the browser keeps the answer from a page of an origin not listed: {refused}"
    );
    let write = call(
        &browser,
        &api,
        "POST",
        "/cart/items",
        json!({ "productId": dress, "size": "M", "quantity": 1 }),
    )
    .await;
    assert!(write["refused"].is_string(), "{write}");
    let session = app.login(email).await.token;
    let cart: Value = app.get("/cart", Some(&session)).await.json().await.unwrap();
    assert_eq!(
        cart["items"][0]["quantity"], 1,
        "the stranger's write did not land: {cart}"
    );
}
