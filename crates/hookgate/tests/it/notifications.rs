//! Operational notifications, end to end: set through the admin API, hookgate's own events
//! (a destination disabled and recovered, a delivery dead, an event dead) reach the tenant's URL
//! and the operator's, signed in the Standard Webhooks format and verified with the `svix` crate;
//! a recipient that fails is retried alone; the test actions answer what the URL said.

use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use hookgate::startup::Role;
use hookgate_tenancy::Secret;
use serde_json::{Value, json};

use crate::forward::admin;
use crate::health::{Scripted, destination, health_when, patient, send_users};
use crate::helpers::{Backend, TestApp, TestDb, eventually, on_both_backends, unix_now};

on_both_backends!(
    notifications_reach_the_tenant_and_the_operator_signed,
    a_failing_recipient_is_retried_alone,
    notification_urls_are_tested_and_validated
);

/// The notifications `receiver` got, each verified with `secret` by the `svix` crate, as JSON.
fn verified(receiver: &Scripted, secret: &str) -> Vec<Value> {
    let webhook = svix::webhooks::Webhook::new(secret).unwrap();
    receiver
        .requests()
        .iter()
        .map(|(headers, body)| {
            webhook
                .verify(body, &to_http(headers))
                .unwrap_or_else(|err| panic!("a notification that does not verify: {err:?}"));
            assert!(headers["webhook-id"].to_str().unwrap().starts_with("ntf_"));
            serde_json::from_slice(body).unwrap()
        })
        .collect()
}

/// The same headers in the `http` crate's type, which the `svix` crate takes.
fn to_http(headers: &HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::new();
    for (name, value) in headers {
        out.insert(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        );
    }
    out
}

fn types(notifications: &[Value]) -> Vec<&str> {
    notifications
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect()
}

/// Notifications of `types` all arrived at `receiver`.
async fn arrived(receiver: &Scripted, secret: &str, wanted: &[&str]) -> Vec<Value> {
    eventually(Duration::from_secs(20), || async {
        let got = verified(receiver, secret);
        wanted
            .iter()
            .all(|t| types(&got).contains(t))
            .then_some(got)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "expected {wanted:?}, got {:?}",
            types(&verified(receiver, secret))
        )
    })
}

/// A user.deleted that names no user: dead at once.
fn nameless_delete() -> Vec<u8> {
    json!({
        "type": "user.deleted",
        "object": "event",
        "timestamp": unix_now() * 1000,
        "data": {"deleted": true, "object": "user"},
    })
    .to_string()
    .into_bytes()
}

