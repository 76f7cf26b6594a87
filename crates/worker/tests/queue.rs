//! Workers on one queue: nothing lost, nothing stuck, every event applied once in effect; a worker
//! that dies holding a batch loses it to another once its lease runs out.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use std::sync::Arc;
use std::time::Duration;

use hookgate_events::{ClerkEvent, Envelope};
use hookgate_store::entities::sync::user;
use hookgate_store::{DatabaseOptions, InboxStatus, NewInboxEvent, Outcome, Prepared, Store, Uuid};
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use hookgate_worker::{Backoff, BatchReport, Worker, WorkerSettings};
use sea_orm::{ColumnTrait as _, ConnectionTrait as _, EntityTrait as _, QueryFilter as _};
use serde_json::json;
use tokio::sync::{Notify, watch};

on_both_backends!(
    two_workers_share_a_queue_under_load,
    a_worker_whose_lease_ran_out_changes_nothing,
    a_dead_workers_batch_is_taken_over_after_its_lease,
    the_backlog_counts_what_waits
);

const USERS: usize = 40;
const UPDATES: usize = 10;

fn settings(lease: Duration) -> WorkerSettings {
    WorkerSettings {
        batch_size: 25,
        lease,
        poll_interval: Duration::from_millis(20),
        backoff: Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            max_attempts: 3,
        },
    }
}

async fn store(db: &TestDb) -> Store {
    connect(db.url()).await
}

async fn connect(url: String) -> Store {
    let store = Store::connect(&DatabaseOptions {
        url,
        max_connections: 8,
        connect_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(10),
        sqlite_busy_timeout: Duration::from_secs(10),
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store
}

/// `users` users, each created then updated `UPDATES` times, stored newest first.
async fn fill(store: &Store, tenant: Uuid, users: usize) -> usize {
    let mut n = 0;
    for version in (0..=UPDATES).rev() {
        for u in 0..users {
            let kind = if version == 0 { "created" } else { "updated" };
            let v = 1_732_890_000_000_i64 + version as i64;
            let body = json!({
                "data": {"id": format!("user_{u}"), "first_name": format!("v{version}"), "updated_at": v},
                "object": "event", "type": format!("user.{kind}"), "timestamp": v,
            });
            let event = NewInboxEvent {
                svix_id: format!("msg_{u}_{version}"),
                event_type: Some(format!("user.{kind}")),
                instance_id: None,
                event_timestamp_ms: Some(v),
                body: serde_json::to_vec(&body).unwrap(),
                invalid: None,
                trace_parent: None,
            };
            store.insert_inbox_event(tenant, event).await.unwrap();
            n += 1;
        }
    }
    n
}

/// Every user row holds the newest version, and every event is done.
async fn assert_applied_once_in_effect(
    store: &Store,
    db: &TestDb,
    tenant: Uuid,
    events: usize,
    users: usize,
) {
    assert_eq!(
        store.count_by_status(tenant).await.unwrap(),
        vec![(InboxStatus::Done, events as u64)]
    );
    let read = sea_orm::Database::connect(db.url()).await.unwrap();
    let rows = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .all(&read)
        .await
        .unwrap();
    assert_eq!(rows.len(), users);
    for row in rows {
        assert_eq!(
            row.first_name.as_deref(),
            Some(format!("v{UPDATES}").as_str()),
            "{}",
            row.clerk_id
        );
    }
    read.close().await.unwrap();
}

/// Runs a worker on a runtime and a pool of its own (as another process would) until the queue
/// is empty. (A pool shared across runtimes would keep connections whose runtime has ended.)
fn spawn_worker(url: String, settings: WorkerSettings) -> std::thread::JoinHandle<BatchReport> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = connect(url).await;
            let worker = Worker::new(store.clone(), settings, Arc::new(Notify::new()));
            let mut total = BatchReport::default();
            let mut idle = 0;
            while idle < 10 {
                let report = worker.run_batch().await.unwrap();
                if report.claimed == 0 {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                } else {
                    idle = 0;
                }
                total.claimed += report.claimed;
                total.done += report.done;
                total.retried += report.retried;
                total.dead += report.dead;
                total.lease_lost += report.lease_lost;
            }
            store.close().await;
            total
        })
    })
}

