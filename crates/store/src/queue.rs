//! The inbox as a work queue: claiming due events with a lease, applying a batch in one
//! transaction, and the operator's views (list, replay, purge).

use std::time::Duration;

use chrono::{DateTime, Utc};
use hookgate_events::ClerkEvent;
use hookgate_events::EventFilter;
use sea_orm::FromQueryResult;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DbBackend, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, Statement, TransactionTrait as _,
};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::entities::event_attempt;
use crate::entities::inbox_event::{self, InboxStatus};
use crate::inbox::storable_text;
use crate::sync::{self, Applied, ApplyError};
use crate::{InboxEvent, Store, StoreError};

/// A claimed event, decoded by the worker (decoding is pure and happens outside the transaction).
#[derive(Debug)]
pub struct Prepared {
    pub inbox: InboxEvent,
    /// The typed event and its `data` exactly as Clerk sent it, or why the body cannot be
    /// decoded.
    pub decoded: Result<(ClerkEvent, Box<serde_json::value::RawValue>), String>,
    /// The span the event is applied in; its `outcome` field is recorded when known.
    pub span: tracing::Span,
    /// The destinations the event goes to once applied: queued in the same transaction.
    pub forward_to: Vec<Uuid>,
}

/// What became of one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(Applied),
    /// Will be retried at this time.
    Retry(DateTime<Utc>),
    Dead,
    /// Another worker took the event over after this worker's lease ran out.
    LeaseLost,
}

impl Outcome {
    /// The value of the `outcome` label and span field.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done(_) => "done",
            Self::Retry(_) => "retry",
            Self::Dead => "dead",
            Self::LeaseLost => "lease_lost",
        }
    }
}

/// An inbox event without its body: what listings show.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct InboxSummary {
    pub id: Uuid,
    pub svix_id: String,
    pub event_type: Option<String>,
    pub status: InboxStatus,
    pub attempts: i32,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// An event-type glob (`*`, `?`) as a SQL `LIKE` pattern. Event filters admit only letters,
/// digits, `.`, `_`, `*` and `?`, and `_` is the one of them `LIKE` treats specially.
fn glob_to_like(glob: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(glob.len());
    for c in glob.chars() {
        match c {
            '*' => pattern.push('%'),
            '?' => pattern.push('_'),
            '_' | '%' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            c => pattern.push(c),
        }
    }
    LikeExpr::new(pattern).escape('\\')
}

/// When a failed event is tried again: `None` makes it dead.
pub trait RetryPolicy: Send + Sync {
    fn next_attempt(&self, attempts: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>>;
}

/// Which inbox events an operator means.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub statuses: Vec<InboxStatus>,
    pub event_type: Option<EventFilter>,
    pub received_until: Option<DateTime<Utc>>,
    /// Cursor: only events older than this one (listings go newest first).
    pub before_id: Option<Uuid>,
    pub received_since: Option<DateTime<Utc>>,
    pub ids: Vec<Uuid>,
    pub limit: Option<u64>,
}

impl Store {
    /// Claims up to `limit` due events for `owner`, leased for `lease`: pending or failed, due,
    /// and not leased by a live worker. On PostgreSQL concurrent claimers skip each other's rows
    /// (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so claims are serial anyway.
    pub async fn claim_due_events(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let statement = claim_statement(
            self.writer.get_database_backend(),
            "inbox_events",
            owner,
            limit,
            lease,
        );
        let mut claimed = inbox_event::Entity::find()
            .from_raw_sql(statement)
            .all(&self.writer)
            .await?;
        claimed.sort_by_key(|e| e.id);
        Ok(claimed)
    }

