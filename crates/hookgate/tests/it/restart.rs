//! What was acknowledged survives a restart, and deduplication with it.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestDb, on_both_backends, settings, user_created};

on_both_backends!(
    events_and_dedup_survive_a_restart,
    a_different_secrets_key_refuses_to_start
);

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

async fn a_different_secrets_key_refuses_to_start(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let mut settings = settings(&db.url());
    let app = TestApp::spawn(&settings).await;
    app.tenant("acme").await;
    app.shutdown().await;

    // Every stored secret would fail to decrypt and every delivery would be answered 401:
    // better not to start at all.
    settings.secrets.key = Some(hookgate::settings::Redacted::new(
        "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMzI=",
    ));
    let err = hookgate::Application::build(&settings, hookgate::startup::Role::Api)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("secrets.key"), "{err:#}");
}
