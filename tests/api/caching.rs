//! Catalogue answers as browsers and CDNs use them: a strong ETag that
//! changes exactly when the bytes do, `Cache-Control: public` with
//! `stale-while-revalidate`, `304` for `If-None-Match`; every answer that
//! depends on its caller `private, no-store`; and the categories with
//! their counts.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Read;

use crate::helpers::{spawn_app, start, TestApp, ADMIN_EMAIL};
use crate::orders::product;

async fn get(app: &TestApp, path: &str, if_none_match: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(tag) = if_none_match {
        request = request.header("If-None-Match", tag);
    }
    request.send().await.unwrap()
}

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

fn cache_control(response: &reqwest::Response) -> String {
    response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The tag of `path` now, after checking that the same tag gets a 304.
async fn tag_of(app: &TestApp, path: &str) -> String {
    let response = get(app, path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert_eq!(
        cache_control(&response),
        "public, max-age=5, stale-while-revalidate=30"
    );
    let tag = etag(&response);
    assert!(
        tag.starts_with('"') && !tag.starts_with("W/"),
        "strong: {tag}"
    );
    let again = get(app, path, Some(&tag)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    assert_eq!(etag(&again), tag);
    assert!(again.bytes().await.unwrap().is_empty(), "a 304 has no body");
    tag
}

#[actix_web::test]
async fn catalogue_tags_change_exactly_when_their_bytes_do() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Tagged dress", 3000, 5).await;
    let shoe = {
        let response = app
            .send_json(
                Method::POST,
                "/products",
                Some(&admin),
                &json!({ "title": "Tagged shoe", "price": 5000, "category": "shoes",
                         "variants": [{ "size": "M", "stock": 2 }] }),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let paths = [
        format!("/products/{dress}"),
        "/products?category=dresses".to_owned(),
        "/products?q=tagged".to_owned(),
        "/categories".to_owned(),
    ];
    let mut tags = Vec::new();
    for path in &paths {
        tags.push(tag_of(&app, path).await);
    }
    // Reading, and a write elsewhere in the catalogue, change nothing the
    // dresses' pages hold.
    for path in &paths {
        get(&app, path, None).await;
    }
    let shoe_stock = app
        .send_json(
            Method::PUT,
            &format!("/products/{shoe}/variants/M"),
            Some(&admin),
            &json!({ "stock": 1 }),
        )
        .await;
    assert_eq!(shoe_stock.status(), StatusCode::OK);
    assert_eq!(tag_of(&app, &paths[0]).await, tags[0]);
    assert_eq!(
        tag_of(&app, &paths[1]).await,
        tags[1],
        "the shoe is not a dress"
    );
    assert_ne!(
        tag_of(&app, &paths[2]).await,
        tags[2],
        "the shoe is in the search"
    );
    assert_eq!(tag_of(&app, &paths[3]).await, tags[3], "no count changed");

    // Every kind of write to the dress changes its pages, and an old tag
    // is answered in full.
    let writes: Vec<(Method, String, Value)> = vec![
        (
            Method::PUT,
            format!("/products/{dress}/variants/M"),
            json!({ "stock": 4 }),
        ),
        (
            Method::PATCH,
            format!("/products/{dress}"),
            json!({ "title": "Tagged dress, new" }),
        ),
        (
            Method::PUT,
            format!("/products/{dress}"),
            json!({ "title": "Tagged dress", "price": 3100, "category": "dresses",
                    "variants": [{ "size": "M", "stock": 0 }] }),
        ),
    ];
    // A page that holds only the shoe, with facets that count the dress
    // while it is in stock: its bytes change with the last write alone.
    let shoes = "/products?category=shoes&inStock=true&facets=true";
    for (write, (method, path, body)) in writes.into_iter().enumerate() {
        let shoes_before = tag_of(&app, shoes).await;
        let before: Vec<String> = {
            let mut now = Vec::new();
            for page in &paths[..3] {
                now.push(tag_of(&app, page).await);
            }
            now
        };
        let response = app.send_json(method, &path, Some(&admin), &body).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        for (page, old) in paths[..3].iter().zip(&before) {
            let after = get(&app, page, Some(old)).await;
            assert_eq!(
                after.status(),
                StatusCode::OK,
                "{page} after a write to {path}"
            );
            assert_ne!(&etag(&after), old, "{page}");
        }
        let shoes_after = get(&app, shoes, Some(&shoes_before)).await;
        if write < 2 {
            assert_eq!(shoes_after.status(), StatusCode::NOT_MODIFIED, "{path}");
        } else {
            assert_eq!(shoes_after.status(), StatusCode::OK, "{path}");
            let facets: Value = shoes_after.json().await.unwrap();
            assert_eq!(
                facets["facets"]["categories"],
                json!([{ "name": "shoes", "products": 1 }]),
                "the dress is out of stock: {facets}"
            );
        }
    }
    // The dress is out of stock now: the category counts say so.
    let categories: Value = get(&app, "/categories", None).await.json().await.unwrap();
    assert_eq!(
        categories,
        json!([
            { "name": "dresses", "products": 1, "inStock": 0 },
            { "name": "shoes", "products": 1, "inStock": 1 },
        ])
    );
    let deleted = app
        .client
        .delete(app.url(&format!("/products/{dress}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let after = get(&app, &paths[1], Some(&tags[1])).await;
    assert_eq!(after.status(), StatusCode::OK);
    let categories: Value = get(&app, "/categories", None).await.json().await.unwrap();
    assert_eq!(
        categories,
        json!([{ "name": "shoes", "products": 1, "inStock": 1 }])
    );
}

#[actix_web::test]
async fn conditions_that_do_not_parse_are_no_conditions() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(&app, &admin, "Conditional dress", 3000, 5).await;
    let path = format!("/products/{dress}");
    let tag = tag_of(&app, &path).await;
    let long = format!("\"{}\"", "x".repeat(10 * 1024));
    for condition in ["garbage", "\"", "W/", long.as_str(), "\"other\""] {
        let response = get(&app, &path, Some(condition)).await;
        assert_eq!(response.status(), StatusCode::OK, "{condition:.20}");
        assert_eq!(etag(&response), tag);
    }
    assert_eq!(
        get(&app, &path, Some("*")).await.status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        get(&app, &path, Some(&format!("\"nope\", W/{tag}")))
            .await
            .status(),
        StatusCode::NOT_MODIFIED,
        "any tag of the list, compared weakly"
    );
    assert_eq!(
        get(&app, "/products/987654", Some("*")).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn answers_that_depend_on_the_caller_are_private() {
    let Some(app) = spawn_app().await else { return };
    let token = app.login("private@example.com").await.token;
    let admin = app.login(ADMIN_EMAIL).await.token;
    for (path, who) in [
        ("/cart", &token),
        ("/orders", &token),
        ("/users/me", &token),
        ("/users/me/addresses", &token),
        ("/admin/orders", &admin),
        ("/admin/actors", &admin),
    ] {
        let response = app.get(path, Some(who)).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(cache_control(&response), "private, no-store", "{path}");
    }
    let missing = get(&app, "/products/987654", None).await;
    assert_eq!(cache_control(&missing), "private, no-store");
}

/// The seeded demo catalogue, on the embedded backend.
async fn seeded_shop() -> TestApp {
    let data = tempfile::tempdir().unwrap();
    let settings = crate::helpers::test_settings(data.path());
    let store = storefront::store::SqliteStore::connect(&settings.database)
        .await
        .unwrap();
    let seeded = storefront::seed::seed(&store, "USD", 288).await.unwrap();
    assert_eq!(seeded, 288);
    drop(store);
    let resources = crate::helpers::Resources {
        _data: data,
        database: None,
        smtp: None,
    };
    start(settings, std::sync::Arc::new(resources)).await
}

async fn total(app: &TestApp, query: &[(String, String)]) -> u64 {
    let url = reqwest::Url::parse_with_params(&app.url("/products"), query).unwrap();
    let page: Value = app
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["total"].as_u64().unwrap_or_else(|| panic!("{page}"))
}

/// `query` with `name` set to `value` (or left out), the others kept.
fn with(
    query: &[(String, String)],
    names: &[&str],
    values: &[(&str, String)],
) -> Vec<(String, String)> {
    let mut changed: Vec<(String, String)> = query
        .iter()
        .filter(|(key, _)| !names.contains(&key.as_str()))
        .cloned()
        .collect();
    changed.extend(
        values
            .iter()
            .map(|(key, value)| (key.to_string(), value.clone())),
    );
    changed
}

/// Facets are what the filters give when applied one by one: for random
/// searches of the seeded catalogue, each count is the total of the same
/// search with that one filter set to the choice.
#[actix_web::test]
async fn facet_counts_are_the_totals_of_each_choice() {
    use rand::seq::IndexedRandom;
    use rand::Rng;

    let app = seeded_shop().await;
    let categories: Vec<String> = get(&app, "/categories", None)
        .await
        .json::<Vec<Value>>()
        .await
        .unwrap()
        .iter()
        .map(|category| category["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(categories.len() > 1, "{categories:?}");
    let words = ["dress", "linen", "silk", "summer", "midi", "red", "zzzz"];
    let sizes = ["S", "M", "L", "XL", "XXL"];
    let mut rng = rand::rng();
    for _ in 0..30 {
        let mut query: Vec<(String, String)> = Vec::new();
        if rng.random_bool(0.4) {
            query.push(("q".into(), words.choose(&mut rng).unwrap().to_string()));
        }
        if rng.random_bool(0.4) {
            query.push((
                "category".into(),
                categories.choose(&mut rng).unwrap().to_uppercase(),
            ));
        }
        if rng.random_bool(0.4) {
            query.push(("size".into(), sizes.choose(&mut rng).unwrap().to_string()));
        }
        if rng.random_bool(0.3) {
            query.push(("inStock".into(), "true".into()));
        }
        if rng.random_bool(0.3) {
            query.push(("minPrice".into(), rng.random_range(0..8000).to_string()));
        }
        if rng.random_bool(0.3) {
            query.push(("maxPrice".into(), rng.random_range(2000..30000).to_string()));
        }
        let mut asked = query.clone();
        asked.push(("facets".into(), "true".into()));
        let url = reqwest::Url::parse_with_params(&app.url("/products"), &asked).unwrap();
        let answer: Value = app
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let facets = &answer["facets"];
        assert!(facets.is_object(), "{query:?}: {answer}");
        assert_eq!(answer["total"].as_u64(), Some(total(&app, &query).await));

        let mut by_category = 0;
        for facet in facets["categories"].as_array().unwrap() {
            let name = facet["name"].as_str().unwrap();
            let expected = total(
                &app,
                &with(&query, &["category"], &[("category", name.into())]),
            )
            .await;
            assert_eq!(
                facet["products"].as_u64(),
                Some(expected),
                "{query:?} category {name}"
            );
            assert!(expected > 0, "only categories with products");
            by_category += expected;
        }
        assert_eq!(
            by_category,
            total(&app, &with(&query, &["category"], &[])).await,
            "{query:?}: every product is in one category"
        );
        for facet in facets["sizes"].as_array().unwrap() {
            let size = facet["size"].as_str().unwrap();
            let expected = total(
                &app,
                &with(
                    &query,
                    &["size", "inStock"],
                    &[("size", size.into()), ("inStock", "true".into())],
                ),
            )
            .await;
            assert_eq!(
                facet["products"].as_u64(),
                Some(expected),
                "{query:?} size {size}"
            );
        }
        let mut by_price = 0;
        for facet in facets["prices"].as_array().unwrap() {
            let mut bounds = vec![("minPrice", facet["min"].as_i64().unwrap().to_string())];
            if let Some(below) = facet["below"].as_i64() {
                bounds.push(("maxPrice", (below - 1).to_string()));
            }
            let expected = total(&app, &with(&query, &["minPrice", "maxPrice"], &bounds)).await;
            assert_eq!(
                facet["products"].as_u64(),
                Some(expected),
                "{query:?} band {facet}"
            );
            by_price += expected;
        }
        assert_eq!(
            by_price,
            total(&app, &with(&query, &["minPrice", "maxPrice"], &[])).await
        );
    }
    for bad in [
        "facets=maybe",
        "facets=",
        "facets=1x",
        "facets=true&facets=false",
    ] {
        let response = get(&app, &format!("/products?{bad}"), None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let plain: Value = get(&app, "/products", None).await.json().await.unwrap();
    assert!(plain.get("facets").is_none(), "only when asked");
}

/// A client that hands over bodies as they came, compressed or not.
fn undecoding_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .build()
        .unwrap()
}

/// Answers are compressed by what the client accepts, and each encoding
/// decodes to exactly the bytes of the uncompressed answer.
#[actix_web::test]
async fn every_encoding_decodes_to_the_very_bytes_of_the_answer() {
    let app = seeded_shop().await;
    let url = app.url("/products?limit=100");
    let raw = undecoding_client();
    let fetch = |client: &reqwest::Client, accept: &str| {
        let request = client.get(&url).header("Accept-Encoding", accept);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let encoding = response
                .headers()
                .get("content-encoding")
                .map(|value| value.to_str().unwrap().to_owned());
            let vary = response
                .headers()
                .get_all("vary")
                .iter()
                .map(|value| value.to_str().unwrap().to_ascii_lowercase())
                .collect::<Vec<_>>()
                .join(",");
            (encoding, vary, response.bytes().await.unwrap())
        }
    };
    let (encoding, _, identity) = fetch(&raw, "identity").await;
    assert_eq!(encoding, None);
    assert!(identity.len() > 50_000, "a big page: {}", identity.len());
    for accepted in ["gzip", "br", "zstd"] {
        let (encoding, vary, compressed) = fetch(&raw, accepted).await;
        assert_eq!(encoding.as_deref(), Some(accepted));
        assert!(vary.contains("accept-encoding"), "{vary}");
        assert!(
            compressed.len() * 4 < identity.len(),
            "{accepted}: {} of {} bytes",
            compressed.len(),
            identity.len()
        );
        let decoding = reqwest::Client::new();
        let (_, _, decoded) = fetch(&decoding, accepted).await;
        assert_eq!(decoded, identity, "{accepted} decodes to the very bytes");
    }
    for refused in ["garbage", "identity;q=1, *;q=0.0", "x-unknown"] {
        let (encoding, _, body) = fetch(&raw, refused).await;
        assert!(encoding.is_none(), "{refused}: {encoding:?}");
        assert_eq!(body, identity);
    }
}

/// Answers that are not the catalogue's are compressed as they go out, and
/// decode to their bytes too; an answer under a kilobyte goes as it is, but
/// says that it could vary.
#[actix_web::test]
async fn other_answers_are_compressed_as_they_go_out_and_small_ones_not_at_all() {
    let Some(app) = spawn_app().await else { return };
    let raw = undecoding_client();
    let document = |accept: &'static str| {
        raw.get(app.url("/openapi.json"))
            .header("Accept-Encoding", accept)
            .send()
    };
    let identity = document("identity").await.unwrap().bytes().await.unwrap();
    assert!(identity.len() > 10_000, "{}", identity.len());
    for accepted in ["gzip", "br", "zstd", "deflate"] {
        let response = document(accepted).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-encoding"], accepted);
        let compressed = response.bytes().await.unwrap();
        assert!(compressed.len() * 3 < identity.len(), "{accepted}");
        let mut decoded = Vec::new();
        let mut decoder: Box<dyn std::io::Read + '_> = match accepted {
            "gzip" => Box::new(flate2::read::GzDecoder::new(&compressed[..])),
            "deflate" => Box::new(flate2::read::ZlibDecoder::new(&compressed[..])),
            "br" => Box::new(brotli::Decompressor::new(&compressed[..], 4096)),
            _ => Box::new(zstd::stream::read::Decoder::new(&compressed[..]).unwrap()),
        };
        decoder.read_to_end(&mut decoded).unwrap();
        assert_eq!(decoded, identity, "{accepted} decodes to the very bytes");
    }
    let small = raw
        .get(app.url("/healthz"))
        .header("Accept-Encoding", "gzip, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), StatusCode::OK);
    assert!(small.headers().get("content-encoding").is_none());
    let vary: Vec<&str> = small
        .headers()
        .get_all("vary")
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    assert!(
        vary.iter()
            .any(|value| value.eq_ignore_ascii_case("accept-encoding")),
        "{vary:?}"
    );
    // A 304 stands for the 200 a cache holds: it says so too.
    let product = raw.get(app.url("/categories")).send().await.unwrap();
    let tag = product.headers()["etag"].to_str().unwrap().to_owned();
    let unchanged = raw
        .get(app.url("/categories"))
        .header("If-None-Match", tag)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert!(unchanged.headers().get("content-encoding").is_none());
    assert!(unchanged.headers().get_all("vary").iter().any(|value| value
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("accept-encoding")));
}

/// HEAD is GET without the body: a CDN or link checker reads the tag and
/// the length without the bytes; a route without GET refuses it.
#[actix_web::test]
async fn head_answers_the_headers_of_get_alone() {
    let Some(app) = spawn_app().await else { return };
    for path in ["/products", "/categories", "/healthz"] {
        let got = get(&app, path, None).await;
        let got_tag = got.headers().get("etag").cloned();
        let got_length = got.bytes().await.unwrap().len();
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(head.headers().get("etag").cloned(), got_tag, "{path}");
        assert_eq!(
            head.headers()["content-length"].to_str().unwrap(),
            got_length.to_string(),
            "{path}"
        );
        assert!(head.bytes().await.unwrap().is_empty(), "{path}");
    }
    let refused = app.client.head(app.url("/auth/otp")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
}
