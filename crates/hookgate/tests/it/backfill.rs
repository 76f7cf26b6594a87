//! Backfill and reconcile against a fake of Clerk's Backend API, through the admin API, with the
//! real application's job runners, on SQLite and PostgreSQL: the tables end equal to Clerk's
//! truth while webhooks for the same objects arrive, the rate limit holds, reconcile reports the
//! drift it repairs, and bad requests change nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use hookgate::startup::Role;
use hookgate_store::Uuid;
use hookgate_store::entities::sync::{
    organization, organization_domain, organization_invitation, organization_membership,
    permission, role, user, waitlist_entry,
};
use hookgate_testkit::fake_clerk::{FakeClerk, Kind};
use sea_orm::{ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _};
use serde_json::{Value, json};

use super::helpers::{
    ADMIN_TOKEN, Backend, TestApp, TestDb, TestTenant, eventually, on_both_backends, settings,
};

on_both_backends!(
    a_backfill_under_webhooks_ends_equal_to_clerk,
    reconcile_reports_and_repairs_exactly_the_drift,
    bad_requests_change_nothing,
    a_refused_key_fails_the_job_at_once,
    a_cancelled_backfill_stops,
    reconciles_are_scheduled_for_keyed_tenants,
    tenants_of_one_instance_share_its_budget,
);

const KEY: &str = "sk_test_hookgatebackfilltestkey0123456789";

/// An admin API call on tenant `acme`'s `path`: the status and the JSON answer.
async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    admin_of(app, "acme", method, path, body).await
}

async fn admin_of(
    app: &TestApp,
    slug: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app
        .http
        .request(method, app.url(&format!("/admin/v1/tenants/{slug}{path}")))
        .bearer_auth(ADMIN_TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn start(app: &TestApp, what: &str, body: Option<Value>) -> Uuid {
    let (status, job) = admin(app, reqwest::Method::POST, &format!("/{what}"), body).await;
    assert_eq!(status, 202, "{job}");
    job["id"].as_str().unwrap().parse().unwrap()
}

/// Waits for the job to be over; returns it.
async fn finished(app: &TestApp, id: Uuid, within: Duration) -> Value {
    eventually(within, || async {
        let (_, job) = admin(app, reqwest::Method::GET, &format!("/jobs/{id}"), None).await;
        matches!(job["state"].as_str(), Some("done" | "failed" | "cancelled")).then_some(job)
    })
    .await
    .unwrap_or_else(|| panic!("job {id} still running"))
}

fn kind_of<'a>(job: &'a Value, kind: &str) -> &'a Value {
    job["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == kind)
        .unwrap_or_else(|| panic!("{kind} in {job}"))
}

/// The live rows of a kind: Clerk id → (version, the object as stored).
async fn live(db: &DatabaseConnection, tenant: Uuid, kind: Kind) -> BTreeMap<String, (i64, Value)> {
    macro_rules! rows {
        ($m:ident) => {
            $m::Entity::find()
                .filter($m::Column::TenantId.eq(tenant))
                .filter($m::Column::DeletedAt.is_null())
                .all(db)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.clerk_id, (r.version, r.data)))
                .collect()
        };
    }
    match kind {
        Kind::Users => rows!(user),
        Kind::Organizations => rows!(organization),
        Kind::OrganizationMemberships => rows!(organization_membership),
        Kind::OrganizationInvitations => rows!(organization_invitation),
        Kind::OrganizationDomains => rows!(organization_domain),
        Kind::Roles => rows!(role),
        Kind::Permissions => rows!(permission),
        Kind::WaitlistEntries => rows!(waitlist_entry),
    }
}

fn truth(fake: &FakeClerk, kind: Kind) -> BTreeMap<String, (i64, Value)> {
    fake.all(kind)
        .into_iter()
        .map(|o| {
            let id = o["id"].as_str().unwrap().to_owned();
            (id, (o["updated_at"].as_i64().unwrap(), o))
        })
        .collect()
}

