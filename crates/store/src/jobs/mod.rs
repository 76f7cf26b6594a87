//! Backfill and reconcile jobs: rows of the leased queue ([`crate::queue::Jobs`]) that run for
//! minutes, renew their lease at every checkpoint, and write each page of listed objects in one
//! transaction with the checkpoint that follows it, so a job resumed after a crash repeats at
//! most the page it was on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::StoreError;

mod pages;

use crate::entities::job::{self, JobStatus};
use crate::queue::{self, Finish, Jobs};
pub use pages::{ListedPage, PageCounts, Unlisted};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobType {
    /// Lists Clerk's objects and writes them through the guarded upsert.
    Backfill,
    /// A backfill that also tombstones rows Clerk no longer lists, and reports the drift.
    Reconcile,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backfill => "backfill",
            Self::Reconcile => "reconcile",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "reconcile" {
            Self::Reconcile
        } else {
            Self::Backfill
        }
    }
}

/// Where a job is, as operators read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it.
    Running,
    /// Its last attempt failed; it is tried again at `next_attempt_at`.
    Retrying,
    Done,
    /// Given up on (see `error`).
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the job will not change any more.
    pub fn is_over(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

/// A job's progress: one entry per kind, in listing order. Stored as JSON with the job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    pub kinds: Vec<KindProgress>,
}

/// How far the listing of one kind has gone, and what it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindProgress {
    pub kind: String,
    /// Where the listing resumes (the Clerk client's cursor); `None` from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<serde_json::Value>,
    #[serde(default)]
    pub done: bool,
    /// Objects listed so far.
    #[serde(default)]
    pub fetched: u64,
    /// How many objects Clerk said it holds, where it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Rows written that did not exist.
    #[serde(default)]
    pub created: u64,
    /// Rows that existed and took a newer version.
    #[serde(default)]
    pub updated: u64,
    /// Objects already as new (or newer, or deleted) here.
    #[serde(default)]
    pub unchanged: u64,
    /// Rows Clerk no longer lists, tombstoned (reconcile).
    #[serde(default)]
    pub tombstoned: u64,
    /// Objects that could not be read (a key field of an unexpected type).
    #[serde(default)]
    pub skipped: u64,
    /// Pages after which the listing may have missed objects (Clerk's offset paging shifted
    /// by more deletions than the overlap catches): reconcile then tombstones nothing of the kind.
    #[serde(default)]
    pub gaps: u64,
    /// When the listing of this kind began (ms): rows newer than this are left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_started_ms: Option<i64>,
}

impl KindProgress {
    pub fn new(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            ..Self::default()
        }
    }
}

/// A backfill or reconcile job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub job_type: JobType,
    pub state: JobState,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub progress: JobProgress,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    fn from_row(row: job::Model) -> Self {
        let now = Utc::now();
        let leased = row.lease_until.is_some_and(|until| until > now);
        let state = match row.status {
            _ if row.cancelled_at.is_some() => JobState::Cancelled,
            JobStatus::Done => JobState::Done,
            JobStatus::Dead => JobState::Failed,
            _ if leased => JobState::Running,
            JobStatus::Failed => JobState::Retrying,
            JobStatus::Pending => JobState::Queued,
        };
        // Written by this module only; an unreadable one shows as no progress, never an error.
        let progress = serde_json::from_str(&row.progress).unwrap_or_default();
        Self {
            id: row.id,
            tenant_id: row.tenant_id,
            job_type: JobType::parse(&row.job_type),
            state,
            attempts: row.attempts,
            next_attempt_at: row.next_attempt_at,
            error: row.last_error,
            progress,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
        }
    }
}

/// A job could not be created: the tenant already has one that is not over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobAlreadyOpen {
    pub id: Uuid,
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// The job is cancelled; a worker running it stops at its next checkpoint.
    Now(Job),
    /// The job was over already: nothing changed.
    AlreadyOver(Job),
}

/// How an attempt at a job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    Done,
    /// Failed: tried again at `retry_at`, or given up on when `None`.
    Failed {
        retry_at: Option<DateTime<Utc>>,
        error: String,
    },
}

