//! The tenant's other synced objects, read generically: every listing pages by Clerk id (pass
//! `next_cursor` back as `cursor`), hides tombstones unless `include_deleted=true`, and reads only
//! the authenticated tenant's rows.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Json, Router};
use hookgate_store::{EventQuery, Page, SyncQuery, SyncTable, SyncedRow};
use serde::{Deserialize, Serialize};

use crate::classes::AuthedTenant;
use crate::extract::{AppPath, AppQuery};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/organizations", get(organizations))
        .route("/organizations/{id}", get(organization))
        .route(
            "/organizations/{id}/memberships",
            get(organization_memberships),
        )
        .route(
            "/organizations/{id}/invitations",
            get(organization_invitations),
        )
        .route("/organizations/{id}/domains", get(organization_domains))
        .route("/users/{id}/memberships", get(user_memberships))
        .route("/users/{id}/sessions", get(user_sessions))
        .route("/sessions/{id}", get(session))
        .route("/roles", get(roles))
        .route("/roles/{id}", get(role))
        .route("/permissions", get(permissions))
        .route("/permissions/{id}", get(permission))
        .route("/waitlist-entries", get(waitlist_entries))
        .route("/waitlist-entries/{id}", get(waitlist_entry))
        .route("/events", get(events))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Paging {
    #[serde(default)]
    include_deleted: bool,
    cursor: Option<String>,
    limit: Option<u64>,
    /// Filters some listings take (`slug` for organizations, `email_address` for waitlist
    /// entries, `status` for invitations).
    slug: Option<String>,
    email_address: Option<String>,
    status: Option<String>,
}

/// A synced object: these fields, plus the typed columns of its kind (for example
/// `organization_id`, `user_id` and `role` for memberships; `name` and `slug` for organizations;
/// `user_id`, `status`, `expire_at` for sessions), Clerk's times in milliseconds. An organization
/// fetched alone also carries `members`.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // Documents the shape `hookgate_store::SyncedRow` serializes to.
pub(crate) struct SyncedRowDoc {
    /// The Clerk id.
    id: String,
    /// Clerk's `updated_at` of `data` (ms), or the delete's timestamp for a tombstone.
    version: i64,
    /// Set on tombstones (`include_deleted=true`), RFC 3339.
    deleted_at: Option<String>,
    /// The inbox event that last wrote the row.
    last_event_id: String,
    /// When the row was last written, RFC 3339.
    applied_at: String,
    /// The object as Clerk last sent it.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PageView {
    /// Rows: the typed columns, `id` (the Clerk id), `version`, `deleted_at`, `applied_at` and
    /// Clerk's `data`.
    #[schema(value_type = Vec<SyncedRowDoc>)]
    data: Vec<SyncedRow>,
    next_cursor: Option<String>,
}

type Tenant = Extension<AuthedTenant>;

async fn list(
    state: &AppState,
    tenant: &AuthedTenant,
    table: SyncTable,
    mut equals: Vec<(&'static str, String)>,
    paging: Paging,
) -> Result<Json<PageView>, ApiError> {
    let limit = paging.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit: must be 1 to 500",
        ));
    }
    match table {
        SyncTable::Organizations => equals.extend(paging.slug.map(|v| ("slug", v))),
        SyncTable::WaitlistEntries => {
            equals.extend(paging.email_address.map(|v| ("email_address", v)))
        }
        SyncTable::OrganizationInvitations => equals.extend(paging.status.map(|v| ("status", v))),
        _ => {}
    }
    let query = SyncQuery {
        equals,
        include_deleted: paging.include_deleted,
        after: paging.cursor,
        limit,
    };
    let page = state
        .store
        .list_synced(tenant.0.tenant_id, table, &query)
        .await
        .map_err(|err| state.storage_error(&err))?;
    Ok(Json(PageView {
        data: page.rows,
        next_cursor: page.next_cursor,
    }))
}

async fn one(
    state: &AppState,
    tenant: &AuthedTenant,
    table: SyncTable,
    id: &str,
) -> Result<SyncedRow, ApiError> {
    state
        .store
        .find_synced(tenant.0.tenant_id, table, id)
        .await
        .map_err(|err| state.storage_error(&err))?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such object"))
}

#[utoipa::path(get, operation_id = "tenant_resources_organizations", path = "/v1/organizations", tag = "tenant", security(("api_key" = [])), params(Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn organizations(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(&s, &t, SyncTable::Organizations, vec![], p).await
}

/// An organization with its (live) members, up to 500.
#[utoipa::path(get, operation_id = "tenant_resources_organization", path = "/v1/organizations/{id}", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id")), responses((status = 200, description = "ok", body = SyncedRowDoc), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such organization", body = crate::error::ErrorBody)))]
async fn organization(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
) -> Result<Json<SyncedRow>, ApiError> {
    let mut org = one(&s, &t, SyncTable::Organizations, &id).await?;
    let members = list(
        &s,
        &t,
        SyncTable::OrganizationMemberships,
        vec![("organization_id", id)],
        Paging {
            limit: Some(500),
            ..Paging::default()
        },
    )
    .await?;
    if let Some(map) = org.as_object_mut() {
        map.insert("members".into(), serde_json::Value::Array(members.0.data));
    }
    Ok(Json(org))
}

#[utoipa::path(get, operation_id = "tenant_resources_organization_memberships", path = "/v1/organizations/{id}/memberships", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id"), Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn organization_memberships(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(
        &s,
        &t,
        SyncTable::OrganizationMemberships,
        vec![("organization_id", id)],
        p,
    )
    .await
}

