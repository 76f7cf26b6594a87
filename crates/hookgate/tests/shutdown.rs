//! SIGTERM under load, against the real binary: `/readyz` fails at once, requests keep being
//! served through the drain delay, a request in flight when the listener closes is answered, the
//! process exits 0, and every delivery that was answered 200 is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(unix)]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hookgate_testkit::{Backend, TestDb, on_both_backends};
use hookgate_verify::Secret;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

mod common;

use common::{assert_stored, serve, signed_request, store_with_acme};

on_both_backends!(sigterm_under_load_loses_nothing);

const DRAIN: Duration = Duration::from_millis(1000);

fn body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"data":{{"id":"user_{n}","object":"user","first_name":"U{n}","updated_at":1732890000000}},"object":"event","type":"user.created","timestamp":1732890000000,"instance_id":"ins_1"}}"#
    )
    .into_bytes()
}

async fn sigterm_under_load_loses_nothing(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let secret = Secret::from_bytes(vec![7; 24]).unwrap();
    let (store, tenant) = store_with_acme(&db, &secret).await;

    let mut server = serve(
        &db.url(),
        &[(
            "HOOKGATE__SERVER__DRAIN_DELAY_MS",
            &DRAIN.as_millis().to_string(),
        )],
    );
    let base = format!("http://{}", server.addr);
    let url = format!("{base}/api/webhooks/acme");
    hookgate_worker::install_tls_provider();
    let http = reqwest::Client::new();

    // Load: 8 clients sending deliveries back to back until the server stops answering.
    let terminated = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for client in 0..8 {
        let (http, url, secret, terminated) = (
            http.clone(),
            url.clone(),
            secret.clone(),
            terminated.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut answered = Vec::new();
            for n in 0.. {
                let svix_id = format!("msg_{client}_{n}");
                let body = body(client * 1_000_000 + n);
                let mut request = http.post(&url).body(body.clone());
                for (name, value) in signed_request(&secret, &svix_id, &body) {
                    request = request.header(name, value);
                }
                let after_sigterm = terminated.load(Ordering::SeqCst);
                match request.send().await {
                    Ok(response) => {
                        assert_eq!(response.status(), 200, "{svix_id}");
                        answered.push((svix_id, after_sigterm));
                    }
                    // The listener has closed: this client is done.
                    Err(_) if after_sigterm => break,
                    Err(err) => panic!("{svix_id} failed before SIGTERM: {err}"),
                }
            }
            answered
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;

    // A delivery in flight across the close: headers and half its body now, the rest after the
    // listener has closed.
    let slow_body = body(99_999_999);
    let mut slow = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let mut head = format!(
        "POST /api/webhooks/acme HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        server.addr,
        slow_body.len()
    );
    for (name, value) in signed_request(&secret, "msg_slow", &slow_body) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    slow.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = slow_body.split_at(slow_body.len() / 2);
    slow.write_all(first).await.unwrap();

    let pid = server.child.id().to_string();
    terminated.store(true, Ordering::SeqCst);
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let sent_sigterm = Instant::now();

    // Draining: not ready any more, still serving.
    let ready = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            let res = http.get(format!("{base}/readyz")).send().await.unwrap();
            if res.status() == 503 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "/readyz answers 503 once SIGTERM arrives");
    assert!(sent_sigterm.elapsed() < DRAIN);

    tokio::time::sleep(DRAIN + Duration::from_millis(500)).await;
    slow.write_all(rest).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut response))
        .await
        .expect("the in-flight request is answered")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"accepted\""), "{response}");

    let mut answered = Vec::new();
    for client in clients {
        answered.extend(client.await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "hookgate exits after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let logs: Vec<String> = server.stderr.try_iter().collect();
    assert!(
        logs.iter().any(|l| l.contains("hookgate stopped")),
        "{logs:#?}"
    );

    let during_drain = answered.iter().filter(|(_, after)| *after).count();
    assert!(answered.len() > 10, "load ran: {} answered", answered.len());
    assert!(during_drain > 0, "requests were served while draining");
    answered.push(("msg_slow".into(), true));
    let ids: Vec<String> = answered.iter().map(|(id, _)| id.clone()).collect();
    assert_stored(&store, tenant, &ids).await;
    assert_eq!(
        store.count_inbox_events(tenant).await.unwrap(),
        answered.len() as u64,
        "nothing stored that was not answered"
    );
    store.close().await;
}
