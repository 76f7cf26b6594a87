//! The fake Backend API keeps Clerk's rules, so the client's tests mean something.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use std::time::Duration;

use hookgate_testkit::fake_clerk::{FakeClerk, Kind};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const KEY: &str = "sk_test_fakeClerkOwnTests0123456789";

struct Answer {
    status: u16,
    head: String,
    body: Value,
}

/// One HTTP/1.1 GET over a fresh connection, without a client library.
async fn get(fake: &FakeClerk, path: &str, key: Option<&str>) -> Answer {
    let address = fake.url().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let auth = key.map_or(String::new(), |key| {
        format!("authorization: Bearer {key}\r\n")
    });
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: {address}\r\n{auth}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap(),
    }
}

async fn fake() -> FakeClerk {
    let fake = FakeClerk::start().await;
    fake.add_key(KEY);
    fake
}

fn ids(values: &Value) -> Vec<String> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_clerk_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    let error = &answer.body["errors"][0];
    assert_eq!(error["code"], code, "{}", answer.body);
    assert!(error["message"].is_string() && error["long_message"].is_string());
}

#[tokio::test]
async fn lists_with_clerks_shapes_and_defaults() {
    let fake = fake().await;
    fake.seed_users(12);
    fake.seed_organizations(12);
    // Users: a bare array, 10 by default, newest first.
    let users = get(&fake, "/v1/users", Some(KEY)).await;
    assert_eq!(users.status, 200);
    let mut newest_first = fake.ids(Kind::Users);
    newest_first.reverse();
    assert_eq!(ids(&users.body), newest_first[..10]);
    // The others: data and total_count.
    let orgs = get(
        &fake,
        "/v1/organizations?limit=5&offset=10&order_by=%2Bcreated_at",
        Some(KEY),
    )
    .await;
    assert_eq!(orgs.status, 200);
    assert_eq!(orgs.body["total_count"], 12);
    assert_eq!(ids(&orgs.body["data"]), fake.ids(Kind::Organizations)[10..]);
    for kind in Kind::ALL {
        let answer = get(&fake, kind.path(), Some(KEY)).await;
        assert_eq!(answer.status, 200, "{kind}");
    }
}

#[tokio::test]
async fn refuses_limits_outside_1_to_500_and_unknown_orders() {
    let fake = fake().await;
    for query in [
        "limit=0",
        "limit=501",
        "limit=x",
        "offset=-1",
        "order_by=name",
        "order_by=%20created_at",
    ] {
        for path in ["/v1/users", "/v1/organization_domains"] {
            let answer = get(&fake, &format!("{path}?{query}"), Some(KEY)).await;
            assert_clerk_error(&answer, 422, "form_param_value_invalid");
        }
    }
    assert_eq!(
        get(&fake, "/v1/users?limit=500", Some(KEY)).await.status,
        200
    );
}

#[tokio::test]
async fn starting_after_follows_created_at_only() {
    let fake = fake().await;
    let users = fake.seed_users(6);
    let after = |query: &str| format!("/v1/users?starting_after={}&{query}", users[2]);
    let answer = get(&fake, &after("order_by=%2Bcreated_at"), Some(KEY)).await;
    assert_eq!(ids(&answer.body), users[3..]);
    let answer = get(&fake, &after("order_by=-created_at"), Some(KEY)).await;
    assert_eq!(ids(&answer.body), [users[1].clone(), users[0].clone()]);
    // Newest first by default.
    let answer = get(&fake, &after("limit=1"), Some(KEY)).await;
    assert_eq!(ids(&answer.body), [users[1].clone()]);
    for query in ["order_by=updated_at", "order_by=%2Bupdated_at", "offset=1"] {
        assert_clerk_error(
            &get(&fake, &after(query), Some(KEY)).await,
            422,
            "form_param_value_invalid",
        );
    }
    // A deleted user keeps its place.
    fake.delete(Kind::Users, &users[2]);
    let answer = get(&fake, &after("order_by=%2Bcreated_at"), Some(KEY)).await;
    assert_eq!(ids(&answer.body), users[3..]);
}

#[tokio::test]
async fn unknown_or_missing_keys_are_401() {
    let fake = fake().await;
    for key in [None, Some("sk_test_someOtherKey0123456789abc")] {
        let answer = get(&fake, "/v1/users", key).await;
        assert_clerk_error(&answer, 401, "authentication_invalid");
    }
    assert_eq!(fake.requests(""), 1);
    assert_eq!(fake.requests("sk_test_someOtherKey0123456789abc"), 1);
    assert_eq!(fake.records("").first().map(|r| r.status), Some(401));
}