    /// Applies a claimed batch in one transaction. Each event's effect commits atomically with
    /// its new status (a savepoint per event), and an event that fails is rolled back alone, so
    /// one poison event never blocks the others. Status changes require the caller to still hold
    /// the lease.
    pub async fn process_batch(
        &self,
        owner: &str,
        batch: Vec<Prepared>,
        policy: &dyn RetryPolicy,
    ) -> Result<Vec<(Uuid, Outcome)>, StoreError> {
        if let Some(outcomes) = self.apply_all(owner, &batch).await? {
            return Ok(outcomes);
        }
        let txn = self.writer.begin().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for item in batch {
            let id = item.inbox.id;
            let span = item.span.clone();
            let outcome = process_one(&txn, owner, item, policy)
                .instrument(span.clone())
                .await?;
            span.record("outcome", outcome.label());
            outcomes.push((id, outcome));
        }
        txn.commit().await?;
        Ok(outcomes)
    }

    /// The common case in one transaction without savepoints: every event decodes and applies,
    /// its deliveries queue, and the worker still holds every lease. Then each event costs one
    /// statement (two with destinations) and the batch one status update. Anything else rolls the
    /// whole attempt back and returns `None`, and [`Store::process_batch`] goes event by event.
    async fn apply_all(
        &self,
        owner: &str,
        batch: &[Prepared],
    ) -> Result<Option<Vec<(Uuid, Outcome)>>, StoreError> {
        let decoded: Option<Vec<_>> = batch.iter().map(|i| i.decoded.as_ref().ok()).collect();
        let Some(decoded) = decoded else {
            return Ok(None);
        };
        let now = Utc::now();
        let txn = self.writer.begin().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for (item, (event, data)) in batch.iter().zip(decoded) {
            let id = item.inbox.id;
            let tenant = item.inbox.tenant_id;
            let applied = async {
                let applied = sync::apply_event(&txn, tenant, id, event, data).await?;
                crate::forward::enqueue(&txn, tenant, id, &item.forward_to, now).await?;
                Ok::<_, ApplyError>(applied)
            }
            .instrument(item.span.clone())
            .await;
            match applied {
                Ok(applied) => outcomes.push((id, Outcome::Done(applied))),
                Err(err) => {
                    tracing::debug!(%err, inbox_id = %id, "batch falls back to one event at a time");
                    txn.rollback().await?;
                    return Ok(None);
                }
            }
        }
        let ids: Vec<Uuid> = outcomes.iter().map(|(id, _)| *id).collect();
        let finished = release_lease()
            .col_expr(inbox_event::Column::Status, Expr::value(InboxStatus::Done))
            .col_expr(
                inbox_event::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .col_expr(inbox_event::Column::ProcessedAt, Expr::value(Some(now)))
            .filter(inbox_event::Column::Id.is_in(ids))
            .filter(inbox_event::Column::LeaseOwner.eq(owner))
            .exec(&txn)
            .await?;
        if finished.rows_affected != outcomes.len() as u64 {
            // A lease ran out and another worker holds the event: sort it out one by one.
            txn.rollback().await?;
            return Ok(None);
        }
        txn.commit().await?;
        for (item, (_, outcome)) in batch.iter().zip(&outcomes) {
            item.span.record("outcome", outcome.label());
        }
        Ok(Some(outcomes))
    }

    /// Gives back leases this worker holds without processing the events (at shutdown).
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let res = release_lease()
            .filter(inbox_event::Column::LeaseOwner.eq(owner))
            .filter(inbox_event::Column::Status.is_in([InboxStatus::Pending, InboxStatus::Failed]))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected)
    }

    /// A tenant's inbox events, newest first, without their bodies.
    pub async fn list_inbox_events(
        &self,
        tenant_id: Uuid,
        query: &EventQuery,
    ) -> Result<Vec<InboxSummary>, StoreError> {
        let mut select = inbox_event::Entity::find()
            .select_only()
            .columns([
                inbox_event::Column::Id,
                inbox_event::Column::SvixId,
                inbox_event::Column::EventType,
                inbox_event::Column::Status,
                inbox_event::Column::Attempts,
                inbox_event::Column::ReceivedAt,
                inbox_event::Column::ProcessedAt,
                inbox_event::Column::LastError,
            ])
            .filter(inbox_event::Column::TenantId.eq(tenant_id));
        if !query.statuses.is_empty() {
            select = select.filter(inbox_event::Column::Status.is_in(query.statuses.clone()));
        }
        if let Some(since) = query.received_since {
            select = select.filter(inbox_event::Column::ReceivedAt.gte(since));
        }
        if let Some(until) = query.received_until {
            select = select.filter(inbox_event::Column::ReceivedAt.lt(until));
        }
        if let Some(before) = query.before_id {
            select = select.filter(inbox_event::Column::Id.lt(before));
        }
        if !query.ids.is_empty() {
            select = select.filter(inbox_event::Column::Id.is_in(query.ids.clone()));
        }
        if let Some(glob) = &query.event_type {
            select =
                select.filter(inbox_event::Column::EventType.like(glob_to_like(glob.as_str())));
        }
        if let Some(limit) = query.limit {
            select = select.limit(limit);
        }
        Ok(select
            .order_by_desc(inbox_event::Column::Id)
            .into_model::<InboxSummary>()
            .all(&self.reader)
            .await?)
    }

    /// Puts a tenant's events back to pending, due now, attempts reset. Applying is guarded, so
    /// replaying an event already applied changes nothing.
    pub async fn replay_inbox_events(
        &self,
        tenant_id: Uuid,
        ids: &[Uuid],
    ) -> Result<u64, StoreError> {
        // A tenant pinned to a Clerk instance never gets another instance's events back into
        // the queue: they stay dead while the pin stands.
        let pinned = self
            .find_tenant(tenant_id)
            .await?
            .and_then(|t| t.instance_id);
        let mut replayed = 0;
        for chunk in ids.chunks(500) {
            let res = release_lease()
                .col_expr(
                    inbox_event::Column::Status,
                    Expr::value(InboxStatus::Pending),
                )
                .col_expr(inbox_event::Column::Attempts, Expr::value(0))
                .col_expr(
                    inbox_event::Column::NextAttemptAt,
                    Expr::value(Some(Utc::now())),
                )
                .col_expr(
                    inbox_event::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    inbox_event::Column::ProcessedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(inbox_event::Column::TenantId.eq(tenant_id))
                .filter(inbox_event::Column::Id.is_in(chunk.iter().copied()))
                .filter(match &pinned {
                    Some(pin) => inbox_event::Column::InstanceId.eq(pin.as_str()),
                    None => Expr::value(true),
                })
                // An event a worker is applying right now stays with that worker.
                .filter(
                    sea_orm::Condition::any()
                        .add(inbox_event::Column::LeaseUntil.is_null())
                        .add(inbox_event::Column::LeaseUntil.lt(Utc::now())),
                )
                .exec(&self.writer)
                .await?;
            replayed += res.rows_affected;
        }
        Ok(replayed)
    }

    /// Deletes processed (`done`) events of every tenant processed before `cutoff`.
    /// Works in chunks of 1 000 rows, so a large purge never holds SQLite's single writer long.
    pub async fn purge_processed_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let ids: Vec<Uuid> = inbox_event::Entity::find()
                .select_only()
                .column(inbox_event::Column::Id)
                .filter(inbox_event::Column::Status.eq(InboxStatus::Done))
                .filter(inbox_event::Column::ProcessedAt.lt(cutoff))
                // An event still on its way to a destination keeps its body.
                .filter(Expr::cust(
                    "NOT EXISTS (SELECT 1 FROM deliveries d \
                     WHERE d.inbox_event_id = inbox_events.id AND d.status <> 'done')",
                ))
                .limit(1000)
                .into_tuple()
                .all(&self.reader)
                .await?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            let res = inbox_event::Entity::delete_many()
                .filter(inbox_event::Column::Id.is_in(ids))
                .filter(inbox_event::Column::Status.eq(InboxStatus::Done))
                .exec(&self.writer)
                .await?;
            deleted += res.rows_affected;
        }
    }

    /// Deletes a tenant's dead events received before `cutoff`: the explicit purge.
    pub async fn purge_dead_events(
        &self,
        tenant_id: Uuid,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let res = inbox_event::Entity::delete_many()
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .filter(inbox_event::Column::Status.eq(InboxStatus::Dead))
            .filter(inbox_event::Column::ReceivedAt.lt(cutoff))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected)
    }

    /// How many events are in each status, for one tenant.
    pub async fn count_by_status(
        &self,
        tenant_id: Uuid,
    ) -> Result<Vec<(InboxStatus, u64)>, StoreError> {
        let rows: Vec<(InboxStatus, i64)> = inbox_event::Entity::find()
            .select_only()
            .column(inbox_event::Column::Status)
            .column_as(Expr::col(Asterisk).count(), "count")
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .group_by(inbox_event::Column::Status)
            .into_tuple()
            .all(&self.reader)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}

