//! Two `api` and two `worker` processes of the real binary on one PostgreSQL database, under
//! load from Svix-style senders (each delivery retried until answered 200, spread over both `api`
//! processes), one of each `kill -9`ed and restarted mid-load: every acknowledged delivery is
//! stored once and applied once, every event is forwarded at least once, and the synced table
//! equals what a clean run of one process leaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use hookgate_store::entities::{delivery, sync::user};
use hookgate_store::{DeliveryStatus, Uuid};
use hookgate_tenancy::{DestinationSpec, SecretCipher, SecretsKey, Tenancy, TenantSlug};
use hookgate_testkit::{Backend, TestDb};
use hookgate_verify::Secret;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};

mod common;

use common::{
    DEV_SECRETS_KEY, Server, assert_stored, serve_role, signed_request, store_with_acme,
    wait_until_done,
};

const USERS: usize = 150;
const VERSIONS: usize = 4;
const TOTAL: usize = USERS * VERSIONS;

/// Leases short enough that a killed process's claims come back within the test.
const ENV: [(&str, &str); 4] = [
    ("HOOKGATE__WORKER__LEASE_MS", "2000"),
    ("HOOKGATE__FORWARD__TIMEOUT_MS", "1000"),
    ("HOOKGATE__FORWARD__LEASE_MS", "2000"),
    ("HOOKGATE__TENANCY__HEARTBEAT_MS", "500"),
];

fn delivery_of(user: usize, version: usize) -> (String, Vec<u8>) {
    let kind = if version == 0 { "created" } else { "updated" };
    let at = 1_732_890_000_000_i64 + version as i64;
    let body = format!(
        r#"{{"data":{{"id":"user_m{user}","object":"user","first_name":"v{version}","updated_at":{at}}},"object":"event","type":"user.{kind}","timestamp":{at}}}"#
    );
    (format!("msg_m{user}_{version}"), body.into_bytes())
}

/// Sends every delivery Svix-style from four senders over `addresses` (a sender moves to the
/// next address when one does not answer), newest version first; returns the svix ids answered
/// 200. `acked` counts them as they come.
fn send_all(
    addresses: Arc<Mutex<Vec<String>>>,
    secret: Secret,
    acked: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Vec<String>>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (0..4)
        .map(|sender| {
            let (http, addresses, secret, acked) = (
                http.clone(),
                addresses.clone(),
                secret.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut turn = sender;
                for user in (sender..USERS).step_by(4) {
                    for version in (0..VERSIONS).rev() {
                        let (svix_id, body) = delivery_of(user, version);
                        loop {
                            let addr = {
                                let addresses = addresses.lock().unwrap();
                                addresses[turn % addresses.len()].clone()
                            };
                            let mut request = http
                                .post(format!("http://{addr}/api/webhooks/acme"))
                                .body(body.clone());
                            for (name, value) in signed_request(&secret, &svix_id, &body) {
                                request = request.header(name, value);
                            }
                            match request.send().await {
                                Ok(response) if response.status() == 200 => break,
                                Ok(response) => assert_eq!(response.status(), 503, "{svix_id}"),
                                Err(_) => turn += 1, // That process is down: try the other.
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        turn += 1;
                        acked.fetch_add(1, Ordering::SeqCst);
                        acknowledged.push(svix_id);
                    }
                }
                acknowledged
            })
        })
        .collect()
}

/// The receiving end of the destination: every svix id it was sent, with repeats.
async fn receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let keep = keep.clone();
            async move {
                let id = headers["svix-id"].to_str().unwrap().to_owned();
                keep.lock().unwrap().push(id);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), received)
}

/// The synced users as a comparable value: everything but ids local to the database and times
/// of applying.
async fn users(url: &str, tenant: Uuid) -> Vec<serde_json::Value> {
    let db = sea_orm::Database::connect(url).await.unwrap();
    let rows = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .order_by_asc(user::Column::ClerkId)
        .all(&db)
        .await
        .unwrap();
    db.close().await.unwrap();
    rows.into_iter()
        .map(|row| {
            serde_json::json!([
                row.clerk_id,
                row.first_name,
                row.data,
                row.version,
                row.tiebreak,
                row.deleted_at
            ])
        })
        .collect()
}

