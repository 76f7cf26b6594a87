use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use hookgate_store::{ApiKey, Tenant, Uuid};
use hookgate_tenancy::{Secret, TenancyError, TenantSlug};
use serde::{Deserialize, Serialize};

use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{slug}", get(show))
        .route("/tenants/{slug}/keys", get(list_keys).post(create_key))
        .route("/tenants/{slug}/keys/{id}", delete(revoke_key))
}

#[derive(Debug, Serialize)]
pub(crate) struct TenantView {
    id: Uuid,
    slug: String,
    name: String,
    enabled: bool,
    tolerance_secs: Option<i64>,
    max_body_bytes: Option<i64>,
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
            created_at: t.created_at.to_rfc3339(),
            updated_at: t.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
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

#[derive(Debug, Serialize)]
pub(crate) struct List<T> {
    data: Vec<T>,
}

async fn list(State(state): State<AppState>) -> Result<Json<List<TenantView>>, ApiError> {
    let tenants = state.tenancy.list().await.map_err(tenancy_error)?;
    Ok(Json(List {
        data: tenants.into_iter().map(TenantView::from).collect(),
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateTenant {
    slug: String,
    name: Option<String>,
    /// Clerk's signing secret; generated (and returned once) when absent.
    signing_secret: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Created {
    tenant: TenantView,
    /// Present only when hookgate generated the secret: shown this once.
    signing_secret: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Json(body): Json<CreateTenant>,
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

async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Json<TenantView>, ApiError> {
    let slug = parse_slug(&slug)?;
    let tenant = state.tenancy.get(&slug).await.map_err(tenancy_error)?;
    Ok(Json(tenant.into()))
}

async fn list_keys(
    State(state): State<AppState>,
    Path(slug): Path<String>,
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

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CreateKey {
    #[serde(default)]
    name: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct CreatedKey {
    key: KeyView,
    /// The key itself: shown this once, only its hash is stored.
    secret: String,
}

async fn create_key(
    State(state): State<AppState>,
    Path(slug): Path<String>,
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

async fn revoke_key(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, Uuid)>,
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

fn parse_slug(slug: &str) -> Result<TenantSlug, ApiError> {
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
