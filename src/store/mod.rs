//! Storage traits, the only thing actors see of persistence, and their
//! implementations. SQL lives here and nowhere else: one set of queries in
//! `sql/`, compiled once for SQLite and once for PostgreSQL.

mod error;
mod limits;
mod memory;
mod ports;
pub mod postgres;
mod redis;
mod revocation_mirror;
mod rows;
pub mod sqlite;

pub use error::StoreError;
pub use limits::{ClientLimit, ClientLimiter, ClientQuotas, LocalClientLimiter, MailBudget};
pub use memory::MemoryOtpStore;
pub use ports::{
    Added, CartStore, CatalogueChanges, CatalogueRead, Checkout, CheckoutOutcome, Claim, Erasure,
    LiveRevocations, MailQueue, MessageLog, NewCartLine, OrderChange, OrderFilter, OrderPage,
    OrderStore, OtpCheck, OtpStore, PaymentOutcome, PaymentProof, PaymentStore, ProductStore,
    Publish, QueuedMail, QueuedMailSummary, RateDecision, RefundStart, RetryNow, RevocationStore,
    Rounds, StoredCart, StoredMail, Transition, UserStore, VariantsWrite, Written, MESSAGES_KEPT,
};
pub use postgres::PgStore;
pub use redis::RedisStore;
pub use revocation_mirror::MirroredRevocations;
pub use sqlite::SqliteStore;
