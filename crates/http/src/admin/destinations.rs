//! A tenant's destinations (where its events are forwarded) and their deliveries.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hookgate_events::EventFilter;
use hookgate_store::{Delivery, DeliveryQuery, DeliveryStatus, Destination, Uuid};
use hookgate_tenancy::{DestinationChange, DestinationSpec, TenantSlug};
use serde::{Deserialize, Serialize};

use super::shared::{List, parse_secret, removed, tenancy_error};
use crate::extract::{AppJson, AppPath, AppQuery, OptionalJson, ResourceId, Slug};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/{slug}/destinations", get(list).post(create))
        .route(
            "/tenants/{slug}/destinations/{id}",
            get(show).patch(update).delete(remove),
        )
        .route(
            "/tenants/{slug}/destinations/{id}/deliveries",
            get(deliveries),
        )
        .route(
            "/tenants/{slug}/destinations/{id}/deliveries/replay",
            post(replay),
        )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DestinationView {
    id: Uuid,
    name: String,
    /// The URL, with any password or token shown as `***` (the full URL is stored sealed).
    url: String,
    /// What the URL's scheme makes it: `http`, `nats`, `amqp` or `redis`.
    kind: String,
    /// Event type patterns (`*` and `?` globs); an event matching any of them is forwarded.
    event_types: Vec<String>,
    enabled: bool,
    /// At most this many sends a second, over every forwarder; absent for no limit.
    max_per_sec: Option<i32>,
    health: DestinationHealth,
    created_at: String,
    updated_at: String,
}

/// How a destination is doing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DestinationHealth {
    /// `healthy`; `failing` (its last attempt failed); `circuit_open` (too many failures in a row:
    /// one probe at a time, the other deliveries wait); `disabled`.
    state: &'static str,
    /// Failed attempts in a row.
    consecutive_failures: i32,
    /// When the current run of failures began.
    failing_since: Option<String>,
    /// When its circuit opened; absent while closed.
    circuit_opened_at: Option<String>,
    /// Nothing is sent before this (the next probe, or the destination's `Retry-After`).
    paused_until: Option<String>,
    /// Why hookgate disabled it (`410 Gone`, or failing for `forward.disable_after`); absent
    /// when an operator did.
    disabled_reason: Option<String>,
}

impl From<&Destination> for DestinationHealth {
    fn from(d: &Destination) -> Self {
        Self {
            state: d.health_state(),
            consecutive_failures: d.consecutive_failures,
            failing_since: d.failing_since.map(|at| at.to_rfc3339()),
            circuit_opened_at: d.circuit_opened_at.map(|at| at.to_rfc3339()),
            paused_until: d.paused_until.map(|at| at.to_rfc3339()),
            disabled_reason: d.disabled_reason.clone(),
        }
    }
}

impl From<Destination> for DestinationView {
    fn from(d: Destination) -> Self {
        Self {
            health: DestinationHealth::from(&d),
            max_per_sec: d.max_per_sec,
            event_types: d.event_type_patterns().map(str::to_owned).collect(),
            id: d.id,
            name: d.name,
            kind: hookgate_events::DestinationKind::of_scheme(&d.url)
                .map_or("unknown", hookgate_events::DestinationKind::as_str)
                .to_owned(),
            url: d.url,
            enabled: d.enabled,
            created_at: d.created_at.to_rfc3339(),
            updated_at: d.updated_at.to_rfc3339(),
        }
    }
}

// No Debug: it may carry a signing secret.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateDestination {
    name: String,
    /// `http://` or `https://` (redirects are not followed), `nats://`, `amqp://`, `redis://` or
    /// `rediss://`; see the README for each kind's parameters.
    url: String,
    /// Event type patterns; `["*"]` when absent.
    #[serde(default)]
    event_types: Option<Vec<String>>,
    /// At most this many sends a second (1 to 10 000), over every forwarder; no limit when
    /// absent.
    max_per_sec: Option<u32>,
    /// The secret hookgate signs forwarded events with (`whsec_…`); generated (and returned
    /// once) when absent.
    signing_secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedDestination {
    destination: DestinationView,
    /// The destination's signing secret: shown this once, stored encrypted.
    signing_secret: String,
}

