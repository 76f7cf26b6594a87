//! The leased work queue, once for every table that holds one (the inbox and the deliveries) and
//! on both backends: claiming due rows, a lease taken over after it runs out, a finish after the
//! lease was lost changing nothing, backoff, dead, replay, release and the backlog.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hookgate_store::entities::delivery;
use hookgate_store::queue::{Deliveries, Finish, Inbox, QueueTable, ReplaySelection, RetryPolicy};
use hookgate_store::{
    Attempt, DeliveryOutcome, DeliveryQuery, HealthPolicy, InsertOutcome, NewDestination,
    NewInboxEvent, QueueStatus, Store, Uuid,
};
use hookgate_testkit::{Backend, TestDb};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, DatabaseConnection, EntityTrait, QueryFilter as _,
    QuerySelect as _,
};

const LEASE: Duration = Duration::from_secs(30);
/// Long enough to run out while a test sleeps, short enough to keep the suite quick.
const SHORT_LEASE: Duration = Duration::from_millis(200);

/// A queue table the suite can fill: how to make `n` pending rows of one tenant.
trait Subject: QueueTable {
    async fn seed(store: &Store, db: &DatabaseConnection, tenant: Uuid, n: usize) -> Vec<Uuid>;
}

impl Subject for Inbox {
    async fn seed(store: &Store, _db: &DatabaseConnection, tenant: Uuid, n: usize) -> Vec<Uuid> {
        common::ensure_tenant(store, tenant).await;
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(inbox_event(store, tenant).await);
        }
        ids
    }
}

impl Subject for Deliveries {
    async fn seed(store: &Store, db: &DatabaseConnection, tenant: Uuid, n: usize) -> Vec<Uuid> {
        common::ensure_tenant(store, tenant).await;
        let destination = store
            .create_destination(
                tenant,
                NewDestination {
                    id: Uuid::now_v7(),
                    name: "sink".into(),
                    url: "http://127.0.0.1:9/".into(),
                    event_types: "*".into(),
                    ciphertext: vec![0; 16],
                    url_ciphertext: None,
                    max_per_sec: None,
                },
            )
            .await
            .unwrap();
        let mut ids = Vec::new();
        for _ in 0..n {
            let event = inbox_event(store, tenant).await;
            let id = Uuid::now_v7();
            let now = Utc::now();
            delivery::Entity::insert(delivery::ActiveModel {
                id: Set(id),
                tenant_id: Set(tenant),
                destination_id: Set(destination.id),
                inbox_event_id: Set(event),
                status: Set(QueueStatus::Pending),
                attempts: Set(0),
                next_attempt_at: Set(Some(now)),
                lease_owner: Set(None),
                lease_until: Set(None),
                last_error: Set(None),
                last_status: Set(None),
                created_at: Set(now),
                delivered_at: Set(None),
            })
            .exec_without_returning(db)
            .await
            .unwrap();
            ids.push(id);
        }
        ids
    }
}

async fn inbox_event(store: &Store, tenant: Uuid) -> Uuid {
    let outcome = store
        .insert_inbox_event(
            tenant,
            NewInboxEvent {
                svix_id: format!("msg_{}", Uuid::new_v4().simple()),
                event_type: Some("user.created".into()),
                instance_id: None,
                event_timestamp_ms: Some(1),
                body: br#"{"data":{"id":"user_1"},"object":"event","type":"user.created","timestamp":1}"#
                    .to_vec(),
                invalid: None,
                trace_parent: None,
            },
        )
        .await
        .unwrap();
    match outcome {
        InsertOutcome::Accepted(id) => id,
        other => panic!("each svix id is new: {other:?}"),
    }
}

/// A row's queue columns, read through the table description the queue itself uses.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    status: QueueStatus,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    lease_owner: Option<String>,
    last_error: Option<String>,
    finished_at: Option<DateTime<Utc>>,
}

