//! A tenant's Clerk secret key and its backfill and reconcile jobs.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hookgate_store::{Cancelled, ClerkKey, Job, JobType, KindProgress, Uuid};
use hookgate_tenancy::{ClerkSecretKey, ListKind};
use serde::{Deserialize, Serialize};

use super::shared::{List, removed, tenancy_error};
use crate::extract::{AppJson, AppPath, OptionalJson, ResourceId, Slug};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/tenants/{slug}/clerk-key",
            get(show_key).put(set_key).delete(clear_key),
        )
        .route("/tenants/{slug}/backfills", post(backfill))
        .route("/tenants/{slug}/reconciles", post(reconcile))
        .route("/tenants/{slug}/jobs", get(list))
        .route("/tenants/{slug}/jobs/{id}", get(show).delete(cancel))
}

/// A tenant's Clerk secret key, as far as it is ever shown: never the key itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ClerkKeyView {
    /// `production` (an `sk_live_` key) or `development` (`sk_test_`).
    instance: &'static str,
    set_at: String,
}

impl From<ClerkKey> for ClerkKeyView {
    fn from(key: ClerkKey) -> Self {
        Self {
            instance: if key.production {
                "production"
            } else {
                "development"
            },
            set_at: key.created_at.to_rfc3339(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SetClerkKey {
    /// The instance's secret key, `sk_live_…` or `sk_test_…`.
    key: String,
}

impl std::fmt::Debug for SetClerkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetClerkKey { key: [redacted] }")
    }
}

fn no_key() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "the tenant has no Clerk secret key",
    )
}

#[utoipa::path(get, operation_id = "admin_tenants_show_clerk_key", path = "/admin/v1/tenants/{slug}/clerk-key", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = ClerkKeyView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no Clerk key set", body = crate::error::ErrorBody)))]
async fn show_key(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<ClerkKeyView>, ApiError> {
    let key = state
        .tenancy
        .clerk_key(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    key.map(|k| Json(k.into())).ok_or_else(no_key)
}

#[utoipa::path(put, operation_id = "admin_tenants_set_clerk_key", path = "/admin/v1/tenants/{slug}/clerk-key", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = SetClerkKey, responses((status = 200, description = "stored, encrypted; never shown again", body = ClerkKeyView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 422, description = "not a Clerk secret key", body = crate::error::ErrorBody)))]
async fn set_key(
    State(state): State<AppState>,
    Slug(slug): Slug,
    AppJson(body): AppJson<SetClerkKey>,
) -> Result<Json<ClerkKeyView>, ApiError> {
    let key = ClerkSecretKey::parse(&body.key).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_clerk_key",
            err.to_string(),
        )
    })?;
    let stored = state
        .tenancy
        .set_clerk_key(&slug, &key)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(stored.into()))
}

#[utoipa::path(delete, operation_id = "admin_tenants_clear_clerk_key", path = "/admin/v1/tenants/{slug}/clerk-key", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 204, description = "done"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no Clerk key set", body = crate::error::ErrorBody)))]
async fn clear_key(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<StatusCode, ApiError> {
    let cleared = state.tenancy.clear_clerk_key(&slug).await;
    removed(&state, cleared, no_key())
}

/// Which kinds a job lists: every kind when left out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct StartJob {
    /// Any of `users`, `organizations`, `organization_memberships`,
    /// `organization_invitations`, `organization_domains`, `roles`, `permissions`,
    /// `waitlist_entries`.
    #[serde(default)]
    kinds: Vec<String>,
}

/// One kind of a job: how far its listing went and what it changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct KindView {
    kind: String,
    done: bool,
    fetched: u64,
    /// Clerk's count, where Clerk gives one (not for users).
    total: Option<u64>,
    created: u64,
    updated: u64,
    unchanged: u64,
    tombstoned: u64,
    /// Objects whose id or version could not be read.
    skipped: u64,
    /// Pages after which objects may have been missed (deleted while listing): a reconcile
    /// then tombstones nothing of the kind.
    gaps: u64,
}

impl From<KindProgress> for KindView {
    fn from(k: KindProgress) -> Self {
        Self {
            kind: k.kind,
            done: k.done,
            fetched: k.fetched,
            total: k.total,
            created: k.created,
            updated: k.updated,
            unchanged: k.unchanged,
            tombstoned: k.tombstoned,
            skipped: k.skipped,
            gaps: k.gaps,
        }
    }
}

