//! Nodes sharing PostgreSQL, Redis and RabbitMQ: events cross nodes through
//! the bridge. Each test works in a `bus.namespace` of its own, deleted
//! after it.

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ExchangeDeleteOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

use storefront::actors::product::DeleteProduct;
use storefront::bus::bridge::{Bridge, Claims, Names};
use storefront::bus::remote::declare_command_queues;
use storefront::bus::trust::{BusKeys, Sealing};
use storefront::bus::{Event, EventEnvelope, UserCreated};
use storefront::config::{DatabaseSettings, SecretUrl, Settings};
use storefront::domain::{NewProduct, ProductDraft, Size, Variant};
use storefront::store::{PgStore, ProductStore};

use crate::helpers::{
    assert_problem, eventually, nonzero, nonzero64, spawn_app_with, start, TestApp, ADMIN_EMAIL,
};
use storefront::actors::ActorKind;
use storefront_test_support::tcp_proxy::TcpProxy;
use storefront_test_support::webdriver::Browser;

const RABBIT: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

pub fn rabbit_url() -> String {
    std::env::var("STOREFRONT_TEST_RABBITMQ").unwrap_or_else(|_| RABBIT.into())
}

/// RabbitMQ if it answers; under `CI=true` it must.
pub async fn rabbit() -> Option<Connection> {
    match Connection::connect(&rabbit_url(), ConnectionProperties::default()).await {
        Ok(connection) => Some(connection),
        Err(err) => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!(
                    "RabbitMQ at {} is unreachable: {err}; CI=true requires it",
                    rabbit_url()
                );
            }
            eprintln!("SKIPPED (RabbitMQ): {} is unreachable: {err}", rabbit_url());
            None
        }
    }
}

/// A namespace of exchanges and queues that is deleted when dropped, and
/// the `bus.secret` its nodes share.
pub struct Namespace {
    pub name: String,
    pub secret: String,
}

impl Namespace {
    pub fn new() -> Namespace {
        Namespace {
            name: format!("sftest{}", uuid::Uuid::new_v4().simple()),
            secret: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// The keys its nodes sign and seal with.
    pub fn keys(&self) -> BusKeys {
        BusKeys::new(self.secret.as_bytes())
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let names = Names::new(&self.name);
        let queues = ActorKind::ROLES
            .iter()
            .flat_map(|kind| {
                [
                    names.kind_queue(kind.config_key()),
                    names.command_queue(kind.config_key()),
                ]
            })
            .chain([names.dead()]);
        let exchanges = [
            names.events(),
            names.broadcast(),
            names.dead(),
            names.commands(),
            names.heartbeats(),
        ];
        let queues: Vec<String> = queues.collect();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let Ok(connection) =
                    Connection::connect(&rabbit_url(), ConnectionProperties::default()).await
                else {
                    return;
                };
                let Ok(channel) = connection.create_channel().await else {
                    return;
                };
                for queue in queues {
                    let _ = channel
                        .queue_delete(queue.into(), QueueDeleteOptions::default())
                        .await;
                }
                for exchange in exchanges {
                    let _ = channel
                        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                        .await;
                }
            });
        })
        .join();
    }
}

pub fn clustered(settings: &mut Settings, namespace: &Namespace, node: &str) {
    settings.bus.url = Some(SecretUrl::parse(&rabbit_url()).unwrap());
    settings.bus.secret = Some(namespace.secret.clone().into());
    settings.bus.namespace = namespace.name.clone();
    settings.node.id = node.into();
    // Only the broadcast may bring other nodes' writes in these tests.
    settings.catalogue.refresh_secs = nonzero64(3600);
}

/// Two nodes on one database, SMTP server and namespace.
pub async fn two_nodes(namespace: &Namespace) -> Option<(TestApp, TestApp)> {
    rabbit().await?;
    let first = spawn_app_with(|settings| clustered(settings, namespace, "node-a")).await?;
    let mut settings = first.settings.clone();
    clustered(&mut settings, namespace, "node-b");
    let second = start(settings, first.resources.clone()).await;
    Some((first, second))
}

