//! Concurrency against the real Redis: the atomic scripts hold under load.

use futures_util::future::join_all;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;

use storefront::config::{KvSettings, KvUrl, SecretUrl};
use storefront::store::{ClientQuotas, OtpCheck, OtpStore, RedisStore};

use crate::helpers::{production_services, spawn_app, start};

#[actix_web::test]
async fn twenty_concurrent_verifies_of_one_code_succeed_once_across_two_nodes() {
    let Some(node_a) = spawn_app().await else {
        return;
    };
    let node_b = start(node_a.settings.clone(), node_a.resources.clone()).await;
    node_a.request_otp("race@example.com").await;
    let code = node_a.next_code("race@example.com").await;

    let verifies = (0..20).map(|i| {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        node.verify("race@example.com", &code)
    });
    let statuses: Vec<StatusCode> = join_all(verifies)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
}

#[actix_web::test]
async fn fifty_concurrent_wrong_tries_over_http_kill_the_code() {
    let Some(app) = spawn_app().await else { return };
    app.request_otp("brute@example.com").await;
    let code = app.next_code("brute@example.com").await;
    let wrong = if code == "111111" { "111112" } else { "111111" };
    let statuses: Vec<StatusCode> =
        join_all((0..50).map(|_| app.verify("brute@example.com", wrong)))
            .await
            .iter()
            .map(|r| r.status())
            .collect();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(
        app.verify("brute@example.com", &code).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn fifty_concurrent_wrong_tries_never_get_more_than_five() {
    let Some(services) = production_services().await else {
        return;
    };
    let store = Arc::new(
        RedisStore::connect(
            &KvSettings {
                url: KvUrl::Redis(SecretUrl::parse(&services.redis).unwrap()),
                prefix: format!("sftest:{}:", uuid::Uuid::new_v4().simple()),
                pool_size: crate::helpers::nonzero(16),
                timeout_ms: crate::helpers::nonzero64(2000),
            },
            ClientQuotas {
                otp_requests_per_minute: crate::helpers::nonzero(1),
                otp_verifies_per_minute: crate::helpers::nonzero(1),
                guest_carts_per_minute: crate::helpers::nonzero(1),
            },
        )
        .unwrap(),
    );
    store
        .put_code("a@example.com", [7; 32], Duration::from_secs(60))
        .await
        .unwrap();
    let tries = (0..50).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .check_code("a@example.com", &[8; 32], 5)
                .await
                .unwrap()
        })
    });
    let answers: Vec<OtpCheck> = join_all(tries)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let rejected = answers
        .iter()
        .filter(|a| matches!(a, OtpCheck::Rejected { .. }))
        .count();
    assert_eq!(rejected, 5, "{answers:?}");
    assert_eq!(
        answers.iter().filter(|a| **a == OtpCheck::Missing).count(),
        45
    );
    assert_eq!(
        store
            .check_code("a@example.com", &[7; 32], 5)
            .await
            .unwrap(),
        OtpCheck::Missing
    );
}

#[actix_web::test]
async fn nodes_starting_together_on_a_fresh_database_migrate_once() {
    let Some(services) = production_services().await else {
        return;
    };
    let database = crate::helpers::TestDatabase::create(&services.postgres).await;
    let folder = tempfile::tempdir().unwrap();
    let mut settings = crate::helpers::test_settings(folder.path());
    settings.database.url = database.database_url();
    let starts = (0..3).map(|_| storefront::startup::Application::build(settings.clone()));
    for started in join_all(starts).await {
        started.expect("every node starts");
    }
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    let (applied,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let files = std::fs::read_dir("migrations/postgres").unwrap().count() as i64;
    assert_eq!(applied, files);
    pool.close().await;
}
