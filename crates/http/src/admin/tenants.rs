//! Tenants: each a Clerk application whose webhooks hookgate takes, with its settings.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hookgate_store::{Tenant, Uuid};
use hookgate_tenancy::TenantSlug;
use serde::{Deserialize, Serialize};

use super::shared::{List, parse_secret, tenancy_error};
use crate::extract::{AppJson, AppQuery, Slug, parse_slug};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{slug}", get(show).patch(update).delete(remove))
        .route("/tenants/{slug}/disable", post(disable))
        .route("/tenants/{slug}/enable", post(enable))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TenantView {
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

impl From<Tenant> for TenantView {
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

#[utoipa::path(get, operation_id = "admin_tenants_list", path = "/admin/v1/tenants", tag = "admin", security(("admin_token" = [])), responses((status = 200, description = "ok", body = List<TenantView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list(State(state): State<AppState>) -> Result<Json<List<TenantView>>, ApiError> {
    let tenants = state
        .tenancy
        .list()
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(List {
        data: tenants.into_iter().map(TenantView::from).collect(),
    }))
}

// No Debug: it may carry a signing secret.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateTenant {
    slug: String,
    name: Option<String>,
    /// Clerk's signing secret; generated (and returned once) when absent.
    signing_secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Created {
    tenant: TenantView,
    /// Present only when hookgate generated the secret: shown this once.
    signing_secret: Option<String>,
}

#[utoipa::path(post, operation_id = "admin_tenants_create", path = "/admin/v1/tenants", tag = "admin", security(("admin_token" = [])), request_body = CreateTenant, responses((status = 201, description = "ok", body = Created), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 409, description = "the slug is taken", body = crate::error::ErrorBody), (status = 422, description = "invalid slug, name or secret", body = crate::error::ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    AppJson(body): AppJson<CreateTenant>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let slug = parse_slug(&body.slug)?;
    let secret = body
        .signing_secret
        .as_deref()
        .map(parse_secret)
        .transpose()?;
    let created = state
        .tenancy
        .create(&slug, body.name, secret)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            tenant: created.tenant.into(),
            signing_secret: created.generated_secret.map(|s| s.expose_encoded()),
        }),
    ))
}

#[utoipa::path(get, operation_id = "admin_tenants_show", path = "/admin/v1/tenants/{slug}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = TenantView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = state
        .tenancy
        .get(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(tenant.into()))
}

/// Settings to change; a field set to `null` clears the tenant's override.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct UpdateTenant {
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    tolerance_secs: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    max_body_bytes: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    rate_limit_per_sec: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    rate_limit_burst: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    instance_id: Option<Option<String>>,
}

/// A field that is present (possibly `null`) reads as `Some`; an absent one stays `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[utoipa::path(patch, operation_id = "admin_tenants_update", path = "/admin/v1/tenants/{slug}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = UpdateTenant, responses((status = 200, description = "ok", body = TenantView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody), (status = 422, description = "invalid setting", body = crate::error::ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    Slug(slug): Slug,
    AppJson(body): AppJson<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    let patch = hookgate_store::TenantPatch {
        name: body.name,
        tolerance_secs: body.tolerance_secs,
        max_body_bytes: body.max_body_bytes,
        rate_limit_per_sec: body.rate_limit_per_sec,
        rate_limit_burst: body.rate_limit_burst,
        instance_id: body.instance_id,
    };
    let tenant = state
        .tenancy
        .update(&slug, patch)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(tenant.into()))
}

#[utoipa::path(post, operation_id = "admin_tenants_disable", path = "/admin/v1/tenants/{slug}/disable", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = TenantView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<TenantView>, ApiError> {
    set_enabled(state, slug, false).await
}

#[utoipa::path(post, operation_id = "admin_tenants_enable", path = "/admin/v1/tenants/{slug}/enable", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = TenantView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn enable(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<TenantView>, ApiError> {
    set_enabled(state, slug, true).await
}

async fn set_enabled(
    state: AppState,
    slug: TenantSlug,
    enabled: bool,
) -> Result<Json<TenantView>, ApiError> {
    state
        .tenancy
        .set_enabled(&slug, enabled)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    let tenant = state
        .tenancy
        .get(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(tenant.into()))
}

#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Confirm {
    confirm: Option<String>,
}

/// Deletes the tenant and all its data; `?confirm=<slug>` must repeat the slug.
#[utoipa::path(delete, operation_id = "admin_tenants_remove", path = "/admin/v1/tenants/{slug}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), Confirm), responses((status = 204, description = "done"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody), (status = 422, description = "confirmation missing", body = crate::error::ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    AppQuery(confirm): AppQuery<Confirm>,
    Slug(slug): Slug,
) -> Result<StatusCode, ApiError> {
    if confirm.confirm.as_deref() != Some(slug.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_required",
            "deleting a tenant deletes all its data: repeat its slug as ?confirm=<slug>",
        ));
    }
    state
        .tenancy
        .delete(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(StatusCode::NO_CONTENT)
}