#[utoipa::path(get, operation_id = "tenant_resources_organization_invitations", path = "/v1/organizations/{id}/invitations", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id"), Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn organization_invitations(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(
        &s,
        &t,
        SyncTable::OrganizationInvitations,
        vec![("organization_id", id)],
        p,
    )
    .await
}

#[utoipa::path(get, operation_id = "tenant_resources_organization_domains", path = "/v1/organizations/{id}/domains", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id"), Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn organization_domains(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(
        &s,
        &t,
        SyncTable::OrganizationDomains,
        vec![("organization_id", id)],
        p,
    )
    .await
}

#[utoipa::path(get, operation_id = "tenant_resources_user_memberships", path = "/v1/users/{id}/memberships", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id"), Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn user_memberships(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(
        &s,
        &t,
        SyncTable::OrganizationMemberships,
        vec![("user_id", id)],
        p,
    )
    .await
}

#[utoipa::path(get, operation_id = "tenant_resources_user_sessions", path = "/v1/users/{id}/sessions", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id"), Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn user_sessions(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(&s, &t, SyncTable::Sessions, vec![("user_id", id)], p).await
}

#[utoipa::path(get, operation_id = "tenant_resources_session", path = "/v1/sessions/{id}", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id")), responses((status = 200, description = "ok", body = SyncedRowDoc), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such session", body = crate::error::ErrorBody)))]
async fn session(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
) -> Result<Json<SyncedRow>, ApiError> {
    one(&s, &t, SyncTable::Sessions, &id).await.map(Json)
}

#[utoipa::path(get, operation_id = "tenant_resources_roles", path = "/v1/roles", tag = "tenant", security(("api_key" = [])), params(Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn roles(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(&s, &t, SyncTable::Roles, vec![], p).await
}

#[utoipa::path(get, operation_id = "tenant_resources_role", path = "/v1/roles/{id}", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id")), responses((status = 200, description = "ok", body = SyncedRowDoc), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such role", body = crate::error::ErrorBody)))]
async fn role(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
) -> Result<Json<SyncedRow>, ApiError> {
    one(&s, &t, SyncTable::Roles, &id).await.map(Json)
}

#[utoipa::path(get, operation_id = "tenant_resources_permissions", path = "/v1/permissions", tag = "tenant", security(("api_key" = [])), params(Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn permissions(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(&s, &t, SyncTable::Permissions, vec![], p).await
}

#[utoipa::path(get, operation_id = "tenant_resources_permission", path = "/v1/permissions/{id}", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id")), responses((status = 200, description = "ok", body = SyncedRowDoc), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such permission", body = crate::error::ErrorBody)))]
async fn permission(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
) -> Result<Json<SyncedRow>, ApiError> {
    one(&s, &t, SyncTable::Permissions, &id).await.map(Json)
}

#[utoipa::path(get, operation_id = "tenant_resources_waitlist_entries", path = "/v1/waitlist-entries", tag = "tenant", security(("api_key" = [])), params(Paging), responses((status = 200, description = "ok", body = PageView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn waitlist_entries(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<PageView>, ApiError> {
    list(&s, &t, SyncTable::WaitlistEntries, vec![], p).await
}

#[utoipa::path(get, operation_id = "tenant_resources_waitlist_entry", path = "/v1/waitlist-entries/{id}", tag = "tenant", security(("api_key" = [])), params(("id" = String, Path, description = "the Clerk id")), responses((status = 200, description = "ok", body = SyncedRowDoc), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such entry", body = crate::error::ErrorBody)))]
async fn waitlist_entry(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppPath(id): AppPath<String>,
) -> Result<Json<SyncedRow>, ApiError> {
    one(&s, &t, SyncTable::WaitlistEntries, &id).await.map(Json)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventView {
    id: String,
    svix_id: String,
    #[serde(rename = "type")]
    event_type: Option<String>,
    status: String,
    received_at: String,
    processed_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct EventPage {
    data: Vec<EventView>,
    next_cursor: Option<String>,
}

/// The tenant's own deliveries, newest first (no bodies).
#[utoipa::path(get, operation_id = "tenant_resources_events", path = "/v1/events", tag = "tenant", security(("api_key" = [])), params(Paging), responses((status = 200, description = "ok", body = EventPage), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody)))]
async fn events(
    State(s): State<AppState>,
    Extension(t): Tenant,
    AppQuery(p): AppQuery<Paging>,
) -> Result<Json<EventPage>, ApiError> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit: must be 1 to 500",
        ));
    }
    let before_id = p
        .cursor
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "cursor: not a cursor from this listing",
            )
        })?;
    let query = EventQuery {
        before_id,
        limit: Some(limit + 1),
        ..EventQuery::default()
    };
    let rows = s
        .store
        .list_inbox_events(t.0.tenant_id, &query)
        .await
        .map_err(|e| s.storage_error(&e))?;
    let Page { rows, next_cursor } = Page::from_rows(rows, limit, |e| Some(e.id.to_string()));
    Ok(Json(EventPage {
        data: rows
            .into_iter()
            .map(|e| EventView {
                id: e.id.to_string(),
                svix_id: e.svix_id,
                event_type: e.event_type,
                status: e.status.as_str().to_owned(),
                received_at: e.received_at.to_rfc3339(),
                processed_at: e.processed_at.map(|t| t.to_rfc3339()),
            })
            .collect(),
        next_cursor,
    }))
}
