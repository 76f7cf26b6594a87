//! One leased work queue, generic over the table that holds it. The inbox and the deliveries (and
//! any later queue) are tables with the same queue columns — id, tenant, status, attempts, next
//! attempt, lease owner and expiry, last error — described once by [`QueueTable`]; claiming,
//! giving leases back, finishing with backoff or dead, replaying and counting live here, once.
//!
//! A row is *due* when it is pending or failed, its `next_attempt_at` has come, and no live lease
//! holds it. A claim leases due rows to an owner; every change a claimant makes afterwards is
//! guarded by `lease_owner = owner`, so a worker whose lease ran out (and whose rows another
//! worker took over) changes nothing.

mod claim;
mod tables;

use std::marker::PhantomData;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter as _, QuerySelect as _,
    UpdateMany,
};
use uuid::Uuid;

pub use tables::{Deliveries, Inbox, Jobs, Notifications};

use claim::claim_statement;

use crate::entities::queue_status::QueueStatus;
use crate::inbox::storable_text;
use crate::{Store, StoreError};

/// The column type of a queue table's entity.
pub(crate) type Column<T> = <<T as QueueTable>::Entity as EntityTrait>::Column;

/// A table that holds a leased work queue: which entity it is and which of its columns play
/// which part. Implemented by [`Inbox`] and [`Deliveries`].
pub trait QueueTable: sealed::Sealed + Send + Sync + 'static {
    type Entity: EntityTrait;
    const ID: Column<Self>;
    const TENANT_ID: Column<Self>;
    const STATUS: Column<Self>;
    const ATTEMPTS: Column<Self>;
    const NEXT_ATTEMPT_AT: Column<Self>;
    const LEASE_OWNER: Column<Self>;
    const LEASE_UNTIL: Column<Self>;
    const LAST_ERROR: Column<Self>;
    /// When a row entered the queue: what "the oldest waiting" is measured by.
    const ENQUEUED_AT: Column<Self>;
    /// Stamped when a row is done (and, where [`QueueTable::DEAD_IS_FINISHED`], dead); cleared
    /// when it goes back to waiting.
    const FINISHED_AT: Column<Self>;
    /// Whether giving up on a row finishes it like success does (an inbox event is *processed*
    /// either way; a delivery is *delivered* only on success).
    const DEAD_IS_FINISHED: bool;
    /// A further condition a due row must meet to be claimed, as SQL over the table's own
    /// columns (a delivery waits while its destination is disabled), where `:now` stands for the
    /// claim's time; empty for none.
    const CLAIMABLE_SQL: &'static str = "";
}

mod sealed {
    pub trait Sealed {}
}

/// When a failed row is tried again: `None` makes it dead.
pub trait RetryPolicy: Send + Sync {
    fn next_attempt(&self, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>>;
}

/// How an attempt at a claimed row ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Done. `attempts` is the row's new count of attempts; `None` leaves it as it is (the inbox
    /// counts failed attempts only).
    Done { attempts: Option<i32> },
    /// Failed for the `attempts`-th time: retried at `retry_at`, or dead when `None`.
    Failed {
        attempts: i32,
        retry_at: Option<DateTime<Utc>>,
        error: String,
    },
}

impl Finish {
    /// A failure that `policy` may retry (by the count of attempts), or none can fix (`None`):
    /// dead at once.
    pub fn failed(
        attempts: i32,
        error: String,
        policy: Option<&dyn RetryPolicy>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::Failed {
            attempts,
            retry_at: policy.and_then(|p| p.next_attempt(attempts, now)),
            error,
        }
    }

    /// The status the row gets.
    pub fn status(&self) -> QueueStatus {
        match self {
            Self::Done { .. } => QueueStatus::Done,
            Self::Failed {
                retry_at: Some(_), ..
            } => QueueStatus::Failed,
            Self::Failed { retry_at: None, .. } => QueueStatus::Dead,
        }
    }
}

/// The rows not done, over all tenants or one: what the gauges on `/metrics` and the stats show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: u64,
    pub failed: u64,
    pub dead: u64,
    /// When the oldest row still waiting (pending or failed) entered the queue: an inbox event's
    /// reception, a delivery's creation.
    pub oldest_waiting_received_at: Option<DateTime<Utc>>,
}

