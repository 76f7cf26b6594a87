//! Every row of the ingest contract.

use chrono::Utc;
use hookgate_store::InboxStatus;
use hookgate_tenancy::TenantSlug;
use hookgate_verify::{Secret, sign};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{
    Backend, TestApp, TestDb, on_both_backends, random_bytes, settings, unix_now, user_created,
};

on_both_backends!(
    accepted_and_stored_byte_for_byte,
    a_redelivery_is_a_duplicate_stored_once,
    a_redelivery_with_another_body_is_a_counted_conflict,
    a_tenant_deleted_elsewhere_stores_nothing,
    the_same_svix_id_under_another_tenant_is_accepted,
    another_tenants_secret_is_refused,
    rotated_out_secret_fails_after_expiry_while_the_new_one_passes,
    malformed_signature_headers_are_400,
    failed_checks_are_401,
    unknown_and_disabled_tenants_are_404,
    bodies_over_the_limit_are_413,
    a_verified_body_that_is_not_an_envelope_is_stored_dead,
    health_and_request_ids,
);

async fn app(backend: Backend) -> Option<(TestDb, TestApp)> {
    let db = TestDb::create(backend).await?;
    let app = TestApp::spawn(&settings(&db.url())).await;
    let expected = match backend {
        Backend::Sqlite => hookgate_store::Backend::Sqlite,
        Backend::Postgres => hookgate_store::Backend::Postgres,
    };
    assert_eq!(app.store.backend(), expected);
    Some((db, app))
}

async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn accepted_and_stored_byte_for_byte(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = user_created("user_1");

    let (status, answer) = json(app.deliver("acme", &acme.secret, "msg_1", &body).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "accepted");
    let stored = app.inbox(&acme, "msg_1").await.expect("stored");
    assert_eq!(answer["id"], stored.id.to_string());
    assert_eq!(stored.body, body, "the body is stored exactly as received");
    assert_eq!(stored.event_type.as_deref(), Some("user.created"));
    assert_eq!(stored.instance_id.as_deref(), Some("ins_test"));
    assert_eq!(stored.status, InboxStatus::Pending);
    assert!(stored.event_timestamp_ms.unwrap() > 1_600_000_000_000);
}

async fn a_redelivery_is_a_duplicate_stored_once(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = user_created("user_1");

    let (_, first) = json(app.deliver("acme", &acme.secret, "msg_dup", &body).await).await;
    let (status, second) = json(app.deliver("acme", &acme.secret, "msg_dup", &body).await).await;
    // Concurrent redeliveries race on the unique index, not on a read-then-write.
    let racing = futures_join(&app, &acme.secret, "msg_race", &body).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["status"], "duplicate");
    assert_eq!(second["id"], first["id"]);
    let accepted = racing.iter().filter(|s| s.as_str() == "accepted").count();
    assert_eq!(accepted, 1, "{racing:?}");
    assert!(
        racing.iter().all(|s| s == "accepted" || s == "duplicate"),
        "{racing:?}"
    );
    assert_eq!(app.inbox_count(&acme).await, 2);
}

/// Svix never changes a message's body: the same svix-id with another body is answered as a
/// duplicate (the first delivery stands, the sender must not retry) and counted as a conflict.
async fn a_redelivery_with_another_body_is_a_counted_conflict(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = user_created("user_1");
    let changed = user_created("user_2");
    let (_, first) = json(app.deliver("acme", &acme.secret, "msg_c", &body).await).await;
    let (status, second) = json(app.deliver("acme", &acme.secret, "msg_c", &changed).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["status"], "duplicate");
    assert_eq!(second["id"], first["id"]);
    let stored = app.inbox(&acme, "msg_c").await.unwrap();
    assert_eq!(stored.body, body, "the first delivery stands");
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
        metrics
            .lines()
            .any(|l| l.starts_with("hookgate_ingest_requests_total{outcome=\"conflict\"")),
        "{metrics}"
    );
}

/// A tenant deleted by another process (this one's registry still has it) gets nothing stored:
/// the delivery is answered as for any unknown tenant.
async fn a_tenant_deleted_elsewhere_stores_nothing(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    app.store.delete_tenant_with_data(acme.id).await.unwrap();
    let response = app
        .deliver("acme", &acme.secret, "msg_gone", &user_created("user_1"))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, answer) = json(response).await;
    assert_eq!(answer["error"]["code"], "unknown_tenant");
    assert_eq!(app.inbox_count(&acme).await, 0);
}