#[utoipa::path(get, operation_id = "admin_destinations_list", path = "/admin/v1/tenants/{slug}/destinations", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = List<DestinationView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<List<DestinationView>>, ApiError> {
    let destinations = state
        .tenancy
        .destinations(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(List {
        data: destinations
            .into_iter()
            .map(DestinationView::from)
            .collect(),
    }))
}

#[utoipa::path(post, operation_id = "admin_destinations_create", path = "/admin/v1/tenants/{slug}/destinations", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = CreateDestination, responses((status = 201, description = "created; the signing secret is shown this once", body = CreatedDestination), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody), (status = 422, description = "invalid name, url, event type pattern, rate or secret", body = crate::error::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    Slug(slug): Slug,
    AppJson(body): AppJson<CreateDestination>,
) -> Result<(StatusCode, Json<CreatedDestination>), ApiError> {
    let secret = body
        .signing_secret
        .as_deref()
        .map(parse_secret)
        .transpose()?;
    let event_types = patterns(body.event_types.unwrap_or_else(|| vec!["*".into()]))?;
    let spec = DestinationSpec {
        name: body.name,
        url: body.url,
        event_types,
        max_per_sec: body.max_per_sec,
    };
    let created = state
        .tenancy
        .create_destination(&slug, spec, secret)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedDestination {
            destination: created.destination.into(),
            signing_secret: created.secret.expose_encoded(),
        }),
    ))
}

#[utoipa::path(get, operation_id = "admin_destinations_show", path = "/admin/v1/tenants/{slug}/destinations/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "the destination's id")), responses((status = 200, description = "ok", body = DestinationView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant or destination", body = crate::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<Json<DestinationView>, ApiError> {
    let destination = state
        .tenancy
        .destination(&slug, id)
        .await
        .map_err(|err| tenancy_error(&state, err))?
        .ok_or_else(no_destination)?;
    Ok(Json(destination.into()))
}

/// Fields to change; absent ones stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct UpdateDestination {
    name: Option<String>,
    url: Option<String>,
    event_types: Option<Vec<String>>,
    /// A disabled destination is sent nothing: no deliveries are queued for it, and those
    /// already queued wait, their attempts untouched, until it is enabled again. Enabling one
    /// forgets its failures (its circuit closes).
    enabled: Option<bool>,
    /// At most this many sends a second (1 to 10 000); 0 removes the limit.
    max_per_sec: Option<u32>,
}

#[utoipa::path(patch, operation_id = "admin_destinations_update", path = "/admin/v1/tenants/{slug}/destinations/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "the destination's id")), request_body = UpdateDestination, responses((status = 200, description = "ok", body = DestinationView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant or destination", body = crate::error::ErrorBody), (status = 422, description = "invalid name, url, event type pattern or rate", body = crate::error::ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
    AppJson(body): AppJson<UpdateDestination>,
) -> Result<Json<DestinationView>, ApiError> {
    let change = DestinationChange {
        name: body.name,
        url: body.url,
        event_types: body.event_types.map(patterns).transpose()?,
        enabled: body.enabled,
        max_per_sec: body.max_per_sec.map(|rate| (rate > 0).then_some(rate)),
    };
    let destination = state
        .tenancy
        .update_destination(&slug, id, change)
        .await
        .map_err(|err| tenancy_error(&state, err))?
        .ok_or_else(no_destination)?;
    Ok(Json(destination.into()))
}

