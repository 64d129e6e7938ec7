//! OrderActor: checkout, the orders and their states. Every change is one
//! transaction in the store with its event in the outbox; after the commit
//! the actor relays the outbox to the bus and brings the node's catalogue
//! up to date with the stock it changed.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ActorError;
use crate::bus::{Event, EventBus, ProductChanged};
use crate::catalogue::Catalogue;
use crate::domain::{
    checkout_fingerprint, Currency, IdempotencyKey, Order, OrderStatus, Page, PaymentProvider,
};
use crate::runtime::{DropInRuntime, Reply};
use crate::store::{
    Checkout, CheckoutOutcome, OrderChange, OrderFilter, OrderPage, OrderStore, StoreError,
    Transition,
};
use crate::telemetry::error_chain;

/// Tries of one checkout that the database gave up for a concurrent one.
const CHECKOUT_TRIES: u32 = 5;

pub struct OrderActor {
    parts: OrderParts,
}

/// What every instance shares.
#[derive(Clone)]
pub struct OrderParts {
    pub outbox: Outbox,
    pub catalogue: Arc<Catalogue>,
    pub currency: Currency,
    /// Who takes the money of the orders placed here.
    pub payment_provider: PaymentProvider,
    /// How long an order may wait for its payment.
    pub payment_timeout: Duration,
    /// An order's answer leaves within this of its message's arrival, so
    /// that it reaches its caller before the caller's timeout (the caller
    /// may be on another node): a committed order is answered as the
    /// order, never as a 5xx.
    pub answer_within: Duration,
}

/// The high half of an outbox event's message id ("outbox" in ASCII); the
/// low half is its row's id.
const OUTBOX_MESSAGES: u64 = u64::from_be_bytes(*b"\0\0outbox");

/// The message id of outbox row `row`'s event: the same each time the row
/// is relayed, another for every row.
fn outbox_message_id(row: i64) -> uuid::Uuid {
    uuid::Uuid::from_u64_pair(OUTBOX_MESSAGES, row.unsigned_abs())
}

/// The orders' store and the bus their outbox is relayed to: what every
/// node relays with, whether or not it hosts orders.
#[derive(Clone)]
pub struct Outbox {
    pub store: Arc<dyn OrderStore>,
    pub bus: EventBus,
}

impl OrderActor {
    pub fn new(parts: OrderParts) -> Self {
        OrderActor { parts }
    }
}

impl Outbox {
    /// Sends what the outbox holds; with a broker, a row goes only once the
    /// broker confirmed its event. What could not go waits for the next
    /// relay (after the next change, the node's periodic relay, or a start).
    pub async fn relay(&self) {
        let bus = self.bus.clone();
        let publish = move |row: i64, event| {
            let bus = bus.clone();
            // One id per row, however often it is relayed: consumers handle
            // a row's event once even when it goes out twice.
            let message_id = outbox_message_id(row);
            Box::pin(async move { bus.publish_confirmed(message_id, event).await })
                as futures_util::future::BoxFuture<'static, bool>
        };
        if let Err(err) = self.store.relay_outbox(&publish).await {
            tracing::warn!(error = %error_chain(&err), "the outbox could not be relayed now; it will be later");
        }
    }
}

impl OrderParts {
    pub(crate) fn store(&self) -> &Arc<dyn OrderStore> {
        &self.outbox.store
    }

    async fn relay(&self) {
        self.outbox.relay().await;
    }

    /// After a change of stock: this node's catalogue reads the products
    /// again, other nodes hear of them.
    async fn stock_changed(&self, products: &[i64]) {
        if products.is_empty() {
            return;
        }
        if let Err(err) = self.catalogue.refresh(products).await {
            tracing::warn!(error = %error_chain(&err), "the catalogue could not read the stock an order changed; its poll will");
        }
        for product_id in products {
            // Other nodes' polls catch up without it.
            if let Err(full) = self
                .outbox
                .bus
                .publish(Event::ProductChanged(ProductChanged {
                    product_id: *product_id,
                }))
            {
                tracing::warn!(product_id, error = %full, "product.changed not published");
            }
        }
    }

