//! Readiness during a rolling upgrade: a database migrated by a newer release (it holds a
//! migration this build does not know) is not "migrations pending" for this build.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hookgate_store::{DatabaseOptions, Store};
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use sea_orm::{ConnectionTrait as _, Database};

on_both_backends!(a_newer_releases_migration_is_not_pending_here);

async fn a_newer_releases_migration_is_not_pending_here(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = Store::connect(&DatabaseOptions {
        url: db.url(),
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
        sqlite_busy_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    assert!(
        store.pending_migrations().await.unwrap() > 0,
        "a new database"
    );
    store.migrate().await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 0);

    let raw = Database::connect(db.url()).await.unwrap();
    raw.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29991231_000001_from_a_newer_release', 0)",
    )
    .await
    .unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 0);

    raw.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = 'm20261129_000010_create_destinations'",
    )
    .await
    .unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 1);
    raw.close().await.unwrap();
    store.close().await;
}
