//! Drift end to end through a worker: every fixture with one field that is not a key field given a
//! value of another JSON type is applied (done, not dead) and queued for the tenant's destination,
//! on SQLite and PostgreSQL; an event whose key field is unusable, or a delete that names no
//! object, dies, and is forwarded anyway.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hookgate_store::entities::inbox_event;
use hookgate_store::entities::sync::user;
use hookgate_store::{
    DeliveryQuery, InboxStatus, InsertOutcome, NewDestination, NewInboxEvent, Uuid,
};
use hookgate_testkit::drift::{drifts, fixtures, replacements};
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use hookgate_worker::{Backoff, Worker, WorkerSettings};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use serde_json::Value;
use tokio::sync::Notify;

on_both_backends!(drifted_events_are_applied_and_forwarded);

/// One drift of each JSON type per fixture, at fields spread over the fixture: every fixture,
/// every type, and most fields, while keeping the run short.
fn sample() -> Vec<(String, String, Vec<u8>)> {
    let mut picked = Vec::new();
    for (i, (name, body)) in fixtures().into_iter().enumerate() {
        let all = drifts(&body);
        for (j, replacement) in replacements().iter().enumerate() {
            let of_type: Vec<_> = all
                .iter()
                .filter(|d| &d.replacement == replacement)
                .collect();
            if of_type.is_empty() {
                continue;
            }
            let drift = of_type[(i * 7 + j * 3) % of_type.len()];
            picked.push((name.clone(), drift.path.clone(), drift.body.clone()));
        }
    }
    picked
}

async fn drifted_events_are_applied_and_forwarded(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let destination = store
        .create_destination(
            tenant,
            NewDestination {
                id: Uuid::now_v7(),
                name: "everything".into(),
                url: "http://127.0.0.1:9/".into(),
                event_types: "*".into(),
                ciphertext: vec![0; 16],
                url_ciphertext: None,
                max_per_sec: None,
            },
        )
        .await
        .unwrap();

    let mut events = sample();
    // A user whose `updated_at` (the version, a key field) is a word cannot be applied.
    let broken = br#"{"data":{"id":"user_broken","updated_at":"yesterday"},"object":"event","type":"user.updated","timestamp":1732890000000}"#;
    events.push((
        "user.updated".into(),
        "data.updated_at".into(),
        broken.to_vec(),
    ));
    // A delete that names no object cannot be applied either.
    let nameless = br#"{"data":{"object":"user","deleted":true},"object":"event","type":"user.deleted","timestamp":1732890000000}"#;
    events.push(("user.deleted".into(), "data.id".into(), nameless.to_vec()));
    let mut ids = Vec::new();
    for (n, (name, path, body)) in events.iter().enumerate() {
        let envelope: Value = serde_json::from_slice(body).unwrap();
        let outcome = store
            .insert_inbox_event(
                tenant,
                NewInboxEvent {
                    svix_id: format!("msg_{n}"),
                    event_type: Some(name.clone()),
                    instance_id: None,
                    event_timestamp_ms: envelope["timestamp"].as_i64(),
                    body: body.clone(),
                    invalid: None,
                    trace_parent: None,
                },
            )
            .await
            .unwrap();
        let InsertOutcome::Accepted(id) = outcome else {
            panic!("{name} {path}: stored twice")
        };
        ids.push(id);
    }

    let settings = WorkerSettings {
        batch_size: 50,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            max_attempts: 3,
        },
    };
    let worker = Worker::new(store.clone(), settings, Arc::new(Notify::new()));
    while worker.run_batch().await.unwrap().claimed > 0 {}

    let broken_id = ids[ids.len() - 2];
    let nameless_id = ids[ids.len() - 1];
    for ((name, path, _), id) in events.iter().zip(&ids) {
        let event = store.find_inbox_event(tenant, *id).await.unwrap().unwrap();
        if *id == broken_id {
            assert_eq!(event.status, InboxStatus::Dead, "an unusable version");
            assert!(
                event
                    .last_error
                    .as_deref()
                    .unwrap()
                    .contains("data.updated_at"),
                "{:?}",
                event.last_error
            );
        } else if *id == nameless_id {
            assert_eq!(event.status, InboxStatus::Dead, "a delete naming nothing");
        } else {
            assert_eq!(
                event.status,
                InboxStatus::Done,
                "{name} with {path} drifted: {:?}",
                event.last_error
            );
        }
    }
    let queued: HashSet<Uuid> = store
        .list_deliveries(
            tenant,
            &DeliveryQuery {
                destination_id: Some(destination.id),
                limit: Some(10_000),
                ..DeliveryQuery::default()
            },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.inbox_event_id)
        .collect();
    for ((name, path, _), id) in events.iter().zip(&ids) {
        assert!(
            queued.contains(id),
            "{name} with {path} drifted was not forwarded"
        );
    }

    // A drifted user's row keeps what Clerk sent, whole.
    let users = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .all(&sea_orm::Database::connect(db.url()).await.unwrap())
        .await
        .unwrap();
    assert!(!users.is_empty());
    let warned = ids
        .iter()
        .zip(&events)
        .filter(|(_, (name, ..))| name.starts_with("user."));
    let mut with_warnings = 0;
    for (id, _) in warned {
        let event = store.find_inbox_event(tenant, *id).await.unwrap().unwrap();
        with_warnings += usize::from(!event.decode_warnings().is_empty());
    }
    assert!(with_warnings > 0, "warnings are stored with the events");

    // Replayed, an event is decoded afresh: warnings a former decoder stored do not outlive it.
    let mut clean = None;
    for id in &ids {
        let event = store.find_inbox_event(tenant, *id).await.unwrap().unwrap();
        if event.status == InboxStatus::Done && event.decode_warnings().is_empty() {
            clean = Some(*id);
            break;
        }
    }
    let clean = clean.expect("some drift is of a type the field takes");
    let db_conn = sea_orm::Database::connect(db.url()).await.unwrap();
    inbox_event::Entity::update_many()
        .col_expr(
            inbox_event::Column::Warnings,
            Expr::value(r#"[{"path":"data.stale","message":"from a former decoder"}]"#),
        )
        .filter(inbox_event::Column::Id.eq(clean))
        .exec(&db_conn)
        .await
        .unwrap();
    let before = store
        .find_inbox_event(tenant, clean)
        .await
        .unwrap()
        .unwrap();
    assert!(
        before
            .decode_warnings()
            .iter()
            .any(|w| w.path == "data.stale")
    );
    assert_eq!(
        store.replay_inbox_events(tenant, &[clean]).await.unwrap(),
        1
    );
    while worker.run_batch().await.unwrap().claimed > 0 {}
    let after = store
        .find_inbox_event(tenant, clean)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, InboxStatus::Done);
    assert!(
        after
            .decode_warnings()
            .iter()
            .all(|w| w.path != "data.stale"),
        "{:?}",
        after.decode_warnings()
    );
    store.close().await;
}
