//! hookgate's HTTP surface: the routers of each route class, the middleware around them and the
//! mapping of errors to JSON answers.
//!
//! Route classes are explicit: every route is mounted in exactly one class, and each class
//! carries its own authentication. Only the public class exists so far; it has none by design
//! (Svix signs deliveries instead).

mod error;
mod middleware;
mod public;
mod state;

use axum::Router;

pub use error::ApiError;
pub use state::{AppState, IngestSettings, Readiness};

/// The whole application: every route class with the shared middleware around it.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // Class `public`: no authentication layer.
        .merge(public::router(state.serve_ingest))
        // Class `admin` (`/admin/v1`) and class `tenant` (`/v1`) mount here, each behind its own
        // authentication layer.
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed);
    middleware::apply(routes, &state.ingest).with_state(state)
}
