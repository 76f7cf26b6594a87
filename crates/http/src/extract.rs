//! Axum's extractors, answering a bad request in the JSON error format like everything else, and
//! the tenant slug of admin paths, parsed once.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::http::request::Parts;
use hookgate_store::Uuid;
use hookgate_tenancy::TenantSlug;
use serde::Deserialize;

use crate::ApiError;

/// A JSON request body: a JSON object (serde would read an array as a struct, field by
/// field), answered in the JSON error format when it is not one or does not parse.
#[derive(Debug)]
pub(crate) struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let (parts, bytes) = body_bytes(request, state).await?;
        json_object(parts, bytes, state).await.map(Self)
    }
}

/// The request's body, read through axum's `Bytes` so the body limit applies as it does to
/// `Json`.
async fn body_bytes<S: Send + Sync>(
    request: axum::extract::Request,
    state: &S,
) -> Result<(Parts, axum::body::Bytes), ApiError> {
    let (parts, body) = request.into_parts();
    let request = axum::extract::Request::from_parts(parts.clone(), body);
    let bytes = axum::body::Bytes::from_request(request, state)
        .await
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", err.body_text()))?;
    Ok((parts, bytes))
}

/// `bytes` as a `T`, when they are a JSON object sent as JSON (axum's `Json` checks the content
/// type and parses).
async fn json_object<T, S>(parts: Parts, bytes: axum::body::Bytes, state: &S) -> Result<T, ApiError>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the body must be a JSON object",
        ));
    }
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
    Ok(value)
}

/// A JSON request body that may be left out: no body at all is `None`; a body must be a JSON
/// object, and anything else is answered in the JSON error format like [`AppJson`]'s (axum's
/// own `Option<Json<_>>` answers it in plain text, and serde would read `[]` as a struct whose
/// fields all have defaults).
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let (parts, bytes) = body_bytes(request, state).await?;
        if bytes.is_empty() {
            return Ok(Self(None));
        }
        json_object(parts, bytes, state)
            .await
            .map(|value| Self(Some(value)))
    }
}

/// Query parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct AppQuery<T>(pub T);

/// Path parameters.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct AppPath<T>(pub T);

/// The tenant named by the `{slug}` path parameter. Read by name, so that it works beside other
/// parameters (`{id}`: take it with [`ResourceId`]). Handlers take it after their `{id}` and query
/// extractors, so that a bad id (404) or query (400) is answered before a bad slug.
#[derive(Debug)]
pub(crate) struct Slug(pub TenantSlug);

impl<S: Send + Sync> FromRequestParts<S> for Slug {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AppPath(params) =
            AppPath::<Vec<(String, String)>>::from_request_parts(parts, state).await?;
        match params.iter().find(|(name, _)| name == "slug") {
            Some((_, raw)) => parse_slug(raw).map(Self),
            None => {
                // A handler mounted on a route without `{slug}`: a bug, not a bad request.
                tracing::error!(path = %parts.uri.path(), "no {{slug}} in this route");
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                ))
            }
        }
    }
}

/// A tenant slug from a path or a request body.
pub(crate) fn parse_slug(raw: &str) -> Result<TenantSlug, ApiError> {
    TenantSlug::parse(raw).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_slug",
            err.to_string(),
        )
    })
}

/// The `{id}` path parameter of a tenant's resource, beside its `{slug}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ResourceId {
    pub(crate) id: Uuid,
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            rejection.body_text(),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    async fn answer(router: Router, uri: &str) -> (StatusCode, String) {
        let request = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn the_slug_is_read_by_name_beside_other_parameters() {
        let router = Router::new().route(
            "/{kind}/{slug}/{id}",
            get(
                |AppPath(ResourceId { id }): AppPath<ResourceId>, Slug(slug): Slug| async move {
                    format!("{slug} {id}")
                },
            ),
        );
        let id = "01a2251d-0000-7000-8000-000000000000";
        assert_eq!(
            answer(router.clone(), &format!("/t/acme/{id}")).await,
            (StatusCode::OK, format!("acme {id}"))
        );
        let (status, body) = answer(router, &format!("/t/Not%20OK/{id}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "invalid_slug");
    }

    #[tokio::test]
    async fn a_route_without_a_slug_is_an_internal_error() {
        let router = Router::new().route(
            "/{tenant}",
            get(|Slug(slug): Slug| async move { slug.to_string() }),
        );
        assert_eq!(
            answer(router, "/acme").await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
