//! The inbox: verified deliveries stored as received (this module), applied by workers
//! (`apply`), and looked after by operators (`views`).

mod apply;
mod views;

pub use apply::{Outcome, Prepared};
pub use views::{EventQuery, InboxSummary, QueueStats};

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, QuerySelect as _, TryInsertResult,
};
use std::collections::HashSet;

use sea_orm::ActiveEnum as _;
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
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Every writer inserts in one order (tenant, svix id), so two processes whose batches
        // share deliveries cannot deadlock on the unique index (PostgreSQL).
        let mut order: Vec<usize> = (0..events.len()).collect();
        order.sort_by(|&a, &b| {
            let (ta, ea) = &events[a];
            let (tb, eb) = &events[b];
            (ta, &ea.svix_id).cmp(&(tb, &eb.svix_id))
        });
        let now = Utc::now();
        let mut keys: Vec<(Uuid, Uuid, String)> = vec![Default::default(); events.len()];
        let mut slots: Vec<Option<(Uuid, NewInboxEvent)>> = events.into_iter().map(Some).collect();
        let mut rows = Vec::with_capacity(slots.len());
        for index in order {
            if let Some((tenant_id, event)) = slots[index].take() {
                let id = Uuid::now_v7();
                keys[index] = (id, tenant_id, event.svix_id.clone());
                rows.push(Row::new(id, tenant_id, event, now));
            }
        }
        let inserted = match self.backend() {
            crate::Backend::Sqlite => self.insert_rows_sqlite(rows).await?,
            crate::Backend::Postgres => self.insert_rows_postgres(rows).await?,
        };
        let mut outcomes = Vec::with_capacity(keys.len());
        for (id, tenant_id, svix_id) in keys {
            if inserted.contains(&id) {
                outcomes.push(InsertOutcome::Accepted(id));
            } else {
                // The writer has committed: the conflicting row is visible to it.
                outcomes.push(InsertOutcome::Duplicate(
                    existing_id(&self.writer, tenant_id, &svix_id).await?,
                ));
            }
        }
        Ok(outcomes)
    }

    /// PostgreSQL: one statement for the whole batch, the rows passed as arrays (`UNNEST`), so
    /// its SQL is the same for every batch size and the server plans it once per connection; the
    /// ids it returns are the rows it inserted. (A multi-row `VALUES` list differs with every
    /// batch size and took 35 ms for 27 rows here.)
    async fn insert_rows_postgres(&self, rows: Vec<Row>) -> Result<HashSet<Uuid>, StoreError> {
        use sea_orm::sqlx;
        const INSERT: &str = "INSERT INTO inbox_events (id, tenant_id, svix_id, event_type, \
             instance_id, event_timestamp_ms, received_at, body, status, attempts, \
             next_attempt_at, lease_owner, lease_until, last_error, processed_at, trace_parent) \
             SELECT id, tenant_id, svix_id, event_type, instance_id, event_timestamp_ms, \
               received_at, body, status, 0, next_attempt_at, NULL, NULL, last_error, \
               processed_at, trace_parent \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], \
               $6::int8[], $7::timestamptz[], $8::bytea[], $9::text[], $10::timestamptz[], \
               $11::text[], $12::timestamptz[], $13::text[]) WITH ORDINALITY \
             AS t(id, tenant_id, svix_id, event_type, instance_id, event_timestamp_ms, \
               received_at, body, status, next_attempt_at, last_error, processed_at, \
               trace_parent, ord) \
             ORDER BY ord \
             ON CONFLICT (tenant_id, svix_id) DO NOTHING RETURNING id";
        let n = rows.len();
        let mut ids = Vec::with_capacity(n);
        let mut tenants = Vec::with_capacity(n);
        let mut svix_ids = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut instances = Vec::with_capacity(n);
        let mut timestamps = Vec::with_capacity(n);
        let mut received = Vec::with_capacity(n);
        let mut bodies = Vec::with_capacity(n);
        let mut statuses = Vec::with_capacity(n);
        let mut next_attempts = Vec::with_capacity(n);
        let mut errors = Vec::with_capacity(n);
        let mut processed = Vec::with_capacity(n);
        let mut traces = Vec::with_capacity(n);
        for row in rows {
            ids.push(row.id);
            tenants.push(row.tenant_id);
            svix_ids.push(row.svix_id);
            types.push(row.event_type);
            instances.push(row.instance_id);
            timestamps.push(row.event_timestamp_ms);
            received.push(row.received_at);
            bodies.push(row.body);
            statuses.push(row.status.to_value());
            next_attempts.push(row.next_attempt_at);
            errors.push(row.last_error);
            processed.push(row.processed_at);
            traces.push(row.trace_parent);
        }
        let pool = self.writer.get_postgres_connection_pool();
        let mut txn = pool.begin().await.map_err(sqlx_error)?;
        let inserted: Vec<Uuid> = sqlx::query_scalar(INSERT)
            .bind(ids)
            .bind(tenants)
            .bind(svix_ids)
            .bind(types)
            .bind(instances)
            .bind(timestamps)
            .bind(received)
            .bind(bodies)
            .bind(statuses)
            .bind(next_attempts)
            .bind(errors)
            .bind(processed)
            .bind(traces)
            .fetch_all(&mut *txn)
            .await
            .map_err(sqlx_error)?;
        txn.commit().await.map_err(sqlx_error)?;
        Ok(inserted.into_iter().collect())
    }

    /// SQLite: multi-row statements of fixed sizes (64, 16, 4 and 1 rows), so SQLite compiles
    /// each of the four once per connection and a batch of n rows takes a handful of statements
    /// instead of n. (A statement sized to each batch would be compiled again for nearly every
    /// batch: measured twice as slow as one row at a time.) `RETURNING id` names the rows
    /// inserted; the others were duplicates.
    async fn insert_rows_sqlite(&self, rows: Vec<Row>) -> Result<HashSet<Uuid>, StoreError> {
        use sea_orm::sqlx;
        let pool = self.writer.get_sqlite_connection_pool();
        let mut txn = pool.begin().await.map_err(sqlx_error)?;
        let mut inserted = HashSet::with_capacity(rows.len());
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let left = rows.len();
            let size = SQLITE_CHUNKS
                .iter()
                .copied()
                .find(|&n| n <= left)
                .unwrap_or(1);
            let mut query = sqlx::query_scalar::<_, Uuid>(sqlite_insert(size));
            for row in rows.by_ref().take(size) {
                query = query
                    .bind(row.id)
                    .bind(row.tenant_id)
                    .bind(row.svix_id)
                    .bind(row.event_type)
                    .bind(row.instance_id)
                    .bind(row.event_timestamp_ms)
                    .bind(row.received_at)
                    .bind(row.body)
                    .bind(row.status.to_value())
                    .bind(row.next_attempt_at)
                    .bind(row.last_error)
                    .bind(row.processed_at)
                    .bind(row.trace_parent);
            }
            let ids = query.fetch_all(&mut *txn).await.map_err(sqlx_error)?;
            inserted.extend(ids);
        }
        txn.commit().await.map_err(sqlx_error)?;
        Ok(inserted)
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
    let svix_id = event.svix_id.clone();
    let row = Row::new(id, tenant_id, event, Utc::now()).into_model();
    let res = inbox_event::Entity::insert(row)
        .on_conflict_do_nothing_on([inbox_event::Column::TenantId, inbox_event::Column::SvixId])
        .exec_without_returning(conn)
        .await?;
    match res {
        // Without RETURNING, a conflict shows as zero rows inserted.
        TryInsertResult::Inserted(rows) if rows > 0 => Ok(InsertOutcome::Accepted(id)),
        TryInsertResult::Inserted(_) | TryInsertResult::Conflicted | TryInsertResult::Empty => Ok(
            InsertOutcome::Duplicate(existing_id(conn, tenant_id, &svix_id).await?),
        ),
    }
}

