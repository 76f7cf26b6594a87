use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq as _;

use crate::headers::WebhookHeaders;
use crate::secret::{HmacSha256, Secret};
use crate::signature::{TAG_LEN, tag};

/// Default tolerance between the sender's timestamp and our clock, in both directions.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// When a secret is accepted, in unix seconds. Both ends are optional; `expires_at` is
/// exclusive, so a secret rotated out at T no longer verifies a delivery checked at T.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub not_before: Option<i64>,
    pub expires_at: Option<i64>,
}

impl Validity {
    pub const ALWAYS: Self = Self {
        not_before: None,
        expires_at: None,
    };

    /// Whether a secret with this validity verifies at `now` (unix seconds).
    pub fn contains(&self, now: i64) -> bool {
        self.not_before.is_none_or(|t| now >= t) && self.expires_at.is_none_or(|t| now < t)
    }
}

/// The secrets one tenant accepts: during a rotation both the new one and the old one (until
/// it expires) verify.
#[derive(Clone, Default)]
pub struct SecretSet {
    // The MAC is keyed once here, so each verification only clones its state.
    entries: Vec<(HmacSha256, Validity)>,
}

impl SecretSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, secret: &Secret, validity: Validity) {
        self.entries.push((secret.mac(), validity));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn active_at(&self, now: i64) -> impl Iterator<Item = &HmacSha256> {
        self.entries
            .iter()
            .filter(move |(_, validity)| validity.contains(now))
            .map(|(mac, _)| mac)
    }
}

impl fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSet")
            .field("secrets", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// A delivery that failed the check. Callers answer 401.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the delivery's timestamp is more than {tolerance} s in the past")]
    TimestampTooOld { tolerance: i64 },
    #[error("the delivery's timestamp is more than {tolerance} s in the future")]
    TimestampTooNew { tolerance: i64 },
    #[error("no signature matches an active signing secret")]
    NoMatchingSignature,
}

/// Verifies deliveries against one secret set with one tolerance.
#[derive(Debug, Clone)]
pub struct Verifier {
    secrets: SecretSet,
    tolerance_secs: i64,
}

impl Verifier {
    pub fn new(secrets: SecretSet, tolerance_secs: i64) -> Self {
        Self {
            secrets,
            tolerance_secs: tolerance_secs.max(0),
        }
    }

    pub fn tolerance_secs(&self) -> i64 {
        self.tolerance_secs
    }

    /// Checks the timestamp against `now` (unix seconds), then accepts the delivery when any
    /// `v1` signature equals the tag of any secret active at `now`. Tags are compared in
    /// constant time; entries that are not base64 of a 32-byte tag simply never match.
    pub fn verify(
        &self,
        headers: &WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let tolerance = self.tolerance_secs;
        let age = now.saturating_sub(headers.timestamp());
        if age > tolerance {
            return Err(VerifyError::TimestampTooOld { tolerance });
        }
        if age < -tolerance {
            return Err(VerifyError::TimestampTooNew { tolerance });
        }

        let mut sent = Vec::new();
        for encoded in headers.v1_signatures() {
            let mut decoded = [0u8; TAG_LEN + 3];
            if let Ok(TAG_LEN) = STANDARD.decode_slice(encoded, &mut decoded) {
                let mut tag = [0u8; TAG_LEN];
                tag.copy_from_slice(&decoded[..TAG_LEN]);
                sent.push(tag);
            }
        }
        if sent.is_empty() {
            return Err(VerifyError::NoMatchingSignature);
        }

        let mut matched = subtle::Choice::from(0);
        for mac in self.secrets.active_at(now) {
            let expected = tag(
                mac.clone(),
                headers.id().as_str(),
                headers.timestamp(),
                body,
            );
            for candidate in &sent {
                matched |= expected.ct_eq(candidate);
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(VerifyError::NoMatchingSignature)
        }
    }
}
