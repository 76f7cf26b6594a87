use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use hookgate_store::{SyncedUser, UserFilter};
use serde::{Deserialize, Serialize};

use crate::classes::AuthedTenant;
use crate::extract::{AppPath, AppQuery};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list))
        .route("/users/{id}", get(show))
}

/// A synced user as the tenant API shows it: the typed columns, bookkeeping, and Clerk's data.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct UserView {
    id: String,
    primary_email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    image_url: Option<String>,
    external_id: Option<String>,
    banned: Option<bool>,
    locked: Option<bool>,
    last_sign_in_at: Option<i64>,
    last_active_at: Option<i64>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
    deleted_at: Option<String>,
    version: i64,
    /// Clerk's user object as last received.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

impl From<SyncedUser> for UserView {
    fn from(u: SyncedUser) -> Self {
        Self {
            id: u.clerk_id,
            primary_email: u.primary_email,
            first_name: u.first_name,
            last_name: u.last_name,
            username: u.username,
            image_url: u.image_url,
            external_id: u.external_id,
            banned: u.banned,
            locked: u.locked,
            last_sign_in_at: u.last_sign_in_at,
            last_active_at: u.last_active_at,
            created_at: u.created_at,
            updated_at: u.updated_at,
            deleted_at: u.deleted_at.map(|t| t.to_rfc3339()),
            version: u.version,
            data: u.data,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    email: Option<String>,
    external_id: Option<String>,
    /// RFC 3339.
    updated_since: Option<String>,
    #[serde(default)]
    include_deleted: bool,
    cursor: Option<String>,
    limit: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PageView<T> {
    data: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;

#[utoipa::path(get, operation_id = "tenant_users_list", path = "/v1/users", tag = "tenant", security(("api_key" = [])), params(ListQuery), responses((status = 200, description = "ok", body = PageView<UserView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 400, description = "invalid query", body = crate::error::ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Extension(AuthedTenant(owner)): Extension<AuthedTenant>,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<PageView<UserView>>, ApiError> {
    let invalid = |field: &str, message: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("{field}: {message}"),
        )
    };
    let updated_since = query
        .updated_since
        .as_deref()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).map(|t| t.to_utc()))
        .transpose()
        .map_err(|_| invalid("updated_since", "must be an RFC 3339 time"))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(invalid("limit", "must be 1 to 500"));
    }
    let filter = UserFilter {
        email: query.email,
        external_id: query.external_id,
        updated_since,
        include_deleted: query.include_deleted,
    };
    let page = state
        .store
        .list_synced_users(owner.tenant_id, &filter, query.cursor.as_deref(), limit)
        .await
        .map_err(|err| state.storage_error(&err))?;
    Ok(Json(PageView {
        data: page.rows.into_iter().map(UserView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[utoipa::path(get, operation_id = "tenant_users_show", path = "/v1/users/{id}", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id")), responses((status = 200, description = "ok", body = UserView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such user", body = crate::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    Extension(AuthedTenant(owner)): Extension<AuthedTenant>,
    AppPath(id): AppPath<String>,
) -> Result<Json<UserView>, ApiError> {
    let user = state
        .store
        .find_synced_user(owner.tenant_id, &id)
        .await
        .map_err(|err| state.storage_error(&err))?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such user"))?;
    Ok(Json(user.into()))
}