/// A new delivery's row.
struct Row {
    id: Uuid,
    tenant_id: Uuid,
    svix_id: String,
    event_type: Option<String>,
    instance_id: Option<String>,
    event_timestamp_ms: Option<i64>,
    received_at: chrono::DateTime<Utc>,
    body: Vec<u8>,
    status: InboxStatus,
    next_attempt_at: Option<chrono::DateTime<Utc>>,
    last_error: Option<String>,
    processed_at: Option<chrono::DateTime<Utc>>,
    trace_parent: Option<String>,
}

impl Row {
    fn new(id: Uuid, tenant_id: Uuid, event: NewInboxEvent, now: chrono::DateTime<Utc>) -> Self {
        // A body that is not a Clerk event is stored dead, with the reason.
        let (status, next_attempt_at) = match event.invalid {
            None => (InboxStatus::Pending, Some(now)),
            Some(_) => (InboxStatus::Dead, None),
        };
        Self {
            id,
            tenant_id,
            svix_id: event.svix_id,
            // PostgreSQL refuses NUL in text; these come from a verified but arbitrary body.
            event_type: event.event_type.as_deref().map(storable_text),
            instance_id: event.instance_id.as_deref().map(storable_text),
            event_timestamp_ms: event.event_timestamp_ms,
            received_at: now,
            body: event.body,
            status,
            next_attempt_at,
            processed_at: event.invalid.is_some().then_some(now),
            last_error: event.invalid.as_deref().map(storable_text),
            trace_parent: event.trace_parent,
        }
    }

