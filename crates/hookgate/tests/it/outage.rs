//! The database going away while hookgate serves: a fast 503 with Retry-After, never a 500 or a
//! hang, `/readyz` failing, and recovery without a restart once the database is back.

use std::time::{Duration, Instant};

use hookgate_verify::Secret;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait as _, Database, TransactionTrait as _};

use crate::helpers::{
    ADMIN_TOKEN, Backend, PgUrl, TestApp, TestDb, eventually, settings, user_created,
};
use crate::proxy::TcpProxy;

/// The request timeout `settings()` configures; every answer must come before it.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(3_000);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_off_answers_503_then_recovers() {
    let Some((_db, proxy, app)) = behind_proxy().await else {
        return;
    };
    let acme = app.tenant("acme").await;
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_before", &user_created("u1"))
            .await
            .status(),
        StatusCode::OK
    );

    proxy.cut();
    let started = Instant::now();
    let during = app
        .deliver("acme", &acme.secret, "msg_during", &user_created("u2"))
        .await;
    let elapsed = started.elapsed();
    let ready = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();

    assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(during.headers().contains_key("retry-after"));
    assert!(elapsed < REQUEST_TIMEOUT, "answered in {elapsed:?}");
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    // The sender retries the same delivery; it is stored once whatever happened to the first try.
    let recovered = redeliver_until_ok(&app, &acme.secret, "msg_during", &user_created("u2")).await;
    assert!(
        recovered,
        "ingest recovers by itself once the database is back"
    );
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert!(app.inbox(&acme, "msg_before").await.is_some());
    assert!(app.inbox(&acme, "msg_during").await.is_some());
    assert_eq!(app.inbox_count(&acme).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_writer_answers_503_then_recovers() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut settings = settings(&db.url());
    // The lock outlasts the ingest deadline, so ingest must give up first.
    settings.database.sqlite_busy_timeout_ms = 2_000;
    let app = TestApp::spawn(&settings).await;
    let acme = app.tenant("acme").await;

    let other = Database::connect(db.url()).await.unwrap();
    let lock = other.begin().await.unwrap();
    lock.execute_unprepared("UPDATE tenants SET name = name")
        .await
        .unwrap();

    let started = Instant::now();
    let during = app
        .deliver("acme", &acme.secret, "msg_locked", &user_created("u1"))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(during.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(during.headers().contains_key("retry-after"));
    assert!(elapsed < REQUEST_TIMEOUT, "answered in {elapsed:?}");

    lock.rollback().await.unwrap();
    let recovered = redeliver_until_ok(&app, &acme.secret, "msg_locked", &user_created("u1")).await;
    assert!(recovered, "ingest recovers once the lock is released");
    assert_eq!(app.inbox_count(&acme).await, 1);
}

/// The admin API answers a storage failure with the configured Retry-After, as ingest does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_without_storage_answer_the_configured_retry_after() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut settings = settings(&db.url());
    settings.ingest.retry_after_secs = 7;
    let app = TestApp::spawn(&settings).await;
    app.tenant("acme").await;

    app.store.close().await;
    for path in ["/admin/v1/tenants", "/admin/v1/tenants/acme/stats"] {
        let response = app
            .http
            .get(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("7"),
            "{path}"
        );
    }
}

/// hookgate on a fresh PostgreSQL database reached through a proxy the test controls.
async fn behind_proxy() -> Option<(TestDb, TcpProxy, TestApp)> {
    let db = TestDb::create(Backend::Postgres).await?;
    let url = PgUrl::parse(&db.url());
    let proxy = TcpProxy::start(url.host().to_owned()).await;
    let through_proxy = url.with_host(&proxy.addr().to_string()).to_string();
    let app = TestApp::spawn(&settings(&through_proxy)).await;
    Some((db, proxy, app))
}

/// Redelivers like Svix would, until hookgate answers 200 (at most 15 s).
async fn redeliver_until_ok(app: &TestApp, secret: &Secret, svix_id: &str, body: &[u8]) -> bool {
    eventually(Duration::from_secs(15), || async {
        let response = app.deliver("acme", secret, svix_id, body).await;
        (response.status() == StatusCode::OK).then_some(())
    })
    .await
    .is_some()
}

/// A database that answers, but slowly: ingest gives up after `ingest.store_timeout_ms` with a
/// 503 well before Svix's 15 s, and stores normally once the database is fast again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_postgres_gets_503_before_the_sender_gives_up() {
    let Some((_db, proxy, app)) = behind_proxy().await else {
        return;
    };
    let acme = app.tenant("acme").await;

    proxy.slow_down(Duration::from_secs(5));
    let started = Instant::now();
    let slow = app
        .deliver("acme", &acme.secret, "msg_slow_db", &user_created("u1"))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(slow.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(slow.headers().contains_key("retry-after"));
    assert!(elapsed < REQUEST_TIMEOUT, "answered in {elapsed:?}");

    proxy.slow_down(Duration::ZERO);
    let recovered =
        redeliver_until_ok(&app, &acme.secret, "msg_slow_db", &user_created("u1")).await;
    assert!(recovered, "ingest recovers once the database is fast again");
    assert_eq!(app.inbox_count(&acme).await, 1);
}

/// The database goes away in the middle of a load: every answer is a 200 or a quick 503, and
/// once it is back, redelivering what got 503 leaves exactly one row per delivery; nothing that
/// was answered 200 is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cut_off_mid_load_loses_nothing_acknowledged() {
    let Some((_db, proxy, app)) = behind_proxy().await else {
        return;
    };
    let app = std::sync::Arc::new(app);
    let acme = app.tenant("acme").await;
    let secret = acme.secret.clone();

    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let senders: Vec<_> = (0..8)
        .map(|sender| {
            let app = app.clone();
            let secret = secret.clone();
            let running = running.clone();
            tokio::spawn(async move {
                let mut results = Vec::new();
                let mut n = 0;
                while running.load(std::sync::atomic::Ordering::SeqCst) {
                    let id = format!("msg_{sender}_{n}");
                    let started = Instant::now();
                    let response = app.deliver("acme", &secret, &id, &user_created(&id)).await;
                    let status = response.status();
                    assert!(
                        status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                        "{id}: {status}"
                    );
                    // Well before Svix's 15 s, with room for a loaded machine.
                    assert!(
                        started.elapsed() < REQUEST_TIMEOUT + Duration::from_secs(3),
                        "{id}: {:?}",
                        started.elapsed()
                    );
                    results.push((id, status == StatusCode::OK));
                    n += 1;
                }
                results
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(700)).await;
    running.store(false, std::sync::atomic::Ordering::SeqCst);
    let mut results = Vec::new();
    for sender in senders {
        results.extend(sender.await.unwrap());
    }
    let acknowledged = results.iter().filter(|(_, ok)| *ok).count();
    let refused: Vec<_> = results.iter().filter(|(_, ok)| !*ok).collect();
    assert!(acknowledged > 0, "some deliveries went through");
    assert!(!refused.is_empty(), "the cut-off refused some deliveries");

    for (id, _) in &refused {
        assert!(
            redeliver_until_ok(&app, &secret, id, &user_created(id)).await,
            "{id} is stored once the database is back"
        );
    }
    for (id, _) in &results {
        assert!(app.inbox(&acme, id).await.is_some(), "{id} is stored");
    }
    assert_eq!(app.inbox_count(&acme).await, results.len() as u64);
}