/// Which rows a replay puts back.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplaySelection<'a> {
    /// These rows only (any number: they are updated in chunks); `None` means every row that
    /// matches the rest.
    pub ids: Option<&'a [Uuid]>,
    /// Only rows in these statuses; empty means any status.
    pub statuses: &'a [QueueStatus],
}

/// A queue table of a store: `store.queue::<Inbox>()`, `store.queue::<Deliveries>()`.
#[derive(Debug)]
pub struct Queue<'s, T> {
    store: &'s Store,
    table: PhantomData<T>,
}

impl Store {
    pub fn queue<T: QueueTable>(&self) -> Queue<'_, T> {
        Queue {
            store: self,
            table: PhantomData,
        }
    }
}

impl<T: QueueTable> Queue<'_, T> {
    /// Claims up to `limit` due rows for `owner`, leased for `lease`, in no particular order.
    pub async fn claim(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<<T::Entity as EntityTrait>::Model>, StoreError> {
        let writer = &self.store.writer;
        let statement =
            claim_statement::<T>(writer.get_database_backend(), owner, limit, lease, None);
        Ok(T::Entity::find()
            .from_raw_sql(statement)
            .all(writer)
            .await?)
    }

    /// Leases the row `id` to `owner` if it is due and nobody else holds it.
    pub async fn claim_id(
        &self,
        owner: &str,
        id: Uuid,
        lease: Duration,
    ) -> Result<Option<<T::Entity as EntityTrait>::Model>, StoreError> {
        let writer = &self.store.writer;
        let statement =
            claim_statement::<T>(writer.get_database_backend(), owner, 1, lease, Some(id));
        Ok(T::Entity::find()
            .from_raw_sql(statement)
            .one(writer)
            .await?)
    }

    /// Records how the attempt at one claimed row ended, if `owner` still holds its lease;
    /// `false` when it does not (the row is left as another owner has it).
    pub async fn finish(&self, owner: &str, id: Uuid, finish: &Finish) -> Result<bool, StoreError> {
        finish_row::<T>(
            &self.store.writer,
            owner,
            id,
            finish,
            Utc::now(),
            Vec::new(),
        )
        .await
    }

    /// Gives back the leases `owner` holds on rows still waiting, unprocessed (at shutdown).
    pub async fn release(&self, owner: &str) -> Result<u64, StoreError> {
        let res = release_lease::<T>()
            .filter(T::LEASE_OWNER.eq(owner))
            .filter(T::STATUS.is_in([QueueStatus::Pending, QueueStatus::Failed]))
            .exec(&self.store.writer)
            .await?;
        Ok(res.rows_affected)
    }

    /// Puts a tenant's rows back to pending, due now, with a fresh count of attempts. A row a
    /// claimant holds under a live lease stays with it.
    pub async fn replay(
        &self,
        tenant_id: Uuid,
        selection: ReplaySelection<'_>,
    ) -> Result<u64, StoreError> {
        replay_rows::<T>(
            &self.store.writer,
            tenant_id,
            selection,
            Condition::all(),
            Vec::new(),
        )
        .await
    }

    /// Counts the rows not done, over all tenants (`None`) or one.
    pub async fn backlog(&self, tenant_id: Option<Uuid>) -> Result<Backlog, StoreError> {
        let reader = &self.store.reader;
        let not_done = [QueueStatus::Pending, QueueStatus::Failed, QueueStatus::Dead];
        let mut backlog = Backlog::default();
        for (status, count) in count_rows::<T>(reader, tenant_id, &not_done).await? {
            match status {
                QueueStatus::Pending => backlog.pending = count,
                QueueStatus::Failed => backlog.failed = count,
                QueueStatus::Dead => backlog.dead = count,
                QueueStatus::Done => {}
            }
        }
        backlog.oldest_waiting_received_at = self.oldest_waiting(tenant_id).await?;
        Ok(backlog)
    }

    /// When the oldest row still waiting (pending or failed) entered the queue, over all tenants
    /// (`None`) or one.
    pub async fn oldest_waiting(
        &self,
        tenant_id: Option<Uuid>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(T::Entity::find()
            .select_only()
            .column_as(Expr::col(T::ENQUEUED_AT).min(), "oldest")
            .filter(T::STATUS.is_in([QueueStatus::Pending, QueueStatus::Failed]))
            .filter(tenant_filter::<T>(tenant_id))
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&self.store.reader)
            .await?
            .flatten())
    }

    /// How many rows are in each status (of these, or of every status when empty), over all
    /// tenants (`None`) or one. Statuses without rows are left out.
    pub async fn counts(
        &self,
        tenant_id: Option<Uuid>,
        statuses: &[QueueStatus],
    ) -> Result<Vec<(QueueStatus, u64)>, StoreError> {
        count_rows::<T>(&self.store.reader, tenant_id, statuses).await
    }
}

