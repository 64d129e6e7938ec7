use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{dialect, Db, SqlStore};
use crate::domain::{Address, AddressChanges, NewAddress, ProfileChanges, Role, User};
use crate::store::rows::{to_json, AddressRow, UserRow, ADDRESS_COLUMNS, USER_COLUMNS};
use crate::store::{Erasure, StoreError, UserStore};

/// What an erased user's email becomes: unique, never deliverable (`.invalid`
/// is reserved, RFC 2606), and naming nobody.
fn erased_email(user_id: i64) -> String {
    format!("erased-{user_id}@erased.invalid")
}

#[async_trait]
impl UserStore for SqlStore {
    async fn upsert_login(
        &self,
        email: &str,
        phone_number: Option<&str>,
        role: Role,
    ) -> Result<(User, bool), StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        let inserted: Option<UserRow> = sqlx::query_as(&format!(
            "INSERT INTO users (email, phone_number, role, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (email) DO NOTHING
             RETURNING {USER_COLUMNS}"
        ))
        .bind(email)
        .bind(phone_number)
        .bind(role.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (row, created) = match inserted {
            Some(row) => (row, true),
            None => {
                let row: UserRow = sqlx::query_as(&format!(
                    "UPDATE users
                     SET role = $2,
                         phone_number = COALESCE(phone_number, $3),
                         updated_at = CASE WHEN role = $2 AND (phone_number IS NOT NULL OR $3 IS NULL)
                                           THEN updated_at ELSE $4 END
                     WHERE email = $1
                     RETURNING {USER_COLUMNS}"
                ))
                .bind(email)
                .bind(role.as_str())
                .bind(phone_number)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                (row, false)
            }
        };
        tx.commit().await?;
        Ok((row.try_into()?, created))
    }

    async fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn update_profile(
        &self,
        id: i64,
        changes: &ProfileChanges,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(&format!(
            "UPDATE users
             SET name = COALESCE($2, name),
                 phone_number = COALESCE($3, phone_number),
                 updated_at = $4
             WHERE id = $1 AND deleted_at IS NULL
             RETURNING {USER_COLUMNS}"
        ))
        .bind(id)
        .bind(changes.name.as_ref().map(|name| name.as_str()))
        .bind(changes.phone_number.as_ref().map(|phone| phone.as_str()))
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn addresses(&self, user_id: i64) -> Result<Vec<Address>, StoreError> {
        let rows: Vec<AddressRow> = sqlx::query_as(&format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE user_id = $1
             ORDER BY is_default DESC, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Address::from).collect())
    }

    async fn address(&self, user_id: i64, id: i64) -> Result<Option<Address>, StoreError> {
        let row: Option<AddressRow> = sqlx::query_as(&format!(
            "SELECT {ADDRESS_COLUMNS} FROM addresses WHERE id = $1 AND user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Address::from))
    }

    async fn add_address(&self, user_id: i64, address: &NewAddress) -> Result<Address, StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        dialect::lock_user(&mut tx, user_id).await?;
        if address.is_default() {
            clear_default(&mut tx, user_id).await?;
        }
        let row: AddressRow = sqlx::query_as(&format!(
            "INSERT INTO addresses
                 (user_id, label, street, city, state, zip_code, country, is_default, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7,
                    -- the first address is the default one whatever the client said
                    $8 OR NOT EXISTS (SELECT 1 FROM addresses WHERE user_id = $1), $9, $9
             RETURNING {ADDRESS_COLUMNS}"
        ))
        .bind(user_id)
        .bind(address.label())
        .bind(address.street())
        .bind(address.city())
        .bind(address.state())
        .bind(address.zip_code())
        .bind(address.country())
        .bind(address.is_default())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.into())
    }

    async fn update_address(
        &self,
        user_id: i64,
        id: i64,
        changes: &AddressChanges,
    ) -> Result<Option<Address>, StoreError> {
        let mut tx = self.begin_write().await?;
        dialect::lock_user(&mut tx, user_id).await?;
        if changes.is_default() == Some(true) {
            clear_default(&mut tx, user_id).await?;
        }
        let row: Option<AddressRow> = sqlx::query_as(&format!(
            "UPDATE addresses
             SET label = COALESCE($3, label),
                 street = COALESCE($4, street),
                 city = COALESCE($5, city),
                 state = COALESCE($6, state),
                 zip_code = COALESCE($7, zip_code),
                 country = COALESCE($8, country),
                 is_default = COALESCE($9, is_default),
                 updated_at = $10
             WHERE id = $1 AND user_id = $2
             RETURNING {ADDRESS_COLUMNS}"
        ))
        .bind(id)
        .bind(user_id)
        .bind(changes.label())
        .bind(changes.street())
        .bind(changes.city())
        .bind(changes.state())
        .bind(changes.zip_code())
        .bind(changes.country())
        .bind(changes.is_default())
        .bind(Utc::now())
        .fetch_optional(&mut *tx)
        .await?;
        // Not this user's address: undo the cleared default too.
        if row.is_none() {
            tx.rollback().await?;
            return Ok(None);
        }
        tx.commit().await?;
        Ok(row.map(Address::from))
    }

    async fn delete_address(&self, user_id: i64, id: i64) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM addresses WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted == 1)
    }

    async fn erase_user(&self, user_id: i64) -> Result<Erasure, StoreError> {
        let now = Utc::now();
        let mut tx = self.begin_write().await?;
        // First, as a checkout takes it: an erasure waits for a checkout of
        // the same user, and the order it makes is anonymised too.
        dialect::lock_user(&mut tx, user_id).await?;
        let erased = sqlx::query(
            "UPDATE users SET email = $2, phone_number = NULL, name = NULL, role = 'customer',
                              updated_at = $3, deleted_at = $3
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(user_id)
        .bind(erased_email(user_id))
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if erased == 0 {
            let found: Option<(Option<DateTime<Utc>>,)> =
                sqlx::query_as("SELECT deleted_at FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.rollback().await?;
            return Ok(match found {
                Some((Some(_),)) => Erasure::Before,
                _ => Erasure::Missing,
            });
        }
        for statement in [
            "DELETE FROM addresses WHERE user_id = $1",
            "DELETE FROM carts WHERE user_id = $1",
        ] {
            sqlx::query(statement)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let orders: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, shipping_address FROM orders WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
        for (order_id, shipping_address) in orders {
            let address: Address = serde_json::from_str(&shipping_address).map_err(|err| {
                StoreError::Corrupt(format!("order {order_id} has an invalid address: {err}"))
            })?;
            sqlx::query(
                "UPDATE orders SET email = $2, shipping_address = $3, updated_at = $4
                 WHERE id = $1",
            )
            .bind(order_id)
            .bind(erased_email(user_id))
            .bind(to_json(&address.anonymised()))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Erasure::Now)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

async fn clear_default(
    tx: &mut sqlx::Transaction<'static, Db>,
    user_id: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE addresses SET is_default = FALSE WHERE user_id = $1 AND is_default")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
