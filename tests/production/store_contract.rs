//! One contract for every implementation of a storage trait: the same cases
//! run against SQLite and PostgreSQL, against the memory and Redis OTP
//! stores, and against both client limiters, so implementations cannot
//! drift apart.

use chrono::{Duration as Span, Utc};
use std::sync::Arc;
use std::time::Duration;

use storefront::config::{DatabaseSettings, DatabaseUrl, KvSettings, KvUrl, SecretUrl};
use storefront::domain::{
    AddressChanges, AddressDraft, ClientKey, MailKind, NewAddress, NewProduct, PersonName,
    ProductDraft, ProfileChanges, Role, Size, Stock, Variant,
};
use storefront::store::{
    Claim, ClientLimit, ClientLimiter, ClientQuotas, Erasure, LocalClientLimiter, MailQueue,
    MemoryOtpStore, MessageLog, MirroredRevocations, OtpCheck, OtpStore, PgStore, ProductStore,
    RateDecision, RedisStore, RetryNow, RevocationStore, Rounds, SqliteStore, StoredMail,
    UserStore, VariantsWrite, Written,
};

use crate::helpers::{nonzero, nonzero64, production_services, TestDatabase};

fn database(url: DatabaseUrl) -> DatabaseSettings {
    DatabaseSettings {
        url,
        max_connections: nonzero(4),
        acquire_timeout_secs: nonzero64(5),
        ..DatabaseSettings::default()
    }
}

fn address(street: &str, is_default: bool) -> NewAddress {
    NewAddress::parse(AddressDraft {
        street: Some(street.into()),
        city: Some("Springfield".into()),
        zip_code: Some("62701".into()),
        country: Some("US".into()),
        is_default: Some(is_default),
        ..Default::default()
    })
    .unwrap()
}

/// Polls `check` until it holds, for at most five seconds: the way to wait
/// for a TTL kept by a server whose clock a test cannot move.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
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
    let steal = AddressChanges::parse(AddressDraft {
        is_default: Some(true),
        city: Some("Elsewhere".into()),
        ..Default::default()
    })
    .unwrap();
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

    // Erasure: the person goes, the email is free again, and a second
    // erasure finds it done.
    assert_eq!(store.erase_user(ana.id).await.unwrap(), Erasure::Now);
    assert!(store.user(ana.id).await.unwrap().is_none());
    assert!(store.addresses(ana.id).await.unwrap().is_empty());
    assert_eq!(store.erase_user(ana.id).await.unwrap(), Erasure::Before);
    assert_eq!(
        store.erase_user(ana.id + 1000).await.unwrap(),
        Erasure::Missing
    );
    let (anew, created) = store
        .upsert_login("ana@example.com", None, Role::Customer)
        .await
        .unwrap();
    assert!(created, "the email signs up again as a new account");
    assert_ne!(anew.id, ana.id);
    assert_eq!(anew.phone_number, None);
    store.ping().await.unwrap();
}

fn stored_mail(expires_at: Option<chrono::DateTime<Utc>>) -> StoredMail {
    StoredMail {
        kind: MailKind::Welcome,
        sender: Some("no-reply@localhost".into()),
        recipients: vec!["a@example.com".into(), "b@example.com".into()],
        subject: "Hello".into(),
        sealed: b"sealed bytes".to_vec(),
        expires_at,
    }
}

