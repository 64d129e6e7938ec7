use async_trait::async_trait;
use chrono::Utc;

use super::SqlStore;
use crate::store::{MessageLog, StoreError};

/// How long a handled message id is remembered.
const KEPT: chrono::Duration = chrono::Duration::days(7);

#[async_trait]
impl MessageLog for SqlStore {
    async fn claim(
        &self,
        consumer: &str,
        message_id: &str,
        lease: std::time::Duration,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let stale = now - chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        // New, or a claim whose node never finished it: ours. Done, or
        // being handled elsewhere: not.
        let claimed = sqlx::query(
            "INSERT INTO handled_messages (consumer, message_id, claimed_at, done)
             VALUES ($1, $2, $3, FALSE)
             ON CONFLICT (consumer, message_id) DO UPDATE SET claimed_at = excluded.claimed_at
             WHERE handled_messages.done = FALSE AND handled_messages.claimed_at < $4",
        )
        .bind(consumer)
        .bind(message_id)
        .bind(now)
        .bind(stale)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    async fn finish(&self, consumer: &str, message_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE handled_messages SET done = TRUE WHERE consumer = $1 AND message_id = $2",
        )
        .bind(consumer)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM handled_messages WHERE claimed_at < $1")
            .bind(Utc::now() - KEPT)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn release(&self, consumer: &str, message_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM handled_messages WHERE consumer = $1 AND message_id = $2 AND done = FALSE",
        )
        .bind(consumer)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
