//! What a hostile client found (issues 10 and 22), tried again through HTTP
//! on each backend: secrets at rest and in admin views, abuse of the sign-in
//! routes, unbounded or exposed metrics, slow and oversized requests, lost
//! updates, input the database or the mailer refuses, sessions outliving
//! their user, mail sent twice, pages that can be framed.

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use crate::helpers::{
    assert_problem, code_in, eventually, nonzero, nonzero64, spawn_app, spawn_app_with,
    spawn_app_with_smtp, start, TestApp, ADMIN_EMAIL,
};

async fn queue(app: &TestApp, admin: &str) -> Vec<Value> {
    let response = app.get("/admin/mail", Some(admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn to(queue: &[Value], email: &str) -> Vec<Value> {
    queue
        .iter()
        .filter(|mail| mail["recipients"][0] == email)
        .cloned()
        .collect()
}

// --- Secrets -------------------------------------------------------------

#[actix_web::test]
async fn a_queued_sign_in_mail_shows_no_code_to_admins_and_keeps_none_in_clear() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.break_mail();
    assert_eq!(
        app.request_otp("held@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    eventually("the failed first try shows in the queue", || async {
        to(&queue(&app, &admin).await, "held@example.com")
            .first()
            .is_some_and(|mail| mail["lastError"] != "")
    })
    .await;
    let view = Value::Array(queue(&app, &admin).await);
    let held = &to(view.as_array().unwrap(), "held@example.com")[0];
    assert_eq!(held["kind"], "sign_in_code");
    assert_eq!(held["subject"], "Your storefront sign-in code");
    assert!(held["expiresAt"].is_string(), "{held}");
    let at_rest = app.queued_mail_rows().await;
    assert!(at_rest.iter().any(|(to, _)| to == "held@example.com"));

    app.fix_mail();
    let code = app.next_code("held@example.com").await;
    let shown = view.to_string();
    assert!(
        !shown.contains(&code),
        "the admin view held the code: {shown}"
    );
    for (_, bytes) in at_rest {
        assert!(
            !bytes
                .windows(code.len())
                .any(|window| window == code.as_bytes()),
            "the queue kept the code in clear"
        );
    }
    assert!(
        app.mails_to("held@example.com")
            .iter()
            .all(|mail| !mail.contains(&format!("Subject: Your storefront sign-in code: {code}"))),
        "the code is in the body only"
    );
}

#[actix_web::test]
async fn a_code_mail_not_sent_before_its_code_expired_is_dropped_not_sent_late() {
    let Some(app) = spawn_app_with(|settings| {
        settings.auth.otp_ttl_secs = nonzero64(2);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    app.break_mail();
    app.request_otp("late@example.com").await;
    eventually("the mail is queued", || async {
        !to(&queue(&app, &admin).await, "late@example.com").is_empty()
    })
    .await;
    eventually("the expired mail leaves the queue", || async {
        to(&queue(&app, &admin).await, "late@example.com").is_empty()
    })
    .await;
    assert!(
        app.queued_mail_rows()
            .await
            .iter()
            .all(|(to, _)| to != "late@example.com"),
        "its stored copy is deleted"
    );

    // Mail flows again: a new code arrives, by a retry; the dropped one never does.
    app.request_otp("early@example.com").await;
    app.fix_mail();
    app.next_code("early@example.com").await;
    assert!(app.mails_to("late@example.com").is_empty());
}

// --- Abuse ---------------------------------------------------------------

async fn request_otp_from(
    app: &TestApp,
    email: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/auth/otp"))
        .json(&json!({ "email": email }));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    request.send().await.unwrap()
}

async fn assert_limited(response: reqwest::Response) {
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
}

#[actix_web::test]
async fn one_client_cannot_request_codes_for_many_addresses() {
    let Some(app) = spawn_app_with(|settings| {
        settings.limits.otp_requests_per_client_per_minute = nonzero(3);
    })
    .await
    else {
        return;
    };
    for i in 0..3 {
        let response = request_otp_from(&app, &format!("flood{i}@example.com"), None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    assert_limited(request_otp_from(&app, "flood3@example.com", None).await).await;
    // A made-up X-Forwarded-For from a peer that is no trusted proxy changes nothing,
    let forged = request_otp_from(&app, "flood4@example.com", Some("203.0.113.77")).await;
    assert_limited(forged).await;
    // and the legacy route counts against the same limit.
    let legacy = app
        .post_json("/send-otp", &json!({ "email": "flood5@example.com" }))
        .await;
    assert_limited(legacy).await;
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let Some(app) = spawn_app_with(|settings| {
        settings.limits.otp_requests_per_client_per_minute = nonzero(2);
        settings.server.trusted_proxies =
            storefront::config::TrustedProxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
    })
    .await
    else {
        return;
    };
    for i in 0..2 {
        let response =
            request_otp_from(&app, &format!("a{i}@example.com"), Some("198.51.100.1")).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    assert_limited(request_otp_from(&app, "a2@example.com", Some("198.51.100.1")).await).await;
    // What the client itself claims, left of the address the proxy saw, is ignored.
    assert_limited(request_otp_from(&app, "a3@example.com", Some("10.9.9.9, 198.51.100.1")).await)
        .await;
    let other = request_otp_from(&app, "b@example.com", Some("198.51.100.2")).await;
    assert_eq!(other.status(), StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn wrong_codes_across_accounts_are_limited_per_client() {
    let Some(app) = spawn_app_with(|settings| {
        settings.limits.otp_verifies_per_client_per_minute = nonzero(4);
    })
    .await
    else {
        return;
    };
    for i in 0..4 {
        let response = app
            .verify(&format!("victim{i}@example.com"), "000000")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(app.verify("victim4@example.com", "000000").await).await;
    let legacy = app
        .post_json(
            "/verify-otp",
            &json!({ "email": "victim5@example.com", "otp": "000000" }),
        )
        .await;
    assert_limited(legacy).await;
}

#[actix_web::test]
async fn a_node_sends_at_most_its_budget_of_code_mails() {
    let Some(app) = spawn_app_with(|settings| {
        settings.limits.otp_mails_per_minute = nonzero(2);
    })
    .await
    else {
        return;
    };
    for i in 0..2 {
        assert_eq!(
            app.request_otp(&format!("budget{i}@example.com"))
                .await
                .status(),
            StatusCode::ACCEPTED
        );
    }
    assert_limited(app.request_otp("budget2@example.com").await).await;
}

#[actix_web::test]
async fn an_attackers_wrong_tries_do_not_lock_the_owner_out() {
    let Some(app) = spawn_app_with(|settings| {
        settings.auth.otp_send_interval_secs = 30;
        settings.auth.otp_max_attempts = nonzero(3);
    })
    .await
    else {
        return;
    };
    assert_eq!(
        app.request_otp("owner@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.next_code("owner@example.com").await;
    assert_limited(app.request_otp("owner@example.com").await).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        assert_eq!(
            app.verify("owner@example.com", wrong).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The code died of the wrong tries; its owner gets a new one at once.
    assert_eq!(
        app.request_otp("owner@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.next_code("owner@example.com").await;
    assert_eq!(
        app.verify("owner@example.com", &code).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    let Some(app) = spawn_app().await else { return };
    for i in 0..40 {
        let method = Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        app.client
            .request(method.clone(), app.url("/healthz"))
            .send()
            .await
            .unwrap();
        app.client
            .request(method, app.url(&format!("/made/up/{i}")))
            .send()
            .await
            .unwrap();
    }
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("BREW"), "a made-up method became a label");
    assert!(!text.contains("/made/up"), "a raw path became a label");
    assert!(
        text.contains(r#"method="OTHER",route="/healthz",status="405""#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    let series = text
        .lines()
        .filter(|line| line.starts_with("storefront_http_requests_total{"))
        .count();
    assert!(series <= 4, "{series} series");
}

#[actix_web::test]
async fn a_body_that_stops_arriving_is_cut_off_with_problem_json() {
    let Some(app) = spawn_app_with(|settings| {
        settings.server.body_timeout_secs = nonzero64(1);
    })
    .await
    else {
        return;
    };
    let answer = app
        .raw_http(
            b"POST /auth/otp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\": \"slow",
            Duration::from_secs(10),
        )
        .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("\"status\":408"), "{answer}");
    // The connection is closed: `raw_http` read to its end well before its wait.
}

#[actix_web::test]
async fn oversized_headers_and_bodies_get_problem_json() {
    let Some(app) = spawn_app().await else { return };
    let mut request = app.client.get(app.url("/healthz"));
    for i in 0..24 {
        request = request.header(format!("x-padding-{i}"), "x".repeat(1000));
    }
    let response = request.send().await.unwrap();
    assert_problem(response, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).await;
    let response = app
        .client
        .post(app.url("/auth/otp"))
        .header("content-type", "application/json")
        .body(format!("{{\"email\": \"{}\"}}", "a".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

// --- Correctness ---------------------------------------------------------

async fn create_product(app: &TestApp, admin: &str) -> Value {
    let response = app
        .send_json(
            Method::POST,
            "/products",
            Some(admin),
            &json!({ "title": "Linen dress", "price": 5000, "category": "dresses",
                     "variants": [{ "size": "M", "stock": 4 }] }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

#[actix_web::test]
async fn concurrent_patches_of_different_fields_both_stick() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let product = create_product(&app, &admin).await;
    let path = format!("/products/{}", product["id"]);
    for round in 0..20 {
        let title = format!("Linen dress no. {round}");
        let (rename, discount) = (
            json!({ "title": title }),
            json!({ "discountPercentage": round }),
        );
        let (a, b) = futures_util::join!(
            app.send_json(Method::PATCH, &path, Some(&admin), &rename),
            app.send_json(Method::PATCH, &path, Some(&admin), &discount),
        );
        assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
        let now: Value = app.get(&path, None).await.json().await.unwrap();
        assert_eq!(
            (
                now["title"].as_str().unwrap(),
                now["discountPercentage"].as_i64().unwrap()
            ),
            (title.as_str(), round),
            "round {round} lost a write"
        );
    }
}

#[actix_web::test]
async fn if_match_refuses_a_write_over_a_newer_version() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let product = create_product(&app, &admin).await;
    let path = format!("/products/{}", product["id"]);
    let response = app.get(&path, None).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, "\"1\"");

    let patch = |etag: &str| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&admin)
            .header("if-match", etag)
            .json(&json!({ "price": 6000 }))
            .send()
    };
    let response = patch(&etag).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["etag"], "\"2\"");
    assert_problem(patch(&etag).await.unwrap(), StatusCode::PRECONDITION_FAILED).await;
    assert_problem(patch("not-an-etag").await.unwrap(), StatusCode::BAD_REQUEST).await;
    let stale_delete = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_problem(stale_delete, StatusCode::PRECONDITION_FAILED).await;
    let price: Value = app.get(&path, None).await.json().await.unwrap();
    assert_eq!(price["price"], 6000, "refused writes changed nothing");

    // A weak tag names its version too; `*` names none; two tags are not
    // one version.
    assert_eq!(patch("W/\"2\"").await.unwrap().status(), StatusCode::OK);
    assert_problem(
        patch("\"3\", \"4\"").await.unwrap(),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let any = patch("*").await.unwrap();
    assert_eq!(any.status(), StatusCode::OK);
    assert_eq!(any.headers()["etag"], "\"4\"");
}

#[actix_web::test]
async fn control_characters_are_bad_input_on_every_backend() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    for query in ["category=%00", "category=dre%00sses", "category=%07"] {
        let response = app.get(&format!("/products?{query}"), None).await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let searched: Value = app.get("/products?q=%00", None).await.json().await.unwrap();
    assert_eq!(
        searched["total"], 0,
        "a NUL is no search word, and reaches no database"
    );
    let product = create_product(&app, &admin).await;
    let path = format!("/products/{}", product["id"]);
    for body in [
        json!({ "title": "Linen\u{0}dress" }),
        json!({ "description": "Soft\u{0}" }),
        json!({ "category": "\u{0}" }),
        json!({ "relevantKeywords": ["a\u{0}b"] }),
        json!({ "faq": [{ "question": "Q\u{0}", "answer": "A" }] }),
        json!({ "imageUrl": ["https://x.example/a\u{0}.jpg"] }),
    ] {
        let response = app
            .send_json(Method::PATCH, &path, Some(&admin), &body)
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
    let customer = app.login("nul@example.com").await.token;
    for (method, path, body) in [
        (Method::PATCH, "/users/me", json!({ "name": "A\u{0}na" })),
        (
            Method::POST,
            "/users/me/addresses",
            json!({ "street": "1 Main\u{0} St", "city": "X", "zipCode": "1", "country": "US" }),
        ),
        (
            Method::POST,
            "/auth/otp",
            json!({ "email": "a\u{0}@example.com" }),
        ),
    ] {
        let response = app.send_json(method, path, Some(&customer), &body).await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
}

#[actix_web::test]
async fn an_admin_taken_off_the_list_loses_the_role_at_once() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    assert_eq!(
        app.get("/admin/actors", Some(&admin)).await.status(),
        StatusCode::OK
    );
    // The same data, restarted without the email on the admin list.
    let mut settings = app.settings.clone();
    settings.auth.admin_emails.clear();
    let restarted = start(settings, app.resources.clone()).await;
    assert_problem(
        restarted.get("/admin/actors", Some(&admin)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let me: Value = restarted
        .get("/users/me", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], ADMIN_EMAIL);
}

#[actix_web::test]
async fn a_session_of_a_user_that_no_longer_exists_is_401() {
    let Some(app) = spawn_app().await else { return };
    let session = app.login("gone@example.com").await;
    app.execute_sql(&format!("DELETE FROM users WHERE id = {}", session.id()))
        .await;
    for path in ["/users/me", "/auth/me", "/users/me/addresses"] {
        assert_problem(
            app.get(path, Some(&session.token)).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
}

#[actix_web::test]
async fn a_signed_out_session_stays_signed_out_after_a_restart() {
    let Some(app) = spawn_app().await else { return };
    let session = app.login("leaving@example.com").await;
    let response = app.logout(&session.token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let restarted = start(app.settings.clone(), app.resources.clone()).await;
    assert_problem(
        restarted.get("/users/me", Some(&session.token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[actix_web::test]
async fn the_original_apis_numeric_phone_numbers_work() {
    let Some(app) = spawn_app().await else { return };
    let response = app
        .post_json(
            "/send-otp",
            &json!({ "email": "user@example.com", "phoneNumber": 1234567890 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let code = code_in(
        &app.next_mail("user@example.com", "Your storefront sign-in code")
            .await,
    );
    let response = app
        .post_json(
            "/verify-otp",
            &json!({ "email": "user@example.com", "otp": code, "phoneNumber": 1234567890 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["phoneNumber"], "1234567890");
    let token = body["token"].as_str().unwrap();
    let response = app
        .send_json(
            Method::PATCH,
            "/users/me",
            Some(token),
            &json!({ "phoneNumber": 5550100123u64 }),
        )
        .await;
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["phoneNumber"], "5550100123");
    for bad in [json!(-5), json!(1.5), json!(12)] {
        let response = app
            .post_json(
                "/auth/otp",
                &json!({ "email": "user@example.com", "phoneNumber": bad }),
            )
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST).await;
    }
}

#[actix_web::test]
async fn many_concurrent_sign_in_requests_from_one_client_are_refused_past_the_default_limit() {
    let Some(app) = spawn_app_with(|settings| {
        settings.limits = storefront::config::Settings::default().limits;
    })
    .await
    else {
        return;
    };
    let app = &app;
    let answers: Vec<StatusCode> = join_all((0..200).map(|i| async move {
        app.request_otp(&format!("many{i}@example.com"))
            .await
            .status()
    }))
    .await;
    let accepted = answers
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    let refused = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(accepted + refused, 200, "{answers:?}");
    assert!(accepted <= 20, "{accepted} of 200 went through");
}

#[actix_web::test]
async fn an_address_the_mailer_refuses_is_refused_at_once() {
    let Some(app) = spawn_app().await else { return };
    let too_long = format!("{}@example.com", "a".repeat(65));
    for path in ["/auth/otp", "/send-otp"] {
        let response = app.post_json(path, &json!({ "email": too_long })).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
        assert!(
            problem["errors"]["email"].as_str().unwrap().contains("64"),
            "{problem}"
        );
    }
    assert_problem(
        app.verify(&too_long, "123456").await,
        StatusCode::BAD_REQUEST,
    )
    .await;

    // The longest local part there is gets its code, and the welcome mail.
    let longest = format!("{}@x.io", "b".repeat(64));
    assert_eq!(
        app.request_otp(&longest).await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.next_code(&longest).await;
    assert_eq!(app.verify(&longest, &code).await.status(), StatusCode::OK);
    app.next_mail(&longest, "Welcome").await;

    let document: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    for request in ["OtpRequest", "VerifyRequest"] {
        let email = &document["components"]["schemas"][request]["properties"]["email"];
        assert_eq!(email["not"]["pattern"], "^[^@]{65}", "{email}");
    }
}

// --- Mail sent once ------------------------------------------------------

async fn retry(app: &TestApp, admin: &str, id: i64) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/admin/mail/{id}/retry")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
}

/// The id of the mail to `email` in the queue, once one shows for which
/// `holds` holds.
async fn queued_to(app: &TestApp, admin: &str, email: &str, holds: impl Fn(&Value) -> bool) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(mail) = to(&queue(app, admin).await, email)
            .iter()
            .find(|mail| holds(mail))
        {
            return mail["id"].as_i64().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no such mail to {email} in the queue"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Message-ID of every message the SMTP server took, one per message.
fn message_ids(app: &TestApp) -> Vec<String> {
    app.smtp_inbox()
        .unwrap()
        .messages()
        .iter()
        .map(|message| {
            message
                .lines()
                .find_map(|line| line.strip_prefix("Message-ID: "))
                .expect("every message has a Message-ID")
                .to_owned()
        })
        .collect()
}

fn assert_each_sent_once(app: &TestApp) {
    let mut ids = message_ids(app);
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "a message arrived twice: {ids:?}");
}

#[actix_web::test]
async fn a_retry_while_the_mail_is_being_sent_is_409_and_it_arrives_once() {
    // The server takes 2 s to accept the message; the first try waits for
    // it (half the call timeout, 1 s, then alone) and holds the lease.
    let Some(app) = spawn_app_with_smtp(|settings| {
        settings.actors.call_timeout_ms = nonzero64(2000);
        settings.mail.smtp_timeout_secs = nonzero64(10);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let delay = Duration::from_secs(2);
    app.smtp_inbox().unwrap().delay_data(delay);
    assert_eq!(
        app.request_otp("sending@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let id = queued_to(&app, &admin, "sending@example.com", |_| true).await;
    let problem = assert_problem(retry(&app, &admin, id).await, StatusCode::CONFLICT).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("being sent"),
        "{problem}"
    );

    let code = app.next_code("sending@example.com").await;
    // Long enough for a second try to have reached the server too.
    tokio::time::sleep(delay + Duration::from_millis(500)).await;
    assert_eq!(app.mails_to("sending@example.com").len(), 1);
    assert_each_sent_once(&app);
    app.smtp_inbox().unwrap().delay_data(Duration::ZERO);
    assert_eq!(
        app.verify("sending@example.com", &code).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn ten_retries_at_once_of_a_dead_mail_send_it_once() {
    let Some(app) = spawn_app_with_smtp(|settings| {
        settings.mail.retry_max_attempts = nonzero(1);
        // Retries land on different instances, each with its own rounds.
        settings
            .actors
            .set_instances(storefront::actors::ActorKind::Mailer, 3);
    })
    .await
    else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    assert_eq!(
        app.request_otp("dead@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let code = app.next_code("dead@example.com").await;
    app.break_mail();
    // Signing up sends a welcome mail, whose only try fails: it is dead.
    assert_eq!(
        app.verify("dead@example.com", &code).await.status(),
        StatusCode::OK
    );
    let id = queued_to(&app, &admin, "dead@example.com", |mail| {
        mail["dead"] == true
    })
    .await;
    app.fix_mail();
    let delay = Duration::from_secs(1);
    app.smtp_inbox().unwrap().delay_data(delay);

    // Spread over the time the server holds the message: some come before
    // a try takes the mail, most while it is being sent.
    let app = &app;
    let admin = admin.as_str();
    let answers: Vec<StatusCode> = join_all((0..10).map(|i| async move {
        tokio::time::sleep(Duration::from_millis(100 * i)).await;
        retry(app, admin, id).await.status()
    }))
    .await;
    assert!(
        answers.contains(&StatusCode::ACCEPTED)
            && answers.iter().all(|s| [
                StatusCode::ACCEPTED,
                StatusCode::CONFLICT,
                StatusCode::NOT_FOUND
            ]
            .contains(s)),
        "{answers:?}"
    );
    app.next_mail("dead@example.com", "Welcome").await;
    eventually("the delivered mail leaves the queue", || async {
        to(&queue(app, admin).await, "dead@example.com").is_empty()
    })
    .await;
    tokio::time::sleep(delay + Duration::from_millis(500)).await;
    let welcomes = app
        .mails_to("dead@example.com")
        .iter()
        .filter(|mail| mail.contains("Subject: Welcome"))
        .count();
    assert_eq!(welcomes, 1, "the dead mail was sent {welcomes} times");
    assert_each_sent_once(app);
}

// --- Exposure ------------------------------------------------------------

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

#[actix_web::test]
async fn every_answer_forbids_sniffing_and_every_page_refuses_framing() {
    let Some(app) = spawn_app().await else { return };
    let json = app.get("/healthz", None).await;
    let problem = app.get("/users/me", None).await;
    let missing = app.get("/no/such/thing", None).await;
    assert_eq!(
        (json.status(), problem.status(), missing.status()),
        (
            StatusCode::OK,
            StatusCode::UNAUTHORIZED,
            StatusCode::NOT_FOUND
        )
    );
    for response in [&json, &problem, &missing] {
        assert_eq!(
            header(response, "x-content-type-options"),
            "nosniff",
            "{}",
            response.url()
        );
    }
    for path in ["/docs/", "/admin"] {
        let page = app.get(path, None).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(
            header(&page, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&page, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&page, "x-frame-options"), "DENY", "{path}");
        let policy = header(&page, "content-security-policy");
        assert_eq!(
            policy.matches("frame-ancestors").count(),
            1,
            "{path}: {policy}"
        );
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
    }
    // The operator's page keeps its own, stricter policy.
    let page = app.get("/admin", None).await;
    assert!(
        header(&page, "content-security-policy")
            .starts_with("default-src 'none'; script-src 'self'"),
        "{}",
        header(&page, "content-security-policy")
    );
}

/// An address of this machine that is not loopback: the one it would send
/// from to the outside (a UDP socket's `connect` sends nothing).
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("203.0.113.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[actix_web::test]
async fn metrics_are_only_for_loopback_and_trusted_proxies() {
    let Some(outside) = non_loopback_address() else {
        eprintln!("SKIPPED: this machine has no address but loopback to call from");
        return;
    };
    let Some(app) = spawn_app_with(|settings| settings.server.host = "0.0.0.0".into()).await else {
        return;
    };
    let port = app.address.rsplit(':').next().unwrap();
    let from_outside = |path: &str| {
        app.client
            .get(format!("http://{outside}:{port}{path}"))
            .send()
    };
    assert_eq!(
        from_outside("/healthz").await.unwrap().status(),
        StatusCode::OK
    );
    assert_problem(
        from_outside("/metrics").await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::OK);

    let Some(proxied) = spawn_app_with(|settings| {
        settings.server.host = "0.0.0.0".into();
        settings.server.trusted_proxies =
            storefront::config::TrustedProxies::new(vec![outside.into()]);
    })
    .await
    else {
        return;
    };
    let port = proxied.address.rsplit(':').next().unwrap();
    let response = proxied
        .client
        .get(format!("http://{outside}:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("storefront_bus_events_pending"));
}

#[actix_web::test]
async fn a_metrics_port_gives_metrics_a_listener_of_their_own() {
    let Some(app) = spawn_app_with(|settings| settings.server.metrics_port = Some(0)).await else {
        return;
    };
    assert_ne!(app.metrics, app.url("/metrics"));
    assert_problem(app.get("/metrics", None).await, StatusCode::NOT_FOUND).await;
    let metrics = app.client.get(&app.metrics).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert_eq!(header(&metrics, "x-content-type-options"), "nosniff");
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains(r#"route="/metrics",status="404""#));
    // That listener serves nothing else.
    let other = app
        .client
        .get(app.metrics.replace("/metrics", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_problem(other, StatusCode::NOT_FOUND).await;
    app.settle().await;
}