type RowTuple = (
    QueueStatus,
    i32,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

async fn row<T: QueueTable>(db: &DatabaseConnection, id: Uuid) -> Row {
    let (status, attempts, next_attempt_at, lease_owner, last_error, finished_at): RowTuple =
        T::Entity::find()
            .select_only()
            .column(T::STATUS)
            .column(T::ATTEMPTS)
            .column(T::NEXT_ATTEMPT_AT)
            .column(T::LEASE_OWNER)
            .column(T::LAST_ERROR)
            .column(T::FINISHED_AT)
            .filter(T::ID.eq(id))
            .into_tuple()
            .one(db)
            .await
            .unwrap()
            .expect("the row exists");
    Row {
        status,
        attempts,
        next_attempt_at,
        lease_owner,
        last_error,
        finished_at,
    }
}

/// The ids of claimed rows, sorted, read through the table's id column.
async fn claim<T: QueueTable>(
    store: &Store,
    owner: &str,
    limit: u64,
    lease: Duration,
) -> Vec<Uuid> {
    let claimed = store.queue::<T>().claim(owner, limit, lease).await.unwrap();
    let mut ids: Vec<Uuid> = claimed
        .iter()
        .map(|model| {
            let value = sea_orm::ModelTrait::get(model, T::ID);
            value.unwrap::<Uuid>()
        })
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// Retries after a fixed delay, up to three attempts; then dead.
struct ThreeTries(chrono::Duration);

impl RetryPolicy for ThreeTries {
    fn next_attempt(&self, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        (attempts < 3).then(|| now + self.0)
    }
}

struct Fixture {
    _db: TestDb,
    store: Store,
    conn: DatabaseConnection,
    tenant: Uuid,
}

async fn fixture(backend: Backend) -> Option<Fixture> {
    let db = TestDb::create(backend).await?;
    let store = common::store(&db).await;
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let tenant = common::tenant(&store).await;
    Some(Fixture {
        _db: db,
        store,
        conn,
        tenant,
    })
}

async fn claims_due_rows_once<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let ids = T::seed(&f.store, &f.conn, f.tenant, 5).await;
    let first = claim::<T>(&f.store, "a", 3, LEASE).await;
    assert_eq!(first.len(), 3);
    let second = claim::<T>(&f.store, "b", 10, LEASE).await;
    assert_eq!(second.len(), 2, "only the rows nobody holds");
    assert_eq!(
        sorted([first.clone(), second.clone()].concat()),
        sorted(ids)
    );
    assert!(claim::<T>(&f.store, "c", 10, LEASE).await.is_empty());
    for id in &first {
        assert_eq!(
            row::<T>(&f.conn, *id).await.lease_owner.as_deref(),
            Some("a")
        );
    }
    for id in &second {
        let row = row::<T>(&f.conn, *id).await;
        assert_eq!(row.lease_owner.as_deref(), Some("b"));
        assert_eq!(
            row.status,
            QueueStatus::Pending,
            "a claim leases, it does not change status"
        );
    }
}

async fn an_expired_lease_is_taken_over<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let ids = T::seed(&f.store, &f.conn, f.tenant, 2).await;
    assert_eq!(
        claim::<T>(&f.store, "a", 10, SHORT_LEASE).await,
        sorted(ids.clone())
    );
    assert!(
        claim::<T>(&f.store, "b", 10, LEASE).await.is_empty(),
        "a live lease holds"
    );
    tokio::time::sleep(SHORT_LEASE * 2).await;
    assert_eq!(
        claim::<T>(&f.store, "b", 10, LEASE).await,
        sorted(ids.clone())
    );
    for id in ids {
        assert_eq!(
            row::<T>(&f.conn, id).await.lease_owner.as_deref(),
            Some("b")
        );
    }
}

