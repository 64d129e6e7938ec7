//! The broker is a trust boundary. An attacker here holds the broker's
//! credentials and nothing else (a plain connection, no `bus.secret`):
//! forged events, commands and heartbeats are refused and counted, and
//! what the attacker's own queues receive holds no sign-in code. A sender
//! that has the secret (a node gone wrong) still cannot grow what a node
//! lists past `cluster.max_nodes`, nor make the operator's page link to an
//! address that is not a node's origin.

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

use storefront::actors::ActorKind;
use storefront::bus::bridge::Names;
use storefront::bus::cluster::{
    publish_heartbeat, publish_heartbeat_body, ActorBeat, Heartbeat, KindCounters,
};
use storefront::bus::trust::{now_secs, BusKeys, Sealing};
use storefront::bus::{Event, EventEnvelope, OrderPlaced, OtpIssued};
use storefront::domain::{Currency, Email, OtpCode};
use storefront::runtime::{LatencyMs, Sample};

use crate::cluster::{bridge_for, clustered, rabbit, split, two_nodes, Namespace};
use crate::helpers::{eventually, nonzero, spawn_app_with, start, TestApp, ADMIN_EMAIL};
use storefront_test_support::webdriver::Browser;

/// The properties a node gives a message, as an attacker copies them.
fn like_a_node(kind: &str, message_id: &str) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        "x-origin-node".into(),
        AMQPValue::LongString(LongString::from("node-a")),
    );
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_type(kind.into())
        .with_message_id(message_id.into())
        .with_timestamp(now_secs())
        .with_headers(headers)
}

async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: BasicProperties,
) {
    channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            properties,
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

/// An exclusive queue of the attacker's own.
async fn own_queue(channel: &Channel) -> String {
    channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .name()
        .to_string()
}

/// A queue of the attacker's own, bound to `exchange` for `key`.
async fn eavesdrop(channel: &Channel, exchange: &str, key: &str) -> String {
    let queue = own_queue(channel).await;
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    queue
}

/// Everything waiting in `queue` now.
async fn drain(channel: &Channel, queue: &str) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
    {
        bodies.push(message.delivery.data);
    }
    bodies
}

/// The reasons of the first `count` messages of the namespace's
/// dead-letter queue, waited for.
async fn dead_reasons(channel: &Channel, names: &Names, count: usize) -> Vec<String> {
    let reasons = std::sync::Mutex::new(Vec::new());
    eventually("the refused messages are dead-lettered", || async {
        if let Some(message) = channel
            .basic_get(names.dead().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            let reason = match message
                .delivery
                .properties
                .headers()
                .as_ref()
                .and_then(|headers| headers.inner().get("x-dead-reason").cloned())
            {
                Some(AMQPValue::LongString(text)) => text.to_string(),
                other => format!("{other:?}"),
            };
            reasons.lock().unwrap().push(reason);
        }
        reasons.lock().unwrap().len() == count
    })
    .await;
    reasons.into_inner().unwrap()
}

/// A count of `/admin/bus`'s broker part, summed over `nodes`.
async fn broker_count(nodes: &[&TestApp], admin: &str, count: &str) -> u64 {
    let mut total = 0;
    for node in nodes {
        let bus: Value = node
            .get("/admin/bus", Some(admin))
            .await
            .json()
            .await
            .unwrap();
        total += bus["broker"][count].as_u64().unwrap_or_default();
    }
    total
}

async fn listed(node: &TestApp, admin: &str) -> Vec<Value> {
    node.get("/admin/cluster", Some(admin))
        .await
        .json()
        .await
        .unwrap()
}

