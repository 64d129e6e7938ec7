//! PostgreSQL, for production: the shared SQL of `sql/` with PostgreSQL's dialect.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

use super::StoreError;
use crate::config::{DatabaseSettings, DatabaseUrl};

type Db = sqlx::Postgres;

// The shared SQL is compiled once per database on purpose: it is the same
// source, monomorphic over this module's `Db` and `dialect`.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

pub use sql::SqlStore as PgStore;

/// What PostgreSQL says differently.
mod dialect {
    use super::Db;

    pub async fn begin_write(
        pool: &sqlx::Pool<Db>,
    ) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        pool.begin().await
    }

    /// Serialises the address writes of one user, so that two concurrent
    /// requests cannot both decide which address is the default.
    pub async fn lock_user(
        tx: &mut sqlx::Transaction<'static, Db>,
        user_id: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Rows another node is claiming are skipped rather than waited for.
    pub const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

    /// A checkout's cart lines (`i`), held until it commits.
    pub const LOCK_CART_LINES: &str = " FOR UPDATE OF i";

    /// A stock row (`v`) read before it is changed.
    pub const LOCK_VARIANT: &str = " FOR UPDATE OF v";

    /// A cart's row (`c`), so that adds to one cart count its lines one at
    /// a time.
    pub const LOCK_CART: &str = " FOR UPDATE OF c";

    /// A row read to be changed in the same transaction is locked until it
    /// commits.
    pub const FOR_UPDATE: &str = " FOR UPDATE";

    /// The database's clock, which every node shares: times that nodes
    /// compare with each other's are taken from it, so a node whose own
    /// clock is wrong cannot misjudge another's claim.
    pub const NOW: &str = "now()";

    /// The database's clock plus the seconds (negative: minus) bound at `$n`.
    pub fn now_plus_seconds(n: u8) -> String {
        format!("(now() + ${n}::float8 * interval '1 second')")
    }
}

impl PgStore {
    /// Connects and applies the migrations in `migrations/postgres`. sqlx
    /// holds a PostgreSQL advisory lock while migrating, so nodes starting
    /// together apply each migration once.
    pub async fn connect(settings: &DatabaseSettings) -> Result<PgStore, StoreError> {
        let DatabaseUrl::Postgres(url) = &settings.url else {
            return Err(StoreError::Failed("not a PostgreSQL URL".into()));
        };
        // A lock that does not come within the timeout fails the
        // transaction as contention (55P03): a checkout is then tried
        // again, and no request waits on a lock past its caller.
        let options = PgConnectOptions::from_str(url.expose_secret())?
            .options([("lock_timeout", format!("{}ms", settings.lock_timeout_ms))]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections.get())
            .acquire_timeout(settings.acquire_timeout())
            // A connection killed under the pool (server restart,
            // pg_terminate_backend) is noticed before it is handed out.
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|err| StoreError::Failed(err.into()))?;
        Ok(PgStore { pool })
    }
}
