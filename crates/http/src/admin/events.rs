//! A tenant's stored events for operators: list (filters, cursor), one with its body and
//! attempt history, replay, and queue statistics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use hookgate_events::EventFilter;
use hookgate_store::{EventQuery, InboxStatus, InboxSummary, Page, Uuid};
use hookgate_tenancy::TenantSlug;
use serde::{Deserialize, Serialize};

use super::shared::tenancy_error;
use crate::extract::{AppPath, AppQuery, OptionalJson, ResourceId, Slug};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/{slug}/events", get(list))
        .route("/tenants/{slug}/events/replay", post(replay_matching))
        .route("/tenants/{slug}/events/{id}", get(show))
        .route("/tenants/{slug}/events/{id}/replay", post(replay_one))
        .route("/tenants/{slug}/dead-letters", get(dead_letters))
        .route("/tenants/{slug}/stats", get(stats))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Filter {
    /// `pending`, `failed`, `done` or `dead`.
    status: Option<String>,
    /// An event type or glob: `user.*`.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// RFC 3339 bounds on the time received.
    since: Option<String>,
    until: Option<String>,
    cursor: Option<Uuid>,
    limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventView {
    id: Uuid,
    svix_id: String,
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: &'static str,
    attempts: i32,
    received_at: String,
    processed_at: Option<String>,
    last_error: Option<String>,
}

impl From<InboxSummary> for EventView {
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    data: Vec<EventView>,
    next_cursor: Option<Uuid>,
}

fn bad(field: &str, rule: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        format!("{field}: {rule}"),
    )
}

fn query_of(filter: &Filter, limit: Option<u64>) -> Result<EventQuery, ApiError> {
    let status = match filter.status.as_deref() {
        None => vec![],
        Some(name) => vec![
            name.parse::<InboxStatus>()
                .map_err(|_| bad("status", "one of pending, failed, done, dead"))?,
        ],
    };
    let time = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()))
            .transpose()
            .map_err(|_| bad(field, "an RFC 3339 time"))
    };
    Ok(EventQuery {
        statuses: status,
        event_type: filter
            .event_type
            .as_deref()
            .map(EventFilter::parse)
            .transpose()
            .map_err(|err| bad("type", &err.to_string()))?,
        received_since: time("since", &filter.since)?,
        received_until: time("until", &filter.until)?,
        before_id: filter.cursor,
        ids: vec![],
        limit,
    })
}

async fn tenant_id(state: &AppState, slug: &TenantSlug) -> Result<Uuid, ApiError> {
    Ok(state
        .tenancy
        .get(slug)
        .await
        .map_err(|err| tenancy_error(state, err))?
        .id)
}

#[utoipa::path(get, operation_id = "admin_events_list", path = "/admin/v1/tenants/{slug}/events", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), Filter), responses((status = 200, description = "ok", body = EventPage), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    AppQuery(filter): AppQuery<Filter>,
    Slug(slug): Slug,
) -> Result<Json<EventPage>, ApiError> {
    page(&state, &slug, filter).await
}

#[utoipa::path(get, operation_id = "admin_events_dead_letters", path = "/admin/v1/tenants/{slug}/dead-letters", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), Filter), responses((status = 200, description = "ok", body = EventPage), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn dead_letters(
    State(state): State<AppState>,
    AppQuery(filter): AppQuery<Filter>,
    Slug(slug): Slug,
) -> Result<Json<EventPage>, ApiError> {
    let filter = Filter {
        status: Some("dead".into()),
        ..filter
    };
    page(&state, &slug, filter).await
}

