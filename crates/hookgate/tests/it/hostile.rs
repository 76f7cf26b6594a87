//! Hostile and broken requests, spoken as raw HTTP/1.1 so nothing in a client library tidies them
//! up: each gets a clear 4xx (or the connection is closed, for what HTTP itself refuses) and
//! nothing is stored. Also: a captured delivery sent again is a duplicate, or refused once its
//! timestamp is old, and is never applied twice.

use std::time::{Duration, Instant};

use hookgate::startup::Role;
use hookgate_verify::{Secret, sign};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{Backend, TestApp, TestDb, settings, unix_now, user_created};

/// Sends `request` on a new connection and reads until the server closes it.
async fn raw(app: &TestApp, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    // The server may answer and close before reading everything (a body over the limit).
    let _ = stream.write_all(request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// A POST to `path` with `headers` (name, raw value bytes) and `body`, Content-Length set.
fn post(path: &str, headers: &[(&str, Vec<u8>)], body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: hookgate\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    request
}

fn signed(secret: &Secret, id: &str, ts: i64, body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("svix-id", id.as_bytes().to_vec()),
        ("svix-timestamp", ts.to_string().into_bytes()),
        ("svix-signature", sign(secret, id, ts, body).into_bytes()),
    ]
}

fn with(
    mut headers: Vec<(&'static str, Vec<u8>)>,
    name: &'static str,
    value: impl Into<Vec<u8>>,
) -> Vec<(&'static str, Vec<u8>)> {
    headers.retain(|(n, _)| *n != name);
    headers.push((name, value.into()));
    headers
}

fn status_of(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_a_clear_4xx_and_store_nothing() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    let app = TestApp::spawn(&settings(&db.url())).await;
    let acme = app.tenant("acme").await;
    let secret = &acme.secret;
    let other = Secret::parse("whsec_b3RoZXItYXBwLXNlY3JldC0zMi1ieXRlcyE=").unwrap();
    let now = unix_now();
    let body = user_created("u_hostile");
    let good = signed(secret, "msg_h", now, &body);
    let endpoint = "/api/webhooks/acme";
    let invalid_utf8 = [
        &br#"{"data":{"id":"user_"#[..],
        &[0xff, 0xfe],
        br#""},"type":"user.created","object":"event","timestamp":1}"#,
    ]
    .concat();
    let limit = 256 * 1024;
    let mut big = body.clone();
    big.resize(limit + 1, b' ');

    // (case, request, expected status, expected error code or "" when HTTP itself refuses)
    let mut cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "no signature headers",
            post(endpoint, &[], &body),
            400,
            "invalid_headers",
        ),
        (
            "svix-id twice",
            post(
                endpoint,
                &[good.clone(), vec![("svix-id", b"msg_other".to_vec())]].concat(),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "svix-signature twice",
            post(
                endpoint,
                &[
                    good.clone(),
                    vec![(
                        "svix-signature",
                        sign(secret, "msg_h", now, &body).into_bytes(),
                    )],
                ]
                .concat(),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "svix-timestamp twice",
            post(
                endpoint,
                &[
                    good.clone(),
                    vec![("svix-timestamp", now.to_string().into_bytes())],
                ]
                .concat(),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "svix-id of 300 characters",
            post(
                endpoint,
                &with(good.clone(), "svix-id", "m".repeat(300)),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "svix-id not UTF-8",
            post(
                endpoint,
                &with(good.clone(), "svix-id", vec![b'm', 0xff, 0xfe]),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "svix-signature of 64 KiB",
            post(
                endpoint,
                &with(
                    good.clone(),
                    "svix-signature",
                    format!("v1,{}", "A".repeat(64 * 1024)),
                ),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "timestamp not a number",
            post(
                endpoint,
                &with(good.clone(), "svix-timestamp", "12ab"),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "timestamp negative",
            post(endpoint, &with(good.clone(), "svix-timestamp", "-1"), &body),
            400,
            "invalid_headers",
        ),
        (
            "timestamp beyond 64 bits",
            post(
                endpoint,
                &with(good.clone(), "svix-timestamp", "99999999999999999999999999"),
                &body,
            ),
            400,
            "invalid_headers",
        ),
        (
            "timestamp a day old, correctly signed",
            post(
                endpoint,
                &signed(secret, "msg_old", now - 86_400, &body),
                &body,
            ),
            401,
            "verification_failed",
        ),
        (
            "timestamp a day ahead, correctly signed",
            post(
                endpoint,
                &signed(secret, "msg_new", now + 86_400, &body),
                &body,
            ),
            401,
            "verification_failed",
        ),
        (
            "signature not base64",
            post(
                endpoint,
                &with(good.clone(), "svix-signature", "v1,!!not*base64!!"),
                &body,
            ),
            401,
            "verification_failed",
        ),
        (
            "signature of the wrong length",
            post(
                endpoint,
                &with(good.clone(), "svix-signature", "v1,AAAA"),
                &body,
            ),
            401,
            "verification_failed",
        ),
        (
            "signature of another app's secret",
            post(endpoint, &signed(&other, "msg_h", now, &body), &body),
            401,
            "verification_failed",
        ),
        (
            "body not UTF-8, signature forged",
            post(
                endpoint,
                &signed(&other, "msg_utf8", now, &invalid_utf8),
                &invalid_utf8,
            ),
            401,
            "verification_failed",
        ),
        (
            "body changed after signing",
            post(endpoint, &good, &user_created("u_other")),
            401,
            "verification_failed",
        ),
        (
            "body over the limit, declared",
            post(endpoint, &signed(secret, "msg_big", now, &big), &big),
            413,
            "body_too_large",
        ),
        (
            "header block of 1 MiB",
            post(
                endpoint,
                &with(good.clone(), "x-padding", "p".repeat(1024 * 1024)),
                &body,
            ),
            431,
            "",
        ),
    ];
    // Odd tenant slugs: none names a tenant. (`..` segments that stay path segments do not even
    // reach the route, so the answer is the router's own 404.)
    let long = format!("/api/webhooks/{}", "a".repeat(300));
    for (case, path, code) in [
        ("slug in capitals", "/api/webhooks/ACME", "unknown_tenant"),
        ("slug `..`", "/api/webhooks/..", ""),
        ("slug `%2e%2e`", "/api/webhooks/%2e%2e", "unknown_tenant"),
        (
            "slug with `%2f`",
            "/api/webhooks/acme%2f..",
            "unknown_tenant",
        ),
        ("slug with `/..`", "/api/webhooks/acme/../acme", ""),
        (
            "slug in unicode",
            "/api/webhooks/%C3%A1cme",
            "unknown_tenant",
        ),
        ("slug not UTF-8", "/api/webhooks/%FF%FE", "unknown_tenant"),
        ("slug of 300 characters", long.as_str(), "unknown_tenant"),
    ] {
        cases.push((case, post(path, &good, &body), 404, code));
    }
    // More headers than HTTP parsing allows.
    let many: Vec<(&str, Vec<u8>)> = (0..200).map(|_| ("x-many", b"1".to_vec())).collect();
    cases.push((
        "200 headers",
        post(endpoint, &[good.clone(), many].concat(), &body),
        431,
        "",
    ));

    for (case, request, expected, code) in cases {
        let response = raw(&app, &request).await;
        assert_eq!(status_of(&response), Some(expected), "{case}: {response}");
        if !code.is_empty() {
            assert!(
                response.contains(&format!("\"code\":\"{code}\"")),
                "{case}: {response}"
            );
        }
    }

    // Chunked, with no Content-Length to announce it: the limit holds while reading.
    let mut chunked = format!(
        "POST {endpoint} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n"
    )
    .into_bytes();
    for (name, value) in signed(secret, "msg_chunked", now, &big) {
        chunked.extend_from_slice(format!("{name}: ").as_bytes());
        chunked.extend_from_slice(&value);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"\r\n");
    for chunk in big.chunks(8 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let response = raw(&app, &chunked).await;
    assert_eq!(status_of(&response), Some(413), "chunked: {response}");

    // A client that sends its headers a few bytes at a time is cut off (the test settings give
    // headers one second), instead of holding a connection for as long as it likes.
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /api/webhooks/acme HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut closed = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(b"x-slow: 1\r\n").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                // An answer (408) before closing is fine too.
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(
        closed,
        "a slow header sender kept its connection for {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    assert_eq!(
        app.inbox_count(&acme).await,
        0,
        "nothing hostile was stored"
    );
}

/// A captured, valid delivery sent again: the same svix-id is a duplicate of the stored event
/// (within retention) and is applied once; with the timestamp out of tolerance it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_delivery_is_a_duplicate_or_refused_never_applied_twice() {
    let db = TestDb::create(Backend::Sqlite).await.unwrap();
    // With workers, so the one stored event is applied.
    let app = TestApp::spawn_role(&settings(&db.url()), Role::All).await;
    let acme = app.tenant("acme").await;
    let now = unix_now();
    let body = user_created("u_replay");
    let captured = post(
        "/api/webhooks/acme",
        &signed(&acme.secret, "msg_replay", now, &body),
        &body,
    );

    let first = raw(&app, &captured).await;
    assert_eq!(status_of(&first), Some(200), "{first}");
    assert!(first.contains("\"status\":\"accepted\""), "{first}");
    for _ in 0..5 {
        let again = raw(&app, &captured).await;
        assert_eq!(status_of(&again), Some(200), "{again}");
        assert!(again.contains("\"status\":\"duplicate\""), "{again}");
    }
    assert_eq!(app.inbox_count(&acme).await, 1);
    let applied = crate::helpers::eventually(Duration::from_secs(10), || async {
        let event = app.inbox(&acme, "msg_replay").await?;
        (event.status == hookgate_store::InboxStatus::Done).then_some(())
    })
    .await;
    assert!(applied.is_some(), "the one stored event is applied");

    // The same capture replayed after the tolerance (5 minutes): refused before storage.
    let late = now - 301;
    let stale = post(
        "/api/webhooks/acme",
        &signed(&acme.secret, "msg_replay_late", late, &body),
        &body,
    );
    let response = raw(&app, &stale).await;
    assert_eq!(status_of(&response), Some(401), "{response}");
    assert_eq!(app.inbox_count(&acme).await, 1);
}
