//! The job runner: claims backfill and reconcile jobs, lists each kind from Clerk's Backend API
//! page by page, and writes every page through the webhooks' guarded upsert with the checkpoint
//! after it. A job killed mid-way is resumed from its last checkpoint once its lease runs out
//! (a backfill fetches at most its current page twice); a reconcile restarts the kind it was on,
//! since what it saw of that listing is gone with the process.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hookgate_clerk::{ClerkClient, ClerkError, ClerkSecretKey, Cursor, ListKind, Page};
use hookgate_events::ClerkEvent;
use hookgate_store::{
    Job, JobEnd, JobProgress, JobType, ListedPage, RetryPolicy as _, Store, StoreError, Unlisted,
    Uuid,
};
use serde_json::value::RawValue;
use tokio::sync::watch;
use tracing::Instrument as _;

use crate::Backoff;

/// How far Clerk's clock may be behind this machine's: a reconcile spares rows whose version is
/// within this of its listing's start.
const CLOCK_SKEW_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// Opens a tenant's stored Clerk key (the binary decrypts with the secrets key).
#[derive(Clone)]
pub struct ClerkKeyOpener(pub Arc<OpenClerkKey>);

/// Decrypts a tenant's stored Clerk key: the tenant, and the ciphertext.
pub type OpenClerkKey = dyn Fn(Uuid, &[u8]) -> Result<ClerkSecretKey, String> + Send + Sync;

impl std::fmt::Debug for ClerkKeyOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClerkKeyOpener")
    }
}

#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How long a claim lasts without a checkpoint; renewed at every page and while a page waits.
    pub lease: Duration,
    /// How often an idle runner looks for jobs.
    pub poll_interval: Duration,
    /// When a job that failed for a passing reason (Clerk down) is tried again.
    pub backoff: Backoff,
}

/// How a run of one job ended, for callers that wait on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    /// Will be tried again (Clerk unavailable or busy).
    Retrying(String),
    /// Given up on: needs a fix (a wrong key, no key).
    Failed(String),
    /// Cancelled, or taken over by another runner after this one's lease ran out.
    Stopped,
}

/// Claims and runs jobs. Several may run, in one process or many.
#[derive(Debug, Clone)]
pub struct JobRunner {
    store: Store,
    client: ClerkClient,
    open_key: ClerkKeyOpener,
    settings: JobSettings,
    owner: String,
}

/// What a job reads Clerk with: the tenant's key, and its instance when it is pinned to one.
#[derive(Clone, Copy)]
struct Listing<'a> {
    key: &'a ClerkSecretKey,
    instance: Option<&'a str>,
}

/// Why a listing stopped before its end.
enum Halt {
    Clerk(ClerkError),
    /// The job is no longer this runner's.
    Lost,
    Store(StoreError),
}

impl From<StoreError> for Halt {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl JobRunner {
    pub fn new(
        store: Store,
        client: ClerkClient,
        open_key: ClerkKeyOpener,
        settings: JobSettings,
    ) -> Self {
        Self {
            store,
            client,
            open_key,
            settings,
            owner: format!("jobs-{}", Uuid::now_v7()),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The same runner under a lease owner of its own, to run beside this one.
    pub fn with_new_owner(&self) -> Self {
        Self {
            owner: format!("jobs-{}", Uuid::now_v7()),
            ..self.clone()
        }
    }

    /// Runs jobs until `stop` turns true, then gives back the one it holds (resumed from its
    /// checkpoint by whichever runner claims it next).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            let claimed = tokio::select! {
                claimed = self.store.claim_jobs(&self.owner, 1, self.settings.lease) => claimed,
                _ = stop.changed() => break,
            };
            match claimed {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        tokio::select! {
                            result = self.execute(job) => {
                                if let Err(err) = result {
                                    tracing::warn!(%err, "a job stopped on a storage error; it resumes after its lease");
                                }
                            }
                            _ = stop.changed() => break,
                        }
                    }
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "job runner could not reach the database"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(err) = self.store.release_jobs(&self.owner).await {
            tracing::warn!(%err, "could not release the job lease; it expires on its own");
        }
    }

