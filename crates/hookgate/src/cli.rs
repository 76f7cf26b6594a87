//! The command line: `hookgate serve`, `hookgate migrate` and tenant management.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use hookgate_tenancy::{AdminTokens, DestinationSpec, Tenancy, TenantSlug};
use hookgate_verify::Secret;

use hookgate_events::EventFilter;
use hookgate_store::{
    DeliveryQuery, DeliveryStatus, EventQuery, InboxStatus, InboxSummary, Store, Uuid,
};

use crate::inspect;
use crate::settings::Settings;
use crate::startup::{self, Application, Role};

#[derive(Debug, Parser)]
#[command(
    name = "hookgate",
    version,
    about = "A multi-tenant gateway for Clerk webhooks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// `api` takes deliveries, `worker` applies them, `all` does both.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants (one per Clerk application).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Look at and manage stored Clerk events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Operator credentials.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the OpenAPI document of the HTTP APIs.
    Openapi,
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the key that encrypts stored secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret (tenants' signing secrets, destinations' secrets) under
    /// `secrets.key`, decrypting with it or any of `secrets.previous_keys`. All or nothing. Run it
    /// after deploying a new key with the old one in `previous_keys`; then drop `previous_keys`.
    Rekey,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the settings (files and `HOOKGATE__*` variables), then print the
    /// effective configuration as TOML with secrets redacted. Exits non-zero, naming the key, when
    /// a setting is invalid or unknown.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make a new admin token: prints the token (keep it secret) and the hash to add to
    /// `admin.token_hashes`.
    Token,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a tenant API key for the tenant API (`/v1`); the key is shown once.
    Create {
        slug: TenantSlug,
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List a tenant's API keys (prefixes only).
    List { slug: TenantSlug },
    /// Revoke a key: refused from the next request on.
    Revoke { slug: TenantSlug, id: Uuid },
}

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
        before: Option<chrono::DateTime<chrono::Utc>>,
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
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// One event by its hookgate id; repeat for several.
    #[arg(long = "id")]
    ids: Vec<Uuid>,
}

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
    List,
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

#[derive(Debug, Subcommand)]
pub enum DestinationCommand {
    /// Forward the tenant's events matching `--event-type` to `url`, signed with a secret of the
    /// destination's own (given, or generated and printed once).
    Add {
        slug: TenantSlug,
        url: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// Event type pattern (`user.*`, `session.created`); repeat for several. Every event
        /// when absent.
        #[arg(long = "event-type")]
        event_types: Vec<EventFilter>,
        #[arg(long, env = "HOOKGATE_DESTINATION_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// List a tenant's destinations.
    List { slug: TenantSlug },
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
    },
    /// Send a destination's failed and dead deliveries again.
    Replay { slug: TenantSlug, id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Add a signing secret, for example Clerk's new one during a rotation.
    Add {
        slug: TenantSlug,
        #[arg(long, env = "HOOKGATE_SIGNING_SECRET", hide_env_values = true)]
        secret: String,
        /// Stop accepting this secret after this long (`90s`, `30m`, `24h`, `7d`).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// Rotation: stop accepting the tenant's other secrets after this long (`24h` matches
        /// the window in which Svix signs with both the old and the new secret).
        #[arg(long, value_parser = parse_duration)]
        retire_others_in: Option<Duration>,
    },
    /// List a tenant's signing secrets (metadata only).
    List { slug: TenantSlug },
    /// Rotate: a new secret (given, or generated and printed once) valid now; the others keep
    /// verifying for the grace period.
    Rotate {
        slug: TenantSlug,
        #[arg(long, env = "HOOKGATE_SIGNING_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[arg(long, value_parser = parse_duration, default_value = "24h")]
        grace: Duration,
    },
    /// Stop accepting one secret now.
    Revoke { slug: TenantSlug, id: Uuid },
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { role } => {
            let app = Application::build(&settings, role).await?;
            app.run_until_stopped(startup::shutdown_signal()).await
        }
        Command::Migrate => {
            let store = startup::connect(&settings).await?;
            store
                .migrate()
                .await
                .context("applying database migrations")?;
            println!("database schema is up to date");
            store.close().await;
            Ok(())
        }
        Command::Tenant(command) => tenant(command, &settings).await,
        Command::Secrets(SecretsCommand::Rekey) => {
            let store = startup::connect(&settings).await?;
            let tenancy = Tenancy::new(store.clone(), settings.secret_cipher()?, None);
            let rekeyed = tenancy
                .rekey()
                .await
                .context("re-encrypting the stored secrets (nothing was changed)")?;
            println!(
                "{rekeyed} stored secrets re-encrypted under secrets.key; secrets.previous_keys can now be removed"
            );
            store.close().await;
            Ok(())
        }
        Command::Events(command) => events(command, Some(&settings)).await,
        Command::Openapi => {
            print!("{}", hookgate_http::openapi_document());
            Ok(())
        }
        Command::Config(ConfigCommand::Check) => {
            print!("{}", settings.effective_toml()?);
            eprintln!("settings are valid (HOOKGATE_ENV={})", settings.environment);
            Ok(())
        }
        Command::Admin(AdminCommand::Token) => {
            let (token, hash) = AdminTokens::generate()?;
            println!(
                "admin token (shown once, keep it secret): {}",
                token.expose()
            );
            println!("add its hash to admin.token_hashes: {hash}");
            Ok(())
        }
    }
}

