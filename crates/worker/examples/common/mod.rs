//! What the benchmark programs share: a migrated store on a database of their own, and a tenant
//! to own what they store.

use std::time::Duration;

use anyhow::Context as _;
use hookgate_store::{DatabaseOptions, NewSecret, NewTenant, Store, Uuid};
use hookgate_testkit::{Backend, TestDb};

/// The backend named by the next argument (`postgres`, else SQLite).
pub fn backend(args: &mut impl Iterator<Item = String>) -> Backend {
    match args.next().as_deref() {
        Some("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// A new database (dropped with the returned `TestDb`) and a migrated store on it.
pub async fn store(backend: Backend) -> anyhow::Result<(TestDb, Store)> {
    let db = TestDb::create(backend)
        .await
        .context("HOOKGATE_TEST_DATABASE_URL is needed for postgres")?;
    let store = Store::connect(&DatabaseOptions {
        url: db.url(),
        max_connections: 8,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(30),
        sqlite_busy_timeout: Duration::from_secs(30),
    })
    .await
    .context("database")?;
    store.migrate().await.context("migrations")?;
    Ok((db, store))
}

/// A new tenant (deliveries and jobs are stored only for tenants that exist).
pub async fn new_tenant(store: &Store) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    store
        .create_tenant(
            NewTenant {
                id,
                slug: format!("bench-{}", id.simple()),
                name: "bench".into(),
            },
            NewSecret {
                id: Uuid::now_v7(),
                ciphertext: vec![0; 16],
                not_before: None,
                expires_at: None,
            },
        )
        .await
        .context("tenant")?;
    Ok(id)
}

/// The backend's name in a benchmark's JSON line.
pub fn name(backend: Backend) -> &'static str {
    if backend == Backend::Postgres {
        "postgres"
    } else {
        "sqlite"
    }
}
