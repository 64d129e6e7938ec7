//! What the second hostile pass found in carts and orders (issue 22), tried
//! again through HTTP on each backend: the price a customer saw, restocks
//! that break the product's rules, unbounded lists and carts, a doubled
//! Idempotency-Key, guest carts named by their guests and never deleted,
//! and a read model that trails another node's write.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, eventually, nonzero, nonzero64, spawn_app, spawn_app_with, start, TestApp,
    ADMIN_EMAIL,
};
use crate::orders::{add, address, cart_cookie, checkout, product, stock};

async fn checkout_expecting(
    app: &TestApp,
    token: &str,
    address_id: i64,
    expected_subtotal: Value,
) -> reqwest::Response {
    app.send_json(
        Method::POST,
        "/orders",
        Some(token),
        &json!({ "addressId": address_id, "expectedSubtotal": expected_subtotal }),
    )
    .await
}

#[actix_web::test]
async fn a_customer_pays_the_subtotal_they_saw_or_nothing() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Seen dress", 1000, 5).await;
    let token = app.login("seen@example.com").await.token;
    let home = address(&app, &token).await;
    assert_eq!(
        add(&app, &token, dress, "M", 1).await.status(),
        StatusCode::OK
    );
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["subtotal"], 1000);

    let repriced = app
        .send_json(
            Method::PATCH,
            &format!("/products/{dress}"),
            Some(&admin),
            &json!({ "price": 99_999_999 }),
        )
        .await;
    assert_eq!(repriced.status(), StatusCode::OK);
    let refused = assert_problem(
        checkout_expecting(&app, &token, home, json!(1000)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(refused["cart"]["subtotal"], 99_999_999, "{refused}");
    assert_eq!(refused["cart"]["items"][0]["unitPrice"], 99_999_999);
    assert_eq!(stock(&app, dress, "M").await, 5, "no stock was taken");
    let orders: Value = app.get("/orders", Some(&token)).await.json().await.unwrap();
    assert_eq!(orders["total"], 0, "nothing was ordered");
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "the cart stays");

    assert_problem(
        checkout_expecting(&app, &token, home, json!(-1)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_problem(
        checkout_expecting(&app, &token, home, json!("1000")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let placed = checkout_expecting(&app, &token, home, json!(99_999_999)).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await.unwrap();
    assert_eq!(order["subtotal"], 99_999_999);
}

#[actix_web::test]
async fn a_restock_keeps_the_product_valid_and_records_what_went_back() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Restocked dress", 2000, 5).await;
    let token = app.login("restock@example.com").await.token;
    let home = address(&app, &token).await;
    add(&app, &token, dress, "M", 2).await;
    add(&app, &token, dress, "L", 1).await;
    let order: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();

    // The size M fills up to the most a product may hold; L is removed.
    let filled = app
        .send_json(
            Method::PUT,
            &format!("/products/{dress}/variants/M"),
            Some(&admin),
            &json!({ "stock": 999_999_999 }),
        )
        .await;
    assert_eq!(filled.status(), StatusCode::OK);
    let removed = app
        .send_json(
            Method::PATCH,
            &format!("/products/{dress}"),
            Some(&admin),
            &json!({ "variants": [{ "size": "M", "stock": 999_999_999 }] }),
        )
        .await;
    assert_eq!(removed.status(), StatusCode::OK);

    let cancelled = app
        .client
        .post(app.url(&format!("/orders/{}/cancel", order["id"])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    let restocked: Vec<(String, i64, i64)> = cancelled["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| {
            (
                line["size"].as_str().unwrap().to_owned(),
                line["quantity"].as_i64().unwrap(),
                line["restocked"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(restocked.contains(&("M".into(), 2, 1)), "{restocked:?}");
    assert!(restocked.contains(&("L".into(), 1, 0)), "{restocked:?}");

    let after: Value = app
        .get(&format!("/products/{dress}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["variants"],
        json!([{ "size": "M", "stock": 1_000_000_000 }]),
        "capped at the maximum, and the removed size stays removed"
    );
    let patched = app
        .send_json(
            Method::PATCH,
            &format!("/products/{dress}"),
            Some(&admin),
            &json!({ "discountPercentage": 10 }),
        )
        .await;
    assert_eq!(
        patched.status(),
        StatusCode::OK,
        "the product still passes its own rules"
    );
}

#[actix_web::test]
async fn order_lists_come_in_pages_and_a_cart_holds_a_bounded_number_of_lines() {
    let Some(app) = spawn_app_with(|settings| {
        settings.cart.max_lines = nonzero(2);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dresses = [
        product(&app, &admin, "Paged dress one", 1000, 9).await,
        product(&app, &admin, "Paged dress two", 1000, 9).await,
        product(&app, &admin, "Paged dress three", 1000, 9).await,
    ];
    let token = app.login("paged@example.com").await.token;
    let home = address(&app, &token).await;
    let mut placed = Vec::new();
    for dress in dresses {
        add(&app, &token, dress, "M", 1).await;
        let order: Value = checkout(&app, &token, home, None)
            .await
            .json()
            .await
            .unwrap();
        placed.push(order["id"].as_i64().unwrap());
    }
    let page: Value = app
        .get("/orders?limit=2", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [placed[2], placed[1]], "newest first");
    assert_eq!((&page["total"], &page["limit"]), (&json!(3), &json!(2)));
    let rest: Value = app
        .get("/orders?limit=2&offset=2", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"][0]["id"], placed[0]);
    assert_eq!((&rest["total"], &rest["offset"]), (&json!(3), &json!(2)));
    let admin_page: Value = app
        .get("/admin/orders?status=placed&limit=1&offset=1", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin_page["items"][0]["id"], placed[1]);
    assert_eq!(admin_page["total"], 3);
    for bad in [
        "/orders?limit=0",
        "/orders?limit=101",
        "/orders?offset=-1",
        "/orders?limit=ten",
        "/orders?page=2",
    ] {
        assert_problem(app.get(bad, Some(&token)).await, StatusCode::BAD_REQUEST).await;
    }
    assert_problem(
        app.get("/admin/orders?limit=1000", Some(&admin)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    assert_eq!(
        add(&app, &token, dresses[0], "M", 1).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        add(&app, &token, dresses[1], "M", 1).await.status(),
        StatusCode::OK
    );
    let refused = assert_problem(
        add(&app, &token, dresses[2], "M", 1).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("2 lines"),
        "{refused}"
    );
    assert_eq!(
        add(&app, &token, dresses[0], "M", 1).await.status(),
        StatusCode::OK,
        "a line it holds still takes more"
    );
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn two_idempotency_keys_are_refused_not_one_picked() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Keyed dress", 1000, 5).await;
    let token = app.login("keys@example.com").await.token;
    let home = address(&app, &token).await;
    add(&app, &token, dress, "M", 1).await;
    let twice = app
        .client
        .post(app.url("/orders"))
        .bearer_auth(&token)
        .header("Idempotency-Key", "checkout-a")
        .header("Idempotency-Key", "checkout-b")
        .json(&json!({ "addressId": home }))
        .send()
        .await
        .unwrap();
    assert_problem(twice, StatusCode::BAD_REQUEST).await;
    assert_eq!(stock(&app, dress, "M").await, 5, "nothing was ordered");
    assert_eq!(
        checkout(&app, &token, home, Some("checkout-a"))
            .await
            .status(),
        StatusCode::CREATED
    );
}

/// A guest's POST to the cart with the cookie `cart_id` set to `cookie`.
async fn guest_add(app: &TestApp, cookie: Option<&str>, product_id: i64) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/cart/items"))
        .json(&json!({ "productId": product_id, "size": "M", "quantity": 1 }));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("cart_id={cookie}"));
    }
    request.send().await.unwrap()
}

async fn guest_cart(app: &TestApp, cookie: &str) -> Value {
    app.client
        .get(app.url("/cart"))
        .header("cookie", format!("cart_id={cookie}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[actix_web::test]
async fn only_the_server_names_a_guest_cart() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Guest dress", 1000, 50).await;

    // Everyone who sends the nil UUID gets a cart of their own.
    let nil = "00000000-0000-0000-0000-000000000000";
    let first = guest_add(&app, Some(nil), dress).await;
    assert_eq!(first.status(), StatusCode::OK);
    let issued = cart_cookie(&first).expect("a fresh cookie");
    assert_ne!(issued, nil);
    assert!(issued.len() >= 32, "at least 128 bits: {issued}");
    assert_eq!(guest_cart(&app, nil).await["items"], json!([]));
    let second = guest_add(&app, Some(nil), dress).await;
    let other = cart_cookie(&second).expect("another fresh cookie");
    assert_ne!(other, issued);
    assert_eq!(
        guest_cart(&app, &issued).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The database holds no token, only what cannot open a cart.
    let stored = app
        .text_column("SELECT id FROM carts WHERE user_id IS NULL")
        .await;
    assert_eq!(stored.len(), 2);
    assert!(!stored.contains(&issued) && !stored.contains(&other));
    assert_eq!(guest_cart(&app, &stored[0]).await["items"], json!([]));
    let shown = guest_cart(&app, &issued).await;
    assert_ne!(shown["id"], json!(issued), "the body never shows the token");

    // A token changed in any way names no cart.
    assert_eq!(
        guest_cart(&app, &issued.to_uppercase()).await["items"],
        json!([])
    );

    // A made-up id planted in a victim's browser merges nothing into the
    // victim's account; the attacker's items went to a cart of its own.
    let planted = "0b9c7a52-6f0e-4f55-9d1b-7a4a6b7f2e10";
    let attacker = guest_add(&app, Some(planted), dress).await;
    assert_ne!(cart_cookie(&attacker).as_deref(), Some(planted));
    let victim = "victim@example.com";
    app.request_otp(victim).await;
    let code = app.next_code(victim).await;
    let signed_in = app
        .client
        .post(app.url("/auth/otp/verify"))
        .header("cookie", format!("cart_id={planted}"))
        .json(&json!({ "email": victim, "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    let token = signed_in.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"], json!([]), "nothing was planted");

    // The guest's own cart does merge at sign-in.
    let owner = "guest-owner@example.com";
    app.request_otp(owner).await;
    let code = app.next_code(owner).await;
    let signed_in = app
        .client
        .post(app.url("/auth/otp/verify"))
        .header("cookie", format!("cart_id={issued}"))
        .json(&json!({ "email": owner, "otp": code }))
        .send()
        .await
        .unwrap();
    let token = signed_in.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(cart["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn new_guest_carts_are_limited_per_client() {
    let Some(app) = spawn_app_with(|settings| {
        settings.limits.guest_carts_per_minute = nonzero(3);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Limited dress", 1000, 50).await;
    let answers = join_all((0..6).map(|_| guest_add(&app, None, dress))).await;
    let mut cookies = Vec::new();
    let mut limited = 0;
    for answer in answers {
        match answer.status() {
            StatusCode::OK => cookies.push(cart_cookie(&answer).unwrap()),
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(answer.headers().contains_key("retry-after"));
                assert_problem(answer, StatusCode::TOO_MANY_REQUESTS).await;
                limited += 1;
            }
            other => panic!("a new guest cart answered {other}"),
        }
    }
    assert_eq!((cookies.len(), limited), (3, 3));
    let carts = app
        .text_column("SELECT id FROM carts WHERE user_id IS NULL")
        .await;
    assert_eq!(carts.len(), 3, "refused adds made no cart");
    assert_eq!(
        guest_add(&app, Some(&cookies[0]), dress).await.status(),
        StatusCode::OK,
        "a guest with a cart is not a new one"
    );
}

#[actix_web::test]
async fn an_idle_guest_cart_is_deleted_and_a_users_is_not() {
    let Some(app) = spawn_app_with(|settings| {
        settings.cart.guest_ttl_secs = nonzero64(1);
        settings.cart.guest_sweep_secs = nonzero64(1);
    })
    .await
    else {
        return;
    };
    // A second node sweeps too; the round is theirs one at a time.
    let other_node = start(app.settings.clone(), app.resources.clone()).await;
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Idle dress", 1000, 50).await;
    let token = app.login("keeps@example.com").await.token;
    add(&app, &token, dress, "M", 1).await;
    let cookie = cart_cookie(&guest_add(&app, None, dress).await).unwrap();
    assert_eq!(
        guest_cart(&other_node, &cookie).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    eventually("the idle guest cart is deleted", || async {
        app.text_column("SELECT id FROM carts WHERE user_id IS NULL")
            .await
            .is_empty()
    })
    .await;
    assert_eq!(guest_cart(&app, &cookie).await["items"], json!([]));
    let cart: Value = app.get("/cart", Some(&token)).await.json().await.unwrap();
    assert_eq!(
        cart["items"].as_array().unwrap().len(),
        1,
        "a user's cart stays"
    );
    // The token still names a (new, empty) cart: the guest starts again.
    assert_eq!(
        guest_add(&app, Some(&cookie), dress).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_cart_asks_the_store_when_the_catalogue_trails_another_nodes_write() {
    let Some(writer) = spawn_app_with(|settings| {
        // Only the store may tell the other node of the writes.
        settings.catalogue.refresh_secs = nonzero64(3600);
    })
    .await
    else {
        return;
    };
    let reader = start(writer.settings.clone(), writer.resources.clone()).await;
    let admin = writer.login(ADMIN_EMAIL).await.token;
    let token = writer.login("trailing@example.com").await.token;

    let fresh = product(&writer, &admin, "Fresh dress", 1000, 5).await;
    assert_eq!(
        add(&reader, &token, fresh, "M", 2).await.status(),
        StatusCode::OK,
        "a product created on another node a moment ago"
    );

    let sold_out = product(&writer, &admin, "Sold-out dress", 1000, 0).await;
    assert_problem(
        add(&reader, &token, sold_out, "M", 1).await,
        StatusCode::CONFLICT,
    )
    .await;
    eventually(
        "the reader's catalogue caught up on the product",
        || async {
            reader
                .get(&format!("/products/{sold_out}"), None)
                .await
                .status()
                == StatusCode::OK
        },
    )
    .await;
    let restocked = writer
        .send_json(
            Method::PUT,
            &format!("/products/{sold_out}/variants/M"),
            Some(&admin),
            &json!({ "stock": 4 }),
        )
        .await;
    assert_eq!(restocked.status(), StatusCode::OK);
    assert_eq!(
        add(&reader, &token, sold_out, "M", 3).await.status(),
        StatusCode::OK,
        "restocked on another node a moment ago"
    );
    assert_problem(
        add(&reader, &token, sold_out, "M", 2).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(
        add(&reader, &token, fresh + 10_000, "M", 1).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
