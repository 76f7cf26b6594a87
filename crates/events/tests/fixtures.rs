//! One fixture per Clerk event type, written from Clerk's published schema: each decodes to its
//! typed variant with the right accessors, and decode → encode → decode is stable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use std::path::Path;

use hookgate_events::{ClerkEvent, EntityKind, EventData, EventType};
use serde_json::Value;

fn fixture(event_type: &str) -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{event_type}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn decode(event_type: &str) -> ClerkEvent {
    ClerkEvent::decode(&fixture(event_type)).unwrap_or_else(|e| panic!("{event_type}: {e}"))
}

fn variant_kind(data: &EventData) -> Option<EntityKind> {
    Some(match data {
        EventData::User(_) => EntityKind::User,
        EventData::Session(_) => EntityKind::Session,
        EventData::Organization(_) => EntityKind::Organization,
        EventData::OrganizationMembership(_) => EntityKind::OrganizationMembership,
        EventData::OrganizationInvitation(_) => EntityKind::OrganizationInvitation,
        EventData::OrganizationDomain(_) => EntityKind::OrganizationDomain,
        EventData::Role(_) => EntityKind::Role,
        EventData::Permission(_) => EntityKind::Permission,
        EventData::Email(_) => EntityKind::Email,
        EventData::Sms(_) => EntityKind::Sms,
        EventData::WaitlistEntry(_) => EntityKind::WaitlistEntry,
        EventData::Subscription(_) => EntityKind::Subscription,
        EventData::SubscriptionItem(_) => EntityKind::SubscriptionItem,
        EventData::PaymentAttempt(_) => EntityKind::PaymentAttempt,
        EventData::Deleted(_) | EventData::Unknown(_) => return None,
    })
}

#[test]
fn every_known_type_has_a_fixture_that_decodes_to_its_typed_variant() {
    for known in EventType::KNOWN {
        let name = known.as_str();
        let raw: Value = serde_json::from_slice(&fixture(name)).unwrap();
        let event = decode(name);
        let data = &raw["data"];

        assert_eq!(&event.event_type, known, "{name}");
        assert_eq!(
            event.timestamp_ms,
            raw["timestamp"].as_i64().unwrap(),
            "{name}"
        );
        let kind = known.kind().unwrap();
        match &event.data {
            EventData::Deleted(deleted) => {
                assert!(known.is_delete(), "{name}: only deletes may carry a stub");
                assert!(deleted.deleted, "{name}");
            }
            other => assert_eq!(variant_kind(other), Some(kind), "{name}"),
        }

        let entity = event.entity().unwrap();
        assert_eq!(entity.kind, kind, "{name}");
        assert_eq!(entity.id.as_str(), data["id"].as_str().unwrap(), "{name}");

        let expected_version = if known.is_delete() {
            raw["timestamp"].as_i64().unwrap()
        } else {
            data["updated_at"]
                .as_i64()
                .unwrap_or(raw["timestamp"].as_i64().unwrap())
        };
        assert_eq!(event.version(), expected_version, "{name}");
        assert_eq!(event.is_delete(), name.ends_with(".deleted"), "{name}");
    }
}

#[test]
fn decode_encode_decode_is_stable_for_every_fixture() {
    for known in EventType::KNOWN {
        let first = decode(known.as_str());
        let encoded = first.to_json().unwrap();
        let second = ClerkEvent::decode(&encoded).unwrap_or_else(|e| panic!("{known}: {e}"));
        assert_eq!(first, second, "{known}");
        assert_eq!(second.to_json().unwrap(), encoded, "{known}");
    }
}

