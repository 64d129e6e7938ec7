use async_trait::async_trait;
use chrono::Utc;
use sqlx::QueryBuilder;
use std::time::Duration;

use super::{dialect, Db, SqlStore};
use crate::domain::{CartItem, CartOwner, Quantity};
use crate::store::rows::CartItemRow;
use crate::store::{Added, CartStore, NewCartLine, StoreError, StoredCart};

/// `WHERE` of the owner's cart row (alias `c`): a guest's cart has no user.
fn push_owner(query: &mut QueryBuilder<'_, Db>, owner: &CartOwner) {
    match owner {
        CartOwner::User(user_id) => {
            query.push("c.user_id = ").push_bind(*user_id);
        }
        CartOwner::Guest(id) => {
            query
                .push("c.id = ")
                .push_bind(id.clone())
                .push(" AND c.user_id IS NULL");
        }
    }
}

impl SqlStore {
    async fn cart_id(
        &self,
        executor: impl sqlx::Executor<'_, Database = Db>,
        owner: &CartOwner,
    ) -> Result<Option<String>, StoreError> {
        let mut query = QueryBuilder::<Db>::new("SELECT c.id FROM carts c WHERE ");
        push_owner(&mut query, owner);
        let row: Option<(String,)> = query.build_query_as().fetch_optional(executor).await?;
        Ok(row.map(|(id,)| id))
    }

