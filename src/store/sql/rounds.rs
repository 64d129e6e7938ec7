use async_trait::async_trait;
use std::time::Duration;

use super::{dialect, SqlStore};
use crate::store::{Rounds, StoreError};

#[async_trait]
impl Rounds for SqlStore {
    async fn claim_round(&self, name: &str, every: Duration) -> Result<bool, StoreError> {
        // One statement: of two nodes claiming at once, one moves the lease
        // and the other finds it moved. The lease is by the database's
        // clock, so a node whose clock runs ahead cannot take it early.
        let claimed = sqlx::query(&format!(
            "INSERT INTO rounds (name, leased_until) VALUES ($1, {lease})
             ON CONFLICT (name) DO UPDATE SET leased_until = excluded.leased_until
             WHERE rounds.leased_until <= {now}",
            lease = dialect::now_plus_seconds(2),
            now = dialect::NOW,
        ))
        .bind(name)
        .bind(every.as_secs_f64())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }
}
