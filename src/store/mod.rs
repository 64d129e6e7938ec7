//! Storage traits, the only thing actors see of persistence, and their
//! implementations. SQL lives here and nowhere else.

mod catalogue_rows;
mod memory;
mod postgres;
mod postgres_catalogue;
mod redis;
mod rows;
mod sqlite;
mod sqlite_catalogue;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

use crate::domain::{
    Address, AddressChanges, NewAddress, NewProduct, Product, ProfileChanges, Role, Size, User,
};

pub use memory::MemoryOtpStore;
pub use postgres::PgStore;
pub use redis::RedisOtpStore;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("Redis error")]
    Redis(#[from] ::redis::RedisError),
    #[error("no Redis connection became free in time")]
    RedisPoolTimeout,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A mail to park for a later try: its envelope and its formatted bytes.
#[derive(Debug, Clone)]
pub struct ParkedMail {
    pub sender: Option<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub raw: Vec<u8>,
}

/// A mail waiting in the queue, as operators see it (without its bytes).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuedMailSummary {
    pub id: i64,
    pub recipients: Vec<String>,
    pub subject: String,
    pub attempts: u32,
    pub last_error: String,
    pub next_attempt_at: DateTime<Utc>,
    pub dead: bool,
    pub created_at: DateTime<Utc>,
}

/// A mail claimed for another try.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub mail: ParkedMail,
    pub attempts: u32,
}

/// Durable queue of mail that could not be delivered at once.
#[async_trait]
pub trait MailQueue: Send + Sync {
    async fn park(
        &self,
        mail: &ParkedMail,
        attempts: u32,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<i64, StoreError>;
    /// Takes up to `limit` mails due by `now` and hides them from other
    /// claimers for `lease`, so two nodes never send the same try.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, StoreError>;
    async fn delivered(&self, id: i64) -> Result<(), StoreError>;
    /// Records a failed try; `None` as next attempt marks the mail dead.
    async fn failed(
        &self,
        id: i64,
        attempts: u32,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    async fn queued(&self) -> Result<Vec<QueuedMailSummary>, StoreError>;
    /// Makes a mail (dead or not) due now with a fresh count of tries.
    async fn retry_now(&self, id: i64) -> Result<bool, StoreError>;
}

pub(crate) fn split_recipients(joined: &str) -> Vec<String> {
    joined
        .split(',')
        .filter(|recipient| !recipient.is_empty())
        .map(str::to_owned)
        .collect()
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductSort {
    /// Best text match first (newest first without a text search).
    Relevance,
    Newest,
    PriceAscending,
    PriceDescending,
}

/// A catalogue query, already checked.
#[derive(Debug, Clone)]
pub struct ProductFilter {
    /// Plain words (see `domain::search_terms`); all must match, as prefixes.
    pub terms: Vec<String>,
    pub category: Option<String>,
    pub size: Option<Size>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub in_stock: bool,
    pub sort: ProductSort,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Clone)]
pub struct ProductPage {
    pub items: Vec<Product>,
    pub total: u64,
}

/// Whether a product write replaces its variants or leaves them as they are
/// (a PATCH without `variants` must not undo a stock change made meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantsWrite {
    Replace,
    Keep,
}

/// The catalogue. Deleted products are invisible here but stay in the table.
#[async_trait]
pub trait ProductStore: Send + Sync {
    async fn create_product(
        &self,
        product: &NewProduct,
        currency: &str,
    ) -> Result<Product, StoreError>;
    async fn product(&self, id: i64) -> Result<Option<Product>, StoreError>;
    async fn replace_product(
        &self,
        id: i64,
        product: &NewProduct,
        variants: VariantsWrite,
    ) -> Result<Option<Product>, StoreError>;
    async fn delete_product(&self, id: i64) -> Result<bool, StoreError>;
    async fn set_stock(
        &self,
        id: i64,
        size: Size,
        stock: i64,
    ) -> Result<Option<Product>, StoreError>;
    async fn search(&self, filter: &ProductFilter) -> Result<ProductPage, StoreError>;
    /// The id of the live product with exactly this title, for idempotent seeding.
    async fn product_id_by_title(&self, title: &str) -> Result<Option<i64>, StoreError>;
}