async fn mail_queue_contract(queue: &dyn MailQueue) {
    let mail = stored_mail(None);
    let lease = Duration::from_secs(60);
    let due_now = Duration::ZERO;
    let sending = queue
        .enqueue("event-1", &mail, lease)
        .await
        .unwrap()
        .unwrap();
    assert!(
        queue.claim_due(lease, 10).await.unwrap().is_empty(),
        "a mail is leased to the try that wrote it"
    );
    assert_eq!(
        queue.retry_now(sending).await.unwrap(),
        RetryNow::Sending,
        "a retry leaves a mail alone while its try may still deliver it"
    );
    let due = queue
        .enqueue("event-2", &mail, due_now)
        .await
        .unwrap()
        .unwrap();
    let later = queue
        .enqueue("event-3", &mail, due_now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        queue.enqueue("event-2", &mail, due_now).await.unwrap(),
        None,
        "one event's mail is written once"
    );
    queue
        .failed(later, 1, "refused", Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(
        queue.retry_now(due).await.unwrap(),
        RetryNow::Due,
        "a lease that ran out (its try died) holds nothing"
    );

    let claimed = queue.claim_due(lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].id, claimed[0].attempts), (due, 0));
    assert_eq!(claimed[0].mail.recipients, mail.recipients);
    assert_eq!(claimed[0].mail.sealed, mail.sealed);
    assert_eq!(claimed[0].mail.kind, MailKind::Welcome);
    assert!(
        queue.claim_due(lease, 10).await.unwrap().is_empty(),
        "a claimed mail is leased"
    );
    assert_eq!(queue.retry_now(due).await.unwrap(), RetryNow::Sending);

    queue.failed(due, 2, "still refused", None).await.unwrap();
    let queued = queue.queued().await.unwrap();
    assert_eq!(
        queued.iter().map(|m| m.id).collect::<Vec<_>>(),
        [sending, due, later]
    );
    assert!(queued[1].dead && !queued[0].dead && !queued[2].dead);
    assert_eq!(
        (queued[1].attempts, queued[1].last_error.as_str()),
        (2, "still refused")
    );

    assert_eq!(
        queue.retry_now(due).await.unwrap(),
        RetryNow::Due,
        "a failed try gives its lease back"
    );
    assert_eq!(
        queue.retry_now(due + 1000).await.unwrap(),
        RetryNow::Missing
    );
    let claimed = queue.claim_due(lease, 10).await.unwrap();
    assert_eq!(
        claimed
            .iter()
            .map(|m| (m.id, m.attempts))
            .collect::<Vec<_>>(),
        [(due, 0)]
    );
    queue.delete(due).await.unwrap();
    assert_eq!(queue.queued().await.unwrap().len(), 2);
    assert_eq!(
        queue.enqueue("event-2", &mail, due_now).await.unwrap(),
        None,
        "nor again once it was sent"
    );

    // A mail whose content expired is never claimed, cannot be retried, and
    // is purged, dead or not.
    let now = Utc::now();
    let expiring = queue
        .enqueue(
            "event-4",
            &stored_mail(Some(now + Span::seconds(3))),
            due_now,
        )
        .await
        .unwrap()
        .unwrap();
    let expired = queue
        .enqueue(
            "event-5",
            &stored_mail(Some(now - Span::seconds(1))),
            due_now,
        )
        .await
        .unwrap()
        .unwrap();
    queue.failed(expired, 1, "refused", None).await.unwrap();
    let claimed = queue.claim_due(lease, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [expiring]);
    assert_eq!(queue.retry_now(expired).await.unwrap(), RetryNow::Missing);
    assert_eq!(queue.purge_expired().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(queue.purge_expired().await.unwrap(), 1);
    assert!(queue
        .queued()
        .await
        .unwrap()
        .iter()
        .all(|m| m.expires_at.is_none()));
}

async fn message_log_contract(log: &dyn MessageLog) {
    let lease = Duration::from_secs(60);
    assert_eq!(log.claim("q", "m1", lease).await.unwrap(), Claim::Ours);
    assert_eq!(
        log.claim("q", "m1", lease).await.unwrap(),
        Claim::Held,
        "a claim within its lease is another delivery's"
    );
    assert_eq!(
        log.claim("other-queue", "m1", lease).await.unwrap(),
        Claim::Ours,
        "each consumer claims for itself"
    );
    log.release("q", "m1").await.unwrap();
    assert_eq!(
        log.claim("q", "m1", lease).await.unwrap(),
        Claim::Ours,
        "a released message is claimed again"
    );
    log.finish("q", "m1").await.unwrap();
    assert_eq!(log.claim("q", "m1", lease).await.unwrap(), Claim::Done);
    assert_eq!(
        log.claim("q", "m1", Duration::ZERO).await.unwrap(),
        Claim::Done,
        "a handled message is never taken over"
    );
    log.release("q", "m1").await.unwrap();
    assert_eq!(log.claim("q", "m1", lease).await.unwrap(), Claim::Done);

    assert_eq!(log.claim("q", "m2", lease).await.unwrap(), Claim::Ours);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        log.claim("q", "m2", Duration::from_millis(10))
            .await
            .unwrap(),
        Claim::Ours,
        "a claim older than the lease was abandoned: taken over"
    );
}

