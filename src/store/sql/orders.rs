use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::QueryBuilder;

use super::catalogue::tick;
use super::{dialect, Db, SqlStore};
use crate::domain::{
    cart_as_checked, price_checkout, price_was_seen, units_restocked, Address, CartItem,
    CheckoutLine, OnSale, Order, OrderLine, OrderStatus, Page, Quantity, Shortage, Size,
};
use crate::domain::{
    retry_of, Currency, Email, Event, OrderCancelled, OrderPlaced, Payment, PaymentExpired,
    PaymentProvider, PaymentRefunded, PaymentStatus, PricedCheckout, Retry, ValidationError,
};
use crate::store::rows::{to_json, AddressRow, OrderLineRow, ADDRESS_COLUMNS};
use crate::store::{
    Checkout, CheckoutOutcome, OrderChange, OrderFilter, OrderPage, OrderStore, Publish,
    StoreError, Transition,
};

/// Events relayed per transaction.
const RELAY_BATCH: i64 = 100;

/// A cart line as checkout reads it, with its product as it is now.
#[derive(sqlx::FromRow)]
struct CheckoutRow {
    cart_id: String,
    id: i64,
    product_id: i64,
    size: String,
    quantity: i32,
    title: String,
    current_title: Option<String>,
    final_price: Option<i64>,
    stock: Option<i64>,
}

impl CheckoutRow {
    fn line(&self) -> Result<CheckoutLine, StoreError> {
        let size = size(&self.size)?;
        let on_sale = match (&self.current_title, self.final_price) {
            (Some(title), Some(final_price)) => Some(OnSale {
                title: title.clone(),
                final_price,
                stock: self.stock,
            }),
            _ => None,
        };
        Ok(CheckoutLine {
            item: CartItem {
                id: self.id,
                product_id: self.product_id,
                size,
                quantity: Quantity::parse(i64::from(self.quantity)).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "cart line {} has quantity {}",
                        self.id, self.quantity
                    ))
                })?,
                title: self.title.clone(),
            },
            on_sale,
        })
    }
}

type Tx = sqlx::Transaction<'static, Db>;

pub(super) async fn write_event(tx: &mut Tx, event: &Event) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO outbox (event, created_at) VALUES ($1, $2)")
        .bind(to_json(event))
        .bind(Utc::now())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Marks products whose stock a transaction changed, so that every node's
/// catalogue reads them again (see `catalogue_clock`).
async fn stock_changed(tx: &mut Tx, products: &[i64]) -> Result<(), StoreError> {
    if products.is_empty() {
        return Ok(());
    }
    let tick = tick(tx).await?;
    let mut query = QueryBuilder::<Db>::new("UPDATE products SET changed_at_tick = ");
    query
        .push_bind(tick)
        .push(", version = version + 1, updated_at = ")
        .push_bind(Utc::now())
        .push(" WHERE id IN (");
    let mut list = query.separated(", ");
    for id in products {
        list.push_bind(*id);
    }
    query.push(")");
    query.build().execute(&mut **tx).await?;
    Ok(())
}

fn size(raw: &str) -> Result<Size, StoreError> {
    Size::parse(raw).map_err(|_| StoreError::Corrupt(format!("an order line has size {raw:?}")))
}

