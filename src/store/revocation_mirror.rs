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

use super::{LiveRevocations, RevocationStore, StoreError};

pub struct MirroredRevocations {
    store: Arc<dyn RevocationStore>,
    revoked: RwLock<Revoked>,
}

/// The mirror's sets, each entry with when its tokens expire.
#[derive(Default)]
struct Revoked {
    tokens: HashMap<String, DateTime<Utc>>,
    users: HashMap<i64, DateTime<Utc>>,
}

impl Revoked {
    /// As the store does: revocations of tokens that have expired by
    /// themselves are worthless.
    fn forget_expired(&mut self) {
        let now = Utc::now();
        self.tokens.retain(|_, until| *until > now);
        self.users.retain(|_, until| *until > now);
    }
}

impl MirroredRevocations {
    /// `live` is what `store` holds now: the revocations of tokens that
    /// have not expired.
    pub fn new(store: Arc<dyn RevocationStore>, live: LiveRevocations) -> MirroredRevocations {
        MirroredRevocations {
            store,
            revoked: RwLock::new(Revoked {
                tokens: live.tokens.into_iter().collect(),
                users: live.users.into_iter().collect(),
            }),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Revoked> {
        self.revoked
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[async_trait]
impl RevocationStore for MirroredRevocations {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.store.revoke(jti, expires_at).await?;
        let mut revoked = self.write();
        revoked.forget_expired();
        revoked.tokens.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn revoke_user(&self, user_id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        self.store.revoke_user(user_id, until).await?;
        let mut revoked = self.write();
        revoked.forget_expired();
        revoked.users.insert(user_id, until);
        Ok(())
    }

    async fn is_revoked(&self, jti: &str, user_id: i64) -> Result<bool, StoreError> {
        let revoked = self
            .revoked
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let now = Utc::now();
        Ok(revoked.tokens.get(jti).is_some_and(|until| *until > now)
            || revoked
                .users
                .get(&user_id)
                .is_some_and(|until| *until > now))
    }
}
