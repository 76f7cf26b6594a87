//! The sync tables do not depend on arrival order: any permutation of a history of events, with
//! duplicates, leaves exactly the rows that the history in order leaves. On SQLite always, and on
//! PostgreSQL when `HOOKGATE_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use std::time::Duration;

use hookgate_events::ClerkEvent;
use hookgate_store::entities::sync::{organization, organization_membership, session, user};
use hookgate_store::{DatabaseOptions, Source, Store, Uuid};
use hookgate_testkit::{Backend, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sea_orm::{ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _};
use serde_json::{Value, json};

mod common;

/// One event of a history: its inbox id and its body.
#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    svix_id: String,
    body: Value,
}

/// How one entity lives: how many updates after its creation, and whether it is deleted, at a
/// time that may fall before some of its updates (Clerk's clocks for deletes and `updated_at`
/// need not agree).
#[derive(Debug, Clone, Copy)]
struct Life {
    updates: usize,
    deleted: bool,
    delete_offset: i64,
    /// A second, different event with the last version and the same timestamp (Clerk can emit
    /// two within one millisecond): the svix-id decides between them, whatever the order.
    tie: bool,
}

fn life() -> impl Strategy<Value = Life> {
    (0usize..=3, any::<bool>(), -3500i64..=1500, any::<bool>()).prop_map(
        |(updates, deleted, delete_offset, tie)| Life {
            updates,
            deleted,
            delete_offset,
            tie,
        },
    )
}

/// Events for one entity: created, updated `updates` times (versions grow), maybe deleted.
fn lifecycle(
    kind: &str,
    id: &str,
    life: Life,
    start: i64,
    data: impl Fn(i64) -> Value,
    stub: bool,
) -> Vec<Ev> {
    let mut events = Vec::new();
    let mut version = start;
    for step in 0..=life.updates {
        let action = if step == 0 { "created" } else { "updated" };
        events.push(envelope(
            &format!("{kind}.{action}"),
            version + 7,
            data(version),
        ));
        version += 1000;
    }
    if life.tie {
        let last = version - 1000;
        let mut twin = data(last);
        twin["tie"] = json!(true);
        events.push(envelope(&format!("{kind}.updated"), last + 7, twin));
    }
    if life.deleted {
        let body = if stub {
            json!({"id": id, "object": kind, "deleted": true})
        } else {
            data(version - 1000)
        };
        let at = (version + life.delete_offset).max(start + 1);
        events.push(envelope(&format!("{kind}.deleted"), at, body));
    }
    // The history in the order things happened, by event time.
    events.sort_by_key(|e| e.body["timestamp"].as_i64());
    events
}

fn envelope(event_type: &str, timestamp: i64, data: Value) -> Ev {
    let id = Uuid::new_v4();
    Ev {
        id,
        svix_id: format!("msg_{}", id.simple()),
        body: json!({"data": data, "object": "event", "type": event_type, "timestamp": timestamp}),
    }
}

fn history() -> impl Strategy<Value = Vec<Ev>> {
    (
        prop::collection::vec(life(), 1..=3),
        life(),
        prop::collection::vec(life(), 3),
        life(),
    )
        .prop_map(|(users, org, memberships, session)| {
            let base = 1_732_890_000_000_i64;
            let mut events = Vec::new();
            for (i, life) in users.iter().enumerate() {
                let id = format!("user_{i}");
                events.extend(lifecycle("user", &id, *life, base + i as i64, |v| {
                    json!({
                        "id": id, "object": "user", "first_name": format!("v{v}"),
                        "email_addresses": [{"id": format!("idn_{i}"), "email_address": format!("u{i}-{v}@example.com")}],
                        "primary_email_address_id": format!("idn_{i}"),
                        "created_at": base, "updated_at": v,
                    })
                }, true));
            }
            let org_data = |v: i64| json!({"id": "org_1", "object": "organization", "name": format!("Acme {v}"), "slug": "acme", "created_at": base, "updated_at": v});
            events.extend(lifecycle("organization", "org_1", org, base + 10, org_data, true));
            // Memberships carry their whole object on delete, and arrive in any order with the
            // organization and users they join.
            for (i, life) in memberships.iter().enumerate().take(users.len()) {
                let id = format!("orgmem_{i}");
                let membership = |v: i64| json!({
                    "id": id, "object": "organization_membership", "role": if (v / 1000) % 2 == 0 { "org:admin" } else { "org:member" },
                    "organization": org_data(base + 10),
                    "public_user_data": {"user_id": format!("user_{i}"), "identifier": format!("u{i}@example.com")},
                    "created_at": base, "updated_at": v,
                });
                events.extend(lifecycle("organizationMembership", &id, *life, base + 20 + i as i64, membership, false));
            }
            let session_data = |v: i64| json!({"id": "sess_1", "object": "session", "user_id": "user_0", "status": format!("s{v}"), "created_at": base, "updated_at": v});
            events.extend(lifecycle("session", "sess_1", Life { deleted: false, ..session }, base + 30, session_data, false));
            events
        })
}

