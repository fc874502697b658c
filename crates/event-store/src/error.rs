//! The store's errors: typed, so callers can tell a retryable conflict from bad input or a
//! database that is gone.

use crate::types::{Position, StreamId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The decision behind the append was made on stale state; read again and retry.
    #[error("append conflict: {0}")]
    Conflict(Conflict),
    /// The request itself is malformed; retrying it will not help.
    #[error("invalid append: {0}")]
    InvalidInput(String),
    #[error("event of {size} bytes exceeds the limit of {limit} bytes")]
    EventTooLarge { size: usize, limit: usize },
    /// The database cannot be reached (connection refused, dropped, pool timed out).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt { position: Position, reason: String },
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The store has been shut down.
    #[error("the event store is closed")]
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("stream {stream} is at version {actual}, expected {expected}")]
    WrongExpectedVersion {
        stream: StreamId,
        expected: String,
        actual: u64,
    },
    #[error(
        "an event matching the append condition was appended at position {position}, after {after}"
    )]
    ConditionFailed { after: Position, position: Position },
}

impl StoreError {
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error),
            sqlx::Error::Database(ref db)
                if db.code().is_some_and(|c| {
                    c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
                }) =>
            {
                // Connection exceptions and admin shutdown / crash / cannot connect now.
                StoreError::Unavailable(error)
            }
            sqlx::Error::Database(ref db) if sqlite_unavailable(db.as_ref()) => {
                StoreError::Unavailable(error)
            }
            other => StoreError::Database(other),
        }
    }
}

/// Whether an SQLite error (from sqlx's readers or the SQLite writer) means the database cannot
/// be used right now rather than that the request was wrong: locked by another process beyond
/// the busy timeout, unopenable, read-only, full, or failing to read or write.
fn sqlite_unavailable(error: &dyn sqlx::error::DatabaseError) -> bool {
    let from_sqlite = error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
        || error
            .try_downcast_ref::<crate::sqlite::WriterError>()
            .is_some();
    // The primary result code is the low byte of the extended one: SQLITE_BUSY (5),
    // SQLITE_LOCKED (6), SQLITE_READONLY (8), SQLITE_IOERR (10), SQLITE_FULL (13),
    // SQLITE_CANTOPEN (14).
    from_sqlite
        && error
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}
