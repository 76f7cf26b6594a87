//! Each process's heartbeat in the `processes` table, and what it learns from the others: how
//! many processes take deliveries, so that each enforces its share of every tenant's rate limit.
//! No coordinator and nothing beyond the database: a process that stops removes its row, one
//! that is killed stops counting once its heartbeat is three intervals old.

use std::time::Duration;

use chrono::Utc;
use hookgate_store::{Store, StoreError, Uuid};

use crate::Registry;

/// Roles whose processes take deliveries and so share the ingest rate limits.
const INGEST_ROLES: [&str; 2] = ["api", "all"];

/// Heartbeats missed before a process no longer counts.
const LIVE_FOR: u32 = 3;

/// Rows of processes silent this many heartbeats are deleted (by whichever process sees them).
const FORGET_AFTER: u32 = 30;

/// This process's entry in the `processes` table.
#[derive(Debug, Clone)]
pub struct Presence {
    store: Store,
    id: Uuid,
    role: &'static str,
    host: String,
    interval: Duration,
}

impl Presence {
    /// `role` is `api`, `worker` or `all`.
    pub fn new(store: Store, role: &'static str, interval: Duration) -> Self {
        Self {
            store,
            id: Uuid::now_v7(),
            role,
            host: host_name(),
            interval,
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Records this process as alive and sets `registry`'s share to the live processes that
    /// take deliveries (this one included when it does). Returns that number.
    pub async fn beat(&self, registry: &Registry) -> Result<u32, StoreError> {
        let now = Utc::now();
        self.store
            .heartbeat(self.id, self.role, &self.host, now)
            .await?;
        let live = self
            .store
            .live_processes(now - self.interval * LIVE_FOR)
            .await?;
        let ingest = live
            .iter()
            .filter(|p| INGEST_ROLES.contains(&p.role.as_str()))
            .count();
        let n = u32::try_from(ingest).unwrap_or(u32::MAX).max(1);
        let previous = registry.share().processes();
        registry.share().set_processes(n);
        if previous != n {
            tracing::info!(
                processes = n,
                "processes taking deliveries changed; each enforces 1/{n} of every tenant's rate limit"
            );
        }
        // Only keeps the table small: the count above already ignores silent processes.
        if let Err(err) = self
            .store
            .remove_stale_processes(now - self.interval * FORGET_AFTER)
            .await
        {
            tracing::debug!(%err, "removing the rows of stopped processes failed");
        }
        Ok(n)
    }

    /// Beats every interval for as long as the task running it lives. A failed beat keeps the
    /// last share: the database being away is no reason to lift or tighten limits.
    pub async fn run(self, registry: Registry) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = self.beat(&registry).await {
                tracing::warn!(%err, "recording this process's heartbeat failed");
            }
        }
    }

    /// Removes this process's row, so the others take up its share at their next beat.
    pub async fn leave(&self) {
        if let Err(err) = self.store.remove_process(self.id).await {
            tracing::warn!(%err, "removing this process from the processes table failed");
        }
    }
}

/// The host's name (a pod's name on Kubernetes), for operators reading the table.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().chars().take(255).collect::<String>())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
