//! Route class `public`: reachable without credentials.

mod health;
mod ingest;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) fn router(serve_ingest: bool) -> Router<AppState> {
    let health = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if serve_ingest {
        health.route("/api/webhooks/{tenant}", post(ingest::ingest))
    } else {
        health
    }
}