async fn futures_join(app: &TestApp, secret: &Secret, svix_id: &str, body: &[u8]) -> Vec<String> {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, secret, id, body) = (
            app.http.clone(),
            app.url("/api/webhooks/acme"),
            secret.clone(),
            svix_id.to_owned(),
            body.to_vec(),
        );
        tasks.push(tokio::spawn(async move {
            let ts = unix_now();
            let response = http
                .post(url)
                .header("svix-id", &id)
                .header("svix-timestamp", ts.to_string())
                .header("svix-signature", sign(&secret, &id, ts, &body))
                .body(body)
                .send()
                .await
                .unwrap();
            let answer: Value = response.json().await.unwrap();
            answer["status"].as_str().unwrap_or("error").to_owned()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

async fn the_same_svix_id_under_another_tenant_is_accepted(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let body = user_created("user_1");

    let (_, a) = json(app.deliver("acme", &acme.secret, "msg_shared", &body).await).await;
    let (status, b) = json(
        app.deliver("globex", &globex.secret, "msg_shared", &body)
            .await,
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(a["status"], "accepted");
    assert_eq!(b["status"], "accepted");
    assert_ne!(a["id"], b["id"]);
    assert_eq!(app.inbox_count(&acme).await, 1);
    assert_eq!(app.inbox_count(&globex).await, 1);
}

async fn another_tenants_secret_is_refused(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;

    let (status, answer) = json(
        app.deliver("acme", &globex.secret, "msg_x", &user_created("u"))
            .await,
    )
    .await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer["error"]["code"], "verification_failed");
    assert_eq!(app.inbox_count(&acme).await, 0);
    assert_eq!(app.inbox_count(&globex).await, 0);
}

async fn rotated_out_secret_fails_after_expiry_while_the_new_one_passes(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let body = user_created("user_1");
    let new_secret = || Secret::from_bytes(random_bytes(24)).unwrap();

    // Rotation in progress: the old secret is still inside its grace period.
    let acme = app.tenant("acme").await;
    let acme_new = new_secret();
    let grace_ends = Utc::now() + chrono::Duration::hours(24);
    app.tenancy
        .add_secret(
            &TenantSlug::parse("acme").unwrap(),
            &acme_new,
            None,
            Some(grace_ends),
        )
        .await
        .unwrap();
    let old_in_grace = app
        .deliver("acme", &acme.secret, "msg_old", &body)
        .await
        .status();
    let new_in_grace = app
        .deliver("acme", &acme_new, "msg_new", &body)
        .await
        .status();

    // Rotation over: the grace period has ended.
    let globex = app.tenant("globex").await;
    let globex_new = new_secret();
    let grace_ended = Utc::now() - chrono::Duration::seconds(1);
    app.tenancy
        .add_secret(
            &TenantSlug::parse("globex").unwrap(),
            &globex_new,
            None,
            Some(grace_ended),
        )
        .await
        .unwrap();
    let old_after = app
        .deliver("globex", &globex.secret, "msg_old", &body)
        .await
        .status();
    let new_after = app
        .deliver("globex", &globex_new, "msg_new", &body)
        .await
        .status();

    // A secret added with its own expiry stops verifying after it.
    let expired = new_secret();
    app.tenancy
        .add_secret(
            &TenantSlug::parse("globex").unwrap(),
            &expired,
            Some(grace_ended),
            None,
        )
        .await
        .unwrap();
    let expired_status = app
        .deliver("globex", &expired, "msg_expired", &body)
        .await
        .status();

    assert_eq!(old_in_grace, StatusCode::OK);
    assert_eq!(new_in_grace, StatusCode::OK);
    assert_eq!(old_after, StatusCode::UNAUTHORIZED);
    assert_eq!(new_after, StatusCode::OK);
    assert_eq!(expired_status, StatusCode::UNAUTHORIZED);
    assert!(app.inbox(&globex, "msg_old").await.is_none());
    assert_eq!(app.inbox_count(&globex).await, 1);

    // During a rotation Svix signs with both secrets; one valid entry is enough.
    let ts = unix_now();
    let both = format!(
        "{} {}",
        sign(&globex.secret, "msg_both", ts, &body),
        sign(&globex_new, "msg_both", ts, &body)
    );
    let status = app
        .http
        .post(app.url("/api/webhooks/globex"))
        .header("svix-id", "msg_both")
        .header("svix-timestamp", ts.to_string())
        .header("svix-signature", both)
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
}

async fn malformed_signature_headers_are_400(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = user_created("u");
    let ts = unix_now().to_string();
    let good = sign(&acme.secret, "msg_1", unix_now(), &body);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no headers", vec![]),
        (
            "no id",
            vec![("svix-timestamp", &ts), ("svix-signature", &good)],
        ),
        (
            "no timestamp",
            vec![("svix-id", "msg_1"), ("svix-signature", &good)],
        ),
        (
            "no signature",
            vec![("svix-id", "msg_1"), ("svix-timestamp", &ts)],
        ),
        (
            "timestamp not a number",
            vec![
                ("svix-id", "msg_1"),
                ("svix-timestamp", "yesterday"),
                ("svix-signature", &good),
            ],
        ),
        (
            "signature without version",
            vec![
                ("svix-id", "msg_1"),
                ("svix-timestamp", &ts),
                ("svix-signature", "c2lnbmF0dXJl"),
            ],
        ),
        (
            "id repeated",
            vec![
                ("svix-id", "msg_1"),
                ("svix-id", "msg_2"),
                ("svix-timestamp", &ts),
                ("svix-signature", &good),
            ],
        ),
    ];
    for (case, headers) in cases {
        let mut request = app
            .http
            .post(app.url("/api/webhooks/acme"))
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let (status, answer) = json(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(answer["error"]["code"], "invalid_headers", "{case}");
    }
    assert_eq!(app.inbox_count(&acme).await, 0);
}

async fn failed_checks_are_401(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = user_created("u");
    let post = |id: &'static str, ts: i64, sig: String, body: Vec<u8>| {
        app.http
            .post(app.url("/api/webhooks/acme"))
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
    };
    let now = unix_now();
    let mut tampered = body.clone();
    tampered[10] ^= 1;

    let wrong_body = post("m1", now, sign(&acme.secret, "m1", now, &body), tampered)
        .await
        .unwrap();
    let stale = post(
        "m2",
        now - 310,
        sign(&acme.secret, "m2", now - 310, &body),
        body.clone(),
    )
    .await
    .unwrap();
    let future = post(
        "m3",
        now + 310,
        sign(&acme.secret, "m3", now + 310, &body),
        body.clone(),
    )
    .await
    .unwrap();
    let unbranded_ok = post(
        "m4",
        now,
        sign(&acme.secret, "m4", now, &body),
        body.clone(),
    )
    .await
    .unwrap();

    assert_eq!(wrong_body.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
    let (_, stale_answer) = json(stale).await;
    assert!(
        stale_answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("past")
    );
    assert_eq!(future.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        unbranded_ok.status(),
        StatusCode::OK,
        "webhook-* headers are accepted too"
    );
    assert_eq!(app.inbox_count(&acme).await, 1);
}

async fn unknown_and_disabled_tenants_are_404(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = user_created("u");

    for slug in ["nobody", "Acme", "ac%2fme", "%C3%A9", &"a".repeat(64)] {
        let (status, answer) = json(app.deliver(slug, &acme.secret, "msg_1", &body).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{slug}");
        assert_eq!(answer["error"]["code"], "unknown_tenant", "{slug}");
    }
    // `..` is resolved by the client to another path, which is no route at all.
    let (status, _) = json(app.deliver("..", &acme.secret, "msg_1", &body).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.tenancy
        .set_enabled(&TenantSlug::parse("acme").unwrap(), false)
        .await
        .unwrap();
    let disabled = app
        .deliver("acme", &acme.secret, "msg_1", &body)
        .await
        .status();
    app.tenancy
        .set_enabled(&TenantSlug::parse("acme").unwrap(), true)
        .await
        .unwrap();
    let enabled = app
        .deliver("acme", &acme.secret, "msg_2", &body)
        .await
        .status();

    assert_eq!(disabled, StatusCode::NOT_FOUND);
    assert_eq!(enabled, StatusCode::OK);
    assert_eq!(app.inbox_count(&acme).await, 1);
}

async fn bodies_over_the_limit_are_413(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let limit = 256 * 1024;
    let mut big = br#"{"data":{"pad":""#.to_vec();
    big.resize(limit + 1, b'x');

    let declared = app.deliver("acme", &acme.secret, "msg_big", &big).await;
    let (status, answer) = json(declared).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["code"], "body_too_large");

    // Chunked, so no Content-Length announces the size: the limit still holds.
    let ts = unix_now();
    let sig = sign(&acme.secret, "msg_chunked", ts, &big);
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/webhooks/acme HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nsvix-id: msg_chunked\r\n\
         svix-timestamp: {ts}\r\nsvix-signature: {sig}\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.chunks(16 * 1024) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&frame).await.is_err() {
            break; // The server may answer and close before reading everything.
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");

    // Exactly at the limit is fine.
    let mut at_limit = big.clone();
    at_limit.truncate(limit);
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_at_limit", &at_limit)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.inbox_count(&acme).await, 1);
}

#[tokio::test]
async fn a_stalled_body_is_answered_408() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn(&settings(&db.url())).await;
    let acme = app.tenant("acme").await;
    let ts = unix_now();
    let body = user_created("u1");
    let sig = sign(&acme.secret, "msg_slow", ts, &body);
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/webhooks/acme HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nsvix-id: msg_slow\r\n\
         svix-timestamp: {ts}\r\nsvix-signature: {sig}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    // ...and nothing more: the server gives up after `server.body_idle_timeout_ms`.
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("body_timeout"), "{response}");
    assert_eq!(app.inbox_count(&acme).await, 0);
}

#[tokio::test]
async fn a_request_over_the_deadline_gets_a_json_503() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn(&settings(&db.url())).await;
    let acme = app.tenant("acme").await;
    let ts = unix_now();
    let body = user_created("u1");
    let sig = sign(&acme.secret, "msg_trickle", ts, &body);
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/webhooks/acme HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nsvix-id: msg_trickle\r\n\
         svix-timestamp: {ts}\r\nsvix-signature: {sig}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // A byte every 400 ms never trips the 1 s idle timeout, but the whole request outlasts the
    // 3 s request timeout.
    for byte in body.iter().take(20) {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response).to_lowercase();
    assert!(response.starts_with("http/1.1 503"), "{response}");
    assert!(response.contains("retry-after: 5"), "{response}");
    assert!(response.contains(r#""code":"unavailable""#), "{response}");
    assert_eq!(app.inbox_count(&acme).await, 0);
}

#[tokio::test]
async fn undecodable_slugs_and_wrong_methods_get_json_errors() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn(&settings(&db.url())).await;

    let bad_escape = app
        .http
        .post(app.url("/api/webhooks/%FF"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let get = app
        .http
        .get(app.url("/api/webhooks/acme"))
        .send()
        .await
        .unwrap();

    let (status, answer) = json(bad_escape).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "unknown_tenant");
    let (status, answer) = json(get).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer["error"]["code"], "method_not_allowed");
}

async fn a_verified_body_that_is_not_an_envelope_is_stored_dead(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = b"\xff\xfe not json at all".to_vec();

    let (status, answer) = json(app.deliver("acme", &acme.secret, "msg_junk", &body).await).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["status"], "accepted");
    let stored = app.inbox(&acme, "msg_junk").await.unwrap();
    assert_eq!(stored.status, InboxStatus::Dead);
    assert_eq!(stored.body, body);
    assert!(
        stored
            .last_error
            .unwrap()
            .contains("not a JSON Clerk event envelope")
    );
    assert_eq!(stored.event_type, None);

    // Text PostgreSQL cannot store (NUL) or oversized names are not an envelope either, and are
    // kept as dead too rather than failing the insert forever.
    let nul_type = br#"{"data":{},"object":"event","type":"user.\u0000created","timestamp":1}"#;
    let long_instance = format!(
        r#"{{"data":{{}},"object":"event","type":"user.created","instance_id":"{}","timestamp":1}}"#,
        "i".repeat(5000)
    );
    for (id, body) in [
        ("msg_nul", nul_type.to_vec()),
        ("msg_long", long_instance.into_bytes()),
    ] {
        let (status, answer) = json(app.deliver("acme", &acme.secret, id, &body).await).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        assert_eq!(answer["status"], "accepted", "{id}");
        let stored = app.inbox(&acme, id).await.unwrap();
        assert_eq!(stored.status, InboxStatus::Dead, "{id}");
        assert_eq!(stored.body, body, "{id}");
    }
}

async fn health_and_request_ids(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };

    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    let ready = app
        .http
        .get(app.url("/readyz"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    let missing = app.http.get(app.url("/nowhere")).send().await.unwrap();

    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        health.headers().get("x-request-id").is_some(),
        "a request id is generated"
    );
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.headers()["x-request-id"],
        "req-123",
        "the client's request id is echoed"
    );
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let (_, answer) = json(missing).await;
    assert_eq!(answer["error"]["code"], "not_found");
}