async fn revocation_contract(store: &dyn RevocationStore) {
    assert!(!store.is_revoked("jti", 1).await.unwrap());
    store
        .revoke("jti", Utc::now() + Span::hours(1))
        .await
        .unwrap();
    store
        .revoke("jti", Utc::now() + Span::hours(1))
        .await
        .unwrap();
    assert!(store.is_revoked("jti", 1).await.unwrap());
    assert!(!store.is_revoked("other", 1).await.unwrap());
    store
        .revoke("short", Utc::now() + Span::milliseconds(100))
        .await
        .unwrap();
    assert!(store.is_revoked("short", 1).await.unwrap());
    eventually("a revocation ends with its token", || async {
        !store.is_revoked("short", 1).await.unwrap()
    })
    .await;
    assert!(store.is_revoked("jti", 1).await.unwrap());

    // Every session of one user, whatever its token.
    store
        .revoke_user(7, Utc::now() + Span::hours(1))
        .await
        .unwrap();
    assert!(store.is_revoked("any", 7).await.unwrap());
    assert!(!store.is_revoked("any", 8).await.unwrap());
    store
        .revoke_user(8, Utc::now() + Span::milliseconds(100))
        .await
        .unwrap();
    assert!(store.is_revoked("any", 8).await.unwrap());
    eventually("a user's revocation ends with their last token", || async {
        !store.is_revoked("any", 8).await.unwrap()
    })
    .await;
    assert!(store.is_revoked("any", 7).await.unwrap());
}

/// Of many nodes claiming one round at once, one runs it; nobody again
/// before its lease ends; someone after.
async fn rounds_contract(rounds: &dyn Rounds) {
    let claims = futures_util::future::join_all(
        (0..8).map(|_| rounds.claim_round("sweep", Duration::from_millis(300))),
    )
    .await;
    let won = claims
        .into_iter()
        .filter(|claim| *claim.as_ref().unwrap())
        .count();
    assert_eq!(won, 1, "one claim of eight won");
    assert!(!rounds
        .claim_round("sweep", Duration::from_millis(300))
        .await
        .unwrap());
    assert!(
        rounds
            .claim_round("other", Duration::from_millis(300))
            .await
            .unwrap(),
        "rounds are claimed apart"
    );
    eventually(
        "the lease ends and the round can be claimed again",
        || async {
            rounds
                .claim_round("sweep", Duration::from_millis(300))
                .await
                .unwrap()
        },
    )
    .await;
}

fn product(title: &str) -> NewProduct {
    NewProduct::parse(ProductDraft {
        title: Some(title.into()),
        price: Some(1000),
        category: Some("dresses".into()),
        relevant_keywords: Some(vec!["summer".into()]),
        variants: Some(vec![Variant {
            size: Size::M,
            stock: 3,
        }]),
        ..Default::default()
    })
    .unwrap()
}

async fn product_store_contract(store: &dyn ProductStore) {
    let created = store
        .create_product(&product("Linen dress"), "USD")
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let stocked = store
        .set_stock(created.id, Size::M, Stock::parse(7).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stocked.version, stocked.variants[0].stock), (2, 7));

    let renamed = product("Linen maxi dress");
    assert_eq!(
        store
            .replace_product(created.id, &renamed, VariantsWrite::Keep, Some(1))
            .await
            .unwrap(),
        Written::Stale,
        "a write naming an old version changes nothing"
    );
    let Written::Done(replaced) = store
        .replace_product(created.id, &renamed, VariantsWrite::Keep, Some(2))
        .await
        .unwrap()
    else {
        panic!("the current version was refused")
    };
    assert_eq!(replaced.title, "Linen maxi dress");
    assert_eq!(replaced.version, 3);
    assert_eq!(replaced.variants[0].stock, 7, "Keep leaves the stock alone");
    assert_eq!(
        store
            .replace_product(created.id + 1000, &renamed, VariantsWrite::Keep, None)
            .await
            .unwrap(),
        Written::Missing
    );
    assert_eq!(
        store.delete_product(created.id, Some(2)).await.unwrap(),
        Written::Stale
    );
    assert_eq!(
        store.delete_product(created.id, None).await.unwrap(),
        Written::Done(())
    );
    assert!(store.product(created.id).await.unwrap().is_none());
    assert_eq!(
        store.delete_product(created.id, None).await.unwrap(),
        Written::Missing
    );

    catalogue_clock_contract(store, created.id).await;
}

