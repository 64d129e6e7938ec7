//! The storage traits in SQL that SQLite and PostgreSQL both run. This module
//! is compiled twice, inside `store::sqlite` and inside `store::postgres`
//! (with `#[path]`), where `Db` names the driver and `dialect` holds the few
//! statements that differ: row locks, `SKIP LOCKED`, and how a
//! writing transaction begins.

mod carts;
mod catalogue;
mod mail_queue;
mod messages;
mod orders;
mod payments;
mod revocations;
mod rounds;
mod users;

use super::{dialect, Db};

#[derive(Clone)]
pub struct SqlStore {
    pub(super) pool: sqlx::Pool<Db>,
}

impl SqlStore {
    /// A transaction that will write: it takes the write lock at its start
    /// where the database needs that to never fail half-way.
    async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, Db>, crate::store::StoreError> {
        Ok(dialect::begin_write(&self.pool).await?)
    }
}