    /// Runs the job `id` here if it is due and nobody holds it; `None` when it is not.
    pub async fn run_job(&self, id: Uuid) -> Result<Option<JobOutcome>, StoreError> {
        match self
            .store
            .claim_job(&self.owner, id, self.settings.lease)
            .await?
        {
            Some(job) => self.execute(job).await.map(Some),
            None => Ok(None),
        }
    }

    /// Runs one claimed job to its end, or until it fails or stops being this runner's.
    async fn execute(&self, job: Job) -> Result<JobOutcome, StoreError> {
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            tenant_id = %job.tenant_id,
            job_type = job.job_type.as_str(),
        );
        let job_type = job.job_type.as_str();
        let outcome = self.execute_in_span(job).instrument(span).await?;
        let label = match &outcome {
            JobOutcome::Done => "done",
            JobOutcome::Retrying(_) => "retrying",
            JobOutcome::Failed(_) => "failed",
            JobOutcome::Stopped => "stopped",
        };
        metrics::counter!("hookgate_jobs_total", "type" => job_type, "outcome" => label)
            .increment(1);
        Ok(outcome)
    }

    async fn execute_in_span(&self, job: Job) -> Result<JobOutcome, StoreError> {
        let mut progress = job.progress.clone();
        let attempts = job.attempts + 1;
        let key = match self.key(&job).await? {
            Ok(key) => key,
            Err(reason) => return self.give_up(&job, attempts, reason, &progress).await,
        };
        // Clerk counts requests per instance: a tenant pinned to its instance keeps to that
        // instance's budget, shared with every other tenant pinned to it.
        let instance = self
            .store
            .find_tenant(job.tenant_id)
            .await?
            .and_then(|tenant| tenant.instance_id);
        let listing = Listing {
            key: &key,
            instance: instance.as_deref(),
        };
        let mut kinds = Vec::with_capacity(progress.kinds.len());
        for entry in &progress.kinds {
            match entry.kind.parse::<ListKind>() {
                Ok(kind) => kinds.push(kind),
                Err(err) => {
                    let reason = err.to_string();
                    return self.give_up(&job, attempts, reason, &progress).await;
                }
            }
        }
        for (index, kind) in kinds.into_iter().enumerate() {
            if progress.kinds[index].done {
                continue;
            }
            let listed = self
                .list_kind(&job, &listing, kind, index, &mut progress)
                .await;
            match listed {
                Ok(()) => {}
                Err(Halt::Lost) => return Ok(JobOutcome::Stopped),
                // Clerk down or busy, or a page the database would not take: another attempt
                // later, from the checkpoint, until the attempts run out; the job never holds
                // its tenant's one open slot forever.
                Err(Halt::Store(err)) => {
                    let error = format!("storing a page failed: {err}");
                    return self.retry_later(&job, attempts, error, &progress).await;
                }
                Err(Halt::Clerk(err)) if err.is_transient() => {
                    return self
                        .retry_later(&job, attempts, err.to_string(), &progress)
                        .await;
                }
                Err(Halt::Clerk(err)) => {
                    return self
                        .give_up(&job, attempts, err.to_string(), &progress)
                        .await;
                }
            }
        }
        if self
            .store
            .finish_job(&self.owner, job.id, attempts, JobEnd::Done, &progress)
            .await?
        {
            tracing::info!("job done");
            Ok(JobOutcome::Done)
        } else {
            Ok(JobOutcome::Stopped)
        }
    }

    async fn key(&self, job: &Job) -> Result<Result<ClerkSecretKey, String>, StoreError> {
        let Some(stored) = self.store.clerk_key(job.tenant_id).await? else {
            return Ok(Err(
                "the tenant has no Clerk secret key: set one with `hookgate tenant clerk-key set`"
                    .to_owned(),
            ));
        };
        Ok((self.open_key.0)(job.tenant_id, &stored.ciphertext)
            .map_err(|err| format!("the tenant's Clerk secret key cannot be opened: {err}")))
    }

