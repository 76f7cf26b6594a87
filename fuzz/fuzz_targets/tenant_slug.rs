//! Tenant slugs from any path segment: only 1 to 63 of `a-z`, `0-9`, `-` are accepted, and an
//! accepted slug is exactly its input (no decoding, no `..`, no `/`).

#![no_main]

use hookgate_tenancy::TenantSlug;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(slug) = TenantSlug::parse(text) {
        assert_eq!(slug.as_str(), text);
        assert!((1..=TenantSlug::MAX_LEN).contains(&text.len()));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
        assert!(!text.contains('/') && !text.contains('.') && !text.contains('%'));
    }
});