async fn notifications_reach_the_tenant_and_the_operator_signed(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let operator = Scripted::default();
    let operator_secret = Secret::from_bytes(vec![9; 32]).unwrap().expose_encoded();
    let mut settings = patient(&db);
    settings.notifications.url = operator.start().await;
    settings.notifications.secret = Some(hookgate::settings::Redacted::new(&operator_secret));
    settings.forward.max_attempts = 2;
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let tenant_side = Scripted::default();
    let (status, set) = admin(
        &app,
        "PUT",
        "/admin/v1/tenants/acme/notifications",
        Some(json!({"url": tenant_side.start().await})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    let tenant_secret = set["signing_secret"].as_str().unwrap().to_owned();

    // A destination that is gone, one that always fails, and an event that names nothing.
    let gone = Scripted::default();
    gone.fail_with(Some(StatusCode::GONE));
    let gone_path = destination(
        &app,
        &gone.start().await,
        json!({"event_types": ["user.created"]}),
    )
    .await;
    let down = Scripted::default();
    down.fail_with(Some(StatusCode::INTERNAL_SERVER_ERROR));
    destination(
        &app,
        &down.start().await,
        json!({"event_types": ["user.updated"]}),
    )
    .await;
    send_users(&app, &acme.secret, "n", 1).await;
    let updated = String::from_utf8(crate::helpers::user_created("user_n0"))
        .unwrap()
        .replace("user.created", "user.updated");
    app.deliver("acme", &acme.secret, "msg_upd", updated.as_bytes())
        .await;
    app.deliver("acme", &acme.secret, "msg_nameless", &nameless_delete())
        .await;

    let wanted = ["destination.disabled", "delivery.dead", "event.dead"];
    let to_tenant = arrived(&tenant_side, &tenant_secret, &wanted).await;
    let to_operator = arrived(&operator, &operator_secret, &wanted).await;
    let find = |all: &[Value], t: &str| all.iter().find(|n| n["type"] == t).unwrap().clone();
    let disabled = find(&to_tenant, "destination.disabled");
    assert_eq!(
        disabled["data"]["reason"],
        "the destination answered 410 Gone"
    );
    assert_eq!(disabled["data"]["tenant_id"], acme.id.to_string());
    let dead = find(&to_tenant, "delivery.dead");
    assert_eq!(dead["data"]["svix_id"], "msg_upd");
    assert_eq!(dead["data"]["last_status"], 500);
    assert_eq!(
        find(&to_tenant, "event.dead")["data"]["svix_id"],
        "msg_nameless"
    );
    assert_eq!(
        find(&to_operator, "destination.disabled"),
        disabled,
        "the operator gets the same body"
    );
    assert!(to_tenant[0]["timestamp"].is_string());
    // Each once: the dead event and delivery, and one disabling however many attempts failed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut once = types(&verified(&tenant_side, &tenant_secret))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    once.sort();
    assert_eq!(
        once,
        ["delivery.dead", "destination.disabled", "event.dead"]
    );

    let (_, shown) = admin(&app, "GET", &gone_path, None).await;
    assert_eq!(shown["health"]["state"], "disabled");

    let (_, sent) = admin(
        &app,
        "GET",
        "/admin/v1/tenants/acme/notifications/sent",
        None,
    )
    .await;
    let listed: Vec<&str> = sent["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for t in wanted {
        assert!(listed.contains(&t), "{listed:?}");
    }
}

async fn a_failing_recipient_is_retried_alone(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let operator = Scripted::default();
    let operator_secret = Secret::from_bytes(vec![5; 32]).unwrap().expose_encoded();
    let mut settings = patient(&db);
    settings.notifications.url = operator.start().await;
    settings.notifications.secret = Some(hookgate::settings::Redacted::new(&operator_secret));
    settings.forward.circuit_after = 2;
    settings.forward.probe_base_ms = 200;
    settings.forward.backoff_cap_ms = 5_000;
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let tenant_side = Scripted::default();
    // The tenant's URL fails twice, then takes it.
    tenant_side.answer_next(StatusCode::SERVICE_UNAVAILABLE);
    tenant_side.answer_next(StatusCode::BAD_GATEWAY);
    let (_, set) = admin(
        &app,
        "PUT",
        "/admin/v1/tenants/acme/notifications",
        Some(json!({"url": tenant_side.start().await})),
    )
    .await;
    let tenant_secret = set["signing_secret"].as_str().unwrap().to_owned();

    // A destination failing twice opens its circuit; its probe then succeeds: recovered.
    let flaky = Scripted::default();
    flaky.answer_next(StatusCode::INTERNAL_SERVER_ERROR);
    flaky.answer_next(StatusCode::INTERNAL_SERVER_ERROR);
    let path = destination(&app, &flaky.start().await, json!({})).await;
    send_users(&app, &acme.secret, "f", 1).await;
    health_when(&app, &path, |h| {
        h["state"] == "healthy" && flaky.requests().len() >= 3
    })
    .await;

    arrived(&tenant_side, &tenant_secret, &["destination.recovered"]).await;
    let got = eventually(Duration::from_secs(20), || async {
        let got = verified(&tenant_side, &tenant_secret);
        (got.len() >= 3).then_some(got)
    })
    .await
    .expect("two failed attempts, then the one that took it");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tenant_side.requests().len(), 3, "nothing after it took it");
    assert!(got.iter().all(|n| n == &got[0]), "the same body each time");
    let operator_got = arrived(&operator, &operator_secret, &["destination.recovered"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        verified(&operator, &operator_secret).len(),
        1,
        "the operator's URL took it the first time and gets it once: {operator_got:?}"
    );
}

async fn notification_urls_are_tested_and_validated(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&patient(&db), Role::Api).await;
    app.tenant("acme").await;
    let path = "/admin/v1/tenants/acme/notifications";
    let (status, body) = admin(&app, "POST", &format!("{path}/test"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, body) = admin(&app, "POST", "/admin/v1/notifications/test", None).await;
    assert_eq!(status, 404, "no global URL: {body}");
    assert!(body.to_string().contains("notifications.url"), "{body}");
    for bad in [
        "ftp://example.com/",
        "nats://127.0.0.1:4222?subject=x",
        "not a url",
    ] {
        let (status, body) = admin(&app, "PUT", path, Some(json!({"url": bad}))).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    let receiver = Scripted::default();
    let url = receiver.start().await;
    let given = Secret::from_bytes(vec![3; 32]).unwrap().expose_encoded();
    let (status, set) = admin(
        &app,
        "PUT",
        path,
        Some(json!({"url": url, "signing_secret": given})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["signing_secret"], given.as_str());
    let (_, shown) = admin(&app, "GET", path, None).await;
    assert_eq!(shown["url"], url.as_str());
    assert!(
        !shown.to_string().contains("whsec_"),
        "the secret is not shown again"
    );

    let (status, tested) = admin(&app, "POST", &format!("{path}/test"), None).await;
    assert_eq!(
        (
            status,
            tested["delivered"].as_bool(),
            tested["status"].as_u64()
        ),
        (200, Some(true), Some(200)),
        "{tested}"
    );
    let got = verified(&receiver, &given);
    assert_eq!(types(&got), ["notification.test"]);
    assert_eq!(got[0]["data"]["tenant"], "acme");

    receiver.fail_with(Some(StatusCode::FORBIDDEN));
    let (status, failed) = admin(&app, "POST", &format!("{path}/test"), None).await;
    assert_eq!(
        (status, failed["delivered"].as_bool()),
        (200, Some(false)),
        "{failed}"
    );
    assert!(
        failed["error"].as_str().unwrap().contains("403"),
        "{failed}"
    );

    let (status, _) = admin(&app, "DELETE", path, None).await;
    assert_eq!(status, 204);
    let (status, _) = admin(&app, "GET", path, None).await;
    assert_eq!(status, 404);
}