fn tenant_filter<T: QueueTable>(tenant_id: Option<Uuid>) -> Condition {
    match tenant_id {
        Some(tenant_id) => Condition::all().add(T::TENANT_ID.eq(tenant_id)),
        None => Condition::all(),
    }
}

async fn count_rows<T: QueueTable>(
    db: &impl ConnectionTrait,
    tenant_id: Option<Uuid>,
    statuses: &[QueueStatus],
) -> Result<Vec<(QueueStatus, u64)>, StoreError> {
    let mut select = T::Entity::find()
        .select_only()
        .column(T::STATUS)
        // `COUNT(*)` is answered from the status index; counting a column would read the rows.
        .column_as(Expr::col(Asterisk).count(), "count")
        .filter(tenant_filter::<T>(tenant_id))
        .group_by(T::STATUS);
    if !statuses.is_empty() {
        select = select.filter(T::STATUS.is_in(statuses.iter().copied()));
    }
    let rows: Vec<(QueueStatus, i64)> = select.into_tuple().all(db).await?;
    Ok(rows
        .into_iter()
        .map(|(status, n)| (status, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// A tenant's rows for a listing: in these statuses (any when empty) and, as a page cursor,
/// older than `before_id` (listings go newest first, and ids are time-ordered).
pub(crate) fn listed<T: QueueTable>(
    tenant_id: Uuid,
    statuses: &[QueueStatus],
    before_id: Option<Uuid>,
) -> Condition {
    let mut condition = Condition::all().add(T::TENANT_ID.eq(tenant_id));
    if !statuses.is_empty() {
        condition = condition.add(T::STATUS.is_in(statuses.iter().copied()));
    }
    if let Some(before) = before_id {
        condition = condition.add(T::ID.lt(before));
    }
    condition
}

/// An update of queue rows that clears their lease; callers add what else changes.
pub(crate) fn release_lease<T: QueueTable>() -> UpdateMany<T::Entity> {
    T::Entity::update_many()
        .col_expr(T::LEASE_OWNER, Expr::value(Option::<String>::None))
        .col_expr(T::LEASE_UNTIL, Expr::value(Option::<DateTime<Utc>>::None))
}

/// Rows not held under a live lease: what an operator's action may change.
pub(crate) fn unleased<T: QueueTable>(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(T::LEASE_UNTIL.is_null())
        .add(T::LEASE_UNTIL.lt(now))
}

/// The columns [`Finish`] sets, besides the lease it clears. Table-specific columns (a
/// delivery's last HTTP status) come from the caller as `extra`.
pub(crate) fn finish_update<T: QueueTable>(
    finish: &Finish,
    now: DateTime<Utc>,
    extra: Vec<(Column<T>, SimpleExpr)>,
) -> UpdateMany<T::Entity> {
    let mut update = release_lease::<T>().col_expr(T::STATUS, Expr::value(finish.status()));
    update = match finish {
        Finish::Done { attempts } => {
            if let Some(attempts) = attempts {
                update = update.col_expr(T::ATTEMPTS, Expr::value(*attempts));
            }
            update
                .col_expr(T::LAST_ERROR, Expr::value(Option::<String>::None))
                .col_expr(T::FINISHED_AT, Expr::value(Some(now)))
        }
        Finish::Failed {
            attempts,
            retry_at,
            error,
        } => {
            let finished = (retry_at.is_none() && T::DEAD_IS_FINISHED).then_some(now);
            update
                .col_expr(T::ATTEMPTS, Expr::value(*attempts))
                .col_expr(T::NEXT_ATTEMPT_AT, Expr::value(*retry_at))
                .col_expr(T::LAST_ERROR, Expr::value(Some(storable_text(error))))
                .col_expr(T::FINISHED_AT, Expr::value(finished))
        }
    };
    for (column, value) in extra {
        update = update.col_expr(column, value);
    }
    update
}

/// Records how one row's attempt ended, if `owner` still holds its lease (`false` otherwise), in
/// the caller's transaction or connection.
pub(crate) async fn finish_row<T: QueueTable>(
    db: &impl ConnectionTrait,
    owner: &str,
    id: Uuid,
    finish: &Finish,
    now: DateTime<Utc>,
    extra: Vec<(Column<T>, SimpleExpr)>,
) -> Result<bool, StoreError> {
    let res = finish_update::<T>(finish, now, extra)
        .filter(T::ID.eq(id))
        .filter(T::LEASE_OWNER.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Marks every row of `ids` done in one statement, where `owner` still holds the lease, with the
/// `extra` columns; returns how many it changed (fewer than `ids` means some lease was lost).
pub(crate) async fn finish_done<T: QueueTable>(
    db: &impl ConnectionTrait,
    owner: &str,
    ids: Vec<Uuid>,
    now: DateTime<Utc>,
    extra: Vec<(Column<T>, SimpleExpr)>,
) -> Result<u64, StoreError> {
    let res = finish_update::<T>(&Finish::Done { attempts: None }, now, extra)
        .filter(T::ID.is_in(ids))
        .filter(T::LEASE_OWNER.eq(owner))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Extends `owner`'s lease on row `id` by `lease` from now, changing the `extra` columns with
/// it; `false` when the lease is no longer `owner`'s (taken over, or the row was cancelled).
pub(crate) async fn renew<T: QueueTable>(
    db: &impl ConnectionTrait,
    owner: &str,
    id: Uuid,
    lease: Duration,
    extra: Vec<(Column<T>, SimpleExpr)>,
) -> Result<bool, StoreError> {
    let until =
        Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    let mut update = T::Entity::update_many().col_expr(T::LEASE_UNTIL, Expr::value(Some(until)));
    for (column, value) in extra {
        update = update.col_expr(column, value);
    }
    let res = update
        .filter(T::ID.eq(id))
        .filter(T::LEASE_OWNER.eq(owner))
        .filter(T::STATUS.is_in([QueueStatus::Pending, QueueStatus::Failed]))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Puts a tenant's selected rows, also matching `condition`, back to pending; `extra` columns
/// change with them.
pub(crate) async fn replay_rows<T: QueueTable>(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    selection: ReplaySelection<'_>,
    condition: Condition,
    extra: Vec<(Column<T>, SimpleExpr)>,
) -> Result<u64, StoreError> {
    let chunks: Vec<Option<&[Uuid]>> = match selection.ids {
        Some(ids) => ids.chunks(500).map(Some).collect(),
        None => vec![None],
    };
    let mut replayed = 0;
    for chunk in chunks {
        let now = Utc::now();
        let mut update = release_lease::<T>()
            .col_expr(T::STATUS, Expr::value(QueueStatus::Pending))
            .col_expr(T::ATTEMPTS, Expr::value(0))
            .col_expr(T::NEXT_ATTEMPT_AT, Expr::value(Some(now)))
            .col_expr(T::FINISHED_AT, Expr::value(Option::<DateTime<Utc>>::None))
            .filter(T::TENANT_ID.eq(tenant_id))
            .filter(condition.clone())
            // Taking a row from the claimant working on it would do its work twice.
            .filter(unleased::<T>(now));
        for (column, value) in extra.iter().cloned() {
            update = update.col_expr(column, value);
        }
        if !selection.statuses.is_empty() {
            update = update.filter(T::STATUS.is_in(selection.statuses.iter().copied()));
        }
        if let Some(chunk) = chunk {
            update = update.filter(T::ID.is_in(chunk.iter().copied()));
        }
        replayed += update.exec(db).await?.rows_affected;
    }
    Ok(replayed)
}
