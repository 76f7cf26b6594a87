//! The Standard Webhooks specification's published vector, and the behaviours around it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on what they set up.

use hookgate_verify::{
    HeaderLookup, Secret, SecretSet, Validity, Verifier, VerifyError, WebhookHeaders, sign,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1_614_265_330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn headers<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> WebhookHeaders<'a> {
    WebhookHeaders::parse(move |name| match name {
        "webhook-id" => HeaderLookup::Present(id.as_bytes()),
        "webhook-timestamp" => HeaderLookup::Present(ts.as_bytes()),
        "webhook-signature" => HeaderLookup::Present(sig.as_bytes()),
        _ => HeaderLookup::Absent,
    })
    .unwrap()
}

fn verifier(secrets: &[(&str, Validity)]) -> Verifier {
    let mut set = SecretSet::new();
    for (secret, validity) in secrets {
        set.push(&Secret::parse(secret).unwrap(), *validity);
    }
    Verifier::new(set, 300)
}

#[test]
fn signs_the_published_vector() {
    let secret = Secret::parse(SECRET).unwrap();
    assert_eq!(sign(&secret, ID, TIMESTAMP, BODY), SIGNATURE);
}

#[test]
fn verifies_the_published_vector() {
    let ts = TIMESTAMP.to_string();
    let v = verifier(&[(SECRET, Validity::ALWAYS)]);
    assert_eq!(
        v.verify(&headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP),
        Ok(())
    );
}

#[test]
fn published_vector_fails_when_any_part_changes() {
    let v = verifier(&[(SECRET, Validity::ALWAYS)]);
    let ts = TIMESTAMP.to_string();
    let next_ts = (TIMESTAMP + 1).to_string();
    let fail = Err(VerifyError::NoMatchingSignature);
    assert_eq!(
        v.verify(
            &headers(ID, &ts, SIGNATURE),
            br#"{"test": 2432232315}"#,
            TIMESTAMP
        ),
        fail
    );
    assert_eq!(
        v.verify(&headers("msg_other", &ts, SIGNATURE), BODY, TIMESTAMP),
        fail
    );
    assert_eq!(
        v.verify(&headers(ID, &next_ts, SIGNATURE), BODY, TIMESTAMP),
        fail
    );
    let other = verifier(&[(
        "whsec_c2VjcmV0LW9mLWEtcm90YXRlZC1lbmRwb2ludA==",
        Validity::ALWAYS,
    )]);
    assert_eq!(
        other.verify(&headers(ID, &ts, SIGNATURE), BODY, TIMESTAMP),
        fail
    );
}

#[test]
fn any_v1_entry_may_match_and_other_versions_are_ignored() {
    let v = verifier(&[(SECRET, Validity::ALWAYS)]);
    let ts = TIMESTAMP.to_string();
    let rotating =
        format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {SIGNATURE} v1,bm90LWJhc2U2NA");
    assert_eq!(
        v.verify(&headers(ID, &ts, &rotating), BODY, TIMESTAMP),
        Ok(())
    );

    let other_version = SIGNATURE.replacen("v1,", "v2,", 1);
    assert_eq!(
        v.verify(&headers(ID, &ts, &other_version), BODY, TIMESTAMP),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn timestamp_tolerance_applies_in_both_directions() {
    let v = verifier(&[(SECRET, Validity::ALWAYS)]);
    let ts = TIMESTAMP.to_string();
    let h = headers(ID, &ts, SIGNATURE);
    assert_eq!(v.verify(&h, BODY, TIMESTAMP + 300), Ok(()));
    assert_eq!(v.verify(&h, BODY, TIMESTAMP - 300), Ok(()));
    assert_eq!(
        v.verify(&h, BODY, TIMESTAMP + 301),
        Err(VerifyError::TimestampTooOld { tolerance: 300 })
    );
    assert_eq!(
        v.verify(&h, BODY, TIMESTAMP - 301),
        Err(VerifyError::TimestampTooNew { tolerance: 300 })
    );
    let wide = Verifier::new(SecretSet::new(), 3600);
    assert_eq!(wide.tolerance_secs(), 3600);
}

#[test]
fn an_expired_secret_stops_verifying_and_a_future_one_is_not_yet_valid() {
    let ts = TIMESTAMP.to_string();
    let h = headers(ID, &ts, SIGNATURE);
    let expiring = Validity {
        not_before: None,
        expires_at: Some(TIMESTAMP + 10),
    };
    let v = verifier(&[(SECRET, expiring)]);
    assert_eq!(v.verify(&h, BODY, TIMESTAMP + 9), Ok(()));
    assert_eq!(
        v.verify(&h, BODY, TIMESTAMP + 10),
        Err(VerifyError::NoMatchingSignature)
    );

    let future = Validity {
        not_before: Some(TIMESTAMP + 1),
        expires_at: None,
    };
    let v = verifier(&[(SECRET, future)]);
    assert_eq!(
        v.verify(&h, BODY, TIMESTAMP),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn verifies_bodies_that_are_not_utf8() {
    let secret = Secret::parse(SECRET).unwrap();
    let body = [0xff, 0xfe, 0x00, 0x80];
    let sig = sign(&secret, ID, TIMESTAMP, &body);
    let ts = TIMESTAMP.to_string();
    let v = verifier(&[(SECRET, Validity::ALWAYS)]);
    assert_eq!(v.verify(&headers(ID, &ts, &sig), &body, TIMESTAMP), Ok(()));
}

#[test]
fn debug_output_never_carries_key_material() {
    let v = verifier(&[(SECRET, Validity::ALWAYS)]);
    let shown = format!("{v:?}");
    assert!(!shown.contains("MfKQ9r8G"), "{shown}");
    assert!(shown.contains("secrets: 1"), "{shown}");
}
