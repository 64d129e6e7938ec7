//! What a call costs across nodes, against the same call on the node, in one
//! run: `GetProduct` answered by a ProductActor through its local address,
//! then through the bridge (a command to the hosting node and its reply over
//! RabbitMQ); and how many events a node publishes with confirms per second.
//!
//!     cargo bench --bench bridge [-- SECONDS]
//!
//! Needs PostgreSQL and RabbitMQ (STOREFRONT_BENCH_POSTGRES,
//! STOREFRONT_BENCH_RABBITMQ; the local ones by default). It works in a
//! database and a bus namespace of its own and deletes them after.

use futures_util::future::join_all;
use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

use storefront::actors::product::{CreateProduct, GetProduct, ProductActor};
use storefront::actors::ActorKind;
use storefront::bus::bridge::{Bridge, Claims, Names};
use storefront::bus::remote::BridgeRoute;
use storefront::bus::trust::BusKeys;
use storefront::bus::{Event, EventEnvelope, ProductChanged};
use storefront::config::{DatabaseUrl, KvUrl, MailTransportKind, SecretUrl, Settings};
use storefront::domain::{NewProduct, ProductDraft, Size, Variant};
use storefront::runtime::{Address, RemoteRoute};
use storefront::startup::Application;
use storefront::store::PgStore;

/// Calls in flight at once for the throughput rows.
const CONCURRENT: usize = 32;

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(3);
    actix_web::rt::System::new().block_on(run(Duration::from_secs(seconds)));
}

async fn run(period: Duration) {
    let postgres = std::env::var("STOREFRONT_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let rabbit = std::env::var("STOREFRONT_BENCH_RABBITMQ")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let database = format!("bench_bridge_{suffix}");
    let namespace = format!("benchbridge{suffix}");
    let admin = sqlx::PgPool::connect(&postgres)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(&format!("CREATE DATABASE {database}"))
        .execute(&admin)
        .await
        .unwrap();
    let database_url = format!("{}/{database}", postgres.rsplit_once('/').unwrap().0);
    let folder = tempfile::tempdir().unwrap();

    let mut settings = Settings {
        data_dir: folder.path().to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.database.url = DatabaseUrl::Postgres(SecretUrl::parse(&database_url).unwrap());
    settings.kv.url = KvUrl::Memory;
    settings.mail.transport = MailTransportKind::File;
    settings.mail.outbox_dir = folder.path().join("outbox");
    settings.bus.url = Some(SecretUrl::parse(&rabbit).unwrap());
    settings.bus.namespace = namespace.clone();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    settings.bus.secret = Some(secret.clone().into());
    settings.node.id = "bench-host".into();
    let settings = settings.validated().unwrap();
    let application = Application::build(settings.clone()).await.unwrap();
    let registry = application.registry().clone();
    actix_web::rt::spawn(application.run_until_stopped());

    let local = registry.get::<ProductActor>().clone();
    let product = local
        .call(CreateProduct {
            product: NewProduct::parse(ProductDraft {
                title: Some("Bench dress".into()),
                price: Some(5000),
                category: Some("dresses".into()),
                variants: Some(vec![Variant {
                    size: Size::M,
                    stock: 3,
                }]),
                ..Default::default()
            })
            .unwrap(),
        })
        .await
        .unwrap()
        .unwrap();

    let store = Arc::new(PgStore::connect(&settings.database).await.unwrap());
    let caller = Bridge::connect(
        &rabbit,
        &namespace,
        "bench-caller",
        Claims::new(store, Duration::from_secs(5)),
        BusKeys::new(secret.as_bytes()),
    )
    .await
    .unwrap();
    let route = BridgeRoute::start(caller.clone()).await.unwrap();
    let remote = Address::<ProductActor>::remote(
        ActorKind::Product,
        route as Arc<dyn RemoteRoute>,
        Duration::from_secs(5),
    );

    let get = |address: Address<ProductActor>| {
        let id = product.id;
        move || {
            let address = address.clone();
            async move {
                address.call(GetProduct { id }).await.unwrap().unwrap();
            }
        }
    };
    let local_one = rate(period, 1, get(local.clone())).await;
    let remote_one = rate(period, 1, get(remote.clone())).await;
    let local_many = rate(period, CONCURRENT, get(local)).await;
    let remote_many = rate(period, CONCURRENT, get(remote)).await;
    let publish = || {
        let caller = caller.clone();
        move || {
            let caller = caller.clone();
            async move {
                let envelope = EventEnvelope {
                    message_id: uuid::Uuid::new_v4(),
                    origin_node: "bench-caller".into(),
                    timestamp: chrono::Utc::now(),
                    event: Event::ProductChanged(ProductChanged { product_id: 0 }),
                };
                caller.publish(&envelope).await.unwrap();
            }
        }
    };
    let publish_one = rate(period, 1, publish()).await;
    let publish_many = rate(period, CONCURRENT, publish()).await;

    println!(
        "calls and events across nodes, {}-second runs\n",
        period.as_secs()
    );
    println!("| case | per second | mean round trip | vs local |");
    println!("|---|---|---|---|");
    for (case, measured, baseline) in [
        (
            "GetProduct, local address, one at a time",
            local_one,
            local_one,
        ),
        (
            "GetProduct, over RabbitMQ, one at a time",
            remote_one,
            local_one,
        ),
        (
            "GetProduct, local address, 32 in flight",
            local_many,
            local_many,
        ),
        (
            "GetProduct, over RabbitMQ, 32 in flight",
            remote_many,
            local_many,
        ),
    ] {
        println!(
            "| {case} | {:.0} | {:.1} µs | {:.3} |",
            measured.per_second,
            measured.mean_us,
            measured.per_second / baseline.per_second
        );
    }
    println!(
        "| event published with confirm, one at a time | {:.0} | {:.1} µs | |",
        publish_one.per_second, publish_one.mean_us
    );
    println!(
        "| event published with confirm, 32 in flight | {:.0} | {:.1} µs | |",
        publish_many.per_second, publish_many.mean_us
    );

    let names = Names::new(&namespace);
    let channel = caller.link().connection.create_channel().await.unwrap();
    for kind in ActorKind::ALL {
        for queue in [
            names.kind_queue(kind.config_key()),
            names.command_queue(kind.config_key()),
        ] {
            let _ = channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await;
        }
    }
    let _ = channel
        .queue_delete(names.dead().into(), QueueDeleteOptions::default())
        .await;
    for exchange in [
        names.events(),
        names.broadcast(),
        names.dead(),
        names.commands(),
    ] {
        let _ = channel
            .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
            .await;
    }
    sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
    actix_web::rt::System::current().stop();
}

#[derive(Clone, Copy)]
struct Rate {
    per_second: f64,
    mean_us: f64,
}

/// Runs `concurrent` loops of `work` for `period`.
async fn rate<F, Fut>(period: Duration, concurrent: usize, work: F) -> Rate
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    let loops = (0..concurrent).map(|_| {
        let work = &work;
        async move {
            let mut done = 0u64;
            while started.elapsed() < period {
                work().await;
                done += 1;
            }
            done
        }
    });
    let done: u64 = join_all(loops).await.into_iter().sum();
    let elapsed = started.elapsed().as_secs_f64();
    Rate {
        per_second: done as f64 / elapsed,
        mean_us: elapsed * 1e6 * concurrent as f64 / done.max(1) as f64,
    }
}