async fn a_finish_after_the_lease_was_lost_changes_nothing<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let id = T::seed(&f.store, &f.conn, f.tenant, 1).await[0];
    claim::<T>(&f.store, "a", 1, SHORT_LEASE).await;
    tokio::time::sleep(SHORT_LEASE * 2).await;
    assert_eq!(claim::<T>(&f.store, "b", 1, LEASE).await, vec![id]);
    let before = row::<T>(&f.conn, id).await;
    let queue = f.store.queue::<T>();
    let done = Finish::Done { attempts: Some(1) };
    let dead = Finish::failed(1, "gave up".into(), None, Utc::now());
    assert!(!queue.finish("a", id, &done).await.unwrap());
    assert!(!queue.finish("a", id, &dead).await.unwrap());
    assert_eq!(
        row::<T>(&f.conn, id).await,
        before,
        "the stale owner changed nothing"
    );
    assert!(queue.finish("b", id, &done).await.unwrap());
    let after = row::<T>(&f.conn, id).await;
    assert_eq!(after.status, QueueStatus::Done);
    assert_eq!(after.attempts, 1);
    assert_eq!(after.lease_owner, None);
    assert!(after.finished_at.is_some());
}

async fn failures_back_off_then_die<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let id = T::seed(&f.store, &f.conn, f.tenant, 1).await[0];
    let queue = f.store.queue::<T>();
    let policy = ThreeTries(chrono::Duration::milliseconds(300));
    for attempt in 1..=3 {
        assert_eq!(
            claim::<T>(&f.store, "w", 1, LEASE).await,
            vec![id],
            "attempt {attempt}"
        );
        let now = Utc::now();
        let failed = Finish::failed(attempt, format!("boom {attempt}"), Some(&policy), now);
        assert!(queue.finish("w", id, &failed).await.unwrap());
        let row = row::<T>(&f.conn, id).await;
        assert_eq!(row.attempts, attempt);
        assert_eq!(
            row.last_error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
        assert_eq!(row.lease_owner, None);
        if attempt < 3 {
            assert_eq!(row.status, QueueStatus::Failed);
            let due = row.next_attempt_at.expect("a retry is due later");
            assert!(due > now, "backoff puts the retry in the future");
            assert!(
                claim::<T>(&f.store, "w", 1, LEASE).await.is_empty(),
                "not claimable before it is due"
            );
            tokio::time::sleep((due - Utc::now()).to_std().unwrap_or_default()).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            assert_eq!(row.status, QueueStatus::Dead);
            assert_eq!(row.next_attempt_at, None);
            assert_eq!(
                row.finished_at.is_some(),
                T::DEAD_IS_FINISHED,
                "dead finishes the row only where the table says so"
            );
        }
    }
    assert!(
        claim::<T>(&f.store, "w", 1, LEASE).await.is_empty(),
        "dead is never claimed"
    );
}