impl SqlStore {
    /// The orders `condition` (on `o`) selects, newest first, `page` of them.
    async fn orders_where(
        &self,
        condition: impl Fn(&mut QueryBuilder<'_, Db>),
        page: Page,
    ) -> Result<Vec<Order>, StoreError> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT o.id, o.user_id, o.email, o.status, o.currency, o.subtotal,
                    o.shipping_address, o.created_at, o.payment_status, o.payment_provider,
                    o.payment_intent_id, o.payment_client_secret, o.payment_reference,
                    o.payment_failure, o.refund_reference, o.payment_due_at, o.paid_at,
                    l.product_id, l.title, l.size, l.quantity, l.unit_price, l.restocked
             FROM (SELECT * FROM orders o WHERE ",
        );
        condition(&mut query);
        query
            .push(" ORDER BY o.id DESC LIMIT ")
            .push_bind(i64::from(page.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(page.offset).unwrap_or(i64::MAX))
            .push(
                ") o LEFT JOIN order_lines l ON l.order_id = o.id ORDER BY o.id DESC, l.position",
            );
        let rows: Vec<OrderLineRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let mut orders: Vec<Order> = Vec::new();
        for row in rows {
            let line = match (
                row.product_id,
                &row.title,
                &row.size,
                row.quantity,
                row.unit_price,
            ) {
                (
                    Some(product_id),
                    Some(title),
                    Some(raw_size),
                    Some(quantity),
                    Some(unit_price),
                ) => Some(OrderLine {
                    product_id,
                    title: title.clone(),
                    size: size(raw_size)?,
                    quantity: i64::from(quantity),
                    unit_price,
                    restocked: row.restocked.map(i64::from),
                }),
                _ => None,
            };
            match orders.last_mut() {
                Some(last) if last.id == row.id => last.items.extend(line),
                _ => orders.push(Order {
                    payment: payment_of(&row)?,
                    id: row.id,
                    user_id: row.user_id,
                    email: row.email,
                    status: OrderStatus::parse(&row.status).ok_or_else(|| {
                        StoreError::Corrupt(format!("order {} has status {:?}", row.id, row.status))
                    })?,
                    items: line.into_iter().collect(),
                    subtotal: row.subtotal,
                    currency: row.currency,
                    shipping_address: serde_json::from_str(&row.shipping_address).map_err(
                        |err| {
                            StoreError::Corrupt(format!(
                                "order {} has an invalid address: {err}",
                                row.id
                            ))
                        },
                    )?,
                    created_at: row.created_at,
                }),
            }
        }
        Ok(orders)
    }

    /// One try of a checkout. Every transaction that touches stock takes
    /// its locks in one order: the stock rows by product and size, then the
    /// catalogue clock, then the products' rows. (Before, a checkout took
    /// its stock rows in its cart's order and an admin's stock write took
    /// the clock first: either pair could deadlock.)
    async fn try_place_order(&self, checkout: &Checkout) -> Result<CheckoutOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        // One checkout of a user at a time: a second one (a double click, a
        // retry with the same key) waits, then finds the cart empty or the
        // key used.
        dialect::lock_user(&mut tx, checkout.user_id).await?;
        if let Some(retry) = prior_checkout(&mut tx, checkout).await? {
            tx.rollback().await?;
            return Ok(match retry {
                (Retry::Replay, id) => match self.order(id).await? {
                    Some(order) => CheckoutOutcome::Replayed(order),
                    None => CheckoutOutcome::KeyReused,
                },
                (Retry::KeyReused, _) => CheckoutOutcome::KeyReused,
            });
        }
        let Some(address) = address_of(&mut tx, checkout).await? else {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::NoSuchAddress);
        };
        let (cart_id, lines) = cart_lines(&mut tx, checkout.user_id).await?;
        if lines.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::EmptyCart);
        }
        let priced = match price_checkout(&lines) {
            Ok(priced) => priced,
            Err(gone) => {
                tx.rollback().await?;
                return Ok(CheckoutOutcome::Short(gone));
            }
        };
        let shortages = take_stock(&mut tx, &lines).await?;
        if !shortages.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::Short(shortages));
        }
        if !price_was_seen(checkout.expected_subtotal, priced.subtotal) {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::SubtotalChanged(cart_as_checked(
                cart_id,
                &lines,
                &checkout.currency,
            )));
        }
        let order = write_order(&mut tx, checkout, address, priced).await?;
        let mut products: Vec<i64> = order.items.iter().map(|item| item.product_id).collect();
        products.dedup();
        stock_changed(&mut tx, &products).await?;
        write_event(
            &mut tx,
            &Event::OrderPlaced(OrderPlaced {
                order_id: order.id,
                user_id: checkout.user_id,
                email: checked(Email::parse(&checkout.email))?,
                total: order.subtotal,
                currency: checked(Currency::parse(&checkout.currency))?,
            }),
        )
        .await?;
        // The lines ordered, and only those.
        let mut delete = QueryBuilder::<Db>::new("DELETE FROM cart_items WHERE id IN (");
        let mut ids = delete.separated(", ");
        for line in &lines {
            ids.push_bind(line.item.id);
        }
        delete.push(")");
        delete.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(CheckoutOutcome::Placed { order, products })
    }

    /// Makes `change` if the order is in the states it needs. The check and
    /// the change are one statement: of two changes at once, one changes
    /// the row and the other finds it changed already.
    async fn change(&self, id: i64, change: &OrderChange) -> Result<Transition, StoreError> {
        let mut tx = self.begin_write().await?;
        // The intent a cancellation stopped must still be the order's: one
        // recorded meanwhile would stay payable.
        const SAME_INTENT: &str =
            "refund_started_at IS NULL AND (payment_intent_id = $9 OR (payment_intent_id IS NULL AND $9 IS NULL))";
        let (owner, to, from_payment, to_payment, condition, refund, claimer, intent) = match change
        {
            OrderChange::Cancel { owner, intent } => (
                *owner,
                OrderStatus::Cancelled,
                PaymentStatus::Awaiting,
                PaymentStatus::Awaiting,
                SAME_INTENT.to_owned(),
                None,
                None,
                intent.as_deref(),
            ),
            OrderChange::CancelRefunded { owner, refund } => (
                *owner,
                OrderStatus::Cancelled,
                PaymentStatus::Paid,
                PaymentStatus::Refunded,
                "refund_started_at IS NOT NULL".to_owned(),
                Some(refund.as_str()),
                None,
                None,
            ),
            OrderChange::Fulfil => (
                None,
                OrderStatus::Fulfilled,
                PaymentStatus::Paid,
                PaymentStatus::Paid,
                "refund_started_at IS NULL".to_owned(),
                None,
                None,
                None,
            ),
            OrderChange::Expire { claimer, intent } => (
                None,
                OrderStatus::Cancelled,
                PaymentStatus::Awaiting,
                PaymentStatus::Expired,
                format!("{SAME_INTENT} AND expiry_claimed_by = $7"),
                None,
                Some(claimer.as_str()),
                intent.as_deref(),
            ),
        };
        let changed: Option<(i64, String, i64, String, String)> = sqlx::query_as(&format!(
            "UPDATE orders SET status = $2, updated_at = $3, payment_status = $5,
                               refund_reference = COALESCE($6, refund_reference)
             WHERE id = $1 AND status = 'placed' AND payment_status = $8
                   AND ($4 IS NULL OR user_id = $4) AND {condition}
             RETURNING user_id, email, subtotal, currency, payment_provider"
        ))
        .bind(id)
        .bind(to.as_str())
        .bind(Utc::now())
        .bind(owner)
        .bind(to_payment.as_str())
        .bind(refund)
        .bind(claimer)
        .bind(from_payment.as_str())
        .bind(intent)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, email, total, currency, provider)) = changed else {
            tx.rollback().await?;
            let state: Option<(String, String)> = sqlx::query_as(
                "SELECT status, payment_status FROM orders
                 WHERE id = $1 AND ($2 IS NULL OR user_id = $2)",
            )
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?;
            return Ok(
                match state.and_then(|(status, payment)| {
                    Some((
                        OrderStatus::parse(&status)?,
                        PaymentStatus::parse(&payment)?,
                    ))
                }) {
                    Some((status, payment)) => Transition::NotAllowed { status, payment },
                    None => Transition::Missing,
                },
            );
        };
        let mut products = Vec::new();
        if to == OrderStatus::Cancelled {
            products = restock(&mut tx, id).await?;
            stock_changed(&mut tx, &products).await?;
            let email = checked(Email::parse(&email))?;
            write_event(
                &mut tx,
                &Event::OrderCancelled(OrderCancelled {
                    order_id: id,
                    user_id,
                    email: email.clone(),
                    payment_status: to_payment,
                }),
            )
            .await?;
            let provider = PaymentProvider::parse(&provider).ok_or_else(|| {
                StoreError::Corrupt(format!("order {id} has payment provider {provider:?}"))
            })?;
            let currency = checked(Currency::parse(&currency))?;
            match to_payment {
                PaymentStatus::Refunded => {
                    write_event(
                        &mut tx,
                        &Event::PaymentRefunded(PaymentRefunded {
                            order_id: id,
                            user_id,
                            email,
                            total,
                            currency,
                            provider,
                        }),
                    )
                    .await?
                }
                PaymentStatus::Expired => {
                    write_event(
                        &mut tx,
                        &Event::PaymentExpired(PaymentExpired {
                            order_id: id,
                            user_id,
                            email,
                        }),
                    )
                    .await?
                }
                PaymentStatus::Awaiting | PaymentStatus::Paid => {}
            }
        }
        tx.commit().await?;
        Ok(match self.order(id).await? {
            Some(order) => Transition::Done {
                order: Box::new(order),
                products,
            },
            None => Transition::Missing,
        })
    }
}