async fn two_workers_share_a_queue_under_load(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = store(&db).await;
    let tenant = common::tenant(&store).await;
    let events = fill(&store, tenant, USERS).await;

    let a = spawn_worker(db.url(), settings(Duration::from_secs(30)));
    let b = spawn_worker(db.url(), settings(Duration::from_secs(30)));
    let (a, b) = (a.join().unwrap(), b.join().unwrap());

    assert_eq!(
        a.done + b.done,
        events,
        "every event finished exactly once: {a:?} {b:?}"
    );
    assert_eq!(
        a.claimed + b.claimed,
        events,
        "no event claimed twice: {a:?} {b:?}"
    );
    assert_eq!(
        (
            a.retried + b.retried,
            a.dead + b.dead,
            a.lease_lost + b.lease_lost
        ),
        (0, 0, 0)
    );
    if backend == Backend::Postgres {
        assert!(
            a.done > 0 && b.done > 0,
            "both workers took part: {a:?} {b:?}"
        );
    }
    assert_applied_once_in_effect(&store, &db, tenant, events, USERS).await;
    store.close().await;
}

async fn a_dead_workers_batch_is_taken_over_after_its_lease(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = store(&db).await;
    let tenant = common::tenant(&store).await;
    let users = 5;
    let events = fill(&store, tenant, users).await;

    // A worker claims a batch and dies before applying it. The lease outlasts the survivor's
    // first pass over the rest of the queue.
    let lease = Duration::from_secs(5);
    let claimed_at = tokio::time::Instant::now();
    let held = store
        .claim_due_events("crashed-worker", 25, lease)
        .await
        .unwrap();
    assert_eq!(held.len(), 25);

    let survivor = Worker::new(store.clone(), settings(lease), Arc::new(Notify::new()));
    let mut first = BatchReport::default();
    while let Ok(report) = survivor.run_batch().await {
        if report.claimed == 0 {
            break;
        }
        first.done += report.done;
    }
    assert_eq!(
        first.done,
        events - held.len(),
        "the leased batch waits for its lease"
    );

    assert!(
        claimed_at.elapsed() < lease,
        "the first pass must end inside the lease to mean anything"
    );
    tokio::time::sleep_until(claimed_at + lease).await;
    let (stop_tx, stop) = watch::channel(false);
    let running = {
        let survivor = survivor.clone();
        tokio::spawn(async move { survivor.run(stop).await })
    };
    let drained = async {
        loop {
            if store.count_by_status(tenant).await.unwrap()
                == vec![(InboxStatus::Done, events as u64)]
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), drained)
        .await
        .expect("the batch is taken over");
    stop_tx.send(true).unwrap();
    running.await.unwrap();
    assert_applied_once_in_effect(&store, &db, tenant, events, users).await;
    store.close().await;
}

/// What the inbox gauges on `/metrics` are sampled from.
async fn the_backlog_counts_what_waits(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = store(&db).await;
    let empty = store.backlog().await.unwrap();
    assert_eq!((empty.pending, empty.failed, empty.dead), (0, 0, 0));
    assert_eq!(empty.oldest_waiting_received_at, None);

    let before = chrono::Utc::now();
    let tenant = common::tenant(&store).await;
    let events = fill(&store, tenant, 3).await as u64;
    let not_an_event = NewInboxEvent {
        svix_id: "msg_not_an_event".into(),
        event_type: None,
        instance_id: None,
        event_timestamp_ms: None,
        body: b"[]".to_vec(),
        invalid: Some("not a Clerk event".into()),
        trace_parent: None,
    };
    store
        .insert_inbox_event(tenant, not_an_event)
        .await
        .unwrap();
    let waiting = store.backlog().await.unwrap();
    assert_eq!(
        (waiting.pending, waiting.failed, waiting.dead),
        (events, 0, 1)
    );
    let oldest = waiting.oldest_waiting_received_at.expect("events wait");
    assert!(oldest >= before - chrono::Duration::seconds(1) && oldest <= chrono::Utc::now());

    spawn_worker(db.url(), settings(Duration::from_secs(30)))
        .join()
        .unwrap();
    let drained = store.backlog().await.unwrap();
    assert_eq!((drained.pending, drained.failed, drained.dead), (0, 0, 1));
    assert_eq!(drained.oldest_waiting_received_at, None);

    let pools = store.pool_usage();
    let expected: &[&str] = match backend {
        Backend::Sqlite => &["writer", "reader"],
        Backend::Postgres => &["main"],
    };
    assert_eq!(pools.iter().map(|p| p.pool).collect::<Vec<_>>(), expected);
    assert!(
        pools
            .iter()
            .all(|p| p.max >= 1 && p.in_use + p.idle <= p.max)
    );
    store.close().await;
}

