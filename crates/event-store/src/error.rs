//! The store's errors: typed, so callers can tell a retryable conflict from bad input or a
//! database that is gone. They are the store's own: which driver talks to the database is its
//! business, so a database failure travels as a [`DatabaseError`] (its message, its SQLSTATE or
//! SQLite code, its cause for logs), never as a driver's type.

use std::fmt;

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
    /// The database cannot be used right now (connection refused or dropped, pool timed out,
    /// locked by another process, read-only, full): the same request may succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DatabaseError),
    /// The database refused the request for another reason.
    #[error("database error: {0}")]
    Database(#[source] DatabaseError),
    #[error("stored event at position {position} is unreadable: {reason}")]
    Corrupt { position: Position, reason: String },
    /// A snapshot was offered for a position the log has not reached: it cannot be a fold of
    /// this log.
    #[error("a snapshot at position {position} is beyond the log's head at position {head}")]
    SnapshotBeyondHead { position: Position, head: Position },
    #[error("could not migrate the database: {0}")]
    Migrate(#[source] DatabaseError),
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

/// A failure the database or its driver reported: what it said, and its code (a PostgreSQL
/// SQLSTATE such as `40001`, or an SQLite result code) when it gave one.
#[derive(Debug)]
pub struct DatabaseError {
    code: Option<String>,
    cause: Box<dyn std::error::Error + Send + Sync>,
}

impl DatabaseError {
    /// The database's own code for the failure, if it gave one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// A failure described in words (an I/O error, a thread that is gone).
    pub(crate) fn other(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DatabaseError {
            code: None,
            cause: cause.into(),
        }
    }
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cause.fmt(f)
    }
}

impl std::error::Error for DatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause.source()
    }
}

/// Conversion from the driver's errors, for the store's own use (`?` on sqlx calls). Not part
/// of the interface: the store's callers never see a driver error.
pub(crate) trait FromDriver<T> {
    fn or_store(self) -> Result<T, StoreError>;
}

impl<T> FromDriver<T> for Result<T, sqlx::Error> {
    fn or_store(self) -> Result<T, StoreError> {
        self.map_err(from_sqlx)
    }
}

impl<T> FromDriver<T> for Result<T, sqlx::migrate::MigrateError> {
    fn or_store(self) -> Result<T, StoreError> {
        self.map_err(|error| match error {
            sqlx::migrate::MigrateError::Execute(error) => match from_sqlx(error) {
                unavailable @ StoreError::Unavailable(_) => unavailable,
                StoreError::Database(error) => StoreError::Migrate(error),
                other => other,
            },
            other => StoreError::Migrate(DatabaseError::other(other)),
        })
    }
}

/// Sorts a driver error into unavailable (worth retrying later) or refused.
pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
    let code = match &error {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    };
    let unavailable = match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // Connection exceptions and admin shutdown / crash / cannot connect now.
        sqlx::Error::Database(db) => {
            db.code().is_some_and(|c| {
                c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
            }) || sqlite_unavailable(db.as_ref())
        }
        _ => false,
    };
    let error = DatabaseError {
        code,
        cause: Box::new(error),
    };
    if unavailable {
        StoreError::Unavailable(error)
    } else {
        StoreError::Database(error)
    }
}

/// Whether an SQLite error (from sqlx's readers) means the database cannot be used right now;
/// see [`sqlite_code_unavailable`].
fn sqlite_unavailable(error: &dyn sqlx::error::DatabaseError) -> bool {
    error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
        && error
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(sqlite_code_unavailable)
}

/// Whether an SQLite (extended) result code means the database cannot be used right now rather
/// than that the request was wrong: locked by another process beyond the busy timeout,
/// unopenable, read-only, full, or failing to read or write. The primary result code is the low
/// byte of the extended one: SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_READONLY (8),
/// SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14).
fn sqlite_code_unavailable(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14)
}

/// An error of the SQLite writer's own connection (extended result `code`), classified as the
/// readers' errors are.
pub(crate) fn sqlite_error(
    code: Option<i32>,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    let error = DatabaseError {
        code: code.map(|code| code.to_string()),
        cause: Box::new(cause),
    };
    if code.is_some_and(sqlite_code_unavailable) {
        StoreError::Unavailable(error)
    } else {
        StoreError::Database(error)
    }
}
