//! Backfill and reconcile jobs in the store, on both backends: one open job per tenant, cancel,
//! pages written with their checkpoint only while the job is held, the guarded upsert shared with
//! webhooks (newer wins, tombstones stay), and reconcile's tombstones sparing rows written since
//! the listing began.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use std::time::Duration;

use hookgate_events::{ClerkEvent, EntityKind};
use hookgate_store::{
    Cancelled, JobAlreadyOpen, JobEnd, JobProgress, JobState, JobType, KindProgress, ListedPage,
    PageCounts, SealedKind, Source, Store, Unlisted, Uuid,
};
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use serde_json::json;
use serde_json::value::RawValue;

on_both_backends!(
    one_open_job_per_tenant,
    a_cancelled_job_writes_nothing_more,
    pages_use_the_webhooks_guarded_upsert,
    reconcile_tombstones_only_what_the_listing_could_see,
    deleting_a_tenant_removes_its_jobs_and_key,
    reconcile_is_due_for_keyed_tenants_without_a_recent_one,
    a_reconcile_that_repaired_drift_notifies,
);

const LEASE: Duration = Duration::from_secs(30);

fn user(id: &str, updated_at: i64, first_name: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(&json!({
        "id": id,
        "object": "user",
        "first_name": first_name,
        "email_addresses": [],
        "created_at": 1,
        "updated_at": updated_at,
    }))
    .unwrap()
}

fn progress() -> JobProgress {
    JobProgress {
        kinds: vec![KindProgress::new("users")],
    }
}

async fn write(
    store: &Store,
    owner: &str,
    job: Uuid,
    tenant: Uuid,
    objects: &[Box<RawValue>],
) -> Option<PageCounts> {
    let events: Vec<(ClerkEvent, &RawValue)> = objects
        .iter()
        .map(|raw| {
            (
                ClerkEvent::from_listed(EntityKind::User, raw).unwrap(),
                &**raw,
            )
        })
        .collect();
    store
        .write_listed_page(ListedPage {
            owner,
            job_id: job,
            tenant_id: tenant,
            kind: EntityKind::User,
            objects: &events,
            progress: &mut progress(),
            kind_index: 0,
            lease: LEASE,
        })
        .await
        .unwrap()
}

/// A webhook for a user: `user.updated` (or `user.deleted`) at `version`.
async fn webhook(
    store: &Store,
    tenant: Uuid,
    id: &str,
    version: i64,
    first_name: &str,
    delete: bool,
) {
    let body = if delete {
        json!({"data": {"id": id, "object": "user", "deleted": true}, "object": "event",
               "type": "user.deleted", "timestamp": version})
    } else {
        json!({"data": {"id": id, "object": "user", "first_name": first_name,
                        "email_addresses": [], "created_at": 1, "updated_at": version},
               "object": "event", "type": "user.updated", "timestamp": version})
    };
    let event = ClerkEvent::decode(&serde_json::to_vec(&body).unwrap()).unwrap();
    let svix_id = format!("msg_{id}_{version}");
    store
        .apply_event(
            tenant,
            Source {
                event_id: Uuid::now_v7(),
                svix_id: &svix_id,
            },
            &event,
            body["data"].clone(),
        )
        .await
        .unwrap();
}

async fn row(store: &Store, tenant: Uuid, id: &str) -> Option<(Option<String>, bool, i64)> {
    store
        .find_synced_user(tenant, id)
        .await
        .unwrap()
        .map(|u| (u.first_name, u.deleted_at.is_some(), u.version))
}

fn unlisted_of<'a>(
    job: Uuid,
    tenant: Uuid,
    ids: &'a [String],
    not_after: i64,
    progress: &'a mut JobProgress,
) -> Unlisted<'a> {
    Unlisted {
        owner: "w1",
        job_id: job,
        tenant_id: tenant,
        kind: EntityKind::User,
        ids,
        not_after,
        progress,
        kind_index: 0,
        lease: LEASE,
    }
}