async fn assert_equal_to_clerk(db: &DatabaseConnection, tenant: Uuid, fake: &FakeClerk) {
    for kind in Kind::ALL {
        let rows = live(db, tenant, kind).await;
        let truth = truth(fake, kind);
        assert_eq!(rows.len(), truth.len(), "{kind}: row count");
        assert!(rows == truth, "{kind}: rows differ from Clerk's");
    }
}

/// A webhook carrying `object` as Clerk would send it for `event_type`.
fn webhook(event_type: &str, object: &Value) -> Vec<u8> {
    let timestamp = object["updated_at"].as_i64().unwrap_or(0);
    serde_json::to_vec(&json!({
        "data": object, "object": "event", "type": event_type, "timestamp": timestamp,
    }))
    .unwrap()
}

fn seed(fake: &FakeClerk, users: usize, organizations: usize, memberships: usize) {
    fake.seed_users(users);
    fake.seed_organizations(organizations);
    fake.seed_memberships(memberships);
    fake.seed_invitations(12);
    fake.seed_domains(6);
    fake.seed_roles(4);
    fake.seed_permissions(5);
    fake.seed_waitlist_entries(7);
}

async fn app_with(db: &TestDb, fake: &FakeClerk, role: Role, page_size: u32) -> TestApp {
    app_with_limit(db, fake, role, page_size, (100, 10_000)).await
}

/// With `limit` (requests, window in ms) for development keys.
async fn app_with_limit(
    db: &TestDb,
    fake: &FakeClerk,
    role: Role,
    page_size: u32,
    limit: (u32, u64),
) -> TestApp {
    let mut settings = settings(&db.url());
    (
        settings.clerk.rate_limit_development,
        settings.clerk.rate_limit_window_ms,
    ) = limit;
    settings.clerk.api_url = fake.url();
    settings.clerk.page_size = page_size;
    settings.clerk.backoff_base_ms = 10;
    settings.clerk.backoff_cap_ms = 50;
    settings.jobs.poll_interval_ms = 50;
    settings.jobs.lease_ms = 5_000;
    settings.worker.poll_interval_ms = 50;
    TestApp::spawn_role(&settings, role).await
}

async fn with_key(app: &TestApp) -> TestTenant {
    let tenant = app.tenant("acme").await;
    set_key(app).await;
    tenant
}

