//! Route class `public`: reachable without credentials.

pub(crate) mod health;
pub(crate) mod ingest;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn router(serve_ingest: bool) -> Router<AppState> {
    let health = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi))
        .route("/metrics", get(metrics));
    if serve_ingest {
        health.route("/api/webhooks/{tenant}", post(ingest::ingest))
    } else {
        health
    }
}

/// `/metrics` alone, for a listener of its own (`metrics.listen`), so scrapers need not reach
/// the API port.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The OpenAPI document of every route.
#[utoipa::path(get, operation_id = "public_openapi", path = "/openapi.json", tag = "public", responses((status = 200, description = "this document", body = Object)))]
pub(crate) async fn openapi() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}

/// Prometheus metrics of this process (text exposition format).
#[utoipa::path(get, operation_id = "public_metrics", path = "/metrics", tag = "public", responses((status = 200, description = "Prometheus text format", body = String), (status = 404, description = "metrics are off in this process", body = crate::error::ErrorBody)))]
pub(crate) async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), crate::ApiError> {
    let render = state.metrics.ok_or_else(|| {
        crate::ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "metrics are off",
        )
    })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        (render.0)(),
    ))
}
