use async_trait::async_trait;
use chrono::{SubsecRound, Utc};
use sqlx::QueryBuilder;

use super::catalogue::tick;
use super::{dialect, Db, SqlStore};
use crate::bus::{Event, OrderCancelled, OrderPlaced};
use crate::domain::{Address, Order, OrderLine, OrderStatus, Shortage, Size};
use crate::store::rows::{to_json, AddressRow, OrderLineRow, ADDRESS_COLUMNS};
use crate::store::{Checkout, CheckoutOutcome, OrderStore, Publish, StoreError, Transition};

/// Events relayed per transaction.
const RELAY_BATCH: i64 = 100;

/// A cart line as checkout reads it, with its product as it is now.
#[derive(sqlx::FromRow)]
struct CheckoutRow {
    id: i64,
    product_id: i64,
    size: String,
    quantity: i32,
    title: String,
    current_title: Option<String>,
    final_price: Option<i64>,
}

type Tx = sqlx::Transaction<'static, Db>;

async fn write_event(tx: &mut Tx, event: &Event) -> Result<(), StoreError> {
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
    async fn orders_where(
        &self,
        condition: impl FnOnce(&mut QueryBuilder<'_, Db>),
    ) -> Result<Vec<Order>, StoreError> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT o.id, o.user_id, o.email, o.status, o.currency, o.subtotal,
                    o.shipping_address, o.created_at, l.product_id, l.title, l.size,
                    l.quantity, l.unit_price
             FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id WHERE ",
        );
        condition(&mut query);
        query.push(" ORDER BY o.id DESC, l.position");
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
                }),
                _ => None,
            };
            match orders.last_mut() {
                Some(last) if last.id == row.id => last.items.extend(line),
                _ => orders.push(Order {
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

    async fn try_place_order(&self, checkout: &Checkout) -> Result<CheckoutOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        // One checkout of a user at a time: a second one (a double click, a
        // retry with the same key) waits, then finds the cart empty or the
        // key used.
        dialect::lock_user(&mut tx, checkout.user_id).await?;
        if let Some((key, fingerprint)) = &checkout.idempotency {
            let prior: Option<(i64, Option<String>)> = sqlx::query_as(
                "SELECT id, request_fingerprint FROM orders WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(checkout.user_id)
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, prior_fingerprint)) = prior {
                tx.rollback().await?;
                if prior_fingerprint.as_deref() != Some(fingerprint.as_str()) {
                    return Ok(CheckoutOutcome::KeyReused);
                }
                return Ok(match self.order(id).await? {
                    Some(order) => CheckoutOutcome::Replayed(order),
                    None => CheckoutOutcome::KeyReused,
                });
            }
        }
        let address: Option<AddressRow> = sqlx::query_as(&format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2"
        ))
        .bind(checkout.address_id)
        .bind(checkout.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(address) = address.map(Address::from) else {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::NoSuchAddress);
        };
        let lines: Vec<CheckoutRow> = sqlx::query_as(
            "SELECT i.id, i.product_id, i.size, i.quantity, i.title,
                    p.title AS current_title, p.final_price
             FROM cart_items i
             JOIN carts c ON c.id = i.cart_id
             LEFT JOIN products p ON p.id = i.product_id AND p.deleted_at IS NULL
             WHERE c.user_id = $1
             ORDER BY i.id",
        )
        .bind(checkout.user_id)
        .fetch_all(&mut *tx)
        .await?;
        if lines.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::EmptyCart);
        }

        let mut shortages = Vec::new();
        let mut items = Vec::with_capacity(lines.len());
        for line in &lines {
            let (Some(title), Some(unit_price)) = (&line.current_title, line.final_price) else {
                shortages.push(Shortage {
                    item_id: line.id,
                    title: line.title.clone(),
                    size: size(&line.size)?,
                    left: None,
                });
                continue;
            };
            // Never below zero: the row is changed only if it holds enough,
            // and a concurrent checkout of the same size waits for this
            // row and then checks again.
            let taken = sqlx::query(
                "UPDATE product_variants SET stock = stock - $3
                 WHERE product_id = $1 AND size = $2 AND stock >= $3",
            )
            .bind(line.product_id)
            .bind(&line.size)
            .bind(i64::from(line.quantity))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                let left: Option<(i64,)> = sqlx::query_as(
                    "SELECT stock FROM product_variants WHERE product_id = $1 AND size = $2",
                )
                .bind(line.product_id)
                .bind(&line.size)
                .fetch_optional(&mut *tx)
                .await?;
                shortages.push(Shortage {
                    item_id: line.id,
                    title: title.clone(),
                    size: size(&line.size)?,
                    left: Some(left.map_or(0, |(stock,)| stock)),
                });
                continue;
            }
            items.push(OrderLine {
                product_id: line.product_id,
                title: title.clone(),
                size: size(&line.size)?,
                quantity: i64::from(line.quantity),
                unit_price,
            });
        }
        if !shortages.is_empty() {
            tx.rollback().await?;
            return Ok(CheckoutOutcome::Short(shortages));
        }

        let subtotal: i64 = items.iter().map(OrderLine::total).sum();
        // Microseconds, as both databases keep them: the answer of the
        // checkout equals every later read of the order.
        let created_at = Utc::now().trunc_subsecs(6);
        let (key, fingerprint) = match &checkout.idempotency {
            Some((key, fingerprint)) => (Some(key.as_str()), Some(fingerprint.as_str())),
            None => (None, None),
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO orders (user_id, email, status, currency, subtotal, shipping_address,
                                 idempotency_key, request_fingerprint, created_at, updated_at)
             VALUES ($1, $2, 'placed', $3, $4, $5, $6, $7, $8, $8)
             RETURNING id",
        )
        .bind(checkout.user_id)
        .bind(&checkout.email)
        .bind(&checkout.currency)
        .bind(subtotal)
        .bind(to_json(&address))
        .bind(key)
        .bind(fingerprint)
        .bind(created_at)
        .fetch_one(&mut *tx)
        .await?;
        for (position, item) in items.iter().enumerate() {
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
            .execute(&mut *tx)
            .await?;
        }
        let mut products: Vec<i64> = items.iter().map(|item| item.product_id).collect();
        products.sort_unstable();
        products.dedup();
        stock_changed(&mut tx, &products).await?;
        write_event(
            &mut tx,
            &Event::OrderPlaced(OrderPlaced {
                order_id: id,
                user_id: checkout.user_id,
                email: checkout.email.clone(),
                total: subtotal,
                currency: checkout.currency.clone(),
            }),
        )
        .await?;
        sqlx::query(
            "DELETE FROM cart_items WHERE cart_id IN (SELECT id FROM carts WHERE user_id = $1)",
        )
        .bind(checkout.user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CheckoutOutcome::Placed {
            order: Order {
                id,
                user_id: checkout.user_id,
                email: checkout.email.clone(),
                status: OrderStatus::Placed,
                items,
                subtotal,
                currency: checkout.currency.clone(),
                shipping_address: address,
                created_at,
            },
            products,
        })
    }

    /// Moves a `placed` order to `to`; `restock` puts its lines' stock back
    /// and writes `order.cancelled`.
    async fn transition(
        &self,
        id: i64,
        owner: Option<i64>,
        to: OrderStatus,
    ) -> Result<Transition, StoreError> {
        let mut tx = self.begin_write().await?;
        // The status check and the change are one statement: of two
        // cancellations at once, one changes the row and the other finds it
        // cancelled already.
        let changed: Option<(i64, String)> = sqlx::query_as(
            "UPDATE orders SET status = $2, updated_at = $3
             WHERE id = $1 AND status = 'placed' AND ($4 IS NULL OR user_id = $4)
             RETURNING user_id, email",
        )
        .bind(id)
        .bind(to.as_str())
        .bind(Utc::now())
        .bind(owner)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((user_id, email)) = changed else {
            tx.rollback().await?;
            let status: Option<(String,)> = sqlx::query_as(
                "SELECT status FROM orders WHERE id = $1 AND ($2 IS NULL OR user_id = $2)",
            )
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.pool)
            .await?;
            return Ok(
                match status.and_then(|(status,)| OrderStatus::parse(&status)) {
                    Some(status) => Transition::NotAllowed(status),
                    None => Transition::Missing,
                },
            );
        };
        let mut products = Vec::new();
        if to == OrderStatus::Cancelled {
            let lines: Vec<(i64, String, i32)> = sqlx::query_as(
                "SELECT product_id, size, quantity FROM order_lines WHERE order_id = $1",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            for (product_id, size, quantity) in lines {
                sqlx::query(
                    "INSERT INTO product_variants (product_id, size, stock) VALUES ($1, $2, $3)
                     ON CONFLICT (product_id, size)
                     DO UPDATE SET stock = product_variants.stock + excluded.stock",
                )
                .bind(product_id)
                .bind(&size)
                .bind(i64::from(quantity))
                .execute(&mut *tx)
                .await?;
                products.push(product_id);
            }
            products.sort_unstable();
            products.dedup();
            stock_changed(&mut tx, &products).await?;
            write_event(
                &mut tx,
                &Event::OrderCancelled(OrderCancelled {
                    order_id: id,
                    user_id,
                    email,
                }),
            )
            .await?;
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

#[async_trait]
impl OrderStore for SqlStore {
    async fn place_order(&self, checkout: &Checkout) -> Result<CheckoutOutcome, StoreError> {
        self.try_place_order(checkout).await
    }

    async fn orders(
        &self,
        user_id: Option<i64>,
        status: Option<OrderStatus>,
    ) -> Result<Vec<Order>, StoreError> {
        self.orders_where(|query| {
            query.push("1 = 1");
            if let Some(user_id) = user_id {
                query.push(" AND o.user_id = ").push_bind(user_id);
            }
            if let Some(status) = status {
                query.push(" AND o.status = ").push_bind(status.as_str());
            }
        })
        .await
    }

    async fn order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        Ok(self
            .orders_where(|query| {
                query.push("o.id = ").push_bind(id);
            })
            .await?
            .pop())
    }

    async fn cancel_order(&self, id: i64, owner: Option<i64>) -> Result<Transition, StoreError> {
        self.transition(id, owner, OrderStatus::Cancelled).await
    }

    async fn fulfil_order(&self, id: i64) -> Result<Transition, StoreError> {
        self.transition(id, None, OrderStatus::Fulfilled).await
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