/// How a tenant's queue is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub counts: Vec<(InboxStatus, u64)>,
    /// When the oldest event still waiting (pending or failed) was received.
    pub oldest_waiting_received_at: Option<DateTime<Utc>>,
    /// Mean time from received to processed over the last 100 processed events, milliseconds.
    pub recent_lag_ms: Option<f64>,
}

/// The work not yet done, over all tenants: what the gauges on `/metrics` show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backlog {
    pub pending: u64,
    pub failed: u64,
    pub dead: u64,
    /// When the oldest event still waiting (pending or failed) was received.
    pub oldest_waiting_received_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Counts the events not done, over all tenants. Done events are not counted: there are
    /// many and they are not work.
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        let waiting = [InboxStatus::Pending, InboxStatus::Failed, InboxStatus::Dead];
        let rows: Vec<(InboxStatus, i64)> = inbox_event::Entity::find()
            .select_only()
            .column(inbox_event::Column::Status)
            .column_as(Expr::col(Asterisk).count(), "count")
            .filter(inbox_event::Column::Status.is_in(waiting))
            .group_by(inbox_event::Column::Status)
            .into_tuple()
            .all(&self.reader)
            .await?;
        let mut backlog = Backlog::default();
        for (status, count) in rows {
            let count = u64::try_from(count).unwrap_or(0);
            match status {
                InboxStatus::Pending => backlog.pending = count,
                InboxStatus::Failed => backlog.failed = count,
                InboxStatus::Dead => backlog.dead = count,
                InboxStatus::Done => {}
            }
        }
        backlog.oldest_waiting_received_at = inbox_event::Entity::find()
            .select_only()
            .column_as(Expr::col(inbox_event::Column::ReceivedAt).min(), "oldest")
            .filter(inbox_event::Column::Status.is_in([InboxStatus::Pending, InboxStatus::Failed]))
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&self.reader)
            .await?
            .flatten();
        Ok(backlog)
    }

    /// A tenant's failed attempts at one event, oldest first.
    pub async fn event_attempts(
        &self,
        tenant_id: Uuid,
        event_id: Uuid,
    ) -> Result<Vec<crate::EventAttempt>, StoreError> {
        Ok(event_attempt::Entity::find()
            .filter(event_attempt::Column::TenantId.eq(tenant_id))
            .filter(event_attempt::Column::InboxEventId.eq(event_id))
            .order_by_asc(event_attempt::Column::At)
            .all(&self.reader)
            .await?)
    }

    pub async fn queue_stats(&self, tenant_id: Uuid) -> Result<QueueStats, StoreError> {
        let counts = self.count_by_status(tenant_id).await?;
        let oldest_waiting_received_at = inbox_event::Entity::find()
            .select_only()
            .column(inbox_event::Column::ReceivedAt)
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .filter(inbox_event::Column::Status.is_in([InboxStatus::Pending, InboxStatus::Failed]))
            .order_by_asc(inbox_event::Column::ReceivedAt)
            .into_tuple::<DateTime<Utc>>()
            .one(&self.reader)
            .await?;
        let recent: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = inbox_event::Entity::find()
            .select_only()
            .column(inbox_event::Column::ReceivedAt)
            .column(inbox_event::Column::ProcessedAt)
            .filter(inbox_event::Column::TenantId.eq(tenant_id))
            .filter(inbox_event::Column::Status.eq(InboxStatus::Done))
            .order_by_desc(inbox_event::Column::Id)
            .limit(100)
            .into_tuple()
            .all(&self.reader)
            .await?;
        let lags: Vec<f64> = recent
            .iter()
            .filter_map(|(received, processed)| {
                Some(((*processed)? - *received).num_microseconds()? as f64 / 1000.0)
            })
            .collect();
        let recent_lag_ms =
            (!lags.is_empty()).then(|| lags.iter().sum::<f64>() / lags.len() as f64);
        Ok(QueueStats {
            counts,
            oldest_waiting_received_at,
            recent_lag_ms,
        })
    }
}

