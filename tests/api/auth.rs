use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, spawn_app_with, ADMIN_EMAIL};

#[actix_web::test]
async fn full_login_journey_reads_the_code_from_the_outbox() {
    let Some(app) = spawn_app().await else { return };

    let response = app.request_otp("Ana@Example.com").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "message": "OTP sent successfully" }));

    let mail = app
        .next_mail("ana@example.com", "Your storefront sign-in code")
        .await;
    for header in [
        "From: storefront <no-reply@localhost>",
        "Date: ",
        "Message-ID: <",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ] {
        assert!(mail.contains(header), "the mail lacks {header:?}:\n{mail}");
    }
    let code = crate::helpers::code_in(&mail);

    let response = app.verify("ana@example.com", &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["user"]["email"], "ana@example.com");
    assert_eq!(body["user"]["role"], "customer");
    assert!(body["expiresAt"].is_string());

    assert!(
        cookie.starts_with(&format!("access_token={token}")),
        "{cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"] {
        assert!(
            cookie.contains(attribute),
            "cookie lacks {attribute}: {cookie}"
        );
    }
    assert!(!cookie.contains("Secure"), "{cookie}");

    // The cookie alone signs the browser in.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let code = {
        assert_eq!(
            app.request_otp("ana@example.com").await.status(),
            StatusCode::ACCEPTED
        );
        app.next_code("ana@example.com").await
    };
    let response = browser
        .post(app.url("/auth/otp/verify"))
        .json(&json!({ "email": "ana@example.com", "otp": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = browser
        .get(app.url("/auth/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ana@example.com");
    assert_eq!(
        me["id"], body["user"]["id"],
        "the second login finds the same user"
    );
}

#[actix_web::test]
async fn bearer_token_signs_in_and_admin_emails_get_the_admin_role() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await;
    assert_eq!(admin.user["role"], "admin");
    let response = app.get("/auth/me", Some(&admin.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["id"], admin.user["id"]);
}

#[actix_web::test]
async fn secure_cookie_when_configured() {
    let Some(app) = spawn_app_with(|settings| settings.auth.cookie_secure = true).await else {
        return;
    };
    app.request_otp("bo@example.com").await;
    let code = app.next_code("bo@example.com").await;
    let response = app.verify("bo@example.com", &code).await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[actix_web::test]
async fn legacy_aliases_work() {
    let Some(app) = spawn_app().await else { return };
    let response = app
        .post_json(
            "/send-otp",
            &json!({ "email": "cy@example.com", "phoneNumber": "+1 555 0100 123" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let code = app.next_code("cy@example.com").await;
    let response = app
        .post_json(
            "/verify-otp",
            &json!({ "email": "cy@example.com", "otp": code, "phoneNumber": "+1 555 0100 123" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["phoneNumber"], "+1 555 0100 123");
}

#[actix_web::test]
async fn first_login_creates_the_user_once_and_sends_a_welcome_mail() {
    let Some(app) = spawn_app().await else { return };
    let first = app.login("di@example.com").await;
    let second = app.login("di@example.com").await;
    assert_eq!(first.id(), second.id());
    app.next_mail("di@example.com", "Welcome to storefront")
        .await;
    // Every event published so far has been handled: a second welcome mail
    // would have been written by now.
    app.settle().await;
    let welcomes = app
        .mails_to("di@example.com")
        .into_iter()
        .filter(|mail| mail.contains("Subject: Welcome to storefront"))
        .count();
    assert_eq!(welcomes, 1);
}

#[actix_web::test]
async fn wrong_code_is_refused() {
    let Some(app) = spawn_app().await else { return };
    app.request_otp("ed@example.com").await;
    let code = app.next_code("ed@example.com").await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let body = assert_problem(
        app.verify("ed@example.com", wrong).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("wrong"), "{body}");
    // A wrong try does not kill the code before the limit.
    assert_eq!(
        app.verify("ed@example.com", &code).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_code_for_another_email_is_refused() {
    let Some(app) = spawn_app().await else { return };
    app.request_otp("fa@example.com").await;
    let code = app.next_code("fa@example.com").await;
    app.request_otp("fb@example.com").await;
    assert_problem(
        app.verify("fb@example.com", &code).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[actix_web::test]
async fn expired_code_is_refused() {
    let Some(app) =
        spawn_app_with(|settings| settings.auth.otp_ttl_secs = crate::helpers::nonzero64(1)).await
    else {
        return;
    };
    app.request_otp("gu@example.com").await;
    let mail = app
        .next_mail("gu@example.com", "Your storefront sign-in code")
        .await;
    let code = crate::helpers::code_in(&mail);
    // The mail names the moment the code dies (stated after it was stored,
    // so no earlier than the store's own expiry): wait for that moment.
    let expires_at = crate::helpers::expiry_in(&mail);
    crate::helpers::eventually("the code's stated expiry passes", || async {
        chrono::Utc::now() > expires_at
    })
    .await;
    assert_problem(
        app.verify("gu@example.com", &code).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[actix_web::test]
async fn a_code_works_once() {
    let Some(app) = spawn_app().await else { return };
    app.request_otp("ha@example.com").await;
    let code = app.next_code("ha@example.com").await;
    assert_eq!(
        app.verify("ha@example.com", &code).await.status(),
        StatusCode::OK
    );
    assert_problem(
        app.verify("ha@example.com", &code).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[actix_web::test]
async fn a_new_code_replaces_the_previous_one() {
    let Some(app) = spawn_app().await else { return };
    app.request_otp("ia@example.com").await;
    let first = app.next_code("ia@example.com").await;
    app.request_otp("ia@example.com").await;
    let second = app.next_code("ia@example.com").await;
    if first != second {
        assert_problem(
            app.verify("ia@example.com", &first).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    assert_eq!(
        app.verify("ia@example.com", &second).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn the_code_dies_after_five_wrong_tries() {
    let Some(app) = spawn_app().await else { return };
    app.request_otp("jo@example.com").await;
    let code = app.next_code("jo@example.com").await;
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        assert_problem(
            app.verify("jo@example.com", wrong).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
    // The sixth try, even with the right code, finds the code dead.
    assert_problem(
        app.verify("jo@example.com", &code).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[actix_web::test]
async fn send_limit_answers_429_with_retry_after() {
    let Some(app) = spawn_app_with(|settings| {
        settings.auth.otp_send_interval_secs = 30;
        settings.auth.otp_sends_per_hour = crate::helpers::nonzero(10);
    })
    .await
    else {
        return;
    };
    assert_eq!(
        app.request_otp("ka@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    let response = app.request_otp("ka@example.com").await;
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    // The limit is per email.
    assert_eq!(
        app.request_otp("kb@example.com").await.status(),
        StatusCode::ACCEPTED
    );
}

#[actix_web::test]
async fn hourly_send_limit() {
    let Some(app) = spawn_app_with(|settings| {
        settings.auth.otp_send_interval_secs = 0;
        settings.auth.otp_sends_per_hour = crate::helpers::nonzero(3);
    })
    .await
    else {
        return;
    };
    for _ in 0..3 {
        assert_eq!(
            app.request_otp("la@example.com").await.status(),
            StatusCode::ACCEPTED
        );
    }
    let response = app.request_otp("la@example.com").await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 3500 && retry_after <= 3600, "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
}

#[actix_web::test]
async fn known_and_unknown_emails_get_the_same_answer() {
    let Some(app) = spawn_app().await else { return };
    app.login("known@example.com").await;
    let known = app.request_otp("known@example.com").await;
    let unknown = app.request_otp("unknown@example.com").await;
    assert_eq!(known.status(), unknown.status());
    let header_names = |response: &reqwest::Response| {
        let mut names: Vec<String> = response
            .headers()
            .keys()
            .map(|name| name.to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(header_names(&known), header_names(&unknown));
    let known: Value = known.json().await.unwrap();
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(known, unknown);
}

#[actix_web::test]
async fn logout_revokes_the_token_and_clears_the_cookie() {
    let Some(app) = spawn_app().await else { return };
    let session = app.login("mo@example.com").await;
    let response = app.logout(&session.token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("access_token=;"), "{cookie}");
    assert!(cookie.contains("Max-Age=0"), "{cookie}");

    assert_problem(
        app.get("/auth/me", Some(&session.token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A new login gives a new working session.
    let again = app.login("mo@example.com").await;
    assert_eq!(
        app.get("/auth/me", Some(&again.token)).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn signed_out_calls_are_401() {
    let Some(app) = spawn_app().await else { return };
    for path in ["/auth/me", "/users/me", "/users/me/addresses"] {
        let response = app.get(path, None).await;
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
}