fn ids(nodes: &[Value]) -> Vec<String> {
    nodes
        .iter()
        .map(|node| node["nodeId"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn forged_events_are_dead_lettered_counted_and_mail_nobody() {
    let namespace = Namespace::new();
    let Some((first, second)) = two_nodes(&namespace).await else {
        return;
    };
    let admin = first.login(ADMIN_EMAIL).await.token;
    let attacker = rabbit().await.unwrap().create_channel().await.unwrap();
    let names = Names::new(&namespace.name);
    let victim = "victim@example.com";
    let envelope = |event: Event| EventEnvelope {
        message_id: uuid::Uuid::new_v4(),
        origin_node: "node-a".into(),
        timestamp: chrono::Utc::now(),
        event,
    };
    let placed = envelope(Event::OrderPlaced(OrderPlaced {
        order_id: 1,
        user_id: 1,
        email: Email::parse(victim).unwrap(),
        total: 100,
        currency: Currency::parse("USD").unwrap(),
    }));
    let code = envelope(Event::OtpIssued(OtpIssued {
        email: Email::parse(victim).unwrap(),
        otp: OtpCode::parse("424242").unwrap(),
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(2),
    }));
    // One without a signature, one signed with a key of the attacker's.
    let guessed = BusKeys::new(b"the attacker's guess at the bus secret");
    for (forged, signed) in [(&placed, false), (&code, true)] {
        let key = forged.event.routing_key();
        let body = serde_json::to_vec(forged).unwrap();
        let properties = like_a_node(key, &forged.message_id.to_string());
        let (properties, body) = if signed {
            guessed.outgoing(&names.events(), key, properties, &body, Sealing::Readable)
        } else {
            (properties, body)
        };
        publish(&attacker, &names.events(), key, &body, properties).await;
    }

    let reasons = dead_reasons(&attacker, &names, 2).await;
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("no x-signature header")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("the signature does not match")),
        "{reasons:?}"
    );
    eventually("both are counted as refused", || async {
        broker_count(&[&first, &second], &admin, "refused").await == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(first.mails_to(victim).is_empty(), "nobody is mailed");
}

/// An order of a customer of `app`, placed through HTTP.
async fn place_order(app: &TestApp, admin: &str) -> (i64, String) {
    let product: Value = app
        .send_json(
            Method::POST,
            "/products",
            Some(admin),
            &json!({ "title": "Kept dress", "price": 2500, "category": "dresses",
                     "variants": [{ "size": "M", "stock": 4 }] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let token = app.login("buyer@example.com").await.token;
    let address: Value = app
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
    let added = app
        .send_json(
            Method::POST,
            "/cart/items",
            Some(&token),
            &json!({ "productId": product["id"], "size": "M", "quantity": 1 }),
        )
        .await;
    assert_eq!(added.status(), StatusCode::OK);
    let placed = app
        .send_json(
            Method::POST,
            "/orders",
            Some(&token),
            &json!({ "addressId": address["id"] }),
        )
        .await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let order: Value = placed.json().await.unwrap();
    (order["id"].as_i64().unwrap(), token)
}

/// A cancel command forged with the broker's credentials, and a genuine one
/// replayed after it expired, both leave the order placed.
#[actix_web::test]
async fn a_forged_or_replayed_cancel_command_leaves_the_order_placed() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(node) = spawn_app_with(|settings| clustered(settings, &namespace, "node-a")).await
    else {
        return;
    };
    let admin = node.login(ADMIN_EMAIL).await.token;
    let (order, token) = place_order(&node, &admin).await;
    let attacker = rabbit().await.unwrap().create_channel().await.unwrap();
    let names = Names::new(&namespace.name);
    let replies = own_queue(&attacker).await;
    let cancel = serde_json::to_vec(&json!({ "id": order, "owner": null })).unwrap();
    let command = |id: &str, timestamp: u64| {
        like_a_node("order.cancel", id)
            .with_reply_to(replies.as_str().into())
            .with_correlation_id(id.into())
            .with_expiration("5000".into())
            .with_timestamp(timestamp)
    };
    publish(
        &attacker,
        &names.commands(),
        "order",
        &cancel,
        command("forged", now_secs()),
    )
    .await;
    // What a node sent an hour ago, signed and sealed, sent again.
    let node_gone_wrong = bridge_for(&node, &namespace).await;
    let (replayed, body) = node_gone_wrong.prepare(
        &names.commands(),
        "order",
        command("replayed", now_secs() - 3600),
        &cancel,
        Sealing::Sealed,
    );
    publish(&attacker, &names.commands(), "order", &body, replayed).await;

    let reasons = dead_reasons(&attacker, &names, 2).await;
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("not signed by a node of the cluster")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|reason| reason.contains("expired")),
        "{reasons:?}"
    );
    assert_eq!(broker_count(&[&node], &admin, "refused").await, 2);
    let order: Value = node
        .get(&format!("/orders/{order}"), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["status"], "placed", "{order}");
    assert!(drain(&attacker, &replies).await.is_empty(), "no reply");
}

/// The attacker's own queues on the event and command exchanges get every
/// sign-in's event and commands, and none holds the code, the session or
/// the email; the code still signs in.
#[actix_web::test]
async fn queues_an_attacker_binds_read_no_sign_in_code() {
    let namespace = Namespace::new();
    let Some((_otp_node, gateway)) = split(&namespace, ActorKind::Otp).await else {
        return;
    };
    let attacker = rabbit().await.unwrap().create_channel().await.unwrap();
    let names = Names::new(&namespace.name);
    let events = eavesdrop(&attacker, &names.events(), Event::OTP_ISSUED).await;
    let commands = eavesdrop(&attacker, &names.commands(), "otp").await;

    let email = "watched@example.com";
    assert_eq!(
        gateway.request_otp(email).await.status(),
        StatusCode::ACCEPTED
    );
    let code = gateway.next_code(email).await;
    let verified = gateway.verify(email, &code).await;
    assert_eq!(verified.status(), StatusCode::OK, "the code signs in");
    let token = verified.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let read = std::sync::Mutex::new((Vec::new(), Vec::new()));
    eventually(
        "the attacker's queues got the event and the calls",
        || async {
            let (event_bodies, command_bodies) = (
                drain(&attacker, &events).await,
                drain(&attacker, &commands).await,
            );
            let mut read = read.lock().unwrap();
            read.0.extend(event_bodies);
            read.1.extend(command_bodies);
            // The code asked for and checked, at least.
            !read.0.is_empty() && read.1.len() >= 2
        },
    )
    .await;
    let read = read.into_inner().unwrap();
    let holds = |body: &[u8], text: &str| {
        body.windows(text.len())
            .any(|window| window == text.as_bytes())
    };
    for body in read.0.iter().chain(&read.1) {
        for secret in [code.as_str(), token.as_str(), email] {
            assert!(!holds(body, secret), "{:?}", String::from_utf8_lossy(body));
        }
    }
}

/// A heartbeat as a node of this version sends it.
fn heartbeat(node_id: &str, address: &str) -> Heartbeat {
    Heartbeat {
        node_id: node_id.into(),
        roles: vec![ActorKind::Product],
        address: address.into(),
        sent_at: chrono::Utc::now(),
        actors: vec![ActorBeat {
            counters: KindCounters {
                name: "ProductActor".into(),
                instances: 1,
                queued: 0,
                in_flight: 0,
                handled: 0,
                failed: 0,
                restarts: 0,
                latency_ms: LatencyMs::default(),
            },
            recent: vec![Sample::default()],
        }],
    }
}

#[actix_web::test]
async fn forged_heartbeats_never_join_the_cluster() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(node) = spawn_app_with(|settings| clustered(settings, &namespace, "node-a")).await
    else {
        return;
    };
    let admin = node.login(ADMIN_EMAIL).await.token;
    let small = node
        .get("/admin/overview", Some(&admin))
        .await
        .bytes()
        .await;
    let attacker = rabbit().await.unwrap().create_channel().await.unwrap();
    let names = Names::new(&namespace.name);
    let forged = 2000;
    for n in 0..forged {
        let body = serde_json::to_vec(&heartbeat(
            &format!("forged-{n}"),
            "https://evil.example/phish",
        ))
        .unwrap();
        publish(
            &attacker,
            &names.heartbeats(),
            "",
            &body,
            like_a_node("heartbeat", &n.to_string()),
        )
        .await;
    }
    eventually("every forged heartbeat is refused", || async {
        broker_count(&[&node], &admin, "refused").await == forged
    })
    .await;
    assert_eq!(ids(&listed(&node, &admin).await), ["node-a"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let overview = node
        .get("/admin/overview", Some(&admin))
        .await
        .bytes()
        .await;
    let (small, overview) = (small.unwrap().len(), overview.unwrap().len());
    assert!(
        overview < small + 2048,
        "the overview grew from {small} to {overview} bytes"
    );
}

/// A sender with the secret floods heartbeats of thousands of ids, and sends
/// some no node would: the node lists at most `cluster.max_nodes` others,
/// keeps the one it knew, and counts what it ignored.
#[actix_web::test]
async fn a_flood_of_signed_heartbeats_leaves_at_most_max_nodes_listed() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(first) = spawn_app_with(|settings| {
        clustered(settings, &namespace, "node-a");
        settings.cluster.max_nodes = nonzero(5);
    })
    .await
    else {
        return;
    };
    let mut settings = first.settings.clone();
    clustered(&mut settings, &namespace, "node-b");
    let _second = start(settings, first.resources.clone()).await;
    let admin = first.login(ADMIN_EMAIL).await.token;
    eventually("the first node lists the second", || async {
        ids(&listed(&first, &admin).await) == ["node-a", "node-b"]
    })
    .await;

    let sender = bridge_for(&first, &namespace).await;
    let mut too_large = heartbeat("too-large", "http://127.0.0.1:1");
    too_large.address = "a".repeat(70 * 1024);
    let mut unknown_role =
        serde_json::to_value(heartbeat("unknown-role", "http://127.0.0.1:1")).unwrap();
    unknown_role["roles"] = serde_json::json!(["cashier"]);
    let bad = [
        serde_json::to_vec(&too_large).unwrap(),
        serde_json::to_vec(&unknown_role).unwrap(),
        serde_json::to_vec(&heartbeat("bell\u{7}", "http://127.0.0.1:1")).unwrap(),
        serde_json::to_vec(&heartbeat(&"long".repeat(40), "http://127.0.0.1:1")).unwrap(),
    ];
    for body in &bad {
        publish_heartbeat_body(&sender, body).await.unwrap();
    }
    eventually("the malformed heartbeats are ignored", || async {
        broker_count(&[&first], &admin, "heartbeatsIgnored").await == bad.len() as u64
    })
    .await;
    assert_eq!(ids(&listed(&first, &admin).await), ["node-a", "node-b"]);

    let flood = 3000;
    for n in 0..flood {
        publish_heartbeat(
            &sender,
            &heartbeat(&format!("flood-{n:04}"), "http://127.0.0.1:1"),
        )
        .await
        .unwrap();
    }
    // Four ids fill the cap beside node-b; a few more may take the places
    // of those that went quiet (6 s) while the flood was still being sent.
    eventually("the flood past the cap is ignored", || async {
        broker_count(&[&first], &admin, "heartbeatsIgnored").await >= bad.len() as u64 + flood - 100
    })
    .await;
    for _ in 0..5 {
        let nodes = ids(&listed(&first, &admin).await);
        assert!(nodes.len() <= 1 + 5, "{} nodes listed", nodes.len());
        assert!(nodes.contains(&"node-b".to_owned()), "{nodes:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A node heard saying its address is `https://evil.example/phish` is shown
/// with that address as text; a node at a plain origin gets a link to its
/// page.
#[actix_web::test]
async fn an_address_that_is_not_a_nodes_origin_is_text_on_the_page() {
    let namespace = Namespace::new();
    if rabbit().await.is_none() {
        return;
    }
    let Some(node) = spawn_app_with(|settings| clustered(settings, &namespace, "node-a")).await
    else {
        return;
    };
    let Some(browser) = Browser::start((1400, 1000)).await else {
        return;
    };
    let sender = bridge_for(&node, &namespace).await;
    let beating = actix_web::rt::spawn(async move {
        loop {
            for (id, address) in [
                ("phisher", "https://evil.example/phish"),
                ("honest", "http://127.0.0.1:9"),
            ] {
                let _ = publish_heartbeat(&sender, &heartbeat(id, address)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let admin = node.login(ADMIN_EMAIL).await.token;
    eventually("both nodes are heard", || async {
        listed(&node, &admin).await.len() == 3
    })
    .await;
    let nodes = listed(&node, &admin).await;
    let page_of = |id: &str| {
        nodes
            .iter()
            .find(|node| node["nodeId"] == id)
            .map(|node| node["adminPage"].clone())
            .unwrap()
    };
    assert_eq!(page_of("phisher"), Value::Null);
    assert_eq!(page_of("honest"), "http://127.0.0.1:9/admin");

    browser.goto(&node.url("/admin")).await;
    browser.sign_in_on_page(&node, ADMIN_EMAIL).await;
    browser
        .wait_for(
            "the three nodes",
            20,
            "return document.querySelectorAll('section.node').length === 3",
        )
        .await;
    let detail_of = |id: &'static str| {
        let browser = &browser;
        async move {
            browser
                .click(&format!(
                    "section.node[data-node=\"{id}\"] tr[data-kind=\"ProductActor\"] button"
                ))
                .await;
            browser
                .wait_for(
                    "the kind's detail",
                    10,
                    &format!(
                        "const note = document.getElementById('detail-note');
                         if (document.getElementById('detail-title').textContent !== 'ProductActor on {id}') return null;
                         const link = note.querySelector('a');
                         return {{ text: note.textContent, link: link && link.getAttribute('href') }};"
                    ),
                )
                .await
        }
    };
    let phisher = detail_of("phisher").await;
    assert_eq!(phisher["link"], Value::Null, "{phisher}");
    assert!(
        phisher["text"]
            .as_str()
            .unwrap()
            .contains("https://evil.example/phish"),
        "{phisher}"
    );
    let honest = detail_of("honest").await;
    assert_eq!(honest["link"], "http://127.0.0.1:9/admin", "{honest}");
    beating.abort();
}
