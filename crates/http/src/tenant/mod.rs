//! Route class `tenant` (`/v1`): an app team reads its own synced data. The tenant comes from the
//! API key (see `classes::AuthedTenant`), never from the request.

pub(crate) mod resources;
pub(crate) mod users;

use axum::Router;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().nest("/v1", users::router().merge(resources::router()))
}
