//! Readiness during a rolling upgrade: a database migrated by a newer release (it holds a
//! migration this build does not know) is not "migrations pending" for this build. Data written
//! before a migration that moves it is found after.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hookgate_testkit::{Backend, TestDb, on_both_backends};
use sea_orm::{ConnectionTrait as _, Database};

mod common;

on_both_backends!(
    a_newer_releases_migration_is_not_pending_here,
    bodies_stored_inside_the_inbox_rows_are_moved_to_their_table
);

async fn bodies_stored_inside_the_inbox_rows_are_moved_to_their_table(backend: Backend) {
    use hookgate_migration::{Migrator, MigratorTrait as _};
    use sea_orm::sea_query::{Alias, Query};
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::connect(&db).await;
    let raw = Database::connect(db.url()).await.unwrap();
    // The schema before bodies had a table of their own.
    Migrator::up(&raw, Some(19)).await.unwrap();
    let tenant = common::tenant(&store).await;
    let id = hookgate_store::Uuid::now_v7();
    let body = br#"{"type":"user.created","data":{"id":"user_1"}}"#.to_vec();
    let insert = Query::insert()
        .into_table(Alias::new("inbox_events"))
        .columns(
            [
                "id",
                "tenant_id",
                "svix_id",
                "received_at",
                "body",
                "status",
                "attempts",
            ]
            .map(Alias::new),
        )
        .values_panic([
            id.into(),
            tenant.into(),
            "msg_old".into(),
            chrono::Utc::now().into(),
            body.clone().into(),
            "done".into(),
            1.into(),
        ])
        .to_owned();
    raw.execute(&insert).await.unwrap();

    store.migrate().await.unwrap();
    let event = store.find_inbox_event(tenant, id).await.unwrap().unwrap();
    assert_eq!(event.body, body);
    assert_eq!(event.svix_id, "msg_old");
    raw.close().await.unwrap();
    store.close().await;
}

async fn a_newer_releases_migration_is_not_pending_here(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::connect(&db).await;
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