/// Tells the tenant what a finished reconcile repaired, when it repaired anything.
async fn notify_drift(
    db: &impl ConnectionTrait,
    id: Uuid,
    progress: &JobProgress,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let repaired: Vec<_> = progress
        .kinds
        .iter()
        .filter(|k| k.created + k.updated + k.tombstoned > 0)
        .map(|k| {
            serde_json::json!({
                "kind": k.kind,
                "created": k.created,
                "updated": k.updated,
                "tombstoned": k.tombstoned,
            })
        })
        .collect();
    if repaired.is_empty() {
        return Ok(());
    }
    let Some(row) = job::Entity::find_by_id(id).one(db).await? else {
        return Ok(());
    };
    if row.job_type != JobType::Reconcile.as_str() {
        return Ok(());
    }
    let data = serde_json::json!({"job_id": id, "kinds": repaired});
    crate::notifications::notify(db, row.tenant_id, "reconcile.drift", data, now).await
}

fn progress_text(progress: &JobProgress) -> String {
    // Plain structs of strings and numbers: serializing cannot fail.
    serde_json::to_string(progress).unwrap_or_else(|_| "{}".to_owned())
}

/// The progress, and when the job first started, written at every checkpoint.
fn progress_column(progress: &JobProgress) -> Vec<(job::Column, SimpleExpr)> {
    vec![
        (job::Column::Progress, Expr::value(progress_text(progress))),
        (
            job::Column::StartedAt,
            Expr::col(job::Column::StartedAt).if_null(Utc::now()),
        ),
    ]
}

impl crate::Store {
    /// Queues a job for a tenant, or refuses when the tenant has one that is not over (checked
    /// by a unique index, so two processes asking at once cannot both succeed).
    pub async fn create_job(
        &self,
        tenant_id: Uuid,
        job_type: JobType,
        kinds: &[&str],
    ) -> Result<Result<Job, JobAlreadyOpen>, StoreError> {
        let now = Utc::now();
        let progress = JobProgress {
            kinds: kinds.iter().map(|k| KindProgress::new(k)).collect(),
        };
        let row = job::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            job_type: Set(job_type.as_str().to_owned()),
            kinds: Set(kinds.join(",")),
            status: Set(JobStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(Some(now)),
            lease_owner: Set(None),
            lease_until: Set(None),
            last_error: Set(None),
            progress: Set(progress_text(&progress)),
            created_at: Set(now),
            started_at: Set(None),
            finished_at: Set(None),
            cancelled_at: Set(None),
        };
        match job::Entity::insert(row)
            .exec_with_returning(&self.writer)
            .await
        {
            Ok(row) => Ok(Ok(Job::from_row(row))),
            Err(err) => match self.open_job(tenant_id).await? {
                Some(open) => Ok(Err(JobAlreadyOpen { id: open.id })),
                None => Err(err.into()),
            },
        }
    }

    /// The tenant's job that is not over, if any.
    pub async fn open_job(&self, tenant_id: Uuid) -> Result<Option<Job>, StoreError> {
        Ok(job::Entity::find()
            .filter(job::Column::TenantId.eq(tenant_id))
            .filter(job::Column::FinishedAt.is_null())
            .one(&self.writer)
            .await?
            .map(Job::from_row))
    }

