//! `kill -9` of the process running a backfill, against the real binary: another process
//! resumes the job from its last checkpoint once the lease runs out, fetching at most the page
//! that was in flight twice, and the table ends equal to Clerk's.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hookgate_store::entities::sync::user;
use hookgate_store::{JobState, JobType};
use hookgate_tenancy::{ClerkSecretKey, ListKind, SecretCipher, SecretsKey, Tenancy, TenantSlug};
use hookgate_testkit::fake_clerk::{FakeClerk, Kind};
use hookgate_testkit::{Backend, TestDb, on_both_backends};
use hookgate_verify::Secret;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};

mod common;

use common::{DEV_SECRETS_KEY, serve, store_with_acme};

on_both_backends!(a_killed_backfill_resumes_from_its_checkpoint);

const KEY: &str = "sk_test_hookgatecrashtestkey0123456789abc";
const USERS: usize = 6_000;
const PAGE: usize = 500;

async fn a_killed_backfill_resumes_from_its_checkpoint(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake.seed_users(USERS);
    // Slow pages, so the kill lands mid-listing however fast the machine is.
    fake.delay(Duration::from_millis(250));
    let (store, tenant) = store_with_acme(&db, &Secret::from_bytes(vec![9; 24]).unwrap()).await;
    let cipher = SecretCipher::new(&SecretsKey::parse(DEV_SECRETS_KEY).unwrap());
    let tenancy = Tenancy::new(store.clone(), cipher, None);
    let acme = TenantSlug::parse("acme").unwrap();
    tenancy
        .set_clerk_key(&acme, &ClerkSecretKey::parse(KEY).unwrap())
        .await
        .unwrap();
    let job = tenancy
        .start_job(&acme, JobType::Backfill, &[ListKind::Users])
        .await
        .unwrap();

    let api_url = fake.url();
    let env = [
        ("HOOKGATE__CLERK__API_URL", api_url.as_str()),
        ("HOOKGATE__JOBS__LEASE_MS", "3000"),
        ("HOOKGATE__JOBS__POLL_INTERVAL_MS", "50"),
    ];
    let db_url = db.url();
    let mut first = tokio::task::spawn_blocking({
        let (db_url, env) = (db_url.clone(), owned(&env));
        move || serve(&db_url, &borrowed(&env))
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.requests(KEY) < 4 {
        assert!(Instant::now() < deadline, "the backfill did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.child.kill().unwrap(); // SIGKILL: no lease given back, the page in flight lost.
    first.child.wait().unwrap();
    let before = fake.requests(KEY);
    let checkpoint = store.find_job(tenant, job.id).await.unwrap().unwrap();
    let listed_before = checkpoint.progress.kinds[0].fetched as usize;
    assert!((PAGE..USERS).contains(&listed_before), "{listed_before}");

    let _second = tokio::task::spawn_blocking({
        let (db_url, env) = (db_url.clone(), owned(&env));
        move || serve(&db_url, &borrowed(&env))
    })
    .await
    .unwrap();
    let done = loop {
        let job = store.find_job(tenant, job.id).await.unwrap().unwrap();
        if job.state.is_over() {
            break job;
        }
        assert!(Instant::now() < deadline, "not resumed: {job:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done.state, JobState::Done, "{done:?}");
    assert!(done.attempts >= 1);

    // A clean run asks for every page once, and one more that comes back short (empty).
    let clean = USERS / PAGE + 1;
    let total = fake.requests(KEY);
    assert!(
        total <= clean + 1,
        "{total} requests for {clean} pages: more than one page fetched twice"
    );
    // The second process started where the checkpoint said.
    let resumed = total - before;
    assert!(
        resumed <= clean - listed_before / PAGE + 1,
        "{resumed} requests after the kill"
    );

    let rows: BTreeSet<String> = user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::DeletedAt.is_null())
        .all(&sea_orm::Database::connect(&db_url).await.unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.clerk_id)
        .collect();
    let truth: BTreeSet<String> = fake.ids(Kind::Users).into_iter().collect();
    assert_eq!(rows.len(), USERS);
    assert!(rows == truth, "the table differs from Clerk's users");
    store.close().await;
}

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
