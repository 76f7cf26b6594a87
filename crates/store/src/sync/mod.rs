//! Applying a Clerk event to the sync tables: one guarded statement per event.
//!
//! The rules, enforced by the statement itself so concurrent workers cannot interleave a
//! read-modify-write:
//! - a live row takes an upsert only when the upsert is newer: a higher version, or the same
//!   version from a later event (event timestamp, then svix-id), so the row left never depends on
//!   arrival order; the same event again is a no-op, so replays and duplicates are idempotent;
//! - a delete writes a tombstone whatever the row held (also when there was no row); the tombstone
//!   keeps only what the delete carried, so the outcome does not depend on arrival order;
//! - nothing but a newer delete (by the same order) changes a tombstone: no late create or
//!   update revives it.

use chrono::{DateTime, Utc};
use hookgate_events::{ClerkEvent, EntityKind, EventData};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityName as _};
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::StoreError;

mod batch;
mod rows;

use crate::entities::sync::{
    organization, organization_domain, organization_invitation, organization_membership,
    permission, role, session, user, waitlist_entry,
};
pub(crate) use batch::{BatchEvent, apply_batch};
pub(crate) use rows::{Row, write_listed};

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The row was inserted or changed.
    Written,
    /// The row already held this or a newer version, or is a tombstone: nothing changed.
    Unchanged,
    /// The event's kind has no sync table (email, SMS, billing, unknown types).
    NoTable,
}

/// Why an event cannot be applied: retrying will not help.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("a delete without an id names nothing to delete")]
    NoEntity,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sea_orm::DbErr> for ApplyError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Store(err.into())
    }
}

impl crate::Store {
    /// Applies one event outside a batch, in its own statement: for tools and tests; workers
    /// apply through [`crate::Store::process_batch`].
    pub async fn apply_event(
        &self,
        tenant_id: Uuid,
        source: Source<'_>,
        event: &ClerkEvent,
        data: serde_json::Value,
    ) -> Result<Applied, ApplyError> {
        let data = serde_json::value::to_raw_value(&data)
            .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
        apply_event(&self.writer, tenant_id, source, event, &data).await
    }