#[tokio::test]
async fn the_limit_answers_429_with_retry_after_and_counts_every_request() {
    let fake = fake().await;
    fake.set_limit(2, Duration::from_secs(2));
    for _ in 0..2 {
        assert_eq!(get(&fake, "/v1/users", Some(KEY)).await.status, 200);
    }
    let answer = get(&fake, "/v1/users", Some(KEY)).await;
    assert_clerk_error(&answer, 429, "too_many_requests");
    assert!(answer.head.contains("retry-after: 2"), "{}", answer.head);
    // Another key has a budget of its own.
    fake.add_key("sk_test_secondKey0123456789abcdef");
    assert_eq!(
        get(
            &fake,
            "/v1/users",
            Some("sk_test_secondKey0123456789abcdef")
        )
        .await
        .status,
        200
    );
    assert_eq!(fake.requests(KEY), 3);
    assert_eq!(fake.rate_limited(KEY), 1);
    assert_eq!(fake.max_in_window(KEY, Duration::from_secs(2)), 3);
    assert_eq!(fake.max_in_window(KEY, Duration::ZERO), 0);
    fake.clear_limit();
    assert_eq!(get(&fake, "/v1/users", Some(KEY)).await.status, 200);
}

#[tokio::test]
async fn failures_delays_and_changes_are_injected_in_order() {
    let fake = fake().await;
    fake.seed_roles(2);
    fake.fail_next(1, 503);
    fake.on_request(1, |fake| {
        fake.seed_roles(1);
    });
    assert_clerk_error(
        &get(&fake, "/v1/organization_roles", Some(KEY)).await,
        503,
        "internal_clerk_error",
    );
    // The failed request is no list request for the hooks: the first 200 runs it.
    let first = get(&fake, "/v1/organization_roles", Some(KEY)).await;
    assert_eq!(first.body["total_count"], 2);
    let second = get(&fake, "/v1/organization_roles", Some(KEY)).await;
    assert_eq!(second.body["total_count"], 3);
    fake.delay_next(1, Duration::from_millis(300));
    let started = std::time::Instant::now();
    get(&fake, "/v1/organization_roles", Some(KEY)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(fake.list_requests(), 4);
    assert_eq!(fake.queries()[0], "/v1/organization_roles");
}

#[tokio::test]
async fn seeded_objects_are_realistic_and_consistent() {
    let fake = fake().await;
    fake.seed_memberships(5);
    fake.seed_invitations(3);
    fake.seed_domains(3);
    fake.seed_permissions(1);
    fake.seed_roles(1);
    fake.seed_waitlist_entries(1);
    let users = fake.ids(Kind::Users);
    let orgs = fake.ids(Kind::Organizations);
    assert!(!users.is_empty() && !orgs.is_empty(), "created as needed");
    for kind in Kind::ALL {
        let all = fake.all(kind);
        assert!(!all.is_empty(), "{kind}");
        let mut created: Vec<i64> = Vec::new();
        for object in &all {
            let id = object["id"].as_str().unwrap();
            assert!(id.starts_with(kind.id_prefix()) && id.len() > 20, "{id}");
            assert!(object["object"].is_string(), "{kind}: from the fixture");
            assert_eq!(object["created_at"], object["updated_at"]);
            created.push(object["created_at"].as_i64().unwrap());
        }
        assert!(
            created.windows(2).all(|w| w[0] < w[1]),
            "{kind}: {created:?}"
        );
    }
    let mut pairs = std::collections::HashSet::new();
    for membership in fake.all(Kind::OrganizationMemberships) {
        let org = membership["organization"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let user = membership["public_user_data"]["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(orgs.contains(&org) && users.contains(&user));
        assert!(pairs.insert((org, user)));
    }
    for kind in [Kind::OrganizationInvitations, Kind::OrganizationDomains] {
        for object in fake.all(kind) {
            assert!(orgs.contains(&object["organization_id"].as_str().unwrap().to_owned()));
        }
    }

    let user = users[0].clone();
    let before = fake.get(Kind::Users, &user).unwrap();
    let after = fake.update(Kind::Users, &user);
    assert!(after["updated_at"].as_i64() > before["updated_at"].as_i64());
    assert_ne!(after["first_name"], before["first_name"]);
    assert_eq!(fake.get(Kind::Users, &user).unwrap(), after);
    fake.delete(Kind::Users, &user);
    assert!(fake.get(Kind::Users, &user).is_none());

    let id = fake.add(
        Kind::Permissions,
        json!({"object": "permission", "key": "org:x:read"}),
    );
    assert!(id.starts_with("perm_"));
    assert_eq!(
        fake.all(Kind::Permissions).last().unwrap()["id"],
        id.as_str()
    );
}