/// Every write moves the catalogue clock and names its product after the
/// tick a reader had; refused writes move nothing; reads come with their
/// variants.
async fn catalogue_clock_contract(store: &dyn ProductStore, deleted: i64) {
    let before = store.catalogue().await.unwrap();
    assert!(
        before.products.is_empty(),
        "the deleted product is not read"
    );
    assert_eq!(
        store.changed_since(before.tick).await.unwrap().ids,
        Vec::<i64>::new()
    );

    store
        .create_products(&[product("Silk scarf"), product("Wool coat")], "USD")
        .await
        .unwrap();
    let read = store.catalogue().await.unwrap();
    let titles: Vec<&str> = read.products.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["Silk scarf", "Wool coat"]);
    assert_eq!(
        read.products[1].variants,
        [Variant {
            size: Size::M,
            stock: 3
        }]
    );
    let (scarf, coat) = (read.products[0].id, read.products[1].id);
    assert_eq!(
        store.changed_since(before.tick).await.unwrap(),
        storefront::store::CatalogueChanges {
            tick: read.tick,
            ids: vec![scarf, coat],
        }
    );

    // A stale write changes nothing and moves no product past the tick.
    assert_eq!(
        store.delete_product(coat, Some(99)).await.unwrap(),
        Written::Stale
    );
    assert!(store.changed_since(read.tick).await.unwrap().ids.is_empty());
    store
        .set_stock(scarf, Size::L, Stock::parse(2).unwrap())
        .await
        .unwrap();
    store.delete_product(coat, None).await.unwrap();
    let changes = store.changed_since(read.tick).await.unwrap();
    assert_eq!(changes.ids, [scarf, coat], "a deletion is a change too");
    assert!(changes.tick > read.tick);
    assert!(store
        .changed_since(changes.tick)
        .await
        .unwrap()
        .ids
        .is_empty());

    let live = store.products(&[scarf, coat, deleted]).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(
        live[0].variants,
        [
            Variant {
                size: Size::M,
                stock: 3
            },
            Variant {
                size: Size::L,
                stock: 2
            }
        ],
        "variants in size order"
    );
    let mut titles = store.live_titles().await.unwrap();
    titles.sort();
    assert_eq!(titles, ["Silk scarf"]);
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
    eventually("a code expires", || async {
        store.check_code("d", &[9; 32], 100).await.unwrap() == OtpCheck::Missing
    })
    .await;

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
    store.forget_hits("k").await.unwrap();
    assert_eq!(
        store.hit("k", 2, minute).await.unwrap(),
        RateDecision::Allowed,
        "forgotten hits count no more"
    );
    store.ping().await.unwrap();
}

fn quotas() -> ClientQuotas {
    ClientQuotas {
        otp_requests_per_minute: nonzero(3),
        otp_verifies_per_minute: nonzero(120),
        guest_carts_per_minute: nonzero(2),
    }
}

async fn client_limiter_contract(limiter: &dyn ClientLimiter) {
    let ana = ClientKey::from_ip("192.0.2.10".parse().unwrap());
    let bo = ClientKey::from_ip("192.0.2.11".parse().unwrap());
    for _ in 0..3 {
        assert_eq!(
            limiter.check(ClientLimit::OtpRequest, &ana).await.unwrap(),
            RateDecision::Allowed
        );
    }
    match limiter.check(ClientLimit::OtpRequest, &ana).await.unwrap() {
        // One more every 20 s.
        RateDecision::Limited { retry_after } => assert!(
            retry_after > Duration::from_secs(15) && retry_after <= Duration::from_secs(20),
            "{retry_after:?}"
        ),
        RateDecision::Allowed => panic!("a fourth request within the minute was allowed"),
    }
    assert_eq!(
        limiter.check(ClientLimit::OtpRequest, &bo).await.unwrap(),
        RateDecision::Allowed,
        "another client is not limited"
    );
    assert_eq!(
        limiter.check(ClientLimit::OtpVerify, &ana).await.unwrap(),
        RateDecision::Allowed,
        "each limit counts apart"
    );
    for _ in 0..2 {
        assert_eq!(
            limiter.check(ClientLimit::GuestCart, &ana).await.unwrap(),
            RateDecision::Allowed
        );
    }
    assert!(matches!(
        limiter.check(ClientLimit::GuestCart, &ana).await.unwrap(),
        RateDecision::Limited { .. }
    ));
    // 120 a minute is one every 500 ms: spent, it comes back with time.
    let mut spent = false;
    for _ in 0..200 {
        if matches!(
            limiter.check(ClientLimit::OtpVerify, &bo).await.unwrap(),
            RateDecision::Limited { .. }
        ) {
            spent = true;
            break;
        }
    }
    assert!(spent, "the allowance never ran out");
    eventually("the allowance comes back", || async {
        limiter.check(ClientLimit::OtpVerify, &bo).await.unwrap() == RateDecision::Allowed
    })
    .await;
}

