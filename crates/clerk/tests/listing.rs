//! The client against the fake Backend API over real HTTP: paging every kind, changes during a
//! listing, the rate budget, retries and refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use std::collections::HashSet;
use std::time::Duration;

use hookgate_clerk::{
    ClerkClient, ClerkError, ClerkSecretKey, ClientSettings, Cursor, ListKind, Page, RateLimit,
    RateLimits,
};
use hookgate_testkit::fake_clerk::{FakeClerk, Kind};
use tokio::time::Instant;

const KEY: &str = "sk_test_hookgateFake0123456789abcdef";

fn key() -> ClerkSecretKey {
    ClerkSecretKey::parse(KEY).unwrap()
}

fn fake_kind(kind: ListKind) -> Kind {
    kind.as_str().parse().unwrap()
}

/// Quick retries and a budget the tests do not reach unless they set one.
fn settings(fake: &FakeClerk) -> ClientSettings {
    let generous = RateLimit {
        requests: 100_000,
        window: Duration::from_secs(1),
    };
    ClientSettings {
        api_url: fake.url(),
        timeout: Duration::from_secs(5),
        max_retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(100),
        limits: RateLimits {
            production: generous,
            development: generous,
        },
        ..ClientSettings::default()
    }
}

async fn fake_with_key() -> FakeClerk {
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake
}

/// Every page of `kind`, in order.
async fn pages(client: &ClerkClient, kind: ListKind) -> Vec<Page> {
    let mut cursor = Cursor::start(kind);
    let mut pages = Vec::new();
    loop {
        let page = client.list(&key(), kind, &cursor).await.unwrap();
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(next) => cursor = next,
            None => return pages,
        }
        assert!(pages.len() < 1000, "the listing of {kind} does not end");
    }
}

fn ids(pages: &[Page]) -> Vec<String> {
    pages.iter().flat_map(Page::ids).collect()
}

fn seed_every_kind(fake: &FakeClerk, scale: usize) {
    fake.seed_users(scale * 2 + 3);
    fake.seed_organizations(scale + 1);
    fake.seed_memberships(scale + 2);
    fake.seed_invitations(scale / 2 + 1);
    fake.seed_domains(scale / 3 + 2);
    fake.seed_roles(scale / 4 + 3);
    fake.seed_permissions(scale / 5 + 4);
    fake.seed_waitlist_entries(scale / 2 + 5);
}

async fn lists_every_kind_completely(page_size: u32, scale: usize) {
    let fake = fake_with_key().await;
    seed_every_kind(&fake, scale);
    let client = ClerkClient::new(ClientSettings {
        page_size,
        ..settings(&fake)
    })
    .unwrap();
    for kind in ListKind::ALL {
        let truth = fake.ids(fake_kind(kind));
        let pages = pages(&client, kind).await;
        assert!(pages.iter().all(|page| !page.gap), "{kind}");
        assert_eq!(
            ids(&pages),
            truth,
            "{kind}: every object once, oldest first"
        );
        let full_pages = truth.len() / page_size as usize;
        assert!(pages.len() > full_pages, "{kind}: {} pages", pages.len());
        for page in &pages {
            let expected = (kind != ListKind::Users).then_some(truth.len() as u64);
            assert_eq!(page.total_count, expected, "{kind}");
        }
    }
    // Every request asks for the oldest first; users page by cursor, never by offset.
    let queries = fake.queries();
    assert!(
        queries.iter().all(|q| q.contains("order_by=%2Bcreated_at")),
        "{queries:?}"
    );
    for query in queries.iter().filter(|q| q.starts_with("/v1/users")) {
        assert!(!query.contains("offset="), "{query}");
    }
    assert!(queries.iter().any(|q| q.contains("starting_after=user_")));
}

#[tokio::test]
async fn every_kind_is_listed_completely_in_pages_of_500() {
    lists_every_kind_completely(500, 260).await;
}

#[tokio::test]
async fn every_kind_is_listed_completely_in_small_pages() {
    lists_every_kind_completely(7, 20).await;
}

