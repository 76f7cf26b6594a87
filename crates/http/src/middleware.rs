//! The middleware every request passes through, outermost first.

use axum::body::Body;
use axum::http::{HeaderName, Request, Response, StatusCode, header};
use axum::response::IntoResponse as _;
use tower::BoxError;
use tower::ServiceBuilder;
use tower::timeout::TimeoutLayer;
use tower_http::ServiceBuilderExt as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::MakeRequestUuid;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

use axum::Router;
use axum::error_handling::HandleErrorLayer;

use crate::{ApiError, AppState, IngestSettings};

/// Headers whose values are credentials: marked sensitive so no layer logs them.
pub(crate) const SENSITIVE_HEADERS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    HeaderName::from_static("svix-signature"),
    HeaderName::from_static("webhook-signature"),
];

pub(crate) fn apply(router: Router<AppState>, limits: &IngestSettings) -> Router<AppState> {
    let retry_after = limits.retry_after_secs;
    router.layer(
        ServiceBuilder::new()
            .sensitive_request_headers(SENSITIVE_HEADERS.into())
            // A request id for every request: the client's `x-request-id` when it sent one, a new
            // UUID otherwise; echoed on the response and recorded on the request's span.
            .set_x_request_id(MakeRequestUuid)
            .layer(
                TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let span = tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    );
                    crate::trace_context::adopt_remote_parent(&span, request.headers());
                    span
                }),
            )
            .propagate_x_request_id()
            .layer(CatchPanicLayer::custom(|_| panic_response()))
            // Whatever happens inside, the client has an answer before Svix gives up (15 s):
            // a JSON 503 with Retry-After, like every other "try again later".
            .layer(HandleErrorLayer::new(move |_: BoxError| async move {
                ApiError::unavailable("the request took too long, retry later", retry_after)
            }))
            .layer(TimeoutLayer::new(limits.request_timeout))
            // A client that trickles its body is cut off instead of holding a connection.
            .layer(RequestBodyTimeoutLayer::new(limits.body_idle_timeout)),
    )
}

fn panic_response() -> Response<Body> {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}
