//! Drift tolerance: every fixture, with any one field that is not a key field given a value of
//! another JSON type, still decodes to the same object (kind, id, owners, version), and the field
//! is named in a warning wherever its type was not accepted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use hookgate_events::ClerkEvent;
use hookgate_testkit::drift::{drifts, fixtures, key_drifts};

#[test]
fn drift_outside_the_key_fields_never_fails_an_event() {
    let mut checked = 0;
    let mut warned = 0;
    for (name, body) in fixtures() {
        let original = ClerkEvent::decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            original.warnings.is_empty(),
            "{name}: {:?}",
            original.warnings
        );
        let entity = original.entity();
        for drift in drifts(&body) {
            let context = format!("{name}: {} = {}", drift.path, drift.replacement);
            let event = ClerkEvent::decode(&drift.body)
                .unwrap_or_else(|e| panic!("{context}: refused: {e}"));
            assert_eq!(event.event_type, original.event_type, "{context}");
            assert_eq!(event.entity(), entity, "{context}");
            assert_eq!(event.version(), original.version(), "{context}");
            assert_eq!(event.is_delete(), original.is_delete(), "{context}");
            for warning in &event.warnings {
                assert!(
                    drift.path.starts_with(&warning.path) || warning.path.starts_with(&drift.path),
                    "{context}: warning about another field: {warning:?}"
                );
            }
            checked += 1;
            warned += usize::from(!event.warnings.is_empty());
        }
    }
    // Most replacements are of a type the field does not take: they must say so.
    assert!(checked > 2000, "{checked} drifts checked");
    assert!(warned * 2 > checked, "{warned} of {checked} drifts warned");
}

#[test]
fn drift_of_a_key_field_fails_the_event_or_changes_nothing() {
    let mut refused = 0;
    let mut checked = 0;
    for (name, body) in fixtures() {
        let original = ClerkEvent::decode(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        for drift in key_drifts(&body) {
            let context = format!("{name}: {} = {}", drift.path, drift.replacement);
            checked += 1;
            let Ok(event) = ClerkEvent::decode(&drift.body) else {
                refused += 1;
                continue;
            };
            assert_eq!(event.entity(), original.entity(), "{context}");
            assert_eq!(event.version(), original.version(), "{context}");
            assert_eq!(event.is_delete(), original.is_delete(), "{context}");
        }
    }
    assert!(checked > 500, "{checked} key drifts checked");
    // Most of them are of a type the key does not take: they must fail, not be set aside.
    assert!(
        refused * 2 > checked,
        "{refused} of {checked} key drifts refused"
    );
}