    /// After a commit: the outbox is relayed and the catalogue brought up
    /// to date with the stock, both waited for until the answer must leave
    /// (`answer_within` after `arrived`) and then left to finish alone. The
    /// order is committed either way: its answer is the order.
    pub(crate) async fn after_commit(&self, products: Vec<i64>, arrived: Instant) {
        let parts = self.clone();
        let follow_up = actix_rt::spawn(DropInRuntime::new(Box::pin(async move {
            parts.relay().await;
            parts.stock_changed(&products).await;
        })));
        let left = self.answer_within.saturating_sub(arrived.elapsed());
        if tokio::time::timeout(left, follow_up).await.is_err() {
            tracing::warn!("answering before the outbox relay and the catalogue refresh finished");
        }
    }

    /// Order `id`; with `owner`, only if it is theirs.
    pub(crate) async fn order(
        &self,
        id: i64,
        owner: Option<i64>,
    ) -> Result<Option<Order>, ActorError> {
        Ok(self
            .store()
            .order(id)
            .await?
            .filter(|order| owner.is_none_or(|owner| order.user_id == owner)))
    }

    /// Runs a checkout, again when the database gave it up for a
    /// concurrent one, while there is time to answer.
    async fn place(
        &self,
        checkout: &Checkout,
        arrived: Instant,
    ) -> Result<CheckoutOutcome, StoreError> {
        let mut tries = 0;
        loop {
            tries += 1;
            match self.store().place_order(checkout).await {
                Err(StoreError::Contention(err))
                    if tries < CHECKOUT_TRIES && arrived.elapsed() < self.answer_within / 2 =>
                {
                    tracing::info!(tries, error = %error_chain(&*err), "a checkout lost a race in the database; trying it again");
                    // Apart, so that the racers do not meet again at once.
                    let pause = rand::random_range(5..=20) * u64::from(tries);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn after_transition(
        &self,
        transition: Transition,
        arrived: Instant,
    ) -> Result<Order, ActorError> {
        match transition {
            Transition::Done { order, products } => {
                self.after_commit(products, arrived).await;
                Ok(*order)
            }
            Transition::NotAllowed {
                status: OrderStatus::Placed,
                payment,
            } => Err(ActorError::Conflict(format!(
                "the order's payment is {}; only a paid order is fulfilled",
                payment.as_str()
            ))),
            Transition::NotAllowed { status, .. } => Err(ActorError::Conflict(format!(
                "the order is {}; only a placed order can change",
                status.as_str()
            ))),
            Transition::Missing => Err(ActorError::NotFound),
        }
    }
}

impl Actor for OrderActor {
    type Context = Context<Self>;
}

/// Checks out the user's cart to the address.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlaceOrder {
    pub user_id: i64,
    pub email: String,
    pub address_id: i64,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The subtotal the customer saw; another one refuses the checkout.
    pub expected_subtotal: Option<i64>,
}

/// An order and whether this call placed it (or an earlier call with the
/// same key did).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Placed {
    pub order: Order,
    pub replayed: bool,
}

/// A page of the orders `filter` selects, newest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListOrders {
    pub filter: OrderFilter,
    pub page: Page,
}

/// One order; with `user_id`, only if it is theirs (another's is not found).
#[derive(Debug, Serialize, Deserialize)]
pub struct GetOrder {
    pub id: i64,
    pub user_id: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct FulfilOrder {
    pub id: i64,
}

/// How many events wait in the outbox (for operators).
#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxBacklog;

#[storefront_macros::handlers]
impl OrderActor {
    #[wire("order.outbox_backlog")]
    #[example(OutboxBacklog => Ok(3))]
    fn outbox_backlog(
        &mut self,
        _: OutboxBacklog,
        _: &mut Context<Self>,
    ) -> Reply<Result<u64, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { Ok(parts.store().outbox_backlog().await?) })
    }