/// A worker that stalls past its lease (a long GC pause, a frozen VM) finishes its batch after
/// another worker has taken the events over and applied them: the late batch must change
/// nothing, neither the rows nor the events' statuses, and must say so.
async fn a_worker_whose_lease_ran_out_changes_nothing(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = store(&db).await;
    let tenant = common::tenant(&store).await;
    let users = 5;
    let events = fill(&store, tenant, users).await;

    // The stalled worker claims everything with a lease that runs out at once...
    let stale = store
        .claim_due_events("stalled-worker", events as u64, Duration::from_millis(1))
        .await
        .unwrap();
    assert_eq!(stale.len(), events);
    tokio::time::sleep(Duration::from_millis(20)).await;

    // ...a live worker takes the events over and applies them...
    let live = Worker::new(
        store.clone(),
        settings(Duration::from_secs(30)),
        Arc::new(Notify::new()),
    );
    let mut done = 0;
    loop {
        let report = live.run_batch().await.unwrap();
        if report.claimed == 0 {
            break;
        }
        done += report.done;
    }
    assert_eq!(done, events);
    assert_applied_once_in_effect(&store, &db, tenant, events, users).await;

    // ...and then the stalled worker wakes up and applies what it claimed. Its events are made
    // newer than anything applied, so only the lease can keep them out of the rows (the version
    // guard alone would let them in).
    let batch: Vec<Prepared> = stale
        .into_iter()
        .map(|inbox| {
            let mut body: serde_json::Value = serde_json::from_slice(&inbox.body).unwrap();
            body["data"]["updated_at"] = json!(4_102_444_800_000_i64);
            body["data"]["first_name"] = json!("stale");
            let body = serde_json::to_vec(&body).unwrap();
            let envelope = Envelope::parse(&body).unwrap();
            let data = envelope.data.to_owned();
            let event = ClerkEvent::from_envelope(envelope).unwrap();
            Prepared {
                inbox,
                decoded: Ok((event, data)),
                span: tracing::Span::none(),
                forward_to: Vec::new(),
            }
        })
        .collect();
    // `process_batch` tries the one-transaction path first, finds the leases gone, then goes
    // event by event: both must leave nothing behind.
    let outcomes = store
        .process_batch(
            "stalled-worker",
            batch,
            &settings(Duration::from_secs(30)).backoff,
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), events);
    assert!(
        outcomes.iter().all(|(_, o)| *o == Outcome::LeaseLost),
        "{outcomes:?}"
    );
    assert_applied_once_in_effect(&store, &db, tenant, events, users).await;
    store.close().await;
}

/// A batch whose one-transaction commit fails is applied event by event at once, not left
/// leased until its lease runs out. PostgreSQL only: a deferred trigger makes the first commit
/// that touches `users` fail (a sequence counts, since it is not rolled back with the commit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_commit_falls_back_to_one_event_at_a_time() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let store = store(&db).await;
    let tenant = common::tenant(&store).await;
    let events = fill(&store, tenant, 3).await;
    let admin = sea_orm::Database::connect(db.url()).await.unwrap();
    admin
        .execute_unprepared(
            "CREATE SEQUENCE commits_seen;
             CREATE FUNCTION fail_first_commit() RETURNS trigger AS $$
             BEGIN
               IF nextval('commits_seen') = 1 THEN
                 RAISE EXCEPTION 'the first commit fails';
               END IF;
               RETURN NULL;
             END $$ LANGUAGE plpgsql;
             CREATE CONSTRAINT TRIGGER fail_first_commit AFTER INSERT OR UPDATE ON users
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_first_commit();",
        )
        .await
        .unwrap();
    let worker = Worker::new(
        store.clone(),
        WorkerSettings {
            batch_size: events as u64,
            ..settings(Duration::from_secs(3600))
        },
        Arc::new(Notify::new()),
    );
    let report = worker.run_batch().await.unwrap();
    assert_eq!(report.claimed, events);
    assert_eq!(report.done, events, "{report:?}");
    assert_applied_once_in_effect(&store, &db, tenant, events, 3).await;
    admin.close().await.unwrap();
    store.close().await;
}