async fn replay_puts_rows_back_unless_held<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let ids = T::seed(&f.store, &f.conn, f.tenant, 3).await;
    let other_tenant = Uuid::now_v7();
    let foreign = T::seed(&f.store, &f.conn, other_tenant, 1).await[0];
    let queue = f.store.queue::<T>();
    claim::<T>(&f.store, "w", 10, LEASE).await;
    // Two rows die; the third stays held by a live lease.
    for id in &ids[..2] {
        let dead = Finish::failed(1, "dead".into(), None, Utc::now());
        assert!(queue.finish("w", *id, &dead).await.unwrap());
    }
    let dead = Finish::failed(1, "dead".into(), None, Utc::now());
    assert!(queue.finish("w", foreign, &dead).await.unwrap());
    let everything = [ids.clone(), vec![foreign]].concat();
    let selection = ReplaySelection {
        ids: Some(&everything),
        statuses: &[],
    };
    assert_eq!(queue.replay(f.tenant, selection).await.unwrap(), 2);
    for id in &ids[..2] {
        let row = row::<T>(&f.conn, *id).await;
        assert_eq!(row.status, QueueStatus::Pending);
        assert_eq!(row.attempts, 0);
        assert_eq!(row.finished_at, None);
        assert!(row.next_attempt_at.is_some_and(|at| at <= Utc::now()));
    }
    assert_eq!(
        row::<T>(&f.conn, ids[2]).await.lease_owner.as_deref(),
        Some("w")
    );
    assert_eq!(
        row::<T>(&f.conn, foreign).await.status,
        QueueStatus::Dead,
        "another tenant's"
    );
    assert_eq!(
        claim::<T>(&f.store, "x", 10, LEASE).await,
        sorted(ids[..2].to_vec())
    );

    // By status, without ids: only the dead one of the tenant comes back.
    let dead = Finish::failed(1, "dead".into(), None, Utc::now());
    assert!(queue.finish("x", ids[0], &dead).await.unwrap());
    assert!(
        queue
            .finish("x", ids[1], &Finish::Done { attempts: Some(1) })
            .await
            .unwrap()
    );
    let selection = ReplaySelection {
        ids: None,
        statuses: &[QueueStatus::Dead],
    };
    assert_eq!(queue.replay(f.tenant, selection).await.unwrap(), 1);
    assert_eq!(row::<T>(&f.conn, ids[0]).await.status, QueueStatus::Pending);
    assert_eq!(row::<T>(&f.conn, ids[1]).await.status, QueueStatus::Done);
}

async fn released_rows_are_claimable_again<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    T::seed(&f.store, &f.conn, f.tenant, 4).await;
    let queue = f.store.queue::<T>();
    let mine = claim::<T>(&f.store, "a", 3, LEASE).await;
    let theirs = claim::<T>(&f.store, "c", 3, LEASE).await;
    assert_eq!(theirs.len(), 1);
    let done = Finish::Done { attempts: Some(1) };
    assert!(queue.finish("a", mine[0], &done).await.unwrap());
    assert_eq!(
        queue.release("a").await.unwrap(),
        2,
        "a's rows still waiting"
    );
    assert_eq!(row::<T>(&f.conn, mine[0]).await.status, QueueStatus::Done);
    assert_eq!(
        row::<T>(&f.conn, theirs[0]).await.lease_owner.as_deref(),
        Some("c")
    );
    assert_eq!(
        claim::<T>(&f.store, "b", 10, LEASE).await,
        mine[1..].to_vec()
    );
}

