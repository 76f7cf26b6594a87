//! The load generator: `connections` clients, each on its own keep-alive connection, send
//! correctly signed, unique Clerk `user.created` deliveries (~2.7 KB) spread over the tenants,
//! back to back, for `seconds` after a warm-up. Prints one JSON line: requests/s, latency
//! percentiles, errors, and how many deliveries each tenant had answered 200.
//!
//!   loadgen <base url> <slug=whsec_...,...> <connections> <seconds> [warmup seconds] [rate]
//!
//! With a rate (requests per second, all connections together), each client sends at its share
//! of it, evenly spaced, instead of back to back: a steady load for measuring lag.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hookgate_verify::{Secret, sign};

const TEMPLATE: &str = include_str!("../../../crates/events/examples/user_created.json");
const TEMPLATE_USER: &str = "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA";

struct Report {
    latencies_us: Vec<u32>,
    errors: u64,
    accepted: HashMap<String, u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, tenants, connections, seconds, rest @ ..] = args.as_slice() else {
        anyhow::bail!(
            "usage: loadgen <base url> <slug=secret,...> <connections> <seconds> [warmup] [rate]"
        );
    };
    let tenants: Arc<Vec<(String, Secret)>> = Arc::new(hookgate_bench::tenants(tenants)?);
    anyhow::ensure!(!tenants.is_empty(), "no tenants");
    let connections: usize = connections.parse()?;
    let seconds: f64 = seconds.parse()?;
    let warmup: f64 = rest.first().map(|w| w.parse()).transpose()?.unwrap_or(1.0);
    let rate: Option<f64> = rest.get(1).map(|r| r.parse()).transpose()?;
    // Each client's time between requests at the given rate.
    let every = rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(connections as f64 / r));
    anyhow::ensure!(
        TEMPLATE.contains(TEMPLATE_USER),
        "the body template changed"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..connections {
        let http = reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .build()?;
        let (base, tenants, measuring, stop) = (
            base.clone(),
            tenants.clone(),
            measuring.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut report = Report {
                latencies_us: Vec::new(),
                errors: 0,
                accepted: HashMap::new(),
            };
            let mut n = 0u64;
            let mut pace = every.map(|every| {
                // Clients start spread over one period, not all at once.
                let start =
                    tokio::time::Instant::now() + every.mul_f64(client as f64 / connections as f64);
                let mut pace = tokio::time::interval_at(start, every);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                pace
            });
            while !stop.load(Ordering::Relaxed) {
                if let Some(pace) = &mut pace {
                    pace.tick().await;
                }
                n += 1;
                let (slug, secret) = &tenants[(client + n as usize) % tenants.len()];
                let svix_id = format!("msg_bench_{client}_{n}");
                let user = format!("user_bench{client:04}x{n:016}");
                let body = TEMPLATE.replacen(TEMPLATE_USER, &user, 1).into_bytes();
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let signature = sign(secret, &svix_id, now, &body);
                let started = Instant::now();
                let sent = http
                    .post(format!("{base}/api/webhooks/{slug}"))
                    .header("content-type", "application/json")
                    .header("svix-id", &svix_id)
                    .header("svix-timestamp", now.to_string())
                    .header("svix-signature", signature)
                    .body(body)
                    .send()
                    .await;
                let ok = match sent {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        let _ = response.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                let elapsed = started.elapsed();
                // Every 200 counts for the exactly-once check, warm-up included; only measured
                // requests count for throughput and latency.
                if ok {
                    *report.accepted.entry(slug.clone()).or_default() += 1;
                }
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        report
                            .latencies_us
                            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                    } else {
                        report.errors += 1;
                    }
                }
            }
            report
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);

    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut accepted: HashMap<String, u64> = HashMap::new();
    for client in clients {
        let report = client.await?;
        latencies.extend(report.latencies_us);
        errors += report.errors;
        for (slug, count) in report.accepted {
            *accepted.entry(slug).or_default() += count;
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(f64::NAN, |us| f64::from(*us) / 1000.0)
    };
    let line = serde_json::json!({
        "connections": connections,
        "seconds": elapsed,
        "requests": latencies.len(),
        "errors": errors,
        "rps": latencies.len() as f64 / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "accepted": accepted,
    });
    println!("{line}");
    Ok(())
}
