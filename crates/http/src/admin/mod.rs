//! Route class `admin` (`/admin/v1`): operators manage tenants. Authenticated by the class guard.
//! One module a resource, each with its router.

pub(crate) mod destinations;
pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod notifications;
pub(crate) mod secrets;
mod shared;
pub(crate) mod tenants;

use axum::Router;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().nest(
        "/admin/v1",
        tenants::router()
            .merge(secrets::router())
            .merge(keys::router())
            .merge(destinations::router())
            .merge(events::router())
            .merge(jobs::router())
            .merge(notifications::router()),
    )
}