#[test]
fn users_carry_every_identification_and_the_primary_email() {
    let event = decode("user.created");
    let EventData::User(user) = &event.data else {
        panic!("not a user")
    };
    assert_eq!(event.primary_email(), Some("jordan@acme-robotics.com"));
    assert_eq!(user.email_addresses.len(), 2);
    assert_eq!(user.phone_numbers.len(), 1);
    assert_eq!(user.web3_wallets.len(), 1);
    assert_eq!(user.passkeys.len(), 1);
    assert_eq!(user.saml_accounts.len(), 1);
    assert_eq!(user.enterprise_accounts.len(), 1);
    assert_eq!(user.external_id.as_deref(), Some("ext-4242"));
    assert!(!user.public_metadata.is_empty() && !user.private_metadata.is_empty());
    assert!(
        user.organization_memberships.is_empty(),
        "null reads as empty"
    );
    let github = &user.external_accounts[0];
    assert_eq!(github.provider.as_deref(), Some("oauth_github"));
    assert!(user.created_at.unwrap() <= user.updated_at.unwrap());
    assert_eq!(event.entity().unwrap().user_id, None);
}

#[test]
fn a_legacy_google_account_reads_as_a_standard_external_account() {
    let event = decode("user.updated");
    let EventData::User(user) = &event.data else {
        panic!("not a user")
    };
    let google = &user.external_accounts[0];
    assert_eq!(google.object.as_deref(), Some("google_account"));
    assert_eq!(google.provider.as_deref(), Some("oauth_google"));
    assert_eq!(
        google.provider_user_id.as_deref(),
        Some("104587392011648275613")
    );
    assert_eq!(google.first_name.as_deref(), Some("Jordan"));
    assert_eq!(google.last_name.as_deref(), Some("Reyes"));
    assert!(
        google
            .image_url
            .as_deref()
            .unwrap()
            .starts_with("https://lh3.googleusercontent.com/")
    );
}

#[test]
fn deletes_carry_a_stub_or_the_whole_object() {
    for stub in [
        "user.deleted",
        "organization.deleted",
        "organizationDomain.deleted",
        "permission.deleted",
    ] {
        let event = decode(stub);
        assert!(matches!(event.data, EventData::Deleted(_)), "{stub}");
        assert!(event.is_delete());
    }
    let EventData::Deleted(user) = decode("user.deleted").data else {
        unreachable!()
    };
    assert_eq!(user.external_id.as_deref(), Some("ext-4242"));

    let role = decode("role.deleted");
    let EventData::Role(full) = &role.data else {
        panic!("role.deleted carries the role")
    };
    assert!(!full.permissions.is_empty());
    assert_eq!(
        role.version(),
        role.timestamp_ms,
        "a delete is ordered by the envelope time"
    );

    let membership = decode("organizationMembership.deleted");
    assert!(matches!(
        membership.data,
        EventData::OrganizationMembership(_)
    ));
    assert!(membership.is_delete());
}

#[test]
fn owned_objects_name_their_organization_and_user() {
    let membership = decode("organizationMembership.created");
    let entity = membership.entity().unwrap();
    assert_eq!(
        entity.organization_id.unwrap().as_str(),
        "org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe"
    );
    assert_eq!(
        entity.user_id.unwrap().as_str(),
        "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA"
    );

    let accepted = decode("organizationInvitation.accepted");
    let accepted = accepted.entity().unwrap();
    assert_eq!(
        accepted.organization_id.unwrap().as_str(),
        "org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe"
    );
    assert_eq!(
        accepted.user_id.unwrap().as_str(),
        "user_2pQyT4vNc8XwE1rKs6MbHq9LgZu"
    );

    let domain = decode("organizationDomain.created");
    let domain = domain.entity().unwrap();
    assert_eq!(
        domain.organization_id.unwrap().as_str(),
        "org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe"
    );

    let session = decode("session.created");
    assert_eq!(
        session.entity().unwrap().user_id.unwrap().as_str(),
        "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA"
    );
    let EventData::Session(s) = &session.data else {
        panic!("not a session")
    };
    assert_eq!(
        s.user.as_ref().unwrap().id.as_str(),
        "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA"
    );
    let EventData::Session(removed) = decode("session.removed").data else {
        panic!("not a session")
    };
    assert!(removed.user.is_none());

    let payment = decode("paymentAttempt.updated");
    let payment = payment.entity().unwrap();
    assert_eq!(
        payment.user_id.unwrap().as_str(),
        "user_2pQxRb7mTz9KcW4nLhY3vJ8sFdA"
    );
    let org_payer = decode("subscription.pastDue");
    let org_payer = org_payer.entity().unwrap();
    assert_eq!(
        org_payer.organization_id.unwrap().as_str(),
        "org_2pQxV3nKb8YtR6wLm2HcJ9sDfQe"
    );
    assert_eq!(
        org_payer.user_id, None,
        "Clerk's empty user_id reads as none"
    );
    let user_payer = decode("subscriptionItem.pastDue");
    let user_payer = user_payer.entity().unwrap();
    assert_eq!(
        user_payer.organization_id, None,
        "Clerk's empty organization_id reads as none"
    );

    let email = decode("email.created");
    assert_eq!(
        email.version(),
        email.timestamp_ms,
        "no updated_at: ordered by the envelope time"
    );
}

