//! Standard Webhooks (the scheme Svix signs Clerk's deliveries with): verification and signing.
//!
//! The signed content is `"{id}.{timestamp}.{body}"` over the **raw body bytes**, authenticated
//! with HMAC-SHA256 under the secret's key and sent base64-encoded as `v1,<signature>` entries.
//! Verification is split in two steps so that a caller can answer malformed requests (400)
//! differently from requests that fail the check (401):
//!
//! 1. [`WebhookHeaders::parse`] reads and validates the three headers ([`HeaderError`]);
//! 2. [`Verifier::verify`] checks the timestamp tolerance and the signatures ([`VerifyError`]).
//!
//! This crate does no I/O: the caller passes the current time.

mod headers;
mod secret;
mod signature;
mod svix_id;
mod verifier;

pub use headers::{HeaderError, HeaderLookup, WebhookHeaders};
pub use secret::{Secret, SecretError};
pub use signature::sign;
pub use svix_id::{SvixId, SvixIdError};
pub use verifier::{DEFAULT_TOLERANCE_SECS, SecretSet, Validity, Verifier, VerifyError};
