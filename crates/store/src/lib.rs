//! hookgate's storage: one connection setup for SQLite and PostgreSQL, the tenant tables and the
//! inbox of verified deliveries.
//!
//! Every function that touches a tenant's data takes that tenant's id. Callers never see
//! `sea_orm`: they get the records and errors defined here.

mod api_keys;
mod clerk_keys;
mod connection;
mod deliveries;
mod destination_health;
mod destinations;
pub mod entities;
mod error;
mod group_commit;
mod inbox;
mod jobs;
mod notifications;
mod processes;
pub mod queue;
mod reads;
pub mod sync;
mod tenants;
mod wakeups;

pub use clerk_keys::ClerkKey;
pub use connection::{Backend, DatabaseOptions, PoolUsage, Store};
pub use deliveries::{
    Attempt, DeliveryBacklog, DeliveryJob, DeliveryOutcome, DeliveryQuery, Recorded,
};
pub use destination_health::{DestinationEvent, HealthChange, HealthPolicy};
pub use destinations::{DestinationPatch, NewDestination};
pub use entities::api_key::Model as ApiKey;
pub use entities::delivery::{DeliveryStatus, Model as Delivery};
pub use entities::destination::Model as Destination;
pub use entities::event_attempt::Model as EventAttempt;
pub use entities::inbox_event::{InboxStatus, Model as InboxEvent};
pub use entities::queue_status::{QueueStatus, UnknownStatus};
pub use entities::tenant::Model as Tenant;
pub use entities::tenant_secret::Model as TenantSecret;
pub use error::StoreError;
pub use group_commit::{GroupCommitOptions, InboxWriter, InboxWriterTask, SubmitError};
pub use inbox::{
    EventQuery, InboxSummary, InsertOutcome, NewInboxEvent, Outcome, Prepared, QueueStats,
};
pub use jobs::{
    Cancelled, Job, JobAlreadyOpen, JobEnd, JobProgress, JobState, JobType, KindProgress,
    ListedPage, PageCounts, Unlisted,
};
pub use notifications::{Notification, NotificationJob, NotificationTarget, TO_GLOBAL, TO_TENANT};
pub use processes::Process;
pub use queue::{Backlog, Finish, RetryPolicy};
pub use reads::{Page, SyncQuery, SyncTable, SyncedRow, SyncedUser, UserFilter};
pub use sync::{Applied, ApplyError, Source};
pub use tenants::{NewSecret, NewTenant, SealedKind, SealedRow, TenantPatch};
pub use uuid::Uuid;
pub use wakeups::{Wakeup, Wakeups};
