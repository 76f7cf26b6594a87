//! Forwarding, end to end: destinations created through the admin API receive the tenant's
//! matching events exactly as Clerk sent them, signed with the destination's secret; a failing
//! destination is retried, then dead, then replayed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hookgate::Settings;
use hookgate::startup::Role;
use hookgate_tenancy::{HeaderLookup, Secret, WebhookHeaders};
use hookgate_verify::{SecretSet, Validity, Verifier};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, Backend, TestApp, TestDb, eventually, on_both_backends, settings, unix_now,
    user_created,
};

on_both_backends!(
    a_disabled_destination_is_sent_nothing_until_enabled,
    drifted_billing_and_user_events_are_applied_and_forwarded,
    matching_events_reach_their_destinations_signed,
    a_failing_destination_is_retried_then_dead_then_replayed,
    destinations_are_validated
);

/// A destination: answers with the queued statuses (then 200) and keeps what it was sent.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    answers: Arc<Mutex<VecDeque<StatusCode>>>,
    pub(crate) always: Arc<Mutex<Option<StatusCode>>>,
}

impl Receiver {
    pub(crate) async fn start(&self) -> String {
        let this = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let this = this.clone();
                async move {
                    this.received.lock().unwrap().push((headers, body));
                    let queued = this.answers.lock().unwrap().pop_front();
                    queued
                        .or(*this.always.lock().unwrap())
                        .unwrap_or(StatusCode::OK)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    pub(crate) fn received(&self) -> Vec<(HeaderMap, Bytes)> {
        self.received.lock().unwrap().clone()
    }
}

pub(crate) fn fast_forwarding(db: &TestDb) -> Settings {
    let mut settings = settings(&db.url());
    settings.worker.poll_interval_ms = 50;
    settings.forward.poll_interval_ms = 50;
    settings.forward.timeout_ms = 2_000;
    settings.forward.lease_ms = 5_000;
    settings.forward.backoff_base_ms = 20;
    settings.forward.backoff_cap_ms = 50;
    settings.forward.max_attempts = 3;
    settings
}

pub(crate) async fn admin(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Verifies `headers` (one header family at a time) with `secret`, as a receiver would.
fn verify(headers: &HeaderMap, body: &[u8], secret: &Secret, family: &str) {
    let lookup = |name: &'static str| {
        if !name.starts_with(family) {
            return HeaderLookup::Absent;
        }
        match headers.get(name) {
            Some(value) => HeaderLookup::Present(value.as_bytes()),
            None => HeaderLookup::Absent,
        }
    };
    let parsed = WebhookHeaders::parse(lookup).expect("the headers of one family");
    let mut secrets = SecretSet::new();
    secrets.push(secret, Validity::ALWAYS);
    Verifier::new(secrets, 300)
        .verify(&parsed, body, unix_now())
        .unwrap_or_else(|err| panic!("{family} signature: {err}"));
}

async fn matching_events_reach_their_destinations_signed(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&fast_forwarding(&db), Role::All).await;
    let acme = app.tenant("acme").await;
    let users = Receiver::default();
    let orgs = Receiver::default();
    let (users_url, orgs_url) = (users.start().await, orgs.start().await);

    let (status, created) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": "users", "url": users_url, "event_types": ["user.*"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = Secret::parse(created["signing_secret"].as_str().unwrap()).unwrap();
    let users_id = created["destination"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["destination"]["event_types"], json!(["user.*"]));
    let (status, _) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": "orgs", "url": orgs_url, "event_types": ["organization.created"]})),
    )
    .await;
    assert_eq!(status, 201);
    // The secret is shown once: listing shows none.
    let (_, listed) = admin(&app, "GET", "/admin/v1/tenants/acme/destinations", None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&secret.expose_encoded()));

    let body = user_created("user_fwd");
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_fwd", &body)
            .await
            .status(),
        200
    );
    let sent = eventually(Duration::from_secs(15), || async {
        let received = users.received();
        (!received.is_empty()).then_some(received)
    })
    .await
    .expect("the users destination receives the event");
    let (headers, forwarded) = &sent[0];
    assert_eq!(
        forwarded.as_ref(),
        body.as_slice(),
        "the body exactly as Clerk sent it"
    );
    assert_eq!(headers["svix-id"], "msg_fwd");
    assert_eq!(headers["webhook-id"], "msg_fwd");
    verify(headers, forwarded, &secret, "svix-");
    verify(headers, forwarded, &secret, "webhook-");
    assert!(
        !headers.contains_key("authorization"),
        "no credentials of hookgate's own"
    );

    let (_, deliveries) = admin(
        &app,
        "GET",
        &format!("/admin/v1/tenants/acme/destinations/{users_id}/deliveries"),
        None,
    )
    .await;
    let delivered = eventually(Duration::from_secs(5), || {
        let app = &app;
        let path = format!("/admin/v1/tenants/acme/destinations/{users_id}/deliveries?status=done");
        async move {
            let (_, page) = admin(app, "GET", &path, None).await;
            (page["data"].as_array()?.len() == 1).then_some(page)
        }
    })
    .await
    .unwrap_or_else(|| panic!("one delivery done: {deliveries}"));
    assert_eq!(delivered["data"][0]["last_status"], 200);
    assert_eq!(delivered["data"][0]["attempts"], 1);

    // A redelivery from Svix and a replay of the event forward nothing again.
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_fwd", &body)
            .await
            .status(),
        200
    );
    let inbox = app.inbox(&acme, "msg_fwd").await.unwrap();
    let (status, replayed) = admin(
        &app,
        "POST",
        &format!("/admin/v1/tenants/acme/events/{}/replay", inbox.id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    let first_processed = inbox.processed_at.unwrap();
    eventually(Duration::from_secs(10), || async {
        let event = app.inbox(&acme, "msg_fwd").await?;
        (event.processed_at? > first_processed).then_some(())
    })
    .await
    .expect("the replayed event is applied again");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(users.received().len(), 1, "forwarded once");
    assert!(orgs.received().is_empty(), "not a match for the other one");
}

/// Disabling a destination stops its retries at once (they wait, not burned as attempts), and
/// enabling it again sends what waited.
async fn a_disabled_destination_is_sent_nothing_until_enabled(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = fast_forwarding(&db);
    settings.forward.max_attempts = 1_000;
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Receiver::default();
    *receiver.always.lock().unwrap() = Some(StatusCode::SERVICE_UNAVAILABLE);
    let url = receiver.start().await;
    let (status, created) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": "flaky", "url": url, "event_types": ["*"]})),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!(
        "/admin/v1/tenants/acme/destinations/{}",
        created["destination"]["id"].as_str().unwrap()
    );
    let body = user_created("user_paused");
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_paused", &body)
            .await
            .status(),
        200
    );
    eventually(Duration::from_secs(10), || async {
        (receiver.received().len() >= 2).then_some(())
    })
    .await
    .expect("the failing destination is retried");

    let (status, _) = admin(&app, "PATCH", &path, Some(json!({"enabled": false}))).await;
    assert_eq!(status, 200);
    // An attempt already in flight may still land; after it, nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused = receiver.received().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.received().len(),
        paused,
        "nothing sent while disabled"
    );

    *receiver.always.lock().unwrap() = None;
    let (status, _) = admin(&app, "PATCH", &path, Some(json!({"enabled": true}))).await;
    assert_eq!(status, 200);
    let delivered = eventually(Duration::from_secs(10), || {
        let app = &app;
        let path = format!("{path}/deliveries?status=done");
        async move {
            let (_, page) = admin(app, "GET", &path, None).await;
            (page["data"].as_array()?.len() == 1).then_some(page)
        }
    })
    .await
    .expect("delivered once enabled again");
    assert_eq!(delivered["data"][0]["last_status"], 200);
    assert_eq!(receiver.received().len(), paused + 1);
}

