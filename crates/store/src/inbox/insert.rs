//! Storing verified deliveries: one transaction for a batch, deduplicated by the unique index
//! `(tenant_id, svix_id)`, and only for tenants that still exist.

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::Utc;
use sea_orm::ActiveEnum as _;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _, QuerySelect as _,
};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::{InsertOutcome, NewInboxEvent, storable_text};
use crate::entities::inbox_event::{self, InboxStatus};
use crate::error::sqlx_error;
use crate::{Store, StoreError};

impl Store {
    /// Stores a delivery unless the tenant already has its svix id. The check is the database's
    /// unique index (`ON CONFLICT DO NOTHING`), so concurrent replicas store a delivery once.
    /// One delivery, one commit; ingest goes through [`crate::InboxWriter`], which commits many.
    pub async fn insert_inbox_event(
        &self,
        tenant_id: Uuid,
        event: NewInboxEvent,
    ) -> Result<InsertOutcome, StoreError> {
        let mut outcomes = self.insert_inbox_events(vec![(tenant_id, event)]).await?;
        outcomes.pop().ok_or(StoreError::NotFound {
            what: "the outcome of the insert",
        })
    }

    /// Stores several deliveries in one transaction: all are durable, or none is. The outcomes
    /// are in the order of `events`; a svix id repeated within the batch is a duplicate of its
    /// first occurrence. A delivery whose tenant no longer exists is not stored
    /// ([`InsertOutcome::NoTenant`]); the others in the batch are.
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
        let mut slots: Vec<Option<(Uuid, NewInboxEvent)>> = events.into_iter().map(Some).collect();
        let mut rows = Vec::with_capacity(slots.len());
        let mut slot_keys: Vec<Option<Key>> = vec![None; slots.len()];
        for index in order {
            if let Some((tenant_id, event)) = slots[index].take() {
                let row = Row::new(Uuid::now_v7(), tenant_id, event, now);
                slot_keys[index] = Some(Key {
                    id: row.id,
                    tenant_id,
                    svix_id: row.svix_id.clone(),
                    sha256: row.body_sha256.clone(),
                });
                rows.push(row);
            }
        }
        let keys: Vec<Key> = slot_keys.into_iter().flatten().collect();
        let inserted = match self.backend() {
            crate::Backend::Sqlite => self.insert_rows_sqlite(rows).await?,
            crate::Backend::Postgres => self.insert_rows_postgres(rows).await?,
        };
        let mut outcomes = Vec::with_capacity(keys.len());
        for key in keys {
            if inserted.contains(&key.id) {
                outcomes.push(InsertOutcome::Accepted(key.id));
                continue;
            }
            // The writer has committed: a conflicting row is visible to it. No row means the
            // insert was skipped because the tenant is gone.
            let outcome = match existing(&self.writer, key.tenant_id, &key.svix_id).await? {
                None => InsertOutcome::NoTenant,
                Some((id, Some(stored))) if stored != key.sha256 => InsertOutcome::Conflict {
                    id,
                    stored_sha256: hex(&stored),
                    received_sha256: hex(&key.sha256),
                },
                // Rows stored before bodies were hashed count as the same body.
                Some((id, _)) => InsertOutcome::Duplicate(id),
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// PostgreSQL: one statement for the whole batch, the rows passed as arrays (`UNNEST`), so
    /// its SQL is the same for every batch size and the server plans it once per connection; the
    /// ids it returns are the rows it inserted. (A multi-row `VALUES` list differs with every
    /// batch size and took 35 ms for 27 rows here.) A row is inserted only while its tenant
    /// exists, and the check holds a key-share lock on the tenant until the commit, so a tenant
    /// deleted at the same moment (which locks its row first) either waits for this batch and
    /// deletes its rows too, or counts as gone: a tenant locked for deletion is skipped rather
    /// than waited for, so a long delete never holds up the one writer, and every other tenant's
    /// deliveries behind it. (Settings changes take a weaker lock that does not conflict.)
    async fn insert_rows_postgres(&self, rows: Vec<Row>) -> Result<HashSet<Uuid>, StoreError> {
        use sea_orm::sqlx;
        // The body goes to `inbox_bodies` in the same statement, for the rows inserted only.
        const INSERT: &str = "WITH t AS (SELECT * FROM UNNEST($1::uuid[], $2::uuid[], \
               $3::text[], $4::text[], $5::text[], $6::int8[], $7::timestamptz[], $8::bytea[], \
               $9::text[], $10::timestamptz[], $11::text[], $12::timestamptz[], $13::text[], \
               $14::bytea[]) WITH ORDINALITY \
             AS t(id, tenant_id, svix_id, event_type, instance_id, event_timestamp_ms, \
               received_at, body, status, next_attempt_at, last_error, processed_at, \
               trace_parent, body_sha256, ord)), \
             ins AS (INSERT INTO inbox_events (id, tenant_id, svix_id, event_type, \
               instance_id, event_timestamp_ms, received_at, status, attempts, \
               next_attempt_at, lease_owner, lease_until, last_error, processed_at, \
               trace_parent, body_sha256) \
             SELECT id, tenant_id, svix_id, event_type, instance_id, event_timestamp_ms, \
               received_at, status, 0, next_attempt_at, NULL, NULL, last_error, \
               processed_at, trace_parent, body_sha256 \
             FROM t \
             WHERE EXISTS (SELECT 1 FROM tenants x WHERE x.id = t.tenant_id \
               FOR KEY SHARE SKIP LOCKED) \
             ORDER BY ord \
             ON CONFLICT (tenant_id, svix_id) DO NOTHING RETURNING id), \
             bodies AS (INSERT INTO inbox_bodies (id, body) \
               SELECT t.id, t.body FROM t JOIN ins ON ins.id = t.id) \
             SELECT id FROM ins";
        let n = rows.len();
        let mut columns = Columns::with_capacity(n);
        for row in rows {
            columns.push(row);
        }
        let pool = self.writer.get_postgres_connection_pool();
        let mut txn = pool.begin().await.map_err(sqlx_error)?;
        let inserted: Vec<Uuid> = sqlx::query_scalar(INSERT)
            .bind(columns.ids)
            .bind(columns.tenants)
            .bind(columns.svix_ids)
            .bind(columns.types)
            .bind(columns.instances)
            .bind(columns.timestamps)
            .bind(columns.received)
            .bind(columns.bodies)
            .bind(columns.statuses)
            .bind(columns.next_attempts)
            .bind(columns.errors)
            .bind(columns.processed)
            .bind(columns.traces)
            .bind(columns.hashes)
            .fetch_all(&mut *txn)
            .await
            .map_err(sqlx_error)?;
        txn.commit().await.map_err(sqlx_error)?;
        if !inserted.is_empty() {
            self.announce_soon(crate::Wakeup::Events);
        }
        Ok(inserted.into_iter().collect())
    }

    /// SQLite: multi-row statements of fixed sizes (64, 32, 16 … 1 rows), so SQLite compiles
    /// each once per connection and a batch of n rows takes a handful of statements
    /// instead of n. (A statement sized to each batch would be compiled again for nearly every
    /// batch: measured twice as slow as one row at a time.) `RETURNING id` names the rows
    /// inserted; the others were duplicates. Rows of tenants that no longer exist are left out
    /// first, in the same transaction, which holds SQLite's one write lock from its start: no
    /// tenant can be deleted between the check and the commit.
    async fn insert_rows_sqlite(&self, rows: Vec<Row>) -> Result<HashSet<Uuid>, StoreError> {
        use sea_orm::sqlx;
        let pool = self.writer.get_sqlite_connection_pool();
        // IMMEDIATE takes the write lock before the tenant check reads: a deferred transaction
        // that read first could not write once another process (the CLI) had committed.
        let mut txn = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(sqlx_error)?;
        let mut tenants: Vec<Uuid> = rows.iter().map(|r| r.tenant_id).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let mut existing = HashSet::with_capacity(tenants.len());
        for chunk in tenants.chunks(TENANT_CHECK) {
            let mut query = sqlx::query_scalar::<_, Uuid>(sqlite_tenant_check(chunk.len()));
            for tenant in chunk {
                query = query.bind(*tenant);
            }
            existing.extend(query.fetch_all(&mut *txn).await.map_err(sqlx_error)?);
        }
        let mut inserted = HashSet::with_capacity(rows.len());
        let mut bodies = Vec::with_capacity(rows.len());
        let rows: Vec<Row> = rows
            .into_iter()
            .filter(|r| existing.contains(&r.tenant_id))
            .collect();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let size = chunk_size(rows.len());
            let mut query = sqlx::query_scalar::<_, Uuid>(sqlite_insert(size));
            let mut chunk_bodies = Vec::with_capacity(size);
            for row in rows.by_ref().take(size) {
                chunk_bodies.push((row.id, row.body));
                query = query
                    .bind(row.id)
                    .bind(row.tenant_id)
                    .bind(row.svix_id)
                    .bind(row.event_type)
                    .bind(row.instance_id)
                    .bind(row.event_timestamp_ms)
                    .bind(row.received_at)
                    .bind(row.status.to_value())
                    .bind(row.next_attempt_at)
                    .bind(row.last_error)
                    .bind(row.processed_at)
                    .bind(row.trace_parent)
                    .bind(row.body_sha256);
            }
            let ids = query.fetch_all(&mut *txn).await.map_err(sqlx_error)?;
            inserted.extend(ids);
            bodies.extend(
                chunk_bodies
                    .into_iter()
                    .filter(|(id, _)| inserted.contains(id)),
            );
        }
        // The bodies of the rows inserted (duplicates have theirs), in statements of the same
        // fixed sizes.
        let mut bodies = bodies.into_iter().peekable();
        while bodies.peek().is_some() {
            let size = chunk_size(bodies.len());
            let mut query = sqlx::query(sqlite_insert_bodies(size));
            for (id, body) in bodies.by_ref().take(size) {
                query = query.bind(id).bind(body);
            }
            query.execute(&mut *txn).await.map_err(sqlx_error)?;
        }
        txn.commit().await.map_err(sqlx_error)?;
        Ok(inserted)
    }
}

/// What identifies a delivery of a batch once its row is written (or not).
#[derive(Debug, Clone)]
struct Key {
    id: Uuid,
    tenant_id: Uuid,
    svix_id: String,
    sha256: Vec<u8>,
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
    body_sha256: Vec<u8>,
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
            body_sha256: Sha256::digest(&event.body).to_vec(),
            body: event.body,
            status,
            next_attempt_at,
            processed_at: event.invalid.is_some().then_some(now),
            last_error: event.invalid.as_deref().map(storable_text),
            trace_parent: event.trace_parent,
        }
    }
}

