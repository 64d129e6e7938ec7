//! One contract for every implementation of a storage trait: the same cases
//! run against SQLite and PostgreSQL, and against the memory and Redis OTP
//! stores, so the implementations cannot drift apart.

use chrono::{Duration as Span, Utc};
use std::time::Duration;

use storefront::config::{DatabaseSettings, KvSettings};
use storefront::domain::{AddressFields, PersonName, ProfileChanges, Role};
use storefront::store::{
    MailQueue, MemoryOtpStore, OtpCheck, OtpStore, ParkedMail, PgStore, RateDecision,
    RedisOtpStore, SqliteStore, UserStore,
};

use crate::helpers::{production_services, TestDatabase};

fn database(url: String) -> DatabaseSettings {
    DatabaseSettings {
        url,
        max_connections: 4,
        acquire_timeout_secs: 5,
    }
}

fn address(street: &str, is_default: bool) -> storefront::domain::NewAddress {
    AddressFields {
        street: Some(street.into()),
        city: Some("Springfield".into()),
        zip_code: Some("62701".into()),
        country: Some("US".into()),
        is_default: Some(is_default),
        ..Default::default()
    }
    .into_new()
    .unwrap()
}

async fn user_store_contract(store: &dyn UserStore) {
    let (ana, created) = store
        .upsert_login("ana@example.com", Some("+1 555 0100"), Role::Customer)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(ana.role, Role::Customer);
    let (again, created) = store
        .upsert_login("ana@example.com", None, Role::Admin)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!((again.id, again.role), (ana.id, Role::Admin));
    assert_eq!(
        again.phone_number.as_deref(),
        Some("+1 555 0100"),
        "a login without a phone keeps it"
    );
    assert_eq!(
        store.user(ana.id).await.unwrap().unwrap().email,
        "ana@example.com"
    );
    assert!(store.user(ana.id + 1000).await.unwrap().is_none());

    let changes = ProfileChanges {
        name: Some(PersonName::parse("Ana").unwrap()),
        phone_number: None,
    };
    let renamed = store
        .update_profile(ana.id, &changes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Ana"));
    assert_eq!(renamed.phone_number.as_deref(), Some("+1 555 0100"));
    assert!(store
        .update_profile(ana.id + 1000, &changes)
        .await
        .unwrap()
        .is_none());

    let (bo, _) = store
        .upsert_login("bo@example.com", None, Role::Customer)
        .await
        .unwrap();
    let home = store
        .add_address(ana.id, &address("1 Main St", false))
        .await
        .unwrap();
    assert!(home.is_default, "the first address is the default");
    let work = store
        .add_address(ana.id, &address("9 Office Rd", true))
        .await
        .unwrap();
    assert!(work.is_default);
    let listed = store.addresses(ana.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.id).collect::<Vec<_>>(),
        [work.id, home.id]
    );
    assert!(!listed[1].is_default);

    // Another user's address: invisible and untouchable.
    assert!(store.address(bo.id, home.id).await.unwrap().is_none());
    let steal = storefront::domain::AddressChanges {
        is_default: Some(true),
        city: Some("Elsewhere".into()),
        ..Default::default()
    };
    assert!(store
        .update_address(bo.id, home.id, &steal)
        .await
        .unwrap()
        .is_none());
    assert!(!store.delete_address(bo.id, work.id).await.unwrap());
    assert!(
        store
            .address(ana.id, work.id)
            .await
            .unwrap()
            .unwrap()
            .is_default,
        "a refused update changes nothing"
    );

    let moved = store
        .update_address(ana.id, home.id, &steal)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((moved.city.as_str(), moved.is_default), ("Elsewhere", true));
    assert!(
        !store
            .address(ana.id, work.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert!(store.delete_address(ana.id, work.id).await.unwrap());
    assert_eq!(store.addresses(ana.id).await.unwrap().len(), 1);
    store.ping().await.unwrap();
}

async fn mail_queue_contract(queue: &dyn MailQueue) {
    let mail = ParkedMail {
        sender: Some("no-reply@localhost".into()),
        recipients: vec!["a@example.com".into(), "b@example.com".into()],
        subject: "Hello".into(),
        raw: b"Subject: Hello\r\n\r\nbody\r\n".to_vec(),
    };
    let now = Utc::now();
    let due = queue
        .park(&mail, 1, "refused", Some(now - Span::seconds(1)))
        .await
        .unwrap();
    let later = queue
        .park(&mail, 1, "refused", Some(now + Span::hours(1)))
        .await
        .unwrap();
    let dead = queue.park(&mail, 1, "permanent", None).await.unwrap();

    let claimed = queue
        .claim_due(now, Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempts), (due, 1));
    assert_eq!(claimed[0].mail.recipients, mail.recipients);
    assert_eq!(claimed[0].mail.raw, mail.raw);
    assert!(
        queue
            .claim_due(now, Duration::from_secs(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "a claimed mail is leased"
    );

    queue.failed(due, 2, "still refused", None).await.unwrap();
    let queued = queue.queued().await.unwrap();
    assert_eq!(
        queued.iter().map(|m| m.id).collect::<Vec<_>>(),
        [due, later, dead]
    );
    assert!(queued[0].dead && queued[2].dead && !queued[1].dead);
    assert_eq!(
        (queued[0].attempts, queued[0].last_error.as_str()),
        (2, "still refused")
    );

    assert!(queue.retry_now(dead).await.unwrap());
    assert!(!queue.retry_now(dead + 1000).await.unwrap());
    let claimed = queue
        .claim_due(Utc::now() + Span::seconds(1), Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|m| (m.id, m.attempts))
            .collect::<Vec<_>>(),
        [(dead, 0)]
    );
    queue.delivered(dead).await.unwrap();
    assert_eq!(queue.queued().await.unwrap().len(), 2);
}

async fn otp_store_contract(store: &dyn OtpStore) {
    let minute = Duration::from_secs(60);
    store.put_code("a", [1; 32], minute).await.unwrap();
    assert_eq!(
        store.check_code("a", &[1; 32], 3).await.unwrap(),
        OtpCheck::Accepted
    );
    assert_eq!(
        store.check_code("a", &[1; 32], 3).await.unwrap(),
        OtpCheck::Missing
    );

    store.put_code("b", [1; 32], minute).await.unwrap();
    for left in [2, 1, 0] {
        assert_eq!(
            store.check_code("b", &[2; 32], 3).await.unwrap(),
            OtpCheck::Rejected {
                attempts_left: left
            }
        );
    }
    assert_eq!(
        store.check_code("b", &[1; 32], 3).await.unwrap(),
        OtpCheck::Missing
    );

    store.put_code("c", [1; 32], minute).await.unwrap();
    store.check_code("c", &[2; 32], 3).await.unwrap();
    store.put_code("c", [3; 32], minute).await.unwrap();
    assert_eq!(
        store.check_code("c", &[3; 32], 3).await.unwrap(),
        OtpCheck::Accepted,
        "a new code resets the tries"
    );

    store
        .put_code("d", [1; 32], Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        store.check_code("d", &[1; 32], 3).await.unwrap(),
        OtpCheck::Missing
    );

    assert_eq!(
        store.hit("k", 2, minute).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        store.hit("k", 2, minute).await.unwrap(),
        RateDecision::Allowed
    );
    match store.hit("k", 2, minute).await.unwrap() {
        RateDecision::Limited { retry_after } => {
            assert!(retry_after <= minute && retry_after > minute / 2)
        }
        other => panic!("{other:?}"),
    }

    assert!(!store.is_revoked("jti").await.unwrap());
    store
        .revoke("jti", Duration::from_millis(100))
        .await
        .unwrap();
    assert!(store.is_revoked("jti").await.unwrap());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!store.is_revoked("jti").await.unwrap());
    store.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_keeps_the_contract() {
    let folder = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&database(format!(
        "sqlite://{}/contract.db",
        folder.path().display()
    )))
    .await
    .unwrap();
    user_store_contract(&store).await;
    mail_queue_contract(&store).await;
}

#[tokio::test]
async fn postgres_keeps_the_contract() {
    let Some(services) = production_services().await else {
        return;
    };
    let test_database = TestDatabase::create(&services.postgres).await;
    let store = PgStore::connect(&database(test_database.url.clone()))
        .await
        .unwrap();
    user_store_contract(&store).await;
    mail_queue_contract(&store).await;
}

#[tokio::test]
async fn memory_otp_store_keeps_the_contract() {
    otp_store_contract(&MemoryOtpStore::new()).await;
}

#[tokio::test]
async fn redis_otp_store_keeps_the_contract() {
    let Some(services) = production_services().await else {
        return;
    };
    let store = RedisOtpStore::connect(&KvSettings {
        url: services.redis,
        prefix: format!("sftest:{}:", uuid::Uuid::new_v4().simple()),
        pool_size: 4,
        timeout_ms: 2000,
    })
    .unwrap();
    otp_store_contract(&store).await;
}
