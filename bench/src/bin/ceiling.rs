//! The verify-only ceiling: a minimal axum server that verifies each delivery with the tenant's
//! secret (the same code hookgate uses) and answers 200, storing nothing. No durable gateway can
//! beat it on the same machine.
//!
//!   ceiling <listen> <slug=whsec_...,...>     prints "listening <port>"

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hookgate_verify::{HeaderLookup, SecretSet, Validity, Verifier, WebhookHeaders};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let tenants = hookgate_bench::tenants(&args.next().unwrap_or_default())?;
    let verifiers: HashMap<String, Verifier> = tenants
        .into_iter()
        .map(|(slug, secret)| {
            let mut secrets = SecretSet::new();
            secrets.push(&secret, Validity::ALWAYS);
            (slug, Verifier::new(secrets, 300))
        })
        .collect();
    let app = axum::Router::new()
        .route("/api/webhooks/{tenant}", axum::routing::post(verify))
        .with_state(Arc::new(verifiers));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening {}", listener.local_addr()?.port());
    axum::serve(listener, app).await?;
    Ok(())
}

async fn verify(
    State(verifiers): State<Arc<HashMap<String, Verifier>>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(verifier) = verifiers.get(&tenant) else {
        return StatusCode::NOT_FOUND;
    };
    let lookup = |name: &'static str| match headers.get(name) {
        Some(value) => HeaderLookup::Present(value.as_bytes()),
        None => HeaderLookup::Absent,
    };
    let Ok(signed) = WebhookHeaders::parse(lookup) else {
        return StatusCode::BAD_REQUEST;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match verifier.verify(&signed, &body, now) {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}
