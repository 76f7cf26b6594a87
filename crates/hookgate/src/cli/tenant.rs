//! `hookgate tenant …`: tenants, and through them their signing secrets, API keys and
//! destinations.

use anyhow::Context as _;
use clap::Subcommand;
use hookgate_store::{JobType, Store, Tenant, TenantPatch, Uuid};
use hookgate_tenancy::{Tenancy, TenantSlug};
use serde::Serialize;

use super::common::{self, parse_secret};
use super::jobs::{self, ClerkKeyCommand, JobArgs};
use super::output::{self, Column, Format, Line, Row};
use super::{
    DestinationCommand, KeyCommand, NotificationsCommand, SecretCommand, destination, key,
    notifications, secret,
};
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints a new signing secret when none is given.
    Create {
        slug: TenantSlug,
        /// Display name (defaults to the slug).
        #[arg(long)]
        name: Option<String>,
        /// Clerk's signing secret for this endpoint (`whsec_...`).
        #[arg(long, env = "HOOKGATE_SIGNING_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        format: Format,
    },
    /// One tenant's settings.
    Show { slug: TenantSlug },
    /// Manage a tenant's signing secrets.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Manage a tenant's API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage where a tenant's events are forwarded.
    #[command(subcommand)]
    Destination(DestinationCommand),
    /// Manage the tenant's Clerk secret key, which backfill and reconcile read Clerk with.
    #[command(subcommand, name = "clerk-key")]
    ClerkKey(ClerkKeyCommand),
    /// Where hookgate's own events about the tenant go (a destination disabled, a delivery
    /// dead…), signed; test the URL; list what was sent.
    #[command(subcommand)]
    Notifications(NotificationsCommand),
    /// Copy the objects the tenant's Clerk instance already holds into its tables, through the
    /// same guarded writes as webhooks (a newer webhook wins). Prints the job's id, or with
    /// `--wait` runs it here with a progress bar per kind.
    Backfill(JobArgs),
    /// List everything again, update what is newer in Clerk, tombstone what Clerk no longer
    /// has, and report the drift per kind.
    Reconcile(JobArgs),
    /// The tenant's backfill and reconcile jobs, newest first; one job with its id;
    /// `--cancel` stops it.
    Jobs {
        slug: TenantSlug,
        id: Option<Uuid>,
        #[arg(long, requires = "id")]
        cancel: bool,
        #[command(flatten)]
        format: Format,
    },
    /// Change a tenant's settings; `--clear` removes an override (`tolerance`, `body-limit`,
    /// `rate-limit`, `instance-id`).
    Update {
        slug: TenantSlug,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        tolerance_secs: Option<i64>,
        #[arg(long)]
        max_body_bytes: Option<i64>,
        #[arg(long)]
        rate_limit_per_sec: Option<i64>,
        #[arg(long)]
        rate_limit_burst: Option<i64>,
        /// Accept only events from this Clerk instance (`ins_…`).
        #[arg(long)]
        instance_id: Option<String>,
        #[arg(long, value_parser = ["tolerance", "body-limit", "rate-limit", "instance-id"])]
        clear: Vec<String>,
    },
    /// Delete a tenant with all its data; `--confirm` must repeat the slug.
    Delete {
        slug: TenantSlug,
        #[arg(long)]
        confirm: String,
    },
    /// Stop accepting deliveries for a tenant (they are answered 404).
    Disable { slug: TenantSlug },
    /// Accept deliveries for a disabled tenant again.
    Enable { slug: TenantSlug },
}

pub(super) async fn run(command: TenantCommand, settings: &Settings) -> anyhow::Result<()> {
    common::with_store(settings, async |store| {
        if settings.database.migrate_on_start {
            store
                .migrate()
                .await
                .context("applying database migrations")?;
        }
        let tenancy = common::tenancy(store, settings)?;
        match command {
            TenantCommand::Backfill(args) => {
                jobs::start(args, JobType::Backfill, &tenancy, store, settings).await
            }
            TenantCommand::Reconcile(args) => {
                jobs::start(args, JobType::Reconcile, &tenancy, store, settings).await
            }
            TenantCommand::Notifications(command) => {
                notifications::run(command, &tenancy, settings).await
            }
            command => run_with(command, &tenancy, store).await,
        }
    })
    .await
}

