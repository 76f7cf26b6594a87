//! Test support shared by hookgate's crates: a database of its own for each test (a SQLite file,
//! or a PostgreSQL database created and dropped around the test), Clerk's fixtures drifted, and a
//! fake of Clerk's Backend API (`fake_clerk`). Only ever a dev-dependency.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test support may panic on what it sets up.

pub mod drift;
pub mod fake_clerk;

use std::io::Write as _;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait as _, Database};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs one scenario on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::Backend::Sqlite).await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name($crate::Backend::Postgres).await;
            })*
        }
    };
}

/// A database for one test, removed when dropped.
#[derive(Debug)]
pub enum TestDb {
    Sqlite {
        dir: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    /// `None` when the backend is not available here (PostgreSQL without
    /// `HOOKGATE_TEST_DATABASE_URL`); the test then says so and returns. In CI it must be set.
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("hookgate-test-{}", Uuid::new_v4().simple()));
                std::fs::create_dir_all(&dir).unwrap();
                Some(Self::Sqlite { dir })
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var("HOOKGATE_TEST_DATABASE_URL") else {
                    assert!(
                        std::env::var_os("CI").is_none(),
                        "HOOKGATE_TEST_DATABASE_URL must be set in CI: PostgreSQL tests cannot be skipped there"
                    );
                    // Straight to stderr, past the test harness's capture, so it is always seen.
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "PostgreSQL test NOT RUN (HOOKGATE_TEST_DATABASE_URL is unset): {}",
                        std::thread::current().name().unwrap_or("?")
                    );
                    return None;
                };
                let name = format!("hookgate_test_{}", Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connect to HOOKGATE_TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let url = PgUrl::parse(&admin_url).with_database(&name).to_string();
                Some(Self::Postgres {
                    admin_url,
                    name,
                    url,
                })
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { dir } => format!("sqlite://{}", dir.join("hookgate.db").display()),
            Self::Postgres { url, .. } => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            Self::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Self::Postgres {
                admin_url, name, ..
            } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; the cleanup gets a runtime of its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        if let Ok(admin) = Database::connect(&admin_url).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// The parts of a `postgres://` URL a test rewrites.
#[derive(Debug, Clone)]
pub struct PgUrl {
    userinfo: String,
    host: String,
    database: String,
    query: String,
}

impl PgUrl {
    pub fn parse(url: &str) -> Self {
        let rest = url.split_once("://").expect("a postgres:// url").1;
        let (userinfo, rest) = rest.rsplit_once('@').map_or(("", rest), |(u, r)| (u, r));
        let (host, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let (database, query) = rest.split_once('?').map_or((rest, ""), |(d, q)| (d, q));
        Self {
            userinfo: userinfo.to_owned(),
            host: host.to_owned(),
            database: database.to_owned(),
            query: query.to_owned(),
        }
    }

    pub fn with_database(mut self, database: &str) -> Self {
        self.database = database.to_owned();
        self
    }

    pub fn with_host(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl std::fmt::Display for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "postgres://")?;
        if !self.userinfo.is_empty() {
            write!(f, "{}@", self.userinfo)?;
        }
        write!(f, "{}/{}", self.host, self.database)?;
        if !self.query.is_empty() {
            write!(f, "?{}", self.query)?;
        }
        Ok(())
    }
}
