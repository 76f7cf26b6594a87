use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hookgate_store::{ApiKey, Tenant, Uuid};
use hookgate_tenancy::{Secret, TenancyError, TenantSlug};
use serde::{Deserialize, Serialize};

use crate::extract::{AppJson, AppPath, AppQuery};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{slug}", get(show).patch(update).delete(remove))
        .route("/tenants/{slug}/disable", post(disable))
        .route("/tenants/{slug}/enable", post(enable))
        .route(
            "/tenants/{slug}/secrets",
            get(list_secrets).post(add_secret),
        )
        .route("/tenants/{slug}/secrets/rotate", post(rotate_secret))
        .route("/tenants/{slug}/secrets/{id}", delete(revoke_secret))
        .route("/tenants/{slug}/keys", get(list_keys).post(create_key))
        .route("/tenants/{slug}/keys/{id}", delete(revoke_key))
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct KeyView {
    id: Uuid,
    prefix: String,
    name: String,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            prefix: k.prefix,
            name: k.name,
            created_at: k.created_at.to_rfc3339(),
            revoked_at: k.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct List<T> {
    pub(crate) data: Vec<T>,
}

#[utoipa::path(get, operation_id = "admin_tenants_list", path = "/admin/v1/tenants", tag = "admin", security(("admin_token" = [])), responses((status = 200, description = "ok", body = List<TenantView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list(State(state): State<AppState>) -> Result<Json<List<TenantView>>, ApiError> {
    let tenants = state.tenancy.list().await.map_err(tenancy_error)?;
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
        .map(Secret::parse)
        .transpose()
        .map_err(|err| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_secret",
                err.to_string(),
            )
        })?;
    let created = state
        .tenancy
        .create(&slug, body.name, secret)
        .await
        .map_err(tenancy_error)?;
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
    AppPath(slug): AppPath<String>,
) -> Result<Json<TenantView>, ApiError> {
    let slug = parse_slug(&slug)?;
    let tenant = state.tenancy.get(&slug).await.map_err(tenancy_error)?;
    Ok(Json(tenant.into()))
}

#[utoipa::path(get, operation_id = "admin_tenants_list_keys", path = "/admin/v1/tenants/{slug}/keys", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = List<KeyView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list_keys(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
) -> Result<Json<List<KeyView>>, ApiError> {
    let slug = parse_slug(&slug)?;
    let keys = state
        .tenancy
        .list_api_keys(&slug)
        .await
        .map_err(tenancy_error)?;
    Ok(Json(List {
        data: keys.into_iter().map(KeyView::from).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateKey {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct CreatedKey {
    key: KeyView,
    /// The key itself: shown this once, only its hash is stored.
    secret: String,
}

#[utoipa::path(post, operation_id = "admin_tenants_create_key", path = "/admin/v1/tenants/{slug}/keys", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = Option<CreateKey>, responses((status = 201, description = "ok", body = CreatedKey), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn create_key(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
    body: Option<Json<CreateKey>>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let slug = parse_slug(&slug)?;
    let name = body.map(|Json(b)| b.name).unwrap_or_default();
    let (key, secret) = state
        .tenancy
        .create_api_key(&slug, &name)
        .await
        .map_err(tenancy_error)?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: key.into(),
            secret: secret.expose().to_owned(),
        }),
    ))
}

#[utoipa::path(delete, operation_id = "admin_tenants_revoke_key", path = "/admin/v1/tenants/{slug}/keys/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 204, description = "done"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no live key with this id", body = crate::error::ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    AppPath((slug, id)): AppPath<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let slug = parse_slug(&slug)?;
    if state
        .tenancy
        .revoke_api_key(&slug, id)
        .await
        .map_err(tenancy_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no live key with this id",
        ))
    }
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
    AppPath(slug): AppPath<String>,
    AppJson(body): AppJson<UpdateTenant>,
) -> Result<Json<TenantView>, ApiError> {
    let slug = parse_slug(&slug)?;
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
        .map_err(tenancy_error)?;
    Ok(Json(tenant.into()))
}

#[utoipa::path(post, operation_id = "admin_tenants_disable", path = "/admin/v1/tenants/{slug}/disable", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = TenantView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
) -> Result<Json<TenantView>, ApiError> {
    set_enabled(state, slug, false).await
}

#[utoipa::path(post, operation_id = "admin_tenants_enable", path = "/admin/v1/tenants/{slug}/enable", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = TenantView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn enable(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
) -> Result<Json<TenantView>, ApiError> {
    set_enabled(state, slug, true).await
}

