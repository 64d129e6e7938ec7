use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqlStore;
use crate::store::{RevocationStore, StoreError};

impl SqlStore {
    /// Every revocation whose token has not expired yet: what a
    /// `MirroredRevocations` starts from.
    pub async fn live_revocations(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > $1")
                .bind(Utc::now())
                .fetch_all(&self.pool)
                .await?,
        )
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

    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT jti FROM revoked_tokens WHERE jti = $1 AND expires_at > $2")
                .bind(jti)
                .bind(Utc::now())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }
}
