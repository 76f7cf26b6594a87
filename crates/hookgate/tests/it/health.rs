//! Destinations that look after themselves, against a local receiver the test scripts: a run of
//! failures opens the circuit (one probe at a time, deliveries wait unattempted), `410 Gone`
//! and long failure disable, `Retry-After` is honoured and `max_per_sec` spaces the sends.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse as _;
use hookgate::Settings;
use hookgate::startup::Role;
use serde_json::{Value, json};

use crate::forward::{admin, fast_forwarding};
use crate::helpers::{Backend, TestApp, TestDb, eventually, on_both_backends, user_created};

on_both_backends!(
    a_failing_destination_is_probed_one_delivery_at_a_time,
    gone_disables_at_once,
    long_failure_disables,
    retry_after_is_honoured,
    max_per_sec_spaces_sends
);

/// An answer: its status, and its `Retry-After`.
type Answer = (StatusCode, Option<&'static str>);

/// A destination answering from a script (then with `always`, then 200), noting when each
/// request came.
#[derive(Clone, Default)]
pub(crate) struct Scripted {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    always: Arc<Mutex<Option<StatusCode>>>,
}

impl Scripted {
    pub(crate) async fn start(&self) -> String {
        let this = self.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let this = this.clone();
                async move {
                    this.arrivals.lock().unwrap().push(Instant::now());
                    this.requests.lock().unwrap().push((headers, body));
                    let queued = this.answers.lock().unwrap().pop_front();
                    let (status, retry_after) = queued.unwrap_or_else(|| {
                        (this.always.lock().unwrap().unwrap_or(StatusCode::OK), None)
                    });
                    let mut headers = HeaderMap::new();
                    if let Some(wait) = retry_after {
                        headers.insert("retry-after", wait.parse().unwrap());
                    }
                    (status, headers).into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/hook")
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().unwrap().clone()
    }

    pub(crate) fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn answer_next(&self, status: StatusCode) {
        self.answers.lock().unwrap().push_back((status, None));
    }

    pub(crate) fn fail_with(&self, status: Option<StatusCode>) {
        *self.always.lock().unwrap() = status;
    }
}

/// Retries as fast as the tests can go, never dead: only the destination's health holds
/// deliveries back.
pub(crate) fn patient(db: &TestDb) -> Settings {
    let mut settings = fast_forwarding(db);
    settings.forward.max_attempts = 10_000;
    settings.forward.circuit_after = 0;
    settings
}

/// A destination of `acme` sending to `url`, with `extra` fields; its admin path.
pub(crate) async fn destination(app: &TestApp, url: &str, extra: Value) -> String {
    let mut body = json!({"name": "scripted", "url": url});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, created) = admin(
        app,
        "POST",
        "/admin/v1/tenants/acme/destinations",
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    format!(
        "/admin/v1/tenants/acme/destinations/{}",
        created["destination"]["id"].as_str().unwrap()
    )
}

pub(crate) async fn send_users(
    app: &TestApp,
    secret: &hookgate_tenancy::Secret,
    prefix: &str,
    n: usize,
) {
    for i in 0..n {
        let body = user_created(&format!("user_{prefix}{i}"));
        let status = app
            .deliver("acme", secret, &format!("msg_{prefix}{i}"), &body)
            .await
            .status();
        assert_eq!(status, 200);
    }
}

/// The destination's health, once `check` holds for it.
pub(crate) async fn health_when(
    app: &TestApp,
    path: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    eventually(Duration::from_secs(15), || async {
        let (_, shown) = admin(app, "GET", path, None).await;
        check(&shown["health"]).then(|| shown["health"].clone())
    })
    .await
    .unwrap_or_else(|| panic!("the destination's health did not come to what the test waits for"))
}

async fn deliveries(app: &TestApp, path: &str) -> Vec<Value> {
    let (_, page) = admin(app, "GET", &format!("{path}/deliveries?limit=500"), None).await;
    page["data"].as_array().unwrap().clone()
}

async fn a_failing_destination_is_probed_one_delivery_at_a_time(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = patient(&db);
    settings.forward.circuit_after = 3;
    settings.forward.probe_base_ms = 400;
    // Several forwarders: one probe over all of them.
    settings.forward.forwarders = 3;
    // Probes grow up to the backoff cap.
    settings.forward.backoff_cap_ms = 10_000;
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Scripted::default();
    receiver.fail_with(Some(StatusCode::INTERNAL_SERVER_ERROR));
    let path = destination(&app, &receiver.start().await, json!({})).await;
    send_users(&app, &acme.secret, "cb", 8).await;

    let health = health_when(&app, &path, |h| h["state"] == "circuit_open").await;
    assert!(
        health["consecutive_failures"].as_i64().unwrap() >= 3,
        "{health}"
    );
    assert!(health["paused_until"].is_string(), "{health}");
    // Attempts already in flight when it opened may still land; after them, probes only, each
    // waiting as long as the circuit has been open: at 400 ms, 800 ms, 1.6 s, 3.2 s.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let opened = receiver.arrivals().len();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let probes = receiver.arrivals().len() - opened;
    assert!(
        (1..=4).contains(&probes),
        "{probes} requests in 2 s with the circuit open: one probe at a time, at growing intervals"
    );
    // The deliveries not probed waited: most were never attempted since.
    let waiting = deliveries(&app, &path).await;
    assert!(waiting.iter().all(|d| d["status"] != "dead"));
    let attempts: i64 = waiting
        .iter()
        .map(|d| d["attempts"].as_i64().unwrap())
        .sum();
    assert!(
        attempts <= i64::try_from(opened + probes).unwrap(),
        "{attempts} attempts counted for {} requests",
        opened + probes
    );

    receiver.fail_with(None);
    let health = health_when(&app, &path, |h| h["state"] == "healthy").await;
    assert_eq!(health["consecutive_failures"], 0);
    let all_done = eventually(Duration::from_secs(15), || async {
        let rows = deliveries(&app, &path).await;
        rows.iter().all(|d| d["status"] == "done").then_some(rows)
    })
    .await
    .expect("every delivery goes once a probe succeeds");
    assert_eq!(all_done.len(), 8);
}

async fn gone_disables_at_once(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&patient(&db), Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Scripted::default();
    receiver.fail_with(Some(StatusCode::GONE));
    let path = destination(&app, &receiver.start().await, json!({})).await;
    send_users(&app, &acme.secret, "gone", 1).await;

    let health = health_when(&app, &path, |h| h["state"] == "disabled").await;
    assert_eq!(
        health["disabled_reason"],
        "the destination answered 410 Gone"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.arrivals().len(), 1, "nothing sent after the 410");
    let waiting = deliveries(&app, &path).await;
    assert_eq!(
        waiting[0]["status"], "failed",
        "the delivery waits, not dead"
    );

    // An event arriving while it is disabled is not queued for it.
    let disabled_at = chrono::Utc::now().to_rfc3339();
    send_users(&app, &acme.secret, "while", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(deliveries(&app, &path).await.len(), 1);

    // Enabled again, it starts afresh and the delivery goes; replaying what arrived meanwhile
    // queues that too.
    receiver.fail_with(None);
    let (status, shown) = admin(&app, "PATCH", &path, Some(json!({"enabled": true}))).await;
    assert_eq!(status, 200);
    assert_eq!(shown["health"]["state"], "healthy", "{shown}");
    assert_eq!(shown["health"]["disabled_reason"], Value::Null);
    let (status, replayed) = admin(
        &app,
        "POST",
        "/admin/v1/tenants/acme/events/replay",
        Some(json!({"status": "done", "since": disabled_at})),
    )
    .await;
    assert_eq!(status, 200, "{replayed}");
    eventually(Duration::from_secs(10), || async {
        let rows = deliveries(&app, &path).await;
        (rows.len() == 2 && rows.iter().all(|d| d["status"] == "done")).then_some(())
    })
    .await
    .expect("both delivered once enabled");
    assert_eq!(
        receiver.arrivals().len(),
        3,
        "the 410, then each event once"
    );
}

async fn long_failure_disables(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = patient(&db);
    settings.forward.disable_after = "2s".into();
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Scripted::default();
    receiver.fail_with(Some(StatusCode::BAD_GATEWAY));
    let path = destination(&app, &receiver.start().await, json!({})).await;
    let started = Instant::now();
    send_users(&app, &acme.secret, "long", 1).await;

    let failing = health_when(&app, &path, |h| h["state"] == "failing").await;
    assert!(failing["failing_since"].is_string(), "{failing}");
    let health = health_when(&app, &path, |h| h["state"] == "disabled").await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "disabled only after failing for forward.disable_after"
    );
    let reason = health["disabled_reason"].as_str().unwrap();
    assert!(reason.starts_with("failing since "), "{reason}");
    let sent = receiver.arrivals().len();
    assert!(sent > 3, "retried while it failed ({sent})");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.arrivals().len() <= sent + 1,
        "nothing sent once disabled"
    );
}

async fn retry_after_is_honoured(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&patient(&db), Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Scripted::default();
    receiver
        .answers
        .lock()
        .unwrap()
        .push_back((StatusCode::TOO_MANY_REQUESTS, Some("2")));
    let path = destination(&app, &receiver.start().await, json!({})).await;
    send_users(&app, &acme.secret, "ra", 1).await;
    let first = eventually(Duration::from_secs(10), || async {
        receiver.arrivals().first().copied()
    })
    .await
    .expect("the first attempt");
    // A second event during the pause waits with the first.
    send_users(&app, &acme.secret, "rb", 1).await;
    eventually(Duration::from_secs(15), || async {
        let rows = deliveries(&app, &path).await;
        (rows.len() == 2 && rows.iter().all(|d| d["status"] == "done")).then_some(())
    })
    .await
    .expect("both delivered after the pause");
    let arrivals = receiver.arrivals();
    assert_eq!(arrivals.len(), 3, "the 429, then each event once");
    for later in &arrivals[1..] {
        assert!(
            *later - first >= Duration::from_millis(1_900),
            "sent {:?} after the 429 that asked for 2 s",
            *later - first
        );
    }
}

async fn max_per_sec_spaces_sends(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = patient(&db);
    // Several forwarders: one rate over all of them.
    settings.forward.forwarders = 3;
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let receiver = Scripted::default();
    let path = destination(&app, &receiver.start().await, json!({"max_per_sec": 5})).await;
    let (_, shown) = admin(&app, "GET", &path, None).await;
    assert_eq!(shown["max_per_sec"], 5);
    send_users(&app, &acme.secret, "rl", 12).await;
    eventually(Duration::from_secs(20), || async {
        (receiver.arrivals().len() >= 12).then_some(())
    })
    .await
    .expect("every event sent");
    let arrivals = receiver.arrivals();
    assert_eq!(arrivals.len(), 12, "each once");
    let span = arrivals[11] - arrivals[0];
    assert!(
        span >= Duration::from_millis(2_000),
        "12 sends at 5/s take over 2 s, took {span:?}"
    );
    for (i, start) in arrivals.iter().enumerate() {
        let within = arrivals[i..]
            .iter()
            .take_while(|at| **at - *start < Duration::from_secs(1))
            .count();
        assert!(within <= 6, "{within} sends within one second");
    }
    let (status, body) = admin(&app, "PATCH", &path, Some(json!({"max_per_sec": 20_000}))).await;
    assert_eq!(status, 422, "{body}");
}