async fn set_enabled(
    state: AppState,
    slug: String,
    enabled: bool,
) -> Result<Json<TenantView>, ApiError> {
    let slug = parse_slug(&slug)?;
    state
        .tenancy
        .set_enabled(&slug, enabled)
        .await
        .map_err(tenancy_error)?;
    let tenant = state.tenancy.get(&slug).await.map_err(tenancy_error)?;
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
    AppPath(slug): AppPath<String>,
    AppQuery(confirm): AppQuery<Confirm>,
) -> Result<StatusCode, ApiError> {
    let slug = parse_slug(&slug)?;
    if confirm.confirm.as_deref() != Some(slug.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "confirmation_required",
            "deleting a tenant deletes all its data: repeat its slug as ?confirm=<slug>",
        ));
    }
    state.tenancy.delete(&slug).await.map_err(tenancy_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SecretView {
    id: Uuid,
    created_at: String,
    not_before: Option<String>,
    expires_at: Option<String>,
    active: bool,
}

#[utoipa::path(get, operation_id = "admin_tenants_list_secrets", path = "/admin/v1/tenants/{slug}/secrets", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = List<SecretView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list_secrets(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
) -> Result<Json<List<SecretView>>, ApiError> {
    let slug = parse_slug(&slug)?;
    let now = chrono::Utc::now();
    let secrets = state.tenancy.secrets(&slug).await.map_err(tenancy_error)?;
    Ok(Json(List {
        data: secrets
            .into_iter()
            .map(|s| SecretView {
                id: s.id,
                created_at: s.created_at.to_rfc3339(),
                not_before: s.not_before.map(|t| t.to_rfc3339()),
                expires_at: s.expires_at.map(|t| t.to_rfc3339()),
                active: hookgate_tenancy::is_secret_active(&s, now),
            })
            .collect(),
    }))
}

// No Debug: it may carry a signing secret.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct AddSecret {
    /// The secret to accept (`whsec_...`), besides the current ones.
    signing_secret: String,
    /// Stop accepting it after this many seconds.
    expires_in_secs: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct AddedSecret {
    id: Uuid,
}

#[utoipa::path(post, operation_id = "admin_tenants_add_secret", path = "/admin/v1/tenants/{slug}/secrets", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = AddSecret, responses((status = 201, description = "ok", body = AddedSecret), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 422, description = "invalid secret or expiry", body = crate::error::ErrorBody)))]
async fn add_secret(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
    AppJson(body): AppJson<AddSecret>,
) -> Result<(StatusCode, Json<AddedSecret>), ApiError> {
    let slug = parse_slug(&slug)?;
    let secret = Secret::parse(&body.signing_secret).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_secret",
            err.to_string(),
        )
    })?;
    let expires_at = match body.expires_in_secs {
        None => None,
        Some(secs) if (1..=10 * 365 * 86_400).contains(&secs) => {
            Some(chrono::Utc::now() + chrono::Duration::seconds(secs))
        }
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_setting",
                "expires_in_secs must be 1 to 315360000",
            ));
        }
    };
    let id = state
        .tenancy
        .add_secret(&slug, &secret, expires_at, None)
        .await
        .map_err(tenancy_error)?;
    Ok((StatusCode::CREATED, Json(AddedSecret { id })))
}

// No Debug: it may carry a signing secret.
#[derive(Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct Rotate {
    /// Clerk's new signing secret; generated (and returned once) when absent.
    signing_secret: Option<String>,
    /// How long the current secrets keep verifying; 24 h by default.
    grace_secs: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Rotated {
    id: Uuid,
    /// Present only when hookgate generated the secret: shown this once.
    signing_secret: Option<String>,
    previous_expire_at: String,
}

#[utoipa::path(post, operation_id = "admin_tenants_rotate_secret", path = "/admin/v1/tenants/{slug}/secrets/rotate", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = Option<Rotate>, responses((status = 201, description = "ok", body = Rotated), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    AppPath(slug): AppPath<String>,
    body: Option<Json<Rotate>>,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    let slug = parse_slug(&slug)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let grace = body.grace_secs.unwrap_or(86_400);
    if !(0..=30 * 86_400).contains(&grace) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_setting",
            "grace_secs must be 0 to 2592000",
        ));
    }
    let secret = body
        .signing_secret
        .as_deref()
        .map(Secret::parse)
        .transpose()
        .map_err(|err| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_secret",
                err.to_string(),
            )
        })?;
    let grace = chrono::Duration::seconds(grace);
    let (id, generated, retire_at) = state
        .tenancy
        .rotate_secret(&slug, secret, grace)
        .await
        .map_err(tenancy_error)?;
    Ok((
        StatusCode::CREATED,
        Json(Rotated {
            id,
            signing_secret: generated.map(|s| s.expose_encoded()),
            previous_expire_at: retire_at.to_rfc3339(),
        }),
    ))
}

#[utoipa::path(delete, operation_id = "admin_tenants_revoke_secret", path = "/admin/v1/tenants/{slug}/secrets/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 204, description = "done"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such secret", body = crate::error::ErrorBody)))]
async fn revoke_secret(
    State(state): State<AppState>,
    AppPath((slug, id)): AppPath<(String, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let slug = parse_slug(&slug)?;
    if state
        .tenancy
        .revoke_secret(&slug, id)
        .await
        .map_err(tenancy_error)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no secret with this id",
        ))
    }
}

pub(crate) fn parse_slug(slug: &str) -> Result<TenantSlug, ApiError> {
    TenantSlug::parse(slug).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_slug",
            err.to_string(),
        )
    })
}

pub(crate) fn tenancy_error(err: TenancyError) -> ApiError {
    match err {
        TenancyError::UnknownTenant(slug) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("tenant `{slug}` does not exist"),
        ),
        TenancyError::TenantExists(slug) => ApiError::new(
            StatusCode::CONFLICT,
            "tenant_exists",
            format!("tenant `{slug}` already exists"),
        ),
        TenancyError::InvalidSetting(rule) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_setting", rule)
        }
        TenancyError::InvalidName => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            err.to_string(),
        ),
        TenancyError::Cipher(_) | TenancyError::Store(_) => {
            tracing::error!(%err, "tenant operation failed");
            ApiError::unavailable("storage unavailable, retry later", 5)
        }
    }
}
