//! The admin and tenant APIs: route classes fail closed, keys isolate tenants, pagination is
//! complete.

use hookgate_events::ClerkEvent;
use hookgate_store::Uuid;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Backend, TestApp, TestDb, on_both_backends, settings};

on_both_backends!(
    every_route_asks_for_its_class_credentials,
    tenant_keys_see_only_their_tenant_and_revocation_is_immediate,
    pages_return_every_user_once_while_users_arrive,
    operators_manage_tenants_and_keys_through_the_admin_api,
    rotation_keeps_the_old_secret_through_its_grace_only,
    rate_limits_answer_429_and_recover,
    a_pinned_tenant_keeps_other_instances_events_dead,
    settings_apply_at_once_and_delete_needs_confirmation,
    operators_page_inspect_and_replay_events,
    no_tenant_route_shows_another_tenants_data,
    every_admin_route_refuses_an_invalid_slug_alike,
    optional_bodies_are_refused_in_the_json_error_format,
);

async fn app(backend: Backend) -> Option<(TestDb, TestApp)> {
    let db = TestDb::create(backend).await?;
    let app = TestApp::spawn(&settings(&db.url())).await;
    Some((db, app))
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.http.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn key_for(app: &TestApp, slug: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/admin/v1/tenants/{slug}/keys"),
        Some(ADMIN_TOKEN),
        Some(json!({"name": "test"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["secret"].as_str().unwrap().to_owned()
}

async fn user(app: &TestApp, tenant: Uuid, id: &str, email: &str, updated_at: i64) {
    let body = json!({
        "data": {"id": id, "first_name": id, "updated_at": updated_at,
                 "email_addresses": [{"id": format!("idn_{id}"), "email_address": email}],
                 "primary_email_address_id": format!("idn_{id}")},
        "object": "event", "type": "user.created", "timestamp": updated_at,
    });
    let event = ClerkEvent::decode(&serde_json::to_vec(&body).unwrap()).unwrap();
    app.store
        .apply_event(
            tenant,
            hookgate_store::Source {
                event_id: Uuid::new_v4(),
                svix_id: &format!("msg_{}", Uuid::new_v4().simple()),
            },
            &event,
            body["data"].clone(),
        )
        .await
        .unwrap();
}

async fn every_route_asks_for_its_class_credentials(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    app.tenant("acme").await;
    let key = key_for(&app, "acme").await;
    let fill = |path: &str| {
        path.replace("{tenant}", "acme")
            .replace("{slug}", "acme")
            .replace("{id}", "01a2251d-0000-7000-8000-000000000000")
    };
    for (method, template) in hookgate_http::ROUTES {
        let path = fill(template);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let class = hookgate_http::RouteClass::of(&path).unwrap();
        let (anonymous, _) = call(&app, method.clone(), &path, None, None).await;
        let (admin, _) = call(
            &app,
            method.clone(),
            &path,
            Some(ADMIN_TOKEN),
            Some(json!({})),
        )
        .await;
        let (tenant, _) = call(&app, method.clone(), &path, Some(&key), Some(json!({}))).await;
        match class {
            hookgate_http::RouteClass::Public => {
                assert_ne!(anonymous, StatusCode::UNAUTHORIZED, "{method} {path}");
            }
            hookgate_http::RouteClass::Admin => {
                assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(
                    tenant,
                    StatusCode::UNAUTHORIZED,
                    "a tenant key on {method} {path}"
                );
                assert!(
                    !matches!(
                        admin,
                        StatusCode::UNAUTHORIZED | StatusCode::METHOD_NOT_ALLOWED
                    ),
                    "{method} {path}: {admin}"
                );
            }
            hookgate_http::RouteClass::Tenant => {
                assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(
                    admin,
                    StatusCode::UNAUTHORIZED,
                    "the admin token on {method} {path}"
                );
                assert!(
                    !matches!(
                        tenant,
                        StatusCode::UNAUTHORIZED | StatusCode::METHOD_NOT_ALLOWED
                    ),
                    "{method} {path}: {tenant}"
                );
            }
        }
    }
    // Outside every class, nothing is served, whatever the credentials.
    for path in ["/", "/admin", "/admin/v2/tenants", "/v2/users", "/internal"] {
        let (status, body) = call(&app, Method::GET, path, Some(ADMIN_TOKEN), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
    // Malformed parameters and bodies get the JSON error format too.
    for (method, path, expected) in [
        (
            Method::GET,
            "/admin/v1/tenants/acme/events/not-a-uuid",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/admin/v1/tenants/acme/events?limit=x",
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            "/admin/v1/tenants/acme",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .body("{")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{method} {path}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
    }
    let lowercase = app
        .http
        .get(app.url("/admin/v1/tenants"))
        .header("authorization", format!("bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lowercase.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );
    let (status, body) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants",
        Some("hga_wrong"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
}

async fn tenant_keys_see_only_their_tenant_and_revocation_is_immediate(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    user(&app, acme.id, "user_acme", "a@acme.test", 10).await;
    user(&app, globex.id, "user_globex", "g@globex.test", 10).await;
    let acme_key = key_for(&app, "acme").await;
    let globex_key = key_for(&app, "globex").await;

    let (status, page) = call(&app, Method::GET, "/v1/users", Some(&acme_key), None).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["user_acme"]);
    assert_eq!(page["data"][0]["primary_email"], "a@acme.test");
    let (status, _) = call(
        &app,
        Method::GET,
        "/v1/users/user_globex",
        Some(&acme_key),
        None,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's user does not exist for this key"
    );
    let (status, found) = call(
        &app,
        Method::GET,
        "/v1/users/user_globex",
        Some(&globex_key),
        None,
    )
    .await;
    assert_eq!(
        (status, found["id"].as_str()),
        (StatusCode::OK, Some("user_globex"))
    );
    let (status, filtered) = call(
        &app,
        Method::GET,
        "/v1/users?email=g@globex.test",
        Some(&acme_key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(filtered["data"].as_array().unwrap().is_empty());

    // Revoked through the admin API: refused from the next request on.
    let (_, keys) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/acme/keys",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        !keys.to_string().contains(&acme_key),
        "listing never shows a key"
    );
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/v1/tenants/acme/keys/{id}"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&app, Method::GET, "/v1/users", Some(&acme_key), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&app, Method::GET, "/v1/users", Some(&globex_key), None).await;
    assert_eq!(status, StatusCode::OK, "other keys are untouched");
}

async fn pages_return_every_user_once_while_users_arrive(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    for n in 0..7 {
        user(
            &app,
            acme.id,
            &format!("user_{n:02}"),
            &format!("{n}@acme.test"),
            10,
        )
        .await;
    }
    let key = key_for(&app, "acme").await;
    // Meanwhile, users keep arriving concurrently, before and after any cursor.
    let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
    let inserter = {
        let store = app.store.clone();
        let tenant = acme.id;
        tokio::spawn(async move {
            let mut n = 0u32;
            while !*stop.borrow_and_update() {
                for prefix in ["user_0", "user_z"] {
                    let id = format!("{prefix}{n:04}");
                    let body = json!({"data": {"id": id, "updated_at": 30}, "object": "event", "type": "user.created", "timestamp": 30});
                    let event = ClerkEvent::decode(&serde_json::to_vec(&body).unwrap()).unwrap();
                    let _ = store
                        .apply_event(
                            tenant,
                            hookgate_store::Source {
                                event_id: Uuid::new_v4(),
                                svix_id: &format!("msg_{}", Uuid::new_v4().simple()),
                            },
                            &event,
                            body["data"].clone(),
                        )
                        .await;
                }
                n += 1;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut arrivals = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/users?limit=3&cursor={c}"),
            None => "/v1/users?limit=3".to_owned(),
        };
        let (status, page) = call(&app, Method::GET, &path, Some(&key), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        // New users arrive between pages, before and after the cursor.
        user(
            &app,
            acme.id,
            &format!("user_{arrivals:02}a"),
            "late@acme.test",
            20,
        )
        .await;
        arrivals += 1;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    stop_tx.send(true).unwrap();
    inserter.await.unwrap();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user twice: {seen:?}");
    for n in 0..7 {
        assert!(
            seen.contains(&format!("user_{n:02}")),
            "user_{n:02} missing from {seen:?}"
        );
    }
    let (status, _) = call(&app, Method::GET, "/v1/users?limit=0", Some(&key), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn operators_manage_tenants_and_keys_through_the_admin_api(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let (status, created) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants",
        Some(ADMIN_TOKEN),
        Some(json!({"slug": "initech", "name": "Initech"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["signing_secret"]
        .as_str()
        .expect("a generated secret is shown once");
    assert!(secret.starts_with("whsec_"));

    // The new tenant takes deliveries at once.
    let secret = hookgate_verify::Secret::parse(secret).unwrap();
    let status = app
        .deliver(
            "initech",
            &secret,
            "msg_1",
            &crate::helpers::user_created("u1"),
        )
        .await
        .status();
    assert_eq!(status, StatusCode::OK);

    let (status, again) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants",
        Some(ADMIN_TOKEN),
        Some(json!({"slug": "initech"})),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("tenant_exists"))
    );
    let (status, bad) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants",
        Some(ADMIN_TOKEN),
        Some(json!({"slug": "Not OK"})),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_slug"))
    );
    let (status, shown) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/initech",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, shown["name"].as_str()),
        (StatusCode::OK, Some("Initech"))
    );
    assert!(
        !shown.to_string().contains("whsec_"),
        "secrets are never shown again"
    );
    let (status, listed) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"][0]["slug"], "initech");
    let (status, _) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/nobody",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn rotation_keeps_the_old_secret_through_its_grace_only(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = crate::helpers::user_created("u1");
    let (status, rotated) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/secrets/rotate",
        Some(ADMIN_TOKEN),
        Some(json!({"grace_secs": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rotated}");
    let new = hookgate_verify::Secret::parse(rotated["signing_secret"].as_str().unwrap()).unwrap();

    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_old_1", &body)
            .await
            .status(),
        StatusCode::OK,
        "old secret in its grace"
    );
    assert_eq!(
        app.deliver("acme", &new, "msg_new_1", &body).await.status(),
        StatusCode::OK
    );
    let (_, secrets) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/acme/secrets",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(secrets["data"].as_array().unwrap().len(), 2);
    assert!(!secrets.to_string().contains("whsec_"), "metadata only");

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_old_2", &body)
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "old secret after its grace"
    );
    assert_eq!(
        app.deliver("acme", &new, "msg_new_2", &body).await.status(),
        StatusCode::OK
    );

    // Revoking the new secret too leaves nothing that verifies.
    let (_, secrets) = call(
        &app,
        Method::GET,
        "/admin/v1/tenants/acme/secrets",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    let active = secrets["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["active"] == true)
        .unwrap();
    let path = format!(
        "/admin/v1/tenants/acme/secrets/{}",
        active["id"].as_str().unwrap()
    );
    assert_eq!(
        call(&app, Method::DELETE, &path, Some(ADMIN_TOKEN), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.deliver("acme", &new, "msg_new_3", &body).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn rate_limits_answer_429_and_recover(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    let (status, _) = call(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        Some(json!({"rate_limit_per_sec": 2, "rate_limit_burst": 3})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body = crate::helpers::user_created("u1");

    let mut statuses = Vec::new();
    let mut retry_after = None;
    for n in 0..5 {
        let response = app
            .deliver("acme", &acme.secret, &format!("msg_{n}"), &body)
            .await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
        }
        statuses.push(response.status());
    }
    assert_eq!(&statuses[..3], [StatusCode::OK; 3], "the burst passes");
    assert!(
        statuses[3..].contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(
        app.deliver("globex", &globex.secret, "msg_g", &body)
            .await
            .status(),
        StatusCode::OK,
        "other tenants are not limited"
    );
    let forged = app
        .deliver("acme", &globex.secret, "msg_forged", &body)
        .await
        .status();
    assert_eq!(
        forged,
        StatusCode::UNAUTHORIZED,
        "a forged delivery is refused before the limit is consulted"
    );

    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_later", &body)
            .await
            .status(),
        StatusCode::OK,
        "recovers"
    );
}

async fn a_pinned_tenant_keeps_other_instances_events_dead(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let (status, view) = call(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        Some(json!({"instance_id": "ins_prod"})),
    )
    .await;
    assert_eq!(
        (status, view["instance_id"].as_str()),
        (StatusCode::OK, Some("ins_prod"))
    );

    // The test body comes from instance `ins_test`.
    let (status, answer) = {
        let response = app
            .deliver(
                "acme",
                &acme.secret,
                "msg_other",
                &crate::helpers::user_created("u1"),
            )
            .await;
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
    let stored = app.inbox(&acme, "msg_other").await.unwrap();
    assert_eq!(stored.status, hookgate_store::InboxStatus::Dead);
    let reason = stored.last_error.unwrap();
    assert!(
        reason.contains("ins_test") && reason.contains("ins_prod"),
        "{reason}"
    );

    // While pinned, replaying dead events leaves another instance's events dead.
    let (_, replayed) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/events/replay",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(replayed["replayed"].as_u64(), Some(0), "{replayed}");
    let (status, _) = call(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        Some(json!({"instance_id": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.deliver(
        "acme",
        &acme.secret,
        "msg_any",
        &crate::helpers::user_created("u2"),
    )
    .await;
    assert_eq!(
        app.inbox(&acme, "msg_any").await.unwrap().status,
        hookgate_store::InboxStatus::Pending
    );
}

async fn settings_apply_at_once_and_delete_needs_confirmation(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let body = crate::helpers::user_created("u1");
    let (status, view) = call(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        Some(json!({"max_body_bytes": 100, "name": "Acme Corp"})),
    )
    .await;
    assert_eq!(
        (status, view["name"].as_str()),
        (StatusCode::OK, Some("Acme Corp"))
    );
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_big", &body)
            .await
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (status, _) = call(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        Some(json!({"max_body_bytes": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_big", &body)
            .await
            .status(),
        StatusCode::OK
    );
    let (status, bad) = call(
        &app,
        Method::PATCH,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        Some(json!({"tolerance_secs": -1})),
    )
    .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_setting"))
    );

    let (status, _) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/disable",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_off", &body)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    call(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/enable",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;

    let (status, refused) = call(
        &app,
        Method::DELETE,
        "/admin/v1/tenants/acme",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("confirmation_required")
        )
    );
    let (status, _) = call(
        &app,
        Method::DELETE,
        "/admin/v1/tenants/acme?confirm=acme",
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.inbox_count(&acme).await, 0, "its events went with it");
    assert_eq!(
        app.deliver("acme", &acme.secret, "msg_gone", &body)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/admin/v1/tenants/acme",
            Some(ADMIN_TOKEN),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
}

async fn operators_page_inspect_and_replay_events(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    for n in 0..3 {
        app.deliver(
            "acme",
            &acme.secret,
            &format!("msg_{n}"),
            &crate::helpers::user_created(&format!("u{n}")),
        )
        .await;
    }
    app.deliver("acme", &acme.secret, "msg_junk", b"\xff not json")
        .await;
    let get = |path: String| {
        let app = &app;
        async move { call(app, Method::GET, &path, Some(ADMIN_TOKEN), None).await }
    };

    let (status, first) = get("/admin/v1/tenants/acme/events?limit=2".into()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = get(format!(
        "/admin/v1/tenants/acme/events?limit=2&cursor={cursor}"
    ))
    .await;
    assert!(second["next_cursor"].is_null());
    let mut ids: Vec<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|e| e["svix_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["msg_0", "msg_1", "msg_2", "msg_junk"]);
    let (_, users) = get("/admin/v1/tenants/acme/events?type=user.*".into()).await;
    assert_eq!(users["data"].as_array().unwrap().len(), 3);
    let (status, _) = get("/admin/v1/tenants/acme/events?status=lost".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, dead) = get("/admin/v1/tenants/acme/dead-letters".into()).await;
    let junk = &dead["data"][0];
    assert_eq!(junk["svix_id"], "msg_junk");
    assert!(
        junk["last_error"]
            .as_str()
            .unwrap()
            .contains("not a JSON Clerk event envelope")
    );
    let junk_id = junk["id"].as_str().unwrap().to_owned();
    let (_, detail) = get(format!("/admin/v1/tenants/acme/events/{junk_id}")).await;
    assert!(detail["body"].is_null(), "not UTF-8");
    assert_eq!(detail["body_base64"], "/yBub3QganNvbg==");
    let (_, utf8) = get(format!(
        "/admin/v1/tenants/acme/events/{}",
        first["data"][1]["id"].as_str().unwrap()
    ))
    .await;
    assert!(
        utf8["body"].as_str().unwrap().contains("user.created"),
        "{utf8}"
    );

    let (_, stats) = get("/admin/v1/tenants/acme/stats".into()).await;
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead"].as_u64()),
        (Some(3), Some(1)),
        "{stats}"
    );
    assert!(stats["oldest_waiting_age_secs"].as_i64().unwrap() >= 0);

    let (status, replayed) = call(
        &app,
        Method::POST,
        &format!("/admin/v1/tenants/acme/events/{junk_id}/replay"),
        Some(ADMIN_TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, replayed["replayed"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    let (_, stats) = get("/admin/v1/tenants/acme/stats".into()).await;
    assert_eq!(
        (stats["pending"].as_u64(), stats["dead"].as_u64()),
        (Some(4), Some(0)),
        "{stats}"
    );
    let (_, replayed) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/events/replay",
        Some(ADMIN_TOKEN),
        Some(json!({"status": "pending", "type": "user.*"})),
    )
    .await;
    assert_eq!(replayed["replayed"].as_u64(), Some(3));
}

/// The Clerk ids of the fixtures, by the path segment that names their kind.
fn fixture_id(template: &str) -> String {
    let id = if template.starts_with("/v1/users") {
        "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA"
    } else if template.starts_with("/v1/organizations") {
        "org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe"
    } else if template.starts_with("/v1/sessions") {
        "sess_2pQxX2wDh2MxJ5RPw1SbT6dEfYz"
    } else if template.starts_with("/v1/roles") {
        "role_2pQxU6lTx3BmY6FDl2GtH7tUxNp"
    } else if template.starts_with("/v1/permissions") {
        "perm_2pQxU7nVz4DpA7HFn3JvK8vWzQr"
    } else {
        "wle_2pQxU9sZd6HtE9MKs5NzP1zAdUv"
    };
    template.replace("{id}", id)
}

async fn no_tenant_route_shows_another_tenants_data(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let acme = app.tenant("acme").await;
    let globex = app.tenant("globex").await;
    // Globex has every kind of object (all fixtures but the deletes) and deliveries; acme has none.
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tests/fixtures");
    for event_type in hookgate_events::EventType::KNOWN {
        if event_type.is_delete() {
            continue;
        }
        let body = std::fs::read(fixtures.join(format!("{event_type}.json"))).unwrap();
        let event = ClerkEvent::decode(&body).unwrap();
        let data: Value = serde_json::from_slice::<Value>(&body).unwrap()["data"].clone();
        app.store
            .apply_event(
                globex.id,
                hookgate_store::Source {
                    event_id: Uuid::new_v4(),
                    svix_id: &format!("msg_{}", Uuid::new_v4().simple()),
                },
                &event,
                data,
            )
            .await
            .unwrap();
    }
    app.deliver(
        "globex",
        &globex.secret,
        "msg_g",
        &crate::helpers::user_created("u1"),
    )
    .await;
    let acme_key = key_for(&app, "acme").await;
    let globex_key = key_for(&app, "globex").await;

    for (method, template) in hookgate_http::ROUTES
        .iter()
        .filter(|(_, p)| p.starts_with("/v1/"))
    {
        assert_eq!(*method, "GET");
        let path = fixture_id(template);
        let (mine, theirs) = (
            call(&app, Method::GET, &path, Some(&acme_key), None).await,
            call(&app, Method::GET, &path, Some(&globex_key), None).await,
        );
        assert_eq!(
            theirs.0,
            StatusCode::OK,
            "globex reads its own {path}: {}",
            theirs.1
        );
        match mine.1.get("data").and_then(Value::as_array) {
            Some(rows) => {
                assert_eq!(mine.0, StatusCode::OK, "{path}");
                assert!(
                    rows.is_empty(),
                    "acme's key listed globex's rows at {path}: {rows:?}"
                );
                assert!(
                    !theirs.1["data"].as_array().unwrap().is_empty(),
                    "the walk must find globex's rows at {path}"
                );
            }
            None => assert_eq!(
                mine.0,
                StatusCode::NOT_FOUND,
                "acme's key read globex's {path}"
            ),
        }
    }
    let _ = acme;
}

async fn every_admin_route_refuses_an_invalid_slug_alike(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    let expected = hookgate_tenancy::TenantSlug::parse("Not OK")
        .unwrap_err()
        .to_string();
    for (method, template) in hookgate_http::ROUTES {
        if !template.contains("{slug}") {
            continue;
        }
        let path = template
            .replace("{slug}", "Not%20OK")
            .replace("{id}", "01a2251d-0000-7000-8000-000000000000");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, body) = call(&app, method.clone(), &path, Some(ADMIN_TOKEN), None).await;
        assert_eq!(
            (
                status,
                body["error"]["code"].as_str(),
                body["error"]["message"].as_str()
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid_slug"),
                Some(expected.as_str())
            ),
            "{method} {path}"
        );
    }
}

/// Routes whose JSON body may be left out: an empty body is the defaults, and a malformed one
/// is refused in the JSON error format like every other error.
async fn optional_bodies_are_refused_in_the_json_error_format(backend: Backend) {
    let Some((_db, app)) = app(backend).await else {
        return;
    };
    app.tenant("acme").await;
    let (status, created) = call(
        &app,
        Method::POST,
        "/admin/v1/tenants/acme/destinations",
        Some(ADMIN_TOKEN),
        Some(json!({"name": "d", "url": "http://127.0.0.1:9/", "event_types": ["*"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let destination = created["destination"]["id"].as_str().unwrap().to_owned();
    let routes = [
        "/admin/v1/tenants/acme/keys".to_owned(),
        "/admin/v1/tenants/acme/secrets/rotate".to_owned(),
        "/admin/v1/tenants/acme/events/replay".to_owned(),
        format!("/admin/v1/tenants/acme/destinations/{destination}/deliveries/replay"),
    ];
    for path in &routes {
        for (body, content_type) in [
            ("{not json", "application/json"),
            (
                r#"{"name": 5, "grace_secs": "x", "ids": 3, "status": []}"#,
                "application/json",
            ),
            ("name=x", "application/x-www-form-urlencoded"),
            ("[]", "application/json"),
            ("\n", "application/json"),
        ] {
            let response = app
                .http
                .post(app.url(path))
                .bearer_auth(ADMIN_TOKEN)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(status.is_client_error(), "{path} {body}: {status}");
            let answer: Value = response
                .json()
                .await
                .unwrap_or_else(|e| panic!("{path} {body}: not JSON: {e}"));
            assert!(
                answer["error"]["code"].is_string(),
                "{path} {body}: {answer}"
            );
            assert!(
                answer["error"]["message"].is_string(),
                "{path} {body}: {answer}"
            );
        }
        let empty = app
            .http
            .post(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert!(
            empty.status().is_success(),
            "{path} without a body: {}",
            empty.status()
        );
    }
    // Bodies whose fields are all optional: serde would read an array as one, field by field.
    for (method, path) in [
        (Method::PATCH, "/admin/v1/tenants/acme".to_owned()),
        (
            Method::PATCH,
            format!("/admin/v1/tenants/acme/destinations/{destination}"),
        ),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body("[null, null, null, null, null, null]")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}"
        );
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "invalid_body", "{method} {path}");
    }
}
