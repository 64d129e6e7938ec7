//! What went wrong in a store, in the store's terms, sorted from the
//! driver's errors once.

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in a store, said in the store's terms: callers decide
/// what each means to them without knowing the driver.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database or Redis cannot be reached, is overloaded or shutting down.
    #[error("the {service} is unavailable")]
    Unavailable {
        service: &'static str,
        #[source]
        source: BoxError,
    },
    /// The write conflicts with what is stored (a unique key).
    #[error("the write conflicts with stored data: {0}")]
    Conflict(String),
    /// The database gave up the transaction for another one's sake (a
    /// deadlock, a serialisation failure, a lock not free in time):
    /// nothing of it was written, and running it again may well succeed.
    #[error("the database gave the transaction up for a concurrent one")]
    Contention(#[source] BoxError),
    /// The database refused a value as it stands.
    #[error("the database refused a value: {0}")]
    Refused(String),
    /// The database answered with an error that is neither the input's fault
    /// nor an outage: a bug of ours.
    #[error("the database failed")]
    Failed(#[source] BoxError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(super) fn unavailable(service: &'static str, source: impl Into<BoxError>) -> StoreError {
        StoreError::Unavailable {
            service,
            source: source.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        use sqlx::error::ErrorKind;
        match err {
            sqlx::Error::Database(db) => {
                let message = db.message().to_owned();
                match db.kind() {
                    ErrorKind::UniqueViolation => StoreError::Conflict(message),
                    ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation => StoreError::Refused(message),
                    _ => {
                        let code = db.code().map(|code| code.into_owned());
                        let source: BoxError = db;
                        classify_database_error(code.as_deref(), message, source)
                    }
                }
            }
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. }
            | sqlx::Error::RowNotFound => StoreError::Corrupt(err.to_string()),
            sqlx::Error::Configuration(_) | sqlx::Error::Encode(_) => {
                StoreError::Failed(Box::new(err))
            }
            other => StoreError::unavailable("database", other),
        }
    }
}

/// Sorts a database's own error by its code: PostgreSQL's SQLSTATE classes,
/// SQLite's result codes.
fn classify_database_error(code: Option<&str>, message: String, source: BoxError) -> StoreError {
    let code = code.unwrap_or_default();
    // PostgreSQL: 22 data exception (a NUL byte, a number out of range).
    if code.starts_with("22") {
        return StoreError::Refused(message);
    }
    // PostgreSQL: 40001 serialisation failure, 40P01 deadlock, 55P03 a
    // lock not free within `lock_timeout`.
    if ["40001", "40P01", "55P03"].contains(&code) {
        return StoreError::Contention(source);
    }
    // PostgreSQL: 08 connection, 40 rollback, 53 resources, 57 operator
    // intervention, 58 system. SQLite: 5 busy, 6 locked, 10 I/O, 13 full,
    // 14 cannot open (extended codes keep the primary code in their low
    // byte).
    let postgres_outage = ["08", "40", "53", "57", "58"]
        .iter()
        .any(|class| code.starts_with(class));
    let sqlite_outage = code
        .parse::<u32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13 | 14));
    if postgres_outage || sqlite_outage {
        StoreError::unavailable("database", source)
    } else {
        StoreError::Failed(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_errors_are_sorted_by_cause() {
        let source = || -> BoxError { "boom".into() };
        for (code, outage) in [
            (Some("08006"), true),
            (Some("57P01"), true),
            (Some("40003"), true),
            (Some("5"), true),
            (Some("517"), true), // SQLITE_BUSY_SNAPSHOT
            (Some("42601"), false),
            (None, false),
        ] {
            let err = classify_database_error(code, "m".into(), source());
            assert_eq!(
                matches!(err, StoreError::Unavailable { .. }),
                outage,
                "{code:?}: {err:?}"
            );
        }
        assert!(matches!(
            classify_database_error(Some("22021"), "m".into(), source()),
            StoreError::Refused(_)
        ));
        for contention in ["40001", "40P01", "55P03"] {
            assert!(matches!(
                classify_database_error(Some(contention), "m".into(), source()),
                StoreError::Contention(_)
            ));
        }
    }
}