async fn set_key(app: &TestApp) {
    let (status, body) = admin(
        app,
        reqwest::Method::PUT,
        "/clerk-key",
        Some(json!({"key": KEY})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["instance"], "development");
    assert!(!body.to_string().contains(KEY), "the key is never shown");
}

async fn a_backfill_under_webhooks_ends_equal_to_clerk(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    seed(&fake, 20_000, 500, 5_000);
    // A budget that binds: Clerk allows 10 requests a second here, and so does hookgate.
    fake.set_limit(10, Duration::from_secs(1));
    let app = app_with_limit(&db, &fake, Role::All, 500, (10, 1_000)).await;
    let acme = with_key(&app).await;
    let (tenant, signing) = (acme.id, acme.secret);
    let users = fake.ids(Kind::Users);

    // Webhooks that came before, older than what Clerk holds now: the listing wins.
    for (n, id) in users.iter().take(40).enumerate() {
        let mut stale = fake.get(Kind::Users, id).unwrap();
        stale["updated_at"] = json!(stale["updated_at"].as_i64().unwrap() - 1);
        stale["first_name"] = json!("stale");
        let response = app
            .deliver(
                "acme",
                &signing,
                &format!("msg_old_{n}"),
                &webhook("user.updated", &stale),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    let job = start(&app, "backfills", None).await;
    // While it runs: edits in Clerk, each sent as a webhook newer than the listing may have
    // seen, and deletions.
    for (n, id) in users.iter().skip(100).step_by(97).take(60).enumerate() {
        let updated = fake.update(Kind::Users, id);
        app.deliver(
            "acme",
            &signing,
            &format!("msg_new_{n}"),
            &webhook("user.updated", &updated),
        )
        .await;
    }
    for (n, id) in users.iter().skip(5_000).step_by(211).take(20).enumerate() {
        let gone = fake.delete(Kind::Users, id);
        let deleted = json!({"id": gone["id"], "object": "user", "deleted": true, "updated_at": gone["updated_at"]});
        app.deliver(
            "acme",
            &signing,
            &format!("msg_del_{n}"),
            &webhook("user.deleted", &deleted),
        )
        .await;
    }
    for (n, id) in fake.ids(Kind::Organizations).iter().take(10).enumerate() {
        let updated = fake.update(Kind::Organizations, id);
        app.deliver(
            "acme",
            &signing,
            &format!("msg_org_{n}"),
            &webhook("organization.updated", &updated),
        )
        .await;
    }
    let done = finished(&app, job, Duration::from_secs(240)).await;
    assert_eq!(done["state"], "done", "{done}");
    assert!(kind_of(&done, "users")["fetched"].as_u64().unwrap() >= 19_980);
    assert_eq!(kind_of(&done, "organizations")["total"], 500);
    // Every webhook applied too.
    eventually(Duration::from_secs(60), || async {
        let stats = app.store.queue_stats(tenant).await.unwrap();
        let waiting: u64 = stats
            .counts
            .iter()
            .filter(|(status, _)| status.is_waiting())
            .map(|(_, n)| n)
            .sum();
        (waiting == 0).then_some(())
    })
    .await
    .expect("webhooks applied");
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    assert_equal_to_clerk(&conn, tenant, &fake).await;
    // Within the limit, never answered 429, and the limit did bind.
    assert!(fake.max_in_window(KEY, Duration::from_secs(1)) <= 10);
    assert_eq!(fake.rate_limited(KEY), 0);
    assert!(fake.requests(KEY) > 20, "{} requests", fake.requests(KEY));
    app.shutdown().await;
}

async fn reconcile_reports_and_repairs_exactly_the_drift(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    // Objects as old as real ones: a reconcile spares rows changed within minutes of its start.
    fake.clock_behind(Duration::from_secs(3_600));
    seed(&fake, 730, 40, 90);
    let app = app_with(&db, &fake, Role::All, 100).await;
    let tenant = with_key(&app).await.id;
    let job = start(&app, "backfills", None).await;
    assert_eq!(
        finished(&app, job, Duration::from_secs(60)).await["state"],
        "done"
    );
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    assert_equal_to_clerk(&conn, tenant, &fake).await;

    // Drift: what webhooks never told hookgate.
    let users = fake.ids(Kind::Users);
    for id in users.iter().skip(3).step_by(50).take(7) {
        fake.delete(Kind::Users, id);
    }
    for id in users.iter().skip(10).step_by(70).take(5) {
        fake.update(Kind::Users, id);
    }
    fake.seed_users(3);
    for id in fake.ids(Kind::Organizations).iter().take(2) {
        fake.delete(Kind::Organizations, id);
    }
    let first = fake.ids(Kind::Roles)[0].clone();
    fake.update(Kind::Roles, &first);

    let job = start(&app, "reconciles", None).await;
    let done = finished(&app, job, Duration::from_secs(60)).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["type"], "reconcile");
    let counts = |kind: &str| {
        let k = kind_of(&done, kind);
        (
            k["created"].as_u64().unwrap(),
            k["updated"].as_u64().unwrap(),
            k["tombstoned"].as_u64().unwrap(),
        )
    };
    assert_eq!(counts("users"), (3, 5, 7));
    assert_eq!(counts("organizations"), (0, 0, 2));
    assert_eq!(counts("roles"), (0, 1, 0));
    for kind in [
        "organization_memberships",
        "organization_invitations",
        "organization_domains",
        "permissions",
        "waitlist_entries",
    ] {
        assert_eq!(counts(kind), (0, 0, 0), "{kind}");
    }
    assert_equal_to_clerk(&conn, tenant, &fake).await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hookgate_reconcile_drift_total{kind=\"users\",change=\"tombstoned\"}"),
        "{metrics}"
    );
    app.shutdown().await;
}

async fn bad_requests_change_nothing(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    // The api role runs no jobs: a queued job stays open.
    let app = app_with(&db, &fake, Role::Api, 500).await;
    app.tenant("acme").await;
    let (status, body) = admin(&app, reqwest::Method::POST, "/backfills", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("no_clerk_key")),
        "{body}"
    );
    let (status, body) = admin(
        &app,
        reqwest::Method::PUT,
        "/clerk-key",
        Some(json!({"key": "pk_test_abc"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_clerk_key")),
        "{body}"
    );
    assert!(!body.to_string().contains("pk_test_abc"), "{body}");
    let (status, _) = admin(&app, reqwest::Method::GET, "/clerk-key", None).await;
    assert_eq!(status, 404);
    set_key(&app).await;
    let (status, body) = admin(
        &app,
        reqwest::Method::POST,
        "/backfills",
        Some(json!({"kinds": ["users", "sessions"]})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_kinds")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sessions"),
        "{body}"
    );
    let (_, jobs) = admin(&app, reqwest::Method::GET, "/jobs", None).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 0);
    let first = start(&app, "backfills", Some(json!({"kinds": ["users"]}))).await;
    let (status, body) = admin(&app, reqwest::Method::POST, "/reconciles", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("job_open")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&first.to_string())
    );
    let (_, jobs) = admin(&app, reqwest::Method::GET, "/jobs", None).await;
    assert_eq!(jobs["data"].as_array().unwrap().len(), 1);
    assert_eq!(jobs["data"][0]["state"], "queued");
    assert_eq!(jobs["data"][0]["kinds"].as_array().unwrap().len(), 1);
    let (status, _) = admin(
        &app,
        reqwest::Method::GET,
        &format!("/jobs/{}", Uuid::now_v7()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(fake.list_requests(), 0, "nothing was asked of Clerk");
    app.shutdown().await;
}

async fn a_refused_key_fails_the_job_at_once(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    fake.seed_users(10);
    // The fake does not know KEY: Clerk answers 401.
    let app = app_with(&db, &fake, Role::All, 500).await;
    with_key(&app).await;
    let job = start(&app, "backfills", None).await;
    let done = finished(&app, job, Duration::from_secs(10)).await;
    assert_eq!(done["state"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("refused the secret key"), "{error}");
    assert!(!error.contains(KEY));
    assert_eq!(fake.requests(KEY), 1, "no retries of a refused key");
    app.shutdown().await;
}

async fn a_cancelled_backfill_stops(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake.seed_users(2_000);
    fake.delay(Duration::from_millis(150));
    let app = app_with(&db, &fake, Role::All, 100).await;
    let acme = with_key(&app).await;
    let job = start(&app, "backfills", Some(json!({"kinds": ["users"]}))).await;
    eventually(Duration::from_secs(20), || async {
        (fake.requests(KEY) >= 2).then_some(())
    })
    .await
    .expect("the backfill started");
    let (status, body) = admin(&app, reqwest::Method::DELETE, &format!("/jobs/{job}"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "cancelled");
    // The runner stops at its next page: the requests to Clerk stop growing, and the users
    // table with them, long before the 21 pages of a whole listing.
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let settled = eventually(Duration::from_secs(20), || async {
        let before = (
            fake.requests(KEY),
            live(&conn, acme.id, Kind::Users).await.len(),
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
        let after = (
            fake.requests(KEY),
            live(&conn, acme.id, Kind::Users).await.len(),
        );
        (before == after).then_some(after)
    })
    .await
    .expect("the cancelled job stopped");
    assert!(
        settled.0 < 20,
        "stopped long before the end: {} pages",
        settled.0
    );
    assert!(settled.1 < 2_000, "{} users written", settled.1);
    let (_, job) = admin(&app, reqwest::Method::GET, &format!("/jobs/{job}"), None).await;
    assert_eq!(job["state"], "cancelled");
    let (status, _) = admin(
        &app,
        reqwest::Method::DELETE,
        &format!("/jobs/{}", job["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 409, "over already");
    app.shutdown().await;
}

/// `reconcile.interval`: every tenant with a Clerk key is reconciled again and again, each time
/// after the last one is over.
async fn reconciles_are_scheduled_for_keyed_tenants(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake.seed_users(20);
    let mut settings = settings(&db.url());
    settings.clerk.api_url = fake.url();
    settings.jobs.poll_interval_ms = 50;
    settings.reconcile.interval = "1s".into();
    let app = TestApp::spawn_role(&settings, Role::All).await;
    let keyless = app.tenant("keyless").await;
    let acme = with_key(&app).await;
    let jobs = eventually(Duration::from_secs(20), || async {
        let jobs = app.store.list_jobs(acme.id, 10).await.unwrap();
        let done = jobs
            .iter()
            .filter(|j| j.state == hookgate_store::JobState::Done)
            .count();
        (done >= 2).then_some(jobs)
    })
    .await
    .expect("two scheduled reconciles ran");
    assert!(
        jobs.iter()
            .all(|j| j.job_type == hookgate_store::JobType::Reconcile)
    );
    let done = jobs
        .iter()
        .find(|j| j.state == hookgate_store::JobState::Done)
        .unwrap();
    assert_eq!(kind_of_job(done, "users"), 20);
    assert!(
        app.store
            .list_jobs(keyless.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    app.shutdown().await;
}

fn kind_of_job(job: &hookgate_store::Job, kind: &str) -> u64 {
    job.progress
        .kinds
        .iter()
        .find(|k| k.kind == kind)
        .map_or(0, |k| k.fetched)
}

/// Tenants pinned to one Clerk instance share its rate budget, whatever keys they hold: Clerk
/// counts requests per instance.
async fn tenants_of_one_instance_share_its_budget(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    const OTHER: &str = "sk_test_hookgatesecondkeyofinstance0123456";
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake.add_key(OTHER);
    fake.seed_users(1_500);
    let app = app_with_limit(&db, &fake, Role::All, 100, (10, 1_000)).await;
    let mut jobs = Vec::new();
    for (slug, key) in [("acme", KEY), ("acme-eu", OTHER)] {
        app.tenant(slug).await;
        let pin = json!({"instance_id": "ins_2pQw8kLmN3vR5tY7uZ9aB1cD4eF"});
        let (status, _) = admin_of(&app, slug, reqwest::Method::PATCH, "", Some(pin)).await;
        assert_eq!(status, 200);
        let key = json!({"key": key});
        let (status, _) = admin_of(&app, slug, reqwest::Method::PUT, "/clerk-key", Some(key)).await;
        assert_eq!(status, 200);
        let users = json!({"kinds": ["users"]});
        let (status, job) =
            admin_of(&app, slug, reqwest::Method::POST, "/backfills", Some(users)).await;
        assert_eq!(status, 202, "{job}");
        jobs.push((slug, job["id"].as_str().unwrap().to_owned()));
    }
    for (slug, id) in &jobs {
        let done = eventually(Duration::from_secs(60), || async {
            let path = format!("/jobs/{id}");
            let (_, job) = admin_of(&app, slug, reqwest::Method::GET, &path, None).await;
            (job["state"] == "done").then_some(job)
        })
        .await;
        assert!(done.is_some(), "{slug}'s backfill did not finish");
    }
    // Both listings together, as Clerk counts them for the instance.
    let mut times: Vec<_> = [KEY, OTHER]
        .iter()
        .flat_map(|key| fake.records(key))
        .map(|record| record.at)
        .collect();
    times.sort();
    let window = Duration::from_secs(1);
    let mut most = 0;
    let mut first = 0;
    for (last, at) in times.iter().enumerate() {
        while times[first] + window <= *at {
            first += 1;
        }
        most = most.max(last + 1 - first);
    }
    assert!(times.len() >= 30, "{} requests", times.len());
    assert!(most <= 10, "{most} requests to the instance in one second");
    app.shutdown().await;
}
