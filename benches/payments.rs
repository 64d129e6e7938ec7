//! What the payment provider's round trip costs a checkout: the same
//! checkout on two shops in one process, one taking payments by hand, one
//! through Stripe (localstripe on loopback), one at a time and 8 at once.
//! A checkout is what `POST /orders` does past the HTTP layer: a line into
//! the cart, the order placed (CartActor, OrderActor), and with Stripe the
//! PaymentIntent made and recorded (PaymentActor). The cases take turns so
//! that what the machine does meanwhile falls on both alike.
//!
//!     cargo bench --bench payments [-- SECONDS]
//!
//! Needs PostgreSQL (STOREFRONT_BENCH_POSTGRES, default the local one; each
//! shop works in a database of its own) and localstripe
//! (target/localstripe-venv, or STOREFRONT_TEST_LOCALSTRIPE).

use futures_util::future::{join_all, LocalBoxFuture};
use std::rc::Rc;
use std::time::{Duration, Instant};

use storefront::actors::cart::{AddToCart, CartActor};
use storefront::actors::order::{OrderActor, PlaceOrder};
use storefront::actors::payment::{PaymentActor, StartPayment};
use storefront::actors::product::{CreateProduct, ProductActor};
use storefront::actors::user::{AddAddress, Login, UserActor};
use storefront::actors::Registry;
use storefront::config::{DatabaseUrl, KvUrl, MailTransportKind, SecretUrl, Settings};
use storefront::domain::{
    AddressDraft, CartOwner, Email, NewAddress, NewProduct, PaymentProvider, ProductDraft,
    Quantity, Role, Size, Variant,
};
use storefront::startup::Application;
use storefront_test_support::localstripe::{Localstripe, SECRET_KEY};

/// Buyers per shop: one per checkout in flight (a user's checkouts take
/// turns by design).
const BUYERS: usize = 8;
const ROUNDS: u32 = 6;

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(10);
    actix_web::rt::System::new().block_on(run(Duration::from_secs(seconds)));
}

struct Shop {
    registry: Registry,
    product: i64,
    buyers: Vec<(i64, String, i64)>,
    stripe: bool,
    _folder: tempfile::TempDir,
}

async fn run(period: Duration) {
    let Some(localstripe) = Localstripe::start().await else {
        return;
    };
    let postgres = std::env::var("STOREFRONT_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = sqlx::PgPool::connect(&postgres)
        .await
        .expect("PostgreSQL answers");
    let mut databases = Vec::new();
    let mut shops = Vec::new();
    for provider in [PaymentProvider::Manual, PaymentProvider::Stripe] {
        let database = format!("bench_payments_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{}/{database}", postgres.rsplit_once('/').unwrap().0);
        databases.push(database);
        shops.push(Rc::new(shop(provider, &url, &localstripe.base).await));
    }

    println!(
        "checkout by payment provider, PostgreSQL, localstripe on loopback, {} s per case\n",
        period.as_secs()
    );
    println!("| case | checkouts per second | mean checkout | vs manual |");
    println!("|---|---|---|---|");
    for concurrent in [1, BUYERS] {
        let mut totals = [(0u64, Duration::ZERO); 2];
        for round in 0..ROUNDS {
            let mut order = [0, 1];
            if round % 2 == 1 {
                order.reverse();
            }
            for index in order {
                let (done, took) = turn(period / ROUNDS, concurrent, &shops[index]).await;
                totals[index].0 += done;
                totals[index].1 += took;
            }
        }
        let rates: Vec<(f64, f64)> = totals
            .iter()
            .map(|(done, took)| {
                let seconds = took.as_secs_f64();
                (
                    *done as f64 / seconds,
                    seconds * 1e6 * concurrent as f64 / (*done).max(1) as f64,
                )
            })
            .collect();
        for (index, name) in ["manual", "stripe (localstripe)"].iter().enumerate() {
            println!(
                "| {name}, {} | {:.0} | {:.0} µs | {:.2} |",
                if concurrent == 1 {
                    "one at a time".to_owned()
                } else {
                    format!("{concurrent} at once")
                },
                rates[index].0,
                rates[index].1,
                rates[index].0 / rates[0].0
            );
        }
    }

    drop(shops);
    for database in databases {
        let _ = sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)"))
            .execute(&admin)
            .await;
    }
    actix_web::rt::System::current().stop();
}

