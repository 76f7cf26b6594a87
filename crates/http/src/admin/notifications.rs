//! Operational notifications: where a tenant's go (and the operator's global URL), a test of
//! each, and what was sent lately.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use hookgate_store::{Notification, NotificationTarget, Uuid};
use serde::{Deserialize, Serialize};

use super::shared::{List, parse_secret, removed, tenancy_error};
use crate::extract::{AppJson, AppQuery, Slug};
use crate::{ApiError, AppState, TestFailure, TestRecipient};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/tenants/{slug}/notifications",
            get(show).put(set).delete(clear),
        )
        .route("/tenants/{slug}/notifications/test", post(test))
        .route("/tenants/{slug}/notifications/sent", get(sent))
        .route("/notifications/test", post(test_global))
}

/// Where a tenant's notifications go (never the secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationTargetView {
    url: String,
    set_at: String,
}

impl From<NotificationTarget> for NotificationTargetView {
    fn from(target: NotificationTarget) -> Self {
        Self {
            url: target.url,
            set_at: target.created_at.to_rfc3339(),
        }
    }
}

// No Debug: it may carry a signing secret.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SetNotifications {
    /// `http://` or `https://`.
    url: String,
    /// The secret notifications are signed with (`whsec_…`); generated (and returned once) when
    /// absent.
    signing_secret: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationsSet {
    url: String,
    /// Shown this once, stored encrypted: the receiver verifies notifications with it.
    signing_secret: String,
}

/// What a test notification came to: sent either way, accepted or not.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct TestResult {
    /// Whether the notification URL answered 2xx.
    delivered: bool,
    /// The 2xx status it answered.
    status: Option<u16>,
    /// Why it was not accepted: the status it answered, or why it could not be reached.
    error: Option<String>,
}

fn no_target() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "the tenant has no notification URL",
    )
}

#[utoipa::path(get, operation_id = "admin_notifications_show", path = "/admin/v1/tenants/{slug}/notifications", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "ok", body = NotificationTargetView), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant, or no notification URL", body = crate::error::ErrorBody)))]
async fn show(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<NotificationTargetView>, ApiError> {
    let target = state
        .tenancy
        .notifications(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    target.map(|t| Json(t.into())).ok_or_else(no_target)
}

#[utoipa::path(put, operation_id = "admin_notifications_set", path = "/admin/v1/tenants/{slug}/notifications", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), request_body = SetNotifications, responses((status = 200, description = "set; the signing secret is shown this once", body = NotificationsSet), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody), (status = 422, description = "invalid url or secret", body = crate::error::ErrorBody)))]
async fn set(
    State(state): State<AppState>,
    Slug(slug): Slug,
    AppJson(body): AppJson<SetNotifications>,
) -> Result<Json<NotificationsSet>, ApiError> {
    let secret = body
        .signing_secret
        .as_deref()
        .map(parse_secret)
        .transpose()?;
    let setup = state
        .tenancy
        .set_notifications(&slug, &body.url, secret)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(NotificationsSet {
        url: setup.target.url,
        signing_secret: setup.secret.expose_encoded(),
    }))
}

#[utoipa::path(delete, operation_id = "admin_notifications_clear", path = "/admin/v1/tenants/{slug}/notifications", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 204, description = "the tenant's notifications stop"), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant, or no notification URL", body = crate::error::ErrorBody)))]
async fn clear(State(state): State<AppState>, Slug(slug): Slug) -> Result<StatusCode, ApiError> {
    let cleared = state.tenancy.clear_notifications(&slug).await;
    removed(&state, cleared, no_target())
}

/// A test's answer: what the URL said (the test itself went), or 404 when there is no URL.
fn tested(result: Result<u16, TestFailure>) -> Result<Json<TestResult>, ApiError> {
    match result {
        Ok(status) => Ok(Json(TestResult {
            delivered: true,
            status: Some(status),
            error: None,
        })),
        Err(TestFailure::Refused(error)) => Ok(Json(TestResult {
            delivered: false,
            status: None,
            error: Some(error),
        })),
        Err(TestFailure::NoRecipient(error)) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", error))
        }
    }
}

#[utoipa::path(post, operation_id = "admin_notifications_test", path = "/admin/v1/tenants/{slug}/notifications/test", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug")), responses((status = 200, description = "a signed notification.test was sent; `delivered` says whether the URL accepted it", body = TestResult), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant, or no notification URL", body = crate::error::ErrorBody)))]
async fn test(
    State(state): State<AppState>,
    Slug(slug): Slug,
) -> Result<Json<TestResult>, ApiError> {
    let (url, secret) = state
        .tenancy
        .notification_recipient(&slug)
        .await
        .map_err(|err| tenancy_error(&state, err))?
        .ok_or_else(no_target)?;
    let recipient = TestRecipient::Tenant {
        slug: slug.to_string(),
        url,
        secret,
    };
    tested((state.test_notifier.0)(recipient).await)
}

#[utoipa::path(post, operation_id = "admin_notifications_test_global", path = "/admin/v1/notifications/test", tag = "admin", security(("admin_token" = [])), responses((status = 200, description = "a signed notification.test was sent to notifications.url; `delivered` says whether it accepted it", body = TestResult), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no global notification URL is configured", body = crate::error::ErrorBody)))]
async fn test_global(State(state): State<AppState>) -> Result<Json<TestResult>, ApiError> {
    tested((state.test_notifier.0)(TestRecipient::Global).await)
}

/// A notification hookgate queued for a tenant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct NotificationView {
    id: Uuid,
    /// `destination.disabled`, `destination.recovered`, `event.dead`, `delivery.dead` or
    /// `reconcile.drift`.
    r#type: String,
    /// `pending`, `done`, `failed` (retried) or `dead`.
    status: &'static str,
    attempts: i32,
    last_error: Option<String>,
    /// The body sent (Standard Webhooks: `type`, `timestamp`, `data`).
    payload: serde_json::Value,
    created_at: String,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            r#type: n.event_type,
            status: n.status.as_str(),
            attempts: n.attempts,
            last_error: n.last_error,
            payload: serde_json::from_str(&n.payload).unwrap_or_default(),
            created_at: n.created_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct SentParams {
    /// 1 to 500; 50 by default.
    limit: Option<u64>,
}

#[utoipa::path(get, operation_id = "admin_notifications_sent", path = "/admin/v1/tenants/{slug}/notifications/sent", tag = "admin", security(("admin_token" = [])), params(("slug" = String, Path, description = "the tenant's slug"), SentParams), responses((status = 200, description = "the tenant's latest notifications, newest first", body = List<NotificationView>), (status = 401, description = "missing or wrong credentials", body = crate::error::ErrorBody), (status = 404, description = "no such tenant", body = crate::error::ErrorBody)))]
async fn sent(
    State(state): State<AppState>,
    Slug(slug): Slug,
    AppQuery(params): AppQuery<SentParams>,
) -> Result<Json<List<NotificationView>>, ApiError> {
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let sent = state
        .tenancy
        .sent_notifications(&slug, limit)
        .await
        .map_err(|err| tenancy_error(&state, err))?;
    Ok(Json(List {
        data: sent.into_iter().map(NotificationView::from).collect(),
    }))
}
