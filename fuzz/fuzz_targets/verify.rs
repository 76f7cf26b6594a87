//! Signature headers and verification: any header values and body, against a fixed secret.
//! Never panics; a delivery signed with the secret always verifies, and changing its body by one
//! byte never does.

#![no_main]

use hookgate_verify::{HeaderLookup, Secret, SecretSet, Validity, Verifier, WebhookHeaders, sign};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_732_890_000;

fuzz_target!(|data: &[u8]| {
    // Input: id \0 timestamp \0 signature \0 body (missing parts are absent headers).
    let mut parts = data.splitn(4, |&b| b == 0);
    let id = parts.next();
    let timestamp = parts.next();
    let signature = parts.next();
    let body = parts.next().unwrap_or_default();
    let secret = match Secret::parse("whsec_aG9va2dhdGUtZGVtby1kZXYtb25seSE=") {
        Ok(secret) => secret,
        Err(err) => panic!("the fixed secret parses: {err}"),
    };
    let mut secrets = SecretSet::new();
    secrets.push(&secret, Validity::ALWAYS);
    let verifier = Verifier::new(secrets, 300);

    let value = |name: &str| match name {
        "svix-id" => id,
        "svix-timestamp" => timestamp,
        "svix-signature" => signature,
        _ => None,
    };
    let lookup = |name: &'static str| match value(name) {
        Some(v) => HeaderLookup::Present(v),
        None => HeaderLookup::Absent,
    };
    if let Ok(headers) = WebhookHeaders::parse(lookup) {
        let _ = verifier.verify(&headers, body, NOW);

        // Signing what was parsed must verify, and a changed body must not.
        let signed = sign(&secret, headers.id().as_str(), headers.timestamp(), body);
        let ts = headers.timestamp().to_string();
        let lookup = |name: &'static str| match name {
            "svix-id" => HeaderLookup::Present(headers.id().as_str().as_bytes()),
            "svix-timestamp" => HeaderLookup::Present(ts.as_bytes()),
            "svix-signature" => HeaderLookup::Present(signed.as_bytes()),
            _ => HeaderLookup::Absent,
        };
        if let Ok(resigned) = WebhookHeaders::parse(lookup) {
            let now = headers.timestamp();
            assert!(
                verifier.verify(&resigned, body, now).is_ok(),
                "own signature refused"
            );
            let mut changed = body.to_vec();
            changed.push(b' ');
            assert!(
                verifier.verify(&resigned, &changed, now).is_err(),
                "changed body accepted"
            );
        }
    }
});
