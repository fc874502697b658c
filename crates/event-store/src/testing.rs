//! Fresh databases for tests (feature `testing`): every test gets its own, and none is left
//! behind. PostgreSQL tests need `TEST_DATABASE_URL` (a server where the user may create
//! databases); without it they report that they were skipped.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// The environment variable naming the PostgreSQL server for tests.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// A database that exists for one test. Dropping it removes it.
pub struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin: Box<PgConnectOptions>,
        name: String,
    },
}

impl TestDatabase {
    /// A new SQLite database file in its own temporary directory.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("events.db").display());
        TestDatabase {
            url,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A new, empty PostgreSQL database on the server of `TEST_DATABASE_URL`, or `None` (after
    /// saying so on stderr) when that is not set.
    pub async fn postgres(test: &str) -> Option<TestDatabase> {
        let Ok(server) = std::env::var(TEST_DATABASE_URL) else {
            eprintln!("skipped {test}: {TEST_DATABASE_URL} is not set, so there is no PostgreSQL to test against");
            return None;
        };
        let admin: PgConnectOptions = server
            .parse()
            .unwrap_or_else(|e| panic!("{TEST_DATABASE_URL} is not a PostgreSQL URL: {e}"));
        let admin = admin.disable_statement_logging();
        let name = format!("wijkpuls_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {TEST_DATABASE_URL}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let _ = conn.close().await;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Some(TestDatabase {
            url,
            cleanup: Cleanup::Postgres {
                admin: Box::new(admin),
                name,
            },
        })
    }

    /// The database's URL, for `EventStore::open` or `wijkpuls --database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Rewrites history by hand, as someone with access to the database could: drops this
    /// database's append-only triggers, then runs `statements` on a connection of its own.
    pub async fn tamper(&self, statements: &[&str]) {
        if self.url.starts_with("sqlite:") {
            let mut conn = sqlx::SqliteConnection::connect(&self.url)
                .await
                .expect("connect to the test database");
            let drop = [
                "DROP TRIGGER IF EXISTS events_no_update",
                "DROP TRIGGER IF EXISTS events_no_delete",
            ];
            for statement in drop.iter().chain(statements) {
                sqlx::query(statement)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
            let _ = conn.close().await;
        } else {
            let mut conn = PgConnection::connect(&self.url)
                .await
                .expect("connect to the test database");
            let drop = ["DROP TRIGGER IF EXISTS events_no_update_or_delete ON events"];
            for statement in drop.iter().chain(statements) {
                sqlx::query(statement)
                    .execute(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            }
            let _ = conn.close().await;
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Postgres { admin, name } = &self.cleanup else {
            return;
        };
        let (admin, name) = ((**admin).clone(), name.clone());
        // Drop may run inside a runtime (or during a panic): use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime to drop the test database");
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&admin).await?;
                let result = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
                let _ = tokio::time::timeout(Duration::from_secs(5), conn.close()).await;
                result.map(|_| ())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test database: {error}"),
            Err(_) => eprintln!("could not drop test database: the cleanup thread panicked"),
        }
    }
}

/// How the store classifies a driver error (unavailable or refused), for tests of that
/// classification.
pub fn classify(error: sqlx::Error) -> crate::StoreError {
    crate::error::from_sqlx(error)
}
