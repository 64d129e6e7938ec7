use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::Duration;

use storefront::domain::{Role, TokenSigner, User};

use crate::helpers::{assert_problem, spawn_app, spawn_app_with, start};

fn segments(token: &str) -> (String, Value, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    (parts[0].to_owned(), payload, parts[2].to_owned())
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[actix_web::test]
async fn forged_tokens_are_401() {
    let Some(app) = spawn_app().await else { return };
    let session = app.login("forger@example.com").await;
    let (header, payload, signature) = segments(&session.token);

    let other_key = TokenSigner::new(
        b"another secret that is long enough!!",
        Duration::from_secs(600),
    );
    let user = User {
        id: session.id(),
        email: "forger@example.com".into(),
        phone_number: None,
        name: None,
        role: Role::Admin,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    };
    let signed_elsewhere = other_key.issue(&user).token;

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&payload)
    );
    let mut promoted = payload.clone();
    promoted["role"] = json!("admin");
    let tampered = format!("{header}.{}.{signature}", b64(&promoted));
    let mut other_user = payload.clone();
    other_user["sub"] = json!("999");
    let tampered_sub = format!("{header}.{}.{signature}", b64(&other_user));

    for (name, token) in [
        ("signed with another key", signed_elsewhere.as_str()),
        ("alg none", alg_none.as_str()),
        ("tampered role", tampered.as_str()),
        ("tampered subject", tampered_sub.as_str()),
        ("garbage", "not.a.token"),
        ("empty", ""),
    ] {
        let response = app.get("/auth/me", Some(token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
    // The genuine token still works.
    assert_eq!(
        app.get("/auth/me", Some(&session.token)).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn expired_token_is_401() {
    let Some(app) = spawn_app().await else { return };
    let session = app.login("late@example.com").await;
    let (_, mut payload, _) = segments(&session.token);
    let secret = std::fs::read_to_string(app.data_dir.join("jwt_secret")).unwrap();
    let now = chrono::Utc::now().timestamp();
    payload["iat"] = json!(now - 7200);
    payload["exp"] = json!(now - 3600);
    let expired = encode(
        &Header::default(),
        &payload,
        &EncodingKey::from_secret(secret.trim().as_bytes()),
    )
    .unwrap();
    assert_problem(
        app.get("/auth/me", Some(&expired)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // The same claims with a live expiry pass, so the refusal was the expiry.
    payload["exp"] = json!(now + 3600);
    let live = encode(
        &Header::default(),
        &payload,
        &EncodingKey::from_secret(secret.trim().as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.get("/auth/me", Some(&live)).await.status(),
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_restart_keeps_sessions_with_the_generated_secret() {
    let Some(first) = spawn_app().await else {
        return;
    };
    let session = first.login("stay@example.com").await;
    assert!(first.data_dir.join("jwt_secret").exists());

    // A second start on the same data folder and database.
    let second = start(first.settings.clone(), first.resources.clone()).await;
    let response = second.get("/auth/me", Some(&session.token)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// Session checks remember which email each user id belongs to. A token
/// signed with the node's own secret whose id now names another email (a
/// database replaced under the same secret) or no user at all is refused
/// all the same, the id's owner being remembered or not.
#[actix_web::test]
async fn a_genuinely_signed_token_for_someone_else_or_no_one_is_401() {
    let secret = "the secret of the node under this test";
    let Some(app) = spawn_app_with(|settings| {
        settings.auth.jwt_secret = Some(SecretString::from(secret));
    })
    .await
    else {
        return;
    };
    let session = app.login("alice@example.com").await;
    assert_eq!(
        app.get("/auth/me", Some(&session.token)).await.status(),
        StatusCode::OK
    );
    let signer = TokenSigner::new(secret.as_bytes(), Duration::from_secs(600));
    let signed = |id: i64, email: &str| {
        signer
            .issue(&User {
                id,
                email: email.into(),
                phone_number: None,
                name: None,
                role: Role::Customer,
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            })
            .token
    };
    for (name, token) in [
        (
            "her id, another email",
            signed(session.id(), "mallory@example.com"),
        ),
        (
            "no such user",
            signed(session.id() + 1000, "nobody@example.com"),
        ),
    ] {
        let response = app.get("/auth/me", Some(&token)).await;
        let problem = assert_problem(response, StatusCode::UNAUTHORIZED).await;
        assert_eq!(
            problem["detail"], "the user of this session no longer exists",
            "{name}"
        );
    }
    let hers = signed(session.id(), "alice@example.com");
    let me: Value = app.get("/auth/me", Some(&hers)).await.json().await.unwrap();
    assert_eq!(
        me["email"], "alice@example.com",
        "the test signs as the node does"
    );
}
