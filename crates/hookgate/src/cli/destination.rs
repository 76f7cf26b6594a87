//! `hookgate tenant destination …`: where a tenant's events are forwarded, and the deliveries
//! on their way there.

use anyhow::Context as _;
use clap::Subcommand;
use hookgate_events::{DestinationKind, EventFilter};
use hookgate_store::{Delivery, DeliveryQuery, DeliveryStatus, Destination, Store, Uuid};
use hookgate_tenancy::{DestinationChange, DestinationSpec, Tenancy, TenantSlug};
use hookgate_verify::Secret;
use serde::Serialize;

use super::output::{self, Column, Format, Line, Row};

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Forward the tenant's events matching `--event-type` to `url`, signed with a secret of the
    /// destination's own (given, or generated and printed once). The URL's scheme picks the
    /// kind: `https://` (signed POSTs), `nats://…?subject=`, `amqp://…?exchange=`,
    /// `redis://…?stream=` (queue messages are not signed).
    Add {
        slug: TenantSlug,
        /// Where to send; `{tenant}` and `{type}` may name a queue's subject, routing key or
        /// stream.
        url: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// Event type pattern (`user.*`, `session.created`); repeat for several. Every event
        /// when absent.
        #[arg(long = "event-type")]
        event_types: Vec<EventFilter>,
        #[arg(long, env = "HOOKGATE_DESTINATION_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// At most this many sends a second (1 to 10000), over every forwarder.
        #[arg(long)]
        max_per_sec: Option<u32>,
    },
    /// Change a destination: enable or disable it (enabling forgets its failures and closes its
    /// circuit), or set its rate limit.
    Update {
        slug: TenantSlug,
        id: Uuid,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// At most this many sends a second (1 to 10000); 0 removes the limit.
        #[arg(long)]
        max_per_sec: Option<u32>,
    },
    /// List a tenant's destinations.
    List {
        slug: TenantSlug,
        #[command(flatten)]
        format: Format,
    },
    /// Stop forwarding to a destination and forget its deliveries.
    Remove { slug: TenantSlug, id: Uuid },
    /// Show a destination's recent deliveries (newest first).
    Deliveries {
        slug: TenantSlug,
        id: Uuid,
        /// Only `pending`, `done`, `failed` or `dead` ones.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        #[command(flatten)]
        format: Format,
    },
    /// Send a destination's failed and dead deliveries again.
    Replay { slug: TenantSlug, id: Uuid },
}

pub(super) async fn run(
    command: DestinationCommand,
    tenancy: &Tenancy,
    store: &Store,
) -> anyhow::Result<()> {
    match command {
        DestinationCommand::Add {
            slug,
            url,
            name,
            event_types,
            secret,
            max_per_sec,
        } => {
            let secret = secret
                .as_deref()
                .map(Secret::parse)
                .transpose()
                .context("invalid --secret")?;
            let event_types = if event_types.is_empty() {
                vec!["*".to_owned()]
            } else {
                event_types.iter().map(|f| f.as_str().to_owned()).collect()
            };
            let spec = DestinationSpec {
                name,
                url,
                event_types,
                max_per_sec,
            };
            let generated = secret.is_none();
            let created = tenancy.create_destination(&slug, spec, secret).await?;
            let d = &created.destination;
            println!(
                "created destination {} for {slug}: {} ({})",
                d.id, d.url, d.event_types
            );
            // Queue messages are not signed: the secret would only mislead.
            let signed = DestinationKind::of_scheme(&d.url) == Some(DestinationKind::Http);
            if generated && signed {
                println!(
                    "signing secret (shown once; the receiver verifies with it): {}",
                    created.secret.expose_encoded()
                );
            }
        }
        DestinationCommand::Update {
            slug,
            id,
            enable,
            disable,
            max_per_sec,
        } => {
            let change = DestinationChange {
                enabled: (enable || disable).then_some(enable),
                max_per_sec: max_per_sec.map(|rate| (rate > 0).then_some(rate)),
                ..DestinationChange::default()
            };
            let d = tenancy
                .update_destination(&slug, id, change)
                .await?
                .with_context(|| format!("{slug} has no destination {id}"))?;
            let rate = d.max_per_sec.map_or("no rate limit".to_owned(), |rate| {
                format!("at most {rate}/s")
            });
            println!("destination {id} of {slug}: {}, {rate}", d.health_state());
        }
        DestinationCommand::List { slug, format } => {
            output::print_rows::<DestinationRow>(tenancy.destinations(&slug).await?, format)?;
        }
        DestinationCommand::Remove { slug, id } => {
            if !tenancy.delete_destination(&slug, id).await? {
                anyhow::bail!("{slug} has no destination {id}");
            }
            println!("destination {id} of {slug} removed");
        }
        DestinationCommand::Deliveries {
            slug,
            id,
            status,
            limit,
            format,
        } => {
            let tenant_id = tenant_of(tenancy, &slug, id).await?;
            let statuses = status
                .iter()
                .flat_map(|s| s.split(','))
                .map(|s| Ok(s.trim().parse::<DeliveryStatus>()?))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let query = DeliveryQuery {
                destination_id: Some(id),
                statuses,
                limit: Some(limit.clamp(1, 500)),
                ..DeliveryQuery::default()
            };
            let deliveries = store.list_deliveries(tenant_id, &query).await?;
            output::print_rows::<DeliveryRow>(deliveries, format)?;
        }
        DestinationCommand::Replay { slug, id } => {
            let tenant_id = tenant_of(tenancy, &slug, id).await?;
            let replayed = store.replay_deliveries(tenant_id, Some(id), &[]).await?;
            println!("{replayed} deliveries of destination {id} queued again");
        }
    }
    Ok(())
}

