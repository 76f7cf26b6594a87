//! Decoding never panics, whatever the JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use hookgate_events::{ClerkEvent, EventType};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::String),
        // Strings that look like the fields Clerk sends.
        prop_oneof![
            Just("user_1"),
            Just("org_1"),
            Just(""),
            Just("id with space")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((field_name(), inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Mostly names Clerk uses, so the typed decoders see plausible shapes with wrong contents.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "object",
            "deleted",
            "updated_at",
            "created_at",
            "email_addresses",
            "email_address",
            "primary_email_address_id",
            "organization",
            "public_user_data",
            "user_id",
            "organization_id",
            "permissions",
            "user",
            "payer",
            "items",
            "amount",
            "plan",
            "external_accounts",
            "google_id",
            "public_metadata",
            "verification",
            "linked_to",
            "status",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = ClerkEvent::decode(&body);
    }

    #[test]
    fn arbitrary_json_bodies_never_panic(body in json_value()) {
        let _ = ClerkEvent::decode(&serde_json::to_vec(&body).unwrap());
    }

    #[test]
    fn arbitrary_data_of_every_type_never_panics(
        data in json_value(),
        index in 0..EventType::KNOWN.len(),
        timestamp in prop_oneof![any::<i64>(), 0i64..200_000_000_000],
    ) {
        let event_type = EventType::KNOWN[index].as_str();
        let body = json!({"data": data, "object": "event", "type": event_type, "timestamp": timestamp});
        if let Ok(event) = ClerkEvent::decode(&serde_json::to_vec(&body).unwrap()) {
            // Whatever decodes also re-encodes to the same event; a field read as absent is
            // absent from the encoding, so the warnings about it are not repeated.
            let again = ClerkEvent::decode(&event.to_json().unwrap()).unwrap();
            let mut expected = event.clone();
            expected.warnings.clear();
            prop_assert_eq!(again, expected);
            let _ = (event.entity(), event.version(), event.primary_email());
        }
    }
}
