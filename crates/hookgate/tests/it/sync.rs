//! Clerk events sent over HTTP end up, after the workers, as the right rows: whatever the order,
//! however often delivered; failures retry, die, and apply once replayed.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hookgate::Settings;
use hookgate::startup::Role;
use hookgate_events::EventType;
use hookgate_store::InboxStatus;
use hookgate_store::entities::sync::{
    organization, organization_domain, organization_invitation, organization_membership,
    permission, role, session, user, waitlist_entry,
};
use hookgate_worker::Worker;
use reqwest::StatusCode;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, Database, DatabaseConnection, EntityTrait as _,
    QueryFilter as _,
};
use tokio::sync::{Notify, watch};

use crate::helpers::{
    Backend, TestApp, TestDb, TestTenant, eventually, on_both_backends, settings,
};

on_both_backends!(
    every_synced_type_lands_in_its_table_whatever_the_order,
    metrics_count_deliveries_and_applies,
    failures_retry_then_die_and_replay_applies_them,
);

fn fast_worker(db: &TestDb) -> Settings {
    let mut settings = settings(&db.url());
    settings.worker.poll_interval_ms = 50;
    settings.worker.backoff_base_ms = 50;
    settings.worker.backoff_cap_ms = 100;
    settings.worker.max_attempts = 2;
    settings
}

fn fixture(event_type: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../events/tests/fixtures/{event_type}.json"));
    std::fs::read(path).unwrap()
}

/// Waits until the tenant has no pending or failed events.
async fn drained(app: &TestApp, tenant: &TestTenant) -> Vec<(InboxStatus, u64)> {
    eventually(Duration::from_secs(20), || async {
        let counts = app.store.count_by_status(tenant.id).await.unwrap();
        let open = counts
            .iter()
            .any(|(s, n)| matches!(s, InboxStatus::Pending | InboxStatus::Failed) && *n > 0);
        (!open).then_some(counts)
    })
    .await
    .expect("the workers drain the queue")
}

async fn every_synced_type_lands_in_its_table_whatever_the_order(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let app = TestApp::spawn_role(&fast_worker(&db), Role::All).await;
    let acme = app.tenant("acme").await;

    // Every type Clerk sends, in a scrambled order; each delivery retried by Svix (same
    // svix-id, deduplicated at ingest) and each event sent again as a new message (a new svix-id,
    // so the workers apply it twice).
    let known = EventType::KNOWN;
    let order: Vec<usize> = (0..known.len())
        .map(|i| (i * 17 + 5) % known.len())
        .collect();
    for (round, suffix) in ["a", "b"].iter().enumerate() {
        for &n in &order {
            let event_type = &known[if round == 0 { n } else { known.len() - 1 - n }];
            let body = fixture(event_type.as_str());
            for _ in 0..2 {
                let id = format!("msg_{n}_{suffix}");
                let status = app.deliver("acme", &acme.secret, &id, &body).await.status();
                assert_eq!(status, StatusCode::OK, "{event_type}");
            }
        }
    }
    let counts = drained(&app, &acme).await;
    assert_eq!(
        counts,
        vec![(InboxStatus::Done, 2 * EventType::KNOWN.len() as u64)]
    );

    let read = Database::connect(db.url()).await.unwrap();
    let t = acme.id;
    macro_rules! rows {
        ($module:ident) => {
            $module::Entity::find()
                .filter($module::Column::TenantId.eq(t))
                .all(&read)
                .await
                .unwrap()
        };
    }
    // Deleted objects are tombstones that no earlier-sent create or update revived.
    let users = rows!(user);
    assert_eq!(users.len(), 1);
    assert!(users[0].deleted_at.is_some() && users[0].first_name.is_none());
    let orgs = rows!(organization);
    assert!(orgs.len() == 1 && orgs[0].deleted_at.is_some());
    let memberships = rows!(organization_membership);
    assert_eq!(memberships.len(), 1);
    assert!(memberships[0].deleted_at.is_some());
    assert_eq!(
        memberships[0].organization_id.as_deref(),
        Some("org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe")
    );
    let domains = rows!(organization_domain);
    assert!(domains.len() == 1 && domains[0].deleted_at.is_some());
    let roles = rows!(role);
    assert!(roles.len() == 1 && roles[0].deleted_at.is_some());
    let permissions = rows!(permission);
    assert!(permissions.len() == 1 && permissions[0].deleted_at.is_some());

    // Live objects hold their newest version.
    let invitations = rows!(organization_invitation);
    assert_eq!(invitations.len(), 2);
    let accepted = invitations
        .iter()
        .find(|i| i.status.as_deref() == Some("accepted"))
        .unwrap();
    assert_eq!(
        accepted.user_id.as_deref(),
        Some("user_2pQyT4vNc8XwE1rKs6MbHq9LgZu")
    );
    let sessions = rows!(session);
    assert_eq!(sessions.len(), 4);
    let ended = sessions
        .iter()
        .find(|s| s.clerk_id == "sess_2pQxX2wDh2MxJ5RPw1SbT6dEfYz")
        .unwrap();
    assert_eq!(
        ended.status.as_deref(),
        Some("ended"),
        "session.ended is newer than session.created"
    );
    let waitlist = rows!(waitlist_entry);
    assert_eq!(waitlist.len(), 1);
    assert_eq!(waitlist[0].status.as_deref(), Some("invited"));
    assert!(
        waitlist[0].data["invitation"].is_object(),
        "the full data Clerk sent is kept"
    );
    read.close().await.unwrap();
}