/// The id of the tenant owning destination `id`, which must be one of `slug`'s.
async fn tenant_of(tenancy: &Tenancy, slug: &TenantSlug, id: Uuid) -> anyhow::Result<Uuid> {
    let destination = tenancy
        .destination(slug, id)
        .await?
        .with_context(|| format!("{slug} has no destination {id}"))?;
    Ok(destination.tenant_id)
}

/// A line of `tenant destination list`: never the destination's signing secret.
#[derive(Debug, Serialize)]
struct DestinationRow {
    id: Uuid,
    name: String,
    url: String,
    kind: &'static str,
    event_types: Vec<String>,
    enabled: bool,
    /// `healthy`, `failing`, `circuit_open` or `disabled`.
    state: &'static str,
    consecutive_failures: i32,
    failing_since: Option<String>,
    circuit_opened_at: Option<String>,
    paused_until: Option<String>,
    disabled_reason: Option<String>,
    max_per_sec: Option<i32>,
    created_at: String,
    updated_at: String,
}

impl From<Destination> for DestinationRow {
    fn from(d: Destination) -> Self {
        Self {
            state: d.health_state(),
            consecutive_failures: d.consecutive_failures,
            failing_since: d.failing_since.map(|t| t.to_rfc3339()),
            circuit_opened_at: d.circuit_opened_at.map(|t| t.to_rfc3339()),
            paused_until: d.paused_until.map(|t| t.to_rfc3339()),
            disabled_reason: d.disabled_reason.clone(),
            max_per_sec: d.max_per_sec,
            event_types: d.event_type_patterns().map(str::to_owned).collect(),
            id: d.id,
            name: d.name,
            kind: DestinationKind::of_scheme(&d.url).map_or("unknown", DestinationKind::as_str),
            url: d.url,
            enabled: d.enabled,
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
        }
    }
}

impl Row for DestinationRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("state", 12),
        Column::left("event types", 24),
        Column::last("url"),
    ];

    fn cells(&self, line: &mut Line) {
        // Patterns are validated when stored and joined with bare commas, so this is the
        // stored text.
        line.cell(self.id)
            .cell(self.state)
            .cell(self.event_types.join(","))
            .cell(&self.url);
    }
}

/// A line of `tenant destination deliveries`.
#[derive(Debug, Serialize)]
struct DeliveryRow {
    id: Uuid,
    inbox_event_id: Uuid,
    status: &'static str,
    attempts: i32,
    /// The HTTP status of the destination's last answer; null when it never answered.
    last_status: Option<i32>,
    last_error: Option<String>,
    next_attempt_at: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
}

impl From<Delivery> for DeliveryRow {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            inbox_event_id: d.inbox_event_id,
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            next_attempt_at: d.next_attempt_at.map(|t| t.to_rfc3339()),
            created_at: d.created_at.to_rfc3339(),
            delivered_at: d.delivered_at.map(|t| t.to_rfc3339()),
        }
    }
}

impl Row for DeliveryRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("status", 8),
        Column::right("attempts", 8),
        Column::right("http", 6),
        Column::last("last error").after(2),
    ];

    fn cells(&self, line: &mut Line) {
        line.cell(self.id)
            .cell(self.status)
            .cell(self.attempts)
            .cell(self.last_status.map(|s| s.to_string()).unwrap_or_default())
            .cell(self.last_error.as_deref().unwrap_or_default());
    }
}
