//! `kill -9` under load, against the real binary, several times in a row: every delivery the
//! senders were answered 200 for is stored exactly once and applied, redeliveries after a crash
//! are duplicates rather than new rows, and the synced table ends as a clean run leaves it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookgate_store::entities::sync::user;
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use hookgate_verify::Secret;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};

mod common;

use common::{assert_stored, serve, signed_request, store_with_acme, wait_until_done};

on_both_backends!(kill_9_under_load_loses_nothing_and_applies_once);

const CYCLES: usize = 5;
const USERS: usize = 200;
const VERSIONS: usize = 5;

/// Delivery `(user, version)`: created at version 0, updated after; its svix id and body.
fn delivery(user: usize, version: usize) -> (String, Vec<u8>) {
    let kind = if version == 0 { "created" } else { "updated" };
    let at = 1_732_890_000_000_i64 + version as i64;
    let body = format!(
        r#"{{"data":{{"id":"user_c{user}","object":"user","first_name":"v{version}","updated_at":{at}}},"object":"event","type":"user.{kind}","timestamp":{at}}}"#
    );
    (format!("msg_c{user}_{version}"), body.into_bytes())
}

/// A small deterministic generator, so a failure can be rerun with the seed it prints.
fn next(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    *seed >> 33
}

async fn kill_9_under_load_loses_nothing_and_applies_once(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let secret = Secret::from_bytes(vec![9; 24]).unwrap();
    let (store, tenant) = store_with_acme(&db, &secret).await;
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed: {seed}");

    // Workers in the same process (the default role), so crashes hit applies as well as ingest.
    // Leases short enough that a killed worker's batch comes back within the test.
    let env = [
        ("HOOKGATE__WORKER__POLL_INTERVAL_MS", "50"),
        ("HOOKGATE__WORKER__LEASE_MS", "2000"),
    ];
    let mut server = serve(&db.url(), &env);
    let address = Arc::new(Mutex::new(server.addr.clone()));
    hookgate_worker::install_tls_provider();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    // Senders behave like Svix: each delivery is sent until it is answered 200, whatever happens
    // to the server in between. Users are spread over the senders; each sender sends a user's
    // versions newest first, so the order the gateway sees is not the order of the versions.
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for sender in 0..4 {
        let (http, address, secret, acked) =
            (http.clone(), address.clone(), secret.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut attempts = 0usize;
            for user in (sender..USERS).step_by(4) {
                for version in (0..VERSIONS).rev() {
                    let (svix_id, body) = delivery(user, version);
                    loop {
                        attempts += 1;
                        let addr = address.lock().unwrap().clone();
                        let mut request = http
                            .post(format!("http://{addr}/api/webhooks/acme"))
                            .body(body.clone());
                        for (name, value) in signed_request(&secret, &svix_id, &body) {
                            request = request.header(name, value);
                        }
                        match request.send().await {
                            Ok(response) if response.status() == 200 => break,
                            Ok(response) => {
                                assert_eq!(response.status(), 503, "{svix_id}");
                            }
                            Err(_) => {} // The server is down: retry.
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    acknowledged.push(svix_id);
                }
            }
            (acknowledged, attempts)
        }));
    }

    // Kill number i once a random point of the i-th slice of the load has been acknowledged,
    // so every kill lands mid-load however fast the machine is.
    let total = USERS * VERSIONS;
    for cycle in 0..CYCLES {
        let slice = total / (CYCLES + 1);
        let at = slice * cycle + slice / 2 + (next(&mut seed) as usize) % (slice / 2);
        while acked.load(std::sync::atomic::Ordering::SeqCst) < at {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let before = acked.load(std::sync::atomic::Ordering::SeqCst);
        assert!(
            before < total,
            "cycle {cycle}: the load ended before the kill"
        );
        server.child.kill().unwrap(); // SIGKILL: no drain, no flush, no lease release.
        server.child.wait().unwrap();
        eprintln!("cycle {cycle}: killed at {before} deliveries acknowledged");
        server = serve(&db.url(), &env);
        *address.lock().unwrap() = server.addr.clone();
    }

    let mut acknowledged = Vec::new();
    let mut attempts = 0;
    for sender in senders {
        let (ids, tries) = sender.await.unwrap();
        acknowledged.extend(ids);
        attempts += tries;
    }
    let distinct: HashSet<_> = acknowledged.iter().collect();
    assert_eq!(distinct.len(), USERS * VERSIONS);
    assert!(
        attempts > acknowledged.len(),
        "some deliveries were retried across a crash ({attempts} attempts)"
    );

    // Every acknowledged delivery is stored once (retries were duplicates) and gets applied,
    // leases of killed workers included (they expire; the test settings keep them short).
    wait_until_done(&store, tenant, USERS * VERSIONS).await;
    assert_stored(&store, tenant, &acknowledged).await;

    // A clean run leaves each user at its newest version, whatever the order and the repeats.
    let read = sea_orm::Database::connect(db.url()).await.unwrap();
    let rows = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .all(&read)
        .await
        .unwrap();
    assert_eq!(rows.len(), USERS);
    let newest = format!("v{}", VERSIONS - 1);
    for row in &rows {
        assert_eq!(
            row.first_name.as_deref(),
            Some(newest.as_str()),
            "{}",
            row.clerk_id
        );
        assert_eq!(row.version, 1_732_890_000_000 + (VERSIONS as i64 - 1));
        assert!(row.deleted_at.is_none());
    }
    eprintln!(
        "crash test: {CYCLES} kill -9 cycles, {} deliveries acknowledged, {attempts} attempts",
        acknowledged.len()
    );
    read.close().await.unwrap();
    drop(server);
    store.close().await;
}
