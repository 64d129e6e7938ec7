//! SQLite, the embedded mode: the shared SQL of `sql/` with SQLite's dialect.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;

use super::StoreError;
use crate::config::{DatabaseSettings, DatabaseUrl};

type Db = sqlx::Sqlite;

// The shared SQL is compiled once per database on purpose: it is the same
// source, monomorphic over this module's `Db` and `dialect`.
#[allow(clippy::duplicate_mod)]
#[path = "sql/mod.rs"]
mod sql;

pub use sql::SqlStore as SqliteStore;

/// What SQLite says differently.
mod dialect {
    use super::Db;

    /// SQLite has one writer at a time; a transaction that reads before it
    /// writes must take the write lock at `BEGIN`, or it can fail when it
    /// tries to upgrade while another writer holds the lock.
    pub async fn begin_write(
        pool: &sqlx::Pool<Db>,
    ) -> Result<sqlx::Transaction<'static, Db>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// Writers are serialised by `begin_write` already.
    pub async fn lock_user(
        _tx: &mut sqlx::Transaction<'static, Db>,
        _user_id: i64,
    ) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// No row locks: the claiming `UPDATE` holds the write lock.
    pub const SKIP_LOCKED: &str = "";

    /// No row locks: a writing transaction holds the database's write lock
    /// from its start (`begin_write`).
    pub const LOCK_CART_LINES: &str = "";
    pub const LOCK_VARIANT: &str = "";
    pub const LOCK_CART: &str = "";
    pub const FOR_UPDATE: &str = "";

    /// The database's clock (the one machine's whose file it is), as text
    /// that sorts in time order among the times sqlx writes.
    pub const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')";

    /// The database's clock plus the seconds (negative: minus) bound at `$n`.
    pub fn now_plus_seconds(n: u8) -> String {
        format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', ${n} || ' seconds')")
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database in WAL mode and applies the
    /// migrations in `migrations/sqlite`. A new file, and the folder it
    /// goes into, are readable by this user only; SQLite gives its `-wal`
    /// and `-shm` files the database file's mode.
    pub async fn connect(settings: &DatabaseSettings) -> Result<SqliteStore, StoreError> {
        let DatabaseUrl::Sqlite(url) = &settings.url else {
            return Err(StoreError::Failed("not a SQLite URL".into()));
        };
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(settings.lock_timeout());
        let file = options.get_filename();
        if file != std::path::Path::new(":memory:") {
            crate::files::create_private_file(file)
                .map_err(|err| StoreError::unavailable("database", err))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.get())
            .acquire_timeout(settings.acquire_timeout())
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|err| StoreError::Failed(err.into()))?;
        Ok(SqliteStore { pool })
    }
}