async fn one_open_job_per_tenant(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let other = common::tenant(&store).await;
    let first = store
        .create_job(tenant, JobType::Backfill, &["users", "organizations"])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.state, JobState::Queued);
    assert!(first.started_at.is_none());
    assert_eq!(first.progress.kinds.len(), 2);
    let refused = store
        .create_job(tenant, JobType::Reconcile, &["users"])
        .await
        .unwrap();
    assert_eq!(refused, Err(JobAlreadyOpen { id: first.id }));
    // Another tenant is not held up.
    store
        .create_job(other, JobType::Backfill, &["users"])
        .await
        .unwrap()
        .unwrap();
    // Once the first is over, the tenant may start another.
    let claimed = store.claim_jobs("w1", 10, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(
        store
            .finish_job("w1", first.id, 1, JobEnd::Done, &progress())
            .await
            .unwrap()
    );
    let done = store.find_job(tenant, first.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    let second = store
        .create_job(tenant, JobType::Reconcile, &["users"])
        .await
        .unwrap()
        .unwrap();
    let listed: Vec<Uuid> = store
        .list_jobs(tenant, 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(listed, vec![second.id, first.id], "newest first");
    // A job failed for good is over too.
    assert!(
        store
            .claim_job("w2", second.id, LEASE)
            .await
            .unwrap()
            .is_some()
    );
    let end = JobEnd::Failed {
        retry_at: None,
        error: "Clerk refused the key".into(),
    };
    assert!(
        store
            .finish_job("w2", second.id, 1, end, &progress())
            .await
            .unwrap()
    );
    let failed = store.find_job(tenant, second.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.error.as_deref(), Some("Clerk refused the key"));
    assert!(store.open_job(tenant).await.unwrap().is_none());
    store.close().await;
}

async fn a_cancelled_job_writes_nothing_more(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let job = store
        .create_job(tenant, JobType::Backfill, &["users"])
        .await
        .unwrap()
        .unwrap();
    let claimed = store.claim_job("w1", job.id, LEASE).await.unwrap().unwrap();
    assert_eq!(claimed.state, JobState::Running);
    // Held by w1: nobody else claims it.
    assert!(
        store
            .claim_job("w2", job.id, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.claim_jobs("w2", 10, LEASE).await.unwrap().is_empty());
    let counts = write(&store, "w1", job.id, tenant, &[user("user_a", 10, "A")]).await;
    assert_eq!(
        counts,
        Some(PageCounts {
            created: 1,
            ..PageCounts::default()
        })
    );
    // Only the holder writes.
    assert_eq!(
        write(&store, "w2", job.id, tenant, &[user("user_b", 10, "B")]).await,
        None
    );
    assert_eq!(row(&store, tenant, "user_b").await, None);

    let Some(Cancelled::Now(cancelled)) = store.cancel_job(tenant, job.id).await.unwrap() else {
        panic!("not cancelled")
    };
    assert_eq!(cancelled.state, JobState::Cancelled);
    assert_eq!(
        write(&store, "w1", job.id, tenant, &[user("user_c", 10, "C")]).await,
        None
    );
    assert_eq!(row(&store, tenant, "user_c").await, None, "rolled back");
    assert!(
        !store
            .checkpoint_job("w1", job.id, &progress(), LEASE)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_job("w1", job.id, 1, JobEnd::Done, &progress())
            .await
            .unwrap()
    );
    let after = store.find_job(tenant, job.id).await.unwrap().unwrap();
    assert_eq!(after.state, JobState::Cancelled);
    assert!(matches!(
        store.cancel_job(tenant, job.id).await.unwrap(),
        Some(Cancelled::AlreadyOver(_))
    ));
    // Another tenant cannot see or cancel it.
    let other = common::tenant(&store).await;
    assert!(store.cancel_job(other, job.id).await.unwrap().is_none());
    assert!(store.find_job(other, job.id).await.unwrap().is_none());
    store.close().await;
}

async fn pages_use_the_webhooks_guarded_upsert(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    // Webhooks came first: one newer than Clerk's listing, one older, one delete.
    webhook(&store, tenant, "user_newer", 200, "from webhook", false).await;
    webhook(&store, tenant, "user_older", 50, "from webhook", false).await;
    webhook(&store, tenant, "user_deleted", 300, "", true).await;
    let job = store
        .create_job(tenant, JobType::Backfill, &["users"])
        .await
        .unwrap()
        .unwrap();
    store.claim_job("w1", job.id, LEASE).await.unwrap().unwrap();
    let page = [
        user("user_newer", 100, "listed"),
        user("user_older", 100, "listed"),
        user("user_deleted", 100, "listed"),
        user("user_new", 100, "listed"),
    ];
    let counts = write(&store, "w1", job.id, tenant, &page).await.unwrap();
    assert_eq!(
        counts,
        PageCounts {
            created: 1,
            updated: 1,
            unchanged: 2
        }
    );
    assert_eq!(
        row(&store, tenant, "user_newer").await,
        Some((Some("from webhook".into()), false, 200))
    );
    assert_eq!(
        row(&store, tenant, "user_older").await,
        Some((Some("listed".into()), false, 100))
    );
    assert!(
        row(&store, tenant, "user_deleted").await.unwrap().1,
        "never revived"
    );
    assert_eq!(
        row(&store, tenant, "user_new").await,
        Some((Some("listed".into()), false, 100))
    );
    // The same page again changes nothing; a webhook of the same version keeps its content.
    let again = write(&store, "w1", job.id, tenant, &page).await.unwrap();
    assert_eq!(again.unchanged, 4);
    webhook(
        &store,
        tenant,
        "user_new",
        100,
        "same version, webhook",
        false,
    )
    .await;
    write(&store, "w1", job.id, tenant, &page).await.unwrap();
    assert_eq!(
        row(&store, tenant, "user_new").await.unwrap().0.as_deref(),
        Some("same version, webhook")
    );
    // A webhook whose envelope is stamped before the object's `updated_at` (a timestamp in
    // seconds, normalised, can be): a listing of the same version still leaves it alone.
    let version = 1_732_890_000_000_i64;
    let body = json!({"data": {"id": "user_tie", "object": "user", "first_name": "webhook",
                               "email_addresses": [], "created_at": 1, "updated_at": version},
                      "object": "event", "type": "user.updated", "timestamp": version - 1_000});
    let event = ClerkEvent::decode(&serde_json::to_vec(&body).unwrap()).unwrap();
    let source = Source {
        event_id: Uuid::now_v7(),
        svix_id: "msg_tie",
    };
    store
        .apply_event(tenant, source, &event, body["data"].clone())
        .await
        .unwrap();
    let tie = write(
        &store,
        "w1",
        job.id,
        tenant,
        &[user("user_tie", version, "listed")],
    )
    .await;
    assert_eq!(tie.unwrap().unchanged, 1);
    assert_eq!(
        row(&store, tenant, "user_tie").await.unwrap().0.as_deref(),
        Some("webhook")
    );
    // A page repeating an object (the overlap after a gap) writes its newest version once.
    let repeated = [
        user("user_twice", 160, "newer"),
        user("user_twice", 150, "older"),
    ];
    let counts = write(&store, "w1", job.id, tenant, &repeated)
        .await
        .unwrap();
    assert_eq!((counts.created, counts.unchanged), (1, 1));
    assert_eq!(
        row(&store, tenant, "user_twice").await,
        Some((Some("newer".into()), false, 160))
    );
    // The checkpoint went in with the page, with the page's counts and when the job started.
    let stored = store.find_job(tenant, job.id).await.unwrap().unwrap();
    assert!(stored.started_at.is_some());
    assert_eq!(stored.progress.kinds[0].unchanged, 1);
    assert_eq!(stored.progress.kinds[0].kind, "users");
    store.close().await;
}

async fn reconcile_tombstones_only_what_the_listing_could_see(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let other = common::tenant(&store).await;
    for (id, version) in [("user_gone", 10), ("user_kept", 10), ("user_recent", 500)] {
        webhook(&store, tenant, id, version, "x", false).await;
    }
    webhook(&store, other, "user_gone", 10, "x", false).await;
    let job = store
        .create_job(tenant, JobType::Reconcile, &["users"])
        .await
        .unwrap()
        .unwrap();
    store.claim_job("w1", job.id, LEASE).await.unwrap().unwrap();
    let started = 100;
    let mut live = store
        .live_ids(tenant, EntityKind::User, started)
        .await
        .unwrap();
    live.sort();
    assert_eq!(
        live,
        ["user_gone", "user_kept"],
        "rows newer than the listing are not candidates"
    );
    // The listing saw user_kept only; user_recent came by webhook after it began.
    let unlisted = vec!["user_gone".to_owned(), "user_recent".to_owned()];
    let mut counted = progress();
    let tombstoned = store
        .tombstone_unlisted(unlisted_of(
            job.id,
            tenant,
            &unlisted,
            started,
            &mut counted,
        ))
        .await
        .unwrap();
    assert_eq!(tombstoned, Some(1));
    // Counted, and the kind done, with the tombstones.
    assert_eq!(
        (counted.kinds[0].tombstoned, counted.kinds[0].done),
        (1, true)
    );
    let stored = store.find_job(tenant, job.id).await.unwrap().unwrap();
    assert_eq!(stored.progress.kinds[0].tombstoned, 1);
    assert!(stored.progress.kinds[0].done);
    assert!(row(&store, tenant, "user_gone").await.unwrap().1);
    assert!(!row(&store, tenant, "user_recent").await.unwrap().1);
    assert!(!row(&store, tenant, "user_kept").await.unwrap().1);
    assert!(
        !row(&store, other, "user_gone").await.unwrap().1,
        "another tenant's row"
    );
    // A later listing page does not revive it.
    write(
        &store,
        "w1",
        job.id,
        tenant,
        &[user("user_gone", 20, "back")],
    )
    .await;
    assert!(row(&store, tenant, "user_gone").await.unwrap().1);
    // Not held: nothing tombstoned.
    store.cancel_job(tenant, job.id).await.unwrap();
    let refused = store
        .tombstone_unlisted(unlisted_of(
            job.id,
            tenant,
            &["user_kept".into()],
            started,
            &mut progress(),
        ))
        .await
        .unwrap();
    assert_eq!(refused, None);
    assert!(!row(&store, tenant, "user_kept").await.unwrap().1);
    store.close().await;
}

async fn deleting_a_tenant_removes_its_jobs_and_key(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    assert!(store.clerk_key(tenant).await.unwrap().is_none());
    let key = store
        .set_clerk_key(tenant, vec![1; 40], false)
        .await
        .unwrap();
    assert!(!key.production);
    let replaced = store
        .set_clerk_key(tenant, vec![2; 40], true)
        .await
        .unwrap();
    assert!(replaced.production);
    assert_eq!(replaced.ciphertext, vec![2; 40]);
    assert!(!format!("{replaced:?}").contains("ciphertext"));
    store
        .set_notification_target(tenant, "https://ops.example.com/n".into(), vec![4; 40])
        .await
        .unwrap();
    store
        .notify(tenant, "event.dead", json!({"svix_id": "msg_1"}))
        .await
        .unwrap();
    // A rekey rewrites the Clerk key and the notification secret too, each sealed for the
    // tenant as its own kind.
    let resealed = store
        .reseal_secrets(|row, stored| {
            Ok::<_, ()>(match row.kind {
                SealedKind::ClerkKey | SealedKind::NotificationSecret => {
                    assert_eq!((row.tenant_id, row.row_id), (tenant, tenant));
                    let tag = if row.kind == SealedKind::ClerkKey {
                        9
                    } else {
                        8
                    };
                    vec![tag; 40]
                }
                _ => stored.to_vec(),
            })
        })
        .await
        .unwrap();
    assert!(resealed.is_ok());
    assert_eq!(
        store.clerk_key(tenant).await.unwrap().unwrap().ciphertext,
        vec![9; 40]
    );
    let target = store.notification_target(tenant).await.unwrap().unwrap();
    assert_eq!(target.ciphertext, vec![8; 40]);
    assert!(!format!("{target:?}").contains("ciphertext"));
    let job = store
        .create_job(tenant, JobType::Backfill, &["users"])
        .await
        .unwrap()
        .unwrap();
    store.delete_tenant_with_data(tenant).await.unwrap();
    assert!(store.clerk_key(tenant).await.unwrap().is_none());
    assert!(store.notification_target(tenant).await.unwrap().is_none());
    assert!(
        store
            .list_notifications(tenant, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.find_job(tenant, job.id).await.unwrap().is_none());
    let other = common::tenant(&store).await;
    store
        .set_clerk_key(other, vec![3; 40], false)
        .await
        .unwrap();
    assert!(store.clear_clerk_key(other).await.unwrap());
    assert!(!store.clear_clerk_key(other).await.unwrap());
    store.close().await;
}

async fn reconcile_is_due_for_keyed_tenants_without_a_recent_one(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let keyed = common::tenant(&store).await;
    let busy = common::tenant(&store).await;
    let _keyless = common::tenant(&store).await;
    store
        .set_clerk_key(keyed, vec![1; 40], false)
        .await
        .unwrap();
    store.set_clerk_key(busy, vec![1; 40], false).await.unwrap();
    store
        .create_job(busy, JobType::Backfill, &["users"])
        .await
        .unwrap()
        .unwrap();
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(store.reconcile_due(hour_ago).await.unwrap(), vec![keyed]);
    let job = store
        .create_job(keyed, JobType::Reconcile, &["users"])
        .await
        .unwrap()
        .unwrap();
    assert!(
        store.reconcile_due(hour_ago).await.unwrap().is_empty(),
        "open jobs wait"
    );
    store.claim_job("w", job.id, LEASE).await.unwrap().unwrap();
    store
        .finish_job("w", job.id, 1, JobEnd::Done, &progress())
        .await
        .unwrap();
    assert!(
        store.reconcile_due(hour_ago).await.unwrap().is_empty(),
        "reconciled within the hour"
    );
    let later = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(store.reconcile_due(later).await.unwrap(), vec![keyed]);
    store.close().await;
}

/// A reconcile that repaired rows queues a `reconcile.drift` notification, in the transaction
/// that finishes it; a backfill, and a reconcile that found nothing, queue none.
async fn a_reconcile_that_repaired_drift_notifies(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let repaired = JobProgress {
        kinds: vec![
            KindProgress {
                created: 2,
                tombstoned: 1,
                ..KindProgress::new("users")
            },
            KindProgress::new("organizations"),
        ],
    };
    for (job_type, progress) in [
        (JobType::Backfill, repaired.clone()),
        (JobType::Reconcile, progress()),
        (JobType::Reconcile, repaired.clone()),
    ] {
        let job = store
            .create_job(tenant, job_type, &["users", "organizations"])
            .await
            .unwrap()
            .unwrap();
        store.claim_job("w1", job.id, LEASE).await.unwrap().unwrap();
        assert!(
            store
                .finish_job("w1", job.id, 1, JobEnd::Done, &progress)
                .await
                .unwrap()
        );
    }
    let sent = store.list_notifications(tenant, 10).await.unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].event_type, "reconcile.drift");
    let payload: serde_json::Value = serde_json::from_str(&sent[0].payload).unwrap();
    assert_eq!(payload["type"], "reconcile.drift");
    assert_eq!(
        payload["data"]["kinds"],
        json!([{"kind": "users", "created": 2, "updated": 0, "tombstoned": 1}])
    );
    assert_eq!(payload["data"]["tenant_id"], tenant.to_string());
    store.close().await;
}