/// A backfill or reconcile job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct JobView {
    id: Uuid,
    /// `backfill` or `reconcile`.
    #[serde(rename = "type")]
    job_type: &'static str,
    /// `queued`, `running`, `retrying`, `done`, `failed` or `cancelled`.
    state: &'static str,
    kinds: Vec<KindView>,
    attempts: i32,
    error: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    next_attempt_at: Option<String>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            job_type: job.job_type.as_str(),
            state: job.state.as_str(),
            kinds: job.progress.kinds.into_iter().map(KindView::from).collect(),
            attempts: job.attempts,
            error: job.error,
            created_at: job.created_at.to_rfc3339(),
            started_at: job.started_at.map(|t| t.to_rfc3339()),
            finished_at: job.finished_at.map(|t| t.to_rfc3339()),
            next_attempt_at: job
                .next_attempt_at
                .filter(|_| !job.state.is_over())
                .map(|t| t.to_rfc3339()),
        }
    }
}

async fn start(
    state: &AppState,
    slug: &hookgate_tenancy::TenantSlug,
    job_type: JobType,
    body: Option<StartJob>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    let mut kinds = Vec::new();
    for name in body.map(|b| b.kinds).unwrap_or_default() {
        let kind = name.parse::<ListKind>().map_err(|err| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_kinds",
                err.to_string(),
            )
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    let job = state
        .tenancy
        .start_job(slug, job_type, &kinds)
        .await
        .map_err(|err| tenancy_error(state, err))?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

#[utoipa::path(post, operation_id = "admin_tenants_start_backfill", path = "/admin/v1/tenants/{slug}/backfills", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = Option<StartJob>, responses((status = 202, description = "queued; workers run it", body = JobView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 409, description = "no Clerk key set, or a job of the tenant is not over", body = crate::error::ErrorBody), (status = 422, description = "an unknown kind", body = crate::error::ErrorBody)))]
async fn backfill(
    State(state): State<AppState>,
    Slug(slug): Slug,
    OptionalJson(body): OptionalJson<StartJob>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    start(&state, &slug, JobType::Backfill, body).await
}

#[utoipa::path(post, operation_id = "admin_tenants_start_reconcile", path = "/admin/v1/tenants/{slug}/reconciles", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = Option<StartJob>, responses((status = 202, description = "queued; workers run it", body = JobView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 409, description = "no Clerk key set, or a job of the tenant is not over", body = crate::error::ErrorBody), (status = 422, description = "an unknown kind", body = crate::error::ErrorBody)))]
async fn reconcile(
    State(state): State<AppState>,
    Slug(slug): Slug,
    OptionalJson(body): OptionalJson<StartJob>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    start(&state, &slug, JobType::Reconcile, body).await
}

#[utoipa::path(get, operation_id = "admin_tenants_list_jobs", path = "/admin/v1/tenants/{slug}/jobs", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "the last 100 jobs, newest first", body = List<JobView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<List<JobView>>, ApiError> {
    let jobs = state
        .tenancy
        .jobs(&slug, 100)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(List {
        data: jobs.into_iter().map(JobView::from).collect(),
    }))
}

fn no_job() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no job with this id")
}

#[utoipa::path(get, operation_id = "admin_tenants_show_job", path = "/admin/v1/tenants/{slug}/jobs/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 200, description = "ok", body = JobView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no job with this id", body = crate::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<Json<JobView>, ApiError> {
    let job = state
        .tenancy
        .job(&slug, id)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    job.map(|j| Json(j.into())).ok_or_else(no_job)
}

#[utoipa::path(delete, operation_id = "admin_tenants_cancel_job", path = "/admin/v1/tenants/{slug}/jobs/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 200, description = "cancelled: a worker running it stops at its next page", body = JobView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no job with this id", body = crate::error::ErrorBody), (status = 409, description = "the job is over already", body = crate::error::ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<Json<JobView>, ApiError> {
    let cancelled = state
        .tenancy
        .cancel_job(&slug, id)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    match cancelled {
        Some(Cancelled::Now(job)) => Ok(Json(job.into())),
        Some(Cancelled::AlreadyOver(job)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_over",
            format!("the job is {} already", job.state.as_str()),
        )),
        None => Err(no_job()),
    }
}
