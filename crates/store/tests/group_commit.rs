//! Group commit: concurrent deliveries are stored once each, duplicates (even within one batch)
//! are recognised, a full queue refuses at once, and stopping stores what is queued.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use hookgate_store::{
    GroupCommitOptions, InboxWriter, InsertOutcome, NewInboxEvent, Store, SubmitError, Uuid,
};
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use sea_orm::ConnectionTrait as _;

on_both_backends!(
    concurrent_deliveries_are_stored_once_each,
    stopping_stores_what_is_queued
);

async fn store(db: &TestDb) -> Store {
    common::store(db).await
}

fn event(svix_id: &str) -> NewInboxEvent {
    NewInboxEvent {
        svix_id: svix_id.to_owned(),
        event_type: Some("user.created".into()),
        instance_id: None,
        event_timestamp_ms: Some(1),
        body: format!(r#"{{"svix":"{svix_id}"}}"#).into_bytes(),
        invalid: None,
        trace_parent: None,
    }
}

async fn concurrent_deliveries_are_stored_once_each(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = store(&db).await;
    let (writer, task) = InboxWriter::start(
        store.clone(),
        GroupCommitOptions {
            max_batch: 16,
            queue_capacity: 1024,
        },
    );
    let tenant = common::tenant(&store).await;
    // 100 deliveries, each sent twice at the same time (as Svix redelivers after a timeout), so
    // most pairs land in one batch.
    let mut sends = Vec::new();
    for n in 0..100 {
        for _ in 0..2 {
            let writer = writer.clone();
            sends.push(tokio::spawn(async move {
                let svix_id = format!("msg_{n}");
                let outcome = writer.insert(tenant, event(&svix_id)).await.unwrap();
                (svix_id, outcome)
            }));
        }
    }
    let mut by_id: HashMap<String, Vec<InsertOutcome>> = HashMap::new();
    for send in sends {
        let (svix_id, outcome) = send.await.unwrap();
        by_id.entry(svix_id).or_default().push(outcome);
    }
    for (svix_id, outcomes) in &by_id {
        let accepted: Vec<Uuid> = outcomes
            .iter()
            .filter_map(|o| match o {
                InsertOutcome::Accepted(id) => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(accepted.len(), 1, "{svix_id}: {outcomes:?}");
        assert!(
            outcomes.iter().all(|o| match o {
                InsertOutcome::Accepted(id) | InsertOutcome::Duplicate(id) => *id == accepted[0],
                _ => false,
            }),
            "{svix_id}: the duplicate names the stored row: {outcomes:?}"
        );
    }
    assert_eq!(store.count_inbox_events(tenant).await.unwrap(), 100);
    task.stop().await;
    assert!(matches!(
        writer.insert(tenant, event("msg_late")).await,
        Err(SubmitError::Stopped)
    ));
    store.close().await;
}

async fn stopping_stores_what_is_queued(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = store(&db).await;
    let (writer, task) = InboxWriter::start(
        store.clone(),
        GroupCommitOptions {
            max_batch: 4,
            queue_capacity: 1024,
        },
    );
    let tenant = common::tenant(&store).await;
    let sends: Vec<_> = (0..50)
        .map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.insert(tenant, event(&format!("msg_{n}"))).await })
        })
        .collect();
    // Let every send reach the queue, then stop while batches are still being written.
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    task.stop().await;
    let mut stored = 0;
    for send in sends {
        match send.await.unwrap() {
            Ok(InsertOutcome::Accepted(_)) => stored += 1,
            // Sent after the stop: refused, not lost.
            Err(SubmitError::Stopped) => {}
            // Every delivery the queue took is written and answered before the writer ends.
            Err(SubmitError::Dropped) => panic!("a queued delivery was dropped unanswered"),
            other => panic!("{other:?}"),
        }
    }
    assert!(stored > 0);
    assert_eq!(store.count_inbox_events(tenant).await.unwrap(), stored);
    store.close().await;
}

/// While the database is locked by someone else the writer waits, the queue fills, and the next
/// delivery is refused at once rather than held in memory.
#[tokio::test]
async fn a_full_queue_refuses_at_once() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let store = store(&db).await;
    let tenant = common::tenant(&store).await;
    // One connection, so BEGIN and COMMIT below run on the same one.
    let mut options = sea_orm::ConnectOptions::new(db.url());
    options.max_connections(1).min_connections(1);
    let locker = sea_orm::Database::connect(options).await.unwrap();
    locker.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();

    let (writer, task) = InboxWriter::start(
        store.clone(),
        GroupCommitOptions {
            max_batch: 1,
            queue_capacity: 2,
        },
    );
    let first = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.insert(tenant, event("msg_0")).await })
    };
    // The writer takes the first delivery and blocks on the lock; two more fill the queue.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let queued: Vec<_> = (1..=2)
        .map(|n| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.insert(tenant, event(&format!("msg_{n}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = tokio::time::timeout(
        Duration::from_millis(500),
        writer.insert(tenant, event("msg_3")),
    )
    .await
    .expect("a full queue answers at once");
    assert!(
        matches!(refused, Err(SubmitError::QueueFull)),
        "{refused:?}"
    );

    locker.execute_unprepared("COMMIT").await.unwrap();
    assert!(matches!(
        first.await.unwrap(),
        Ok(InsertOutcome::Accepted(_))
    ));
    for send in queued {
        assert!(matches!(
            send.await.unwrap(),
            Ok(InsertOutcome::Accepted(_))
        ));
    }
    assert_eq!(store.count_inbox_events(tenant).await.unwrap(), 3);
    task.stop().await;
    locker.close().await.unwrap();
    store.close().await;
}
