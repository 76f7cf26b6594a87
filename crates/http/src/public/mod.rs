//! Route class `public`: reachable without credentials.

mod health;
mod ingest;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks/{tenant}", post(ingest::ingest))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
}
