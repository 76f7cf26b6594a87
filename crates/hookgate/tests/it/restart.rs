//! What was acknowledged survives a restart, and deduplication with it.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestDb, on_both_backends, settings, user_created};

on_both_backends!(events_and_dedup_survive_a_restart);

async fn events_and_dedup_survive_a_restart(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let settings = settings(&db.url());
    let app = TestApp::spawn(&settings).await;
    let acme = app.tenant("acme").await;
    let body = user_created("user_1");
    let first: Value = app
        .deliver("acme", &acme.secret, "msg_1", &body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["status"], "accepted");
    app.shutdown().await;

    let app = TestApp::spawn(&settings).await;
    let again = app.deliver("acme", &acme.secret, "msg_1", &body).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the tenant and its secret were reloaded"
    );
    let again: Value = again.json().await.unwrap();

    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["id"], first["id"]);
    let stored = app.inbox(&acme, "msg_1").await.unwrap();
    assert_eq!(stored.body, body);
    assert_eq!(app.inbox_count(&acme).await, 1);
    app.shutdown().await;
}
