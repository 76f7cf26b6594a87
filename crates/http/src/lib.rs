//! hookgate's HTTP surface: the routers of each route class, the middleware around them and the
//! mapping of errors to JSON answers.
//!
//! Route classes are explicit (see `classes`): every path belongs to one class by its prefix, the
//! class decides the authentication before routing, and a path in no class is refused.

mod admin;
mod classes;
mod error;
mod extract;
mod middleware;
mod openapi;
mod public;
mod state;
mod tenant;
mod trace_context;

use axum::Router;

pub use classes::{AuthedTenant, RouteClass};
pub use error::ApiError;
pub use openapi::document as openapi_document;
pub use public::metrics_router;
pub use state::{
    AppState, IngestSettings, MetricsRender, Readiness, TenantLabels, TestFailure, TestNotifier,
    TestRecipient, TestSend,
};

/// Every route the application serves (method, path template). The route-class guard refuses
/// any path outside a class whatever is mounted there; tests walk this table to check that each
/// route exists and asks for its class's credentials.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/webhooks/{tenant}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/admin/v1/tenants"),
    ("POST", "/admin/v1/tenants"),
    ("GET", "/admin/v1/tenants/{slug}"),
    ("PATCH", "/admin/v1/tenants/{slug}"),
    ("DELETE", "/admin/v1/tenants/{slug}"),
    ("POST", "/admin/v1/tenants/{slug}/disable"),
    ("POST", "/admin/v1/tenants/{slug}/enable"),
    ("GET", "/admin/v1/tenants/{slug}/secrets"),
    ("POST", "/admin/v1/tenants/{slug}/secrets"),
    ("POST", "/admin/v1/tenants/{slug}/secrets/rotate"),
    ("DELETE", "/admin/v1/tenants/{slug}/secrets/{id}"),
    ("GET", "/admin/v1/tenants/{slug}/keys"),
    ("POST", "/admin/v1/tenants/{slug}/keys"),
    ("DELETE", "/admin/v1/tenants/{slug}/keys/{id}"),
    ("GET", "/admin/v1/tenants/{slug}/destinations"),
    ("POST", "/admin/v1/tenants/{slug}/destinations"),
    ("GET", "/admin/v1/tenants/{slug}/destinations/{id}"),
    ("PATCH", "/admin/v1/tenants/{slug}/destinations/{id}"),
    ("DELETE", "/admin/v1/tenants/{slug}/destinations/{id}"),
    (
        "GET",
        "/admin/v1/tenants/{slug}/destinations/{id}/deliveries",
    ),
    (
        "POST",
        "/admin/v1/tenants/{slug}/destinations/{id}/deliveries/replay",
    ),
    ("GET", "/admin/v1/tenants/{slug}/events"),
    ("POST", "/admin/v1/tenants/{slug}/events/replay"),
    ("GET", "/admin/v1/tenants/{slug}/events/{id}"),
    ("POST", "/admin/v1/tenants/{slug}/events/{id}/replay"),
    ("GET", "/admin/v1/tenants/{slug}/dead-letters"),
    ("GET", "/admin/v1/tenants/{slug}/stats"),
    ("GET", "/admin/v1/tenants/{slug}/clerk-key"),
    ("PUT", "/admin/v1/tenants/{slug}/clerk-key"),
    ("DELETE", "/admin/v1/tenants/{slug}/clerk-key"),
    ("POST", "/admin/v1/tenants/{slug}/backfills"),
    ("POST", "/admin/v1/tenants/{slug}/reconciles"),
    ("GET", "/admin/v1/tenants/{slug}/jobs"),
    ("GET", "/admin/v1/tenants/{slug}/jobs/{id}"),
    ("DELETE", "/admin/v1/tenants/{slug}/jobs/{id}"),
    ("GET", "/admin/v1/tenants/{slug}/notifications"),
    ("PUT", "/admin/v1/tenants/{slug}/notifications"),
    ("DELETE", "/admin/v1/tenants/{slug}/notifications"),
    ("POST", "/admin/v1/tenants/{slug}/notifications/test"),
    ("GET", "/admin/v1/tenants/{slug}/notifications/sent"),
    ("POST", "/admin/v1/notifications/test"),
    ("GET", "/v1/users"),
    ("GET", "/v1/users/{id}"),
    ("GET", "/v1/users/{id}/memberships"),
    ("GET", "/v1/users/{id}/sessions"),
    ("GET", "/v1/sessions/{id}"),
    ("GET", "/v1/organizations"),
    ("GET", "/v1/organizations/{id}"),
    ("GET", "/v1/organizations/{id}/memberships"),
    ("GET", "/v1/organizations/{id}/invitations"),
    ("GET", "/v1/organizations/{id}/domains"),
    ("GET", "/v1/roles"),
    ("GET", "/v1/roles/{id}"),
    ("GET", "/v1/permissions"),
    ("GET", "/v1/permissions/{id}"),
    ("GET", "/v1/waitlist-entries"),
    ("GET", "/v1/waitlist-entries/{id}"),
    ("GET", "/v1/events"),
];

/// The whole application: every route class with the shared middleware around it.
pub fn router(state: AppState) -> Router {
    let mut routes = Router::new().merge(public::router(state.serve_ingest));
    if state.serve_ingest {
        routes = routes.merge(admin::router()).merge(tenant::router());
    }
    let routes = routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        // Outermost of the routes: every request is classified and authenticated here.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            classes::guard,
        ));
    middleware::apply(routes, &state.ingest).with_state(state)
}
