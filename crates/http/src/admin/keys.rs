//! A tenant's API keys, with which its app team reads the tenant API (`/v1`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use hookgate_store::{ApiKey, Uuid};
use serde::{Deserialize, Serialize};

use super::shared::{List, removed, tenancy_error};
use crate::extract::{AppPath, OptionalJson, ResourceId, Slug};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/{slug}/keys", get(list).post(create))
        .route("/tenants/{slug}/keys/{id}", delete(revoke))
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

#[utoipa::path(get, operation_id = "admin_tenants_list_keys", path = "/admin/v1/tenants/{slug}/keys", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = List<KeyView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<List<KeyView>>, ApiError> {
    let keys = state
        .tenancy
        .list_api_keys(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
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
async fn create(
    State(state): State<AppState>,
    Slug(slug): Slug,
    OptionalJson(body): OptionalJson<CreateKey>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let name = body.map(|b| b.name).unwrap_or_default();
    let (key, secret) = state
        .tenancy
        .create_api_key(&slug, &name)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            key: key.into(),
            secret: secret.expose().to_owned(),
        }),
    ))
}

#[utoipa::path(delete, operation_id = "admin_tenants_revoke_key", path = "/admin/v1/tenants/{slug}/keys/{id}", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), ("id" = uuid::Uuid, Path, description = "hookgate's id")), responses((status = 204, description = "done"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no live key with this id", body = crate::error::ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<StatusCode, ApiError> {
    let revoked = state.tenancy.revoke_api_key(&slug, id).await;
    let missing = ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no live key with this id",
    );
    removed(&state, revoked, missing)
}
