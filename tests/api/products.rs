use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{
    assert_problem, nonzero64, spawn_app, spawn_app_with, start, TestApp, ADMIN_EMAIL,
};

fn dress() -> Value {
    json!({
        "title": "Linen summer dress",
        "description": "A light dress for hot days.",
        "price": 5000,
        "discountPercentage": 15,
        "category": "dresses",
        "dressType": "maxi",
        "relevantKeywords": ["linen", "summer"],
        "imageUrl": ["https://cdn.example.com/dress.jpg"],
        "faq": [{ "question": "Is it lined?", "answer": "No." }],
        "variants": [{ "size": "M", "stock": 3 }, { "size": "S", "stock": 0 }]
    })
}

async fn create(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = app
        .send_json(Method::POST, "/products", Some(token), body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "creating {body}");
    response.json().await.unwrap()
}

async fn list(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/products?{query}"), None).await;
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn admins_write_and_a_read_after_a_write_is_fresh() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;

    let response = app
        .send_json(Method::POST, "/products", Some(&admin), &dress())
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/products/{}", created["id"]));
    assert_eq!(created["finalPrice"], 4250);
    assert_eq!(created["currency"], "USD");
    assert_eq!(
        created["variants"],
        json!([{ "size": "S", "stock": 0 }, { "size": "M", "stock": 3 }])
    );
    assert_eq!(created["faq"][0]["answer"], "No.");

    // Read twice, then write and read again.
    for _ in 0..2 {
        let fetched: Value = app.get(&location, None).await.json().await.unwrap();
        assert_eq!(fetched, created);
    }
    let patched: Value = app
        .send_json(
            Method::PATCH,
            &location,
            Some(&admin),
            &json!({ "discountPercentage": 50 }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (patched["finalPrice"].as_i64(), patched["title"].as_str()),
        (Some(2500), Some("Linen summer dress"))
    );
    let fetched: Value = app.get(&location, None).await.json().await.unwrap();
    assert_eq!(fetched["finalPrice"], 2500, "a read after a write sees it");

    let response = app
        .send_json(
            Method::PUT,
            &format!("{location}/variants/XL"),
            Some(&admin),
            &json!({ "stock": 7 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fetched: Value = app.get(&location, None).await.json().await.unwrap();
    assert_eq!(fetched["variants"][2], json!({ "size": "XL", "stock": 7 }));
    // A PATCH without variants leaves the stock levels alone.
    let patched: Value = app
        .send_json(
            Method::PATCH,
            &location,
            Some(&admin),
            &json!({ "title": "Linen dress" }),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(patched["variants"], fetched["variants"]);

    let mut replacement = dress();
    replacement["title"] = json!("Cotton dress");
    replacement["variants"] = json!([{ "size": "L", "stock": 1 }]);
    let replaced: Value = app
        .send_json(Method::PUT, &location, Some(&admin), &replacement)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replaced["title"], "Cotton dress");
    let fetched: Value = app.get(&location, None).await.json().await.unwrap();
    assert_eq!(fetched["variants"], json!([{ "size": "L", "stock": 1 }]));

    // Every write published `product.changed`, which ProductActor consumes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let actor: Value = app
            .get("/admin/actors/ProductActor", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        let events = actor["recentMessages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|record| record["type"] == "DeliverEvent")
            .count();
        if events >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "product.changed not seen: {actor}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let response = app
        .client
        .delete(app.url(&location))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&location, None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(list(&app, "").await["total"], 0);
    let response = app
        .client
        .delete(app.url(&location))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::NOT_FOUND).await;
}

#[actix_web::test]
async fn customers_and_anonymous_cannot_write() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let customer = app.login("shopper@example.com").await.token;
    let id = create(&app, &admin, &dress()).await["id"].clone();
    let writes = [
        (Method::POST, "/products".to_owned(), dress()),
        (Method::PUT, format!("/products/{id}"), dress()),
        (
            Method::PATCH,
            format!("/products/{id}"),
            json!({ "price": 1 }),
        ),
        (Method::DELETE, format!("/products/{id}"), json!({})),
        (
            Method::PUT,
            format!("/products/{id}/variants/M"),
            json!({ "stock": 1 }),
        ),
    ];
    for (method, path, body) in writes {
        let anonymous = app.send_json(method.clone(), &path, None, &body).await;
        assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
        let refused = app
            .send_json(method.clone(), &path, Some(&customer), &body)
            .await;
        assert_problem(refused, StatusCode::FORBIDDEN).await;
    }
    let unchanged: Value = app
        .get(&format!("/products/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unchanged["price"], 5000);
}

#[actix_web::test]
async fn invalid_products_are_400_naming_the_field() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let id = create(&app, &admin, &dress()).await["id"].clone();
    let cases = [
        ("title", json!("  ")),
        ("title", json!("x".repeat(201))),
        ("price", json!(-1)),
        ("discountPercentage", json!(101)),
        ("imageUrl", json!(["javascript:alert(1)"])),
        ("imageUrl", json!(["not a url"])),
        (
            "variants",
            json!([{ "size": "M", "stock": 1 }, { "size": "M", "stock": 2 }]),
        ),
        ("variants", json!([{ "size": "M", "stock": -3 }])),
    ];
    for (field, value) in cases {
        let mut body = dress();
        body[field] = value.clone();
        let problem = assert_problem(
            app.send_json(Method::POST, "/products", Some(&admin), &body)
                .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            problem["errors"][field].is_string(),
            "{field}={value}: {problem}"
        );
        let problem = assert_problem(
            app.send_json(
                Method::PATCH,
                &format!("/products/{id}"),
                Some(&admin),
                &json!({ field: value }),
            )
            .await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            problem["errors"][field].is_string(),
            "PATCH {field}={value}: {problem}"
        );
    }
    // A size outside S..XXL is not even a size.
    let mut body = dress();
    body["variants"] = json!([{ "size": "XXXL", "stock": 1 }]);
    assert_problem(
        app.send_json(Method::POST, "/products", Some(&admin), &body)
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let problem = assert_problem(
        app.send_json(
            Method::PUT,
            &format!("/products/{id}/variants/XXXL"),
            Some(&admin),
            &json!({ "stock": 1 }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(problem["errors"]["size"].is_string(), "{problem}");
    let problem = assert_problem(
        app.send_json(
            Method::PUT,
            &format!("/products/{id}/variants/M"),
            Some(&admin),
            &json!({ "stock": -1 }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(problem["errors"]["stock"].is_string(), "{problem}");
    let problem = assert_problem(
        app.send_json(
            Method::POST,
            "/products",
            Some(&admin),
            &json!({ "description": "no title" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for field in ["title", "price", "category"] {
        assert!(problem["errors"][field].is_string(), "{problem}");
    }
    assert_problem(
        app.get("/products/abc", None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_problem(
        app.get("/products/424242", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// A small catalogue: (title, description, category, price, discount, keywords, variants).
async fn seed(app: &TestApp, admin: &str) {
    let products = [
        (
            "Silk scarf",
            "A soft square for cool evenings.",
            "accessories",
            3000,
            0,
            vec!["gift"],
            json!([{ "size": "M", "stock": 5 }]),
        ),
        (
            "Evening gown",
            "Floor length, lined with silk.",
            "dresses",
            20000,
            50,
            vec!["party"],
            json!([{ "size": "S", "stock": 1 }, { "size": "L", "stock": 0 }]),
        ),
        (
            "Denim jacket",
            "Washed blue denim.",
            "jackets",
            8000,
            0,
            vec!["casual", "spring"],
            json!([{ "size": "XL", "stock": 2 }]),
        ),
        (
            "Rain coat",
            "Keeps you dry.",
            "jackets",
            12000,
            10,
            vec!["waterproof"],
            json!([{ "size": "M", "stock": 0 }, { "size": "L", "stock": 0 }]),
        ),
        (
            "Cotton tee",
            "Everyday basic.",
            "tops",
            1500,
            0,
            vec!["basic"],
            json!([{ "size": "S", "stock": 9 }, { "size": "M", "stock": 9 }]),
        ),
    ];
    for (title, description, category, price, discount, keywords, variants) in products {
        create(
            app,
            admin,
            &json!({
                "title": title, "description": description, "category": category, "price": price,
                "discountPercentage": discount, "relevantKeywords": keywords, "variants": variants
            }),
        )
        .await;
    }
}

#[actix_web::test]
async fn filters_sorts_and_pages() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    seed(&app, &admin).await;

    let all = list(&app, "").await;
    assert_eq!(
        (
            all["total"].as_u64(),
            all["limit"].as_u64(),
            all["offset"].as_u64()
        ),
        (Some(5), Some(20), Some(0))
    );
    assert_eq!(
        titles(&all)[0],
        "Cotton tee",
        "newest first without a search"
    );
    assert_eq!(
        titles(&list(&app, "sort=newest&limit=2").await),
        ["Cotton tee", "Rain coat"]
    );

    assert_eq!(
        titles(&list(&app, "category=jackets&sort=price").await),
        ["Denim jacket", "Rain coat"]
    );
    assert_eq!(
        titles(&list(&app, "category=JACKETS&sort=-price").await),
        ["Rain coat", "Denim jacket"]
    );
    // Prices filter on the final price: the gown is 20000 at 50% off.
    assert_eq!(
        titles(&list(&app, "minPrice=8000&maxPrice=10000&sort=price").await),
        ["Denim jacket", "Evening gown"]
    );
    assert_eq!(
        titles(&list(&app, "sort=price&limit=2").await),
        ["Cotton tee", "Silk scarf"]
    );
    assert_eq!(
        titles(&list(&app, "sort=-price&limit=1").await),
        ["Rain coat"]
    );
    assert_eq!(
        titles(&list(&app, "size=L&sort=price").await),
        ["Evening gown", "Rain coat"]
    );
    assert_eq!(
        titles(&list(&app, "size=L&inStock=true").await),
        Vec::<String>::new()
    );
    let in_stock = titles(&list(&app, "inStock=true").await);
    assert_eq!(in_stock.len(), 4);
    assert!(
        !in_stock.contains(&"Rain coat".to_owned()),
        "all sizes at zero stock is out of stock"
    );

    let page = list(&app, "sort=price&limit=2&offset=2").await;
    assert_eq!(titles(&page), ["Denim jacket", "Evening gown"]);
    assert_eq!(page["total"], 5);
    let empty_range = list(&app, "minPrice=10&maxPrice=5").await;
    assert_eq!(
        empty_range["total"], 0,
        "a price range that is empty matches nothing"
    );
    let no_words = list(&app, "q=%2A%2A%2A").await;
    assert_eq!(
        no_words["total"], 5,
        "a search without words filters nothing"
    );
    let past_the_end = list(&app, "offset=50").await;
    assert_eq!(
        (
            past_the_end["items"].as_array().unwrap().len(),
            past_the_end["total"].as_u64()
        ),
        (0, Some(5))
    );

    for bad in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "offset=-1",
        "minPrice=-5",
        "size=XXXL",
        "sort=cheapest",
        "inStock=maybe",
        "color=red",
        "category=",
        "category=%20%20",
    ] {
        assert_problem(
            app.get(&format!("/products?{bad}"), None).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
}

#[actix_web::test]
async fn text_search_finds_and_ranks() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    seed(&app, &admin).await;

    // By keyword, by a word of the description, by a word prefix, several words.
    assert_eq!(titles(&list(&app, "q=waterproof").await), ["Rain coat"]);
    assert_eq!(titles(&list(&app, "q=washed").await), ["Denim jacket"]);
    assert_eq!(titles(&list(&app, "q=jack").await), ["Denim jacket"]);
    assert_eq!(
        titles(&list(&app, "q=blue%20denim").await),
        ["Denim jacket"]
    );
    assert_eq!(list(&app, "q=velvet").await["total"], 0);
    // "silk" is the scarf's title and a word of the gown's description: the title wins.
    let page = list(&app, "q=silk&sort=relevance").await;
    assert_eq!(titles(&page), ["Silk scarf", "Evening gown"]);
    assert_eq!(page["total"], 2);
    // Search combines with filters.
    assert_eq!(
        titles(&list(&app, "q=silk&category=dresses").await),
        ["Evening gown"]
    );
    // Punctuation that would be search syntax is just ignored.
    assert_eq!(
        list(&app, "q=%22silk%22*%20(velvet)").await["total"],
        0,
        "every word must match"
    );
    assert_eq!(
        titles(&list(&app, "q=silk*%22").await),
        ["Silk scarf", "Evening gown"]
    );
}

async fn send(app: &TestApp, method: Method, path: &str, token: &str, body: &Value) -> Value {
    let response = app.send_json(method.clone(), path, Some(token), body).await;
    assert_eq!(response.status(), StatusCode::OK, "{method} {path} {body}");
    response.json().await.unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect()
}

/// Every kind of write shows at once, on the node that made it, in the
/// lists, the filters and the search (the catalogue is read from memory).
#[actix_web::test]
async fn every_write_shows_at_once_in_lists_filters_and_search() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    seed(&app, &admin).await;

    let mut blazer = dress();
    blazer["title"] = json!("Amber corduroy blazer");
    blazer["category"] = json!("jackets");
    blazer["price"] = json!(12000);
    blazer["discountPercentage"] = json!(0);
    blazer["variants"] = json!([{ "size": "L", "stock": 2 }]);
    let created = create(&app, &admin, &blazer).await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/products/{id}");
    assert_eq!(ids(&list(&app, "q=corduroy").await), [id]);
    assert!(ids(&list(&app, "category=jackets").await).contains(&id));
    assert_eq!(ids(&list(&app, "sort=-price&limit=1").await), [id]);
    assert!(ids(&list(&app, "size=L&inStock=true").await).contains(&id));

    // Replace: the old words go, the new ones come.
    blazer["title"] = json!("Amber moleskin blazer");
    send(&app, Method::PUT, &path, &admin, &blazer).await;
    assert_eq!(list(&app, "q=corduroy").await["total"], 0);
    assert_eq!(ids(&list(&app, "q=moleskin").await), [id]);

    // Patch: a price that moves it in the price order and out of a range.
    send(&app, Method::PATCH, &path, &admin, &json!({ "price": 100 })).await;
    assert_eq!(ids(&list(&app, "sort=price&limit=1").await), [id]);
    assert!(!ids(&list(&app, "minPrice=8000").await).contains(&id));
    assert!(ids(&list(&app, "q=moleskin&maxPrice=100").await).contains(&id));

    // Stock: sold out leaves the in-stock filter; back in stock returns.
    send(
        &app,
        Method::PUT,
        &format!("{path}/variants/L"),
        &admin,
        &json!({ "stock": 0 }),
    )
    .await;
    assert!(!ids(&list(&app, "inStock=true&limit=100").await).contains(&id));
    assert_eq!(list(&app, "q=moleskin&inStock=true").await["total"], 0);
    send(
        &app,
        Method::PUT,
        &format!("{path}/variants/S"),
        &admin,
        &json!({ "stock": 4 }),
    )
    .await;
    assert_eq!(
        ids(&list(&app, "q=moleskin&size=S&inStock=true").await),
        [id]
    );

    // Delete: gone from every list and from search.
    let response = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(list(&app, "q=moleskin").await["total"], 0);
    assert!(!ids(&list(&app, "category=jackets").await).contains(&id));
    assert_eq!(list(&app, "").await["total"], 5);
}

/// Another node's write reaches this node's catalogue by the poll of the
/// store's catalogue clock (the two apps share a database and nothing else:
/// no bus between them).
#[actix_web::test]
async fn a_write_on_another_node_shows_within_the_refresh_interval() {
    let Some(first) = spawn_app_with(|settings| {
        settings.catalogue.refresh_secs = nonzero64(1);
    })
    .await
    else {
        return;
    };
    let second = start(first.settings.clone(), first.resources.clone()).await;
    let admin = first.login(ADMIN_EMAIL).await.token;
    assert_eq!(list(&second, "").await["total"], 0);

    let created = create(&first, &admin, &dress()).await;
    let id = created["id"].as_i64().unwrap();
    let seen = |query: &'static str, wanted: Box<dyn Fn(&Value) -> bool>| {
        let second = &second;
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            loop {
                let page = list(second, query).await;
                if wanted(&page) {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the other node's write did not arrive: {query} gave {page}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    };
    seen("q=linen", Box::new(move |page| ids(page) == [id])).await;

    let path = format!("/products/{id}");
    send(
        &first,
        Method::PUT,
        &format!("{path}/variants/M"),
        &admin,
        &json!({ "stock": 0 }),
    )
    .await;
    seen("inStock=true", Box::new(|page| page["total"] == 0)).await;
    let fetched: Value = second.get(&path, None).await.json().await.unwrap();
    assert_eq!(fetched["variants"][1], json!({ "size": "M", "stock": 0 }));

    let response = first
        .client
        .delete(first.url(&path))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    seen("", Box::new(|page| page["total"] == 0)).await;
    assert_problem(second.get(&path, None).await, StatusCode::NOT_FOUND).await;
}
