use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqlStore;
use crate::store::{LiveRevocations, RevocationStore, StoreError};

impl SqlStore {
    /// Every revocation whose token has not expired yet, of one token and
    /// of all of one user's: what a `MirroredRevocations` starts from.
    pub async fn live_revocations(&self) -> Result<LiveRevocations, StoreError> {
        let now = Utc::now();
        Ok(LiveRevocations {
            tokens: sqlx::query_as(
                "SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1",
            )
            .bind(now)
            .fetch_all(&self.pool)
            .await?,
            users: sqlx::query_as(
                "SELECT user_id, expires_at FROM revoked_users WHERE expires_at > $1",
            )
            .bind(now)
            .fetch_all(&self.pool)
            .await?,
        })
    }
}

#[async_trait]
impl RevocationStore for SqlStore {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Revocations of tokens that have expired by themselves are worthless.
        sqlx::query("DELETE FROM revoked_tokens WHERE expires_at <= $1")
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2)
             ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_user(&self, user_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM revoked_users WHERE expires_at <= $1")
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO revoked_users (user_id, expires_at) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(user_id)
        .bind(until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn is_revoked(&self, jti: &str, user_id: i64) -> Result<bool, StoreError> {
        // One round trip for both.
        let (revoked,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $1 AND expires_at > $3)
                 OR EXISTS (SELECT 1 FROM revoked_users WHERE user_id = $2 AND expires_at > $3)",
        )
        .bind(jti)
        .bind(user_id)
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await?;
        Ok(revoked)
    }
}
