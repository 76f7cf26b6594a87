//! A tenant's Clerk signing secrets: the set deliveries are verified against, and its rotation.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hookgate_store::Uuid;
use serde::{Deserialize, Serialize};

use super::shared::{List, parse_secret, removed, tenancy_error};
use crate::extract::{AppJson, AppPath, OptionalJson, ResourceId, Slug};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/{slug}/secrets", get(list).post(add))
        .route("/tenants/{slug}/secrets/rotate", post(rotate))
        .route("/tenants/{slug}/secrets/{id}", delete(revoke))
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
async fn list(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<List<SecretView>>, ApiError> {
    let now = chrono::Utc::now();
    let secrets = state
        .tenancy
        .secrets(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
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
async fn add(
    State(state): State<AppState>,
    Slug(slug): Slug,
    AppJson(body): AppJson<AddSecret>,
) -> Result<(StatusCode, Json<AddedSecret>), ApiError> {
    let secret = parse_secret(&body.signing_secret)?;
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
        .map_err(|err| tenancy_error(&state, err))?;
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
async fn rotate(
    State(state): State<AppState>,
    Slug(slug): Slug,
    OptionalJson(body): OptionalJson<Rotate>,
) -> Result<(StatusCode, Json<Rotated>), ApiError> {
    let body = body.unwrap_or_default();
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
        .map(parse_secret)
        .transpose()?;
    let grace = chrono::Duration::seconds(grace);
    let (id, generated, retire_at) = state
        .tenancy
        .rotate_secret(&slug, secret, grace)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
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
async fn revoke(
    State(state): State<AppState>,
    AppPath(ResourceId { id }): AppPath<ResourceId>,
    Slug(slug): Slug,
) -> Result<StatusCode, ApiError> {
    let revoked = state.tenancy.revoke_secret(&slug, id).await;
    let missing = ApiError::new(StatusCode::NOT_FOUND, "not_found", "no secret with this id");
    removed(&state, revoked, missing)
}