async fn the_backlog_counts_what_waits<T: Subject>(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let queue = f.store.queue::<T>();
    assert_eq!(queue.backlog(None).await.unwrap(), Default::default());
    let ids = T::seed(&f.store, &f.conn, f.tenant, 4).await;
    T::seed(&f.store, &f.conn, Uuid::now_v7(), 1).await;
    claim::<T>(&f.store, "w", 10, LEASE).await;
    let policy = ThreeTries(chrono::Duration::hours(1));
    let now = Utc::now();
    queue
        .finish("w", ids[0], &Finish::Done { attempts: Some(1) })
        .await
        .unwrap();
    queue
        .finish(
            "w",
            ids[1],
            &Finish::failed(1, "x".into(), Some(&policy), now),
        )
        .await
        .unwrap();
    queue
        .finish("w", ids[2], &Finish::failed(1, "x".into(), None, now))
        .await
        .unwrap();
    queue.release("w").await.unwrap();
    let all = queue.backlog(None).await.unwrap();
    assert_eq!((all.pending, all.failed, all.dead), (2, 1, 1));
    let mine = queue.backlog(Some(f.tenant)).await.unwrap();
    assert_eq!((mine.pending, mine.failed, mine.dead), (1, 1, 1));
    assert!(mine.oldest_waiting_received_at.is_some());
    assert_eq!(
        queue
            .counts(Some(f.tenant), &[])
            .await
            .unwrap()
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
        [
            (QueueStatus::Done, 1),
            (QueueStatus::Failed, 1),
            (QueueStatus::Dead, 1),
            (QueueStatus::Pending, 1)
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        queue.counts(None, &[QueueStatus::Pending]).await.unwrap(),
        vec![(QueueStatus::Pending, 2)]
    );
}

/// Runs every scenario against one table, on both backends.
macro_rules! queue_suite {
    ($module:ident, $table:ty) => {
        mod $module {
            use super::*;

            async fn claims_due_rows_once(backend: Backend) {
                super::claims_due_rows_once::<$table>(backend).await;
            }
            async fn an_expired_lease_is_taken_over(backend: Backend) {
                super::an_expired_lease_is_taken_over::<$table>(backend).await;
            }
            async fn a_finish_after_the_lease_was_lost_changes_nothing(backend: Backend) {
                super::a_finish_after_the_lease_was_lost_changes_nothing::<$table>(backend).await;
            }
            async fn failures_back_off_then_die(backend: Backend) {
                super::failures_back_off_then_die::<$table>(backend).await;
            }
            async fn replay_puts_rows_back_unless_held(backend: Backend) {
                super::replay_puts_rows_back_unless_held::<$table>(backend).await;
            }
            async fn released_rows_are_claimable_again(backend: Backend) {
                super::released_rows_are_claimable_again::<$table>(backend).await;
            }
            async fn the_backlog_counts_what_waits(backend: Backend) {
                super::the_backlog_counts_what_waits::<$table>(backend).await;
            }

            hookgate_testkit::on_both_backends!(
                claims_due_rows_once,
                an_expired_lease_is_taken_over,
                a_finish_after_the_lease_was_lost_changes_nothing,
                failures_back_off_then_die,
                replay_puts_rows_back_unless_held,
                released_rows_are_claimable_again,
                the_backlog_counts_what_waits
            );
        }
    };
}

queue_suite!(inbox, Inbox);
queue_suite!(deliveries, Deliveries);

/// Many forwarding attempts recorded in one transaction: delivered ones done with one more
/// attempt and their status, a failure retried, one whose lease another forwarder took over
/// left as that forwarder has it.
async fn attempts_are_recorded_together(backend: Backend) {
    let Some(f) = fixture(backend).await else {
        return;
    };
    let ids = Deliveries::seed(&f.store, &f.conn, f.tenant, 5).await;
    let claimed = f.store.claim_due_deliveries("a", 5, LEASE).await.unwrap();
    let mut jobs: Vec<_> = claimed.into_iter().map(|job| job.delivery).collect();
    jobs.sort_by_key(|d| d.id);
    assert_eq!(jobs.iter().map(|d| d.id).collect::<Vec<_>>(), sorted(ids));
    // Another forwarder took the last one over (`a`'s lease ran out meanwhile).
    let lost = jobs[4].id;
    let taken = delivery::Entity::update_many()
        .col_expr(
            delivery::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value("b"),
        )
        .filter(delivery::Column::Id.eq(lost))
        .exec(&f.conn)
        .await
        .unwrap();
    assert_eq!(taken.rows_affected, 1);
    let attempts = vec![
        (jobs[0].clone(), Attempt::Delivered { status: 200 }),
        (jobs[1].clone(), Attempt::Delivered { status: 204 }),
        (jobs[2].clone(), Attempt::Delivered { status: 0 }),
        (
            jobs[3].clone(),
            Attempt::Failed {
                status: Some(500),
                error: "the destination answered 500".into(),
                retry_after: None,
            },
        ),
        (jobs[4].clone(), Attempt::Delivered { status: 200 }),
    ];
    let policy = ThreeTries(chrono::Duration::seconds(60));
    let health = HealthPolicy {
        circuit_after: 10,
        probe_base: Duration::from_secs(30),
        probe_cap: Duration::from_secs(3600),
        disable_after: Duration::from_secs(86_400),
    };
    let recorded = f
        .store
        .finish_deliveries("a", attempts, &policy, &health)
        .await
        .unwrap();
    let outcomes = recorded.outcomes;
    assert_eq!(recorded.events, []);
    assert_eq!(outcomes[..3], [DeliveryOutcome::Delivered; 3]);
    assert!(matches!(outcomes[3], DeliveryOutcome::Retry(_)));
    assert_eq!(outcomes[4], DeliveryOutcome::LeaseLost);
    let listed = f
        .store
        .list_deliveries(f.tenant, &DeliveryQuery::default())
        .await
        .unwrap();
    let by_id = |id: Uuid| listed.iter().find(|d| d.id == id).unwrap().clone();
    for (job, status) in [
        (&jobs[0], Some(200)),
        (&jobs[1], Some(204)),
        (&jobs[2], None),
    ] {
        let row = by_id(job.id);
        assert_eq!(row.status, QueueStatus::Done);
        assert_eq!(row.attempts, job.attempts + 1);
        assert_eq!(row.last_status, status);
        assert_eq!(row.lease_owner, None);
        assert!(row.delivered_at.is_some());
    }
    let retried = by_id(jobs[3].id);
    assert_eq!(retried.status, QueueStatus::Failed);
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.last_status, Some(500));
    let untouched = by_id(lost);
    assert_eq!(untouched.status, QueueStatus::Pending);
    assert_eq!(untouched.attempts, 0);
    assert_eq!(untouched.lease_owner.as_deref(), Some("b"));
}