/// Clerk Billing is in beta and its fields change shape: a `subscription.active` whose
/// `items[].interval` is a word, and a user whose `first_name` is a number, are applied and
/// forwarded whole; the admin API names the fields read as absent.
async fn drifted_billing_and_user_events_are_applied_and_forwarded(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&fast_forwarding(&db), Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (status, _) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": "all", "url": url, "event_types": ["*"]})),
    )
    .await;
    assert_eq!(status, 201);

    let now = unix_now() * 1000;
    let subscription = format!(
        r#"{{"data":{{"id":"csub_drift","object":"commerce_subscription","status":"active","payer":{{"user_id":"user_payer"}},"items":[{{"id":"csubi_1","interval":"month","plan":{{"id":"cplan_1","name":"Pro"}}}}],"updated_at":{now}}},"object":"event","type":"subscription.active","timestamp":{now}}}"#
    )
    .into_bytes();
    let user = String::from_utf8(user_created("user_drift"))
        .unwrap()
        .replacen(r#""first_name": "Ada""#, r#""first_name": 1815"#, 1)
        .into_bytes();
    for (id, body) in [("msg_sub", &subscription), ("msg_user", &user)] {
        assert_eq!(
            app.deliver("acme", &acme.secret, id, body).await.status(),
            200
        );
    }
    let received = eventually(Duration::from_secs(15), || async {
        let received = receiver.received();
        (received.len() == 2).then_some(received)
    })
    .await
    .expect("both events are forwarded");
    let mut bodies: Vec<&[u8]> = received.iter().map(|(_, body)| body.as_ref()).collect();
    bodies.sort();
    let mut sent = vec![subscription.as_slice(), user.as_slice()];
    sent.sort();
    assert_eq!(bodies, sent, "forwarded exactly as Clerk sent them");

    for (svix_id, field) in [
        ("msg_sub", "data.items[0].interval"),
        ("msg_user", "data.first_name"),
    ] {
        let event = eventually(Duration::from_secs(10), || async {
            let event = app.inbox(&acme, svix_id).await?;
            (event.status == hookgate_store::InboxStatus::Done).then_some(event)
        })
        .await
        .unwrap_or_else(|| panic!("{svix_id} is applied"));
        let (status, shown) = admin(
            &app,
            "GET",
            &format!("/admin/v1/tenants/acme/events/{}", event.id),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(shown["status"], "done", "{shown}");
        assert_eq!(shown["warnings"][0]["path"], field, "{shown}");
        assert_eq!(shown["warnings"].as_array().unwrap().len(), 1, "{shown}");
    }
    // The user's row: the drifted field absent from its column, Clerk's data kept whole.
    let (status, key) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/keys",
        Some(json!({"name": "reader"})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let row: Value = app
        .http
        .get(app.url("/v1/users/user_drift"))
        .bearer_auth(key["secret"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(row["first_name"], Value::Null, "{row}");
    assert_eq!(row["data"]["first_name"], 1815, "{row}");
}

async fn a_failing_destination_is_retried_then_dead_then_replayed(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&fast_forwarding(&db), Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Receiver::default();
    *receiver.always.lock().unwrap() = Some(StatusCode::INTERNAL_SERVER_ERROR);
    let url = receiver.start().await;
    let (status, created) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(json!({"name": "flaky", "url": url})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["destination"]["id"].as_str().unwrap().to_owned();
    let deliveries = format!("/admin/v1/tenants/acme/destinations/{id}/deliveries");

    assert_eq!(
        app.deliver(
            "acme",
            &acme.secret,
            "msg_flaky",
            &user_created("user_flaky")
        )
        .await
        .status(),
        200
    );
    let dead = eventually(Duration::from_secs(15), || async {
        let (_, page) = admin(&app, "GET", &format!("{deliveries}?status=dead"), None).await;
        (page["data"].as_array()?.len() == 1).then_some(page)
    })
    .await
    .expect("the delivery is dead after its attempts");
    assert_eq!(dead["data"][0]["attempts"], 3);
    assert_eq!(dead["data"][0]["last_status"], 500);
    assert!(
        dead["data"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("500")
    );
    assert_eq!(receiver.received().len(), 3);
    // Retention keeps an event whose delivery is not done, however old.
    let future = chrono::Utc::now() + chrono::Duration::days(1);
    assert_eq!(app.store.purge_processed_before(future).await.unwrap(), 0);
    assert!(app.inbox(&acme, "msg_flaky").await.is_some());

    // Fixed: a replay delivers it.
    *receiver.always.lock().unwrap() = None;
    let (status, replayed) = admin(&app, "POST", &format!("{deliveries}/replay"), None).await;
    assert_eq!(status, 200);
    assert_eq!(replayed["replayed"], 1);
    eventually(Duration::from_secs(10), || async {
        let (_, page) = admin(&app, "GET", &format!("{deliveries}?status=done"), None).await;
        (page["data"].as_array()?.len() == 1).then_some(())
    })
    .await
    .expect("delivered after the replay");
    assert_eq!(receiver.received().len(), 4);
    // Delivered: retention may now remove the event, and its delivery with it.
    assert_eq!(app.store.purge_processed_before(future).await.unwrap(), 1);
    let (_, page) = admin(&app, "GET", &deliveries, None).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 0, "{page}");
}

async fn destinations_are_validated(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn(&settings(&db.url())).await;
    app.tenant("acme").await;
    let path = "/admin/v1/tenants/acme/destinations";
    for (body, code) in [
        (
            json!({"name": "x", "url": "ftp://example.com"}),
            "invalid_url",
        ),
        (
            json!({"name": "x", "url": "https://u:p@example.com/"}),
            "invalid_url",
        ),
        (
            json!({"name": "x", "url": "nats://127.0.0.1:4222?subject=clerk.{tenantt}"}),
            "invalid_url",
        ),
        (
            json!({"name": "x", "url": "amqp://127.0.0.1/?exchange=clerk&routing_key={id}"}),
            "invalid_url",
        ),
        (
            json!({"name": "x", "url": "redis://127.0.0.1/0"}),
            "invalid_url",
        ),
        (
            json!({"name": "", "url": "https://example.com/"}),
            "invalid_setting",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "event_types": ["user created"]}),
            "invalid_event_type",
        ),
        (
            json!({"name": "x", "url": "https://example.com/", "signing_secret": "nope"}),
            "invalid_secret",
        ),
    ] {
        let (status, answer) = admin(&app, "POST", path, Some(body.clone())).await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
    }
    let (status, created) = admin(
        &app,
        "POST",
        path,
        Some(json!({"name": "ok", "url": "https://example.com/hooks"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["destination"]["event_types"], json!(["*"]));
    let id = created["destination"]["id"].as_str().unwrap();
    let (status, updated) = admin(
        &app,
        "PATCH",
        &format!("{path}/{id}"),
        Some(json!({"enabled": false, "event_types": ["session.*", "user.deleted"]})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["event_types"], json!(["session.*", "user.deleted"]));

    // Another tenant cannot reach it.
    app.tenant("globex").await;
    let (status, _) = admin(
        &app,
        "GET",
        &format!("/admin/v1/tenants/globex/destinations/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = admin(&app, "DELETE", &format!("{path}/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = admin(&app, "GET", &format!("{path}/{id}"), None).await;
    assert_eq!(status, 404);
}
