//! `hookgate events …`: a tenant's stored Clerk events, and `inspect` for one body on its own.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use hookgate_events::EventFilter;
use hookgate_store::{EventQuery, InboxStatus, InboxSummary, QueueStats, Store, Tenant, Uuid};
use hookgate_tenancy::TenantSlug;
use serde::Serialize;

use super::common::{parse_status, parse_when};
use super::output::{self, Column, Format, Line, Row};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Decode one webhook body (a file, or `-` for stdin) and print what hookgate reads from it.
    Inspect { file: String },
    /// List a tenant's stored events, newest first.
    List {
        #[arg(long)]
        tenant: TenantSlug,
        #[command(flatten)]
        filter: EventFilterArgs,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        #[command(flatten)]
        format: Format,
    },
    /// One event: its state, its failed attempts and its body as received.
    Show {
        #[arg(long)]
        tenant: TenantSlug,
        id: Uuid,
    },
    /// A tenant's queue: counts by status, oldest waiting event, recent lag.
    Stats {
        #[arg(long)]
        tenant: TenantSlug,
        /// Print one JSON object instead of text: `counts` by status, then
        /// `oldest_waiting_received_at` and `recent_lag_ms` (null when there is none).
        #[arg(long)]
        json: bool,
    },
    /// Put a tenant's matching events back in the queue (applying is guarded, so this is safe).
    Replay {
        #[arg(long)]
        tenant: TenantSlug,
        #[command(flatten)]
        filter: EventFilterArgs,
    },
    /// Delete a tenant's dead events received before a time (default: now).
    PurgeDead {
        #[arg(long)]
        tenant: TenantSlug,
        /// RFC 3339 time, or an age such as `7d`.
        #[arg(long, value_parser = parse_when)]
        before: Option<DateTime<Utc>>,
    },
}

/// Which of a tenant's events a command means.
#[derive(Debug, clap::Args)]
pub struct EventFilterArgs {
    /// `pending`, `failed`, `done` or `dead`; repeat for several. Replay defaults to `dead`.
    #[arg(long = "status", value_parser = parse_status)]
    statuses: Vec<InboxStatus>,
    /// An event type or glob, such as `user.*` or `organization*.*`.
    #[arg(long = "type")]
    event_type: Option<EventFilter>,
    /// Received at or after: RFC 3339 time, or an age such as `24h`.
    #[arg(long, value_parser = parse_when)]
    since: Option<DateTime<Utc>>,
    /// One event by its hookgate id; repeat for several.
    #[arg(long = "id")]
    ids: Vec<Uuid>,
}

/// Every command but `inspect`, which [`super::events`] answers without a database.
pub(super) async fn run(command: EventsCommand, store: &Store) -> anyhow::Result<()> {
    match command {
        EventsCommand::Inspect { .. } => {}
        EventsCommand::List {
            tenant,
            filter,
            limit,
            format,
        } => {
            let tenant = tenant_of(store, &tenant).await?;
            let events = filter.select(store, tenant.id, Some(limit), &[]).await?;
            output::print_rows::<EventRow>(events, format)?;
        }
        EventsCommand::Show { tenant, id } => {
            let tenant = tenant_of(store, &tenant).await?;
            show(store, &tenant, id).await?;
        }
        EventsCommand::Stats { tenant, json } => {
            let tenant = tenant_of(store, &tenant).await?;
            let stats = store.queue_stats(tenant.id).await?;
            if json {
                output::print_json(&StatsView::from(stats))?;
            } else {
                print_stats(&stats);
            }
        }
        EventsCommand::Replay { tenant, filter } => {
            let tenant = tenant_of(store, &tenant).await?;
            let events = filter
                .select(store, tenant.id, None, &[InboxStatus::Dead])
                .await?;
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            let replayed = store.replay_inbox_events(tenant.id, &ids).await?;
            println!("{replayed} events of {} put back in the queue", tenant.slug);
        }
        EventsCommand::PurgeDead { tenant, before } => {
            let tenant = tenant_of(store, &tenant).await?;
            let purged = store
                .purge_dead_events(tenant.id, before.unwrap_or_else(Utc::now))
                .await?;
            println!("{purged} dead events of {} deleted", tenant.slug);
        }
    }
    Ok(())
}

async fn tenant_of(store: &Store, slug: &TenantSlug) -> anyhow::Result<Tenant> {
    store
        .find_tenant_by_slug(slug.as_str())
        .await?
        .with_context(|| format!("tenant `{slug}` does not exist"))
}

