//! The vault: secrets kept beside the log that, unlike the log, can be destroyed.
//!
//! - **Subject keys** for crypto-shredding: personal data goes into events encrypted with a key
//!   of its own; destroying the key makes it unreadable for good while the log stays
//!   append-only and intact.
//! - **Settings**: service secrets such as the token signing key (created by the migration, so
//!   every process on one database shares it).
//!
//! It knows nothing of what the keys protect. New keys arrive with the events that use them
//! ([`crate::AppendRequest::keys`]): one transaction. It opens its own small pool: the store's SQLite
//! readers are read-only, and its writer belongs to the append path.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::error::FromDriver as _;
use crate::error::StoreError;

#[derive(Clone)]
pub struct Vault {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Vault {
    /// Opens the vault of the database at `url` (migrated by [`crate::EventStore::open`]).
    pub async fn open(url: &str) -> Result<Vault, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidInput(format!("invalid SQLite URL: {e}")))?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                // Deleted keys are overwritten in the file, not just unlinked.
                .pragma("secure_delete", "ON");
            Backend::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .or_store()?,
            )
        } else {
            Backend::Postgres(
                // Reads of keys (opening personal data for whoever may see it), erasures and
                // settings. New keys are not written here but by the store's writer, in the
                // transaction of the events they protect (`AppendRequest::keys`).
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await
                    .or_store()?,
            )
        };
        Ok(Vault { backend })
    }

    /// A setting's value, if set.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let query = "SELECT value FROM settings WHERE name = $1";
        Ok(match &self.backend {
            Backend::Sqlite(pool) => sqlx::query_scalar(query)
                .bind(name)
                .fetch_optional(pool)
                .await
                .or_store()?,
            Backend::Postgres(pool) => sqlx::query_scalar(query)
                .bind(name)
                .fetch_optional(pool)
                .await
                .or_store()?,
        })
    }

    /// Writes to the database (a setting of its own, `readiness_probe`, set to the current
    /// time): whether it accepts writes right now, for readiness checks. A read-only file, a
    /// full disk or a lock held by another process makes it fail.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        let query = "INSERT INTO settings (name, value) VALUES ('readiness_probe', $1) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
        let now = chrono::Utc::now().to_rfc3339();
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query(query)
                    .bind(now)
                    .execute(pool)
                    .await
                    .or_store()?;
            }
            Backend::Postgres(pool) => {
                sqlx::query(query)
                    .bind(now)
                    .execute(pool)
                    .await
                    .or_store()?;
            }
        }
        Ok(())
    }

    /// Stores a new subject key on its own. Fails if the id exists: keys are never replaced.
    /// A key that protects data in events belongs in their append instead
    /// ([`crate::AppendRequest::keys`]), so neither can be recorded without the other.
    pub async fn put_key(&self, id: &str, key: &[u8]) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                sqlx::query("INSERT INTO subject_keys (id, key, created_at) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(key)
                    .bind(chrono::Utc::now().to_rfc3339())
                    .execute(pool)
                    .await
                    .or_store()?;
            }
            Backend::Postgres(pool) => {
                sqlx::query("INSERT INTO subject_keys (id, key) VALUES ($1, $2)")
                    .bind(id)
                    .bind(key)
                    .execute(pool)
                    .await
                    .or_store()?;
            }
        }
        Ok(())
    }

    /// The keys that still exist among `ids`.
    pub async fn keys(&self, ids: &[&str]) -> Result<HashMap<String, Vec<u8>>, StoreError> {
        let mut found = HashMap::new();
        for id in ids {
            let query = "SELECT key FROM subject_keys WHERE id = $1";
            let key: Option<Vec<u8>> = match &self.backend {
                Backend::Sqlite(pool) => sqlx::query_scalar(query)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .or_store()?,
                Backend::Postgres(pool) => sqlx::query_scalar(query)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .or_store()?,
            };
            if let Some(key) = key {
                found.insert((*id).to_owned(), key);
            }
        }
        Ok(found)
    }

    /// Destroys a subject key; true if it existed.
    pub async fn destroy_key(&self, id: &str) -> Result<bool, StoreError> {
        let query = "DELETE FROM subject_keys WHERE id = $1";
        let deleted = match &self.backend {
            Backend::Sqlite(pool) => sqlx::query(query)
                .bind(id)
                .execute(pool)
                .await
                .or_store()?
                .rows_affected(),
            Backend::Postgres(pool) => sqlx::query(query)
                .bind(id)
                .execute(pool)
                .await
                .or_store()?
                .rows_affected(),
        };
        if let Backend::Sqlite(pool) = &self.backend {
            // The WAL still holds the page as it was; fold it into the (securely overwritten)
            // database file. Best effort: a busy reader only delays it to the next checkpoint.
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await;
        }
        Ok(deleted > 0)
    }
}