/// Puts a cancelled order's stock back, by product and size as every writer
/// of stock takes them, recording on each line how much: the products whose
/// stock came back.
async fn restock(tx: &mut Tx, id: i64) -> Result<Vec<i64>, StoreError> {
    let mut products = Vec::new();
    let lines: Vec<(i32, i64, String, i32)> = sqlx::query_as(
        "SELECT position, product_id, size, quantity FROM order_lines WHERE order_id = $1
         ORDER BY product_id, size",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    for (position, product_id, size, quantity) in lines {
        // A size removed since, or a product deleted, takes nothing back: a
        // restock must not bring either back.
        let stock: Option<(i64,)> = sqlx::query_as(&format!(
            "SELECT v.stock FROM product_variants v
             JOIN products p ON p.id = v.product_id AND p.deleted_at IS NULL
             WHERE v.product_id = $1 AND v.size = $2{}",
            dialect::LOCK_VARIANT
        ))
        .bind(product_id)
        .bind(&size)
        .fetch_optional(&mut **tx)
        .await?;
        let restocked = units_restocked(stock.map(|(stock,)| stock), i64::from(quantity));
        if restocked > 0 {
            sqlx::query(
                "UPDATE product_variants SET stock = stock + $3
                 WHERE product_id = $1 AND size = $2",
            )
            .bind(product_id)
            .bind(&size)
            .bind(restocked)
            .execute(&mut **tx)
            .await?;
            products.push(product_id);
        }
        sqlx::query("UPDATE order_lines SET restocked = $3 WHERE order_id = $1 AND position = $2")
            .bind(id)
            .bind(position)
            .bind(restocked)
            .execute(&mut **tx)
            .await?;
    }
    products.dedup();
    Ok(products)
}

