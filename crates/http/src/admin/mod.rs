//! Route class `admin` (`/admin/v1`): operators manage tenants. Authenticated by the class guard.

pub(crate) mod destinations;
pub(crate) mod events;
pub(crate) mod tenants;

use axum::Router;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().nest(
        "/admin/v1",
        tenants::router()
            .merge(events::router())
            .merge(destinations::router()),
    )
}
