//! The synced Clerk objects: one table per kind, keyed by `(tenant_id, clerk_id)`.

pub mod organization;
pub mod organization_domain;
pub mod organization_invitation;
pub mod organization_membership;
pub mod permission;
pub mod role;
pub mod session;
pub mod user;
pub mod waitlist_entry;
