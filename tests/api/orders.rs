//! Carts and orders through HTTP, on both backends: the whole journey, no
//! oversell under a crowd of checkouts, idempotent retries, single restocks,
//! prices that follow the catalogue in a cart and stay put in an order,
//! other users' ids, bad input.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp, ADMIN_EMAIL};

pub async fn product(app: &TestApp, admin: &str, title: &str, price: i64, stock: i64) -> i64 {
    let response = app
        .send_json(
            Method::POST,
            "/products",
            Some(admin),
            &json!({
                "title": title,
                "price": price,
                "category": "dresses",
                "variants": [{ "size": "M", "stock": stock }, { "size": "L", "stock": 1 }]
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

pub async fn address(app: &TestApp, token: &str) -> i64 {
    let response = app
        .send_json(
            Method::POST,
            "/users/me/addresses",
            Some(token),
            &json!({ "street": "1 Main St", "city": "Springfield", "zipCode": "62701", "country": "US" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

pub async fn add(
    app: &TestApp,
    token: &str,
    product_id: i64,
    size: &str,
    quantity: i64,
) -> reqwest::Response {
    app.send_json(
        Method::POST,
        "/cart/items",
        Some(token),
        &json!({ "productId": product_id, "size": size, "quantity": quantity }),
    )
    .await
}

pub async fn checkout(
    app: &TestApp,
    token: &str,
    address_id: i64,
    key: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(token)
        .json(&json!({ "addressId": address_id }));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

pub async fn stock(app: &TestApp, product_id: i64, size: &str) -> i64 {
    let product: Value = app
        .get(&format!("/products/{product_id}"), None)
        .await
        .json()
        .await
        .unwrap();
    product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|variant| variant["size"] == size)
        .map(|variant| variant["stock"].as_i64().unwrap())
        .unwrap()
}

pub fn cart_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let pair = value.split(';').next()?;
            let (name, value) = pair.split_once('=')?;
            (name == "cart_id").then(|| value.to_owned())
        })
}

#[actix_web::test]
async fn a_guest_shops_signs_in_orders_and_cancels() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Linen dress", 5000, 5).await;

    // A guest adds to a cart, kept by a cookie.
    let response = app
        .client
        .post(app.url("/cart/items"))
        .json(&json!({ "productId": dress, "size": "M", "quantity": 2 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = cart_cookie(&response).expect("a guest's first change sets cart_id");
    let cart: Value = app
        .client
        .get(app.url("/cart"))
        .header("cookie", format!("cart_id={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cart["items"][0]["quantity"], 2);
    assert_eq!(cart["subtotal"], 10000);

    // Signing in with the cookie merges the guest cart into the user's.
    let email = "shopper@example.com";
    assert_eq!(app.request_otp(email).await.status(), StatusCode::ACCEPTED);
    let code = app.next_code(email).await;
    let response = app
        .client
        .post(app.url("/auth/otp/verify"))
        .header("cookie", format!("cart_id={cookie}"))
        .json(&json!({ "email": email, "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        cart_cookie(&response).as_deref(),
        Some(""),
        "the guest cookie is cleared"
    );
    let token = response.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"][0]["productId"], dress);
    assert_eq!(cart["items"][0]["quantity"], 2);
    let guest_cart: Value = app
        .client
        .get(app.url("/cart"))
        .header("cookie", format!("cart_id={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(guest_cart["items"], json!([]), "the guest cart is gone");

    // Checkout: stock taken, cart emptied, a confirmation mail.
    let address_id = address(&app, &token).await;
    let response = checkout(&app, &token, address_id, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["status"], "placed");
    assert_eq!(order["subtotal"], 10000);
    assert_eq!(order["items"][0]["unitPrice"], 5000);
    assert_eq!(order["shippingAddress"]["city"], "Springfield");
    assert_eq!(stock(&app, dress, "M").await, 3);
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"], json!([]));
    let id = order["id"].as_i64().unwrap();
    let mail = app
        .next_mail(email, &format!("Your storefront order {id}"))
        .await;
    assert!(mail.contains("100.00 USD"), "{mail}");

    let listed: Value = app.get("/orders", Some(&token)).await.json().await.unwrap();
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(
        (&listed["total"], &listed["limit"], &listed["offset"]),
        (&json!(1), &json!(20), &json!(0))
    );
    let fetched: Value = app
        .get(&format!("/orders/{id}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, order);

    // Cancel: stock back once, a cancellation mail; a second cancel is 409.
    let response = app
        .client
        .post(app.url(&format!("/orders/{id}/cancel")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    assert_eq!(stock(&app, dress, "M").await, 5);
    app.next_mail(email, &format!("Your storefront order {id} is cancelled"))
        .await;
    let again = app
        .client
        .post(app.url(&format!("/orders/{id}/cancel")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(again, StatusCode::CONFLICT).await;
    assert_eq!(stock(&app, dress, "M").await, 5, "restocked once");

    // Admins see every order, by status; fulfilling a cancelled one is 409.
    let all: Value = app
        .get("/admin/orders?status=cancelled", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let fulfil = app
        .client
        .post(app.url(&format!("/orders/{id}/fulfil")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(fulfil, StatusCode::CONFLICT).await;
    assert_problem(
        app.get("/admin/orders", Some(&token)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

/// Forty buyers, ten in stock: exactly ten orders, never below zero.
#[actix_web::test]
async fn checkouts_at_the_same_moment_never_oversell() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Limited dress", 9000, 10).await;
    let mut buyers = Vec::new();
    for n in 0..40 {
        let token = app.login(&format!("buyer{n}@example.com")).await.token;
        assert_eq!(
            add(&app, &token, dress, "M", 1).await.status(),
            StatusCode::OK
        );
        let address_id = address(&app, &token).await;
        buyers.push((token, address_id));
    }
    let answers = join_all(
        buyers
            .iter()
            .map(|(token, address_id)| checkout(&app, token, *address_id, None)),
    )
    .await;
    let placed = answers
        .iter()
        .filter(|response| response.status() == StatusCode::CREATED)
        .count();
    let refused = answers
        .iter()
        .filter(|response| response.status() == StatusCode::CONFLICT)
        .count();
    assert_eq!((placed, refused), (10, 30));
    assert_eq!(stock(&app, dress, "M").await, 0);
    let orders: Value = app
        .get("/admin/orders?status=placed", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 10);
    assert_eq!(orders["total"], 10);
}

#[actix_web::test]
async fn a_retried_checkout_gives_the_first_order() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Retry dress", 3000, 5).await;
    let token = app.login("retry@example.com").await.token;
    let home = address(&app, &token).await;
    let office = address(&app, &token).await;
    add(&app, &token, dress, "M", 1).await;

    let first = checkout(&app, &token, home, Some("checkout-42")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = checkout(&app, &token, home, Some("checkout-42")).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(
        stock(&app, dress, "M").await,
        4,
        "one order took stock once"
    );
    assert_problem(
        checkout(&app, &token, office, Some("checkout-42")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(
        checkout(&app, &token, home, Some("bad key with spaces")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    // Without a key, an empty cart is a 409.
    assert_problem(
        checkout(&app, &token, home, None).await,
        StatusCode::CONFLICT,
    )
    .await;
    let orders: Value = app.get("/orders", Some(&token)).await.json().await.unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_cart_follows_prices_and_an_order_keeps_its_own() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Priced dress", 4000, 5).await;
    let gone = product(&app, &admin, "Gone dress", 1000, 5).await;
    let token = app.login("prices@example.com").await.token;
    let home = address(&app, &token).await;
    add(&app, &token, dress, "M", 2).await;

    let patch = |discount: i64| {
        let path = format!("/products/{dress}");
        let app = &app;
        let admin = admin.clone();
        async move {
            app.send_json(
                Method::PATCH,
                &path,
                Some(&admin),
                &json!({ "discountPercentage": discount }),
            )
            .await
        }
    };
    assert_eq!(patch(50).await.status(), StatusCode::OK);
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(
        (
            cart["items"][0]["unitPrice"].as_i64(),
            cart["subtotal"].as_i64()
        ),
        (Some(2000), Some(4000)),
        "the cart shows the price now"
    );

    // A deleted product's line is unavailable, and checkout names it.
    add(&app, &token, gone, "M", 1).await;
    let response = app
        .client
        .delete(app.url(&format!("/products/{gone}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    let line = &cart["items"][1];
    assert_eq!(
        (line["available"].as_bool(), line["title"].as_str()),
        (Some(false), Some("Gone dress"))
    );
    assert_eq!(cart["subtotal"], 4000);
    let refused = assert_problem(
        checkout(&app, &token, home, None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("Gone dress"),
        "{refused}"
    );
    assert_eq!(
        stock(&app, dress, "M").await,
        5,
        "a refused checkout takes nothing"
    );

    let line_id = line["id"].as_i64().unwrap();
    let response = app
        .client
        .delete(app.url(&format!("/cart/items/{line_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let order: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["items"][0]["unitPrice"], 2000);
    assert_eq!(patch(0).await.status(), StatusCode::OK);
    let kept: Value = app
        .get(&format!("/orders/{}", order["id"]), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            kept["items"][0]["unitPrice"].as_i64(),
            kept["subtotal"].as_i64()
        ),
        (Some(2000), Some(4000))
    );
}

#[actix_web::test]
async fn other_users_ids_are_not_found() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Private dress", 2000, 5).await;
    let ana = app.login("ana@example.com").await.token;
    let bob = app.login("bob@example.com").await.token;
    let ana_home = address(&app, &ana).await;
    let cart: Value = add(&app, &ana, dress, "M", 1).await.json().await.unwrap();
    let ana_line = cart["items"][0]["id"].as_i64().unwrap();
    let order: Value = checkout(&app, &ana, ana_home, None)
        .await
        .json()
        .await
        .unwrap();
    let ana_order = order["id"].as_i64().unwrap();

    assert_problem(
        app.get(&format!("/orders/{ana_order}"), Some(&bob)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let cancel = app
        .client
        .post(app.url(&format!("/orders/{ana_order}/cancel")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_problem(cancel, StatusCode::NOT_FOUND).await;
    add(&app, &bob, dress, "M", 1).await;
    assert_problem(
        checkout(&app, &bob, ana_home, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    add(&app, &ana, dress, "M", 1).await;
    let cart: Value = app.get("/cart", Some(&ana)).await.json().await.unwrap();
    let ana_line_now = cart["items"][0]["id"].as_i64().unwrap();
    for line in [ana_line, ana_line_now] {
        assert_problem(
            app.send_json(
                Method::PATCH,
                &format!("/cart/items/{line}"),
                Some(&bob),
                &json!({ "quantity": 3 }),
            )
            .await,
            StatusCode::NOT_FOUND,
        )
        .await;
        let response = app
            .client
            .delete(app.url(&format!("/cart/items/{line}")))
            .bearer_auth(&bob)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::NOT_FOUND).await;
    }
    let cart: Value = app.get("/cart", Some(&ana)).await.json().await.unwrap();
    assert_eq!(cart["items"][0]["quantity"], 1, "Bob changed nothing");
}

#[actix_web::test]
async fn bad_cart_and_order_input_is_refused() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Strict dress", 2000, 5).await;
    let token = app.login("strict@example.com").await.token;

    for (body, status) in [
        (
            json!({ "productId": dress, "size": "M", "quantity": 0 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "productId": dress, "size": "M", "quantity": -1 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "productId": dress, "size": "M", "quantity": 100 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "productId": dress, "size": "M", "quantity": "two" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "productId": dress, "size": "XXXL", "quantity": 1 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "productId": dress, "size": "M", "quantity": 1, "color": "red" }),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "productId": dress + 1000, "size": "M", "quantity": 1 }),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({ "productId": dress, "size": "XL", "quantity": 1 }),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({ "productId": dress, "size": "M", "quantity": 6 }),
            StatusCode::CONFLICT,
        ),
    ] {
        let response = app
            .send_json(Method::POST, "/cart/items", Some(&token), &body)
            .await;
        assert_problem(response, status).await;
    }
    let cart: Value = add(&app, &token, dress, "M", 5).await.json().await.unwrap();
    let line = cart["items"][0]["id"].as_i64().unwrap();
    assert_problem(add(&app, &token, dress, "M", 1).await, StatusCode::CONFLICT).await;
    for (body, status) in [
        (json!({ "quantity": 6 }), StatusCode::CONFLICT),
        (json!({ "quantity": 100 }), StatusCode::BAD_REQUEST),
        (json!({ "quantity": -1 }), StatusCode::BAD_REQUEST),
        (json!({}), StatusCode::BAD_REQUEST),
    ] {
        let response = app
            .send_json(
                Method::PATCH,
                &format!("/cart/items/{line}"),
                Some(&token),
                &body,
            )
            .await;
        assert_problem(response, status).await;
    }
    assert_problem(
        app.send_json(
            Method::PATCH,
            "/cart/items/abc",
            Some(&token),
            &json!({ "quantity": 1 }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let cart: Value = app
        .send_json(
            Method::PATCH,
            &format!("/cart/items/{line}"),
            Some(&token),
            &json!({ "quantity": 0 }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cart["items"], json!([]), "0 removes the line");

    for body in [
        json!({}),
        json!({ "addressId": "x" }),
        json!({ "addressId": 1, "extra": true }),
    ] {
        let response = app
            .send_json(Method::POST, "/orders", Some(&token), &body)
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    assert_problem(
        checkout(&app, &token, 999_999, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        app.get("/orders/abc", Some(&token)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_problem(
        app.get("/orders/999999", Some(&token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(app.get("/orders", None).await, StatusCode::UNAUTHORIZED).await;
    assert_problem(
        app.get("/admin/orders?status=lost", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let forged = app
        .client
        .get(app.url("/cart"))
        .header("cookie", "cart_id=not-a-uuid")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::OK,
        "a forged cookie is just no cart"
    );
    assert_eq!(forged.json::<Value>().await.unwrap()["id"], Value::Null);
}

/// An event committed with its order but not relayed (the node died in
/// between) goes out when a node starts.
#[actix_web::test]
async fn events_left_in_the_outbox_go_out_at_the_next_start() {
    let Some(app) = spawn_app().await else { return };
    let event = r#"{"type":"order.placed","body":{"orderId":77,"userId":1,"email":"late@example.com","total":4200,"currency":"USD"}}"#;
    app.execute_sql(&format!(
        "INSERT INTO outbox (event, created_at) VALUES ('{event}', '2026-11-26T00:00:00Z')"
    ))
    .await;
    let restarted = crate::helpers::start(app.settings.clone(), app.resources.clone()).await;
    let mail = restarted
        .next_mail("late@example.com", "Your storefront order 77")
        .await;
    assert!(mail.contains("42.00 USD"), "{mail}");
}

/// Two sign-ins racing with the same guest cookie (two people on one
/// device) merge the cart once: into one of the two carts, not both.
#[actix_web::test]
async fn a_guest_cart_merges_once_when_two_sign_ins_race() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Racing dress", 5000, 9).await;
    let response = app
        .client
        .post(app.url("/cart/items"))
        .json(&json!({ "productId": dress, "size": "M", "quantity": 3 }))
        .send()
        .await
        .unwrap();
    let cookie = cart_cookie(&response).unwrap();
    let emails = ["first@example.com", "second@example.com"];
    let mut codes = Vec::new();
    for email in emails {
        app.request_otp(email).await;
        codes.push(app.next_code(email).await);
    }
    let sign_ins = emails.iter().zip(&codes).map(|(email, code)| {
        let request = app
            .client
            .post(app.url("/auth/otp/verify"))
            .header("cookie", format!("cart_id={cookie}"))
            .json(&json!({ "email": email, "otp": code }));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    });
    let tokens = join_all(sign_ins).await;
    let mut merged = 0;
    for token in &tokens {
        let cart: Value = app.get("/cart", Some(token)).await.json().await.unwrap();
        merged += cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| line["quantity"].as_i64().unwrap())
            .sum::<i64>();
    }
    assert_eq!(merged, 3, "the guest's 3 went to one cart");
}

/// An admin fulfils (once paid) or cancels anyone's placed order; a
/// fulfilled order cannot be cancelled; `DELETE /cart` empties a cart.
#[actix_web::test]
async fn admins_fulfil_and_cancel_and_a_fulfilled_order_stays() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Admin dress", 3000, 5).await;
    let token = app.login("customer@example.com").await.token;
    let home = address(&app, &token).await;
    let post = |path: String, token: String| {
        let request = app.client.post(app.url(&path)).bearer_auth(token);
        async move { request.send().await.unwrap() }
    };

    add(&app, &token, dress, "M", 1).await;
    let first: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let paid = app
        .client
        .post(app.url(&format!("/orders/{}/pay", first["id"])))
        .bearer_auth(&admin)
        .json(&json!({ "reference": "cash on delivery" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        paid.status(),
        StatusCode::OK,
        "{}",
        paid.text().await.unwrap()
    );
    let response = post(format!("/orders/{}/fulfil", first["id"]), admin.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "fulfilled"
    );
    assert_problem(
        post(format!("/orders/{}/cancel", first["id"]), token.clone()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(
        post(format!("/orders/{}/fulfil", first["id"]), token.clone()).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        stock(&app, dress, "M").await,
        4,
        "a fulfilled order keeps its stock"
    );

    add(&app, &token, dress, "M", 2).await;
    let second: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let response = post(format!("/orders/{}/cancel", second["id"]), admin.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        stock(&app, dress, "M").await,
        4,
        "the admin's cancel restocked"
    );

    add(&app, &token, dress, "M", 1).await;
    let response = app
        .client
        .delete(app.url("/cart"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["items"], json!([]));
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"], json!([]));
}

/// A guest's lines add to the user's at sign-in, capped at the stock.
#[actix_web::test]
async fn a_merged_line_is_capped_at_the_stock() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Scarce dress", 3000, 4).await;
    let email = "capped@example.com";
    let token = app.login(email).await.token;
    assert_eq!(
        add(&app, &token, dress, "M", 2).await.status(),
        StatusCode::OK
    );

    let response = app
        .client
        .post(app.url("/cart/items"))
        .json(&json!({ "productId": dress, "size": "M", "quantity": 3 }))
        .send()
        .await
        .unwrap();
    let cookie = cart_cookie(&response).unwrap();
    app.request_otp(email).await;
    let code = app.next_code(email).await;
    let response = app
        .client
        .post(app.url("/auth/otp/verify"))
        .header("cookie", format!("cart_id={cookie}"))
        .json(&json!({ "email": email, "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        cart["items"][0]["quantity"], 4,
        "2 + 3, capped at the 4 in stock"
    );
    assert_eq!(cart["items"][0]["available"], true);
}

/// A checkout that cannot have every line names each line it cannot have
/// in the problem's `errors` (which line, which product and size, how many
/// asked, how many there are), and takes nothing.
#[actix_web::test]
async fn a_short_checkout_names_each_line_it_cannot_have() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let buyer = app.login("short-lines@example.com").await.token;
    let dress = product(&app, &admin, "Short dress", 4900, 2).await;
    let scarf = product(&app, &admin, "Gone scarf", 1500, 5).await;
    let coat = product(&app, &admin, "Plenty coat", 9900, 9).await;
    let address_id = address(&app, &buyer).await;
    for (id, quantity) in [(dress, 2), (scarf, 1), (coat, 1)] {
        assert_eq!(
            add(&app, &buyer, id, "M", quantity).await.status(),
            StatusCode::OK
        );
    }
    let cart: Value = app.get("/cart", Some(&buyer)).await.json().await.unwrap();
    let line_of = |product_id: i64| {
        cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|item| item["productId"] == product_id)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let restock = app
        .send_json(
            Method::PUT,
            &format!("/products/{dress}/variants/M"),
            Some(&admin),
            &json!({ "stock": 1 }),
        )
        .await;
    assert_eq!(restock.status(), StatusCode::OK);
    let removed = app
        .send_json(
            Method::DELETE,
            &format!("/products/{scarf}"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert!(removed.status().is_success(), "{}", removed.status());

    // The lines a checkout names in its 409.
    let refused_lines = || async {
        let problem = assert_problem(
            checkout(&app, &buyer, address_id, None).await,
            StatusCode::CONFLICT,
        )
        .await;
        problem["errors"].clone()
    };

    // A line no longer sold is named first: its product is gone.
    assert_eq!(
        refused_lines().await,
        json!([{ "itemId": line_of(scarf), "productId": scarf, "title": "Gone scarf",
                 "size": "M", "asked": 1, "available": null }])
    );
    let dropped = app
        .send_json(
            Method::DELETE,
            &format!("/cart/items/{}", line_of(scarf)),
            Some(&buyer),
            &json!({}),
        )
        .await;
    assert_eq!(dropped.status(), StatusCode::OK);
    // Then a line short of stock, with how many there are.
    assert_eq!(
        refused_lines().await,
        json!([{ "itemId": line_of(dress), "productId": dress, "title": "Short dress",
                 "size": "M", "asked": 2, "available": 1 }])
    );
    assert_eq!(stock(&app, dress, "M").await, 1, "nothing was taken");
    assert_eq!(stock(&app, coat, "M").await, 9, "nothing was taken");
    let orders: Value = app.get("/orders", Some(&buyer)).await.json().await.unwrap();
    assert_eq!(orders["total"], 0);
}