/// Applies one event of a batch inside its own savepoint (see [`Store::process_batch`]).
async fn process_one(
    txn: &sea_orm::DatabaseTransaction,
    owner: &str,
    item: Prepared,
    policy: &dyn RetryPolicy,
) -> Result<Outcome, StoreError> {
    let id = item.inbox.id;
    let now = Utc::now();
    let outcome = match item.decoded {
        Err(reason) => {
            let failed = Finish::Failed {
                attempts: item.inbox.attempts + 1,
                retry_at: None,
                error: reason,
            };
            finish(txn, owner, &item.inbox, failed, now).await?
        }
        Ok((event, data)) => {
            let savepoint = txn.begin().await?;
            match sync::apply_event(&savepoint, item.inbox.tenant_id, id, &event, &data).await {
                Ok(applied) => {
                    // A destination deleted since the worker routed the event fails this
                    // insert: the event is rolled back and retried (routed afresh), alone.
                    if let Err(err) = crate::forward::enqueue(
                        &savepoint,
                        item.inbox.tenant_id,
                        id,
                        &item.forward_to,
                        now,
                    )
                    .await
                    {
                        savepoint.rollback().await?;
                        let attempts = item.inbox.attempts + 1;
                        let failed = Finish::Failed {
                            attempts,
                            retry_at: policy.next_attempt(attempts, now),
                            error: format!("queueing its deliveries failed: {err}"),
                        };
                        return finish(txn, owner, &item.inbox, failed, now).await;
                    }
                    let outcome =
                        finish(&savepoint, owner, &item.inbox, Finish::Done(applied), now).await?;
                    // Another worker owns the event now: leave its effect to that worker.
                    if outcome == Outcome::LeaseLost {
                        savepoint.rollback().await?;
                    } else {
                        savepoint.commit().await?;
                    }
                    outcome
                }
                Err(err) => {
                    savepoint.rollback().await?;
                    let attempts = item.inbox.attempts + 1;
                    let error = err.to_string();
                    let retry_at = match err {
                        ApplyError::NoEntity => None,
                        ApplyError::Store(_) => policy.next_attempt(attempts, now),
                    };
                    let failed = Finish::Failed {
                        attempts,
                        retry_at,
                        error,
                    };
                    finish(txn, owner, &item.inbox, failed, now).await?
                }
            }
        }
    };
    Ok(outcome)
}

