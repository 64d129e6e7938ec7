//! Checkouts racing each other and the admin's stock writes on PostgreSQL,
//! whose row locks can deadlock where SQLite's one writer cannot: every
//! answer is the order or a refusal of it, never a 5xx, and the orders in
//! the database are exactly the ones answered 201.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, ADMIN_EMAIL};

async fn new_product(app: &TestApp, admin: &str, title: &str, stock: i64) -> i64 {
    let response = app
        .send_json(
            Method::POST,
            "/products",
            Some(admin),
            &json!({
                "title": title,
                "price": 1000,
                "category": "dresses",
                "variants": [{ "size": "M", "stock": stock }]
            }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// A customer signed in, with an address, whose cart holds one of each of
/// `products`, added in that order.
async fn customer(app: &TestApp, email: &str, products: &[i64]) -> (String, i64) {
    let token = app.login(email).await.token;
    let address = app
        .send_json(
            Method::POST,
            "/users/me/addresses",
            Some(&token),
            &json!({ "street": "1 Main St", "city": "Springfield", "zipCode": "62701", "country": "US" }),
        )
        .await;
    assert_eq!(address.status(), StatusCode::CREATED);
    let address = address.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    for product in products {
        let added = app
            .send_json(
                Method::POST,
                "/cart/items",
                Some(&token),
                &json!({ "productId": product, "size": "M", "quantity": 1 }),
            )
            .await;
        assert_eq!(added.status(), StatusCode::OK);
    }
    (token, address)
}

async fn place(app: &TestApp, token: &str, address: i64) -> StatusCode {
    app.send_json(
        Method::POST,
        "/orders",
        Some(token),
        &json!({ "addressId": address }),
    )
    .await
    .status()
}

/// Deadlocks PostgreSQL detected in the test's database. Backends report
/// their counts within a second of going idle.
async fn deadlocks(app: &TestApp) -> i64 {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    app.text_column(
        "SELECT CAST(deadlocks AS TEXT) FROM pg_stat_database WHERE datname = current_database()",
    )
    .await[0]
        .parse()
        .unwrap()
}

async fn orders_stored(app: &TestApp) -> usize {
    app.text_column("SELECT CAST(COUNT(*) AS TEXT) FROM orders")
        .await[0]
        .parse()
        .unwrap()
}

/// Every status is one of `allowed`, and the 201s are the orders stored.
async fn assert_answered(app: &TestApp, statuses: &[StatusCode]) -> usize {
    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::CREATED || *status == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let placed = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    assert_eq!(orders_stored(app).await, placed, "{statuses:?}");
    placed
}

#[actix_web::test]
async fn thirty_checkouts_among_three_stock_writes_never_deadlock() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = new_product(&app, &admin, "Contended dress", 20).await;
    let scarf = new_product(&app, &admin, "Contended scarf", 20).await;
    let mut customers = Vec::new();
    for n in 0..30 {
        customers.push(customer(&app, &format!("crowd{n}@example.com"), &[]).await);
    }
    let mut statuses = Vec::new();
    // Three bursts: a deadlock is a matter of timing.
    for _ in 0..3 {
        for (token, _) in &customers {
            app.client
                .delete(app.url("/cart"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            for product in [dress, scarf] {
                app.send_json(
                    Method::POST,
                    "/cart/items",
                    Some(token),
                    &json!({ "productId": product, "size": "M", "quantity": 1 }),
                )
                .await;
            }
        }
        let checkouts = customers
            .iter()
            .map(|(token, address)| place(&app, token, *address));
        let stock_writes = [dress, scarf, dress].map(|product| {
            let app = &app;
            let admin = &admin;
            async move {
                app.send_json(
                    Method::PUT,
                    &format!("/products/{product}/variants/M"),
                    Some(admin),
                    &json!({ "stock": 25 }),
                )
                .await
                .status()
            }
        });
        let (burst, writes) = futures_util::join!(join_all(checkouts), join_all(stock_writes));
        assert!(
            writes.iter().all(|status| *status == StatusCode::OK),
            "{writes:?}"
        );
        statuses.extend(burst);
    }
    let placed = assert_answered(&app, &statuses).await;
    assert!(placed > 0, "{statuses:?}");
    assert_eq!(deadlocks(&app).await, 0);
}

#[actix_web::test]
async fn sixty_checkouts_of_carts_in_opposite_orders_never_deadlock() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let first = new_product(&app, &admin, "First dress", 45).await;
    let second = new_product(&app, &admin, "Second dress", 45).await;
    let mut customers = Vec::new();
    for n in 0..60 {
        let order = if n % 2 == 0 {
            [first, second]
        } else {
            [second, first]
        };
        customers.push(customer(&app, &format!("opposite{n}@example.com"), &order).await);
    }
    let statuses = join_all(
        customers
            .iter()
            .map(|(token, address)| place(&app, token, *address)),
    )
    .await;
    let placed = assert_answered(&app, &statuses).await;
    assert_eq!(placed, 45, "every unit sold, none twice: {statuses:?}");
    assert_eq!(deadlocks(&app).await, 0);
    for product in [first, second] {
        let stored = app
            .text_column(&format!(
                "SELECT CAST(stock AS TEXT) FROM product_variants WHERE product_id = {product}"
            ))
            .await;
        assert_eq!(stored, ["0"]);
    }
}
