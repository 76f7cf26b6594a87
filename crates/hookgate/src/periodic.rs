//! What a process does on a timer or on a signal from the database, beside serving requests:
//! retention, scheduled reconciles, and wake-ups from other processes.

use std::sync::Arc;
use std::time::Duration;

use hookgate_store::{Store, Wakeup};
use tokio::sync::Notify;

use crate::settings::RetentionSettings;

/// Deletes processed events past their retention, every `interval_ms`.
pub async fn retain(store: Store, retention: RetentionSettings) {
    let mut ticker = tokio::time::interval(Duration::from_millis(retention.interval_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let cutoff =
            chrono::Utc::now() - chrono::Duration::days(i64::from(retention.processed_days));
        match store.purge_processed_before(cutoff).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, %cutoff, "retention removed processed events"),
            Err(err) => tracing::warn!(%err, "retention could not run; it tries again later"),
        }
    }
}

/// Queues a reconcile of every kind for each tenant with a Clerk key whose last one began more
/// than `interval` ago (and that has no job open), checking every minute at most.
pub async fn schedule_reconciles(store: Store, interval: Duration) {
    let check = interval.min(Duration::from_secs(60));
    let kinds: Vec<&str> = hookgate_clerk::ListKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    loop {
        let since = chrono::Utc::now()
            - chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::days(1));
        match store.reconcile_due(since).await {
            Ok(due) => {
                for tenant_id in due {
                    match store
                        .create_job(tenant_id, hookgate_store::JobType::Reconcile, &kinds)
                        .await
                    {
                        Ok(Ok(job)) => {
                            tracing::info!(%tenant_id, job_id = %job.id, "scheduled reconcile queued");
                        }
                        // Another process queued one first.
                        Ok(Err(_)) => {}
                        Err(err) => tracing::warn!(%err, "could not queue a scheduled reconcile"),
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "could not look for reconciles due"),
        }
        tokio::time::sleep(check).await;
    }
}

/// Wakes this process's workers and forwarders when another process (or this one) makes work
/// due, on PostgreSQL; returns at once on SQLite. A lost connection is opened again after a
/// second, waking everyone meanwhile: polling covers the gap, and nothing waits on it.
pub async fn relay_wakeups(store: Store, events: Arc<Notify>, deliveries: Arc<Notify>) {
    loop {
        let mut wakeups = match store.listen().await {
            Ok(Some(wakeups)) => wakeups,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(%err, "cannot listen for wake-ups; polling until it can");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        tracing::debug!("listening for wake-ups from other processes");
        loop {
            match wakeups.next().await {
                Ok(Wakeup::Events) => events.notify_one(),
                Ok(Wakeup::Deliveries) => deliveries.notify_one(),
                Ok(Wakeup::Missed) => {
                    events.notify_one();
                    deliveries.notify_one();
                }
                Err(err) => {
                    tracing::warn!(%err, "lost the wake-up connection; polling until it is back");
                    events.notify_one();
                    deliveries.notify_one();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