#[async_trait]
impl OrderStore for SqlStore {
    async fn place_order(&self, checkout: &Checkout) -> Result<CheckoutOutcome, StoreError> {
        self.try_place_order(checkout).await
    }

    async fn orders(&self, filter: &OrderFilter, page: Page) -> Result<OrderPage, StoreError> {
        let condition = |query: &mut QueryBuilder<'_, Db>| {
            query.push("1 = 1");
            if let Some(user_id) = filter.user_id {
                query.push(" AND o.user_id = ").push_bind(user_id);
            }
            if let Some(status) = filter.status {
                query.push(" AND o.status = ").push_bind(status.as_str());
            }
            if let Some(payment) = filter.payment_status {
                query
                    .push(" AND o.payment_status = ")
                    .push_bind(payment.as_str());
            }
        };
        let mut count = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM orders o WHERE ");
        condition(&mut count);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;
        Ok(OrderPage {
            items: self.orders_where(condition, page).await?,
            total: u64::try_from(total).unwrap_or_default(),
        })
    }

    async fn order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let one = Page {
            limit: 1,
            offset: 0,
        };
        Ok(self
            .orders_where(
                |query| {
                    query.push("o.id = ").push_bind(id);
                },
                one,
            )
            .await?
            .pop())
    }

    async fn change_order(&self, id: i64, change: &OrderChange) -> Result<Transition, StoreError> {
        self.change(id, change).await
    }

    async fn relay_outbox(&self, publish: &Publish) -> Result<usize, StoreError> {
        let mut relayed = 0;
        loop {
            let mut tx = self.begin_write().await?;
            let rows: Vec<(i64, String)> = sqlx::query_as(&format!(
                "SELECT id, event FROM outbox ORDER BY id LIMIT $1{}",
                dialect::SKIP_LOCKED
            ))
            .bind(RELAY_BATCH)
            .fetch_all(&mut *tx)
            .await?;
            let batch = rows.len();
            let mut sent = Vec::with_capacity(batch);
            for (id, event) in rows {
                match serde_json::from_str::<Event>(&event) {
                    Ok(event) => {
                        if !publish(id, event).await {
                            break;
                        }
                    }
                    Err(err) => {
                        tracing::error!(outbox_id = id, error = %err, "an outbox event does not decode; dropped");
                    }
                }
                sent.push(id);
            }
            if !sent.is_empty() {
                let mut query = QueryBuilder::<Db>::new("DELETE FROM outbox WHERE id IN (");
                let mut list = query.separated(", ");
                for id in &sent {
                    list.push_bind(*id);
                }
                query.push(")");
                query.build().execute(&mut *tx).await?;
            }
            // Deleted in the transaction that held the rows while they were
            // published: a crash before the commit leaves them for the next
            // relay (an event may then go out twice, never not at all).
            tx.commit().await?;
            relayed += sent.len();
            if sent.len() < batch || batch == 0 {
                return Ok(relayed);
            }
        }
    }

    async fn outbox_backlog(&self) -> Result<u64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

