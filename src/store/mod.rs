//! Storage traits, the only thing actors see of persistence, and their
//! implementations. SQL lives here and nowhere else.

mod memory;
mod sqlite;

use async_trait::async_trait;
use std::time::Duration;

use crate::domain::{Address, AddressChanges, NewAddress, ProfileChanges, Role, User};

pub use memory::MemoryOtpStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Users and their addresses.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Finds the user with `email` or creates one; `true` when created. The
    /// role is set to `role` either way, so admin lists apply at every login.
    async fn upsert_login(
        &self,
        email: &str,
        phone_number: Option<&str>,
        role: Role,
    ) -> Result<(User, bool), StoreError>;
    async fn user(&self, id: i64) -> Result<Option<User>, StoreError>;
    async fn update_profile(
        &self,
        id: i64,
        changes: &ProfileChanges,
    ) -> Result<Option<User>, StoreError>;
    async fn addresses(&self, user_id: i64) -> Result<Vec<Address>, StoreError>;
    async fn address(&self, user_id: i64, id: i64) -> Result<Option<Address>, StoreError>;
    async fn add_address(&self, user_id: i64, address: &NewAddress) -> Result<Address, StoreError>;
    async fn update_address(
        &self,
        user_id: i64,
        id: i64,
        changes: &AddressChanges,
    ) -> Result<Option<Address>, StoreError>;
    async fn delete_address(&self, user_id: i64, id: i64) -> Result<bool, StoreError>;
    /// One round trip to the database, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What checking a presented code against the stored one found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpCheck {
    /// The code matched and has been consumed.
    Accepted,
    /// Wrong code; the stored one dies when no attempts are left.
    Rejected { attempts_left: u32 },
    /// No live code for this email (never sent, expired, used or dead).
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after: Duration },
}

/// Short-lived authentication state: OTP hashes with their attempt counters,
/// send limits and revoked token ids. Every operation is one atomic
/// check-and-change, so concurrent callers can never both win.
#[async_trait]
pub trait OtpStore: Send + Sync {
    /// Stores the hash of a new code for `email`, replacing any previous one
    /// and its attempt counter.
    async fn put_code(&self, email: &str, hash: [u8; 32], ttl: Duration) -> Result<(), StoreError>;
    /// Compares `hash` with the stored one in constant time; consumes the code
    /// on a match, counts a wrong try otherwise.
    async fn check_code(
        &self,
        email: &str,
        hash: &[u8; 32],
        max_attempts: u32,
    ) -> Result<OtpCheck, StoreError>;
    /// Counts one hit of `key` in a fixed window of `window`; limited past `limit`.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, StoreError>;
    async fn revoke(&self, jti: &str, ttl: Duration) -> Result<(), StoreError>;
    async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError>;
    async fn ping(&self) -> Result<(), StoreError>;
}
