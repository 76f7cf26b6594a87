//! A client for the list endpoints of Clerk's Backend API, for backfilling and reconciling the
//! sync tables: every user, organization, membership, invitation, domain, role, permission and
//! waitlist entry of an instance, page by page, oldest first.
//!
//! [`ClerkClient::list`] reads one [`Page`] at a [`Cursor`] (a job stores the cursor between
//! pages). It keeps each secret key within Clerk's rate limit, retries what is worth retrying and
//! says why it stopped with a [`ClerkError`]; the objects come back as raw JSON for the caller to
//! decode. [`ClerkSecretKey`] never prints itself.

mod budget;
mod client;
mod cursor;
mod key;
mod kind;

pub use client::{ClerkClient, ClerkError, ClientSettings, RateLimit, RateLimits, SettingsError};
pub use cursor::{Cursor, MAX_PAGE_SIZE, Page};
pub use key::{ClerkSecretKey, SecretKeyError};
pub use kind::{ListKind, ListKindError};
