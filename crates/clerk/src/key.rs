use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A Clerk secret key (`sk_live_…` or `sk_test_…`), the Backend API's bearer credential.
///
/// It never prints itself: `Debug` shows the instance type and a fingerprint, there is no
/// `Display`, and the key is only reachable through [`ClerkSecretKey::expose`], a name meant to
/// stand out in review. The text is wiped from memory when the key is dropped.
#[derive(Clone, zeroize::ZeroizeOnDrop)]
pub struct ClerkSecretKey {
    text: Box<str>,
}

/// Why a string is not a Clerk secret key. Never contains the key, nor any part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretKeyError {
    #[error(
        "a Clerk secret key starts with `sk_live_` or `sk_test_` (the key from the Clerk dashboard's API keys page, not a publishable `pk_` key)"
    )]
    Prefix,
    #[error("a Clerk secret key is `sk_live_` or `sk_test_` followed by {min} to {max} letters and digits; this one has {0} after the prefix", min = ClerkSecretKey::MIN_BODY, max = ClerkSecretKey::MAX_BODY)]
    Length(usize),
    #[error(
        "a Clerk secret key is `sk_live_` or `sk_test_` followed by letters and digits only; character {0} after the prefix is something else"
    )]
    Character(usize),
}

impl ClerkSecretKey {
    /// The prefix of a production instance's keys.
    pub const LIVE_PREFIX: &'static str = "sk_live_";
    /// The prefix of a development instance's keys.
    pub const TEST_PREFIX: &'static str = "sk_test_";
    /// Fewest characters accepted after the prefix (Clerk's keys carry about 40).
    pub const MIN_BODY: usize = 20;
    /// Most characters accepted after the prefix.
    pub const MAX_BODY: usize = 200;

    /// Parses a key, ignoring whitespace around it (a key read from a file keeps its newline).
    pub fn parse(text: &str) -> Result<Self, SecretKeyError> {
        let text = text.trim();
        let body = text
            .strip_prefix(Self::LIVE_PREFIX)
            .or_else(|| text.strip_prefix(Self::TEST_PREFIX))
            .ok_or(SecretKeyError::Prefix)?;
        if let Some(position) = body.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(SecretKeyError::Character(position + 1));
        }
        if !(Self::MIN_BODY..=Self::MAX_BODY).contains(&body.len()) {
            return Err(SecretKeyError::Length(body.len()));
        }
        Ok(Self { text: text.into() })
    }

    /// The key itself, for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Whether the key belongs to a production instance (`sk_live_`); Clerk gives those a larger
    /// rate limit than development instances (`sk_test_`).
    pub fn is_production(&self) -> bool {
        self.text.starts_with(Self::LIVE_PREFIX)
    }

    /// The first 8 bytes of the key's SHA-256, in hex: names the key in logs and rate budgets
    /// without revealing it.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.text.as_bytes());
        digest[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl FromStr for ClerkSecretKey {
    type Err = SecretKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for ClerkSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = if self.is_production() {
            Self::LIVE_PREFIX
        } else {
            Self::TEST_PREFIX
        };
        write!(
            f,
            "ClerkSecretKey({prefix}[redacted], fingerprint {})",
            self.fingerprint()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "AbCdEfGh0123456789XyZ";

    #[test]
    fn parses_live_and_test_keys() {
        let live = ClerkSecretKey::parse(&format!("sk_live_{BODY}")).unwrap();
        assert!(live.is_production());
        assert_eq!(live.expose(), format!("sk_live_{BODY}"));
        let test = ClerkSecretKey::parse(&format!("  sk_test_{BODY}\n")).unwrap();
        assert!(!test.is_production());
        assert_eq!(test.expose(), format!("sk_test_{BODY}"));
    }

    #[test]
    fn refuses_other_shapes_without_echoing_them() {
        let cases = [
            (format!("pk_test_{BODY}"), SecretKeyError::Prefix),
            (format!("sk_prod_{BODY}"), SecretKeyError::Prefix),
            (BODY.to_owned(), SecretKeyError::Prefix),
            (String::new(), SecretKeyError::Prefix),
            ("sk_test_short1".to_owned(), SecretKeyError::Length(6)),
            (
                format!("sk_live_{}", "a".repeat(201)),
                SecretKeyError::Length(201),
            ),
            (format!("sk_test_{BODY}-x"), SecretKeyError::Character(22)),
            (format!("sk_test_ {BODY}"), SecretKeyError::Character(1)),
            (format!("sk_test_{BODY}é"), SecretKeyError::Character(22)),
        ];
        for (text, expected) in cases {
            let err = ClerkSecretKey::parse(&text).unwrap_err();
            assert_eq!(err, expected, "{text:?}");
            let message = err.to_string();
            assert!(message.contains("sk_live_") && message.contains("sk_test_"));
            assert!(!message.contains(BODY), "{message}");
        }
    }

    #[test]
    fn debug_shows_a_fingerprint_not_the_key() {
        let key = ClerkSecretKey::parse(&format!("sk_live_{BODY}")).unwrap();
        let debug = format!("{key:?}");
        assert!(!debug.contains(BODY), "{debug}");
        assert!(debug.contains("sk_live_[redacted]"), "{debug}");
        assert!(debug.contains(&key.fingerprint()), "{debug}");
    }

    #[test]
    fn fingerprint_is_short_stable_hex_of_the_whole_key() {
        let a = ClerkSecretKey::parse(&format!("sk_test_{BODY}")).unwrap();
        let b = ClerkSecretKey::parse(&format!("sk_live_{BODY}")).unwrap();
        assert_eq!(a.fingerprint().len(), 16);
        assert!(a.fingerprint().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        // SHA-256 of "sk_test_" + BODY, first 8 bytes.
        let digest = Sha256::digest(format!("sk_test_{BODY}").as_bytes());
        let expected: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(a.fingerprint(), expected);
    }
}