/// The order that already holds the checkout's idempotency key, and whether
/// this checkout is the same request again.
async fn prior_checkout(
    tx: &mut Tx,
    checkout: &Checkout,
) -> Result<Option<(Retry, i64)>, StoreError> {
    let Some((key, fingerprint)) = &checkout.idempotency else {
        return Ok(None);
    };
    let prior: Option<(i64, Option<String>)> = sqlx::query_as(
        "SELECT id, request_fingerprint FROM orders WHERE user_id = $1 AND idempotency_key = $2",
    )
    .bind(checkout.user_id)
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    Ok(prior.map(|(id, prior)| (retry_of(prior.as_deref(), fingerprint), id)))
}

/// The checkout's address, if it is one of the user's.
async fn address_of(tx: &mut Tx, checkout: &Checkout) -> Result<Option<Address>, StoreError> {
    let address: Option<AddressRow> = sqlx::query_as(&format!(
        "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2"
    ))
    .bind(checkout.address_id)
    .bind(checkout.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(address.map(Address::from))
}

/// The user's cart and its lines with their products as sold now, by
/// product and size. The lines are locked: an add to one of them waits for
/// this checkout, and a line added meanwhile is neither ordered nor lost.
async fn cart_lines(
    tx: &mut Tx,
    user_id: i64,
) -> Result<(Option<String>, Vec<CheckoutLine>), StoreError> {
    let rows: Vec<CheckoutRow> = sqlx::query_as(&format!(
        "SELECT c.id AS cart_id, i.id, i.product_id, i.size, i.quantity, i.title,
                p.title AS current_title, p.final_price, v.stock
         FROM cart_items i
         JOIN carts c ON c.id = i.cart_id
         LEFT JOIN products p ON p.id = i.product_id AND p.deleted_at IS NULL
         LEFT JOIN product_variants v ON v.product_id = i.product_id AND v.size = i.size
         WHERE c.user_id = $1
         ORDER BY i.product_id, i.size{}",
        dialect::LOCK_CART_LINES
    ))
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await?;
    let cart_id = rows.first().map(|row| row.cart_id.clone());
    let lines = rows
        .iter()
        .map(CheckoutRow::line)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cart_id, lines))
}

/// Takes each line's stock, by product and size as every writer of stock
/// takes them; the lines that cannot have it are the answer (and the
/// caller rolls back).
async fn take_stock(tx: &mut Tx, lines: &[CheckoutLine]) -> Result<Vec<Shortage>, StoreError> {
    let mut shortages = Vec::new();
    for line in lines {
        let item = &line.item;
        // Never below zero: the row is changed only if it holds enough,
        // and a concurrent checkout of the same size waits for this row
        // and then checks again.
        let left: Option<(i64,)> = sqlx::query_as(
            "UPDATE product_variants SET stock = stock - $3
             WHERE product_id = $1 AND size = $2 AND stock >= $3
             RETURNING stock",
        )
        .bind(item.product_id)
        .bind(item.size.as_str())
        .bind(item.quantity.get())
        .fetch_optional(&mut **tx)
        .await?;
        if left.is_none() {
            let stock: Option<(i64,)> = sqlx::query_as(
                "SELECT stock FROM product_variants WHERE product_id = $1 AND size = $2",
            )
            .bind(item.product_id)
            .bind(item.size.as_str())
            .fetch_optional(&mut **tx)
            .await?;
            shortages.push(Shortage {
                item_id: item.id,
                product_id: item.product_id,
                title: item.title.clone(),
                size: item.size,
                asked: item.quantity.get(),
                left: Some(stock.map_or(0, |(stock,)| stock)),
            });
        }
    }
    Ok(shortages)
}

