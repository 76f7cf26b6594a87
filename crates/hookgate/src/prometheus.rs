//! Prometheus metrics: the catalogue of every metric hookgate exports, the process's recorder,
//! and the gauges sampled from the database. Counters and histograms are recorded where the
//! work happens (ingest, workers); the catalogue is what the README, the Grafana dashboard and
//! the tests hold them to.

use std::time::Duration;

use hookgate_store::Store;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    /// Label names, besides the optional `tenant` label of ingest metrics.
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

/// Every metric hookgate exports.
pub const CATALOGUE: &[Metric] = &[
    Metric {
        name: "hookgate_ingest_requests_total",
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Deliveries answered, by outcome: accepted, duplicate, conflict (a duplicate svix-id with another body; answered as a duplicate), or the error code of the answer (verification_failed, unknown_tenant, rate_limited, queue_full, unavailable, ...).",
    },
    Metric {
        name: "hookgate_ingest_duration_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "Time from the start of a delivery's handling to its answer.",
    },
    Metric {
        name: "hookgate_group_commit_batch_size",
        kind: Kind::Histogram,
        labels: &[],
        help: "Deliveries stored per group-commit transaction.",
    },
    Metric {
        name: "hookgate_apply_total",
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Attempts to apply an event, by outcome: done, retry (failed, tried again later), dead (failed for good), lease_lost.",
    },
    Metric {
        name: "hookgate_decode_warnings_total",
        kind: Kind::Counter,
        labels: &["event_type", "field"],
        help: "Fields of applied events read as absent because their values had unexpected types (drift in what Clerk sends), by event type and field path (list positions dropped).",
    },
    Metric {
        name: "hookgate_reconcile_drift_total",
        kind: Kind::Counter,
        labels: &["kind", "change"],
        help: "Rows reconcile found out of step with Clerk and repaired, by kind (users, organizations, ...) and change: created, updated, tombstoned.",
    },
    Metric {
        name: "hookgate_jobs_total",
        kind: Kind::Counter,
        labels: &["type", "outcome"],
        help: "Backfill and reconcile job attempts that ended, by type and outcome: done, retrying (Clerk unavailable), failed (for good: a refused or missing key), stopped (cancelled, or taken over).",
    },
    Metric {
        name: "hookgate_processing_lag_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "Time from the Clerk event's timestamp to its row being applied: the freshness of the synced tables.",
    },
    Metric {
        name: "hookgate_queue_wait_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "Time from an event being stored to its being applied: hookgate's own share of the lag.",
    },
    Metric {
        name: "hookgate_worker_batch_size",
        kind: Kind::Histogram,
        labels: &[],
        help: "Events claimed per worker batch.",
    },
    Metric {
        name: "hookgate_forward_deliveries_total",
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Forwarding attempts, by outcome: delivered (2xx), retry (failed, tried again later), dead (out of attempts), lease_lost.",
    },
    Metric {
        name: "hookgate_destination_health_changes_total",
        kind: Kind::Counter,
        labels: &["change"],
        help: "Destinations whose health changed: circuit_opened (too many failures in a row), recovered (a probe succeeded), disabled (410 Gone, or failing for forward.disable_after).",
    },
    Metric {
        name: "hookgate_notifications_total",
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Attempts at sending operational notifications, by outcome: delivered (every recipient has it), retry, dead.",
    },
    Metric {
        name: "hookgate_forward_duration_seconds",
        kind: Kind::Histogram,
        labels: &[],
        help: "Time of one forwarding attempt, from sending to the destination's answer or the failure.",
    },
    Metric {
        name: "hookgate_forward_backlog",
        kind: Kind::Gauge,
        labels: &["status"],
        help: "Deliveries not done, by status: pending, failed (waiting for a retry), dead (waiting for a replay).",
    },
    Metric {
        name: "hookgate_inbox_events",
        kind: Kind::Gauge,
        labels: &["status"],
        help: "Events not done, by status: pending, failed (waiting for a retry), dead (waiting for an operator).",
    },
    Metric {
        name: "hookgate_inbox_oldest_waiting_age_seconds",
        kind: Kind::Gauge,
        labels: &[],
        help: "Age of the oldest event still waiting to be applied (pending or failed); 0 when none waits.",
    },
    Metric {
        name: "hookgate_db_pool_connections",
        kind: Kind::Gauge,
        labels: &["pool", "state"],
        help: "Database connections by pool (writer and reader on SQLite, main on PostgreSQL) and state (in_use, idle).",
    },
    Metric {
        name: "hookgate_db_pool_max_connections",
        kind: Kind::Gauge,
        labels: &["pool"],
        help: "Size limit of each database connection pool.",
    },
    Metric {
        name: "hookgate_metrics_sample_errors_total",
        kind: Kind::Counter,
        labels: &[],
        help: "Times the inbox gauges could not be sampled (database unavailable); the gauges keep their last values.",
    },
];