#[test]
fn a_delete_without_an_id_decodes_but_names_no_entity() {
    let body = br#"{"data":{"object":"permission","deleted":true},"object":"event","type":"permission.deleted","timestamp":1732890000000}"#;
    let event = ClerkEvent::decode(body).unwrap();
    assert!(matches!(event.data, EventData::Deleted(_)));
    assert!(event.entity().is_none());
}

#[test]
fn an_empty_primary_email_is_no_primary_email() {
    let body = br#"{"data":{"id":"user_1","primary_email_address_id":"idn_1","email_addresses":[{"id":"idn_1","email_address":null}]},"object":"event","type":"user.created","timestamp":1732890000000}"#;
    assert_eq!(ClerkEvent::decode(body).unwrap().primary_email(), None);
}

#[test]
fn domain_verification_reads_both_spellings_of_its_expiry() {
    let EventData::OrganizationDomain(updated) = decode("organizationDomain.updated").data else {
        panic!()
    };
    assert!(updated.verification.unwrap().expire_at.is_some());
    let EventData::OrganizationDomain(created) = decode("organizationDomain.created").data else {
        panic!()
    };
    assert!(created.verification.unwrap().expires_at.is_some());
}

#[test]
fn an_unknown_type_is_kept_with_its_data() {
    let body = br#"{"data":{"id":"agt_1","object":"agent","nested":{"k":[1,2]}},"object":"event","type":"agent.created","timestamp":1732890000000}"#;
    let event = ClerkEvent::decode(body).unwrap();
    assert_eq!(event.event_type, EventType::Unknown("agent.created".into()));
    let EventData::Unknown(data) = &event.data else {
        panic!("not unknown")
    };
    assert_eq!(data["nested"]["k"][1], 2);
    assert!(event.entity().is_none());
    assert_eq!(
        ClerkEvent::decode(&event.to_json().unwrap()).unwrap(),
        event
    );
}

