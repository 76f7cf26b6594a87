//! Storing deliveries: a svix-id seen again with another body is a conflict that keeps the first
//! body, and nothing is stored for a tenant that is gone, even while it is being deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hookgate_store::{InsertOutcome, NewInboxEvent, Uuid};
use hookgate_testkit::{Backend, TestDb, on_both_backends};

on_both_backends!(
    bodies_are_kept_apart_and_go_with_their_events,
    a_known_svix_id_with_another_body_is_a_conflict,
    nothing_is_stored_for_a_deleted_tenant,
    a_batch_of_many_tenants_stores_each_that_exists,
    a_tenant_deleted_during_ingest_keeps_no_rows
);

fn event(svix_id: &str, body: &str) -> NewInboxEvent {
    NewInboxEvent {
        svix_id: svix_id.to_owned(),
        event_type: Some("user.created".into()),
        instance_id: None,
        event_timestamp_ms: Some(1),
        body: body.as_bytes().to_vec(),
        invalid: None,
        trace_parent: None,
    }
}

async fn body_rows(db: &TestDb) -> i64 {
    use sea_orm::ConnectionTrait as _;
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM inbox_bodies",
        ))
        .await
        .unwrap()
        .unwrap();
    let n = row.try_get::<i64>("", "n").unwrap();
    conn.close().await.unwrap();
    n
}

/// Bodies live in a table of their own: every inserted row gets its own body back (batches of
/// every statement size, with a duplicate in the batch), duplicates add none, and deleting the
/// events deletes their bodies.
async fn bodies_are_kept_apart_and_go_with_their_events(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let body = |n: usize| format!(r#"{{"n":{n}}}"#);
    let mut batch: Vec<_> = (0..86)
        .map(|n| (tenant, event(&format!("msg_{n}"), &body(n))))
        .collect();
    batch.push((tenant, event("msg_3", &body(3))));
    let outcomes = store.insert_inbox_events(batch).await.unwrap();
    assert!(matches!(outcomes[86], InsertOutcome::Duplicate(_)));
    for n in 0..86 {
        let stored = store
            .find_inbox_event_by_svix_id(tenant, &format!("msg_{n}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.body, body(n).into_bytes(), "msg_{n}");
    }
    assert_eq!(body_rows(&db).await, 86);
    store.delete_tenant_with_data(tenant).await.unwrap();
    assert_eq!(body_rows(&db).await, 0, "bodies go with their events");
}

async fn a_known_svix_id_with_another_body_is_a_conflict(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    let InsertOutcome::Accepted(id) = store
        .insert_inbox_event(tenant, event("msg_1", r#"{"v":1}"#))
        .await
        .unwrap()
    else {
        panic!("stored")
    };
    assert_eq!(
        store
            .insert_inbox_event(tenant, event("msg_1", r#"{"v":1}"#))
            .await
            .unwrap(),
        InsertOutcome::Duplicate(id)
    );
    let outcome = store
        .insert_inbox_event(tenant, event("msg_1", r#"{"v":2}"#))
        .await
        .unwrap();
    let InsertOutcome::Conflict {
        id: conflicting,
        stored_sha256,
        received_sha256,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(conflicting, id);
    // sha256(`{"v":1}`) and sha256(`{"v":2}`).
    assert_eq!(
        stored_sha256,
        "afbf9d0f3560b0fd7795e81c42a0a79ee6b6fc67e064f77826aee642cad28d91"
    );
    assert_eq!(
        received_sha256,
        "2b5442799fccc3af2e7e790017697373913b7afcac933d72fb5876de994f659a"
    );
    // The same two bodies within one batch: the second is the conflict.
    let outcomes = store
        .insert_inbox_events(vec![
            (tenant, event("msg_2", "a")),
            (tenant, event("msg_2", "b")),
        ])
        .await
        .unwrap();
    assert!(
        matches!(outcomes[0], InsertOutcome::Accepted(_)),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], InsertOutcome::Conflict { .. }),
        "{outcomes:?}"
    );
    let stored = store
        .find_inbox_event_by_svix_id(tenant, "msg_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.body, br#"{"v":1}"#, "the first delivery stands");
    assert_eq!(store.count_inbox_events(tenant).await.unwrap(), 2);
}

async fn nothing_is_stored_for_a_deleted_tenant(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let kept = common::tenant(&store).await;
    let gone = common::tenant(&store).await;
    store.delete_tenant_with_data(gone).await.unwrap();
    let outcomes = store
        .insert_inbox_events(vec![
            (gone, event("msg_1", "{}")),
            (kept, event("msg_1", "{}")),
            (Uuid::now_v7(), event("msg_1", "{}")),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes[0], InsertOutcome::NoTenant);
    assert!(
        matches!(outcomes[1], InsertOutcome::Accepted(_)),
        "the rest of the batch is stored"
    );
    assert_eq!(
        outcomes[2],
        InsertOutcome::NoTenant,
        "a tenant that never was"
    );
    assert_eq!(store.count_inbox_events(gone).await.unwrap(), 0);
    assert_eq!(store.count_inbox_events(kept).await.unwrap(), 1);
}

/// More tenants in one batch than one existence check takes: each tenant's delivery is stored,
/// except the deleted one's.
async fn a_batch_of_many_tenants_stores_each_that_exists(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let mut tenants = Vec::new();
    for _ in 0..20 {
        tenants.push(common::tenant(&store).await);
    }
    store.delete_tenant_with_data(tenants[17]).await.unwrap();
    let batch = tenants
        .iter()
        .map(|tenant| (*tenant, event("msg_1", "{}")))
        .collect();
    let outcomes = store.insert_inbox_events(batch).await.unwrap();
    for (n, outcome) in outcomes.iter().enumerate() {
        if n == 17 {
            assert_eq!(*outcome, InsertOutcome::NoTenant);
        } else {
            assert!(
                matches!(outcome, InsertOutcome::Accepted(_)),
                "{n}: {outcome:?}"
            );
        }
    }
}

/// Deliveries keep arriving from several writers while the tenant is deleted: once the delete
/// has committed and the last insert has returned, none of the tenant's rows remain.
async fn a_tenant_deleted_during_ingest_keeps_no_rows(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    for round in 0..5 {
        let tenant = common::tenant(&store).await;
        let deleted = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let store = store.clone();
                let deleted = deleted.clone();
                tokio::spawn(async move {
                    let mut accepted_after = 0;
                    for n in 0..60 {
                        let was_deleted = deleted.load(Ordering::SeqCst);
                        let svix_id = format!("msg_{round}_{sender}_{n}");
                        match store
                            .insert_inbox_event(tenant, event(&svix_id, "{}"))
                            .await
                        {
                            Ok(InsertOutcome::Accepted(_)) if was_deleted => accepted_after += 1,
                            Ok(_) => {}
                            // SQLite's one writer may be busy past its timeout; not a loss.
                            Err(err) => assert!(err.is_unavailable(), "{err}"),
                        }
                    }
                    accepted_after
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        store.delete_tenant_with_data(tenant).await.unwrap();
        deleted.store(true, Ordering::SeqCst);
        for sender in senders {
            assert_eq!(
                sender.await.unwrap(),
                0,
                "stored after the delete committed"
            );
        }
        assert_eq!(
            store.count_inbox_events(tenant).await.unwrap(),
            0,
            "round {round}"
        );
    }
}
