use async_trait::async_trait;
use chrono::Utc;
use std::time::Duration;

use super::{dialect, SqlStore};
use crate::store::rows::{QueuedRow, QUEUE_COLUMNS};
use crate::store::{MailQueue, QueuedMail, QueuedMailSummary, RetryNow, StoreError, StoredMail};

/// The events whose mail was written, among the handled messages.
const MAIL_QUEUE_CONSUMER: &str = "mail_queue";

#[async_trait]
impl MailQueue for SqlStore {
    async fn enqueue(
        &self,
        event_id: &str,
        mail: &StoredMail,
        lease: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin_write().await?;
        // Recorded in the transaction that writes the mail: a node that dies
        // after it leaves the mail to the queue, one that dies before leaves
        // the event to its next delivery.
        let first = sqlx::query(&format!(
            "INSERT INTO handled_messages (consumer, message_id, claimed_at, done)
             VALUES ('{MAIL_QUEUE_CONSUMER}', $1, {now}, TRUE)
             ON CONFLICT (consumer, message_id) DO NOTHING",
            now = dialect::NOW
        ))
        .bind(event_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            return Ok(None);
        }
        let (id,): (i64,) = sqlx::query_as(&format!(
            "INSERT INTO mail_queue
                 (kind, sender, recipients, subject, raw, attempts, last_error, next_attempt_at,
                  leased_until, dead, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, 0, '', {leased_until}, {leased_until}, FALSE, $7, $8)
             RETURNING id",
            leased_until = dialect::now_plus_seconds(6)
        ))
        .bind(mail.kind.as_str())
        .bind(&mail.sender)
        .bind(mail.recipients.join(","))
        .bind(&mail.subject)
        .bind(&mail.sealed)
        .bind(lease.as_secs_f64())
        .bind(mail.expires_at)
        .bind(Utc::now())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(id))
    }

    async fn claim_due(&self, lease: Duration, limit: u32) -> Result<Vec<QueuedMail>, StoreError> {
        let rows: Vec<QueuedRow> = sqlx::query_as(&format!(
            "UPDATE mail_queue SET next_attempt_at = {leased_until}, leased_until = {leased_until}
             WHERE id IN (SELECT id FROM mail_queue
                          WHERE NOT dead AND next_attempt_at <= {now}
                                AND (expires_at IS NULL OR expires_at > {now})
                          ORDER BY next_attempt_at LIMIT $2{skip_locked})
             RETURNING {QUEUE_COLUMNS}",
            leased_until = dialect::now_plus_seconds(1),
            now = dialect::NOW,
            skip_locked = dialect::SKIP_LOCKED
        ))
        .bind(lease.as_secs_f64())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(QueuedRow::claimed).collect()
    }

    async fn delete(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM mail_queue WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn failed(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "UPDATE mail_queue
             SET attempts = $2, last_error = $3, next_attempt_at = {next}, leased_until = NULL,
                 dead = $5
             WHERE id = $1",
            next = dialect::now_plus_seconds(4)
        ))
        .bind(id)
        .bind(i64::from(attempts))
        .bind(error)
        .bind(retry_in.unwrap_or_default().as_secs_f64())
        .bind(retry_in.is_none())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn purge_expired(&self) -> Result<u64, StoreError> {
        // The events whose mail was written are forgotten after as long as
        // any handled message; here, as the bridge that prunes the others
        // is not there in the embedded mode.
        sqlx::query(&format!(
            "DELETE FROM handled_messages WHERE consumer = '{MAIL_QUEUE_CONSUMER}'
                                            AND claimed_at < {}",
            dialect::now_plus_seconds(1)
        ))
        .bind(-super::messages::KEPT_SECS)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query(&format!(
            "DELETE FROM mail_queue WHERE expires_at <= {}",
            dialect::NOW
        ))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    async fn queued(&self) -> Result<Vec<QueuedMailSummary>, StoreError> {
        let rows: Vec<QueuedRow> = sqlx::query_as(&format!(
            "SELECT {QUEUE_COLUMNS} FROM mail_queue ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(QueuedRow::summary).collect()
    }

    async fn retry_now(&self, id: i64) -> Result<RetryNow, StoreError> {
        // The row is read and changed under one lock, so a claim cannot
        // take the mail between the two: a try that holds the lease is
        // left alone, one whose lease ran out (its node died) is not.
        let mut tx = self.begin_write().await?;
        let leased: Option<(bool,)> = sqlx::query_as(&format!(
            "SELECT leased_until IS NOT NULL AND leased_until > {now} FROM mail_queue
             WHERE id = $1 AND (expires_at IS NULL OR expires_at > {now}){for_update}",
            now = dialect::NOW,
            for_update = dialect::FOR_UPDATE
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match leased {
            None => RetryNow::Missing,
            Some((true,)) => RetryNow::Sending,
            Some((false,)) => {
                sqlx::query(&format!(
                    "UPDATE mail_queue
                     SET attempts = 0, dead = FALSE, next_attempt_at = {}, leased_until = NULL
                     WHERE id = $1",
                    dialect::NOW
                ))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                RetryNow::Due
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
