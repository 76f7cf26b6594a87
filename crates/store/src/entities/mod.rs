//! sea-orm entities, one per table.

pub mod api_key;
pub mod delivery;
pub mod destination;
pub mod event_attempt;
pub mod inbox_body;
pub mod inbox_event;
pub mod job;
pub mod notification;
pub mod notification_target;
pub mod process;
pub mod queue_status;
pub mod sync;
pub mod tenant;
pub mod tenant_clerk_key;
pub mod tenant_secret;