async fn page(
    state: &AppState,
    slug: &TenantSlug,
    filter: Filter,
) -> Result<Json<EventPage>, ApiError> {
    let tenant = tenant_id(state, slug).await?;
    let limit = filter.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(bad("limit", "1 to 500"));
    }
    // One more than asked says whether another page follows.
    let query = query_of(&filter, Some(limit + 1))?;
    let rows = state
        .store
        .list_inbox_events(tenant, &query)
        .await
        .map_err(|e| state.storage_error(&e))?;
    let Page { rows, next_cursor } = Page::from_rows(rows, limit, |e| Some(e.id.to_string()));
    let next_cursor = next_cursor.and_then(|c| c.parse().ok());
    Ok(Json(EventPage {
        data: rows.into_iter().map(EventView::from).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventDetail {
    #[serde(flatten)]
    summary: EventView,
    instance_id: Option<String>,
    event_timestamp_ms: Option<i64>,
    next_attempt_at: Option<String>,
    /// The body as received: text when it is UTF-8, otherwise base64 in `body_base64`.
    body: Option<String>,
    body_base64: Option<String>,
    attempts_history: Vec<AttemptView>,
    /// Fields of `data` read as absent when the event was applied: Clerk sent a value of
    /// another type than documented. The event was applied and forwarded all the same.
    warnings: Vec<WarningView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct WarningView {
    /// The field, as `data.items[0].interval`.
    path: String,
    message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AttemptView {
    attempt: i32,
    at: String,
    outcome: String,
    error: String,
}

#[utoipa::path(get, operation_id = "admin_events_show", path = "/admin/v1/tenants/{slug}/events/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 200, description = "ok", body = EventDetail), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such event", body = crate::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<Json<EventDetail>, ApiError> {
    let tenant = tenant_id(&state, &slug).await?;
    let event = state
        .store
        .find_inbox_event(tenant, id)
        .await
        .map_err(|e| state.storage_error(&e))?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such event"))?;
    let history = state
        .store
        .event_attempts(tenant, id)
        .await
        .map_err(|e| state.storage_error(&e))?;
    let warnings = event
        .decode_warnings()
        .into_iter()
        .map(|w| WarningView {
            path: w.path,
            message: w.message,
        })
        .collect();
    let (body, body_base64) = match String::from_utf8(event.body.clone()) {
        Ok(text) => (Some(text), None),
        Err(_) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(&event.body)),
        ),
    };
    Ok(Json(EventDetail {
        summary: EventView {
            id: event.id,
            svix_id: event.svix_id,
            event_type: event.event_type,
            status: event.status.as_str(),
            attempts: event.attempts,
            received_at: event.received_at.to_rfc3339(),
            processed_at: event.processed_at.map(|t| t.to_rfc3339()),
            last_error: event.last_error,
        },
        instance_id: event.instance_id,
        event_timestamp_ms: event.event_timestamp_ms,
        next_attempt_at: event.next_attempt_at.map(|t| t.to_rfc3339()),
        body,
        body_base64,
        attempts_history: history
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                at: a.at.to_rfc3339(),
                outcome: a.outcome,
                error: a.error,
            })
            .collect(),
        warnings,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Replayed {
    replayed: u64,
}

#[utoipa::path(post, operation_id = "admin_events_replay_one", path = "/admin/v1/tenants/{slug}/events/{id}/replay", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 200, description = "ok", body = Replayed), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such event, or a worker holds it now", body = crate::error::ErrorBody)))]
async fn replay_one(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<Json<Replayed>, ApiError> {
    let tenant = tenant_id(&state, &slug).await?;
    let replayed = state
        .store
        .replay_inbox_events(tenant, &[id])
        .await
        .map_err(|e| state.storage_error(&e))?;
    if replayed == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such event, or a worker holds it now",
        ));
    }
    state.stored.notify_one();
    Ok(Json(Replayed { replayed }))
}

/// Replays every event that matches the filter (`dead` ones when no status is given).
#[utoipa::path(post, operation_id = "admin_events_replay_matching", path = "/admin/v1/tenants/{slug}/events/replay", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = Option<Filter>, responses((status = 200, description = "ok", body = Replayed), (status = 400, description = "an invalid filter: status, type or time", body = crate::error::ErrorBody), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn replay_matching(
    State(state): State<AppState>,
    Slug(slug): Slug,
    OptionalJson(body): OptionalJson<Filter>,
) -> Result<Json<Replayed>, ApiError> {
    let tenant = tenant_id(&state, &slug).await?;
    let mut filter = body.unwrap_or_default();
    filter.status.get_or_insert_with(|| "dead".into());
    let query = query_of(&filter, None)?;
    let rows = state
        .store
        .list_inbox_events(tenant, &query)
        .await
        .map_err(|e| state.storage_error(&e))?;
    let ids: Vec<Uuid> = rows.iter().map(|e| e.id).collect();
    let replayed = state
        .store
        .replay_inbox_events(tenant, &ids)
        .await
        .map_err(|e| state.storage_error(&e))?;
    state.stored.notify_one();
    Ok(Json(Replayed { replayed }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct StatsView {
    pending: u64,
    failed: u64,
    done: u64,
    dead: u64,
    /// Seconds since the oldest waiting (pending or failed) event was received.
    oldest_waiting_age_secs: Option<i64>,
    /// Mean received → processed time of the last 100 processed events, milliseconds.
    recent_lag_ms: Option<f64>,
}

#[utoipa::path(get, operation_id = "admin_events_stats", path = "/admin/v1/tenants/{slug}/stats", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = StatsView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn stats(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<StatsView>, ApiError> {
    let tenant = tenant_id(&state, &slug).await?;
    let stats = state
        .store
        .queue_stats(tenant)
        .await
        .map_err(|e| state.storage_error(&e))?;
    let count = |status| {
        stats
            .counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    Ok(Json(StatsView {
        pending: count(InboxStatus::Pending),
        failed: count(InboxStatus::Failed),
        done: count(InboxStatus::Done),
        dead: count(InboxStatus::Dead),
        oldest_waiting_age_secs: stats
            .oldest_waiting_received_at
            .map(|t| (chrono::Utc::now() - t).num_seconds()),
        recent_lag_ms: stats.recent_lag_ms,
    }))
}
