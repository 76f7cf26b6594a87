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
        .route("/openapi.json", get(openapi));
    if serve_ingest {
        health.route("/api/webhooks/{tenant}", post(ingest::ingest))
    } else {
        health
    }
}

/// The OpenAPI document of every route.
#[utoipa::path(get, operation_id = "public_openapi", path = "/openapi.json", tag = "public", responses((status = 200, description = "this document", body = Object)))]
pub(crate) async fn openapi() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::document(),
    )
}
