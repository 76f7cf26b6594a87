//! The inbox: verified deliveries stored as received (this module), applied by workers
//! (`apply`), and looked after by operators (`views`).

mod apply;
mod insert;
mod views;

pub use apply::{Outcome, Prepared};
pub use views::{EventQuery, InboxSummary, QueueStats};

use std::collections::HashMap;

use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use uuid::Uuid;

use crate::entities::{inbox_body, inbox_event};
use crate::{InboxEvent, Store, StoreError};

/// What a delivery of an event is sent with.
#[derive(Debug, sea_orm::FromQueryResult)]
pub(crate) struct EventToSend {
    pub id: Uuid,
    pub svix_id: String,
    pub event_type: Option<String>,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub trace_parent: Option<String>,
    pub body: Vec<u8>,
}

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored now, under this id.
    Accepted(Uuid),
    /// The tenant already had this svix id, with the same body, stored under this id; nothing
    /// was written.
    Duplicate(Uuid),
    /// The tenant already had this svix id with another body (hex SHA-256 of each): the first
    /// delivery stands and nothing was written. Svix never changes a message's body, so this is
    /// a sender reusing ids, or a body changed on the way.
    Conflict {
        id: Uuid,
        stored_sha256: String,
        received_sha256: String,
    },
    /// The tenant no longer exists (deleted after the delivery was routed): nothing was written.
    NoTenant,
}

impl Store {
    /// One event of a tenant, with its body.
    pub async fn find_inbox_event(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<InboxEvent>, StoreError> {
        let found = inbox_event::Entity::find_by_id(id)
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .one(&self.reader)
            .await?;
        self.with_body(found).await
    }

    /// The tenant's event with this svix id, with its body.
    pub async fn find_inbox_event_by_svix_id(
        &self,
        tenant_id: Uuid,
        svix_id: &str,
    ) -> Result<Option<InboxEvent>, StoreError> {
        let found = inbox_event::Entity::find()
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .filter(inbox_event::Column::SvixId.eq(svix_id))
            .one(&self.reader)
            .await?;
        self.with_body(found).await
    }

    async fn with_body(&self, event: Option<InboxEvent>) -> Result<Option<InboxEvent>, StoreError> {
        let mut events: Vec<InboxEvent> = event.into_iter().collect();
        self.fill_bodies(&mut events).await?;
        Ok(events.pop())
    }

    /// Reads the bodies of `events` (kept apart from their queue columns) into them.
    pub(crate) async fn fill_bodies(&self, events: &mut [InboxEvent]) -> Result<(), StoreError> {
        let mut bodies = self.bodies(events.iter().map(|e| e.id)).await?;
        for event in events {
            if let Some(body) = bodies.remove(&event.id) {
                event.body = body;
            }
        }
        Ok(())
    }

    /// What forwarding needs of these events, body included, in one read.
    pub(crate) async fn events_to_send(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, EventToSend>, StoreError> {
        use sea_orm::FromQueryResult as _;
        use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, JoinType, Query};
        let ids: Vec<Uuid> = ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let (e, b) = (Alias::new("e"), Alias::new("b"));
        let mut query = Query::select();
        for column in ["id", "svix_id", "event_type", "received_at", "trace_parent"] {
            query.column((e.clone(), Alias::new(column)));
        }
        query
            .column((b.clone(), Alias::new("body")))
            .from_as(Alias::new("inbox_events"), e.clone())
            .join_as(
                JoinType::InnerJoin,
                Alias::new("inbox_bodies"),
                b.clone(),
                Expr::col((b, Alias::new("id"))).equals((e.clone(), Alias::new("id"))),
            )
            .and_where(Expr::col((e, Alias::new("id"))).is_in(ids));
        let statement = self.reader.get_database_backend().build(&query);
        Ok(EventToSend::find_by_statement(statement)
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|event| (event.id, event))
            .collect())
    }

    /// The bodies of these events, by id.
    async fn bodies(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, Vec<u8>>, StoreError> {
        let ids: Vec<Uuid> = ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(inbox_body::Entity::find()
            .filter(inbox_body::Column::Id.is_in(ids))
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|row| (row.id, row.body))
            .collect())
    }

    pub async fn count_inbox_events(&self, tenant_id: Uuid) -> Result<u64, StoreError> {
        Ok(inbox_event::Entity::find()
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .count(&self.reader)
            .await?)
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
