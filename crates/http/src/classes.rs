//! Route classes, enforced before routing: every path belongs to exactly one class by its prefix,
//! each class carries its own authentication, and a path in no class is refused whatever is
//! mounted there. So a handler can never end up public by accident.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use hookgate_tenancy::KeyOwner;

use crate::{ApiError, AppState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Webhook ingest (Svix signs deliveries) and health: no credentials.
    Public,
    /// `/admin/v1/…`: an operator's admin token.
    Admin,
    /// `/v1/…`: a tenant API key, which fixes the tenant for the request.
    Tenant,
}

impl RouteClass {
    pub const ADMIN_PREFIX: &'static str = "/admin/v1";
    pub const TENANT_PREFIX: &'static str = "/v1";

    /// The class of a path, or `None`: refused.
    pub fn of(path: &str) -> Option<Self> {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/api/webhooks")
            || matches!(path, "/healthz" | "/readyz" | "/openapi.json" | "/metrics")
        {
            Some(Self::Public)
        } else if under(Self::ADMIN_PREFIX) {
            Some(Self::Admin)
        } else if under(Self::TENANT_PREFIX) {
            Some(Self::Tenant)
        } else {
            None
        }
    }
}

/// The tenant whose API key authenticated the request; tenant handlers take it from the request
/// extensions and cannot name another tenant.
#[derive(Debug, Clone)]
pub struct AuthedTenant(pub KeyOwner);

/// The outermost guard of the application's routes.
pub(crate) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let unauthorized = |message: &str| {
        let mut response =
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        response
    };
    match RouteClass::of(request.uri().path()) {
        None => crate::error::not_found().await.into_response(),
        Some(RouteClass::Public) => next.run(request).await,
        Some(RouteClass::Admin) => match bearer(&request) {
            Some(token) if state.admin_tokens.verify(token) => next.run(request).await,
            _ => unauthorized("an admin token is required: Authorization: Bearer <token>"),
        },
        Some(RouteClass::Tenant) => {
            let Some(key) = bearer(&request).map(str::to_owned) else {
                return unauthorized("a tenant API key is required: Authorization: Bearer <key>");
            };
            match state.tenancy.authenticate_api_key(&key).await {
                Ok(Some(owner)) => {
                    request.extensions_mut().insert(AuthedTenant(owner));
                    next.run(request).await
                }
                Ok(None) => unauthorized("unknown, revoked or disabled API key"),
                Err(err) => {
                    tracing::warn!(%err, "API key lookup failed");
                    ApiError::unavailable("database unavailable", state.ingest.retry_after_secs)
                        .into_response()
                }
            }
        }
    }
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    // The scheme is case-insensitive (RFC 9110).
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_route_belongs_to_a_class() {
        for (method, path) in crate::ROUTES {
            assert!(
                RouteClass::of(path).is_some(),
                "{method} {path} has no class"
            );
        }
    }

    #[test]
    fn every_path_has_one_class_or_none() {
        assert_eq!(
            RouteClass::of("/api/webhooks/acme"),
            Some(RouteClass::Public)
        );
        assert_eq!(RouteClass::of("/healthz"), Some(RouteClass::Public));
        assert_eq!(RouteClass::of("/metrics"), Some(RouteClass::Public));
        assert_eq!(RouteClass::of("/admin/v1/tenants"), Some(RouteClass::Admin));
        assert_eq!(RouteClass::of("/admin/v1"), Some(RouteClass::Admin));
        assert_eq!(RouteClass::of("/v1/users"), Some(RouteClass::Tenant));
        for refused in [
            "/",
            "/admin",
            "/admin/v2/x",
            "/v1x",
            "/v2/users",
            "/healthz/x",
            "/api/webhooksx",
            "/metricsx",
        ] {
            assert_eq!(RouteClass::of(refused), None, "{refused}");
        }
    }
}
