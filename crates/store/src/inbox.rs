use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, QuerySelect as _, TransactionTrait as _, TryInsertResult,
};
use uuid::Uuid;

use crate::entities::inbox_event::{self, InboxStatus};
use crate::{InboxEvent, Store, StoreError};

/// A verified delivery to store.
#[derive(Debug, Clone)]
pub struct NewInboxEvent {
    pub svix_id: String,
    /// `None` with `invalid` set when the body is not a Clerk envelope.
    pub event_type: Option<String>,
    pub instance_id: Option<String>,
    pub event_timestamp_ms: Option<i64>,
    pub body: Vec<u8>,
    /// Why the verified body cannot be processed; such an event is stored as dead.
    pub invalid: Option<String>,
    /// W3C `traceparent` of the ingest span, carried to the worker's apply span.
    pub trace_parent: Option<String>,
}

/// What storing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored now, under this id.
    Accepted(Uuid),
    /// The tenant already had this svix id, stored under this id; nothing was written.
    Duplicate(Uuid),
}

impl Store {
    /// Stores a delivery unless the tenant already has its svix id. The check is the database's
    /// unique index (`ON CONFLICT DO NOTHING`), so concurrent replicas store a delivery once.
    /// One delivery, one commit; ingest goes through [`crate::InboxWriter`], which commits many.
    pub async fn insert_inbox_event(
        &self,
        tenant_id: Uuid,
        event: NewInboxEvent,
    ) -> Result<InsertOutcome, StoreError> {
        insert_one(&self.writer, tenant_id, event).await
    }

    /// Stores several deliveries in one transaction: all are durable, or none is. The outcomes
    /// are in the order of `events`; a svix id repeated within the batch is a duplicate of its
    /// first occurrence.
    pub async fn insert_inbox_events(
        &self,
        events: Vec<(Uuid, NewInboxEvent)>,
    ) -> Result<Vec<InsertOutcome>, StoreError> {
        // Every writer inserts in one order (tenant, svix id), so two processes whose batches
        // share deliveries cannot deadlock on the unique index (PostgreSQL).
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by(|&a, &b| {
            let (ta, ea) = &events[a];
            let (tb, eb) = &events[b];
            (ta, &ea.svix_id).cmp(&(tb, &eb.svix_id))
        });
        let mut slots: Vec<Option<(Uuid, NewInboxEvent)>> = events.into_iter().map(Some).collect();
        let mut outcomes = vec![None; slots.len()];
        let txn = self.writer.begin().await?;
        for index in order {
            if let Some((tenant_id, event)) = slots[index].take() {
                outcomes[index] = Some(insert_one(&txn, tenant_id, event).await?);
            }
        }
        txn.commit().await?;
        Ok(outcomes.into_iter().flatten().collect())
    }

    pub async fn find_inbox_event(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<InboxEvent>, StoreError> {
        Ok(inbox_event::Entity::find_by_id(id)
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .one(&self.reader)
            .await?)
    }

    pub async fn find_inbox_event_by_svix_id(
        &self,
        tenant_id: Uuid,
        svix_id: &str,
    ) -> Result<Option<InboxEvent>, StoreError> {
        Ok(inbox_event::Entity::find()
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .filter(inbox_event::Column::SvixId.eq(svix_id))
            .one(&self.reader)
            .await?)
    }

    pub async fn count_inbox_events(&self, tenant_id: Uuid) -> Result<u64, StoreError> {
        Ok(inbox_event::Entity::find()
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .count(&self.reader)
            .await?)
    }
}

/// Inserts one delivery on `conn` (the writer, or a transaction on it).
async fn insert_one<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    event: NewInboxEvent,
) -> Result<InsertOutcome, StoreError> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    let (status, next_attempt_at) = match event.invalid {
        None => (InboxStatus::Pending, Some(now)),
        Some(_) => (InboxStatus::Dead, None),
    };
    let svix_id = event.svix_id;
    let res = inbox_event::Entity::insert(inbox_event::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        svix_id: Set(svix_id.clone()),
        // PostgreSQL refuses NUL in text; these come from a verified but arbitrary body.
        event_type: Set(event.event_type.as_deref().map(storable_text)),
        instance_id: Set(event.instance_id.as_deref().map(storable_text)),
        event_timestamp_ms: Set(event.event_timestamp_ms),
        received_at: Set(now),
        body: Set(event.body),
        status: Set(status),
        attempts: Set(0),
        next_attempt_at: Set(next_attempt_at),
        lease_owner: Set(None),
        lease_until: Set(None),
        processed_at: Set(event.invalid.is_some().then_some(now)),
        last_error: Set(event.invalid.as_deref().map(storable_text)),
        trace_parent: Set(event.trace_parent),
    })
    .on_conflict_do_nothing_on([inbox_event::Column::TenantId, inbox_event::Column::SvixId])
    .exec_without_returning(conn)
    .await?;
    match res {
        // Without RETURNING, a conflict shows as zero rows inserted.
        TryInsertResult::Inserted(rows) if rows > 0 => Ok(InsertOutcome::Accepted(id)),
        TryInsertResult::Inserted(_) | TryInsertResult::Conflicted | TryInsertResult::Empty => {
            // Read through the same connection: it is the one that just saw the row.
            let existing = inbox_event::Entity::find()
                .select_only()
                .column(inbox_event::Column::Id)
                .filter(inbox_event::Column::TenantId.eq(tenant_id))
                .filter(inbox_event::Column::SvixId.eq(svix_id))
                .into_tuple::<Uuid>()
                .one(conn)
                .await?
                .ok_or(StoreError::NotFound {
                    what: "the conflicting inbox event",
                })?;
            Ok(InsertOutcome::Duplicate(existing))
        }
    }
}

/// Longest error text kept in `last_error`.
const MAX_ERROR_LEN: usize = 2000;

/// Error text as every backend can store it: PostgreSQL refuses NUL in text, and a message that
/// quotes a hostile body should not grow without bound.
pub(crate) fn storable_text(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '\0')
        .take(MAX_ERROR_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_loses_nul_and_is_bounded() {
        assert_eq!(storable_text("a\0b"), "ab");
        assert_eq!(
            storable_text(&"é".repeat(5000)).chars().count(),
            MAX_ERROR_LEN
        );
    }
}
