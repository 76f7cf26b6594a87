//! `hookgate tenant clerk-key|backfill|reconcile|jobs`: a tenant's Clerk secret key, and the jobs
//! that copy its instance's objects into its tables (backfill) or repair them (reconcile).

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use hookgate_store::{Cancelled, Job, JobState, JobType, KindProgress, Store, Uuid};
use hookgate_tenancy::{ClerkSecretKey, ListKind, Tenancy, TenantSlug};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::output::{self, Column, Format, Line, Row};
use crate::settings::Settings;
use crate::startup;

#[derive(Subcommand)]
pub enum ClerkKeyCommand {
    /// Store the tenant's Clerk secret key (`sk_live_…` or `sk_test_…`), encrypted; it is never
    /// shown again. Backfill and reconcile read Clerk's Backend API with it.
    Set {
        slug: TenantSlug,
        /// The key; read from HOOKGATE_CLERK_SECRET_KEY when left out (keeps it out of the
        /// shell's history).
        #[arg(long, env = "HOOKGATE_CLERK_SECRET_KEY", hide_env_values = true)]
        key: String,
    },
    /// Remove the tenant's Clerk secret key.
    Clear { slug: TenantSlug },
    /// Whether the tenant has a Clerk secret key, and for which kind of instance.
    Show { slug: TenantSlug },
}

impl std::fmt::Debug for ClerkKeyCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Set { slug, .. } => write!(f, "Set {{ slug: {slug}, key: [redacted] }}"),
            Self::Clear { slug } => write!(f, "Clear {{ slug: {slug} }}"),
            Self::Show { slug } => write!(f, "Show {{ slug: {slug} }}"),
        }
    }
}

/// What `tenant backfill` and `tenant reconcile` take.
#[derive(Debug, Clone, clap::Args)]
pub struct JobArgs {
    pub slug: TenantSlug,
    /// Comma-separated kinds (users, organizations, organization_memberships,
    /// organization_invitations, organization_domains, roles, permissions, waitlist_entries);
    /// every kind when left out.
    #[arg(long)]
    pub kinds: Option<String>,
    /// Run the job here and show its progress until it is over (a running server's workers may
    /// take it instead; this then follows it), then print the totals.
    #[arg(long)]
    pub wait: bool,
}

pub(super) async fn clerk_key(command: ClerkKeyCommand, tenancy: &Tenancy) -> anyhow::Result<()> {
    match command {
        ClerkKeyCommand::Set { slug, key } => {
            let key =
                ClerkSecretKey::parse(key.trim()).map_err(|err| anyhow::anyhow!("--key: {err}"))?;
            let stored = tenancy.set_clerk_key(&slug, &key).await?;
            println!(
                "Clerk secret key of {slug} stored, encrypted ({} instance)",
                instance(stored.production)
            );
        }
        ClerkKeyCommand::Clear { slug } => {
            if !tenancy.clear_clerk_key(&slug).await? {
                bail!("{slug} has no Clerk secret key");
            }
            println!("Clerk secret key of {slug} removed");
        }
        ClerkKeyCommand::Show { slug } => match tenancy.clerk_key(&slug).await? {
            Some(key) => println!(
                "{slug} has a Clerk secret key for a {} instance, set {}",
                instance(key.production),
                key.created_at.to_rfc3339()
            ),
            None => bail!("{slug} has no Clerk secret key"),
        },
    }
    Ok(())
}

fn instance(production: bool) -> &'static str {
    if production {
        "production"
    } else {
        "development"
    }
}

/// `tenant backfill` / `tenant reconcile`: queues the job; with `--wait` runs and follows it.
pub(super) async fn start(
    args: JobArgs,
    job_type: JobType,
    tenancy: &Tenancy,
    store: &Store,
    settings: &Settings,
) -> anyhow::Result<()> {
    let kinds = match &args.kinds {
        Some(text) => {
            ListKind::parse_list(text).map_err(|err| anyhow::anyhow!("--kinds: {err}"))?
        }
        None => Vec::new(),
    };
    let job = tenancy.start_job(&args.slug, job_type, &kinds).await?;
    if !args.wait {
        println!("{}", job.id);
        eprintln!(
            "{} {} queued for {}; follow it with `hookgate tenant jobs {} {}`",
            job.job_type.as_str(),
            job.id,
            args.slug,
            args.slug,
            job.id
        );
        return Ok(());
    }
    let job = follow(job, tenancy, store, settings, &args.slug).await?;
    print_totals(&job);
    match job.state {
        JobState::Done => Ok(()),
        state => bail!(
            "the {} is {}: {}",
            job.job_type.as_str(),
            state.as_str(),
            job.error.as_deref().unwrap_or("no error recorded")
        ),
    }
}