pub async fn events(command: EventsCommand, settings: Option<&Settings>) -> anyhow::Result<()> {
    if let EventsCommand::Inspect { file } = &command {
        println!("{}", inspect::inspect(file)?);
        return Ok(());
    }
    let settings = settings.context("settings are needed for this command")?;
    let store = startup::connect(settings).await?;
    let result = events_with_store(command, &store).await;
    store.close().await;
    result
}

async fn events_with_store(command: EventsCommand, store: &Store) -> anyhow::Result<()> {
    let tenant_of = |slug: &TenantSlug| {
        let slug = slug.clone();
        async move {
            store
                .find_tenant_by_slug(slug.as_str())
                .await?
                .with_context(|| format!("tenant `{slug}` does not exist"))
        }
    };
    match command {
        EventsCommand::Inspect { .. } => Ok(()),
        EventsCommand::List {
            tenant,
            filter,
            limit,
        } => {
            let tenant = tenant_of(&tenant).await?;
            let events = filter.select(store, tenant.id, Some(limit), &[]).await?;
            println!(
                "{:<38} {:<34} {:<8} {:>3} {:<32} error",
                "id", "type", "status", "try", "received"
            );
            for e in events {
                println!(
                    "{:<38} {:<34} {:<8} {:>3} {:<32} {}",
                    e.id,
                    e.event_type.as_deref().unwrap_or("-"),
                    e.status.as_str(),
                    e.attempts,
                    e.received_at.to_rfc3339(),
                    e.last_error.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        EventsCommand::Show { tenant, id } => {
            let tenant = tenant_of(&tenant).await?;
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
            println!(
                "body ({} bytes):\n{}",
                event.body.len(),
                String::from_utf8_lossy(&event.body)
            );
            Ok(())
        }
        EventsCommand::Stats { tenant } => {
            let tenant = tenant_of(&tenant).await?;
            let stats = store.queue_stats(tenant.id).await?;
            for (status, count) in &stats.counts {
                println!("{:<8} {count}", status.as_str());
            }
            if let Some(at) = stats.oldest_waiting_received_at {
                println!(
                    "oldest waiting event received {}s ago",
                    (chrono::Utc::now() - at).num_seconds()
                );
            }
            if let Some(lag) = stats.recent_lag_ms {
                println!("recent lag {lag:.1} ms (received to processed, last 100 events)");
            }
            Ok(())
        }
        EventsCommand::Replay { tenant, filter } => {
            let tenant = tenant_of(&tenant).await?;
            let events = filter
                .select(store, tenant.id, None, &[InboxStatus::Dead])
                .await?;
            let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
            let replayed = store.replay_inbox_events(tenant.id, &ids).await?;
            println!("{replayed} events of {} put back in the queue", tenant.slug);
            Ok(())
        }
        EventsCommand::PurgeDead { tenant, before } => {
            let tenant = tenant_of(&tenant).await?;
            let purged = store
                .purge_dead_events(tenant.id, before.unwrap_or_else(chrono::Utc::now))
                .await?;
            println!("{purged} dead events of {} deleted", tenant.slug);
            Ok(())
        }
    }
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

fn parse_status(text: &str) -> Result<InboxStatus, hookgate_store::UnknownStatus> {
    text.parse()
}

/// An RFC 3339 time, or an age (`90s`, `30m`, `24h`, `7d`) before now.
fn parse_when(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let age = parse_duration(text)
        .map_err(|_| format!("`{text}` is neither an RFC 3339 time nor an age such as 24h"))?;
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        .ok_or_else(|| format!("`{text}` reaches too far back"))
}

async fn tenant(command: TenantCommand, settings: &Settings) -> anyhow::Result<()> {
    let store = startup::connect(settings).await?;
    if settings.database.migrate_on_start {
        store
            .migrate()
            .await
            .context("applying database migrations")?;
    }
    let tenancy = Tenancy::new(store.clone(), settings.secret_cipher()?, None);
    let result = match command {
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
            Ok(())
        }
        TenantCommand::List => {
            let tenants = tenancy.list().await?;
            println!("{:<32} {:<8} {:<38} name", "slug", "enabled", "id");
            for t in tenants {
                println!("{:<32} {:<8} {:<38} {}", t.slug, t.enabled, t.id, t.name);
            }
            Ok(())
        }
        TenantCommand::Secret(SecretCommand::Add {
            slug,
            secret,
            expires_in,
            retire_others_in,
        }) => {
            let secret = parse_secret(&secret)?;
            let expires_at = from_now(expires_in).context("--expires-in is too long")?;
            let retire_at = from_now(retire_others_in).context("--retire-others-in is too long")?;
            let id = tenancy
                .add_secret(&slug, &secret, expires_at, retire_at)
                .await?;
            match expires_at {
                Some(at) => println!("added signing secret {id} to {slug}, valid until {at}"),
                None => println!("added signing secret {id} to {slug}"),
            }
            if let Some(at) = retire_at {
                println!("the other signing secrets of {slug} stop verifying at {at}");
            }
            Ok(())
        }
        TenantCommand::Show { slug } => {
            let t = tenancy.get(&slug).await?;
            println!("slug:               {}", t.slug);
            println!("id:                 {}", t.id);
            println!("name:               {}", t.name);
            println!("enabled:            {}", t.enabled);
            let or_default =
                |v: Option<i64>| v.map_or_else(|| "default".to_owned(), |v| v.to_string());
            println!("tolerance_secs:     {}", or_default(t.tolerance_secs));
            println!("max_body_bytes:     {}", or_default(t.max_body_bytes));
            println!("rate_limit_per_sec: {}", or_default(t.rate_limit_per_sec));
            println!("rate_limit_burst:   {}", or_default(t.rate_limit_burst));
            println!(
                "instance_id:        {}",
                t.instance_id.as_deref().unwrap_or("any")
            );
            println!("created_at:         {}", t.created_at.to_rfc3339());
            Ok(())
        }
        TenantCommand::Secret(SecretCommand::List { slug }) => {
            println!("{:<38} {:<8} {:<34} expires", "id", "active", "created");
            let now = chrono::Utc::now();
            for s in tenancy.secrets(&slug).await? {
                let active = hookgate_tenancy::is_secret_active(&s, now);
                let expires = s
                    .expires_at
                    .map_or_else(|| "never".to_owned(), |t| t.to_rfc3339());
                println!(
                    "{:<38} {:<8} {:<34} {expires}",
                    s.id,
                    active,
                    s.created_at.to_rfc3339()
                );
            }
            Ok(())
        }
        TenantCommand::Secret(SecretCommand::Rotate {
            slug,
            secret,
            grace,
        }) => {
            let secret = secret.as_deref().map(parse_secret).transpose()?;
            let grace = chrono::Duration::from_std(grace).context("--grace is too long")?;
            let (id, generated, retire_at) = tenancy.rotate_secret(&slug, secret, grace).await?;
            println!(
                "added signing secret {id} to {slug}; the previous ones verify until {}",
                retire_at
            );
            if let Some(secret) = generated {
                println!(
                    "signing secret (shown once, store it now): {}",
                    secret.expose_encoded()
                );
            }
            Ok(())
        }
        TenantCommand::Secret(SecretCommand::Revoke { slug, id }) => {
            if tenancy.revoke_secret(&slug, id).await? {
                println!("signing secret {id} of {slug} revoked");
                Ok(())
            } else {
                anyhow::bail!("{slug} has no signing secret {id}")
            }
        }
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
            let patch = hookgate_store::TenantPatch {
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
            Ok(())
        }
        TenantCommand::Delete { slug, confirm } => {
            if confirm != slug.as_str() {
                anyhow::bail!(
                    "deleting a tenant deletes all its data: repeat its slug with --confirm {slug}"
                );
            }
            tenancy.delete(&slug).await?;
            println!("tenant {slug} and all its data deleted");
            Ok(())
        }
        TenantCommand::Key(KeyCommand::Create { slug, name }) => {
            let (key, secret) = tenancy.create_api_key(&slug, &name).await?;
            println!("created API key {} ({}) for {slug}", key.id, key.prefix);
            println!("API key (shown once, store it now): {}", secret.expose());
            Ok(())
        }
        TenantCommand::Key(KeyCommand::List { slug }) => {
            println!("{:<38} {:<18} {:<10} name", "id", "prefix", "state");
            for key in tenancy.list_api_keys(&slug).await? {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "{:<38} {:<18} {:<10} {}",
                    key.id, key.prefix, state, key.name
                );
            }
            Ok(())
        }
        TenantCommand::Key(KeyCommand::Revoke { slug, id }) => {
            if tenancy.revoke_api_key(&slug, id).await? {
                println!("API key {id} of {slug} revoked");
                Ok(())
            } else {
                anyhow::bail!("{slug} has no live API key {id}")
            }
        }
        TenantCommand::Destination(command) => destination(command, &tenancy, &store).await,
        TenantCommand::Disable { slug } => {
            tenancy.set_enabled(&slug, false).await?;
            println!("tenant {slug} disabled");
            Ok(())
        }
        TenantCommand::Enable { slug } => {
            tenancy.set_enabled(&slug, true).await?;
            println!("tenant {slug} enabled");
            Ok(())
        }
    };
    store.close().await;
    result
}

async fn destination(
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
            };
            let generated = secret.is_none();
            let created = tenancy.create_destination(&slug, spec, secret).await?;
            let d = &created.destination;
            println!(
                "created destination {} for {slug}: {} ({})",
                d.id, d.url, d.event_types
            );
            if generated {
                println!(
                    "signing secret (shown once; the receiver verifies with it): {}",
                    created.secret.expose_encoded()
                );
            }
        }
        DestinationCommand::List { slug } => {
            println!("{:<38} {:<9} {:<24} url", "id", "state", "event types");
            for d in tenancy.destinations(&slug).await? {
                let state = if d.enabled { "enabled" } else { "disabled" };
                println!("{:<38} {state:<9} {:<24} {}", d.id, d.event_types, d.url);
            }
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
        } => {
            let destination = tenancy
                .destination(&slug, id)
                .await?
                .with_context(|| format!("{slug} has no destination {id}"))?;
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
            println!(
                "{:<38} {:<8} {:>8} {:>6}  last error",
                "id", "status", "attempts", "http"
            );
            for d in store.list_deliveries(destination.tenant_id, &query).await? {
                println!(
                    "{:<38} {:<8} {:>8} {:>6}  {}",
                    d.id,
                    d.status.as_str(),
                    d.attempts,
                    d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                    d.last_error.unwrap_or_default()
                );
            }
        }
        DestinationCommand::Replay { slug, id } => {
            let destination = tenancy
                .destination(&slug, id)
                .await?
                .with_context(|| format!("{slug} has no destination {id}"))?;
            let replayed = store
                .replay_deliveries(destination.tenant_id, Some(id), &[])
                .await?;
            println!("{replayed} deliveries of destination {id} queued again");
        }
    }
    Ok(())
}

fn from_now(duration: Option<Duration>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    duration
        .map(|d| {
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| chrono::Utc::now().checked_add_signed(d))
                .context("the time would be past the year 262143")
        })
        .transpose()
}

fn parse_secret(text: &str) -> anyhow::Result<Secret> {
    Secret::parse(text).map_err(|err| anyhow::anyhow!("--secret: {err}"))
}

/// Parses `90s`, `30m`, `24h` or `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 30m, 24h or 7d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` needs a unit: s, m, h or d")),
    };
    number
        .checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn slugs_are_validated_by_the_parser() {
        assert!(Cli::try_parse_from(["hookgate", "tenant", "create", "Bad_Slug"]).is_err());
        assert!(Cli::try_parse_from(["hookgate", "tenant", "create", "acme"]).is_ok());
    }
}
