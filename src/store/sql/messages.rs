use async_trait::async_trait;

use super::{dialect, SqlStore};
use crate::store::{Claim, MessageLog, StoreError};

/// `MESSAGES_KEPT`, as the queries take it.
pub(super) const KEPT_SECS: f64 = crate::store::MESSAGES_KEPT.as_secs() as f64;

#[async_trait]
impl MessageLog for SqlStore {
    async fn claim(
        &self,
        consumer: &str,
        message_id: &str,
        lease: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        // New, or a claim whose node never finished it: ours. Done, or
        // being handled elsewhere: not.
        let claimed = sqlx::query(&format!(
            "INSERT INTO handled_messages (consumer, message_id, claimed_at, done)
             VALUES ($1, $2, {now}, FALSE)
             ON CONFLICT (consumer, message_id) DO UPDATE SET claimed_at = excluded.claimed_at
             WHERE handled_messages.done = FALSE AND handled_messages.claimed_at < {stale}",
            now = dialect::NOW,
            stale = dialect::now_plus_seconds(3),
        ))
        .bind(consumer)
        .bind(message_id)
        .bind(-lease.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(Claim::Ours);
        }
        let done: Option<(bool,)> = sqlx::query_as(
            "SELECT done FROM handled_messages WHERE consumer = $1 AND message_id = $2",
        )
        .bind(consumer)
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match done {
            Some((true,)) => Claim::Done,
            // Released or taken over since the insert: held by whoever did.
            Some((false,)) | None => Claim::Held,
        })
    }

    async fn finish(&self, consumer: &str, message_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE handled_messages SET done = TRUE WHERE consumer = $1 AND message_id = $2",
        )
        .bind(consumer)
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        sqlx::query(&format!(
            "DELETE FROM handled_messages WHERE claimed_at < {}",
            dialect::now_plus_seconds(1)
        ))
        .bind(-KEPT_SECS)
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
