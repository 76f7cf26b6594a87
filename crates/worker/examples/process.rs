//! Benchmark of the sync engine, run by `cargo xtask bench process [sqlite|postgres] [events]`
//! in release mode (`WORKERS=n` changes the number of workers: 1 on SQLite, 2 on PostgreSQL by
//! default). Prints one JSON line:
//! - throughput: events stored beforehand (a realistic mix of Clerk events built from the
//!   fixtures), then drained by the workers; events applied per second of wall time;
//! - lag at light load: 50 events per second stored one by one while a worker runs, woken by
//!   each store the way ingest wakes it; time from stored to applied, p50 and p99.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hookgate_store::{InboxStatus, NewInboxEvent};
use hookgate_testkit::Backend;
use hookgate_worker::{Backoff, Worker, WorkerSettings};
use serde_json::Value;
use tokio::sync::{Notify, watch};

const MIX: &[(&str, u32)] = &[
    ("user.created", 10),
    ("user.updated", 35),
    ("session.created", 15),
    ("session.ended", 10),
    ("organizationMembership.created", 10),
    ("organizationMembership.updated", 5),
    ("organization.updated", 5),
    ("email.created", 10),
];

mod common;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let backend = common::backend(&mut args);
    let events: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let (_db, store) = common::store(backend).await?;
    let templates = templates()?;
    let workers: usize = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(if backend == Backend::Postgres { 2 } else { 1 });
    let settings = WorkerSettings {
        batch_size: 100,
        lease: Duration::from_secs(60),
        poll_interval: Duration::from_millis(100),
        backoff: Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_attempts: 5,
        },
    };

    // Throughput.
    let tenant = common::new_tenant(&store).await?;
    for n in 0..events {
        store
            .insert_inbox_event(tenant, event(&templates, n, events)?)
            .await
            .context("insert")?;
    }
    // The workers count what they finish, so nothing polls the database while they work.
    let started = Instant::now();
    let finished = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let worker = Worker::new(store.clone(), settings, Arc::new(Notify::new()));
            let finished = finished.clone();
            tokio::spawn(async move {
                while finished.load(Ordering::Relaxed) < events {
                    let report = worker.run_batch().await?;
                    finished.fetch_add(report.done + report.dead, Ordering::Relaxed);
                    if report.claimed == 0 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for handle in handles {
        handle.await.context("worker")??;
    }
    let elapsed = started.elapsed();
    let counts = store.count_by_status(tenant).await.context("counts")?;
    anyhow::ensure!(
        counts == [(InboxStatus::Done, events as u64)],
        "every event applied: {counts:?}"
    );

    // Lag at light load.
    let tenant = common::new_tenant(&store).await?;
    let wake = Arc::new(Notify::new());
    let (stop_tx, stop) = watch::channel(false);
    let worker = Worker::new(store.clone(), settings, wake.clone());
    let running = tokio::spawn(async move { worker.run(stop).await });
    let light = 200;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    for n in 0..light {
        ticker.tick().await;
        store
            .insert_inbox_event(tenant, event(&templates, n, light)?)
            .await
            .context("insert")?;
        wake.notify_one();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_tx.send(true).context("stop")?;
    running.await.context("worker")?;
    let rows = store
        .list_inbox_events(tenant, &hookgate_store::EventQuery::default())
        .await
        .context("events")?;
    let mut lags: Vec<f64> = rows
        .iter()
        .filter_map(|r| Some((r.processed_at? - r.received_at).num_microseconds()? as f64 / 1000.0))
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };

    println!(
        "{{\"backend\":\"{}\",\"events\":{events},\"workers\":{workers},\"batch\":{},\"seconds\":{:.2},\"events_per_s\":{:.0},\"lag_events\":{},\"lag_p50_ms\":{:.1},\"lag_p99_ms\":{:.1}}}",
        common::name(backend),
        settings.batch_size,
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        lags.len(),
        pct(0.5),
        pct(0.99),
    );
    store.close().await;
    Ok(())
}

/// The fixture of each type in the mix, to vary.
fn templates() -> anyhow::Result<Vec<(Value, u32)>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tests/fixtures");
    MIX.iter()
        .map(|(name, weight)| {
            let text = std::fs::read(dir.join(format!("{name}.json"))).context("fixture")?;
            Ok((
                serde_json::from_slice(&text).context("fixture json")?,
                *weight,
            ))
        })
        .collect()
}

/// Event `n` of `total`: a type drawn by weight, about ten events per user, versions growing.
fn event(templates: &[(Value, u32)], n: usize, total: usize) -> anyhow::Result<NewInboxEvent> {
    let total_weight: u32 = templates.iter().map(|(_, w)| w).sum();
    let mut pick = (n as u32).wrapping_mul(2_654_435_761) % total_weight;
    let (template, _) = templates
        .iter()
        .find(|(_, w)| {
            if pick < *w {
                true
            } else {
                pick -= w;
                false
            }
        })
        .context("a template")?;
    let mut body = template.clone();
    let entity = n % (total / 10).max(1);
    let version = 1_732_890_000_000_i64 + n as i64;
    let data = &mut body["data"];
    let id = data["id"]
        .as_str()
        .unwrap_or("obj")
        .split('_')
        .next()
        .unwrap_or("obj")
        .to_owned();
    data["id"] = Value::String(format!("{id}_bench{entity}"));
    data["updated_at"] = Value::from(version);
    let event_type = body["type"].as_str().unwrap_or_default().to_owned();
    Ok(NewInboxEvent {
        svix_id: format!("msg_bench_{n}"),
        event_type: Some(event_type),
        instance_id: None,
        event_timestamp_ms: Some(version),
        body: serde_json::to_vec(&body).context("json")?,
        invalid: None,
        trace_parent: None,
    })
}