#[actix_web::test]
async fn a_sign_in_on_one_node_is_mailed_once_by_the_cluster() {
    let namespace = Namespace::new();
    let Some((first, second)) = two_nodes(&namespace).await else {
        return;
    };
    let email = "clustered@example.com";
    let session = first.login(email).await;
    assert_eq!(
        second.get("/auth/me", Some(&session.token)).await.status(),
        StatusCode::OK,
        "a session from one node works on another"
    );
    first.next_mail(email, "Welcome to storefront").await;
    // Both nodes consume the mailer's queue: each event is mailed once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let welcomes = first
        .mails_to(email)
        .iter()
        .filter(|mail| mail.contains("Subject: Welcome to storefront"))
        .count();
    assert_eq!(welcomes, 1);
    let codes = first
        .mails_to(email)
        .iter()
        .filter(|mail| mail.contains("Subject: Your storefront sign-in code"))
        .count();
    assert_eq!(codes, 1);

    let ready: Value = second.get("/readyz", None).await.json().await.unwrap();
    assert!(
        ready["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|dependency| dependency["name"] == "bus" && dependency["ok"] == true),
        "{ready}"
    );
    let admin = first.login(ADMIN_EMAIL).await.token;
    let bus: Value = first
        .get("/admin/bus", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bus["broker"]["connected"], true, "{bus}");
    assert_eq!(bus["broker"]["namespace"], namespace.name.as_str());
    assert!(bus["broker"]["confirmed"].as_u64().unwrap() >= 2, "{bus}");
    assert_eq!(bus["broker"]["lateReplies"], 0, "{bus}");

    eventually("each node lists both by their heartbeats", || async {
        let nodes: Vec<Value> = first
            .get("/admin/cluster", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = nodes
            .iter()
            .map(|node| node["nodeId"].as_str().unwrap())
            .collect();
        ids == ["node-a", "node-b"]
            && nodes[1]["roles"].as_array().unwrap().len() == ActorKind::ROLES.len()
            && nodes[1]["address"]
                .as_str()
                .unwrap()
                .starts_with("http://127.0.0.1:")
    })
    .await;
}

#[actix_web::test]
async fn a_product_write_reaches_every_nodes_catalogue() {
    let namespace = Namespace::new();
    let Some((first, second)) = two_nodes(&namespace).await else {
        return;
    };
    let admin = first.login(ADMIN_EMAIL).await.token;
    let response = first
        .send_json(
            Method::POST,
            "/products",
            Some(&admin),
            &json!({ "title": "Broadcast dress", "price": 1000, "category": "dresses",
                     "variants": [{ "size": "M", "stock": 2 }] }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    eventually("the other node lists the new product", || async {
        let page: Value = second
            .get("/products?q=broadcast", None)
            .await
            .json()
            .await
            .unwrap();
        page["total"] == 1
    })
    .await;
}

/// A bridge of the test's own in `namespace`, with its secret, to send
/// what a node of the cluster might.
pub async fn test_sender(database: &DatabaseSettings, namespace: &Namespace) -> Arc<Bridge> {
    let store = PgStore::connect(database).await.unwrap();
    Bridge::connect(
        &rabbit_url(),
        &namespace.name,
        "test-sender",
        Claims::new(Arc::new(store), Duration::from_secs(5)),
        namespace.keys(),
    )
    .await
    .unwrap()
}

pub async fn bridge_for(app: &TestApp, namespace: &Namespace) -> Arc<Bridge> {
    test_sender(&app.settings.database, namespace).await
}

/// A `user.created` event for `email`, with a message id of its own.
pub fn user_created(email: &str) -> EventEnvelope {
    EventEnvelope {
        message_id: uuid::Uuid::new_v4(),
        origin_node: "test-sender".into(),
        timestamp: chrono::Utc::now(),
        event: Event::UserCreated(UserCreated {
            user_id: 1,
            email: storefront::domain::Email::parse(email).unwrap(),
            phone_number: None,
        }),
    }
}

#[actix_web::test]
async fn a_redelivered_message_is_handled_once_and_garbage_is_dead_lettered() {
    let namespace = Namespace::new();
    let Some((first, _second)) = two_nodes(&namespace).await else {
        return;
    };
    let sender = bridge_for(&first, &namespace).await;
    let envelope = user_created("twice@example.com");
    sender.publish(&envelope).await.unwrap();
    sender.publish(&envelope).await.unwrap();
    first
        .next_mail("twice@example.com", "Welcome to storefront")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        first.mails_to("twice@example.com").len(),
        1,
        "one message id, one mail"
    );

    let names = sender.names().clone();
    let unknown_type = json!({ "messageId": uuid::Uuid::new_v4(), "originNode": "x",
        "timestamp": "2026-11-26T10:00:00Z", "event": { "type": "user.exploded", "body": {} } });
    let missing_id = json!({ "originNode": "x", "timestamp": "2026-11-26T10:00:00Z",
        "event": { "type": "user.created", "body": { "userId": 2, "email": "no-id@example.com" } } });
    let garbage: [(&str, Vec<u8>); 3] = [
        ("key must be a string", b"{not json".to_vec()),
        ("unknown variant", unknown_type.to_string().into_bytes()),
        (
            "missing field `messageId`",
            missing_id.to_string().into_bytes(),
        ),
    ];
    for (_, body) in &garbage {
        sender
            .publish_raw(&names.events(), Event::USER_CREATED, body, None)
            .await
            .unwrap();
    }
    let connection = rabbit().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    // Each dead message's body and reason.
    type Dead = Vec<(Vec<u8>, String)>;
    let dead: Arc<std::sync::Mutex<Dead>> = Arc::default();
    eventually(
        "every unreadable message is in the dead-letter queue",
        || {
            let channel = channel.clone();
            let queue = names.dead();
            let dead = dead.clone();
            async move {
                if let Ok(Some(message)) = channel
                    .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                    .await
                {
                    let reason = message
                        .delivery
                        .properties
                        .headers()
                        .as_ref()
                        .and_then(|headers| headers.inner().get("x-dead-reason").cloned())
                        .map(|reason| match reason {
                            lapin::types::AMQPValue::LongString(text) => text.to_string(),
                            other => format!("{other:?}"),
                        })
                        .unwrap_or_default();
                    dead.lock().unwrap().push((message.delivery.data, reason));
                }
                let count = dead.lock().unwrap().len();
                count == 3
            }
        },
    )
    .await;
    let dead = dead.lock().unwrap().clone();
    for (expected, body) in &garbage {
        let (_, reason) = dead
            .iter()
            .find(|(data, _)| data == body)
            .expect("each bad message is dead-lettered");
        assert!(reason.contains(expected), "{reason}");
    }
    assert!(
        first.mails_to("no-id@example.com").is_empty(),
        "a message without an id is not handled"
    );
}

/// A node hosting only `roles`, on the first node's database and namespace.
pub async fn node_with_roles(
    first: &TestApp,
    namespace: &Namespace,
    node: &str,
    roles: &[ActorKind],
) -> TestApp {
    let mut settings = first.settings.clone();
    clustered(&mut settings, namespace, node);
    settings.node.roles = roles.to_vec();
    start(settings, first.resources.clone()).await
}

/// A node that hosts only `kind` and a gateway that hosts everything else,
/// on one database and namespace.
pub async fn split(namespace: &Namespace, kind: ActorKind) -> Option<(TestApp, TestApp)> {
    rabbit().await?;
    let host = spawn_app_with(|settings| {
        clustered(settings, namespace, &format!("{}-node", kind.config_key()));
        settings.node.roles = vec![kind];
    })
    .await?;
    let gateway = node_with_roles(&host, namespace, "gateway", &all_but(kind)).await;
    Some((host, gateway))
}

pub fn all_but(kind: ActorKind) -> Vec<ActorKind> {
    ActorKind::ROLES
        .iter()
        .copied()
        .filter(|k| *k != kind)
        .collect()
}

#[actix_web::test]
async fn a_gateway_without_a_mailer_signs_in_through_the_mailer_node() {
    let namespace = Namespace::new();
    let Some((_mailer, gateway)) = split(&namespace, ActorKind::Mailer).await else {
        return;
    };
    let session = gateway.login("far@example.com").await;
    assert_eq!(
        gateway.get("/auth/me", Some(&session.token)).await.status(),
        StatusCode::OK
    );
    let admin = gateway.login(ADMIN_EMAIL).await.token;
    let actors: Vec<Value> = gateway
        .get("/admin/actors", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let hosted: Vec<(String, bool)> = actors
        .iter()
        .map(|actor| {
            (
                actor["name"].as_str().unwrap().to_owned(),
                actor["hosted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        hosted.contains(&("MailerActor".to_owned(), false)),
        "{hosted:?}"
    );
    assert!(
        hosted.contains(&("OtpActor".to_owned(), true)),
        "{hosted:?}"
    );

    // Each kind's queues on the broker: the mailer node consumes the
    // mailer's commands and events, this gateway the commands of its kinds.
    let queues = |name: &str| {
        let actor = actors.iter().find(|actor| actor["name"] == name).unwrap();
        (actor["clusterQueue"].clone(), actor["eventQueue"].clone())
    };
    let (commands, events) = queues("MailerActor");
    assert_eq!(commands["consumers"], 1, "{commands}");
    assert_eq!(events["consumers"], 1, "{events}");
    assert!(commands["messages"].is_u64() && events["messages"].is_u64());
    let (commands, _) = queues("OtpActor");
    assert_eq!(commands["consumers"], 1, "{commands}");
}

#[actix_web::test]
async fn a_gateway_serves_the_catalogue_from_a_remote_product_actor() {
    let namespace = Namespace::new();
    let Some((_catalogue, gateway)) = split(&namespace, ActorKind::Product).await else {
        return;
    };
    let admin = gateway.login(ADMIN_EMAIL).await.token;
    let response = gateway
        .send_json(
            Method::POST,
            "/products",
            Some(&admin),
            &json!({ "title": "Remote dress", "price": 1500, "category": "dresses",
                     "variants": [{ "size": "S", "stock": 3 }] }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let fetched: Value = gateway
        .get(&format!("/products/{}", created["id"]), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        fetched, created,
        "the same product, read through the remote actor"
    );
    let page: Value = gateway
        .get("/products?q=remote", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["title"], "Remote dress");
    assert_problem(
        gateway.get("/products/999999", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// An order's event goes from the outbox through the broker (once it
/// confirmed) to the node that hosts the mailer.
#[actix_web::test]
async fn an_order_placed_on_one_node_is_confirmed_by_the_mailer_node() {
    let namespace = Namespace::new();
    let Some((_mailer, shop)) = split(&namespace, ActorKind::Mailer).await else {
        return;
    };
    let admin = shop.login(ADMIN_EMAIL).await.token;
    let product: Value = shop
        .send_json(
            Method::POST,
            "/products",
            Some(&admin),
            &json!({ "title": "Outbox dress", "price": 2500, "category": "dresses",
                     "variants": [{ "size": "M", "stock": 4 }] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let email = "buyer@example.com";
    let token = shop.login(email).await.token;
    let address: Value = shop
        .send_json(
            Method::POST,
            "/users/me/addresses",
            Some(&token),
            &json!({ "street": "1 Main St", "city": "Springfield", "zipCode": "62701", "country": "US" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let added = shop
        .send_json(
            Method::POST,
            "/cart/items",
            Some(&token),
            &json!({ "productId": product["id"], "size": "M", "quantity": 2 }),
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let placed = shop
        .send_json(
            Method::POST,
            "/orders",
            Some(&token),
            &json!({ "addressId": address["id"] }),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await.unwrap();
    let mail = shop
        .next_mail(email, &format!("Your storefront order {}", order["id"]))
        .await;
    assert!(mail.contains("50.00 USD"), "{mail}");
}

/// Closes the broker side of every connection of `namespace`, as
/// `rabbitmqctl close_connection` does when an operator or a broker restart
/// drops them.
fn close_connections(namespace: &Namespace) -> usize {
    let listed = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .expect("rabbitmqctl runs");
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    let mut closed = 0;
    for line in listing
        .lines()
        .filter(|line| line.contains(&namespace.name))
    {
        let pid = line.split('\t').next().unwrap_or_default();
        let status = std::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "closed by a test"])
            .status()
            .expect("rabbitmqctl runs");
        assert!(status.success());
        closed += 1;
    }
    closed
}

/// The broker drops the nodes' connections: each bridge reconnects by
/// itself, declares its queues again and carries events and calls as before.
#[actix_web::test]
async fn the_bridge_recovers_when_the_broker_closes_its_connections() {
    let namespace = Namespace::new();
    let Some((mailer, gateway)) = split(&namespace, ActorKind::Mailer).await else {
        return;
    };
    gateway.login("before@example.com").await;

    assert_eq!(close_connections(&namespace), 2, "one connection per node");
    // Asked while the nodes are without the broker: the code's event waits
    // and is mailed once the bridge is back.
    assert_eq!(
        gateway.request_otp("meanwhile@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    gateway.next_code("meanwhile@example.com").await;
    eventually("both nodes are ready again", || async {
        let mut ready = true;
        for node in [&mailer, &gateway] {
            ready &= node.get("/readyz", None).await.status() == StatusCode::OK;
        }
        ready
    })
    .await;
    let session = gateway.login("after@example.com").await;
    assert_eq!(
        gateway.get("/auth/me", Some(&session.token)).await.status(),
        StatusCode::OK
    );
    // Each node's BridgeActor restarted once per reconnection.
    let admin = gateway.login(ADMIN_EMAIL).await.token;
    for node in [&mailer, &gateway] {
        let bridge: Value = node
            .get("/admin/actors/BridgeActor", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(bridge["hosted"], true, "{bridge}");
        assert_eq!(bridge["bridge"]["connected"], true, "{bridge}");
        let reconnections = bridge["bridge"]["reconnections"].as_u64().unwrap();
        assert!(reconnections >= 1, "{bridge}");
        assert_eq!(bridge["restarts"].as_u64(), Some(reconnections), "{bridge}");
    }
}

/// The BridgeActor is a kind of every clustered node: its mailbox shows
/// the events it published and the calls it carried, and its own counts
/// what it holds now and how long the broker took to confirm.
#[actix_web::test]
async fn the_bridge_actor_shows_its_publishes_calls_and_deliveries() {
    let namespace = Namespace::new();
    let Some((_product_node, gateway)) = split(&namespace, ActorKind::Product).await else {
        return;
    };
    let admin = gateway.login(ADMIN_EMAIL).await.token;
    for _ in 0..3 {
        assert_eq!(
            gateway.get("/products/1", None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    let listed: Value = gateway
        .get("/admin/actors", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|kind| kind["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"BridgeActor"), "{listed}");
    let bridge: Value = gateway
        .get("/admin/actors/BridgeActor", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bridge["hosted"], true, "{bridge}");
    assert_eq!(bridge["instances"].as_array().unwrap().len(), 1, "{bridge}");
    let types: Vec<&str> = bridge["recentMessages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["type"].as_str().unwrap())
        .collect();
    // The sign-in's events, and the calls for the products.
    assert!(types.contains(&"Publish"), "{bridge}");
    assert_eq!(
        types.iter().filter(|kind| **kind == "Call").count(),
        3,
        "{bridge}"
    );
    let counts = &bridge["bridge"];
    assert!(counts["confirmed"].as_u64().unwrap() >= 1, "{bridge}");
    assert!(
        counts["confirmLatencyMs"]["p99"].as_f64().unwrap() > 0.0,
        "{bridge}"
    );
    assert!(counts["consumed"].as_u64().unwrap() >= 1, "{bridge}");
    for now in [
        "publishesQueued",
        "awaitingConfirm",
        "callsQueued",
        "callsWaiting",
    ] {
        assert_eq!(counts[now], 0, "{now}: {bridge}");
    }
    assert_eq!(counts["reconnections"], 0, "{bridge}");
    assert_eq!(bridge["restarts"], 0, "{bridge}");
    let metrics = gateway.get("/metrics", None).await.text().await.unwrap();
    for line in [
        "storefront_actor_messages_handled_total{actor=\"BridgeActor\"}",
        "storefront_bridge_awaiting_confirm 0",
        "storefront_bridge_calls_waiting 0",
        "storefront_bridge_reconnections_total 0",
        "storefront_bridge_confirm_latency_ms{quantile=\"0.99\"}",
    ] {
        assert!(metrics.contains(line), "{line} is not in:\n{metrics}");
    }
}

/// An event whose handler fails every time is redelivered up to the limit,
/// then dead-lettered by the broker; the queue moves on.
#[actix_web::test]
async fn an_event_whose_handler_always_fails_ends_in_the_dead_letter_queue() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(node) = spawn_app_with(|settings| {
        clustered(settings, &namespace, "only-node");
        settings.actors.event_delivery_attempts = crate::helpers::nonzero(2);
    })
    .await
    else {
        return;
    };
    let sender = bridge_for(&node, &namespace).await;
    // The mail queue is gone: the mailer cannot keep the welcome mail, and
    // fails the event each time.
    node.execute_sql("ALTER TABLE mail_queue RENAME TO mail_queue_away")
        .await;
    let poisoned = user_created("poisoned@example.com");
    sender.publish(&poisoned).await.unwrap();
    let connection = rabbit().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let names = sender.names().clone();
    let id = poisoned.message_id.to_string();
    eventually("the failing event is dead-lettered", || {
        let channel = channel.clone();
        let dead = names.dead();
        let id = id.clone();
        async move {
            match channel
                .basic_get(dead.into(), BasicGetOptions { no_ack: true })
                .await
            {
                Ok(Some(message))
                    if String::from_utf8_lossy(&message.delivery.data).contains(&id) =>
                {
                    // What every message carries, kept through dead-lettering.
                    let properties = &message.delivery.properties;
                    let text = |value: &Option<lapin::types::ShortString>| {
                        value.as_ref().map(|value| value.to_string())
                    };
                    assert_eq!(text(properties.message_id()).as_deref(), Some(id.as_str()));
                    assert_eq!(text(properties.kind()).as_deref(), Some("user.created"));
                    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
                    assert!(properties.timestamp().is_some());
                    let origin = properties
                        .headers()
                        .as_ref()
                        .and_then(|headers| headers.inner().get("x-origin-node").cloned());
                    assert_eq!(
                        origin,
                        Some(lapin::types::AMQPValue::LongString("test-sender".into()))
                    );
                    true
                }
                _ => false,
            }
        }
    })
    .await;
    // The queue is not stuck behind it.
    node.execute_sql("ALTER TABLE mail_queue_away RENAME TO mail_queue")
        .await;
    node.login("after-poison@example.com").await;
}

/// The broker's address, for a proxy in front of it.
fn rabbit_address() -> std::net::SocketAddr {
    let url = url::Url::parse(&rabbit_url()).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let port = url.port().unwrap_or(5672);
    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .unwrap()
        .next()
        .unwrap()
}

/// With the broker out of reach, sign-in events wait in the node's publish
/// buffer; a full buffer refuses the next sign-in with 503 before a code is
/// stored; once the broker is back, each event that waited is mailed once.
#[actix_web::test]
async fn events_wait_for_the_broker_and_a_full_buffer_answers_503() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let proxy = TcpProxy::start(rabbit_address()).await;
    let through_proxy = format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port);
    let Some(node) = spawn_app_with(|settings| {
        clustered(settings, &namespace, "node-a");
        settings.bus.url = Some(SecretUrl::parse(&through_proxy).unwrap());
        settings.bus.publish_buffer = nonzero64(2);
    })
    .await
    else {
        return;
    };
    node.login("before@example.com").await;
    eventually("the broker confirmed every event so far", || async {
        let metrics = node.get("/metrics", None).await.text().await.unwrap();
        metrics
            .lines()
            .any(|line| line == "storefront_bus_events_pending 0")
    })
    .await;

    proxy.cut();
    eventually("the node sees the broker gone", || async {
        node.get("/readyz", None).await.status() == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let waiting = ["first@example.com", "second@example.com"];
    for email in waiting {
        let answer = node.request_otp(email).await;
        assert_eq!(
            answer.status(),
            StatusCode::ACCEPTED,
            "{}",
            answer.text().await.unwrap()
        );
    }
    let refused = assert_problem(
        node.request_otp("third@example.com").await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("try again"),
        "{refused}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        node.mails_to(waiting[0]).is_empty(),
        "nothing is mailed without the broker"
    );

    proxy.restore();
    for email in waiting {
        node.next_code(email).await;
    }
    eventually("the node is ready again", || async {
        node.get("/readyz", None).await.status() == StatusCode::OK
    })
    .await;
    // The refused request stored no code: nothing was mailed for it, and
    // asking again is not held back by the interval between codes.
    assert_eq!(
        node.request_otp("third@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    node.next_code("third@example.com").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for email in waiting.iter().chain(&["third@example.com"]) {
        assert_eq!(node.mails_to(email).len(), 1, "{email} is mailed once");
    }
}

/// A command the broker delivers again (the node that took it died before
/// acking) is answered as failed, not run a second time.
#[actix_web::test]
async fn a_redelivered_command_is_not_run_twice() {
    let namespace = Namespace::new();
    let Some(first) = spawn_app_with(|settings| {
        clustered(settings, &namespace, "node-a");
        settings.node.roles = all_but(ActorKind::Product);
    })
    .await
    else {
        return;
    };
    let sender = bridge_for(&first, &namespace).await;
    declare_command_queues(&sender).await.unwrap();
    let names = sender.names().clone();
    let connection = rabbit().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let replies = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut reply_consumer = channel
        .basic_consume(
            replies.name().clone(),
            "test-replies".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();

    let store = PgStore::connect(&first.settings.database).await.unwrap();
    let product = store
        .create_product(
            &NewProduct::parse(ProductDraft {
                title: Some("Kept dress".into()),
                price: Some(1500),
                category: Some("dresses".into()),
                variants: Some(vec![Variant {
                    size: Size::S,
                    stock: 3,
                }]),
                ..Default::default()
            })
            .unwrap(),
            "EUR",
        )
        .await
        .unwrap()
        .id;
    // A consumer that takes the delete and goes away before acking it, as
    // a node killed mid-command does.
    let taker = connection.create_channel().await.unwrap();
    let mut taken = taker
        .basic_consume(
            names.command_queue("product").into(),
            "dies-before-acking".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let body = serde_json::to_vec(&DeleteProduct {
        id: product,
        expected_version: None,
    })
    .unwrap();
    // Signed and sealed as a node's command is.
    let (properties, body) = sender.prepare(
        &names.commands(),
        "product",
        BasicProperties::default()
            .with_type("product.delete".into())
            .with_reply_to(replies.name().clone())
            .with_correlation_id("delete-once".into())
            .with_message_id("delete-once".into())
            .with_timestamp(storefront::bus::trust::now_secs())
            .with_expiration("60000".into()),
        &body,
        Sealing::Sealed,
    );
    sender
        .link()
        .publisher
        .basic_publish(
            names.commands().into(),
            "product".into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(10), taken.next())
        .await
        .expect("the command reached a consumer")
        .unwrap()
        .unwrap();
    assert!(!delivery.redelivered);
    taker.close(200, "died".into()).await.unwrap();

    let second = node_with_roles(&first, &namespace, "product-b", &[ActorKind::Product]).await;
    let reply = tokio::time::timeout(Duration::from_secs(10), reply_consumer.next())
        .await
        .expect("the node answered the redelivered command")
        .unwrap()
        .unwrap();
    assert_eq!(
        reply.properties.correlation_id().as_ref().unwrap().as_str(),
        "delete-once"
    );
    assert_eq!(reply.properties.kind().as_ref().unwrap().as_str(), "failed");
    let answer = namespace.keys().delivered(&reply).expect("a node's reply");
    assert!(String::from_utf8_lossy(&answer).contains("not run twice"));
    assert_eq!(
        second
            .get(&format!("/products/{product}"), None)
            .await
            .status(),
        StatusCode::OK,
        "the delete was not run"
    );
    let admin = second.login(ADMIN_EMAIL).await.token;
    let bus: Value = second
        .get("/admin/bus", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bus["broker"]["repeatedCommands"], 1, "{bus}");
}

/// A reply that comes after its caller gave up is dropped and counted; the
/// caller got a 503 meanwhile, not a hang.
#[actix_web::test]
async fn a_reply_after_the_callers_timeout_is_dropped_and_counted() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(host) = spawn_app_with(|settings| {
        clustered(settings, &namespace, "product-node");
        settings.node.roles = vec![ActorKind::Product];
    })
    .await
    else {
        return;
    };
    let mut settings = host.settings.clone();
    clustered(&mut settings, &namespace, "gateway");
    settings.node.roles = all_but(ActorKind::Product);
    settings.actors.call_timeout_ms = nonzero64(1000);
    let gateway = start(settings, host.resources.clone()).await;
    let admin = gateway.login(ADMIN_EMAIL).await.token;

    // The product node's write waits on this lock past the gateway's
    // timeout, then goes through.
    let database = sqlx::PgPool::connect(&host.resources.database.as_ref().unwrap().url)
        .await
        .unwrap();
    let mut lock = database.begin().await.unwrap();
    sqlx::query("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let answer = gateway
        .send_json(
            Method::POST,
            "/products",
            Some(&admin),
            &json!({ "title": "Late dress", "price": 1500, "category": "dresses",
                     "variants": [{ "size": "S", "stock": 3 }] }),
        )
        .await;
    assert_problem(answer, StatusCode::SERVICE_UNAVAILABLE).await;
    lock.rollback().await.unwrap();

    eventually("the late reply is counted", || async {
        let bus: Value = gateway
            .get("/admin/bus", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        bus["broker"]["lateReplies"] == 1
    })
    .await;
}

/// Codes, limits and revocations live in Redis: a code asked for on one
/// node verifies on another, a client's limit is one for the cluster, and
/// a session signed out on one node is refused on every other.
#[actix_web::test]
async fn codes_limits_and_revocations_hold_across_nodes() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let limited = |settings: &mut Settings| {
        settings.limits.otp_requests_per_client_per_minute = nonzero(3);
    };
    let Some(first) = spawn_app_with(|settings| {
        clustered(settings, &namespace, "node-a");
        limited(settings);
    })
    .await
    else {
        return;
    };
    let mut settings = first.settings.clone();
    clustered(&mut settings, &namespace, "node-b");
    limited(&mut settings);
    let second = start(settings, first.resources.clone()).await;

    let email = "roaming@example.com";
    assert_eq!(
        first.request_otp(email).await.status(),
        StatusCode::ACCEPTED
    );
    let code = first.next_code(email).await;
    let verified = second.verify(email, &code).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let token = verified.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(
        second.request_otp("other@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        first.request_otp("third@example.com").await.status(),
        StatusCode::ACCEPTED
    );
    assert_problem(
        second.request_otp("fourth@example.com").await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;

    assert_eq!(first.logout(&token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(
        second.get("/auth/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[actix_web::test]
async fn the_overview_of_one_node_shows_the_others_kinds_and_their_past() {
    let namespace = Namespace::new();
    let Some((first, second)) = split(&namespace, ActorKind::Product).await else {
        return;
    };
    let admin = second.login(ADMIN_EMAIL).await.token;
    for _ in 0..5 {
        assert_eq!(
            second.get("/products/1", None).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    eventually("the gateway's overview shows the product node", || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let overview: Value = second
            .get("/admin/overview", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        let nodes = overview["nodes"].as_array().unwrap();
        let Some(product_node) = nodes.iter().find(|node| node["thisNode"] == false) else {
            return false;
        };
        let kind = &product_node["kinds"][0];
        nodes.len() == 2
            && overview["bus"]["broker"]["connected"] == true
            && product_node["nodeId"] == "product-node"
            && product_node["roles"] == json!(["product"])
            && product_node["heardSecsAgo"].as_f64().unwrap() < 6.0
            && nodes[0]["heardSecsAgo"] == 0.0
            && kind["name"] == "ProductActor"
            && kind["handled"].as_u64().unwrap() >= 5
            && kind["latencyMs"]["p99"].as_f64().unwrap() > 0.0
            && !kind["history"]["queued"].as_array().unwrap().is_empty()
            // Every role but products, the PaymentActor beside the orders,
            // and its BridgeActor.
            && nodes[0]["kinds"].as_array().unwrap().len() == ActorKind::ROLES.len() + 1
    })
    .await;
    drop(first);
}

/// Opens `app`'s operator's page, signs in as the admin and waits for the
/// two nodes of the cluster.
async fn open_the_page_of_two_nodes(browser: &Browser, app: &TestApp) {
    browser.goto(&app.url("/admin")).await;
    browser.sign_in_on_page(app, ADMIN_EMAIL).await;
    browser
        .wait_for(
            "both nodes",
            20,
            "return document.querySelectorAll('section.node').length === 2",
        )
        .await;
}

/// On a cluster, the page shows the other node with its roles and heartbeat
/// and the broker's counts; the node that hosts a kind shows in the kind's
/// detail its queues on the broker: the commands other nodes send it, and
/// the mailer's events, each with this node's consumer.
#[actix_web::test]
async fn the_page_on_a_cluster_shows_the_other_node_the_broker_and_a_kinds_queues() {
    let namespace = Namespace::new();
    let Some((_product_node, gateway)) = split(&namespace, ActorKind::Product).await else {
        return;
    };
    let Some(browser) = Browser::start((1400, 1000)).await else {
        return;
    };
    open_the_page_of_two_nodes(&browser, &gateway).await;
    let shown = browser
        .run(
            "const terms = [...document.querySelectorAll('#bus-counts dt')];
             return {
                 bus: Object.fromEntries(terms.map(term => [term.textContent, term.nextSibling.textContent])),
                 productNode: document.querySelector('section.node[data-node=\"product-node\"] .node-head').textContent,
             };",
        )
        .await;
    let bus = &shown["bus"];
    assert_eq!(bus["broker"], "connected", "{shown}");
    for count in [
        "published",
        "confirmed",
        "waiting for a confirm",
        "confirm p50 / p99 ms",
        "calls waiting for replies",
        "reconnections",
        "consumed",
        "redelivered",
        "dead-lettered",
        "outbox backlog",
    ] {
        assert!(bus[count].is_string(), "{count} is not shown: {shown}");
    }
    let product_node = shown["productNode"].as_str().unwrap();
    assert!(product_node.contains("roles: product"), "{shown}");
    assert!(product_node.contains("last heartbeat: "), "{shown}");
    for (kind, queues) in [
        ("UserActor", &["commands from other nodes"][..]),
        ("MailerActor", &["commands from other nodes", "events"][..]),
    ] {
        browser
            .click(&format!(
                "section.node[data-node=\"gateway\"] tr[data-kind=\"{kind}\"] button"
            ))
            .await;
        let note = browser
            .wait_for(
                "the kind's queues on the broker",
                10,
                &format!(
                    "const note = document.getElementById('detail-note').textContent;
                     return document.getElementById('detail-title').textContent.startsWith('{kind} ')
                         && note.includes('On the broker') ? note : null;"
                ),
            )
            .await;
        let note = note.as_str().unwrap();
        assert_eq!(
            note.matches("On the broker").count(),
            queues.len(),
            "{kind}: {note}"
        );
        for queue in queues {
            assert!(
                note.contains(&format!("On the broker, {queue}: ")),
                "{kind}: {note}"
            );
        }
        assert!(note.contains("waiting, 1 consumer(s)."), "{kind}: {note}");
    }
    browser
        .click("section.node[data-node=\"gateway\"] tr[data-kind=\"BridgeActor\"] button")
        .await;
    let note = browser
        .wait_for(
            "the bridge's counts",
            10,
            "const note = document.getElementById('detail-note').textContent;
             return document.getElementById('detail-title').textContent.startsWith('BridgeActor ')
                 && note.includes('Publishes:') ? note : null;",
        )
        .await;
    let note = note.as_str().unwrap();
    for shown in [
        "waiting for the broker's confirm (confirm p50 ",
        " Deliveries: ",
        " dead-lettered.",
        " waiting for replies.",
        " Reconnections: 0.",
    ] {
        assert!(note.contains(shown), "{shown}: {note}");
    }
}

/// Takes the screenshots in `docs/` of the operator's page on a two-node
/// cluster with traffic: `cargo test --test production screenshots -- --ignored`.
#[actix_web::test]
#[ignore = "writes docs/admin-page.png and docs/admin-kind-detail.png; run by hand"]
async fn screenshots_of_the_operators_page() {
    let namespace = Namespace::new();
    rabbit().await.expect("RabbitMQ answers");
    let front = spawn_app_with(|settings| {
        clustered(settings, &namespace, "node-front");
        settings.node.roles = vec![ActorKind::Otp, ActorKind::User, ActorKind::Mailer];
    })
    .await
    .expect("the production backends answer");
    let shop = node_with_roles(
        &front,
        &namespace,
        "node-shop",
        &[ActorKind::Product, ActorKind::Cart, ActorKind::Order],
    )
    .await;
    let product = json!({
        "title": "Linen shirt", "description": "A shirt of linen.", "price": 4900,
        "category": "shirts", "dressType": "casual", "variants": [{"size": "M", "stock": 1000}],
    });
    let admin = front.login(ADMIN_EMAIL).await.token;
    let created = front
        .send_json(Method::POST, "/products", Some(&admin), &product)
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let product_id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();

    // Uneven traffic on both nodes for a minute, so the charts have a shape.
    let shopper = shop.login("shopper@example.com").await.token;
    let traffic = async {
        for round in 0..60u64 {
            let burst = 5 + (round % 12) * 6;
            for _ in 0..burst {
                shop.get(&format!("/products/{product_id}"), None).await;
                front.get("/products?q=linen", None).await;
            }
            front.get("/auth/me", Some(&shopper)).await;
            shop.send_json(
                Method::POST,
                "/cart/items",
                Some(&shopper),
                &json!({"productId": product_id, "size": "M", "quantity": 1}),
            )
            .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let browser = Browser::start((1440, 1500))
        .await
        .expect("chromium and chromedriver");
    let page = async {
        tokio::time::sleep(Duration::from_secs(50)).await;
        open_the_page_of_two_nodes(&browser, &front).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        browser.screenshot(&docs.join("admin-page.png")).await;
        browser.click("tr[data-kind=\"UserActor\"] button").await;
        browser
            .wait_for(
                "the detail",
                10,
                "return document.querySelectorAll('#detail-messages tbody tr').length > 0",
            )
            .await;
        browser
            .run("document.getElementById('detail').scrollIntoView(); return null;")
            .await;
        browser
            .screenshot(&docs.join("admin-kind-detail.png"))
            .await;
    };
    futures_util::join!(traffic, page);
}

/// Payments go where the orders are: a gateway without the order role
/// reaches the PaymentActor hosted beside the OrderActor on another node.
#[actix_web::test]
async fn a_gateway_takes_payments_through_the_payment_actor_beside_the_orders() {
    use crate::orders::{add, address, checkout, product, stock};

    let namespace = Namespace::new();
    let Some((orders_node, gateway)) = split(&namespace, ActorKind::Order).await else {
        return;
    };
    let admin = gateway.login(ADMIN_EMAIL).await.token;
    let actors: Vec<Value> = gateway
        .get("/admin/actors", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let payment = actors
        .iter()
        .find(|actor| actor["name"] == "PaymentActor")
        .expect("the gateway lists the PaymentActor");
    assert_eq!(payment["hosted"], false, "{payment}");
    let dress = product(&gateway, &admin, "Remote paid dress", 2000, 5).await;
    let token = gateway.login("remote-payer@example.com").await.token;
    let home = address(&gateway, &token).await;
    let post = |path: String, token: String, body: Option<Value>| {
        let mut request = gateway.client.post(gateway.url(&path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap() }
    };

    assert_eq!(
        add(&gateway, &token, dress, "M", 1).await.status(),
        StatusCode::OK
    );
    let first: Value = checkout(&gateway, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["paymentStatus"], "awaiting", "{first}");
    let paid = post(
        format!("/orders/{}/pay", first["id"]),
        admin.clone(),
        Some(json!({ "reference": "transfer over the bus" })),
    )
    .await;
    assert_eq!(paid.status(), StatusCode::OK);
    assert_eq!(paid.json::<Value>().await.unwrap()["paymentStatus"], "paid");
    let fulfilled = post(
        format!("/orders/{}/fulfil", first["id"]),
        admin.clone(),
        None,
    )
    .await;
    assert_eq!(fulfilled.status(), StatusCode::OK);

    assert_eq!(
        add(&gateway, &token, dress, "M", 2).await.status(),
        StatusCode::OK
    );
    let second: Value = checkout(&gateway, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let cancelled = post(
        format!("/orders/{}/cancel", second["id"]),
        token.clone(),
        None,
    )
    .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["status"],
        "cancelled"
    );
    eventually("the stock of the cancelled order is back", || async {
        stock(&orders_node, dress, "M").await == 4
    })
    .await;
}
