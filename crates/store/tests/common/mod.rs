//! What the store's tests share: a migrated store on a test database, and tenants to own rows
//! (deliveries are stored only for tenants that exist).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use std::time::Duration;

use hookgate_store::{DatabaseOptions, NewSecret, NewTenant, Store, Uuid};
use hookgate_testkit::TestDb;

pub async fn store(db: &TestDb) -> Store {
    let store = connect(db).await;
    store.migrate().await.unwrap();
    store
}

/// A store on `db`, not migrated.
pub async fn connect(db: &TestDb) -> Store {
    Store::connect(&DatabaseOptions {
        url: db.url(),
        max_connections: 4,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(10),
        sqlite_busy_timeout: Duration::from_secs(10),
    })
    .await
    .unwrap()
}

/// A new tenant's id.
pub async fn tenant(store: &Store) -> Uuid {
    let id = Uuid::now_v7();
    ensure_tenant(store, id).await;
    id
}

/// Creates the tenant `id` unless it exists.
pub async fn ensure_tenant(store: &Store, id: Uuid) {
    if store.find_tenant(id).await.unwrap().is_some() {
        return;
    }
    store
        .create_tenant(
            NewTenant {
                id,
                slug: format!("t{}", id.simple()),
                name: "test".into(),
            },
            NewSecret {
                id: Uuid::now_v7(),
                ciphertext: vec![0; 16],
                not_before: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
}