    /// The tenants with a Clerk key whose last reconcile began before `since` (or that never
    /// had one), and that have no job open: whom a scheduled reconcile is due for.
    pub async fn reconcile_due(&self, since: DateTime<Utc>) -> Result<Vec<Uuid>, StoreError> {
        use crate::entities::tenant_clerk_key;
        let keyed: Vec<Uuid> = tenant_clerk_key::Entity::find()
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|key| key.tenant_id)
            .collect();
        let mut due = Vec::new();
        for tenant_id in keyed {
            // A disabled tenant takes no deliveries; its tables wait for it to be enabled.
            if !self
                .find_tenant(tenant_id)
                .await?
                .is_some_and(|tenant| tenant.enabled)
            {
                continue;
            }
            let recent = job::Entity::find()
                .filter(job::Column::TenantId.eq(tenant_id))
                .filter(
                    sea_orm::Condition::any()
                        .add(job::Column::FinishedAt.is_null())
                        .add(
                            sea_orm::Condition::all()
                                .add(job::Column::JobType.eq(JobType::Reconcile.as_str()))
                                .add(job::Column::CreatedAt.gte(since)),
                        ),
                )
                .one(&self.reader)
                .await?;
            if recent.is_none() {
                due.push(tenant_id);
            }
        }
        Ok(due)
    }

    /// A tenant's jobs, newest first.
    pub async fn list_jobs(&self, tenant_id: Uuid, limit: u64) -> Result<Vec<Job>, StoreError> {
        Ok(job::Entity::find()
            .filter(job::Column::TenantId.eq(tenant_id))
            .order_by_desc(job::Column::CreatedAt)
            .order_by_desc(job::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(Job::from_row)
            .collect())
    }

    pub async fn find_job(&self, tenant_id: Uuid, id: Uuid) -> Result<Option<Job>, StoreError> {
        Ok(job::Entity::find_by_id(id)
            .filter(job::Column::TenantId.eq(tenant_id))
            .one(&self.writer)
            .await?
            .map(Job::from_row))
    }

    /// Cancels a job that is not over; `None` when the tenant has no such job.
    pub async fn cancel_job(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Cancelled>, StoreError> {
        let now = Utc::now();
        let res = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Dead))
            .col_expr(job::Column::CancelledAt, Expr::value(Some(now)))
            .col_expr(job::Column::FinishedAt, Expr::value(Some(now)))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(
                job::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::TenantId.eq(tenant_id))
            .filter(job::Column::FinishedAt.is_null())
            .exec(&self.writer)
            .await?;
        let Some(job) = self.find_job(tenant_id, id).await? else {
            return Ok(None);
        };
        Ok(Some(if res.rows_affected == 1 {
            Cancelled::Now(job)
        } else {
            Cancelled::AlreadyOver(job)
        }))
    }

    /// Claims up to `limit` due jobs for `owner`, leased for `lease`.
    pub async fn claim_jobs(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let claimed = self.queue::<Jobs>().claim(owner, limit, lease).await?;
        Ok(claimed.into_iter().map(Job::from_row).collect())
    }

    /// Claims the job `id` if it is due and nobody holds it.
    pub async fn claim_job(
        &self,
        owner: &str,
        id: Uuid,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        let claimed = self.queue::<Jobs>().claim_id(owner, id, lease).await?;
        Ok(claimed.map(Job::from_row))
    }

    /// Writes the job's progress and renews `owner`'s lease; `false` when the lease is no
    /// longer `owner`'s (cancelled, or taken over): the caller stops.
    pub async fn checkpoint_job(
        &self,
        owner: &str,
        id: Uuid,
        progress: &JobProgress,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        queue::renew::<Jobs>(&self.writer, owner, id, lease, progress_column(progress)).await
    }

    /// Renews `owner`'s lease on the job, leaving its progress alone; `false` when the job is no
    /// longer `owner`'s.
    pub async fn renew_job_lease(
        &self,
        owner: &str,
        id: Uuid,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        queue::renew::<Jobs>(&self.writer, owner, id, lease, Vec::new()).await
    }

    /// Records how an attempt at a job ended, with its progress, if `owner` still holds it.
    pub async fn finish_job(
        &self,
        owner: &str,
        id: Uuid,
        attempts: i32,
        end: JobEnd,
        progress: &JobProgress,
    ) -> Result<bool, StoreError> {
        let finish = match end {
            JobEnd::Done => Finish::Done {
                attempts: Some(attempts),
            },
            JobEnd::Failed { retry_at, error } => Finish::Failed {
                attempts,
                retry_at,
                error,
            },
        };
        use sea_orm::TransactionTrait as _;
        let now = Utc::now();
        let txn = self.writer.begin().await?;
        let held =
            queue::finish_row::<Jobs>(&txn, owner, id, &finish, now, progress_column(progress))
                .await?;
        if held
            && finish
                == (Finish::Done {
                    attempts: Some(attempts),
                })
        {
            notify_drift(&txn, id, progress, now).await?;
        }
        txn.commit().await?;
        Ok(held)
    }

    /// Gives back the jobs `owner` holds (at shutdown), to be resumed from their checkpoints.
    pub async fn release_jobs(&self, owner: &str) -> Result<u64, StoreError> {
        self.queue::<Jobs>().release(owner).await
    }
}