    /// The owner's cart, made if there is none yet.
    async fn open_cart(
        &self,
        tx: &mut sqlx::Transaction<'static, Db>,
        owner: &CartOwner,
    ) -> Result<String, StoreError> {
        if let Some(id) = self.cart_id(&mut **tx, owner).await? {
            return Ok(id);
        }
        let (id, user_id) = match owner {
            CartOwner::User(user_id) => (uuid::Uuid::new_v4().to_string(), Some(*user_id)),
            CartOwner::Guest(id) => (id.clone(), None),
        };
        // A racing first add may have made it meanwhile.
        sqlx::query(
            "INSERT INTO carts (id, user_id, created_at, touched_at) VALUES ($1, $2, $3, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(user_id)
        .bind(Utc::now())
        .execute(&mut **tx)
        .await?;
        self.cart_id(&mut **tx, owner)
            .await?
            .ok_or_else(|| StoreError::Conflict("that cart id is taken".into()))
    }

    /// Deletes or changes one line of the owner's cart; whether there was one.
    async fn change_line(
        &self,
        owner: &CartOwner,
        item_id: i64,
        change: &str,
        quantity: Option<Quantity>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut query = QueryBuilder::<Db>::new(change);
        if let Some(quantity) = quantity {
            query.push_bind(quantity.get());
        }
        query
            .push(" WHERE id = ")
            .push_bind(item_id)
            .push(" AND cart_id IN (SELECT c.id FROM carts c WHERE ");
        push_owner(&mut query, owner);
        query.push(")");
        let changed = query.build().execute(&mut *tx).await?.rows_affected() == 1;
        if changed {
            touch(&mut tx, owner).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

/// Marks the owner's cart as changed now: an idle guest cart is deleted
/// `cart.guest_ttl_secs` after its last change.
async fn touch(
    tx: &mut sqlx::Transaction<'static, Db>,
    owner: &CartOwner,
) -> Result<(), StoreError> {
    let mut query = QueryBuilder::<Db>::new("UPDATE carts SET touched_at = ");
    query
        .push_bind(Utc::now())
        .push(" WHERE id IN (SELECT c.id FROM carts c WHERE ");
    push_owner(&mut query, owner);
    query.push(")");
    query.build().execute(&mut **tx).await?;
    Ok(())
}

#[async_trait]
impl CartStore for SqlStore {
    async fn cart(&self, owner: &CartOwner) -> Result<StoredCart, StoreError> {
        let mut query = QueryBuilder::<Db>::new(
            "SELECT c.id AS cart_id, i.id, i.product_id, i.size, i.quantity, i.title
             FROM carts c LEFT JOIN cart_items i ON i.cart_id = c.id WHERE ",
        );
        push_owner(&mut query, owner);
        query.push(" ORDER BY i.id");
        let rows: Vec<CartItemRow> = query.build_query_as().fetch_all(&self.pool).await?;
        let id = rows.first().map(|row| row.cart_id.clone());
        let items = rows
            .into_iter()
            .filter_map(|row| row.into_item().transpose())
            .collect::<Result<_, _>>()?;
        Ok(StoredCart { id, items })
    }

    async fn add_to_cart(
        &self,
        owner: &CartOwner,
        line: &NewCartLine,
        available: i64,
        max_lines: u32,
    ) -> Result<Added, StoreError> {
        let available = available.min(Quantity::MAX);
        if line.quantity.get() > available {
            return Ok(Added::TooMany { available });
        }
        let mut tx = self.begin_write().await?;
        let cart_id = self.open_cart(&mut tx, owner).await?;
        // Adds to one cart count its lines one at a time.
        let (lines, has_line): (i64, bool) = sqlx::query_as(&format!(
            "SELECT (SELECT COUNT(*) FROM cart_items WHERE cart_id = c.id),
                    EXISTS (SELECT 1 FROM cart_items
                            WHERE cart_id = c.id AND product_id = $2 AND size = $3)
             FROM carts c WHERE c.id = $1{}",
            dialect::LOCK_CART
        ))
        .bind(&cart_id)
        .bind(line.product_id)
        .bind(line.size.as_str())
        .fetch_one(&mut *tx)
        .await?;
        if !has_line && lines >= i64::from(max_lines) {
            tx.rollback().await?;
            return Ok(Added::TooManyLines { max_lines });
        }
        // One statement adds to the line and checks the total, so two adds
        // at once cannot lose one or pass the stock together.
        let added = sqlx::query(
            "INSERT INTO cart_items (cart_id, product_id, size, quantity, title)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (cart_id, product_id, size)
             DO UPDATE SET quantity = cart_items.quantity + excluded.quantity, title = excluded.title
             WHERE cart_items.quantity + excluded.quantity <= $6",
        )
        .bind(&cart_id)
        .bind(line.product_id)
        .bind(line.size.as_str())
        .bind(line.quantity.get())
        .bind(&line.title)
        .bind(available)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 1 {
            touch(&mut tx, owner).await?;
        }
        tx.commit().await?;
        Ok(if added == 1 {
            Added::Added
        } else {
            Added::TooMany { available }
        })
    }

    async fn cart_item(
        &self,
        owner: &CartOwner,
        item_id: i64,
    ) -> Result<Option<CartItem>, StoreError> {
        let cart = self.cart(owner).await?;
        Ok(cart.items.into_iter().find(|item| item.id == item_id))
    }

    async fn set_cart_quantity(
        &self,
        owner: &CartOwner,
        item_id: i64,
        quantity: Quantity,
    ) -> Result<bool, StoreError> {
        self.change_line(
            owner,
            item_id,
            "UPDATE cart_items SET quantity = ",
            Some(quantity),
        )
        .await
    }

    async fn remove_cart_item(&self, owner: &CartOwner, item_id: i64) -> Result<bool, StoreError> {
        self.change_line(owner, item_id, "DELETE FROM cart_items", None)
            .await
    }

    async fn clear_cart(&self, owner: &CartOwner) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let mut query = QueryBuilder::<Db>::new(
            "DELETE FROM cart_items WHERE cart_id IN (SELECT c.id FROM carts c WHERE ",
        );
        push_owner(&mut query, owner);
        query.push(")");
        query.build().execute(&mut *tx).await?;
        touch(&mut tx, owner).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_idle_guest_carts(&self, untouched_for: Duration) -> Result<u64, StoreError> {
        let cutoff =
            Utc::now() - chrono::Duration::from_std(untouched_for).unwrap_or(chrono::Duration::MAX);
        // Lines go with their cart (ON DELETE CASCADE).
        Ok(
            sqlx::query("DELETE FROM carts WHERE user_id IS NULL AND touched_at < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    async fn merge_guest_cart(
        &self,
        guest: &str,
        user_id: i64,
        max_lines: u32,
    ) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        // Claiming the lines by deleting them makes a racing merge of the
        // same guest cart wait for this one and then find nothing.
        let claimed: Vec<(i64, String, i32, String)> = sqlx::query_as(
            "DELETE FROM cart_items
             WHERE cart_id IN (SELECT id FROM carts WHERE id = $1 AND user_id IS NULL)
             RETURNING product_id, size, quantity, title",
        )
        .bind(guest)
        .fetch_all(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM carts WHERE id = $1 AND user_id IS NULL")
            .bind(guest)
            .execute(&mut *tx)
            .await?;
        if claimed.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let cart_id = self.open_cart(&mut tx, &CartOwner::User(user_id)).await?;
        let (mut lines,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM cart_items WHERE cart_id = $1")
                .bind(&cart_id)
                .fetch_one(&mut *tx)
                .await?;
        let mut merged = 0;
        for (product_id, size, quantity, title) in claimed {
            let stock: Option<(i64,)> = sqlx::query_as(
                "SELECT v.stock FROM product_variants v JOIN products p ON p.id = v.product_id
                 WHERE v.product_id = $1 AND v.size = $2 AND p.deleted_at IS NULL",
            )
            .bind(product_id)
            .bind(&size)
            .fetch_optional(&mut *tx)
            .await?;
            let existing: Option<(i32,)> = sqlx::query_as(
                "SELECT quantity FROM cart_items WHERE cart_id = $1 AND product_id = $2 AND size = $3",
            )
            .bind(&cart_id)
            .bind(product_id)
            .bind(&size)
            .fetch_optional(&mut *tx)
            .await?;
            if existing.is_none() && lines >= i64::from(max_lines) {
                continue;
            }
            let before = existing.map_or(0, |(quantity,)| i64::from(quantity));
            let cap = stock.map_or(0, |(stock,)| stock).min(Quantity::MAX);
            let total = (before + i64::from(quantity)).min(cap.max(before));
            if total == 0 || total == before {
                continue;
            }
            if existing.is_none() {
                lines += 1;
            }
            sqlx::query(
                "INSERT INTO cart_items (cart_id, product_id, size, quantity, title)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (cart_id, product_id, size) DO UPDATE SET quantity = excluded.quantity",
            )
            .bind(&cart_id)
            .bind(product_id)
            .bind(&size)
            .bind(total)
            .bind(&title)
            .execute(&mut *tx)
            .await?;
            merged += 1;
        }
        touch(&mut tx, &CartOwner::User(user_id)).await?;
        tx.commit().await?;
        Ok(merged)
    }
}