hookgate_testkit::on_both_backends!(
    attempts_are_recorded_together,
    concurrent_claims_share_a_destination_s_gate
);

/// Claims racing for one destination's deliveries: its rate limit books every send once, spaced
/// (no two claimers read the same free time), and an open circuit lets one probe out in all.
async fn concurrent_claims_share_a_destination_s_gate(backend: Backend) {
    use hookgate_store::DestinationPatch;
    use hookgate_store::entities::destination;
    let Some(f) = fixture(backend).await else {
        return;
    };
    Deliveries::seed(&f.store, &f.conn, f.tenant, 40).await;
    let id = f.store.list_destinations(f.tenant).await.unwrap()[0].id;
    let patch = DestinationPatch {
        max_per_sec: Some(Some(20)),
        ..DestinationPatch::default()
    };
    f.store
        .update_destination(f.tenant, id, patch)
        .await
        .unwrap();
    let race = |n: usize| {
        let store = f.store.clone();
        async move {
            let claims = (0..n).map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .claim_due_deliveries(&format!("w{i}"), 8, LEASE)
                        .await
                        .unwrap()
                })
            });
            let mut jobs = Vec::new();
            for claim in claims {
                jobs.extend(claim.await.unwrap());
            }
            jobs
        }
    };
    let booked = race(6).await;
    assert!(!booked.is_empty());
    let mut slots: Vec<_> = booked.iter().map(|job| job.send_at.unwrap()).collect();
    slots.sort();
    for pair in slots.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::milliseconds(49),
            "two sends booked {} ms apart at 20/s",
            (pair[1] - pair[0]).num_milliseconds()
        );
    }

    // Its circuit open and due for a probe: one delivery goes out over every claimer.
    destination::Entity::update_many()
        .col_expr(
            destination::Column::MaxPerSec,
            sea_orm::sea_query::Expr::value(Option::<i32>::None),
        )
        .col_expr(
            destination::Column::CircuitOpenedAt,
            sea_orm::sea_query::Expr::value(Some(Utc::now() - chrono::Duration::minutes(1))),
        )
        .col_expr(
            destination::Column::NextSendAt,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(destination::Column::Id.eq(id))
        .exec(&f.conn)
        .await
        .unwrap();
    // Every delivery due again and free.
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            delivery::Column::LeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::Column::NextAttemptAt,
            sea_orm::sea_query::Expr::value(Some(Utc::now() - chrono::Duration::seconds(1))),
        )
        .exec(&f.conn)
        .await
        .unwrap();
    let probes = race(6).await;
    assert_eq!(probes.len(), 1, "one probe, however many forwarders claim");
}
