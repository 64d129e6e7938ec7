//! Revocations read from memory, for a database only this process writes:
//! the SQLite file of the embedded mode. Every signed-in request checks its
//! token here (and every open operator's page does, every tick); against
//! SQLite that check was a trip to sqlx's database thread and back. The file
//! stays the source of truth: the set is loaded from it at start, and a
//! revocation enters the set only once the file holds it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{RevocationStore, StoreError};

pub struct MirroredRevocations {
    store: Arc<dyn RevocationStore>,
    /// jti → when its token expires.
    revoked: RwLock<HashMap<String, DateTime<Utc>>>,
}

impl MirroredRevocations {
    /// `live` is what `store` holds now: the revocations of tokens that
    /// have not expired.
    pub fn new(
        store: Arc<dyn RevocationStore>,
        live: impl IntoIterator<Item = (String, DateTime<Utc>)>,
    ) -> MirroredRevocations {
        MirroredRevocations {
            store,
            revoked: RwLock::new(live.into_iter().collect()),
        }
    }
}

#[async_trait]
impl RevocationStore for MirroredRevocations {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.store.revoke(jti, expires_at).await?;
        let now = Utc::now();
        let mut revoked = self
            .revoked
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        // As the store does: revocations of tokens that have expired by
        // themselves are worthless.
        revoked.retain(|_, until| *until > now);
        revoked.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let revoked = self
            .revoked
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        Ok(revoked.get(jti).is_some_and(|until| *until > Utc::now()))
    }
}
