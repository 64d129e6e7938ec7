//! Payments through HTTP, on both backends: the manual provider's journey,
//! unpaid orders expiring once with two nodes running, and Stripe against
//! localstripe (a stateful Stripe API server that sends signed webhooks):
//! intents for the exact total, paid by the webhook, declined cards, forged,
//! stale, replayed and mismatched webhooks, refunds on cancel.

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

use storefront::config::Settings;
use storefront::domain::PaymentProvider;
use storefront_test_support::localstripe::{Localstripe, SECRET_KEY};

use crate::helpers::{
    assert_problem, eventually, spawn_app, spawn_app_with, start, TestApp, ADMIN_EMAIL,
};
use crate::orders::{add, address, checkout, product, stock};

const WEBHOOK_SECRET: &str = "whsec_storefront_tests";
const WEBHOOK: &str = "/payments/stripe/webhook";

/// A customer with an address and `quantity` of a fresh product's size M
/// in the cart: their token, the address and the product.
async fn shopper(app: &TestApp, email: &str, price: i64, quantity: i64) -> (String, i64, i64) {
    let admin = app.login(ADMIN_EMAIL).await.token;
    let dress = product(app, &admin, &format!("Dress for {email}"), price, 5).await;
    let token = app.login(email).await.token;
    let home = address(app, &token).await;
    assert_eq!(
        add(app, &token, dress, "M", quantity).await.status(),
        StatusCode::OK
    );
    (token, home, dress)
}

