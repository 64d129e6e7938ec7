//! Sessions and accounts after the second hostile pass (issue 22), through
//! HTTP on each backend: cookie sessions refuse writes from other origins,
//! and a customer can take everything the shop holds of them, or erase it.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, spawn_app, spawn_app_with, start, Backend, TestApp, ADMIN_EMAIL,
};
use crate::orders::{add, address, cart_cookie, checkout, product};

/// A POST signed in by the session cookie, with these headers.
async fn cookie_post(
    app: &TestApp,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("cookie", format!("access_token={token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[actix_web::test]
async fn cookie_sessions_refuse_writes_from_other_origins() {
    let Some(app) = spawn_app_with(|settings| {
        settings.server.cors_origins =
            serde_json::from_value(json!(["https://front.example"])).unwrap();
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Origin dress", 1000, 5).await;
    let token = app.login("origins@example.com").await.token;
    let home = address(&app, &token).await;
    add(&app, &token, dress, "M", 1).await;
    let order: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let cancel = format!("/orders/{}/cancel", order["id"]);
    let own_port = app.address.rsplit(':').next().unwrap().to_owned();
    let sibling = format!("http://127.0.0.1:{}", own_port.parse::<u16>().unwrap() ^ 1);

    for foreign in [
        vec![("origin", "https://evil.example")],
        vec![("origin", sibling.as_str())],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
    ] {
        let refused = assert_problem(
            cookie_post(&app, &cancel, &token, &foreign).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert!(refused["detail"].as_str().unwrap().contains("origin"));
        assert_problem(
            cookie_post(&app, "/auth/logout", &token, &foreign).await,
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let still: Value = app
        .get(&format!("/orders/{}", order["id"]), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["status"], "placed", "nothing changed");
    assert_eq!(
        app.get("/auth/me", Some(&token)).await.status(),
        StatusCode::OK,
        "still signed in"
    );

    // A guest's cart cookie is held to the same rule.
    let guest = app
        .client
        .post(app.url("/cart/items"))
        .json(&json!({ "productId": dress, "size": "M", "quantity": 1 }))
        .send()
        .await
        .unwrap();
    let cart = cart_cookie(&guest).unwrap();
    let planted = app
        .client
        .post(app.url("/cart/items"))
        .header("cookie", format!("cart_id={cart}"))
        .header("origin", "https://evil.example")
        .json(&json!({ "productId": dress, "size": "M", "quantity": 1 }))
        .send()
        .await
        .unwrap();
    assert_problem(planted, StatusCode::FORBIDDEN).await;

    // The token itself, sent on purpose, is not a cross-site write.
    let by_bearer = app
        .client
        .post(app.url(&cancel))
        .bearer_auth(&token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(by_bearer.status(), StatusCode::OK);

    // This server's origin and a listed one are the shop's own.
    let own = app.address.clone();
    let other = app.login("origins@example.com").await.token;
    assert_eq!(
        cookie_post(&app, "/auth/logout", &other, &[("origin", own.as_str())])
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let listed = app.login("origins@example.com").await.token;
    assert_eq!(
        cookie_post(
            &app,
            "/auth/logout",
            &listed,
            &[
                ("origin", "https://front.example"),
                ("sec-fetch-site", "cross-site")
            ]
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let plain = app.login("origins@example.com").await.token;
    assert_eq!(
        cookie_post(&app, "/auth/logout", &plain, &[])
            .await
            .status(),
        StatusCode::NO_CONTENT,
        "a client that names no origin is no browser on another site"
    );
}

#[actix_web::test]
async fn a_customer_takes_their_data_and_erases_their_account_everywhere_at_once() {
    let Some(app) = spawn_app().await else { return };
    let other_node = start(app.settings.clone(), app.resources.clone()).await;
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Erased dress", 1000, 5).await;
    let email = "leaving@example.com";
    let session = app.login(email).await;
    let token = session.token.clone();
    let updated = app
        .send_json(
            Method::PATCH,
            "/users/me",
            Some(&token),
            &json!({ "name": "Ana Leaving", "phoneNumber": "+1 555 0199" }),
        )
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    let home = address(&app, &token).await;
    add(&app, &token, dress, "M", 1).await;
    let order: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    add(&app, &token, dress, "M", 2).await;
    assert_eq!(
        other_node.get("/auth/me", Some(&token)).await.status(),
        StatusCode::OK,
        "the other node knows the session (and keeps its user in memory)"
    );
    assert_eq!(
        app.get("/auth/me", Some(&token)).await.status(),
        StatusCode::OK
    );

    let export = app.get("/users/me/export", Some(&token)).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export
        .headers()
        .get("content-disposition")
        .is_some_and(|value| value.to_str().unwrap().contains("attachment")));
    let export: Value = export.json().await.unwrap();
    assert_eq!(export["user"]["email"], email);
    assert_eq!(export["user"]["name"], "Ana Leaving");
    assert_eq!(export["addresses"][0]["id"], home);
    assert_eq!(export["orders"][0]["id"], order["id"]);
    assert_eq!(export["cart"]["items"][0]["quantity"], 2);

    let erased = app
        .client
        .delete(app.url("/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), StatusCode::NO_CONTENT);
    assert!(erased
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|cookie| cookie.to_str().unwrap().starts_with("access_token=;")));
    // The embedded mode's SQLite file is one node's alone, which keeps its
    // revocations in memory; nodes of a cluster share PostgreSQL or Redis.
    let nodes = match crate::BACKEND {
        Backend::Production => vec![&app, &other_node],
        Backend::Embedded => vec![&app],
    };
    for node in nodes {
        assert_problem(
            node.get("/auth/me", Some(&token)).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert_problem(
            node.get("/users/me/export", Some(&token)).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }

    // The shop keeps the order for its books, with nobody in it.
    let kept: Value = app
        .get(&format!("/orders/{}", order["id"]), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept["subtotal"], 1000);
    assert_eq!(kept["shippingAddress"]["street"], "(erased)");
    assert_eq!(kept["shippingAddress"]["country"], "US");
    let everywhere = app
        .text_column(
            "SELECT email FROM users UNION ALL SELECT email FROM orders
             UNION ALL SELECT shipping_address FROM orders
             UNION ALL SELECT street FROM addresses
             UNION ALL SELECT COALESCE(phone_number, '') FROM users
             UNION ALL SELECT COALESCE(name, '') FROM users",
        )
        .await
        .join("\n");
    for personal in [email, "Ana Leaving", "555 0199", "1 Main St"] {
        assert!(
            !everywhere.contains(personal),
            "{personal} is still stored:\n{everywhere}"
        );
    }

    // The email may come back later, as someone new.
    let again = app.login(email).await;
    assert_ne!(again.id(), session.id());
    let fresh: Value = app
        .get("/users/me/export", Some(&again.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&fresh["orders"], &fresh["addresses"]),
        (&json!([]), &json!([]))
    );
}

#[actix_web::test]
async fn an_admin_erases_an_account_and_a_customer_cannot() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let customer = app.login("erased-by-admin@example.com").await;
    let bystander = app.login("bystander@example.com").await;
    assert_problem(
        app.send_json(
            Method::DELETE,
            &format!("/admin/users/{}", customer.id()),
            Some(&bystander.token),
            &json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let path = format!("/admin/users/{}", customer.id());
    for _ in 0..2 {
        let erased = app
            .client
            .delete(app.url(&path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            erased.status(),
            StatusCode::NO_CONTENT,
            "twice is still done"
        );
    }
    assert_problem(
        app.get("/auth/me", Some(&customer.token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(
        app.get("/auth/me", Some(&bystander.token)).await.status(),
        StatusCode::OK
    );
    for missing in ["/admin/users/999999", "/admin/users/-1"] {
        let answer = app
            .client
            .delete(app.url(missing))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_problem(answer, StatusCode::NOT_FOUND).await;
    }
    let garbage = app
        .client
        .delete(app.url("/admin/users/nope"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(garbage, StatusCode::BAD_REQUEST).await;
}