#[utoipa::path(delete, operation_id = "admin_destinations_delete", path = "/admin/v1/tenants/{slug}/destinations/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "the destination's id")), responses((status = 204, description = "deleted, with its deliveries"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant or destination", body = crate::error::ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<StatusCode, ApiError> {
    let deleted = state.tenancy.delete_destination(&slug, id).await;
    removed(&state, deleted, no_destination())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct DeliveryParams {
    /// `pending`, `done`, `failed` or `dead`; comma-separated for several.
    status: Option<String>,
    /// Newest first, starting after this delivery id (the previous page's `next`).
    before: Option<Uuid>,
    /// 1 to 500; 100 by default.
    limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct DeliveryPage {
    #[schema(value_type = Vec<Object>)]
    data: Vec<Delivery>,
    /// Pass as `before` for the next page; absent on the last one.
    next: Option<Uuid>,
}

#[utoipa::path(get, operation_id = "admin_destinations_deliveries", path = "/admin/v1/tenants/{slug}/destinations/{id}/deliveries", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "the destination's id"), DeliveryParams), responses((status = 200, description = "newest first", body = DeliveryPage), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant or destination", body = crate::error::ErrorBody), (status = 422, description = "invalid filter", body = crate::error::ErrorBody)))]
async fn deliveries(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    AppQuery(params): AppQuery<DeliveryParams>,
    Slug(slug): Slug,
) -> Result<Json<DeliveryPage>, ApiError> {
    let tenant_id = destination_of(&state, &slug, id).await?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            "limit must be between 1 and 500",
        ));
    }
    let query = DeliveryQuery {
        destination_id: Some(id),
        inbox_event_id: None,
        statuses: statuses(params.status.as_deref())?,
        before_id: params.before,
        limit: Some(limit + 1),
    };
    let mut data = state
        .store
        .list_deliveries(tenant_id, &query)
        .await
        .map_err(|err| state.storage_error(&err))?;
    let next = if data.len() as u64 > limit {
        data.truncate(limit as usize);
        data.last().map(|d| d.id)
    } else {
        None
    };
    Ok(Json(DeliveryPage { data, next }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct ReplayDeliveries {
    /// These deliveries only; every failed or dead delivery of the destination when absent.
    #[serde(default)]
    ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Replayed {
    replayed: u64,
}

#[utoipa::path(post, operation_id = "admin_destinations_replay", path = "/admin/v1/tenants/{slug}/destinations/{id}/deliveries/replay", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "the destination's id")), request_body = Option<ReplayDeliveries>, responses((status = 200, description = "failed and dead deliveries queued again with a fresh count of attempts", body = Replayed), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant or destination", body = crate::error::ErrorBody)))]
async fn replay(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
    OptionalJson(body): OptionalJson<ReplayDeliveries>,
) -> Result<Json<Replayed>, ApiError> {
    let tenant_id = destination_of(&state, &slug, id).await?;
    let ids = body.map(|b| b.ids).unwrap_or_default();
    let replayed = state
        .store
        .replay_deliveries(tenant_id, Some(id), &ids)
        .await
        .map_err(|err| state.storage_error(&err))?;
    Ok(Json(Replayed { replayed }))
}

/// The tenant id owning destination `id`, or 404.
async fn destination_of(state: &AppState, slug: &TenantSlug, id: Uuid) -> Result<Uuid, ApiError> {
    state
        .tenancy
        .destination(slug, id)
        .await
        .map_err(|err| tenancy_error(state, err))?
        .map(|d| d.tenant_id)
        .ok_or_else(no_destination)
}

fn patterns(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    raw.into_iter()
        .map(|pattern| {
            EventFilter::parse(&pattern)
                .map(|f| f.as_str().to_owned())
                .map_err(|err| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_event_type",
                        format!("{pattern:?}: {err}"),
                    )
                })
        })
        .collect()
}

fn statuses(raw: Option<&str>) -> Result<Vec<DeliveryStatus>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|err: hookgate_store::UnknownStatus| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_query",
                        err.to_string(),
                    )
                })
        })
        .collect()
}

fn no_destination() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such destination")
}