    /// Applies many events of a tenant in one transaction, the way a worker's batch is applied
    /// (a few multi-row statements); returns what each did. For tools and tests.
    pub async fn apply_events(
        &self,
        tenant_id: Uuid,
        events: &[(Source<'_>, &ClerkEvent, &RawValue)],
    ) -> Result<Vec<Applied>, ApplyError> {
        use sea_orm::TransactionTrait as _;
        let batch: Vec<BatchEvent<'_>> = events
            .iter()
            .map(|(source, event, data)| BatchEvent {
                tenant_id,
                source: *source,
                event,
                data,
            })
            .collect();
        let txn = self.writer.begin().await.map_err(StoreError::from)?;
        let applied = apply_batch(&txn, &batch).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(applied)
    }
}

/// The bookkeeping every sync row carries.
struct Meta {
    tenant_id: Uuid,
    clerk_id: String,
    version: i64,
    tiebreak: String,
    deleted_at: Option<DateTime<Utc>>,
    last_event_id: Uuid,
    applied_at: DateTime<Utc>,
}

/// Which inbox event is applied: its id (kept on the row) and its svix-id (which, after the
/// event's timestamp, decides between two events of one object with the same version).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub event_id: Uuid,
    pub svix_id: &'a str,
}

/// Applies `event` (stored as inbox event `source`, whose raw `data` is `data`) for a tenant.
/// `data`, Clerk's object exactly as it arrived, is stored without building a JSON tree.
pub async fn apply_event(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    source: Source<'_>,
    event: &ClerkEvent,
    data: &RawValue,
) -> Result<Applied, ApplyError> {
    let Some(row) = sync_row(tenant_id, source, event)? else {
        return Ok(Applied::NoTable);
    };
    let written = row.write(db, event.is_delete(), data).await?;
    Ok(if written {
        Applied::Written
    } else {
        Applied::Unchanged
    })
}

/// The row `event` writes, with its typed columns and bookkeeping; `None` for kinds without a
/// table.
pub(crate) fn sync_row(
    tenant_id: Uuid,
    source: Source<'_>,
    event: &ClerkEvent,
) -> Result<Option<Row>, ApplyError> {
    let Some(kind) = event.event_type.kind().filter(|k| has_table(*k)) else {
        return Ok(None);
    };
    let entity = event.entity().ok_or(ApplyError::NoEntity)?;
    let deletes = event.is_delete();
    let m = Meta {
        tenant_id,
        clerk_id: entity.id.to_string(),
        version: event.version(),
        // Zero-padded, so the text orders as the numbers do.
        tiebreak: format!("{:020}.{}", Ord::max(event.timestamp_ms, 0), source.svix_id),
        deleted_at: deletes
            .then(|| DateTime::from_timestamp_millis(event.timestamp_ms).unwrap_or_else(Utc::now)),
        last_event_id: source.event_id,
        applied_at: Utc::now(),
    };
    let row = match (&event.data, kind) {
        (EventData::User(x), _) => Row::User(user::ActiveModel {
            primary_email: Set(x.primary_email_address().map(str::to_owned)),
            first_name: Set(x.first_name.clone()),
            last_name: Set(x.last_name.clone()),
            username: Set(x.username.clone()),
            image_url: Set(x.image_url.clone()),
            external_id: Set(x.external_id.clone()),
            banned: Set(Some(x.banned)),
            locked: Set(Some(x.locked)),
            last_sign_in_at: Set(x.last_sign_in_at),
            last_active_at: Set(x.last_active_at),
            created_at: Set(x.created_at),
            updated_at: Set(x.updated_at),
            ..meta!(user, m)
        }),
        (EventData::Organization(x), _) => Row::Organization(organization::ActiveModel {
            name: Set(x.name.clone()),
            slug: Set(x.slug.clone()),
            image_url: Set(x.image_url.clone()),
            members_count: Set(x.members_count),
            created_by: Set(x.created_by.clone()),
            created_at: Set(x.created_at),
            updated_at: Set(x.updated_at),
            ..meta!(organization, m)
        }),
        (EventData::OrganizationMembership(x), _) => {
            Row::OrganizationMembership(organization_membership::ActiveModel {
                organization_id: Set(Some(x.organization.id.to_string())),
                user_id: Set(x.public_user_data.as_ref().map(|u| u.user_id.to_string())),
                role: Set(x.role.clone()),
                created_at: Set(x.created_at),
                updated_at: Set(x.updated_at),
                ..meta!(organization_membership, m)
            })
        }
        (EventData::OrganizationInvitation(x), _) => {
            Row::OrganizationInvitation(organization_invitation::ActiveModel {
                organization_id: Set(entity.organization_id.map(ToString::to_string)),
                email_address: Set(x.email_address.clone()),
                role: Set(x.role.clone()),
                status: Set(x.status.clone()),
                user_id: Set(x.user_id.as_ref().map(ToString::to_string)),
                expires_at: Set(x.expires_at),
                created_at: Set(x.created_at),
                updated_at: Set(x.updated_at),
                ..meta!(organization_invitation, m)
            })
        }
        (EventData::OrganizationDomain(x), _) => {
            Row::OrganizationDomain(organization_domain::ActiveModel {
                organization_id: Set(x.organization_id.as_ref().map(ToString::to_string)),
                name: Set(x.name.clone()),
                enrollment_mode: Set(x.enrollment_mode.clone()),
                verification_status: Set(x.verification.as_ref().and_then(|v| v.status.clone())),
                created_at: Set(x.created_at),
                updated_at: Set(x.updated_at),
                ..meta!(organization_domain, m)
            })
        }
        (EventData::Session(x), _) => Row::Session(session::ActiveModel {
            user_id: Set(x.user_id.as_ref().map(ToString::to_string)),
            client_id: Set(x.client_id.clone()),
            status: Set(x.status.clone()),
            last_active_at: Set(x.last_active_at),
            expire_at: Set(x.expire_at),
            abandon_at: Set(x.abandon_at),
            created_at: Set(x.created_at),
            updated_at: Set(x.updated_at),
            ..meta!(session, m)
        }),
        (EventData::Role(x), _) => Row::Role(role::ActiveModel {
            key: Set(x.key.clone()),
            name: Set(x.name.clone()),
            description: Set(x.description.clone()),
            created_at: Set(x.created_at),
            updated_at: Set(x.updated_at),
            ..meta!(role, m)
        }),
        (EventData::Permission(x), _) => Row::Permission(permission::ActiveModel {
            key: Set(x.key.clone()),
            name: Set(x.name.clone()),
            description: Set(x.description.clone()),
            created_at: Set(x.created_at),
            updated_at: Set(x.updated_at),
            ..meta!(permission, m)
        }),
        (EventData::WaitlistEntry(x), _) => Row::WaitlistEntry(waitlist_entry::ActiveModel {
            email_address: Set(x.email_address.clone()),
            status: Set(x.status.clone()),
            created_at: Set(x.created_at),
            updated_at: Set(x.updated_at),
            ..meta!(waitlist_entry, m)
        }),
        (EventData::Deleted(_), kind) => match tombstone(kind, &m) {
            Some(row) => row,
            None => return Ok(None),
        },
        // Kinds without a table were answered above.
        _ => return Ok(None),
    };
    Ok(Some(row))
}

fn has_table(kind: EntityKind) -> bool {
    !matches!(
        kind,
        EntityKind::Email
            | EntityKind::Sms
            | EntityKind::Subscription
            | EntityKind::SubscriptionItem
            | EntityKind::PaymentAttempt
    )
}

/// The bookkeeping columns of a sync row's active model; typed columns default to NULL.
macro_rules! meta {
    ($module:ident, $m:expr) => {{
        let m = &$m;
        $module::ActiveModel {
            tenant_id: Set(m.tenant_id),
            clerk_id: Set(m.clerk_id.clone()),
            version: Set(m.version),
            tiebreak: Set(m.tiebreak.clone()),
            deleted_at: Set(m.deleted_at),
            last_event_id: Set(m.last_event_id),
            applied_at: Set(m.applied_at),
            ..sea_orm::ActiveModelTrait::default()
        }
    }};
}
use meta;

/// A delete that carried only the id: a tombstone whose typed columns are empty.
fn tombstone(kind: EntityKind, m: &Meta) -> Option<Row> {
    Some(match kind {
        EntityKind::User => Row::User(meta!(user, m)),
        EntityKind::Organization => Row::Organization(meta!(organization, m)),
        EntityKind::OrganizationMembership => {
            Row::OrganizationMembership(meta!(organization_membership, m))
        }
        EntityKind::OrganizationInvitation => {
            Row::OrganizationInvitation(meta!(organization_invitation, m))
        }
        EntityKind::OrganizationDomain => Row::OrganizationDomain(meta!(organization_domain, m)),
        EntityKind::Session => Row::Session(meta!(session, m)),
        EntityKind::Role => Row::Role(meta!(role, m)),
        EntityKind::Permission => Row::Permission(meta!(permission, m)),
        EntityKind::WaitlistEntry => Row::WaitlistEntry(meta!(waitlist_entry, m)),
        _ => return None,
    })
}

/// The sync table that holds objects of `kind`; `None` for kinds hookgate does not sync.
pub(crate) fn table_of(kind: EntityKind) -> Option<&'static str> {
    Some(match kind {
        EntityKind::User => user::Entity.table_name(),
        EntityKind::Session => session::Entity.table_name(),
        EntityKind::Organization => organization::Entity.table_name(),
        EntityKind::OrganizationMembership => organization_membership::Entity.table_name(),
        EntityKind::OrganizationInvitation => organization_invitation::Entity.table_name(),
        EntityKind::OrganizationDomain => organization_domain::Entity.table_name(),
        EntityKind::Role => role::Entity.table_name(),
        EntityKind::Permission => permission::Entity.table_name(),
        EntityKind::WaitlistEntry => waitlist_entry::Entity.table_name(),
        _ => return None,
    })
}
