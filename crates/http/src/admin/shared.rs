//! What the admin resources answer alike: lists, deletions, tenancy errors and signing secrets.

use axum::http::StatusCode;
use hookgate_tenancy::{Secret, TenancyError};
use serde::Serialize;

use crate::{ApiError, AppState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct List<T> {
    pub(crate) data: Vec<T>,
}

/// A signing secret given in a request body (`whsec_...`).
pub(crate) fn parse_secret(raw: &str) -> Result<Secret, ApiError> {
    Secret::parse(raw).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_secret",
            err.to_string(),
        )
    })
}

/// 204 when the tenancy call removed something, `missing` when there was nothing to remove.
pub(crate) fn removed(
    state: &AppState,
    result: Result<bool, TenancyError>,
    missing: ApiError,
) -> Result<StatusCode, ApiError> {
    match result {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(missing),
        Err(err) => Err(tenancy_error(state, err)),
    }
}

pub(crate) fn tenancy_error(state: &AppState, err: TenancyError) -> ApiError {
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
        TenancyError::InvalidDestinationUrl(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_url",
            err.to_string(),
        ),
        TenancyError::InvalidName => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            err.to_string(),
        ),
        TenancyError::NoClerkKey(_) => {
            ApiError::new(StatusCode::CONFLICT, "no_clerk_key", err.to_string())
        }
        TenancyError::JobOpen { .. } => {
            ApiError::new(StatusCode::CONFLICT, "job_open", err.to_string())
        }
        TenancyError::Cipher(_) | TenancyError::Store(_) => state.storage_error(&err),
    }
}
