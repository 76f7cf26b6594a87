//! `POST /api/webhooks/{tenant}`: verify with the tenant's secrets, store durably, then answer.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use hookgate_events::Envelope;
use hookgate_store::{InsertOutcome, NewInboxEvent, SubmitError};
use hookgate_tenancy::{HeaderLookup, TenantSlug, WebhookHeaders};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde::Serialize;
use tower_http::timeout::TimeoutError;
use tracing::Instrument as _;

use crate::{ApiError, AppState};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Accepted {
    status: &'static str,
    id: String,
    /// What the metrics count: `status`, or `conflict` for a duplicate with another body.
    #[serde(skip)]
    outcome: &'static str,
}

impl Accepted {
    fn new(status: &'static str, id: hookgate_store::Uuid) -> Self {
        Self {
            status,
            id: id.to_string(),
            outcome: status,
        }
    }
}

#[tracing::instrument(
    name = "ingest",
    skip_all,
    fields(tenant, svix_id, event_type, outcome, bytes)
)]
#[utoipa::path(post, operation_id = "public_ingest_ingest", path = "/api/webhooks/{tenant}", tag = "public", params(("tenant" = String, Path, description = "the tenant's slug")), request_body(content = String, content_type = "application/json", description = "the Clerk event exactly as Svix sends it, with svix-id, svix-timestamp and svix-signature (or webhook-*) headers"), responses((status = 200, description = "ok", body = Accepted), (status = 400, description = "missing or malformed signature headers", body = crate::error::ErrorBody), (status = 401, description = "signature or timestamp check failed", body = crate::error::ErrorBody), (status = 404, description = "unknown or disabled tenant", body = crate::error::ErrorBody), (status = 408, description = "the body stalled", body = crate::error::ErrorBody), (status = 413, description = "body over the tenant's limit", body = crate::error::ErrorBody), (status = 429, description = "tenant over its rate limit; see Retry-After", body = crate::error::ErrorBody), (status = 503, description = "storage unavailable; see Retry-After", body = crate::error::ErrorBody)))]
pub(crate) async fn ingest(
    State(state): State<AppState>,
    tenant: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Accepted>, ApiError> {
    let started = std::time::Instant::now();
    let span = tracing::Span::current();
    // A path segment that does not even decode (`%FF`) names no tenant either.
    let tenant = tenant.map(|Path(t)| t).unwrap_or_default();
    let mut known = None;
    let result = handle(&state, &tenant, &headers, body, &span, &mut known).await;
    let outcome = match &result {
        Ok(Json(answer)) => answer.outcome,
        Err(err) => err.code(),
    };
    span.record("outcome", outcome);
    let elapsed = started.elapsed().as_secs_f64();
    match state
        .tenant_labels
        .label(known.as_ref().map(TenantSlug::as_str))
    {
        Some(tenant) => {
            metrics::counter!("hookgate_ingest_requests_total", "outcome" => outcome, "tenant" => tenant.clone()).increment(1);
            metrics::histogram!("hookgate_ingest_duration_seconds", "tenant" => tenant)
                .record(elapsed);
        }
        None => {
            metrics::counter!("hookgate_ingest_requests_total", "outcome" => outcome).increment(1);
            metrics::histogram!("hookgate_ingest_duration_seconds").record(elapsed);
        }
    }
    result
}

async fn handle(
    state: &AppState,
    tenant: &str,
    headers: &HeaderMap,
    body: Body,
    span: &tracing::Span,
    known: &mut Option<TenantSlug>,
) -> Result<Json<Accepted>, ApiError> {
    let unknown = unknown_tenant;
    let slug = TenantSlug::parse(tenant).map_err(|_| unknown())?;
    span.record("tenant", slug.as_str());
    let tenant = state
        .registry
        .get(&slug)
        .filter(|t| t.enabled)
        .ok_or_else(unknown)?;
    *known = Some(slug);

    let signed = WebhookHeaders::parse(|name| lookup(headers, name)).map_err(|err| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_headers", err.to_string())
    })?;
    let svix_id = signed.id();
    span.record("svix_id", svix_id.as_str());

    let body = read_body(headers, body, tenant.max_body_bytes).await?;
    span.record("bytes", body.len());

    tracing::info_span!("verify")
        .in_scope(|| tenant.verifier.verify(&signed, &body, unix_now()))
        .map_err(|err| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "verification_failed",
                err.to_string(),
            )
        })?;

    // Only verified deliveries count against the tenant's rate, so forged traffic cannot use up a
    // tenant's budget.
    if let Some(limiter) = &tenant.rate_limiter
        && let Err(wait) = limiter.try_acquire()
    {
        return Err(ApiError::rate_limited(wait.as_secs().max(1)));
    }

    let event = match Envelope::parse(&body) {
        Ok(envelope) => {
            span.record("event_type", envelope.event_type.as_str());
            // A tenant pinned to one Clerk instance keeps another instance's events visible
            // (dead, with both ids) rather than syncing them into its tables.
            let misdirected = tenant.instance_id.as_deref().and_then(|pinned| {
                (envelope.instance_id.as_deref() != Some(pinned)).then(|| {
                    format!(
                        "instance_id {} does not match the tenant's pinned instance {pinned}",
                        envelope.instance_id.as_deref().unwrap_or("(none)")
                    )
                })
            });
            (
                Some(envelope.event_type),
                envelope.instance_id,
                Some(envelope.timestamp_ms),
                misdirected,
            )
        }
        // Verified, so it is the tenant's own sender: keep it for inspection, but retrying
        // cannot make it a Clerk event, so it is stored dead and acknowledged.
        Err(err) => (None, None, None, Some(err.to_string())),
    };
    let (event_type, instance_id, event_timestamp_ms, invalid) = event;
    let event = NewInboxEvent {
        svix_id: svix_id.as_str().to_owned(),
        event_type,
        instance_id,
        event_timestamp_ms,
        body: body.into(),
        invalid,
        trace_parent: crate::trace_context::traceparent_of(span),
    };

    let retry = state.ingest.retry_after_secs;
    let stored = tokio::time::timeout(
        state.ingest.store_timeout,
        state
            .inbox
            .insert(tenant.id, event)
            .instrument(tracing::info_span!(
                "store",
                batch_size = tracing::field::Empty
            )),
    )
    .await;
    match stored {
        Ok(Ok(InsertOutcome::Accepted(id))) => {
            state.stored.notify_one();
            Ok(Json(Accepted::new("accepted", id)))
        }
        Ok(Ok(InsertOutcome::Duplicate(id))) => Ok(Json(Accepted::new("duplicate", id))),
        // The first delivery stands, as for any duplicate (the sender must not retry), but a
        // body that changed under one svix-id is worth an operator's look.
        Ok(Ok(InsertOutcome::Conflict {
            id,
            stored_sha256,
            received_sha256,
        })) => {
            tracing::warn!(
                inbox_id = %id,
                %stored_sha256,
                %received_sha256,
                "a delivery reused a stored svix-id with another body; the first one stands"
            );
            Ok(Json(Accepted {
                outcome: "conflict",
                ..Accepted::new("duplicate", id)
            }))
        }
        // Deleted since the registry was read (on this process or another).
        Ok(Ok(InsertOutcome::NoTenant)) => Err(unknown_tenant()),
        Ok(Err(SubmitError::QueueFull)) => {
            tracing::warn!("the ingest queue is full");
            Err(ApiError::unavailable(
                "too many deliveries waiting to be stored, retry later",
                retry,
            )
            .with_code("queue_full"))
        }
        Ok(Err(err)) => {
            tracing::error!(%err, "storing a verified delivery failed");
            Err(ApiError::unavailable(
                "storage unavailable, retry later",
                retry,
            ))
        }
        Err(_) => {
            tracing::error!("storing a verified delivery timed out");
            Err(ApiError::unavailable(
                "storage did not answer in time, retry later",
                retry,
            ))
        }
    }
}

/// An unknown, invalid, disabled or deleted tenant gets one answer, so slugs cannot be probed.
fn unknown_tenant() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", "unknown tenant")
}

fn lookup<'a>(headers: &'a HeaderMap, name: &'static str) -> HeaderLookup<'a> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => HeaderLookup::Absent,
        (Some(value), None) => HeaderLookup::Present(value.as_bytes()),
        (Some(_), Some(_)) => HeaderLookup::Repeated,
    }
}

/// Reads the whole body, refusing more than `limit` bytes whether or not a length was declared.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body exceeds this tenant's limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(err) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
            while let Some(e) = source {
                if e.is::<TimeoutError>() {
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "body_timeout",
                        "the body was not received in time",
                    ));
                }
                source = e.source();
            }
            Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the body could not be read",
            ))
        }
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