async fn shop(provider: PaymentProvider, database_url: &str, stripe_base: &str) -> Shop {
    let folder = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: folder.path().to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.url = DatabaseUrl::Postgres(SecretUrl::parse(database_url).unwrap());
    settings.database.max_connections = std::num::NonZeroU32::new(16).unwrap();
    settings.kv.url = KvUrl::Memory;
    settings.mail.transport = MailTransportKind::File;
    settings.mail.outbox_dir = folder.path().join("outbox");
    settings.log.level = storefront::config::LogFilter::new("warn");
    settings.payments.provider = provider;
    settings.payments.stripe.secret_key = Some(SECRET_KEY.to_owned().into());
    settings.payments.stripe.webhook_secret = Some("whsec_bench".to_owned().into());
    settings.payments.stripe.api_base = stripe_base.parse().unwrap();
    let application = Application::build(settings.validated().unwrap())
        .await
        .unwrap();
    let registry = application.registry().clone();
    actix_web::rt::spawn(application.run_until_stopped());

    let product = registry
        .get::<ProductActor>()
        .call(CreateProduct {
            product: NewProduct::parse(ProductDraft {
                title: Some("Bench dress".into()),
                price: Some(4900),
                category: Some("dresses".into()),
                variants: Some(vec![Variant {
                    size: Size::M,
                    stock: 1_000_000_000,
                }]),
                ..Default::default()
            })
            .unwrap(),
        })
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut buyers = Vec::new();
    for n in 0..BUYERS {
        let email = format!("buyer{n}@example.com");
        let user = registry
            .get::<UserActor>()
            .call(Login {
                email: Email::parse(&email).unwrap(),
                phone_number: None,
                role: Role::Customer,
            })
            .await
            .unwrap()
            .unwrap();
        let address = registry
            .get::<UserActor>()
            .call(AddAddress {
                user_id: user.id,
                address: NewAddress::parse(AddressDraft {
                    street: Some("1 Main St".into()),
                    city: Some("Springfield".into()),
                    zip_code: Some("62701".into()),
                    country: Some("US".into()),
                    ..Default::default()
                })
                .unwrap(),
            })
            .await
            .unwrap()
            .unwrap();
        buyers.push((user.id, email, address.id));
    }
    Shop {
        registry,
        product,
        buyers,
        stripe: provider == PaymentProvider::Stripe,
        _folder: folder,
    }
}

/// One checkout of buyer `n`, as `POST /orders` makes it.
fn checkout(shop: Rc<Shop>, n: usize) -> LocalBoxFuture<'static, ()> {
    Box::pin(async move {
        let (user_id, email, address_id) = shop.buyers[n].clone();
        shop.registry
            .get::<CartActor>()
            .call(AddToCart {
                owner: CartOwner::User(user_id),
                product_id: shop.product,
                size: Size::M,
                quantity: Quantity::parse(1).unwrap(),
                new_guest: None,
            })
            .await
            .unwrap()
            .unwrap();
        let placed = shop
            .registry
            .get::<OrderActor>()
            .call(PlaceOrder {
                user_id,
                email,
                address_id,
                idempotency_key: None,
                expected_subtotal: None,
            })
            .await
            .unwrap()
            .unwrap();
        if shop.stripe {
            let order = shop
                .registry
                .get::<PaymentActor>()
                .call(StartPayment {
                    order_id: placed.order.id,
                    owner: Some(user_id),
                })
                .await
                .unwrap()
                .unwrap();
            assert!(order.payment.intent_id.is_some());
        }
    })
}

/// Runs `concurrent` buyers checking out for `period`: how many, in how long.
async fn turn(period: Duration, concurrent: usize, shop: &Rc<Shop>) -> (u64, Duration) {
    let started = Instant::now();
    let lanes = (0..concurrent).map(|n| {
        let shop = shop.clone();
        async move {
            let mut done = 0u64;
            while started.elapsed() < period {
                checkout(shop.clone(), n).await;
                done += 1;
            }
            done
        }
    });
    let done: u64 = join_all(lanes).await.into_iter().sum();
    (done, started.elapsed())
}