enum Finish {
    Done(Applied),
    /// Retried at `retry_at`, or dead when `None`.
    Failed {
        attempts: i32,
        retry_at: Option<DateTime<Utc>>,
        error: String,
    },
}

/// Records an event's new status, if `owner` still holds its lease; a failure also goes into the
/// event's attempt history.
async fn finish(
    db: &impl ConnectionTrait,
    owner: &str,
    event: &InboxEvent,
    finish: Finish,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let update = release_lease()
        .filter(inbox_event::Column::Id.eq(event.id))
        .filter(inbox_event::Column::LeaseOwner.eq(owner));
    let (update, outcome, failure) = match finish {
        Finish::Done(applied) => (
            update
                .col_expr(inbox_event::Column::Status, Expr::value(InboxStatus::Done))
                .col_expr(
                    inbox_event::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(inbox_event::Column::ProcessedAt, Expr::value(Some(now))),
            Outcome::Done(applied),
            None,
        ),
        Finish::Failed {
            attempts,
            retry_at,
            error,
        } => {
            let error = storable_text(&error);
            let (status, outcome) = match retry_at {
                Some(at) => (InboxStatus::Failed, Outcome::Retry(at)),
                None => (InboxStatus::Dead, Outcome::Dead),
            };
            let processed_at = retry_at.is_none().then_some(now);
            (
                update
                    .col_expr(inbox_event::Column::Status, Expr::value(status))
                    .col_expr(inbox_event::Column::Attempts, Expr::value(attempts))
                    .col_expr(inbox_event::Column::NextAttemptAt, Expr::value(retry_at))
                    .col_expr(
                        inbox_event::Column::LastError,
                        Expr::value(Some(error.clone())),
                    )
                    .col_expr(inbox_event::Column::ProcessedAt, Expr::value(processed_at)),
                outcome,
                Some((
                    attempts,
                    if retry_at.is_some() { "retry" } else { "dead" },
                    error,
                )),
            )
        }
    };
    if update.exec(db).await?.rows_affected == 0 {
        return Ok(Outcome::LeaseLost);
    }
    if let Some((attempt, kind, error)) = failure {
        event_attempt::Entity::insert(event_attempt::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(event.tenant_id),
            inbox_event_id: Set(event.id),
            attempt: Set(attempt),
            at: Set(now),
            outcome: Set(kind.to_owned()),
            error: Set(error),
        })
        .exec_without_returning(db)
        .await?;
    }
    Ok(outcome)
}