/// A batch's rows as the column arrays PostgreSQL's `UNNEST` takes.
#[derive(Default)]
struct Columns {
    ids: Vec<Uuid>,
    tenants: Vec<Uuid>,
    svix_ids: Vec<String>,
    types: Vec<Option<String>>,
    instances: Vec<Option<String>>,
    timestamps: Vec<Option<i64>>,
    received: Vec<chrono::DateTime<Utc>>,
    bodies: Vec<Vec<u8>>,
    statuses: Vec<String>,
    next_attempts: Vec<Option<chrono::DateTime<Utc>>>,
    errors: Vec<Option<String>>,
    processed: Vec<Option<chrono::DateTime<Utc>>>,
    traces: Vec<Option<String>>,
    hashes: Vec<Vec<u8>>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Self {
            ids: Vec::with_capacity(n),
            tenants: Vec::with_capacity(n),
            svix_ids: Vec::with_capacity(n),
            bodies: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    fn push(&mut self, row: Row) {
        self.ids.push(row.id);
        self.tenants.push(row.tenant_id);
        self.svix_ids.push(row.svix_id);
        self.types.push(row.event_type);
        self.instances.push(row.instance_id);
        self.timestamps.push(row.event_timestamp_ms);
        self.received.push(row.received_at);
        self.bodies.push(row.body);
        self.statuses.push(row.status.to_value());
        self.next_attempts.push(row.next_attempt_at);
        self.errors.push(row.last_error);
        self.processed.push(row.processed_at);
        self.traces.push(row.trace_parent);
        self.hashes.push(row.body_sha256);
    }
}

/// The id and body hash under which the tenant already has this svix id, read through the
/// connection that just saw the conflict; `None` when there is no such row.
async fn existing<C: ConnectionTrait>(
    conn: &C,
    tenant_id: Uuid,
    svix_id: &str,
) -> Result<Option<(Uuid, Option<Vec<u8>>)>, StoreError> {
    Ok(inbox_event::Entity::find()
        .select_only()
        .column(inbox_event::Column::Id)
        .column(inbox_event::Column::BodySha256)
        .filter(inbox_event::Column::TenantId.eq(tenant_id))
        .filter(inbox_event::Column::SvixId.eq(svix_id))
        .into_tuple::<(Uuid, Option<Vec<u8>>)>()
        .one(conn)
        .await?)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut text, b| {
            let _ = write!(text, "{b:02x}");
            text
        })
}

