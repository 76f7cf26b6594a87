//! Several hookgate processes on one database: workers in another process are woken by the
//! database rather than found by polling, and the `api` processes share each tenant's rate
//! limit. (Each `Application` here is what one process runs; they share only the database.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use hookgate::Settings;
use hookgate::startup::Role;
use serde_json::json;

use crate::forward::{Receiver, admin};
use crate::helpers::{
    Backend, TestApp, TestDb, eventually, on_both_backends, settings, user_created,
};

on_both_backends!(
    api_processes_share_each_tenant_s_rate_limit,
    a_silent_process_stops_counting
);

/// Polling so slow that anything seen within seconds was woken.
fn never_polling(db: &TestDb) -> Settings {
    let mut settings = settings(&db.url());
    settings.worker.poll_interval_ms = 600_000;
    settings.forward.poll_interval_ms = 600_000;
    settings.forward.max_attempts = 1;
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_is_woken_by_postgresql_not_by_its_poll() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let settings = never_polling(&db);
    let api = TestApp::spawn_role(&settings, Role::Api).await;
    let acme = api.tenant("acme").await;
    let receiver = Receiver::default();
    *receiver.always.lock().unwrap() = Some(StatusCode::SERVICE_UNAVAILABLE);
    let url = receiver.start().await;
    let (status, created) = admin(
        &api,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": "app", "url": url})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["destination"]["id"].as_str().unwrap().to_owned();
    let worker = TestApp::spawn_role(&settings, Role::Worker).await;
    // The worker's first look at the queues happens at start; give its listening connection a
    // moment, so what follows can only be found by being woken.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Stored by the api process: the worker process applies it and sends it (503: dead at
    // once, one attempt allowed).
    let started = Instant::now();
    let response = api
        .deliver(
            "acme",
            &acme.secret,
            "msg_woken",
            &user_created("user_woken"),
        )
        .await;
    assert_eq!(response.status(), 200);
    eventually(Duration::from_secs(5), || async {
        (receiver.received().len() == 1).then_some(())
    })
    .await
    .expect("the worker process applied and forwarded the event without polling");
    eprintln!(
        "stored → forwarded by another process: {:?}",
        started.elapsed()
    );

    // Replayed through the api process: the worker process's forwarder is woken.
    let deliveries = format!("/admin/v1/tenants/acme/destinations/{id}/deliveries");
    eventually(Duration::from_secs(5), || async {
        let (_, page) = admin(&api, "GET", &format!("{deliveries}?status=dead"), None).await;
        (page["data"].as_array()?.len() == 1).then_some(())
    })
    .await
    .expect("the delivery is dead after its one attempt");
    *receiver.always.lock().unwrap() = None;
    let (status, replayed) = admin(&api, "POST", &format!("{deliveries}/replay"), None).await;
    assert_eq!((status, replayed["replayed"].as_u64()), (200, Some(1)));
    eventually(Duration::from_secs(5), || async {
        (receiver.received().len() == 2).then_some(())
    })
    .await
    .expect("the replayed delivery was sent without polling");

    worker.shutdown().await;
    api.shutdown().await;
}

const RATE: u32 = 40;
const BURST: u32 = 4;
const WINDOW: Duration = Duration::from_secs(3);

async fn api_processes_share_each_tenant_s_rate_limit(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = settings(&db.url());
    settings.ingest.rate_limit_per_sec = RATE;
    settings.ingest.rate_limit_burst = BURST;
    settings.tenancy.heartbeat_ms = 100;
    let first = TestApp::spawn(&settings).await;
    let acme = first.tenant("acme").await;
    first.shutdown().await;

    let sent = Arc::new(AtomicU64::new(0));
    for processes in 1..=3_u32 {
        let mut apps = Vec::new();
        for _ in 0..processes {
            apps.push(Arc::new(TestApp::spawn(&settings).await));
        }
        // Each process has heard of the others.
        eventually(Duration::from_secs(5), || async {
            apps.iter()
                .all(|app| app.registry.share().processes() == processes)
                .then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("{processes} processes never counted each other"));

        // Senders spread deliveries evenly over the processes, as a load balancer would, far
        // faster than the limit.
        let accepted = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + WINDOW;
        let mut senders = Vec::new();
        for sender in 0..6_usize {
            let (apps, accepted, sent, secret) = (
                apps.clone(),
                accepted.clone(),
                sent.clone(),
                acme.secret.clone(),
            );
            senders.push(tokio::spawn(async move {
                let mut turn = sender;
                while Instant::now() < until {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    let app = &apps[turn % apps.len()];
                    turn += 1;
                    let response = app
                        .deliver("acme", &secret, &format!("msg_{n}"), &user_created("u"))
                        .await;
                    match response.status().as_u16() {
                        200 => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        429 => {}
                        other => panic!("unexpected {other}"),
                    }
                }
            }));
        }
        for sender in senders {
            sender.await.unwrap();
        }
        let per_sec = accepted.load(Ordering::Relaxed) as f64 / WINDOW.as_secs_f64();
        eprintln!("{processes} api processes: {per_sec:.1} deliveries/s accepted (limit {RATE})");
        let limit = f64::from(RATE);
        assert!(
            per_sec >= limit * 0.75 && per_sec <= limit * 1.25,
            "{processes} api processes accepted {per_sec:.1}/s against a limit of {RATE}/s"
        );
        for app in apps {
            Arc::into_inner(app).unwrap().shutdown().await;
        }
    }
}

/// A process killed without leaving (its row stays) stops counting after three heartbeats, and
/// worker processes never count.
async fn a_silent_process_stops_counting(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = settings(&db.url());
    settings.tenancy.heartbeat_ms = 100;
    let app = TestApp::spawn(&settings).await;
    assert_eq!(app.registry.share().processes(), 1);
    let now = chrono::Utc::now();
    for role in ["api", "worker"] {
        app.store
            .heartbeat(hookgate_store::Uuid::now_v7(), role, "elsewhere", now)
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(2), || async {
        (app.registry.share().processes() == 2).then_some(())
    })
    .await
    .expect("the other api process counts while it beats");
    let silent_since = Instant::now();
    eventually(Duration::from_secs(2), || async {
        (app.registry.share().processes() == 1).then_some(())
    })
    .await
    .expect("the silent process stops counting");
    assert!(
        silent_since.elapsed() >= Duration::from_millis(100),
        "counted for about three heartbeats"
    );
    app.shutdown().await;
}
