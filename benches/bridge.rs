//! What the bridge costs, in one run. `GetProduct` answered by a
//! ProductActor through its local address (the ceiling), then over RabbitMQ
//! three ways: a command published with a confirm and answered on a reply
//! queue of the caller's own (how calls went before direct reply-to), a
//! call straight on the shared connection (`Bridge::call`), and the same
//! call through the BridgeActor's mailbox; and events published with a
//! confirm, straight on the shared connection and through the BridgeActor.
//!
//!     cargo bench --bench bridge [-- SECONDS]
//!
//! Needs PostgreSQL and RabbitMQ (STOREFRONT_BENCH_POSTGRES,
//! STOREFRONT_BENCH_RABBITMQ; the local ones by default). It works in a
//! database and a bus namespace of its own and deletes them after.

use futures_util::future::{join_all, LocalBoxFuture};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::BasicProperties;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

use storefront::actors::product::{CreateProduct, GetProduct, ProductActor};
use storefront::actors::ActorKind;
use storefront::bus::bridge::{Bridge, BridgeHandle, Claims, Names};
use storefront::bus::trust::{self, BusKeys, Sealing};
use storefront::bus::{Event, EventEnvelope, ProductChanged};
use storefront::config::{DatabaseUrl, KvUrl, MailTransportKind, SecretUrl, Settings};
use storefront::domain::{NewProduct, ProductDraft, Size, Variant};
use storefront::runtime::{Address, CallError, RemoteCall, RemoteRoute};
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
    let actor = BridgeHandle::start(caller.clone(), Duration::from_secs(5));
    let remote = |route: Arc<dyn RemoteRoute>| {
        Address::<ProductActor>::remote(ActorKind::Product, route, Duration::from_secs(5))
    };
    let shared = remote(Arc::new(SharedConnection(caller.clone())));
    let through_actor = remote(Arc::new(actor.clone()));
    let confirmed = remote(ConfirmedCommands::start(caller.clone()).await);

    let bare = BareRoundTrip::start(caller.clone()).await;
    let round_trip = || {
        let bare = bare.clone();
        move || {
            let bare = bare.clone();
            boxed(async move { bare.round_trip().await })
        }
    };
    let get = |address: Address<ProductActor>| {
        let id = product.id;
        move || {
            let address = address.clone();
            boxed(async move {
                address.call(GetProduct { id }).await.unwrap().unwrap();
            })
        }
    };
    let event = || EventEnvelope {
        message_id: uuid::Uuid::new_v4(),
        origin_node: "bench-caller".into(),
        timestamp: chrono::Utc::now(),
        event: Event::ProductChanged(ProductChanged { product_id: 0 }),
    };
    let publish_shared = || {
        let caller = caller.clone();
        move || {
            let caller = caller.clone();
            boxed(async move { caller.publish(&event()).await.unwrap() })
        }
    };
    let publish_actor = || {
        let actor = actor.clone();
        move || {
            let actor = actor.clone();
            boxed(async move { actor.publish(Arc::new(event())).await.unwrap() })
        }
    };
    let mut rows = Vec::new();
    for (in_flight, label) in [(1, "one at a time"), (CONCURRENT, "32 in flight")] {
        let cases: Vec<Work> = vec![
            Box::new(round_trip()),
            Box::new(get(local.clone())),
            Box::new(get(confirmed.clone())),
            Box::new(get(shared.clone())),
            Box::new(get(through_actor.clone())),
            Box::new(publish_shared()),
            Box::new(publish_actor()),
        ];
        let measured = interleaved(period, in_flight, &cases, || settle(&caller)).await;
        let [floor, ceiling, before, straight, mailbox, published, published_by_actor] =
            measured[..]
        else {
            unreachable!("one rate per case")
        };
        rows.push((
            format!("bare broker round trip: publish, and consume it back, {label}"),
            floor,
            None,
        ));
        rows.push((format!("GetProduct, local address, {label}"), ceiling, None));
        rows.push((
            format!(
                "GetProduct over RabbitMQ, confirmed command and reply queue (before), {label}"
            ),
            before,
            None,
        ));
        rows.push((
            format!("GetProduct over RabbitMQ, direct reply-to, shared connection, {label}"),
            straight,
            Some(("before", before)),
        ));
        rows.push((
            format!("GetProduct over RabbitMQ, direct reply-to, through BridgeActor, {label}"),
            mailbox,
            Some(("shared connection", straight)),
        ));
        rows.push((
            format!("event published with confirm, shared connection, {label}"),
            published,
            None,
        ));
        rows.push((
            format!("event published with confirm, through BridgeActor, {label}"),
            published_by_actor,
            Some(("shared connection", published)),
        ));
    }

    println!(
        "calls and events across nodes, {}-second runs\n",
        period.as_secs()
    );
    println!("| case | per second | mean round trip | vs |");
    println!("|---|---|---|---|");
    for (case, measured, baseline) in rows {
        let versus = baseline.map_or(String::new(), |(name, baseline)| {
            format!(
                "{:.2} × {name}'s rate, {:.2} × its round trip",
                measured.per_second / baseline.per_second,
                measured.mean_us / baseline.mean_us
            )
        });
        println!(
            "| {case} | {:.0} | {:.1} µs | {versus} |",
            measured.per_second, measured.mean_us
        );
    }

    let names = Names::new(&namespace);
    let channel = caller.link().connection.create_channel().await.unwrap();
    for kind in ActorKind::ROLES {
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

/// One case of the run: a future per call.
type Work = Box<dyn Fn() -> LocalBoxFuture<'static, ()>>;

fn boxed(work: impl std::future::Future<Output = ()> + 'static) -> LocalBoxFuture<'static, ()> {
    Box::pin(work)
}

/// How many rounds each case's time is cut into: the cases take turns, so
/// that what the machine does meanwhile falls on all of them alike.
const ROUNDS: u32 = 6;

/// Runs every case for `period` in all, `concurrent` loops at once, in
/// `ROUNDS` turns, in order and in reverse order by turns, waiting after
/// each turn for what it left behind (`settle`): events the host still
/// consumes would otherwise slow whichever case comes next.
async fn interleaved<S, Settled>(
    period: Duration,
    concurrent: usize,
    cases: &[Work],
    settle: S,
) -> Vec<Rate>
where
    S: Fn() -> Settled,
    Settled: std::future::Future<Output = ()>,
{
    let mut totals = vec![(0u64, Duration::ZERO); cases.len()];
    for round in 0..ROUNDS {
        let mut order: Vec<usize> = (0..cases.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let (done, took) = turn(period / ROUNDS, concurrent, &cases[index]).await;
            totals[index].0 += done;
            totals[index].1 += took;
            settle().await;
        }
    }
    totals
        .into_iter()
        .map(|(done, took)| {
            let elapsed = took.as_secs_f64();
            Rate {
                per_second: done as f64 / elapsed,
                mean_us: elapsed * 1e6 * concurrent as f64 / done.max(1) as f64,
            }
        })
        .collect()
}

/// Waits until the host node has consumed every event the bench published
/// to it (its broadcast queue is empty), at most 30 s.
async fn settle(caller: &Bridge) {
    let queue = caller.names().node_queue("bench-host");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match caller.queue_depth(&queue).await {
            Some(depth) if depth.messages > 0 => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            _ => return,
        }
    }
}

/// Runs `concurrent` loops of `work` for `period`: how many it did, in how long.
async fn turn(period: Duration, concurrent: usize, work: &Work) -> (u64, Duration) {
    let started = Instant::now();
    let loops = (0..concurrent).map(|_| async move {
        let mut done = 0u64;
        while started.elapsed() < period {
            work().await;
            done += 1;
        }
        done
    });
    let done: u64 = join_all(loops).await.into_iter().sum();
    (done, started.elapsed())
}

/// Calls straight on the shared connection, without the BridgeActor.
struct SharedConnection(Arc<Bridge>);

#[async_trait::async_trait(?Send)]
impl RemoteRoute for SharedConnection {
    async fn call(&self, call: RemoteCall) -> Result<Vec<u8>, CallError> {
        self.0.call(call).await
    }
}

/// Who waits for which message, by correlation id: its body, as the
/// queue's reader opened it.
type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>;

/// Declares `queue` on `channel`, exclusive to it, and consumes it without
/// acks: each message `open` accepts goes to whoever waits for its
/// correlation id.
async fn answer_from(
    channel: &lapin::Channel,
    queue: &str,
    open: impl Fn(&lapin::message::Delivery) -> Option<Vec<u8>> + 'static,
) -> Waiters {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut deliveries = channel
        .basic_consume(
            queue.into(),
            format!("{queue}-reader").into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let waiters = Waiters::default();
    let answering = waiters.clone();
    actix_web::rt::spawn(async move {
        while let Some(Ok(delivery)) = deliveries.next().await {
            let Some(body) = open(&delivery) else {
                continue;
            };
            let Some(id) = delivery.properties.correlation_id().as_ref() else {
                continue;
            };
            let waiting = answering.lock().unwrap().remove(id.as_str());
            if let Some(waiting) = waiting {
                let _ = waiting.send(body);
            }
        }
    });
    waiters
}

/// Calls the way they went before direct reply-to: the command published
/// with a confirm, its reply on a queue of the caller's own.
struct ConfirmedCommands {
    bridge: Arc<Bridge>,
    channel: lapin::Channel,
    reply_queue: String,
    waiting: Waiters,
}

impl ConfirmedCommands {
    async fn start(bridge: Arc<Bridge>) -> Arc<ConfirmedCommands> {
        let channel = bridge.link().connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let reply_queue = format!("{}.bench-replies", bridge.names().namespace());
        let keys = bridge.keys().clone();
        let waiting = answer_from(&channel, &reply_queue, move |reply| {
            keys.delivered(reply).ok().map(|body| body.into_owned())
        })
        .await;
        Arc::new(ConfirmedCommands {
            bridge,
            channel,
            reply_queue,
            waiting,
        })
    }
}

#[async_trait::async_trait(?Send)]
impl RemoteRoute for ConfirmedCommands {
    async fn call(&self, call: RemoteCall) -> Result<Vec<u8>, CallError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (answer, answered) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id.clone(), answer);
        let properties = BasicProperties::default()
            .with_content_type(ShortString::from("application/json"))
            .with_type(ShortString::from(call.message))
            .with_reply_to(ShortString::from(self.reply_queue.clone()))
            .with_correlation_id(ShortString::from(id.clone()))
            .with_message_id(ShortString::from(id))
            .with_expiration(ShortString::from(call.timeout.as_millis().to_string()))
            .with_timestamp(trust::now_secs());
        let exchange = self.bridge.names().commands();
        let routing_key = call.kind.config_key();
        let (properties, body) = self.bridge.prepare(
            &exchange,
            routing_key,
            properties,
            &call.body,
            Sealing::Sealed,
        );
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                &body,
                properties,
            )
            .await
            .unwrap();
        assert!(confirm.await.unwrap().is_ack());
        tokio::time::timeout(call.timeout, answered)
            .await
            .map_err(|_| CallError::Remote(call.kind))?
            .map_err(|_| CallError::Remote(call.kind))
    }
}

/// The floor of any call over the broker: a message published to a queue
/// and consumed back on the same connection, no confirm, no work.
struct BareRoundTrip {
    channel: lapin::Channel,
    queue: String,
    waiting: Waiters,
}

impl BareRoundTrip {
    async fn start(bridge: Arc<Bridge>) -> Arc<BareRoundTrip> {
        let channel = bridge.link().connection.create_channel().await.unwrap();
        let queue = format!("{}.bench-bare", bridge.names().namespace());
        let waiting = answer_from(&channel, &queue, |delivery| Some(delivery.data.clone())).await;
        Arc::new(BareRoundTrip {
            channel,
            queue,
            waiting,
        })
    }

    async fn round_trip(&self) {
        let id = uuid::Uuid::new_v4().to_string();
        let (arrived, arrival) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id.clone(), arrived);
        self.channel
            .basic_publish(
                "".into(),
                self.queue.clone().into(),
                BasicPublishOptions::default(),
                b"{}",
                BasicProperties::default().with_correlation_id(ShortString::from(id)),
            )
            .await
            .unwrap();
        arrival.await.unwrap();
    }
}