    async fn give_up(
        &self,
        job: &Job,
        attempts: i32,
        error: String,
        progress: &JobProgress,
    ) -> Result<JobOutcome, StoreError> {
        tracing::warn!(%error, "job failed");
        self.end_attempt(job, attempts, None, error, progress).await
    }

    /// Ends this attempt; the job is tried again after the backoff, or fails once its attempts
    /// are spent.
    async fn retry_later(
        &self,
        job: &Job,
        attempts: i32,
        error: String,
        progress: &JobProgress,
    ) -> Result<JobOutcome, StoreError> {
        let Some(retry_at) = self.settings.backoff.next_attempt(attempts, Utc::now()) else {
            return self.give_up(job, attempts, error, progress).await;
        };
        tracing::warn!(%error, %retry_at, "job stopped; it resumes later from its checkpoint");
        self.end_attempt(job, attempts, Some(retry_at), error, progress)
            .await
    }

    /// Records a failed attempt (retried at `retry_at`, or for good); `Stopped` when the job
    /// was no longer this runner's to record.
    async fn end_attempt(
        &self,
        job: &Job,
        attempts: i32,
        retry_at: Option<chrono::DateTime<Utc>>,
        error: String,
        progress: &JobProgress,
    ) -> Result<JobOutcome, StoreError> {
        let end = JobEnd::Failed {
            retry_at,
            error: error.clone(),
        };
        let held = self
            .store
            .finish_job(&self.owner, job.id, attempts, end, progress)
            .await?;
        Ok(match (held, retry_at) {
            (false, _) => JobOutcome::Stopped,
            (true, Some(_)) => JobOutcome::Retrying(error),
            (true, None) => JobOutcome::Failed(error),
        })
    }

    /// Lists one kind from where its checkpoint left it (a reconcile: from the start) to its
    /// end, writing each page; a reconcile then tombstones what the listing did not show.
    async fn list_kind(
        &self,
        job: &Job,
        listing: &Listing<'_>,
        kind: ListKind,
        index: usize,
        progress: &mut JobProgress,
    ) -> Result<(), Halt> {
        let reconcile = job.job_type == JobType::Reconcile;
        let entry = &mut progress.kinds[index];
        if reconcile || entry.listing_started_ms.is_none() {
            // Compared with versions stamped by Clerk's clock, so a margin for the two clocks
            // to disagree: a row written just before the listing began is left for the next.
            let started = Utc::now() - CLOCK_SKEW_MARGIN;
            entry.listing_started_ms = Some(started.timestamp_millis());
        }
        if reconcile {
            // What a reconcile saw is not kept: the listing starts over.
            entry.cursor = None;
            entry.fetched = 0;
            entry.gaps = 0;
        }
        let cursor = entry
            .cursor
            .as_ref()
            .and_then(|c| serde_json::from_value::<Cursor>(c.clone()).ok())
            .filter(|c| c.fits(kind))
            .unwrap_or_else(|| Cursor::start(kind));
        let mut seen: HashSet<String> = HashSet::new();
        let mut page = self.fetch(job, listing, kind, &cursor).await?;
        loop {
            if reconcile {
                seen.extend(page.ids());
            }
            let entry = &mut progress.kinds[index];
            entry.fetched += page.objects.len() as u64;
            entry.total = page.total_count.or(entry.total);
            entry.gaps += u64::from(page.gap);
            // A reconcile's kind is done with its tombstones, in their transaction: a crash in
            // between lists it again rather than skipping them.
            entry.done = page.next.is_none() && !reconcile;
            entry.cursor = page
                .next
                .as_ref()
                .and_then(|next| serde_json::to_value(next).ok());
            let decoded = decode(kind, &page.objects);
            progress.kinds[index].skipped += (page.objects.len() - decoded.len()) as u64;
            let before = progress.kinds[index].clone();
            let write = self.store.write_listed_page(ListedPage {
                owner: &self.owner,
                job_id: job.id,
                tenant_id: job.tenant_id,
                kind: kind.entity_kind(),
                objects: &decoded,
                progress,
                kind_index: index,
                lease: self.settings.lease,
            });
            // The next page is asked for once this one is written with its checkpoint: a
            // crash loses at most the page in flight, which the checkpoint points at.
            if write.await?.is_none() {
                return Err(Halt::Lost);
            }
            if reconcile {
                let after = &progress.kinds[index];
                drift(kind, "created", after.created - before.created);
                drift(kind, "updated", after.updated - before.updated);
            }
            match &page.next {
                Some(next) => page = self.fetch(job, listing, kind, next).await?,
                None => break,
            }
        }
        if reconcile {
            self.tombstone_unlisted(job, kind, index, &seen, progress)
                .await?;
        }
        Ok(())
    }