/// The process's Prometheus recorder, installed on first use, with every catalogued metric
/// described. `None` when another recorder was installed first.
pub fn recorder() -> Option<PrometheusHandle> {
    static HANDLE: std::sync::OnceLock<Option<PrometheusHandle>> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Seconds: from sub-millisecond ingest to hours of retry lag.
            let seconds = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 60.0, 600.0, 3600.0,
            ];
            let sizes = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
            let handle = PrometheusBuilder::new()
                .set_buckets(&seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_size".into()), &sizes))
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|err| tracing::warn!(%err, "metrics recorder not installed"))
                .ok()?;
            for metric in CATALOGUE {
                match metric.kind {
                    Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
                    Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
                    Kind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
                }
            }
            Some(handle)
        })
        .clone()
}

/// Samples the connection pools, and the inbox backlog when `backlog` (processes that run
/// workers: the backlog is the same database for every process, so API processes leave it out),
/// every `interval` until aborted.
pub async fn sample_gauges(store: Store, interval: Duration, backlog: bool) {
    // Present from the start, so a rate over it is defined before the first failure.
    metrics::counter!("hookgate_metrics_sample_errors_total").increment(0);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        sample_once(&store, interval, backlog).await;
    }
}

/// One sample. A backlog query that cannot finish within `deadline` is skipped, so an
/// unreachable database never piles up samplers.
pub async fn sample_once(store: &Store, deadline: Duration, backlog: bool) {
    for pool in store.pool_usage() {
        metrics::gauge!("hookgate_db_pool_connections", "pool" => pool.pool, "state" => "in_use")
            .set(f64::from(pool.in_use));
        metrics::gauge!("hookgate_db_pool_connections", "pool" => pool.pool, "state" => "idle")
            .set(f64::from(pool.idle));
        metrics::gauge!("hookgate_db_pool_max_connections", "pool" => pool.pool)
            .set(f64::from(pool.max));
    }
    if !backlog {
        return;
    }
    match tokio::time::timeout(deadline, store.backlog()).await {
        Ok(Ok(backlog)) => {
            for (status, count) in [
                ("pending", backlog.pending),
                ("failed", backlog.failed),
                ("dead", backlog.dead),
            ] {
                metrics::gauge!("hookgate_inbox_events", "status" => status).set(count as f64);
            }
            let age = backlog.oldest_waiting_received_at.map_or(0.0, |at| {
                (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("hookgate_inbox_oldest_waiting_age_seconds").set(age);
        }
        Ok(Err(err)) => {
            metrics::counter!("hookgate_metrics_sample_errors_total").increment(1);
            tracing::debug!(%err, "sampling the inbox gauges failed");
            return;
        }
        Err(_) => {
            metrics::counter!("hookgate_metrics_sample_errors_total").increment(1);
            tracing::debug!("sampling the inbox gauges timed out");
            return;
        }
    }
    match tokio::time::timeout(deadline, store.delivery_backlog()).await {
        Ok(Ok(backlog)) => {
            for (status, count) in [
                ("pending", backlog.pending),
                ("failed", backlog.failed),
                ("dead", backlog.dead),
            ] {
                metrics::gauge!("hookgate_forward_backlog", "status" => status).set(count as f64);
            }
        }
        Ok(Err(err)) => {
            metrics::counter!("hookgate_metrics_sample_errors_total").increment(1);
            tracing::debug!(%err, "sampling the delivery gauges failed");
        }
        Err(_) => {
            metrics::counter!("hookgate_metrics_sample_errors_total").increment(1);
            tracing::debug!("sampling the delivery gauges timed out");
        }
    }
}