async fn failures_retry_then_die_and_replay_applies_them(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let settings = fast_worker(&db);
    // Ingest only: this test runs the worker itself, so both events land in one batch.
    let app = TestApp::spawn(&settings).await;
    let acme = app.tenant("acme").await;
    let admin = Database::connect(db.url()).await.unwrap();
    poison_users(&admin, backend).await;

    let poison = br#"{"data":{"id":"user_poison","updated_at":1732890000000},"object":"event","type":"user.created","timestamp":1732890000000}"#;
    let good = br#"{"data":{"id":"user_good","updated_at":1732890000000},"object":"event","type":"user.created","timestamp":1732890000000}"#;
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_poison", poison)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_good", good)
            .await
            .status(),
        StatusCode::OK
    );

    let worker = Worker::new(
        app.store.clone(),
        settings.worker_settings(),
        Arc::new(Notify::new()),
    );
    let first = worker.run_batch().await.unwrap();
    assert_eq!(
        (first.claimed, first.done, first.retried),
        (2, 1, 1),
        "one poison event does not block its batch"
    );
    let poisoned = app.inbox(&acme, "msg_poison").await.unwrap();
    assert_eq!(
        (poisoned.status, poisoned.attempts),
        (InboxStatus::Failed, 1)
    );
    assert!(
        poisoned.next_attempt_at.unwrap() > poisoned.received_at,
        "retried later, not at once"
    );
    assert_eq!(
        app.inbox(&acme, "msg_good").await.unwrap().status,
        InboxStatus::Done
    );

    let (stop_tx, stop) = watch::channel(false);
    let running = {
        let worker = worker.clone();
        tokio::spawn(async move { worker.run(stop).await })
    };
    drained(&app, &acme).await;
    let poisoned = app.inbox(&acme, "msg_poison").await.unwrap();
    assert_eq!(poisoned.status, InboxStatus::Dead);
    assert_eq!(
        poisoned.attempts, 2,
        "retried once, then dead at max_attempts = 2"
    );
    assert!(
        poisoned
            .last_error
            .unwrap()
            .contains("poisoned for the test")
    );

    // The operator sees it, with its history, fixes the cause, and replays the dead events.
    let detail: serde_json::Value = app
        .http
        .get(app.url(&format!("/admin/v1/tenants/acme/events/{}", poisoned.id)))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let history = detail["attempts_history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{detail}");
    assert_eq!(
        (
            history[0]["outcome"].as_str(),
            history[1]["outcome"].as_str()
        ),
        (Some("retry"), Some("dead"))
    );
    let shown = cli(
        &db,
        &[
            "events",
            "show",
            "--tenant",
            "acme",
            &poisoned.id.to_string(),
        ],
    );
    assert!(
        shown.contains("attempt 2") && shown.contains("dead: ") && shown.contains("user_poison"),
        "{shown}"
    );
    let stats = cli(&db, &["events", "stats", "--tenant", "acme"]);
    assert!(
        stats.contains("dead     1") && stats.contains("done     1"),
        "{stats}"
    );
    let listed = cli(
        &db,
        &["events", "list", "--tenant", "acme", "--status", "dead"],
    );
    assert!(
        listed.contains("user.created") && listed.contains("poisoned for the test"),
        "{listed}"
    );
    unpoison_users(&admin, backend).await;
    let replayed = cli(
        &db,
        &[
            "events", "replay", "--tenant", "acme", "--status", "dead", "--type", "user.*",
        ],
    );
    assert!(replayed.contains("1 events of acme put back"), "{replayed}");

    drained(&app, &acme).await;
    stop_tx.send(true).unwrap();
    running.await.unwrap();
    assert_eq!(
        app.inbox(&acme, "msg_poison").await.unwrap().status,
        InboxStatus::Done
    );
    let row = user::Entity::find()
        .filter(user::Column::TenantId.eq(acme.id))
        .filter(user::Column::ClerkId.eq("user_poison"))
        .one(&admin)
        .await
        .unwrap();
    assert!(row.is_some());
    admin.close().await.unwrap();
}