/// Writes the order and its lines.
async fn write_order(
    tx: &mut Tx,
    checkout: &Checkout,
    address: Address,
    priced: PricedCheckout,
) -> Result<Order, StoreError> {
    // Microseconds, as both databases keep them: the answer of the
    // checkout equals every later read of the order.
    let created_at = Utc::now().trunc_subsecs(6);
    let (key, fingerprint) = match &checkout.idempotency {
        Some((key, fingerprint)) => (Some(key.as_str()), Some(fingerprint.as_str())),
        None => (None, None),
    };
    let (id, payment_due_at): (i64, DateTime<Utc>) = sqlx::query_as(&format!(
        "INSERT INTO orders (user_id, email, status, currency, subtotal, shipping_address,
                             idempotency_key, request_fingerprint, created_at, updated_at,
                             payment_status, payment_provider, payment_due_at)
         VALUES ($1, $2, 'placed', $3, $4, $5, $6, $7, $8, $8, 'awaiting', $10, {due})
         RETURNING id, payment_due_at",
        due = dialect::now_plus_seconds(9)
    ))
    .bind(checkout.user_id)
    .bind(&checkout.email)
    .bind(&checkout.currency)
    .bind(priced.subtotal)
    .bind(to_json(&address))
    .bind(key)
    .bind(fingerprint)
    .bind(created_at)
    .bind(checkout.payment_timeout.as_secs_f64())
    .bind(checkout.payment_provider.as_str())
    .fetch_one(&mut **tx)
    .await?;
    for (position, item) in priced.items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_lines (order_id, position, product_id, title, size, quantity,
                                      unit_price)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(position as i64)
        .bind(item.product_id)
        .bind(&item.title)
        .bind(item.size.as_str())
        .bind(item.quantity)
        .bind(item.unit_price)
        .execute(&mut **tx)
        .await?;
    }
    Ok(Order {
        id,
        user_id: checkout.user_id,
        email: checkout.email.clone(),
        status: OrderStatus::Placed,
        items: priced.items,
        subtotal: priced.subtotal,
        currency: checkout.currency.clone(),
        shipping_address: address,
        created_at,
        payment: Payment {
            provider: checkout.payment_provider,
            status: PaymentStatus::Awaiting,
            intent_id: None,
            client_secret: None,
            reference: None,
            failure: None,
            refund: None,
            due_at: Some(payment_due_at),
            paid_at: None,
        },
    })
}

/// The payment columns of an order's row.
fn payment_of(row: &OrderLineRow) -> Result<Payment, StoreError> {
    let corrupt =
        |what: &str, raw: &str| StoreError::Corrupt(format!("order {} has {what} {raw:?}", row.id));
    Ok(Payment {
        provider: PaymentProvider::parse(&row.payment_provider)
            .ok_or_else(|| corrupt("payment provider", &row.payment_provider))?,
        status: PaymentStatus::parse(&row.payment_status)
            .ok_or_else(|| corrupt("payment status", &row.payment_status))?,
        intent_id: row.payment_intent_id.clone(),
        client_secret: row.payment_client_secret.clone(),
        reference: row.payment_reference.clone(),
        failure: row.payment_failure.clone(),
        refund: row.refund_reference.clone(),
        due_at: row.payment_due_at,
        paid_at: row.paid_at,
    })
}

/// A value the rules checked when it was written, checked again as it
/// leaves the database for an event.
pub(super) fn checked<T>(parsed: Result<T, ValidationError>) -> Result<T, StoreError> {
    parsed.map_err(|err| StoreError::Corrupt(err.to_string()))
}
