//! Benchmark of backfill, run by `cargo xtask bench backfill [sqlite|postgres] [users]` in
//! release mode: a fake of Clerk's Backend API (in this process, no rate limit) holds `users`
//! users built from the fixture; one job runner lists them in pages of 500 and writes them
//! through the guarded upsert. Checks that every user was written, then prints one JSON line
//! with users per second of wall time (listing, decoding and writing together).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hookgate_clerk::{ClerkClient, ClerkSecretKey, ClientSettings, RateLimit, RateLimits};
use hookgate_store::{JobState, JobType, SyncQuery, SyncTable};
use hookgate_testkit::fake_clerk::FakeClerk;
use hookgate_worker::{Backoff, ClerkKeyOpener, JobOutcome, JobRunner, JobSettings};

const KEY: &str = "sk_live_hookgatebenchkey0123456789abcdefgh";

mod common;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let backend = common::backend(&mut args);
    let users: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let (_db, store) = common::store(backend).await?;

    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake.seed_users(users);

    let tenant = common::new_tenant(&store).await?;
    // The key is not sealed here: the opener hands it over as it is.
    store.set_clerk_key(tenant, vec![0; 16], true).await?;
    let key = ClerkSecretKey::parse(KEY)?;
    let open_key = ClerkKeyOpener(Arc::new(move |_, _| Ok(key.clone())));
    let unlimited = RateLimit {
        requests: 1_000_000,
        window: Duration::from_secs(1),
    };
    let client = ClerkClient::new(ClientSettings {
        api_url: fake.url(),
        limits: RateLimits {
            production: unlimited,
            development: unlimited,
        },
        ..ClientSettings::default()
    })?;
    let runner = JobRunner::new(
        store.clone(),
        client,
        open_key,
        JobSettings {
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(100),
            backoff: Backoff {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(10),
                max_attempts: 1,
            },
        },
    );
    let job = store
        .create_job(tenant, JobType::Backfill, &["users"])
        .await?
        .map_err(|open| anyhow::anyhow!("job {} open", open.id))?;

    let started = Instant::now();
    let outcome = runner.run_job(job.id).await?.context("the job was due")?;
    let elapsed = started.elapsed();
    anyhow::ensure!(
        outcome == JobOutcome::Done,
        "the backfill ended {outcome:?}"
    );
    let job = store.find_job(tenant, job.id).await?.context("job")?;
    anyhow::ensure!(job.state == JobState::Done, "job {:?}", job.state);
    let progress = &job.progress.kinds[0];
    anyhow::ensure!(
        progress.created as usize == users && progress.fetched as usize == users,
        "every user listed and created once: {progress:?}"
    );
    let mut stored = 0;
    let mut query = SyncQuery {
        limit: 1_000,
        ..SyncQuery::default()
    };
    loop {
        let page = store.list_synced(tenant, SyncTable::Users, &query).await?;
        stored += page.rows.len();
        match page.next_cursor {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    anyhow::ensure!(stored == users, "{stored} of {users} users in the table");

    println!(
        "{{\"backend\":\"{}\",\"users\":{users},\"pages\":{},\"seconds\":{:.2},\"users_per_s\":{:.0}}}",
        common::name(backend),
        fake.requests(KEY),
        elapsed.as_secs_f64(),
        users as f64 / elapsed.as_secs_f64(),
    );
    store.close().await;
    Ok(())
}
