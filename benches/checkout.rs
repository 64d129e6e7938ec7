//! Checkout throughput on PostgreSQL: eight buyers checking out at once,
//! each buying a product of their own, then all buying the same product
//! (every checkout waits for the one before it on that stock row). The
//! baseline, run in the same process against the same database, is the
//! least a checkout must do: one transaction that takes one unit of stock
//! with a conditional update. Ratios against it are what to read.
//!
//!     cargo bench --bench checkout [-- SECONDS]
//!
//! Needs PostgreSQL (STOREFRONT_BENCH_POSTGRES, default the local one); it
//! works in a database of its own and drops it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storefront::config::{DatabaseSettings, DatabaseUrl, SecretUrl};
use storefront::domain::{
    AddressDraft, CartOwner, NewAddress, NewProduct, PaymentProvider, ProductDraft, Quantity, Role,
    Size, Variant,
};
use storefront::store::{
    CartStore, Checkout, CheckoutOutcome, NewCartLine, OrderStore, PgStore, ProductStore, UserStore,
};

const BUYERS: usize = 8;

struct Buyer {
    user_id: i64,
    address_id: i64,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(5);
    let admin_url = std::env::var("STOREFRONT_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("bench_checkout_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let store = Arc::new(
        PgStore::connect(&DatabaseSettings {
            url: DatabaseUrl::Postgres(SecretUrl::parse(&url).unwrap()),
            max_connections: std::num::NonZeroU32::new(16).unwrap(),
            acquire_timeout_secs: std::num::NonZeroU64::new(30).unwrap(),
            ..DatabaseSettings::default()
        })
        .await
        .unwrap(),
    );

    let mut products = Vec::new();
    let mut buyers = Vec::new();
    for n in 0..BUYERS {
        let product = NewProduct::parse(ProductDraft {
            title: Some(format!("Bench dress {n}")),
            price: Some(5000),
            category: Some("dresses".into()),
            variants: Some(vec![Variant {
                size: Size::M,
                stock: 1_000_000,
            }]),
            ..Default::default()
        })
        .unwrap();
        products.push(store.create_product(&product, "USD").await.unwrap().id);
        let (user, _) = store
            .upsert_login(&format!("buyer{n}@example.com"), None, Role::Customer)
            .await
            .unwrap();
        let address = NewAddress::parse(AddressDraft {
            street: Some("1 Main St".into()),
            city: Some("Springfield".into()),
            zip_code: Some("62701".into()),
            country: Some("US".into()),
            ..Default::default()
        })
        .unwrap();
        let address = store.add_address(user.id, &address).await.unwrap();
        buyers.push(Buyer {
            user_id: user.id,
            address_id: address.id,
        });
    }
    let buyers = Arc::new(buyers);
    let run = Duration::from_secs(seconds);

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await
        .unwrap();
    let baseline_products = products.clone();
    let baseline = measure(run, move |n| {
        let pool = pool.clone();
        let product = baseline_products[n];
        async move {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(
                "UPDATE product_variants SET stock = stock - 1
                 WHERE product_id = $1 AND size = 'M' AND stock >= 1",
            )
            .bind(product)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await;
    let checkout = |same: bool| {
        let store = store.clone();
        let buyers = buyers.clone();
        let products = products.clone();
        move |n: usize| {
            let store = store.clone();
            let buyers = buyers.clone();
            let product = if same { products[0] } else { products[n] };
            async move {
                let buyer = &buyers[n];
                let owner = CartOwner::User(buyer.user_id);
                let line = NewCartLine {
                    product_id: product,
                    size: Size::M,
                    quantity: Quantity::parse(1).unwrap(),
                    title: "Bench dress".into(),
                };
                store.add_to_cart(&owner, &line, 99, 50).await.unwrap();
                let outcome = store
                    .place_order(&Checkout {
                        user_id: buyer.user_id,
                        email: format!("buyer{n}@example.com"),
                        address_id: buyer.address_id,
                        currency: "USD".into(),
                        idempotency: None,
                        expected_subtotal: None,
                        payment_provider: PaymentProvider::Manual,
                        payment_timeout: Duration::from_secs(1800),
                    })
                    .await
                    .unwrap();
                assert!(matches!(outcome, CheckoutOutcome::Placed { .. }));
            }
        }
    };
    let distinct = measure(run, checkout(false)).await;
    let same = measure(run, checkout(true)).await;

    println!("checkout throughput on PostgreSQL, {BUYERS} concurrent buyers, {seconds} s each\n");
    println!("| case | per second | vs baseline |");
    println!("|---|---|---|");
    println!("| baseline: one conditional stock update per transaction, distinct rows | {baseline:.0} | 1.00 |");
    println!(
        "| add to cart + checkout, distinct products | {distinct:.0} | {:.2} |",
        distinct / baseline
    );
    println!(
        "| add to cart + checkout, one product (row contention) | {same:.0} | {:.2} |",
        same / baseline
    );

    drop(store);
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}

/// Runs `BUYERS` loops of `work(buyer)` for `run`; operations per second.
async fn measure<F, Fut>(run: Duration, work: F) -> f64
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let work = Arc::new(work);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let loops: Vec<_> = (0..BUYERS)
        .map(|n| {
            let work = work.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while started.elapsed() < run {
                    work(n).await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for handle in loops {
        handle.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
