use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

fn home() -> Value {
    json!({
        "label": "Home",
        "street": "1 Main St",
        "city": "Springfield",
        "state": "IL",
        "zipCode": "62701",
        "country": "US"
    })
}

#[actix_web::test]
async fn profile_can_be_read_and_changed() {
    let Some(app) = spawn_app().await else { return };
    let session = app.login("pat@example.com").await;
    let me: Value = app
        .get("/users/me", Some(&session.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "pat@example.com");
    assert_eq!(me["name"], Value::Null);

    let response = app
        .send_json(
            Method::PATCH,
            "/users/me",
            Some(&session.token),
            &json!({ "name": "  Pat Doe ", "phoneNumber": "+44 20 7946 0958" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "Pat Doe");
    assert_eq!(updated["phoneNumber"], "+44 20 7946 0958");

    // A partial change keeps the other field.
    let updated: Value = app
        .send_json(
            Method::PATCH,
            "/users/me",
            Some(&session.token),
            &json!({ "name": "Pat" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["name"], "Pat");
    assert_eq!(updated["phoneNumber"], "+44 20 7946 0958");

    let body = assert_problem(
        app.send_json(
            Method::PATCH,
            "/users/me",
            Some(&session.token),
            &json!({ "name": "", "phoneNumber": "call me" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(body["errors"]["name"].is_string(), "{body}");
    assert!(body["errors"]["phoneNumber"].is_string(), "{body}");
}

#[actix_web::test]
async fn address_crud() {
    let Some(app) = spawn_app().await else { return };
    let token = app.login("ann@example.com").await.token;

    let response = app
        .send_json(Method::POST, "/users/me/addresses", Some(&token), &home())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/users/me/addresses/{}", created["id"]));
    assert_eq!(
        created["isDefault"], true,
        "the first address is the default"
    );
    assert_eq!(created["zipCode"], "62701");
    assert!(created["createdAt"].is_string() && created["updatedAt"].is_string());

    let fetched: Value = app.get(&location, Some(&token)).await.json().await.unwrap();
    assert_eq!(fetched, created);

    let mut work = home();
    work["label"] = json!("Work");
    work["street"] = json!("9 Office Rd");
    work["isDefault"] = json!(true);
    let work: Value = app
        .send_json(Method::POST, "/users/me/addresses", Some(&token), &work)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(work["isDefault"], true);

    let list: Vec<Value> = app
        .get("/users/me/addresses", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], work["id"], "the default address comes first");
    assert_eq!(list[1]["isDefault"], false, "only one default");

    let response = app
        .send_json(
            Method::PATCH,
            &location,
            Some(&token),
            &json!({ "city": "Shelbyville", "isDefault": true }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["city"], "Shelbyville");
    assert_eq!(patched["street"], "1 Main St");
    assert_eq!(patched["isDefault"], true);
    let list: Vec<Value> = app
        .get("/users/me/addresses", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.iter().filter(|a| a["isDefault"] == true).count(), 1);

    let response = app
        .client
        .delete(app.url(&location))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&location, Some(&token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let list: Vec<Value> = app
        .get("/users/me/addresses", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
}

#[actix_web::test]
async fn another_users_address_is_404() {
    let Some(app) = spawn_app().await else { return };
    let owner = app.login("owner@example.com").await.token;
    let intruder = app.login("intruder@example.com").await.token;
    let created: Value = app
        .send_json(Method::POST, "/users/me/addresses", Some(&owner), &home())
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/users/me/addresses/{}", created["id"]);

    assert_problem(app.get(&path, Some(&intruder)).await, StatusCode::NOT_FOUND).await;
    assert_problem(
        app.send_json(
            Method::PATCH,
            &path,
            Some(&intruder),
            &json!({ "city": "Elsewhere", "isDefault": true }),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&intruder)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND).await;
    let list: Vec<Value> = app
        .get("/users/me/addresses", Some(&intruder))
        .await
        .json()
        .await
        .unwrap();
    assert!(list.is_empty());

    // The owner's address is untouched, still the default.
    let fetched: Value = app.get(&path, Some(&owner)).await.json().await.unwrap();
    assert_eq!(fetched, created);
}

#[actix_web::test]
async fn address_validation() {
    let Some(app) = spawn_app().await else { return };
    let token = app.login("val@example.com").await.token;
    let body = assert_problem(
        app.send_json(
            Method::POST,
            "/users/me/addresses",
            Some(&token),
            &json!({ "street": " ", "zipCode": "12<45" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for field in ["street", "city", "country", "zipCode"] {
        assert!(body["errors"][field].is_string(), "{field}: {body}");
    }
    let mut long = home();
    long["street"] = json!("x".repeat(201));
    let body = assert_problem(
        app.send_json(Method::POST, "/users/me/addresses", Some(&token), &long)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        body["errors"]["street"].as_str().unwrap().contains("200"),
        "{body}"
    );
}

#[actix_web::test]
async fn concurrent_address_writes_keep_one_default() {
    let Some(app) = spawn_app().await else { return };
    let token = app.login("busy@example.com").await.token;
    let bodies: Vec<Value> = (0..8)
        .map(|i| {
            let mut body = home();
            body["street"] = json!(format!("{i} Main St"));
            body["isDefault"] = json!(i % 2 == 0);
            body
        })
        .collect();
    let adds = bodies
        .iter()
        .map(|body| app.send_json(Method::POST, "/users/me/addresses", Some(&token), body));
    for response in futures_util::future::join_all(adds).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let list: Vec<Value> = app
        .get("/users/me/addresses", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 8);
    assert_eq!(list.iter().filter(|a| a["isDefault"] == true).count(), 1);
}