/// A history, and the same history shuffled with some events delivered again.
fn histories() -> impl Strategy<Value = (Vec<Ev>, Vec<Ev>)> {
    history().prop_flat_map(|in_order| {
        let n = in_order.len();
        let duplicates = prop::collection::vec(0..n, 0..=n);
        (Just(in_order.clone()), duplicates).prop_flat_map(|(in_order, duplicates)| {
            let mut delivered = in_order.clone();
            delivered.extend(duplicates.iter().map(|&i| in_order[i].clone()));
            (Just(in_order), Just(delivered).prop_shuffle())
        })
    })
}

/// Where an event comes from: its inbox id, and its svix-id (one per event; a duplicate keeps it).
fn source(ev: &Ev) -> Source<'_> {
    Source {
        event_id: ev.id,
        svix_id: &ev.svix_id,
    }
}

async fn apply_all(store: &Store, tenant: Uuid, events: &[Ev]) {
    for ev in events {
        let bytes = serde_json::to_vec(&ev.body).unwrap();
        let event = ClerkEvent::decode(&bytes).unwrap();
        store
            .apply_event(tenant, source(ev), &event, ev.body["data"].clone())
            .await
            .unwrap();
    }
}

/// `events` applied the way a worker applies a claimed batch, `size` at a time.
async fn apply_in_batches(store: &Store, tenant: Uuid, events: &[Ev], size: usize) {
    for chunk in events.chunks(size) {
        let chunk: Vec<&Ev> = chunk.iter().collect();
        apply_batch(store, tenant, &chunk).await;
    }
}

/// Every sync row of a tenant, printed without the columns that say when it was applied.
async fn snapshot(db: &DatabaseConnection, tenant: Uuid) -> Vec<String> {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    let mut rows = Vec::new();
    macro_rules! dump {
        ($module:ident) => {
            for mut row in $module::Entity::find()
                .filter($module::Column::TenantId.eq(tenant))
                .all(db)
                .await
                .unwrap()
            {
                row.tenant_id = Uuid::nil();
                row.applied_at = epoch;
                rows.push(format!("{row:?}"));
            }
        };
    }
    dump!(user);
    dump!(organization);
    dump!(organization_membership);
    dump!(session);
    rows.sort();
    rows
}