fn kill(server: &mut Server, what: &str, acked: usize) {
    server.child.kill().unwrap(); // SIGKILL: no drain, no lease released, no row removed.
    server.child.wait().unwrap();
    eprintln!("killed the {what} process at {acked} deliveries acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_and_two_worker_processes_survive_kill_9() {
    let Some(db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let Some(clean_db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    hookgate_worker::install_tls_provider();
    let secret = Secret::from_bytes(vec![7; 24]).unwrap();
    let (store, tenant) = store_with_acme(&db, &secret).await;
    let (url, received) = receiver().await;
    let cipher = SecretCipher::new(&SecretsKey::parse(DEV_SECRETS_KEY).unwrap());
    Tenancy::new(store.clone(), cipher, None)
        .create_destination(
            &TenantSlug::parse("acme").unwrap(),
            DestinationSpec {
                name: "app".into(),
                url,
                event_types: vec!["*".into()],
                max_per_sec: None,
            },
            None,
        )
        .await
        .unwrap();

    let mut apis = [
        serve_role(&db.url(), &ENV, "api"),
        serve_role(&db.url(), &ENV, "api"),
    ];
    let mut workers = [
        serve_role(&db.url(), &ENV, "worker"),
        serve_role(&db.url(), &ENV, "worker"),
    ];
    let addresses = Arc::new(Mutex::new(
        apis.iter().map(|s| s.addr.clone()).collect::<Vec<_>>(),
    ));
    let acked = Arc::new(AtomicUsize::new(0));
    let senders = send_all(addresses.clone(), secret.clone(), acked.clone());

    // One api process killed a third of the way through, one worker process at half way; each
    // started again at once (on a new port, which the senders then use).
    let wait_for = |n: usize| {
        let acked = acked.clone();
        async move {
            while acked.load(Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let now = acked.load(Ordering::SeqCst);
            assert!(now < TOTAL, "the load ended before the kill");
            now
        }
    };
    let at = wait_for(TOTAL / 3).await;
    kill(&mut apis[0], "api", at);
    apis[0] = serve_role(&db.url(), &ENV, "api");
    addresses.lock().unwrap()[0] = apis[0].addr.clone();
    let at = wait_for(TOTAL / 2).await;
    kill(&mut workers[0], "worker", at);
    workers[0] = serve_role(&db.url(), &ENV, "worker");

    let mut acknowledged = Vec::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    let distinct: HashSet<_> = acknowledged.iter().cloned().collect();
    assert_eq!(distinct.len(), TOTAL);

    // Stored once each and applied: every acknowledged delivery has its row, all are done.
    wait_until_done(&store, tenant, TOTAL).await;
    assert_stored(&store, tenant, &acknowledged).await;
    // Applied once: applying queues the event's delivery in the same transaction, so one
    // delivery per event means one committed apply.
    let read = sea_orm::Database::connect(db.url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let deliveries = loop {
        let rows = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(tenant))
            .all(&read)
            .await
            .unwrap();
        if rows.len() == TOTAL && rows.iter().all(|d| d.status == DeliveryStatus::Done) {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries not all sent: {} rows",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let per_event: HashMap<Uuid, usize> =
        deliveries.iter().fold(HashMap::new(), |mut counts, d| {
            *counts.entry(d.inbox_event_id).or_default() += 1;
            counts
        });
    assert_eq!(per_event.len(), TOTAL, "one delivery for every event");
    read.close().await.unwrap();
    // Forwarded at least once each (a kill between sending and recording sends again).
    let received = received.lock().unwrap().clone();
    let forwarded: HashSet<_> = received.iter().cloned().collect();
    assert_eq!(forwarded, distinct, "every event reached the destination");
    eprintln!(
        "{} deliveries acknowledged; {} sends for {TOTAL} events",
        acknowledged.len(),
        received.len()
    );

    // A clean run: one process, the same deliveries, nothing killed.
    let (clean_store, clean_tenant) = store_with_acme(&clean_db, &secret).await;
    let clean = serve_role(&clean_db.url(), &ENV, "all");
    let one = Arc::new(Mutex::new(vec![clean.addr.clone()]));
    for sender in send_all(one, secret, Arc::new(AtomicUsize::new(0))) {
        sender.await.unwrap();
    }
    wait_until_done(&clean_store, clean_tenant, TOTAL).await;
    let (crashed, expected) = (
        users(&db.url(), tenant).await,
        users(&clean_db.url(), clean_tenant).await,
    );
    assert_eq!(expected.len(), USERS);
    let newest = format!("v{}", VERSIONS - 1);
    assert!(
        expected.iter().all(|row| row[1] == newest.as_str()),
        "a clean run leaves every user at its newest version"
    );
    assert_eq!(
        crashed, expected,
        "the synced users differ from a clean run's"
    );

    drop((apis, workers, clean));
    store.close().await;
    clean_store.close().await;
}