/// Rows per SQLite insert statement, largest first; the last must be 1.
/// (Every size from 64 down by halves, so any batch takes at most seven statements: each is a
/// round trip to SQLite's connection thread, which is most of a small batch's time.)
const SQLITE_CHUNKS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// Tenants checked per statement.
const TENANT_CHECK: usize = 16;

/// `SELECT id FROM tenants WHERE id IN (?1, …, ?n)` for `n` of 1 to [`TENANT_CHECK`], built once.
fn sqlite_tenant_check(n: usize) -> &'static str {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        (1..=TENANT_CHECK)
            .map(|n| {
                let params: Vec<String> = (1..=n).map(|k| format!("?{k}")).collect();
                format!("SELECT id FROM tenants WHERE id IN ({})", params.join(", "))
            })
            .collect()
    });
    &statements[n.clamp(1, TENANT_CHECK) - 1]
}

/// The largest of [`SQLITE_CHUNKS`] that `left` rows fill.
fn chunk_size(left: usize) -> usize {
    SQLITE_CHUNKS
        .iter()
        .copied()
        .find(|&n| n <= left)
        .unwrap_or(1)
}

/// Parameters per row of the SQLite insert.
const SQLITE_PARAMS: usize = 13;

/// The SQLite insert of `rows` bodies (one of [`SQLITE_CHUNKS`]), built once per size.
fn sqlite_insert_bodies(rows: usize) -> &'static str {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    sized(&STATEMENTS, rows, |n| {
        let values: Vec<String> = (0..n)
            .map(|r| format!("(?{}, ?{})", 2 * r + 1, 2 * r + 2))
            .collect();
        format!(
            "INSERT INTO inbox_bodies (id, body) VALUES {}",
            values.join(", ")
        )
    })
}