async fn order(app: &TestApp, token: &str, id: i64) -> Value {
    app.get(&format!("/orders/{id}"), Some(token))
        .await
        .json()
        .await
        .unwrap()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

/// How many mails to `email` have a subject that starts with `subject`.
fn mails_with(app: &TestApp, email: &str, subject: &str) -> usize {
    app.mails_to(email)
        .iter()
        .filter(|mail| {
            mail.lines()
                .any(|line| line.starts_with(&format!("Subject: {subject}")))
        })
        .count()
}

fn sign(payload: &str, timestamp: i64, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

async fn webhook(app: &TestApp, payload: &str, signature: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url(WEBHOOK))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(payload.to_owned());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    request.send().await.unwrap()
}

fn intent_event(id: &str, kind: &str, intent_id: &str, amount: i64, currency: &str) -> String {
    json!({
        "id": id,
        "object": "event",
        "type": kind,
        "data": { "object": {
            "id": intent_id, "object": "payment_intent", "amount": amount,
            "currency": currency, "status": "succeeded", "last_payment_error": null
        }}
    })
    .to_string()
}

#[actix_web::test]
async fn an_order_paid_by_hand_is_marked_paid_by_an_admin_and_then_ships() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let email = "by-hand@example.com";
    let (token, home, _) = shopper(&app, email, 2500, 2).await;
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    assert_eq!(placed["paymentStatus"], "awaiting", "{placed}");
    assert_eq!(placed["payment"]["provider"], "manual");
    assert_eq!(placed["payment"]["intentId"], Value::Null);
    assert!(placed["payment"]["dueAt"].is_string(), "{placed}");

    assert_problem(
        post(&app, &format!("/orders/{id}/fulfil"), &admin, None).await,
        StatusCode::CONFLICT,
    )
    .await;
    let pay = format!("/orders/{id}/pay");
    assert_problem(
        post(&app, &pay, &token, Some(json!({ "reference": "mine" }))).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    for bad in [
        json!({}),
        json!({ "reference": "" }),
        json!({ "reference": "   " }),
        json!({ "reference": 42 }),
        json!({ "reference": "a".repeat(201) }),
        json!({ "reference": "bad\u{0}byte" }),
        json!({ "reference": "ok", "amount": 5000 }),
    ] {
        assert_problem(
            post(&app, &pay, &admin, Some(bad.clone())).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    assert_problem(
        post(
            &app,
            "/orders/999999/pay",
            &admin,
            Some(json!({ "reference": "x" })),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(order(&app, &token, id).await["paymentStatus"], "awaiting");

    let paid = post(
        &app,
        &pay,
        &admin,
        Some(json!({ "reference": "transfer 4711" })),
    )
    .await;
    assert_eq!(paid.status(), StatusCode::OK);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["paymentStatus"], "paid", "{paid}");
    assert_eq!(paid["payment"]["reference"], "transfer 4711");
    assert!(paid["payment"]["paidAt"].is_string(), "{paid}");
    let receipt = app
        .next_mail(email, &format!("Receipt for your storefront order {id}"))
        .await;
    assert!(receipt.contains("50.00 USD"), "{receipt}");
    let again = post(&app, &pay, &admin, Some(json!({ "reference": "again" }))).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        again.json::<Value>().await.unwrap()["payment"]["reference"],
        "transfer 4711",
        "marking it again changes nothing"
    );

    let listed = |query: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let page: Value = app
                .get(&format!("/admin/orders?{query}"), Some(&admin))
                .await
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|order| order["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("paymentStatus=paid").await, [id]);
    assert_eq!(listed("paymentStatus=awaiting").await, Vec::<i64>::new());
    assert_eq!(listed("paymentStatus=paid&status=placed").await, [id]);
    for bad in [
        "paymentStatus=bogus",
        "paymentStatus=",
        "payment_status=paid",
    ] {
        assert_problem(
            app.get(&format!("/admin/orders?{bad}"), Some(&admin)).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }

    let fulfilled = post(&app, &format!("/orders/{id}/fulfil"), &admin, None).await;
    assert_eq!(fulfilled.status(), StatusCode::OK);
    let fulfilled: Value = fulfilled.json().await.unwrap();
    assert_eq!(
        (&fulfilled["status"], &fulfilled["paymentStatus"]),
        (&json!("fulfilled"), &json!("paid"))
    );
    assert_problem(
        post(&app, &format!("/orders/{id}/cancel"), &token, None).await,
        StatusCode::CONFLICT,
    )
    .await;
    app.settle().await;
    assert_eq!(
        mails_with(&app, email, "Receipt for your storefront order"),
        1
    );
}

#[actix_web::test]
async fn cancelling_an_order_paid_by_hand_refunds_it_for_the_operator_and_restocks_once() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let email = "hand-refund@example.com";
    let (token, home, dress) = shopper(&app, email, 1500, 2).await;
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    assert_eq!(stock(&app, dress, "M").await, 3);
    let paid = post(
        &app,
        &format!("/orders/{id}/pay"),
        &admin,
        Some(json!({ "reference": "cash" })),
    )
    .await;
    assert_eq!(paid.status(), StatusCode::OK);

    let cancelled = post(&app, &format!("/orders/{id}/cancel"), &token, None).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["paymentStatus"], "refunded", "{cancelled}");
    assert!(
        cancelled["payment"]["refund"]
            .as_str()
            .unwrap()
            .starts_with("manual"),
        "{cancelled}"
    );
    assert_problem(
        post(&app, &format!("/orders/{id}/cancel"), &admin, None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(stock(&app, dress, "M").await, 5, "restocked once");
    let notice = app
        .next_mail(
            email,
            &format!("Your storefront order {id} is cancelled and refunded"),
        )
        .await;
    assert!(notice.contains("30.00 USD"), "{notice}");
    app.settle().await;
    assert_eq!(
        mails_with(
            &app,
            email,
            &format!("Your storefront order {id} is cancelled")
        ),
        1,
        "one mail tells of the cancellation and its refund"
    );
}

/// Two nodes on one database sweep for unpaid orders: each expires once.
#[actix_web::test]
async fn an_unpaid_order_expires_once_with_two_nodes_running_and_its_stock_comes_back() {
    let quick = |settings: &mut Settings| {
        settings.payments.manual_timeout_secs = std::num::NonZeroU64::new(2).unwrap();
        settings.payments.expiry_poll_ms = std::num::NonZeroU64::new(100).unwrap();
    };
    let Some(app) = spawn_app_with(quick).await else {
        return;
    };
    let other_node = start(app.settings.clone(), app.resources.clone()).await;
    let email = "slow-payer@example.com";
    let (token, home, dress) = shopper(&app, email, 1000, 3).await;
    let mut ids = Vec::new();
    for quantity in [0, 1, 1] {
        if quantity > 0 {
            assert_eq!(
                add(&app, &token, dress, "M", quantity).await.status(),
                StatusCode::OK
            );
        }
        let placed: Value = checkout(&app, &token, home, None)
            .await
            .json()
            .await
            .unwrap();
        ids.push(placed["id"].as_i64().unwrap());
    }
    assert_eq!(stock(&app, dress, "M").await, 0);

    eventually("every unpaid order expired", || async {
        let mut expired = true;
        for id in &ids {
            let order = order(&other_node, &token, *id).await;
            expired &= order["paymentStatus"] == "expired" && order["status"] == "cancelled";
        }
        expired
    })
    .await;
    eventually("the stock is back", || async {
        stock(&app, dress, "M").await == 5
    })
    .await;
    for id in &ids {
        app.next_mail(
            email,
            &format!("Your storefront order {id} was cancelled: no payment"),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.settle().await;
    other_node.settle().await;
    eventually(
        "the other node's catalogue has the stock back, once",
        || async { stock(&other_node, dress, "M").await == 5 },
    )
    .await;
    assert_eq!(stock(&app, dress, "M").await, 5, "restocked once");
    assert_eq!(
        mails_with(&app, email, "Your storefront order"),
        3 + 3,
        "three confirmations and one expiry notice per order, nothing twice"
    );
    let line_restocked: Vec<i64> = {
        let mut total = Vec::new();
        for id in &ids {
            let order = order(&app, &token, *id).await;
            total.push(order["items"][0]["restocked"].as_i64().unwrap());
        }
        total
    };
    assert_eq!(line_restocked, [3, 1, 1]);
}

#[actix_web::test]
async fn a_webhook_without_its_signature_or_its_shape_changes_nothing() {
    let Some(app) = spawn_app().await else { return };
    let event = intent_event("evt_1", "payment_intent.succeeded", "pi_1", 100, "usd");
    let signature = sign(&event, chrono::Utc::now().timestamp(), WEBHOOK_SECRET);
    // This shop takes payments by hand: it has no webhook secret to check with.
    let refused = assert_problem(
        webhook(&app, &event, Some(&signature)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("webhook_secret"),
        "{refused}"
    );
    assert_problem(webhook(&app, &event, None).await, StatusCode::BAD_REQUEST).await;
    assert_problem(
        webhook(&app, "not json at all", Some(&signature)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_problem(
        webhook(&app, "", Some(&signature)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let huge = format!(
        "{{\"id\":\"{}\"}}",
        "x".repeat(app.settings.server.max_body_bytes.get() as usize + 1)
    );
    assert_problem(
        webhook(&app, &huge, Some(&signature)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    let twice = app
        .client
        .post(app.url(WEBHOOK))
        .header("Content-Type", "application/json")
        .header("Stripe-Signature", &signature)
        .header("Stripe-Signature", &signature)
        .body(event.clone())
        .send()
        .await
        .unwrap();
    assert_problem(twice, StatusCode::BAD_REQUEST).await;
    let plain = app
        .client
        .post(app.url(WEBHOOK))
        .header("Content-Type", "text/plain")
        .header("Stripe-Signature", &signature)
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// Orders paid through Stripe at `stripe`.
fn pay_at(stripe: &Localstripe) -> impl FnOnce(&mut Settings) {
    let api_base = stripe.base.clone();
    move |settings: &mut Settings| {
        settings.payments.provider = PaymentProvider::Stripe;
        settings.payments.stripe.secret_key = Some(SECRET_KEY.to_owned().into());
        settings.payments.stripe.webhook_secret = Some(WEBHOOK_SECRET.to_owned().into());
        settings.payments.stripe.api_base = api_base.parse().unwrap();
    }
}

/// An app whose orders are paid through Stripe at `stripe`, which sends it
/// its webhooks.
async fn stripe_shop(stripe: &Localstripe, tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    let configure = pay_at(stripe);
    let app = spawn_app_with(move |settings| {
        configure(settings);
        tweak(settings);
    })
    .await?;
    stripe
        .register_webhook(&app.url(WEBHOOK), WEBHOOK_SECRET)
        .await;
    Some(app)
}

/// The webhook never comes (the shop forgot to register it): cancelling
/// the order finds its intent paid, and refunds it.
#[actix_web::test]
async fn a_card_payment_whose_webhook_never_came_is_found_and_refunded_on_cancel() {
    let Some(stripe) = Localstripe::start().await else {
        return;
    };
    let Some(app) = spawn_app_with(pay_at(&stripe)).await else {
        return;
    };
    let email = "no-webhook@example.com";
    let (token, home, dress) = shopper(&app, email, 1800, 1).await;
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    let intent_id = placed["payment"]["intentId"].as_str().unwrap().to_owned();
    let (status, paid) = stripe.pay(&intent_id, "pm_card_visa").await;
    assert_eq!(paid["status"], "succeeded", "{status} {paid}");
    assert_eq!(order(&app, &token, id).await["paymentStatus"], "awaiting");

    let cancelled = post(&app, &format!("/orders/{id}/cancel"), &token, None).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["paymentStatus"], "refunded", "{cancelled}");
    let refunds = stripe
        .get(&format!("/v1/refunds?payment_intent={intent_id}"))
        .await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 1, "{refunds}");
    assert_eq!(stock(&app, dress, "M").await, 5);
    app.next_mail(email, &format!("Receipt for your storefront order {id}"))
        .await;
    app.next_mail(
        email,
        &format!("Your storefront order {id} is cancelled and refunded"),
    )
    .await;
}

#[actix_web::test]
async fn a_card_payment_through_stripe_pays_the_order_once_and_only_for_its_amount() {
    let Some(stripe) = Localstripe::start().await else {
        return;
    };
    let Some(app) = stripe_shop(&stripe, |_| {}).await else {
        return;
    };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let email = "card@example.com";
    let (token, home, _) = shopper(&app, email, 4900, 2).await;
    let placed = checkout(&app, &token, home, Some("card-checkout-1")).await;
    assert_eq!(placed.status(), StatusCode::CREATED);
    let placed: Value = placed.json().await.unwrap();
    let id = placed["id"].as_i64().unwrap();
    assert_eq!(placed["payment"]["provider"], "stripe", "{placed}");
    let intent_id = placed["payment"]["intentId"].as_str().unwrap().to_owned();
    let client_secret = placed["payment"]["clientSecret"].as_str().unwrap();
    assert!(client_secret.starts_with(&intent_id), "{placed}");

    let intent = stripe
        .get(&format!("/v1/payment_intents/{intent_id}"))
        .await;
    assert_eq!(intent["amount"], 9800, "{intent}");
    assert_eq!(intent["currency"], "usd");
    assert_eq!(intent["metadata"]["order_id"], id.to_string());

    // A retried checkout and a front end asking again make no second intent.
    let replayed: Value = checkout(&app, &token, home, Some("card-checkout-1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(replayed["payment"]["intentId"], intent_id.as_str());
    let asked: Value = post(&app, &format!("/orders/{id}/payment"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(asked["payment"]["intentId"], intent_id.as_str());
    let intents = stripe.get("/v1/payment_intents?limit=100").await;
    assert_eq!(intents["data"].as_array().unwrap().len(), 1, "{intents}");
    // Another's order is not found.
    let stranger = app.login("stranger@example.com").await.token;
    assert_problem(
        post(&app, &format!("/orders/{id}/payment"), &stranger, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // A Stripe order is not marked paid by hand.
    assert_problem(
        post(
            &app,
            &format!("/orders/{id}/pay"),
            &admin,
            Some(json!({ "reference": "by hand" })),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;

    // Forged, stale and mismatched webhooks change nothing.
    let now = chrono::Utc::now().timestamp();
    let succeeded = intent_event(
        "evt_forged",
        "payment_intent.succeeded",
        &intent_id,
        9800,
        "usd",
    );
    assert_problem(
        webhook(
            &app,
            &succeeded,
            Some(&sign(&succeeded, now, "whsec_wrong")),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_problem(
        webhook(
            &app,
            &succeeded,
            Some(&sign(&succeeded, now - 301, WEBHOOK_SECRET)),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let signed = sign(&succeeded, now, WEBHOOK_SECRET);
    let tampered = succeeded.replace("9800", "9801");
    assert_problem(
        webhook(&app, &tampered, Some(&signed)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    for (amount, currency) in [(100, "usd"), (9800, "eur")] {
        let other = intent_event(
            "evt_other",
            "payment_intent.succeeded",
            &intent_id,
            amount,
            currency,
        );
        let answer = webhook(&app, &other, Some(&sign(&other, now, WEBHOOK_SECRET))).await;
        assert_eq!(answer.status(), StatusCode::OK, "answered, so Stripe stops");
    }
    let unknown = intent_event(
        "evt_unknown",
        "payment_intent.succeeded",
        "pi_nobody",
        9800,
        "usd",
    );
    let answer = webhook(&app, &unknown, Some(&sign(&unknown, now, WEBHOOK_SECRET))).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let not_intent =
        json!({ "id": "evt_c", "type": "customer.created", "data": { "object": {} } }).to_string();
    let answer = webhook(
        &app,
        &not_intent,
        Some(&sign(&not_intent, now, WEBHOOK_SECRET)),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let signed_garbage = "{\"id\": 5}";
    assert_problem(
        webhook(
            &app,
            signed_garbage,
            Some(&sign(signed_garbage, now, WEBHOOK_SECRET)),
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(order(&app, &token, id).await["paymentStatus"], "awaiting");
    assert_problem(
        post(&app, &format!("/orders/{id}/fulfil"), &admin, None).await,
        StatusCode::CONFLICT,
    )
    .await;

    // The customer pays with a card; Stripe's signed webhook marks it paid.
    let (status, confirmed) = stripe.pay(&intent_id, "pm_card_visa").await;
    assert_eq!(status, 200, "{confirmed}");
    eventually("the webhook marks the order paid", || async {
        order(&app, &token, id).await["paymentStatus"] == "paid"
    })
    .await;
    let receipt = app
        .next_mail(email, &format!("Receipt for your storefront order {id}"))
        .await;
    assert!(receipt.contains("98.00 USD"), "{receipt}");
    // The same webhook three times pays once.
    for _ in 0..3 {
        let answer = webhook(
            &app,
            &succeeded,
            Some(&sign(&succeeded, now, WEBHOOK_SECRET)),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::OK);
    }
    app.settle().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mails_with(&app, email, "Receipt for your storefront order"),
        1
    );
    let fulfilled = post(&app, &format!("/orders/{id}/fulfil"), &admin, None).await;
    assert_eq!(fulfilled.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_declined_card_leaves_the_order_awaiting_and_says_why() {
    let Some(stripe) = Localstripe::start().await else {
        return;
    };
    let Some(app) = stripe_shop(&stripe, |_| {}).await else {
        return;
    };
    let (token, home, _) = shopper(&app, "declined@example.com", 3000, 1).await;
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    let intent_id = placed["payment"]["intentId"].as_str().unwrap().to_owned();
    let (_, declined) = stripe.pay(&intent_id, "pm_card_chargeCustomerFail").await;
    assert_ne!(
        declined["status"], "succeeded",
        "the card is declined: {declined}"
    );
    eventually("the failure is on the order", || async {
        order(&app, &token, id).await["payment"]["failure"].is_string()
    })
    .await;
    let order = order(&app, &token, id).await;
    assert_eq!(order["paymentStatus"], "awaiting", "{order}");
    assert_eq!(order["status"], "placed");
}

#[actix_web::test]
async fn cancelling_a_card_payment_refunds_it_exactly_once_and_a_refused_refund_keeps_it_paid() {
    let Some(stripe) = Localstripe::start().await else {
        return;
    };
    let Some(app) = stripe_shop(&stripe, |_| {}).await else {
        return;
    };
    let email = "refund@example.com";
    let (token, home, dress) = shopper(&app, email, 2000, 1).await;
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    let intent_id = placed["payment"]["intentId"].as_str().unwrap().to_owned();
    let (status, body) = stripe.pay(&intent_id, "pm_card_visa").await;
    assert_eq!(status, 200, "{body}");
    eventually("paid", || async {
        order(&app, &token, id).await["paymentStatus"] == "paid"
    })
    .await;

    let cancel = format!("/orders/{id}/cancel");
    let (first, second) = futures_util::join!(
        post(&app, &cancel, &token, None),
        post(&app, &cancel, &token, None),
    );
    let mut statuses = [first.status(), second.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let cancelled = order(&app, &token, id).await;
    assert_eq!(cancelled["paymentStatus"], "refunded", "{cancelled}");
    let refund_id = cancelled["payment"]["refund"].as_str().unwrap();
    assert!(refund_id.starts_with("re_"), "{cancelled}");
    let refunds = stripe
        .get(&format!("/v1/refunds?payment_intent={intent_id}"))
        .await;
    let refunds = refunds["data"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["amount"], 2000);
    assert_eq!(stock(&app, dress, "M").await, 5, "restocked once");
    app.next_mail(
        email,
        &format!("Your storefront order {id} is cancelled and refunded"),
    )
    .await;

    // An order our side believes paid whose charge failed at Stripe: Stripe
    // refuses its refund, and the order stays paid.
    assert_eq!(
        add(&app, &token, dress, "M", 1).await.status(),
        StatusCode::OK
    );
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    let intent_id = placed["payment"]["intentId"].as_str().unwrap().to_owned();
    let (_, declined) = stripe.pay(&intent_id, "pm_card_chargeCustomerFail").await;
    assert_ne!(declined["status"], "succeeded", "{declined}");
    let told = intent_event(
        "evt_told",
        "payment_intent.succeeded",
        &intent_id,
        2000,
        "usd",
    );
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        webhook(&app, &told, Some(&sign(&told, now, WEBHOOK_SECRET)))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(order(&app, &token, id).await["paymentStatus"], "paid");
    let refused = assert_problem(
        post(&app, &format!("/orders/{id}/cancel"), &token, None).await,
        StatusCode::BAD_GATEWAY,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("refund"),
        "the provider's reason: {refused}"
    );
    let kept = order(&app, &token, id).await;
    assert_eq!(
        (&kept["status"], &kept["paymentStatus"]),
        (&json!("placed"), &json!("paid"))
    );
    assert_eq!(stock(&app, dress, "M").await, 4, "nothing restocked");
}

#[actix_web::test]
async fn an_unpaid_card_order_expires_and_its_intent_is_cancelled() {
    let Some(stripe) = Localstripe::start().await else {
        return;
    };
    let Some(app) = stripe_shop(&stripe, |settings| {
        settings.payments.payment_timeout_secs = std::num::NonZeroU64::new(2).unwrap();
        settings.payments.expiry_poll_ms = std::num::NonZeroU64::new(100).unwrap();
    })
    .await
    else {
        return;
    };
    let other_node = start(app.settings.clone(), app.resources.clone()).await;
    let email = "card-expiry@example.com";
    let (token, home, dress) = shopper(&app, email, 1200, 2).await;
    let placed: Value = checkout(&app, &token, home, None)
        .await
        .json()
        .await
        .unwrap();
    let id = placed["id"].as_i64().unwrap();
    let intent_id = placed["payment"]["intentId"].as_str().unwrap().to_owned();
    eventually("the order expired", || async {
        order(&other_node, &token, id).await["paymentStatus"] == "expired"
    })
    .await;
    let intent = stripe
        .get(&format!("/v1/payment_intents/{intent_id}"))
        .await;
    assert_eq!(intent["status"], "canceled", "{intent}");
    eventually("the stock is back", || async {
        stock(&app, dress, "M").await == 5
    })
    .await;
    app.next_mail(
        email,
        &format!("Your storefront order {id} was cancelled: no payment"),
    )
    .await;
    app.settle().await;
    other_node.settle().await;
    assert_eq!(
        mails_with(
            &app,
            email,
            &format!("Your storefront order {id} was cancelled")
        ),
        1
    );
}

/// Fields a client sends that the endpoints do not take are refused, as
/// everywhere in the API.
#[actix_web::test]
async fn payment_endpoints_refuse_bad_ids_and_callers() {
    let Some(app) = spawn_app().await else { return };
    let admin = app.login(ADMIN_EMAIL).await.token;
    let token = app.login("ids@example.com").await.token;
    for path in [
        "/orders/abc/pay",
        "/orders/-1x/payment",
        "/orders/99999999999999999999/pay",
    ] {
        assert_problem(
            post(&app, path, &admin, Some(json!({ "reference": "x" }))).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    assert_problem(
        post(&app, "/orders/424242/payment", &token, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let anonymous = app
        .send_json(
            Method::POST,
            "/orders/1/pay",
            None,
            &json!({ "reference": "x" }),
        )
        .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