#[tokio::test]
async fn the_memberships_refer_to_listed_organizations_and_users() {
    let fake = fake_with_key().await;
    fake.seed_users(3);
    fake.seed_organizations(2);
    fake.seed_memberships(6);
    let client = ClerkClient::new(settings(&fake)).unwrap();
    let users: HashSet<String> = ids(&pages(&client, ListKind::Users).await)
        .into_iter()
        .collect();
    let orgs: HashSet<String> = ids(&pages(&client, ListKind::Organizations).await)
        .into_iter()
        .collect();
    let memberships = pages(&client, ListKind::OrganizationMemberships).await;
    let mut pairs = HashSet::new();
    for object in memberships.iter().flat_map(|page| &page.objects) {
        let membership: serde_json::Value = serde_json::from_str(object.get()).unwrap();
        let org = membership["organization"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = membership["public_user_data"]["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(orgs.contains(&org) && users.contains(&user), "{membership}");
        assert!(pairs.insert((org, user)), "one membership per pair");
    }
    assert_eq!(pairs.len(), 6);
}

#[tokio::test]
async fn users_deleted_or_created_during_a_listing_do_not_disturb_the_cursor() {
    let fake = fake_with_key().await;
    fake.seed_users(40);
    let client = ClerkClient::new(ClientSettings {
        page_size: 6,
        ..settings(&fake)
    })
    .unwrap();
    let mut cursor = Cursor::start(ListKind::Users);
    let mut listed = Vec::new();
    loop {
        let page = client.list(&key(), ListKind::Users, &cursor).await.unwrap();
        assert!(!page.gap);
        listed.extend(page.ids());
        let Some(next) = page.next else { break };
        // Delete what was just listed (the cursor's own user included) and an older user, and
        // create one: the cursor neither skips nor repeats anyone.
        for id in listed.iter().rev().take(3) {
            if fake.get(Kind::Users, id).is_some() {
                fake.delete(Kind::Users, id);
            }
        }
        fake.seed_users(1);
        cursor = next;
    }
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), listed.len(), "no user twice");
    for id in fake.ids(Kind::Users) {
        assert!(listed.contains(&id), "{id} missed");
    }
}

/// The ids of the `n` objects just before `last` in the fake's truth: deleting them moves
/// everything after `last` back by `n`, into the overlap.
fn just_before(fake: &FakeClerk, kind: Kind, last: &str, n: usize) -> Vec<String> {
    let truth = fake.ids(kind);
    let at = truth.iter().position(|id| id == last).unwrap();
    truth[at.saturating_sub(n)..at].to_vec()
}

#[tokio::test]
async fn deletions_during_offset_paging_are_caught_by_the_overlap() {
    let fake = fake_with_key().await;
    fake.seed_organizations(150);
    let client = ClerkClient::new(ClientSettings {
        page_size: 10,
        ..settings(&fake)
    })
    .unwrap();
    let mut cursor = Cursor::start(ListKind::Organizations);
    let mut listed: Vec<String> = Vec::new();
    let mut deleted = 0;
    loop {
        let page = client
            .list(&key(), ListKind::Organizations, &cursor)
            .await
            .unwrap();
        assert!(!page.gap, "a gap after {} objects", listed.len());
        listed.extend(page.ids());
        let Some(next) = page.next else { break };
        // 19 deletions, one fewer than the overlap, right before the last object listed.
        for id in just_before(&fake, Kind::Organizations, listed.last().unwrap(), 19) {
            fake.delete(Kind::Organizations, &id);
            deleted += 1;
        }
        cursor = next;
    }
    assert!(deleted > 100, "{deleted}");
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), listed.len(), "no object twice");
    for id in fake.ids(Kind::Organizations) {
        assert!(listed.contains(&id), "{id} missed");
    }
}

#[tokio::test]
async fn more_deletions_than_the_overlap_are_flagged_as_a_gap() {
    let fake = fake_with_key().await;
    fake.seed_organizations(100);
    let client = ClerkClient::new(ClientSettings {
        page_size: 10,
        ..settings(&fake)
    })
    .unwrap();
    let mut cursor = Cursor::start(ListKind::Organizations);
    let mut listed: Vec<String> = Vec::new();
    let mut gaps = Vec::new();
    for page_number in 0.. {
        let page = client
            .list(&key(), ListKind::Organizations, &cursor)
            .await
            .unwrap();
        if page.gap {
            gaps.push(page_number);
        }
        listed.extend(page.ids());
        let Some(next) = page.next else { break };
        if page_number == 3 {
            for id in just_before(&fake, Kind::Organizations, listed.last().unwrap(), 25) {
                fake.delete(Kind::Organizations, &id);
            }
        }
        cursor = next;
    }
    assert_eq!(gaps, [4], "the page after the deletions, and only it");
    // No false alarm: objects were passed over.
    let missed: Vec<String> = fake
        .ids(Kind::Organizations)
        .into_iter()
        .filter(|id| !listed.contains(id))
        .collect();
    assert!(!missed.is_empty());
}