async fn run_with(command: TenantCommand, tenancy: &Tenancy, store: &Store) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create { slug, name, secret } => {
            let secret = secret.as_deref().map(parse_secret).transpose()?;
            let created = tenancy.create(&slug, name, secret).await?;
            println!(
                "created tenant {} ({})",
                created.tenant.slug, created.tenant.id
            );
            println!(
                "webhook endpoint: https://<your-host>/api/webhooks/{}",
                created.tenant.slug
            );
            if let Some(secret) = created.generated_secret {
                println!(
                    "signing secret (shown once, store it now): {}",
                    secret.expose_encoded()
                );
            }
        }
        TenantCommand::List { format } => {
            output::print_rows::<TenantRow>(tenancy.list().await?, format)?;
        }
        TenantCommand::Show { slug } => show(&tenancy.get(&slug).await?),
        TenantCommand::Secret(command) => secret::run(command, tenancy).await?,
        TenantCommand::Key(command) => key::run(command, tenancy).await?,
        TenantCommand::Destination(command) => destination::run(command, tenancy, store).await?,
        TenantCommand::ClerkKey(command) => jobs::clerk_key(command, tenancy).await?,
        TenantCommand::Jobs {
            slug,
            id,
            cancel,
            format,
        } => jobs::jobs(slug, id, cancel, format, tenancy).await?,
        // Run with the settings, above.
        TenantCommand::Backfill(_)
        | TenantCommand::Reconcile(_)
        | TenantCommand::Notifications(_) => {}
        TenantCommand::Update {
            slug,
            name,
            tolerance_secs,
            max_body_bytes,
            rate_limit_per_sec,
            rate_limit_burst,
            instance_id,
            clear,
        } => {
            let cleared = |what: &str| clear.iter().any(|c| c == what);
            let set = |value: Option<i64>, what: &str| {
                if cleared(what) {
                    Some(None)
                } else {
                    value.map(Some)
                }
            };
            let patch = TenantPatch {
                name,
                tolerance_secs: set(tolerance_secs, "tolerance"),
                max_body_bytes: set(max_body_bytes, "body-limit"),
                rate_limit_per_sec: set(rate_limit_per_sec, "rate-limit"),
                rate_limit_burst: set(rate_limit_burst, "rate-limit"),
                instance_id: if cleared("instance-id") {
                    Some(None)
                } else {
                    instance_id.map(Some)
                },
            };
            let tenant = tenancy.update(&slug, patch).await?;
            println!(
                "tenant {} updated: tolerance {:?} s, body limit {:?} B, rate {:?}/s (burst {:?}), instance {:?}",
                tenant.slug,
                tenant.tolerance_secs,
                tenant.max_body_bytes,
                tenant.rate_limit_per_sec,
                tenant.rate_limit_burst,
                tenant.instance_id
            );
        }
        TenantCommand::Delete { slug, confirm } => {
            if confirm != slug.as_str() {
                anyhow::bail!(
                    "deleting a tenant deletes all its data: repeat its slug with --confirm {slug}"
                );
            }
            tenancy.delete(&slug).await?;
            println!("tenant {slug} and all its data deleted");
        }
        TenantCommand::Disable { slug } => {
            tenancy.set_enabled(&slug, false).await?;
            println!("tenant {slug} disabled");
        }
        TenantCommand::Enable { slug } => {
            tenancy.set_enabled(&slug, true).await?;
            println!("tenant {slug} enabled");
        }
    }
    Ok(())
}

fn show(t: &Tenant) {
    println!("slug:               {}", t.slug);
    println!("id:                 {}", t.id);
    println!("name:               {}", t.name);
    println!("enabled:            {}", t.enabled);
    let or_default = |v: Option<i64>| v.map_or_else(|| "default".to_owned(), |v| v.to_string());
    println!("tolerance_secs:     {}", or_default(t.tolerance_secs));
    println!("max_body_bytes:     {}", or_default(t.max_body_bytes));
    println!("rate_limit_per_sec: {}", or_default(t.rate_limit_per_sec));
    println!("rate_limit_burst:   {}", or_default(t.rate_limit_burst));
    println!(
        "instance_id:        {}",
        t.instance_id.as_deref().unwrap_or("any")
    );
    println!("created_at:         {}", t.created_at.to_rfc3339());
}

/// A line of `tenant list`; absent overrides are null in JSON (the configured default applies).
#[derive(Debug, Serialize)]
struct TenantRow {
    id: Uuid,
    slug: String,
    name: String,
    enabled: bool,
    tolerance_secs: Option<i64>,
    max_body_bytes: Option<i64>,
    rate_limit_per_sec: Option<i64>,
    rate_limit_burst: Option<i64>,
    instance_id: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<Tenant> for TenantRow {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            slug: t.slug,
            name: t.name,
            enabled: t.enabled,
            tolerance_secs: t.tolerance_secs,
            max_body_bytes: t.max_body_bytes,
            rate_limit_per_sec: t.rate_limit_per_sec,
            rate_limit_burst: t.rate_limit_burst,
            instance_id: t.instance_id,
            created_at: t.created_at.to_rfc3339(),
            updated_at: t.updated_at.to_rfc3339(),
        }
    }
}

impl Row for TenantRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("slug", 32),
        Column::left("enabled", 8),
        Column::left("id", 38),
        Column::last("name"),
    ];

    fn cells(&self, line: &mut Line) {
        line.cell(&self.slug)
            .cell(self.enabled)
            .cell(self.id)
            .cell(&self.name);
    }
}