    /// Reads one page, renewing the lease while it waits (on Clerk's rate limit, retries), so a
    /// slow page does not lose the job and a cancel is noticed.
    async fn fetch(
        &self,
        job: &Job,
        listing: &Listing<'_>,
        kind: ListKind,
        cursor: &Cursor,
    ) -> Result<Page, Halt> {
        let Listing { key, instance } = *listing;
        let listing = self.client.list_in(instance, key, kind, cursor);
        tokio::pin!(listing);
        let mut renew = tokio::time::interval(self.settings.lease / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                page = &mut listing => return page.map_err(Halt::Clerk),
                _ = renew.tick() => {
                    let held = self
                        .store
                        .renew_job_lease(&self.owner, job.id, self.settings.lease)
                        .await?;
                    if !held {
                        return Err(Halt::Lost);
                    }
                }
            }
        }
    }

    /// Tombstones the rows of `kind` that a complete listing did not show, unless they were
    /// written since it began, and marks the kind done with them. After a gap (objects may have
    /// been missed) nothing is tombstoned.
    async fn tombstone_unlisted(
        &self,
        job: &Job,
        kind: ListKind,
        index: usize,
        seen: &HashSet<String>,
        progress: &mut JobProgress,
    ) -> Result<(), Halt> {
        let entry = &progress.kinds[index];
        let started = entry.listing_started_ms.unwrap_or(0);
        let unlisted: Vec<String> = if entry.gaps > 0 {
            tracing::warn!(
                kind = kind.as_str(),
                gaps = entry.gaps,
                "the listing may have missed objects (deleted while it ran); nothing tombstoned"
            );
            Vec::new()
        } else {
            self.store
                .live_ids(job.tenant_id, kind.entity_kind(), started)
                .await?
                .into_iter()
                .filter(|id| !seen.contains(id))
                .collect()
        };
        let done = self
            .store
            .tombstone_unlisted(Unlisted {
                owner: &self.owner,
                job_id: job.id,
                tenant_id: job.tenant_id,
                kind: kind.entity_kind(),
                ids: &unlisted,
                not_after: started,
                progress,
                kind_index: index,
                lease: self.settings.lease,
            })
            .await?;
        let Some(tombstoned) = done else {
            return Err(Halt::Lost);
        };
        drift(kind, "tombstoned", tombstoned);
        Ok(())
    }
}

/// The objects of a page read as the events that would create them; an object whose key fields
/// cannot be read is skipped (and counted).
fn decode(kind: ListKind, objects: &[Box<RawValue>]) -> Vec<(ClerkEvent, &RawValue)> {
    objects
        .iter()
        .filter_map(|raw| match ClerkEvent::from_listed(kind.entity_kind(), raw) {
            Ok(event) => Some((event, &**raw)),
            Err(err) => {
                tracing::warn!(kind = kind.as_str(), %err, "a listed object cannot be read; skipped");
                None
            }
        })
        .collect()
}

fn drift(kind: ListKind, change: &'static str, count: u64) {
    if count > 0 {
        metrics::counter!(
            "hookgate_reconcile_drift_total",
            "kind" => kind.as_str(),
            "change" => change,
        )
        .increment(count);
    }
}