#[tokio::test]
async fn objects_created_during_a_listing_are_listed_at_its_end() {
    for kind in [
        ListKind::Organizations,
        ListKind::WaitlistEntries,
        ListKind::Users,
    ] {
        let fake = fake_with_key().await;
        fake.seed(fake_kind(kind), 40);
        for n in 1..=3 {
            fake.on_request(n, move |fake| {
                fake.seed(fake_kind(kind), 3);
            });
        }
        let client = ClerkClient::new(ClientSettings {
            page_size: 10,
            ..settings(&fake)
        })
        .unwrap();
        let pages = pages(&client, kind).await;
        assert!(pages.iter().all(|page| !page.gap), "{kind}");
        let truth = fake.ids(fake_kind(kind));
        assert_eq!(truth.len(), 49, "{kind}: the changes ran");
        assert_eq!(ids(&pages), truth, "{kind}");
    }
}

#[tokio::test]
async fn the_budget_keeps_every_window_within_the_limit() {
    let fake = fake_with_key().await;
    fake.seed_users(90);
    fake.seed_organizations(60);
    fake.seed_roles(40);
    let window = Duration::from_secs(1);
    fake.set_limit(20, window);
    let limit = RateLimit {
        requests: 20,
        window,
    };
    let client = ClerkClient::new(ClientSettings {
        page_size: 5,
        limits: RateLimits {
            production: limit,
            development: limit,
        },
        ..settings(&fake)
    })
    .unwrap();
    // Three listings at once with one key share its budget (and clones share it too).
    let clone = client.clone();
    let (users, orgs, roles) = tokio::join!(
        pages(&client, ListKind::Users),
        pages(&clone, ListKind::Organizations),
        pages(&client, ListKind::Roles),
    );
    assert_eq!(ids(&users), fake.ids(Kind::Users));
    assert_eq!(ids(&orgs), fake.ids(Kind::Organizations));
    assert_eq!(ids(&roles), fake.ids(Kind::Roles));
    let requests = fake.requests(KEY);
    assert!(requests > 40, "{requests} requests span several windows");
    assert_eq!(fake.max_in_window(KEY, window), 20);
    assert_eq!(fake.rate_limited(KEY), 0);
}