/// The SQLite insert of `rows` rows (one of [`SQLITE_CHUNKS`]), built once per size.
fn sqlite_insert(rows: usize) -> &'static str {
    static STATEMENTS: OnceLock<Vec<String>> = OnceLock::new();
    sized(&STATEMENTS, rows, |n| {
        let values: Vec<String> = (0..n)
            .map(|r| {
                let p: Vec<String> = (1..=SQLITE_PARAMS)
                    .map(|k| format!("?{}", r * SQLITE_PARAMS + k))
                    .collect();
                // attempts, lease_owner and lease_until start as 0, NULL, NULL.
                format!(
                    "({}, 0, {}, NULL, NULL, {})",
                    p[..8].join(", "),
                    p[8],
                    p[9..].join(", ")
                )
            })
            .collect();
        format!(
            "INSERT INTO inbox_events (id, tenant_id, svix_id, event_type, instance_id, \
             event_timestamp_ms, received_at, status, attempts, next_attempt_at, \
             lease_owner, lease_until, last_error, processed_at, trace_parent, \
             body_sha256) VALUES {} \
             ON CONFLICT (tenant_id, svix_id) DO NOTHING RETURNING id",
            values.join(", ")
        )
    })
}

/// The statement in `cache` for `rows` rows (one of [`SQLITE_CHUNKS`]), each size built once by
/// `build`.
fn sized(
    cache: &'static OnceLock<Vec<String>>,
    rows: usize,
    build: fn(usize) -> String,
) -> &'static str {
    let statements = cache.get_or_init(|| SQLITE_CHUNKS.iter().map(|&n| build(n)).collect());
    let index = SQLITE_CHUNKS
        .iter()
        .position(|&n| n == rows)
        .unwrap_or(SQLITE_CHUNKS.len() - 1);
    &statements[index]
}
