//! Telemetry end to end: hookgate exports its spans over OTLP/HTTP to a receiver this test runs,
//! and neither those spans nor any log line of a full ingest-to-apply run carries a secret.
//!
//! A test binary of its own: it installs the process-wide subscriber, as `hookgate serve` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code, unused_imports)]
#[path = "it/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use helpers::{ADMIN_TOKEN, Backend, TestApp, TestDb, eventually, settings, user_created};
use hookgate::telemetry;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::json;

/// A credential in a destination's URL, as some receivers take one.
const DESTINATION_TOKEN: &str = "tok-3f9c1a7e5b";

/// Every span the receiver was sent.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Span>>>);

impl Received {
    fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }

    fn named(&self, name: &str) -> Vec<Span> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == name)
            .collect()
    }
}

/// An OTLP/HTTP trace receiver on a free port; returns its base URL.
async fn otlp_receiver(received: Received) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(|| async { "ok" }))
        .route(
            "/v1/traces",
            axum::routing::post(move |body: Bytes| {
                let received = received.clone();
                async move {
                    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                    let mut spans = received.0.lock().unwrap();
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            spans.extend(scope.spans);
                        }
                    }
                    // An empty ExportTraceServiceResponse.
                    (
                        [("content-type", "application/x-protobuf")],
                        Vec::<u8>::new(),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Log output kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            Value::IntValue(i) => i.to_string(),
            Value::BoolValue(b) => b.to_string(),
            Value::DoubleValue(d) => d.to_string(),
            other => format!("{other:?}"),
        })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_an_otlp_receiver_and_no_secret_leaves_the_process() {
    let received = Received::default();
    let endpoint = otlp_receiver(received.clone()).await;

    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let mut settings = settings(&db.url());
    settings.telemetry.otlp.endpoint = endpoint;
    settings.log.format = hookgate::settings::LogFormat::Json;
    // Everything hookgate and its libraries log at debug, where a careless field would show.
    settings.log.level = "debug".into();
    let logs = Captured::default();
    let (subscriber, exporter) =
        telemetry::subscriber(&settings.log, &settings.telemetry, logs.clone()).unwrap();
    assert!(exporter.exporting());
    telemetry::install(subscriber);

    let app = TestApp::spawn_role(&settings, hookgate::startup::Role::All).await;
    let tenant = app.tenant("acme").await;
    // A destination, so the event is forwarded too.
    let destination: serde_json::Value = app
        .http
        .post(app.url("/admin/v1/tenants/acme/destinations"))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({ "name": "hook", "url": format!("{}/hook?token={DESTINATION_TOKEN}", settings.telemetry.otlp.endpoint) }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let destination_secret = destination["signing_secret"]
        .as_str()
        .expect("the destination's secret is shown once")
        .to_owned();

    // A delivery that continues the caller's trace.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let body = user_created("user_otel");
    let ts = helpers::unix_now();
    let signature = hookgate_verify::sign(&tenant.secret, "msg_otel_1", ts, &body);
    let res = app
        .http
        .post(app.url("/api/webhooks/acme"))
        .header("content-type", "application/json")
        .header("svix-id", "msg_otel_1")
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", &signature)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A forged one, and the control plane with both kinds of credentials.
    let forged = app
        .http
        .post(app.url("/api/webhooks/acme"))
        .header("svix-id", "msg_otel_2")
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", &signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let key: serde_json::Value = app
        .http
        .post(app.url("/admin/v1/tenants/acme/keys"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "name": "otel" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_key = key["secret"]
        .as_str()
        .expect("the key is shown once")
        .to_owned();
    let wrong_admin = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .bearer_auth("hga_not_the_token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_admin.status(), 401);

    let forwarded = eventually(Duration::from_secs(10), || async {
        let page = app
            .store
            .list_deliveries(tenant.id, &hookgate_store::DeliveryQuery::default())
            .await
            .unwrap();
        page.iter()
            .any(|d| d.status == hookgate_store::DeliveryStatus::Done)
            .then_some(())
    })
    .await;
    assert!(forwarded.is_some(), "the event is forwarded");
    let processed = eventually(Duration::from_secs(10), || async {
        app.inbox(&tenant, "msg_otel_1")
            .await
            .filter(|e| e.processed_at.is_some())
    })
    .await
    .expect("the event is applied");
    let users = app
        .http
        .get(app.url("/v1/users/user_otel"))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);
    let stored_parent = processed.trace_parent.expect("the ingest trace is stored");
    assert!(stored_parent.starts_with(&format!("00-{trace_id}-")));

    // The batch exporter sends on its own thread; flushing blocks until it has.
    let exporter = tokio::task::spawn_blocking(move || {
        exporter.flush();
        exporter
    })
    .await
    .unwrap();

    // Ingest: a child of the request span, which is a child of the caller's span.
    let ingests: Vec<Span> = received
        .named("ingest")
        .into_iter()
        .filter(|s| attr(s, "svix_id").as_deref() == Some("msg_otel_1"))
        .collect();
    assert_eq!(ingests.len(), 1, "one ingest span for the delivery");
    let ingest = &ingests[0];
    assert_eq!(hex(&ingest.trace_id), trace_id);
    assert_eq!(attr(ingest, "tenant").as_deref(), Some("acme"));
    assert_eq!(attr(ingest, "event_type").as_deref(), Some("user.created"));
    assert_eq!(attr(ingest, "outcome").as_deref(), Some("accepted"));
    assert_eq!(attr(ingest, "bytes"), Some(body.len().to_string()));
    let request = received
        .named("request")
        .into_iter()
        .find(|s| s.span_id == ingest.parent_span_id)
        .expect("ingest's parent is its request span");
    assert_eq!(hex(&request.parent_span_id), caller_span);
    assert_eq!(attr(&request, "method").as_deref(), Some("POST"));
    for child in ["verify", "store"] {
        assert!(
            received
                .named(child)
                .iter()
                .any(|s| s.parent_span_id == ingest.span_id),
            "a {child} span under ingest"
        );
    }
    // The group commit that wrote the delivery, under the store span that waited for it.
    let store = received
        .named("store")
        .into_iter()
        .find(|s| s.parent_span_id == ingest.span_id)
        .unwrap();
    assert_eq!(attr(&store, "batch_size").as_deref(), Some("1"));
    let commit = received
        .named("group_commit")
        .into_iter()
        .find(|s| s.parent_span_id == store.span_id)
        .expect("a group_commit span under the store span");
    assert_eq!(attr(&commit, "size").as_deref(), Some("1"));
    assert_eq!(commit.trace_id, ingest.trace_id);
    assert_eq!(
        stored_parent,
        format!("00-{trace_id}-{}-01", hex(&ingest.span_id))
    );

    // Apply: in the same trace, a child of the ingest span.
    let apply = received
        .named("apply")
        .into_iter()
        .find(|s| attr(s, "svix_id").as_deref() == Some("msg_otel_1"))
        .expect("an apply span for the event");
    assert_eq!(hex(&apply.trace_id), trace_id);
    assert_eq!(apply.parent_span_id, ingest.span_id);
    assert_eq!(attr(&apply, "event_type").as_deref(), Some("user.created"));
    assert_eq!(attr(&apply, "entity").as_deref(), Some("User:user_otel"));
    assert_eq!(attr(&apply, "attempt").as_deref(), Some("1"));
    assert_eq!(attr(&apply, "outcome").as_deref(), Some("done"));
    assert_eq!(
        attr(&apply, "tenant_id"),
        Some(tenant.id.to_string()),
        "apply names the tenant"
    );

    // Forwarding: in the same trace, a child of the ingest span.
    let forward = received
        .named("forward")
        .into_iter()
        .find(|s| attr(s, "svix_id").as_deref() == Some("msg_otel_1"))
        .expect("a forward span for the event");
    assert_eq!(forward.parent_span_id, ingest.span_id);
    assert_eq!(hex(&forward.trace_id), trace_id);
    assert_eq!(attr(&forward, "status_code").as_deref(), Some("200"));
    assert_eq!(attr(&forward, "outcome").as_deref(), Some("delivered"));
    assert_eq!(attr(&forward, "attempt").as_deref(), Some("1"));

    // The forged delivery is traced too, as a rejection.
    assert!(
        received
            .named("ingest")
            .iter()
            .any(|s| attr(s, "outcome").as_deref() == Some("verification_failed"))
    );

    // No secret in any log line or exported span.
    app.shutdown().await;
    tokio::task::spawn_blocking(move || exporter.shutdown())
        .await
        .unwrap();
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("hookgate listening") && logs.contains("/api/webhooks/acme"),
        "the capture holds hookgate's logs: {logs}"
    );
    let spans = format!("{:?}", received.spans());
    let signing_secret = tenant.secret.expose_encoded();
    let secrets_key = settings.secrets.key.as_ref().unwrap().expose().to_owned();
    let signature_value = signature.trim_start_matches("v1,").to_owned();
    let secret_base64 = signing_secret.trim_start_matches("whsec_").to_owned();
    for (what, secret) in [
        ("signing secret", signing_secret.as_str()),
        ("signing secret bytes", secret_base64.as_str()),
        ("signature", signature_value.as_str()),
        ("tenant API key", api_key.as_str()),
        ("admin token", ADMIN_TOKEN),
        ("destination URL token", DESTINATION_TOKEN),
        ("destination secret", destination_secret.as_str()),
        (
            "destination secret bytes",
            destination_secret.trim_start_matches("whsec_"),
        ),
        ("secrets key", secrets_key.as_str()),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
        assert!(
            !spans.contains(secret),
            "the {what} appears in an exported span"
        );
    }
}
