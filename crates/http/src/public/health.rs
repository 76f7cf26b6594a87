use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{ApiError, AppState};

/// The process is alive and serving HTTP.
#[utoipa::path(get, operation_id = "public_health_healthz", path = "/healthz", tag = "public", responses((status = 200, description = "ok", body = Object)))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process should receive traffic: the database answers, its schema is current and the
/// process is not shutting down.
#[utoipa::path(get, operation_id = "public_health_readyz", path = "/readyz", tag = "public", responses((status = 200, description = "ok", body = Object), (status = 503, description = "not ready: database unreachable, migrations pending, or draining", body = crate::error::ErrorBody)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let retry = state.ingest.retry_after_secs;
    if state.readiness.is_draining() {
        return Err(ApiError::unavailable("shutting down", retry));
    }
    let check = async {
        state.store.ping().await?;
        state.store.pending_migrations().await
    };
    match tokio::time::timeout(state.ingest.store_timeout, check).await {
        Ok(Ok(0)) => Ok(Json(json!({
            "status": "ready",
            "tenants": state.registry.len(),
            "undecryptable_secrets": state.registry.undecryptable_secrets(),
        }))),
        Ok(Ok(pending)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "migrations_pending",
            format!("{pending} database migrations are pending; run `hookgate migrate`"),
        )),
        Ok(Err(err)) => {
            tracing::warn!(%err, "readiness check failed");
            Err(ApiError::unavailable("database unavailable", retry))
        }
        Err(_) => Err(ApiError::unavailable(
            "database did not answer in time",
            retry,
        )),
    }
}