/// Runs the job in this process when it is due and nobody else holds it, drawing a bar per kind
/// from its checkpoints, until it is over.
async fn follow(
    job: Job,
    tenancy: &Tenancy,
    store: &Store,
    settings: &Settings,
    slug: &TenantSlug,
) -> anyhow::Result<Job> {
    let runner = startup::job_runner(settings, store)?;
    let bars = Bars::new(&job);
    let id = job.id;
    let mut running: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let job = tenancy
            .job(slug, id)
            .await?
            .context("the job is gone (was the tenant deleted?)")?;
        bars.show(&job);
        if job.state.is_over() {
            bars.finish();
            if let Some(task) = running.take() {
                let _ = task.await;
            }
            return Ok(job);
        }
        let due = job
            .next_attempt_at
            .is_none_or(|at| at <= chrono::Utc::now());
        let idle = running.as_ref().is_none_or(|task| task.is_finished());
        if due && idle && matches!(job.state, JobState::Queued | JobState::Retrying) {
            let runner = runner.clone();
            running = Some(tokio::spawn(async move {
                if let Err(err) = runner.run_job(id).await {
                    tracing::warn!(%err, "running the job here stopped");
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One progress bar per kind, drawn on standard error when it is a terminal.
struct Bars {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Bars {
    fn new(job: &Job) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        // A fixed template: parsing it cannot fail.
        let style = ProgressStyle::with_template("{prefix:<26} {bar:30} {pos:>7}/{len:<7} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let mut bars = HashMap::new();
        for kind in &job.progress.kinds {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(style.clone());
            bar.set_prefix(kind.kind.clone());
            bars.insert(kind.kind.clone(), bar);
        }
        Self { multi, bars }
    }

    fn show(&self, job: &Job) {
        for kind in &job.progress.kinds {
            let Some(bar) = self.bars.get(&kind.kind) else {
                continue;
            };
            let length = kind.total.unwrap_or(kind.fetched).max(kind.fetched);
            bar.set_length(length);
            bar.set_position(kind.fetched);
            bar.set_message(summary(kind));
        }
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            bar.finish();
        }
        let _ = self.multi.clear();
    }
}

fn summary(kind: &KindProgress) -> String {
    let mut text = format!(
        "created {} updated {} unchanged {}",
        kind.created, kind.updated, kind.unchanged
    );
    if kind.tombstoned > 0 {
        text.push_str(&format!(" tombstoned {}", kind.tombstoned));
    }
    if kind.skipped > 0 {
        text.push_str(&format!(" skipped {}", kind.skipped));
    }
    if kind.done {
        text.push_str(" ✓");
    }
    text
}

fn print_totals(job: &Job) {
    println!(
        "{} {} {}",
        job.job_type.as_str(),
        job.id,
        job.state.as_str()
    );
    println!(
        "{:<26} {:>8} {:>8} {:>8} {:>9} {:>10} {:>7}",
        "kind", "listed", "created", "updated", "unchanged", "tombstoned", "skipped"
    );
    for kind in &job.progress.kinds {
        println!(
            "{:<26} {:>8} {:>8} {:>8} {:>9} {:>10} {:>7}",
            kind.kind,
            kind.fetched,
            kind.created,
            kind.updated,
            kind.unchanged,
            kind.tombstoned,
            kind.skipped
        );
        if kind.gaps > 0 {
            println!(
                "  {}: the listing may have missed objects deleted while it ran; nothing was tombstoned",
                kind.kind
            );
        }
    }
}

/// `tenant jobs <slug> [<id>] [--cancel]`.
pub(super) async fn jobs(
    slug: TenantSlug,
    id: Option<Uuid>,
    cancel: bool,
    format: Format,
    tenancy: &Tenancy,
) -> anyhow::Result<()> {
    let Some(id) = id else {
        return output::print_rows::<JobRow>(tenancy.jobs(&slug, 100).await?, format);
    };
    if cancel {
        return match tenancy.cancel_job(&slug, id).await? {
            Some(Cancelled::Now(_)) => {
                println!(
                    "job {id} of {slug} cancelled; a worker running it stops at its next page"
                );
                Ok(())
            }
            Some(Cancelled::AlreadyOver(job)) => {
                bail!("job {id} is {} already", job.state.as_str())
            }
            None => bail!("{slug} has no job {id}"),
        };
    }
    let job = tenancy
        .job(&slug, id)
        .await?
        .with_context(|| format!("{slug} has no job {id}"))?;
    if format.json {
        return output::print_json(&JobRow::from(job));
    }
    print_totals(&job);
    if let Some(error) = &job.error {
        println!("error: {error}");
    }
    Ok(())
}

/// A line of `tenant jobs`.
#[derive(Debug, Serialize)]
struct JobRow {
    id: Uuid,
    #[serde(rename = "type")]
    job_type: &'static str,
    state: &'static str,
    kinds: Vec<KindProgress>,
    attempts: i32,
    error: Option<String>,
    created_at: String,
    finished_at: Option<String>,
}

impl From<Job> for JobRow {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            job_type: job.job_type.as_str(),
            state: job.state.as_str(),
            kinds: job
                .progress
                .kinds
                .into_iter()
                .map(|k| KindProgress { cursor: None, ..k })
                .collect(),
            attempts: job.attempts,
            error: job.error,
            created_at: job.created_at.to_rfc3339(),
            finished_at: job.finished_at.map(|t| t.to_rfc3339()),
        }
    }
}

impl Row for JobRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("type", 10),
        Column::left("state", 10),
        Column::right("listed", 8),
        Column::right("changed", 8),
        Column::left("created_at", 26).after(2),
        Column::last("error"),
    ];

    fn cells(&self, line: &mut Line) {
        let listed: u64 = self.kinds.iter().map(|k| k.fetched).sum();
        let changed: u64 = self
            .kinds
            .iter()
            .map(|k| k.created + k.updated + k.tombstoned)
            .sum();
        line.cell(self.id)
            .cell(self.job_type)
            .cell(self.state)
            .cell(listed)
            .cell(changed)
            .cell(&self.created_at)
            .cell(self.error.as_deref().unwrap_or(""));
    }
}
