//! The operator's views of the inbox: event-type globs are decided by the database exactly as
//! `EventFilter::matches` decides them, case included, on both backends.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

mod common;

use hookgate_events::{EventFilter, EventType};
use hookgate_store::{EventQuery, NewInboxEvent};
use hookgate_testkit::{Backend, TestDb, on_both_backends};

on_both_backends!(type_globs_match_as_the_filter_does);

const TYPES: [&str; 10] = [
    "user.created",
    "user.updated",
    "userx.created",
    "organization.created",
    "organizationMembership.deleted",
    "session.end",
    "session.ended",
    "role_x.created",
    "rolexx.created",
    "café.created",
];

async fn type_globs_match_as_the_filter_does(backend: Backend) {
    let Some(db) = TestDb::create(backend).await else {
        return;
    };
    let store = common::store(&db).await;
    let tenant = common::tenant(&store).await;
    for (i, ty) in TYPES.iter().enumerate() {
        let event = NewInboxEvent {
            svix_id: format!("msg_{i}"),
            event_type: Some((*ty).to_owned()),
            instance_id: None,
            event_timestamp_ms: Some(1),
            body: b"{}".to_vec(),
            invalid: None,
            trace_parent: None,
        };
        store.insert_inbox_event(tenant, event).await.unwrap();
    }
    for glob in [
        "user.*",
        "User.*",
        "USER.CREATED",
        "*.created",
        "organization*.*",
        "session.???",
        "role_x.*",
        "rolexx.*",
        "caf?.created",
        "caf??.created",
        "*",
    ] {
        let filter = EventFilter::parse(glob).unwrap();
        let query = EventQuery {
            event_type: Some(filter.clone()),
            ..EventQuery::default()
        };
        let mut listed: Vec<String> = store
            .list_inbox_events(tenant, &query)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| e.event_type)
            .collect();
        listed.sort();
        let mut expected: Vec<String> = TYPES
            .iter()
            .filter(|ty| filter.matches(&EventType::parse(ty)))
            .map(|ty| (*ty).to_owned())
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "{glob}");
    }
}