#[tokio::test]
async fn sqlite_keeps_the_contract() {
    let folder = tempfile::tempdir().unwrap();
    let store = SqliteStore::connect(&database(DatabaseUrl::sqlite_file(
        &folder.path().join("contract.db"),
    )))
    .await
    .unwrap();
    user_store_contract(&store).await;
    mail_queue_contract(&store).await;
    message_log_contract(&store).await;
    revocation_contract(&store).await;
    product_store_contract(&store).await;
    rounds_contract(&store).await;
}

/// The embedded mode answers session checks from memory: the mirror keeps
/// the contract, and a new mirror (a restarted node) starts from the
/// revocations the file holds and have not expired.
#[tokio::test]
async fn sqlite_revocations_mirrored_in_memory_keep_the_contract_across_a_restart() {
    let folder = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::sqlite_file(&folder.path().join("revocations.db"));
    let store = Arc::new(SqliteStore::connect(&database(url.clone())).await.unwrap());
    let mirror = MirroredRevocations::new(store.clone(), store.live_revocations().await.unwrap());
    revocation_contract(&mirror).await;
    mirror
        .revoke("brief", Utc::now() + Span::milliseconds(100))
        .await
        .unwrap();
    drop((mirror, store));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let reopened = Arc::new(SqliteStore::connect(&database(url)).await.unwrap());
    let live = reopened.live_revocations().await.unwrap();
    let jtis: Vec<&str> = live.tokens.iter().map(|(jti, _)| jti.as_str()).collect();
    assert_eq!(jtis, ["jti"], "expired revocations are not loaded");
    let users: Vec<i64> = live.users.iter().map(|(user, _)| *user).collect();
    assert_eq!(users, [7], "expired user revocations are not loaded");
    let restarted = MirroredRevocations::new(reopened, live);
    assert!(restarted.is_revoked("jti", 1).await.unwrap());
    assert!(!restarted.is_revoked("other", 1).await.unwrap());
    assert!(restarted.is_revoked("other", 7).await.unwrap());
}

#[tokio::test]
async fn postgres_keeps_the_contract() {
    let Some(services) = production_services().await else {
        return;
    };
    let test_database = TestDatabase::create(&services.postgres).await;
    let store = PgStore::connect(&database(test_database.database_url()))
        .await
        .unwrap();
    user_store_contract(&store).await;
    mail_queue_contract(&store).await;
    message_log_contract(&store).await;
    revocation_contract(&store).await;
    product_store_contract(&store).await;
    rounds_contract(&store).await;
}

#[tokio::test]
async fn memory_stores_keep_the_contract() {
    otp_store_contract(&MemoryOtpStore::new()).await;
    client_limiter_contract(&LocalClientLimiter::new(quotas())).await;
}

#[tokio::test]
async fn redis_store_keeps_the_contract() {
    let Some(services) = production_services().await else {
        return;
    };
    let store = RedisStore::connect(
        &KvSettings {
            url: KvUrl::Redis(SecretUrl::parse(&services.redis).unwrap()),
            prefix: format!("sftest:{}:", uuid::Uuid::new_v4().simple()),
            pool_size: nonzero(4),
            timeout_ms: nonzero64(2000),
        },
        quotas(),
    )
    .unwrap();
    otp_store_contract(&store).await;
    revocation_contract(&store).await;
    client_limiter_contract(&store).await;
}