#[test]
fn a_bad_key_field_fails_the_event_naming_it() {
    let body = br#"{"data":{"id":"","first_name":"Ada"},"object":"event","type":"user.created","timestamp":1732890000000}"#;
    let err = ClerkEvent::decode(body).unwrap_err().to_string();
    assert!(err.contains("user.created"), "{err}");
    assert!(err.contains("`data.id`"), "{err}");

    let body = br#"{"data":{"id":"orgmem_1"},"object":"event","type":"organizationMembership.created","timestamp":1}"#;
    let err = ClerkEvent::decode(body).unwrap_err().to_string();
    assert!(err.contains("organization"), "{err}");

    // Owning ids, versions and delete flags are keys too.
    for (ty, data, field) in [
        (
            "session.created",
            r#"{"id":"sess_1","user_id":7}"#,
            "data.user_id",
        ),
        (
            "user.updated",
            r#"{"id":"user_1","updated_at":"yesterday"}"#,
            "data.updated_at",
        ),
        (
            "organizationMembership.created",
            r#"{"id":"orgmem_1","organization":{"id":"org_1"},"public_user_data":"x"}"#,
            "data.public_user_data",
        ),
        (
            "subscription.active",
            r#"{"id":"csub_1","payer":{"user_id":["user_1"]}}"#,
            "data.payer.user_id",
        ),
    ] {
        let body = format!(r#"{{"data":{data},"object":"event","type":"{ty}","timestamp":1}}"#);
        let err = ClerkEvent::decode(body.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(&format!("`{field}`")), "{ty}: {err}");
    }
}

#[test]
fn a_field_of_an_unexpected_type_is_read_as_absent_and_named() {
    let body = br#"{"data":{"id":"user_1","first_name":42,"email_addresses":[{"id":"idn_1","email_address":"a@b"},{"id":""}],"updated_at":5},"object":"event","type":"user.created","timestamp":1732890000000}"#;
    let event = ClerkEvent::decode(body).unwrap();
    let EventData::User(user) = &event.data else {
        panic!("not a user")
    };
    assert_eq!(user.first_name, None);
    assert_eq!(user.email_addresses.len(), 1, "the bad address is left out");
    assert_eq!(event.version(), 5);
    let mut paths: Vec<&str> = event.warnings.iter().map(|w| w.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        ["data.email_addresses[1].id", "data.first_name"],
        "{:?}",
        event.warnings
    );
    let fields: Vec<String> = event.warnings.iter().map(|w| w.field()).collect();
    assert!(fields.contains(&"data.email_addresses[].id".to_owned()));

    // Clerk Billing in beta: `interval` as a word instead of a number.
    let body = br#"{"data":{"id":"csub_1","status":"active","payer":{"user_id":"user_9"},"items":[{"id":"csubi_1","interval":"month"}]},"object":"event","type":"subscription.active","timestamp":1732890000000}"#;
    let event = ClerkEvent::decode(body).unwrap();
    let entity = event.entity().unwrap();
    assert_eq!(entity.id.as_str(), "csub_1");
    assert_eq!(entity.user_id.map(|u| u.as_str()), Some("user_9"));
    assert_eq!(event.warnings.len(), 1);
    assert_eq!(event.warnings[0].path, "data.items[0].interval");
    assert!(
        event.warnings[0].message.contains("expected i64"),
        "{:?}",
        event.warnings
    );
}

#[test]
fn timestamps_in_seconds_are_normalised() {
    let body = br#"{"data":{"id":"org_1","updated_at":null},"object":"event","type":"organization.updated","timestamp":1732890000}"#;
    let event = ClerkEvent::decode(body).unwrap();
    assert_eq!(event.timestamp_ms, 1_732_890_000_000);
    assert_eq!(event.version(), 1_732_890_000_000);
    // Re-encoding keeps any timestamp, even one so small it reads as seconds.
    let tiny =
        br#"{"data":{"id":"org_1"},"object":"event","type":"organization.updated","timestamp":5}"#;
    let event = ClerkEvent::decode(tiny).unwrap();
    assert_eq!(event.timestamp_ms, 5000);
    assert_eq!(
        ClerkEvent::decode(&event.to_json().unwrap()).unwrap(),
        event
    );
}

/// An object as the Backend API lists it reads as its webhook does: the same object, owners and
/// version (`updated_at`), never a delete.
#[test]
fn listed_objects_read_as_their_events_do() {
    for known in EventType::KNOWN {
        if known.is_delete() {
            continue;
        }
        let body = fixture(known.as_str());
        let event = ClerkEvent::decode(&body).unwrap();
        let envelope: Value = serde_json::from_slice(&body).unwrap();
        let data = serde_json::value::to_raw_value(&envelope["data"]).unwrap();
        let kind = known.kind().unwrap();
        let listed =
            ClerkEvent::from_listed(kind, &data).unwrap_or_else(|e| panic!("{known}: {e}"));
        assert_eq!(listed.entity(), event.entity(), "{known}");
        assert!(!listed.is_delete(), "{known}");
        let updated_at = envelope["data"]["updated_at"].as_i64();
        assert_eq!(listed.version(), updated_at.unwrap_or(0), "{known}");
        if updated_at.is_some() {
            assert_eq!(listed.version(), event.version(), "{known}");
        }
    }
}