#[tokio::test]
async fn a_request_that_reaches_clerk_late_still_keeps_the_budget() {
    let fake = fake_with_key().await;
    fake.seed_users(12);
    let window = Duration::from_millis(500);
    fake.set_limit(1, window);
    // The first page reaches Clerk 300 ms after it was sent: the next may only leave a window
    // after the first one's answer, not a window after it was sent.
    fake.latency_next(1, Duration::from_millis(300));
    let limit = RateLimit {
        requests: 1,
        window,
    };
    let client = ClerkClient::new(ClientSettings {
        page_size: 5,
        limits: RateLimits {
            production: limit,
            development: limit,
        },
        ..settings(&fake)
    })
    .unwrap();
    let pages = pages(&client, ListKind::Users).await;
    assert_eq!(ids(&pages), fake.ids(Kind::Users));
    assert_eq!(fake.requests(KEY), 3);
    assert_eq!(fake.max_in_window(KEY, window), 1);
    assert_eq!(fake.rate_limited(KEY), 0);
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_asks() {
    let fake = fake_with_key().await;
    fake.seed_users(30);
    fake.set_limit(3, Duration::from_secs(1));
    let client = ClerkClient::new(ClientSettings {
        page_size: 5,
        max_retries: 1,
        ..settings(&fake)
    })
    .unwrap();
    let pages = pages(&client, ListKind::Users).await;
    assert_eq!(ids(&pages), fake.ids(Kind::Users));
    // More 429s than max_retries: they are waited out, not counted as failures.
    assert!(fake.rate_limited(KEY) >= 2, "{:?}", fake.records(KEY));
    let records = fake.records(KEY);
    for pair in records.windows(2) {
        if pair[0].status == 429 {
            // The fake asked for at least a second.
            let waited = pair[1].at - pair[0].at;
            assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
        }
    }
}

#[tokio::test]
async fn waiting_on_429s_is_bounded() {
    let fake = fake_with_key().await;
    fake.seed_users(8);
    fake.set_limit(1, Duration::from_secs(30));
    let client = ClerkClient::new(ClientSettings {
        page_size: 5,
        max_rate_limited_wait: Duration::from_secs(1),
        ..settings(&fake)
    })
    .unwrap();
    let first = client
        .list(&key(), ListKind::Users, &Cursor::start(ListKind::Users))
        .await
        .unwrap();
    let started = Instant::now();
    let err = client
        .list(&key(), ListKind::Users, &first.next.unwrap())
        .await
        .unwrap_err();
    // Clerk asked for 30 s, more than the client may wait: it says so at once.
    assert_eq!(
        err,
        ClerkError::RateLimited {
            waited: Duration::ZERO
        }
    );
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(fake.rate_limited(KEY), 1);
}

#[tokio::test]
async fn server_errors_are_retried_until_a_page_comes() {
    let fake = fake_with_key().await;
    fake.seed_roles(3);
    fake.fail_next(2, 503);
    let client = ClerkClient::new(settings(&fake)).unwrap();
    let pages = pages(&client, ListKind::Roles).await;
    assert_eq!(ids(&pages), fake.ids(Kind::Roles));
    assert_eq!(fake.requests(KEY), 3);
}

#[tokio::test]
async fn persistent_server_errors_end_as_unavailable() {
    let fake = fake_with_key().await;
    fake.seed_roles(3);
    fake.fail_next(100, 500);
    let client = ClerkClient::new(settings(&fake)).unwrap();
    let err = client
        .list(&key(), ListKind::Roles, &Cursor::start(ListKind::Roles))
        .await
        .unwrap_err();
    match &err {
        ClerkError::Unavailable { attempts, last } => {
            assert_eq!(*attempts, 4);
            assert!(last.contains("500"), "{last}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    assert_eq!(
        fake.requests(KEY),
        4,
        "the first attempt and max_retries (3) more"
    );
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn a_refused_key_fails_at_once() {
    let fake = fake_with_key().await;
    fake.seed_users(3);
    let wrong = "sk_test_notAKeyTheFakeKnows0123456789";
    let client = ClerkClient::new(ClientSettings {
        backoff_base: Duration::from_secs(2),
        ..settings(&fake)
    })
    .unwrap();
    let started = Instant::now();
    let err = client
        .list(
            &ClerkSecretKey::parse(wrong).unwrap(),
            ListKind::Users,
            &Cursor::start(ListKind::Users),
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(&err, ClerkError::Unauthorized { status: 401, message } if message.contains("supply an active API key")),
        "{err:?}"
    );
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("refused the secret key"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    assert_eq!(fake.requests(wrong), 1, "no retry");
}

#[tokio::test]
async fn a_rejected_request_is_not_retried() {
    let fake = fake_with_key().await;
    fake.fail_next(1, 422);
    let client = ClerkClient::new(settings(&fake)).unwrap();
    let err = client
        .list(
            &key(),
            ListKind::Permissions,
            &Cursor::start(ListKind::Permissions),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClerkError::Rejected { status: 422, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests(KEY), 1);
}

#[tokio::test]
async fn a_timed_out_request_is_retried() {
    let fake = fake_with_key().await;
    fake.seed_waitlist_entries(4);
    fake.delay_next(1, Duration::from_secs(3));
    let client = ClerkClient::new(ClientSettings {
        timeout: Duration::from_millis(300),
        ..settings(&fake)
    })
    .unwrap();
    let started = Instant::now();
    let pages = pages(&client, ListKind::WaitlistEntries).await;
    assert_eq!(ids(&pages), fake.ids(Kind::WaitlistEntries));
    assert_eq!(fake.requests(KEY), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn slow_pages_that_keep_timing_out_end_as_unavailable() {
    let fake = fake_with_key().await;
    fake.delay(Duration::from_secs(3));
    let client = ClerkClient::new(ClientSettings {
        timeout: Duration::from_millis(200),
        max_retries: 1,
        ..settings(&fake)
    })
    .unwrap();
    let err = client
        .list(&key(), ListKind::Users, &Cursor::start(ListKind::Users))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClerkError::Unavailable { attempts: 2, last } if last.contains("timed out")),
        "{err:?}"
    );
}