    fn into_model(self) -> inbox_event::ActiveModel {
        inbox_event::ActiveModel {
            id: Set(self.id),
            tenant_id: Set(self.tenant_id),
            svix_id: Set(self.svix_id),
            event_type: Set(self.event_type),
            instance_id: Set(self.instance_id),
            event_timestamp_ms: Set(self.event_timestamp_ms),
            received_at: Set(self.received_at),
            body: Set(self.body),
            status: Set(self.status),
            attempts: Set(0),
            next_attempt_at: Set(self.next_attempt_at),
            lease_owner: Set(None),
            lease_until: Set(None),
            processed_at: Set(self.processed_at),
            last_error: Set(self.last_error),
            trace_parent: Set(self.trace_parent),
            warnings: Set(None),
        }
    }
}

fn sqlx_error(err: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(sea_orm::DbErr::Exec(sea_orm::RuntimeErr::SqlxError(
        err.into(),
    )))
}

/// The id under which the tenant already has this svix id. Read through the connection that
/// just saw the conflict.
async fn existing_id<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    svix_id: &str,
) -> Result<Uuid, StoreError> {
    inbox_event::Entity::find()
        .select_only()
        .column(inbox_event::Column::Id)
        .filter(inbox_event::Column::TenantId.eq(tenant_id))
        .filter(inbox_event::Column::SvixId.eq(svix_id))
        .into_tuple::<Uuid>()
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound {
            what: "the conflicting inbox event",
        })
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

/// Rows per SQLite insert statement, largest first; the last must be 1.
const SQLITE_CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// The SQLite insert of `rows` rows (one of [`SQLITE_CHUNKS`]), built once per size.
fn sqlite_insert(rows: usize) -> &'static str {
    static STATEMENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        SQLITE_CHUNKS
            .iter()
            .map(|&n| {
                let values: Vec<String> = (0..n)
                    .map(|r| {
                        let p = |k: usize| format!("?{}", r * 13 + k);
                        format!(
                            "({}, {}, {}, {}, {}, {}, {}, {}, {}, 0, {}, NULL, NULL, {}, {}, {})",
                            p(1),
                            p(2),
                            p(3),
                            p(4),
                            p(5),
                            p(6),
                            p(7),
                            p(8),
                            p(9),
                            p(10),
                            p(11),
                            p(12),
                            p(13)
                        )
                    })
                    .collect();
                format!(
                    "INSERT INTO inbox_events (id, tenant_id, svix_id, event_type, instance_id, \
                     event_timestamp_ms, received_at, body, status, attempts, next_attempt_at, \
                     lease_owner, lease_until, last_error, processed_at, trace_parent) VALUES {} \
                     ON CONFLICT (tenant_id, svix_id) DO NOTHING RETURNING id",
                    values.join(", ")
                )
            })
            .collect()
    });
    let index = SQLITE_CHUNKS
        .iter()
        .position(|&n| n == rows)
        .unwrap_or(SQLITE_CHUNKS.len() - 1);
    &statements[index]
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