fn order_does_not_matter(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDb::create(backend)) else {
        return;
    };
    let store = rt.block_on(async {
        let store = Store::connect(&DatabaseOptions {
            url: db.url(),
            max_connections: 4,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        store
    });
    let reader = rt.block_on(sea_orm::Database::connect(db.url())).unwrap();
    let mut runner = TestRunner::new(Config::with_cases(cases));
    runner
        .run(&histories(), |(in_order, delivered)| {
            rt.block_on(async {
                let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
                apply_all(&store, a, &in_order).await;
                apply_all(&store, b, &delivered).await;
                let expected = snapshot(&reader, a).await;
                prop_assert!(!expected.is_empty());
                prop_assert_eq!(snapshot(&reader, b).await, expected.clone());
                // As workers apply them: the whole delivery in one batch (an object's events
                // in several rounds), and in batches of five.
                for size in [delivered.len(), 5] {
                    let c = Uuid::new_v4();
                    apply_in_batches(&store, c, &delivered, size).await;
                    prop_assert_eq!(
                        snapshot(&reader, c).await,
                        expected.clone(),
                        "batches of {}",
                        size
                    );
                }
                Ok(())
            })
        })
        .unwrap();
    rt.block_on(async {
        store.close().await;
        reader.close().await.unwrap();
    });
}

#[test]
fn any_order_with_duplicates_gives_the_in_order_tables_on_sqlite() {
    order_does_not_matter(Backend::Sqlite, 64);
}

#[test]
fn any_order_with_duplicates_gives_the_in_order_tables_on_postgres() {
    order_does_not_matter(Backend::Postgres, 32);
}

/// The guard's edges, one by one: an equal version changes nothing, a newer one wins, and a
/// tombstone survives any later create or update.
async fn guard_edges(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let reader = sea_orm::Database::connect(db.url()).await.unwrap();
    let tenant = Uuid::new_v4();
    let apply = |event_type: &str, timestamp: i64, data: Value| {
        let ev = envelope(event_type, timestamp, data);
        let store = store.clone();
        async move {
            let event = ClerkEvent::decode(&serde_json::to_vec(&ev.body).unwrap()).unwrap();
            let applied = store
                .apply_event(tenant, source(&ev), &event, ev.body["data"].clone())
                .await
                .unwrap();
            (ev, applied)
        }
    };
    let again = |ev: Ev| {
        let store = store.clone();
        async move {
            let event = ClerkEvent::decode(&serde_json::to_vec(&ev.body).unwrap()).unwrap();
            store
                .apply_event(tenant, source(&ev), &event, ev.body["data"].clone())
                .await
                .unwrap()
        }
    };
    let row = || async {
        user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant))
            .one(&reader)
            .await
            .unwrap()
            .unwrap()
    };
    use hookgate_store::Applied::{Unchanged, Written};

    let (first, applied) = apply(
        "user.created",
        10,
        json!({"id": "user_1", "first_name": "A", "updated_at": 5}),
    )
    .await;
    assert_eq!(applied, Written);
    assert_eq!(
        again(first.clone()).await,
        Unchanged,
        "the same event again is a no-op"
    );
    let (later, applied) = apply(
        "user.updated",
        11,
        json!({"id": "user_1", "first_name": "B", "updated_at": 5}),
    )
    .await;
    assert_eq!(applied, Written, "an equal version from a later event wins");
    assert_eq!(
        (row().await.first_name.as_deref(), row().await.last_event_id),
        (Some("B"), later.id)
    );
    assert_eq!(
        again(first).await,
        Unchanged,
        "an equal version from an earlier event is a no-op, whenever it arrives"
    );
    let (_, applied) = apply(
        "user.updated",
        12,
        json!({"id": "user_1", "first_name": "C", "updated_at": 4}),
    )
    .await;
    assert_eq!(applied, Unchanged, "an older version is a no-op");
    let (_, applied) = apply(
        "user.updated",
        13,
        json!({"id": "user_1", "first_name": "D", "updated_at": 6}),
    )
    .await;
    assert_eq!(applied, Written);
    assert_eq!(row().await.first_name.as_deref(), Some("D"));

    let (delete, applied) = apply(
        "user.deleted",
        3,
        json!({"id": "user_1", "object": "user", "deleted": true}),
    )
    .await;
    assert_eq!(
        applied, Written,
        "a delete wins over a live row whatever its timestamp"
    );
    let (_, applied) = apply(
        "user.updated",
        99,
        json!({"id": "user_1", "first_name": "E", "updated_at": 99}),
    )
    .await;
    assert_eq!(applied, Unchanged, "nothing revives a tombstone");
    let tombstone = row().await;
    assert!(tombstone.deleted_at.is_some() && tombstone.first_name.is_none());
    assert_eq!(
        again(delete).await,
        Unchanged,
        "a repeated delete is a no-op"
    );

    // A delete of something never seen still leaves a tombstone, which a late create respects.
    let (_, applied) = apply(
        "user.deleted",
        50,
        json!({"id": "user_2", "object": "user", "deleted": true}),
    )
    .await;
    assert_eq!(applied, Written);
    let (_, applied) = apply(
        "user.created",
        40,
        json!({"id": "user_2", "first_name": "F", "updated_at": 40}),
    )
    .await;
    assert_eq!(applied, Unchanged);
    store.close().await;
    reader.close().await.unwrap();
}

#[tokio::test]
async fn guard_edges_on_sqlite() {
    guard_edges(Backend::Sqlite).await;
}

#[tokio::test]
async fn guard_edges_on_postgres() {
    guard_edges(Backend::Postgres).await;
}

async fn apply_batch(store: &Store, tenant: Uuid, events: &[&Ev]) -> Vec<hookgate_store::Applied> {
    let decoded: Vec<_> = events
        .iter()
        .map(|ev| {
            let bytes = serde_json::to_vec(&ev.body).unwrap();
            let data = serde_json::value::to_raw_value(&ev.body["data"]).unwrap();
            (ClerkEvent::decode(&bytes).unwrap(), data)
        })
        .collect();
    let batch: Vec<_> = events
        .iter()
        .zip(&decoded)
        .map(|(ev, (event, data))| (source(ev), event, data.as_ref()))
        .collect();
    store.apply_events(tenant, &batch).await.unwrap()
}

/// What each event of a batch did: an object's first and newer events write, the same event
/// again in the batch and a batch applied twice change nothing, kinds without a table have none.
async fn batch_outcomes(backend: Backend) {
    use hookgate_store::Applied::{NoTable, Unchanged, Written};
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = Uuid::new_v4();
    let created = envelope("user.created", 10, json!({"id": "user_1", "updated_at": 5}));
    let updated = envelope("user.updated", 20, json!({"id": "user_1", "updated_at": 6}));
    let other = envelope("user.created", 10, json!({"id": "user_2", "updated_at": 5}));
    let email = envelope(
        "email.created",
        10,
        json!({"id": "ema_1", "object": "email"}),
    );
    let events = [&created, &updated, &updated, &other, &email];
    assert_eq!(
        apply_batch(&store, tenant, &events).await,
        [Written, Written, Unchanged, Written, NoTable]
    );
    assert_eq!(
        apply_batch(&store, tenant, &events).await,
        [Unchanged, Unchanged, Unchanged, Unchanged, NoTable]
    );
    store.close().await;
}

#[tokio::test]
async fn batch_outcomes_on_sqlite() {
    batch_outcomes(Backend::Sqlite).await;
}

#[tokio::test]
async fn batch_outcomes_on_postgres() {
    batch_outcomes(Backend::Postgres).await;
}
