use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A signing secret: the key bytes behind a `whsec_<base64>` string.
///
/// It never prints its key: `Debug` shows `[redacted]` and there is no `Display`. The encoded form
/// is only available through [`Secret::expose_encoded`], a name meant to stand out in review. The
/// key is wiped from memory when the secret is dropped.
#[derive(Clone, PartialEq, Eq, zeroize::ZeroizeOnDrop)]
pub struct Secret {
    key: Box<[u8]>,
}

/// Why a string is not a usable signing secret. Never contains the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a signing secret must be `whsec_` followed by base64")]
    NotBase64,
    #[error("a signing secret must hold {min} to {max} bytes of key, this one holds {0}", min = Secret::MIN_LEN, max = Secret::MAX_LEN)]
    BadLength(usize),
}

impl Secret {
    /// The prefix Svix and Clerk put in front of the base64 key.
    pub const PREFIX: &'static str = "whsec_";
    /// Shortest key accepted: 128 bits.
    pub const MIN_LEN: usize = 16;
    /// Longest key accepted, as the Standard Webhooks specification recommends.
    pub const MAX_LEN: usize = 64;
    /// Length of the keys hookgate generates (Clerk and Svix use the same).
    pub const GENERATED_LEN: usize = 24;

    /// Parses `whsec_<base64>`; the bare base64 form is accepted too, as Svix's libraries do.
    pub fn parse(encoded: &str) -> Result<Self, SecretError> {
        let encoded = encoded.trim();
        let b64 = encoded.strip_prefix(Self::PREFIX).unwrap_or(encoded);
        let key = STANDARD.decode(b64).map_err(|_| SecretError::NotBase64)?;
        Self::from_bytes(key)
    }

    /// Wraps raw key bytes, checking their length (a refused key is wiped too).
    pub fn from_bytes(mut key: Vec<u8>) -> Result<Self, SecretError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&key.len()) {
            let len = key.len();
            zeroize::Zeroize::zeroize(&mut key);
            return Err(SecretError::BadLength(len));
        }
        // Copied, then wiped: turning the vector into a box could move it and leave the old
        // allocation as it was.
        let boxed: Box<[u8]> = key.as_slice().into();
        zeroize::Zeroize::zeroize(&mut key);
        Ok(Self { key: boxed })
    }

    /// The key bytes, for encryption at rest.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The `whsec_<base64>` form, for showing a freshly generated secret to its owner once.
    pub fn expose_encoded(&self) -> String {
        format!("{}{}", Self::PREFIX, STANDARD.encode(&self.key))
    }

    pub(crate) fn mac(&self) -> HmacSha256 {
        // The length is checked at construction and HMAC accepts keys of any length.
        match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prefixed_and_bare_forms() {
        let a = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.expose_bytes().len(), 24);
        assert_eq!(a.expose_encoded(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }

    #[test]
    fn rejects_bad_base64_and_lengths() {
        assert_eq!(
            Secret::parse("whsec_not base64!"),
            Err(SecretError::NotBase64)
        );
        assert_eq!(Secret::parse("whsec_"), Err(SecretError::BadLength(0)));
        assert_eq!(
            Secret::parse("whsec_c2hvcnQ="),
            Err(SecretError::BadLength(5))
        );
        assert_eq!(
            Secret::from_bytes(vec![7; 65]),
            Err(SecretError::BadLength(65))
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let shown = format!("{secret:?} {:?}", SecretError::NotBase64);
        assert!(!shown.contains("MfKQ9r8G"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }
}