/// An update of inbox events that clears their lease; callers add what else changes.
fn release_lease() -> sea_orm::UpdateMany<inbox_event::Entity> {
    inbox_event::Entity::update_many()
        .col_expr(
            inbox_event::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            inbox_event::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
}

/// `UPDATE <table>` leasing up to `limit` due rows (pending or failed, due, and not leased by a
/// live owner) to `owner`, `RETURNING *`. The inbox and the deliveries share the columns this
/// needs. On PostgreSQL concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`);
/// SQLite has one writer, so claims are serial anyway.
pub(crate) fn claim_statement(
    backend: DbBackend,
    table: &'static str,
    owner: &str,
    limit: u64,
    lease: Duration,
) -> Statement {
    let now = Utc::now();
    let lease_until =
        now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    let skip_locked = if backend == DbBackend::Postgres {
        "FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let (p1, p2, p3, p4) = placeholders(backend);
    let sql = format!(
        "UPDATE {table} SET lease_owner = {p1}, lease_until = {p2} \
         WHERE id IN (SELECT id FROM {table} \
           WHERE status IN ('pending', 'failed') AND next_attempt_at <= {p3} \
             AND (lease_until IS NULL OR lease_until < {p3}) \
           ORDER BY next_attempt_at LIMIT {p4} {skip_locked}) \
         RETURNING *"
    );
    Statement::from_sql_and_values(
        backend,
        sql,
        [
            owner.into(),
            lease_until.into(),
            now.into(),
            (limit as i64).into(),
        ],
    )
}

fn placeholders(backend: DbBackend) -> (&'static str, &'static str, &'static str, &'static str) {
    match backend {
        DbBackend::Postgres => ("$1", "$2", "$3", "$4"),
        _ => ("?1", "?2", "?3", "?4"),
    }
}