impl EventFilterArgs {
    /// The matching events; `default_statuses` applies when no `--status` was given.
    async fn select(
        &self,
        store: &Store,
        tenant_id: Uuid,
        limit: Option<u64>,
        default_statuses: &[InboxStatus],
    ) -> anyhow::Result<Vec<InboxSummary>> {
        let statuses = if self.statuses.is_empty() {
            default_statuses.to_vec()
        } else {
            self.statuses.clone()
        };
        let query = EventQuery {
            statuses,
            event_type: self.event_type.clone(),
            received_since: self.since,
            ids: self.ids.clone(),
            limit,
            ..EventQuery::default()
        };
        Ok(store.list_inbox_events(tenant_id, &query).await?)
    }
}

async fn show(store: &Store, tenant: &Tenant, id: Uuid) -> anyhow::Result<()> {
    let event = store
        .find_inbox_event(tenant.id, id)
        .await?
        .with_context(|| format!("{} has no event {id}", tenant.slug))?;
    println!("id:        {}", event.id);
    println!("svix-id:   {}", event.svix_id);
    println!("type:      {}", event.event_type.as_deref().unwrap_or("-"));
    println!("status:    {}", event.status);
    println!("attempts:  {}", event.attempts);
    println!("received:  {}", event.received_at.to_rfc3339());
    if let Some(at) = event.processed_at {
        println!("processed: {}", at.to_rfc3339());
    }
    if let Some(at) = event
        .next_attempt_at
        .filter(|_| event.status == InboxStatus::Failed)
    {
        println!("next try:  {}", at.to_rfc3339());
    }
    for attempt in store.event_attempts(tenant.id, id).await? {
        println!(
            "attempt {} at {}: {}: {}",
            attempt.attempt,
            attempt.at.to_rfc3339(),
            attempt.outcome,
            attempt.error
        );
    }
    for warning in event.decode_warnings() {
        println!("warning:   {}: {}", warning.path, warning.message);
    }
    println!(
        "body ({} bytes):\n{}",
        event.body.len(),
        String::from_utf8_lossy(&event.body)
    );
    Ok(())
}

fn print_stats(stats: &QueueStats) {
    for (status, count) in &stats.counts {
        println!("{:<8} {count}", status.as_str());
    }
    if let Some(at) = stats.oldest_waiting_received_at {
        println!(
            "oldest waiting event received {}s ago",
            (Utc::now() - at).num_seconds()
        );
    }
    if let Some(lag) = stats.recent_lag_ms {
        println!("recent lag {lag:.1} ms (received to processed, last 100 events)");
    }
}

/// A line of `events list`.
#[derive(Debug, Serialize)]
struct EventRow {
    id: Uuid,
    svix_id: String,
    /// As `events inspect` and the admin API name it.
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: &'static str,
    attempts: i32,
    received_at: String,
    processed_at: Option<String>,
    last_error: Option<String>,
}

impl From<InboxSummary> for EventRow {
    fn from(e: InboxSummary) -> Self {
        Self {
            id: e.id,
            svix_id: e.svix_id,
            event_type: e.event_type,
            status: e.status.as_str(),
            attempts: e.attempts,
            received_at: e.received_at.to_rfc3339(),
            processed_at: e.processed_at.map(|t| t.to_rfc3339()),
            last_error: e.last_error,
        }
    }
}

impl Row for EventRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("type", 34),
        Column::left("status", 8),
        Column::right("try", 3),
        Column::left("received", 32),
        Column::last("error"),
    ];

    fn cells(&self, line: &mut Line) {
        line.cell(self.id)
            .cell(self.event_type.as_deref().unwrap_or("-"))
            .cell(self.status)
            .cell(self.attempts)
            .cell(&self.received_at)
            .cell(self.last_error.as_deref().unwrap_or(""));
    }
}

/// `events stats --json`.
#[derive(Debug, Serialize)]
struct StatsView {
    /// Every status, zero included, so that scripts need not treat a missing one.
    counts: BTreeMap<&'static str, u64>,
    oldest_waiting_received_at: Option<String>,
    recent_lag_ms: Option<f64>,
}

impl From<QueueStats> for StatsView {
    fn from(stats: QueueStats) -> Self {
        let mut counts: BTreeMap<_, _> = InboxStatus::ALL.map(|s| (s.as_str(), 0)).into();
        for (status, count) in stats.counts {
            counts.insert(status.as_str(), count);
        }
        Self {
            counts,
            oldest_waiting_received_at: stats.oldest_waiting_received_at.map(|t| t.to_rfc3339()),
            recent_lag_ms: stats.recent_lag_ms,
        }
    }
}