    #[wire("order.place")]
    #[example(PlaceOrder {
        user_id: 7,
        email: "ana@example.com".into(),
        address_id: 3,
        idempotency_key: Some(IdempotencyKey::parse("checkout-1").unwrap()),
        expected_subtotal: Some(9800),
    } => Ok(Placed {
        order: order(),
        replayed: false,
    }))]
    #[example(PlaceOrder {
        user_id: 7,
        email: "ana@example.com".into(),
        address_id: 3,
        idempotency_key: None,
        expected_subtotal: Some(1000),
    } => Err(ActorError::SubtotalChanged(Box::new(cart()))))]
    #[example(PlaceOrder {
        user_id: 7,
        email: "ana@example.com".into(),
        address_id: 3,
        idempotency_key: None,
        expected_subtotal: None,
    } => Err(ActorError::Short(vec![Shortage {
        item_id: 4,
        product_id: 1,
        title: "Linen dress".into(),
        size: Size::M,
        asked: 2,
        left: Some(1),
    }])))]
    fn place_order(
        &mut self,
        msg: PlaceOrder,
        _: &mut Context<Self>,
    ) -> Reply<Result<Placed, ActorError>> {
        let parts = self.parts.clone();
        let arrived = Instant::now();
        Box::pin(async move {
            let checkout = Checkout {
                user_id: msg.user_id,
                email: msg.email.clone(),
                address_id: msg.address_id,
                currency: parts.currency.as_str().to_owned(),
                idempotency: msg
                    .idempotency_key
                    .clone()
                    .map(|key| (key, checkout_fingerprint(msg.address_id))),
                expected_subtotal: msg.expected_subtotal,
                payment_provider: parts.payment_provider,
                payment_timeout: parts.payment_timeout,
            };
            match parts.place(&checkout, arrived).await? {
                CheckoutOutcome::Placed { order, products } => {
                    parts.after_commit(products, arrived).await;
                    Ok(Placed {
                        order,
                        replayed: false,
                    })
                }
                CheckoutOutcome::Replayed(order) => Ok(Placed {
                    order,
                    replayed: true,
                }),
                CheckoutOutcome::KeyReused => Err(ActorError::Unprocessable(
                    "this Idempotency-Key was used for another checkout".into(),
                )),
                CheckoutOutcome::NoSuchAddress => Err(ActorError::NotFound),
                CheckoutOutcome::EmptyCart => Err(ActorError::Conflict("the cart is empty".into())),
                CheckoutOutcome::Short(shortages) => Err(ActorError::Short(shortages)),
                CheckoutOutcome::SubtotalChanged(cart) => {
                    Err(ActorError::SubtotalChanged(Box::new(cart)))
                }
            }
        })
    }

    #[wire("order.list")]
    #[example(ListOrders {
        filter: OrderFilter {
            user_id: None,
            status: Some(OrderStatus::Placed),
            payment_status: Some(PaymentStatus::Awaiting),
        },
        page: Page {
            limit: 20,
            offset: 40,
        },
    } => Ok(OrderPage {
        items: vec![order()],
        total: 41,
    }))]
    fn list_orders(
        &mut self,
        msg: ListOrders,
        _: &mut Context<Self>,
    ) -> Reply<Result<OrderPage, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move { Ok(parts.store().orders(&msg.filter, msg.page).await?) })
    }

    #[wire("order.get")]
    #[example(GetOrder {
        id: 9,
        user_id: Some(7),
    } => Ok(order()))]
    fn get_order(
        &mut self,
        msg: GetOrder,
        _: &mut Context<Self>,
    ) -> Reply<Result<Order, ActorError>> {
        let parts = self.parts.clone();
        Box::pin(async move {
            parts
                .order(msg.id, msg.user_id)
                .await?
                .ok_or(ActorError::NotFound)
        })
    }

    #[wire("order.fulfil")]
    #[example(FulfilOrder { id: 9 } => Ok(order()))]
    fn fulfil_order(
        &mut self,
        msg: FulfilOrder,
        _: &mut Context<Self>,
    ) -> Reply<Result<Order, ActorError>> {
        let parts = self.parts.clone();
        let arrived = Instant::now();
        Box::pin(async move {
            let transition = parts
                .store()
                .change_order(msg.id, &OrderChange::Fulfil)
                .await?;
            parts.after_transition(transition, arrived).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_row_keeps_one_message_id_however_often_it_is_relayed() {
        assert_eq!(outbox_message_id(7), outbox_message_id(7));
        assert_ne!(outbox_message_id(7), outbox_message_id(8));
        assert_ne!(outbox_message_id(1), outbox_message_id(1 << 40));
    }
}
