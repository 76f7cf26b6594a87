//! A client for the list endpoints of Clerk's Backend API, for backfilling and reconciling the
//! sync tables: every user, organization, membership, invitation, domain, role, permission and
//! waitlist entry of an instance, page by page, oldest first.
//!
//! [`ClerkSecretKey`] never prints itself; a [`Cursor`] says where a listing stands (a job
//! stores it between pages) and each [`Page`] where it continues.

mod cursor;
mod key;
mod kind;

pub use cursor::{Cursor, MAX_PAGE_SIZE, Page};
pub use key::{ClerkSecretKey, SecretKeyError};
pub use kind::{ListKind, ListKindError};