/// Makes inserting the user `user_poison` fail, the way a broken database constraint would.
async fn poison_users(db: &DatabaseConnection, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "CREATE TRIGGER poison BEFORE INSERT ON users WHEN NEW.clerk_id = 'user_poison' \
             BEGIN SELECT RAISE(ABORT, 'poisoned for the test'); END",
        ],
        Backend::Postgres => &[
            "CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.clerk_id = 'user_poison' THEN RAISE EXCEPTION 'poisoned for the test'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER poison BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    };
    for sql in statements {
        db.execute_unprepared(sql).await.unwrap();
    }
}

async fn unpoison_users(db: &DatabaseConnection, backend: Backend) {
    let sql = match backend {
        Backend::Sqlite => "DROP TRIGGER poison",
        Backend::Postgres => "DROP TRIGGER poison ON users",
    };
    db.execute_unprepared(sql).await.unwrap();
}

/// Runs the `hookgate` binary against the test's database; returns its standard output.
fn cli(db: &TestDb, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hookgate"))
        .args(args)
        .env(
            "HOOKGATE_CONFIG_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config"),
        )
        .env("HOOKGATE__DATABASE__URL", db.url())
        .env_remove("HOOKGATE_ENV")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn metrics_count_deliveries_and_applies(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = fast_worker(&db);
    settings.metrics.listen = "127.0.0.1:0".into();
    settings.metrics.tenant_label_limit = 1;
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let acme = app.tenant("acme").await;
    let other = app.tenant("other").await;
    // A destination that refuses, so the forwarding metrics have something to count.
    let created = app
        .tenancy
        .create_destination(
            &hookgate_tenancy::TenantSlug::parse("acme").unwrap(),
            hookgate_tenancy::DestinationSpec {
                name: "closed".into(),
                url: "http://127.0.0.1:9/nothing-listens-here".into(),
                event_types: vec!["*".into()],
                max_per_sec: None,
            },
            None,
        )
        .await
        .unwrap();
    let body = crate::helpers::user_created("user_metrics");
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_m", &body)
            .await
            .status(),
        StatusCode::OK
    );
    // A field of another type than Clerk documents: applied all the same, and counted.
    let drifted = String::from_utf8(body.clone())
        .unwrap()
        .replacen(r#""first_name": "Ada""#, r#""first_name": 42"#, 1)
        .into_bytes();
    assert_eq!(
        app.deliver("other", &other.secret, "msg_m2", &drifted)
            .await
            .status(),
        StatusCode::OK
    );
    drained(&app, &acme).await;
    drained(&app, &other).await;

    eventually(Duration::from_secs(10), || async {
        let attempted = app
            .store
            .list_deliveries(acme.id, &hookgate_store::DeliveryQuery::default())
            .await
            .unwrap();
        attempted
            .iter()
            .any(|d| d.destination_id == created.destination.id && d.attempts > 0)
            .then_some(())
    })
    .await
    .expect("a forwarding attempt");

    // With metrics.listen set, /metrics is served there only, not on the API port.
    let on_api_port = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(on_api_port.status(), StatusCode::NOT_FOUND);
    let metrics_base = app.metrics_base.clone().expect("metrics.listen is set");
    let response = app
        .http
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    // The recorder is shared by every test of this process, so counts are at least, not exactly.
    let value = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{prefix} missing from:\n{text}"))
    };
    // With a limit of one tenant label, the first tenant keeps its slug and the next is _other.
    assert!(value("hookgate_ingest_requests_total{outcome=\"accepted\",tenant=\"acme\"}") >= 1.0);
    assert!(value("hookgate_ingest_requests_total{outcome=\"accepted\",tenant=\"_other\"}") >= 1.0);
    assert!(!text.contains("tenant=\"other\""));
    for metric in hookgate::prometheus::CATALOGUE {
        let kind = match metric.kind {
            hookgate::prometheus::Kind::Counter => "counter",
            hookgate::prometheus::Kind::Gauge => "gauge",
            hookgate::prometheus::Kind::Histogram => "histogram",
        };
        assert!(
            text.contains(&format!("# TYPE {} {kind}", metric.name)),
            "{} missing from:\n{text}",
            metric.name
        );
    }
    assert!(value("hookgate_db_pool_max_connections{") >= 1.0);
    assert!(value("hookgate_queue_wait_seconds_count") >= 1.0);

    // The metrics-only listener serves nothing else.
    let elsewhere = app
        .http
        .get(format!("{metrics_base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    assert!(value("hookgate_apply_total{outcome=\"done\"}") >= 1.0);
    assert!(
        value(
            "hookgate_decode_warnings_total{event_type=\"user.created\",field=\"data.first_name\"}"
        ) >= 1.0
    );
    assert!(value("hookgate_processing_lag_seconds_count") >= 1.0);
    assert!(value("hookgate_ingest_duration_seconds_count") >= 1.0);
    assert!(
        !text.contains(&acme.secret.expose_encoded()),
        "no secret in metrics"
    );
}
