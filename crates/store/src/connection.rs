use std::path::Path;
use std::time::Duration;

use hookgate_migration::{Migrator, MigratorTrait as _};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::StoreError;

/// How to reach the database. Built from the `database` section of the settings.
#[derive(Clone)]
pub struct DatabaseOptions {
    /// `sqlite://path/to/file.db` or `postgres://user:password@host/db`.
    pub url: String,
    /// Pool size (the SQLite read pool; the SQLite writer always has one connection).
    pub max_connections: u32,
    pub connect_timeout: Duration,
    /// How long a query waits for a free connection before failing as unavailable.
    pub acquire_timeout: Duration,
    /// How long a SQLite write waits for the file lock before failing as unavailable.
    pub sqlite_busy_timeout: Duration,
}

impl std::fmt::Debug for DatabaseOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("DatabaseOptions")
            .field("backend", &Backend::of_url(&self.url))
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// How busy one connection pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    pub pool: &'static str,
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// Handle to the database. Cheap to clone.
///
/// SQLite allows one writer at a time, so writes go through a pool of exactly one connection
/// (they queue in the pool instead of failing with `SQLITE_BUSY`) and reads through another
/// pool. On PostgreSQL both are the same pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) writer: DatabaseConnection,
    pub(crate) reader: DatabaseConnection,
    backend: Backend,
}

impl Store {
    pub async fn connect(options: &DatabaseOptions) -> Result<Self, StoreError> {
        let backend = Backend::of_url(&options.url).ok_or_else(|| {
            StoreError::InvalidUrl("the url must start with sqlite:// or postgres://".into())
        })?;
        match backend {
            Backend::Sqlite => {
                prepare_sqlite_file(&options.url)?;
                let writer = Database::connect(sqlite_options(options, 1)).await?;
                let reader =
                    Database::connect(sqlite_options(options, options.max_connections)).await?;
                Ok(Self {
                    writer,
                    reader,
                    backend,
                })
            }
            Backend::Postgres => {
                let mut opts = base_options(options, options.max_connections);
                // Ingest answers 2xx only once its row is durable; never let a session setting
                // of the server weaken that.
                opts.map_sqlx_postgres_opts(|o| o.options([("synchronous_commit", "on")]));
                let pool = Database::connect(opts).await?;
                Ok(Self {
                    writer: pool.clone(),
                    reader: pool,
                    backend,
                })
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.writer, None).await?;
        Ok(())
    }

    /// How many migrations this build knows that the database has not applied.
    /// Migrations applied that this build does not know (a newer release migrated the database
    /// during a rolling upgrade) are not counted: an older process keeps serving until replaced.
    pub async fn pending_migrations(&self) -> Result<usize, StoreError> {
        use sea_orm::{ConnectionTrait as _, Statement};
        let statement = Statement::from_string(
            self.reader.get_database_backend(),
            "SELECT version FROM seaql_migrations",
        );
        let rows = match self.reader.query_all_raw(statement).await {
            Ok(rows) => rows,
            // No table yet (nothing applied), or the database is down: the migrator tells which.
            Err(_) => return Ok(Migrator::get_pending_migrations(&self.reader).await?.len()),
        };
        let applied: std::collections::HashSet<String> = rows
            .iter()
            .filter_map(|row| row.try_get::<String>("", "version").ok())
            .collect();
        Ok(Migrator::migrations()
            .iter()
            .filter(|m| !applied.contains(m.name()))
            .count())
    }

    /// Round trip to the database on both pools.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.writer.ping().await?;
        self.reader.ping().await?;
        Ok(())
    }

    /// Connections of each pool: `writer` and `reader` on SQLite, one `main` pool on PostgreSQL.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        let usage = |name: &'static str, conn: &DatabaseConnection| {
            let (size, idle, max) = match self.backend {
                Backend::Sqlite => {
                    let pool = conn.get_sqlite_connection_pool();
                    (
                        pool.size(),
                        pool.num_idle(),
                        pool.options().get_max_connections(),
                    )
                }
                Backend::Postgres => {
                    let pool = conn.get_postgres_connection_pool();
                    (
                        pool.size(),
                        pool.num_idle(),
                        pool.options().get_max_connections(),
                    )
                }
            };
            let idle = u32::try_from(idle).unwrap_or(u32::MAX).min(size);
            PoolUsage {
                pool: name,
                in_use: size - idle,
                idle,
                max,
            }
        };
        match self.backend {
            Backend::Sqlite => vec![usage("writer", &self.writer), usage("reader", &self.reader)],
            Backend::Postgres => vec![usage("main", &self.writer)],
        }
    }

    /// Closes the pools, waiting for connections in use to come back.
    pub async fn close(&self) {
        let _ = self.writer.close_by_ref().await;
        let _ = self.reader.close_by_ref().await;
    }
}

fn base_options(options: &DatabaseOptions, max_connections: u32) -> ConnectOptions {
    let mut opts = ConnectOptions::new(options.url.clone());
    opts.max_connections(max_connections)
        .min_connections(0)
        .connect_timeout(options.connect_timeout)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false);
    opts
}

fn sqlite_options(options: &DatabaseOptions, max_connections: u32) -> ConnectOptions {
    let busy = options.sqlite_busy_timeout;
    let mut opts = base_options(options, max_connections);
    opts.map_sqlx_sqlite_opts(move |o| {
        o.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit is on disk before hookgate acknowledges the delivery.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(busy)
            .foreign_keys(true)
            // 16 MiB of pages per connection instead of SQLite's 2 MiB: the indexes the writer
            // and the claim query walk stay in memory, not re-read from the file on every batch.
            .pragma("cache_size", "-16384")
    });
    opts
}

/// Creates the directory of a SQLite database file, so a fresh checkout starts without setup.
fn prepare_sqlite_file(url: &str) -> Result<(), StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::InvalidUrl(
            "a SQLite url must name a file, such as sqlite://data/hookgate.db".into(),
        ));
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)?;
    }
    Ok(())
}
