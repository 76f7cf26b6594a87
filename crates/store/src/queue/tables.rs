//! The queue tables: which column of each plays which part.

use super::{QueueTable, sealed::Sealed};
use crate::entities::{delivery, inbox_event, job, notification};

/// The inbox: verified deliveries waiting to be applied.
#[derive(Debug, Clone, Copy)]
pub struct Inbox;

/// The outbox: events waiting to be sent to a destination.
#[derive(Debug, Clone, Copy)]
pub struct Deliveries;

/// Backfill and reconcile jobs: long runs that renew their lease at every checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Jobs;

/// Operational notifications: hookgate's own events, sent to the tenant's and the global URL.
#[derive(Debug, Clone, Copy)]
pub struct Notifications;

impl Sealed for Notifications {}
impl Sealed for Inbox {}
impl Sealed for Deliveries {}
impl Sealed for Jobs {}

impl QueueTable for Inbox {
    type Entity = inbox_event::Entity;
    const ID: inbox_event::Column = inbox_event::Column::Id;
    const TENANT_ID: inbox_event::Column = inbox_event::Column::TenantId;
    const STATUS: inbox_event::Column = inbox_event::Column::Status;
    const ATTEMPTS: inbox_event::Column = inbox_event::Column::Attempts;
    const NEXT_ATTEMPT_AT: inbox_event::Column = inbox_event::Column::NextAttemptAt;
    const LEASE_OWNER: inbox_event::Column = inbox_event::Column::LeaseOwner;
    const LEASE_UNTIL: inbox_event::Column = inbox_event::Column::LeaseUntil;
    const LAST_ERROR: inbox_event::Column = inbox_event::Column::LastError;
    const ENQUEUED_AT: inbox_event::Column = inbox_event::Column::ReceivedAt;
    const FINISHED_AT: inbox_event::Column = inbox_event::Column::ProcessedAt;
    const DEAD_IS_FINISHED: bool = true;
}

impl QueueTable for Deliveries {
    type Entity = delivery::Entity;
    const ID: delivery::Column = delivery::Column::Id;
    const TENANT_ID: delivery::Column = delivery::Column::TenantId;
    const STATUS: delivery::Column = delivery::Column::Status;
    const ATTEMPTS: delivery::Column = delivery::Column::Attempts;
    const NEXT_ATTEMPT_AT: delivery::Column = delivery::Column::NextAttemptAt;
    const LEASE_OWNER: delivery::Column = delivery::Column::LeaseOwner;
    const LEASE_UNTIL: delivery::Column = delivery::Column::LeaseUntil;
    const LAST_ERROR: delivery::Column = delivery::Column::LastError;
    const ENQUEUED_AT: delivery::Column = delivery::Column::CreatedAt;
    const FINISHED_AT: delivery::Column = delivery::Column::DeliveredAt;
    const DEAD_IS_FINISHED: bool = false;
    // Disabled means nothing is sent: the delivery waits, its attempts untouched, until the
    // destination is enabled again. Paused (an open circuit between probes, a Retry-After) means
    // the same until the pause ends; rate-limited, until its next free send time.
    const CLAIMABLE_SQL: &'static str = "EXISTS (SELECT 1 FROM destinations d \
         WHERE d.id = deliveries.destination_id AND d.enabled \
           AND (d.paused_until IS NULL OR d.paused_until <= :now) \
           AND (d.next_send_at IS NULL OR d.next_send_at <= :now))";
}

impl QueueTable for Jobs {
    type Entity = job::Entity;
    const ID: job::Column = job::Column::Id;
    const TENANT_ID: job::Column = job::Column::TenantId;
    const STATUS: job::Column = job::Column::Status;
    const ATTEMPTS: job::Column = job::Column::Attempts;
    const NEXT_ATTEMPT_AT: job::Column = job::Column::NextAttemptAt;
    const LEASE_OWNER: job::Column = job::Column::LeaseOwner;
    const LEASE_UNTIL: job::Column = job::Column::LeaseUntil;
    const LAST_ERROR: job::Column = job::Column::LastError;
    const ENQUEUED_AT: job::Column = job::Column::CreatedAt;
    const FINISHED_AT: job::Column = job::Column::FinishedAt;
    // A job given up on is over: the tenant may start another.
    const DEAD_IS_FINISHED: bool = true;
}

impl QueueTable for Notifications {
    type Entity = notification::Entity;
    const ID: notification::Column = notification::Column::Id;
    const TENANT_ID: notification::Column = notification::Column::TenantId;
    const STATUS: notification::Column = notification::Column::Status;
    const ATTEMPTS: notification::Column = notification::Column::Attempts;
    const NEXT_ATTEMPT_AT: notification::Column = notification::Column::NextAttemptAt;
    const LEASE_OWNER: notification::Column = notification::Column::LeaseOwner;
    const LEASE_UNTIL: notification::Column = notification::Column::LeaseUntil;
    const LAST_ERROR: notification::Column = notification::Column::LastError;
    const ENQUEUED_AT: notification::Column = notification::Column::CreatedAt;
    const FINISHED_AT: notification::Column = notification::Column::DeliveredAt;
    const DEAD_IS_FINISHED: bool = false;
}
