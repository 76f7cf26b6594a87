//! What operators see of the inbox and do to it: listings, statistics, replay and purges.

use chrono::{DateTime, Utc};
use hookgate_events::EventFilter;
use sea_orm::sea_query::extension::sqlite::SqliteExpr as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, LikeExpr};
use sea_orm::{
    ColumnTrait as _, DbBackend, EntityTrait as _, FromQueryResult, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use crate::entities::event_attempt;
use crate::entities::inbox_event::{self, InboxStatus};
use crate::queue::{self, Backlog, Inbox, ReplaySelection};
use crate::{Store, StoreError};

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

/// How a tenant's queue is doing.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub counts: Vec<(InboxStatus, u64)>,
    /// When the oldest event still waiting (pending or failed) was received.
    pub oldest_waiting_received_at: Option<DateTime<Utc>>,
    /// Mean time from received to processed over the last 100 processed events, milliseconds.
    pub recent_lag_ms: Option<f64>,
}

/// The condition "the event's type matches `glob`", decided by the database exactly as
/// [`EventFilter::matches`] decides it. SQLite's `GLOB` has the same `*` and `?` and is
/// case-sensitive (its `LIKE` is not); PostgreSQL's `LIKE` is case-sensitive, with `_` escaped,
/// the one character of an event filter that `LIKE` treats specially besides the wildcards.
fn type_matches(backend: DbBackend, glob: &EventFilter) -> sea_orm::sea_query::SimpleExpr {
    let column = Expr::col(inbox_event::Column::EventType);
    if backend == DbBackend::Sqlite {
        return column.glob(glob.as_str());
    }
    let mut pattern = String::with_capacity(glob.as_str().len());
    for c in glob.as_str().chars() {
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
    column.like(LikeExpr::new(pattern).escape('\\'))
}

impl Store {
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
            .filter(queue::listed::<Inbox>(
                tenant_id,
                &query.statuses,
                query.before_id,
            ));
        if let Some(since) = query.received_since {
            select = select.filter(inbox_event::Column::ReceivedAt.gte(since));
        }
        if let Some(until) = query.received_until {
            select = select.filter(inbox_event::Column::ReceivedAt.lt(until));
        }
        if !query.ids.is_empty() {
            select = select.filter(inbox_event::Column::Id.is_in(query.ids.clone()));
        }
        if let Some(glob) = &query.event_type {
            select = select.filter(type_matches(self.reader.get_database_backend(), glob));
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
        let condition = match &pinned {
            Some(pin) => sea_orm::Condition::all().add(inbox_event::Column::InstanceId.eq(pin)),
            None => sea_orm::Condition::all(),
        };
        let selection = ReplaySelection {
            ids: Some(ids),
            statuses: &[],
        };
        let clear_error = vec![(
            inbox_event::Column::LastError,
            Expr::value(Option::<String>::None),
        )];
        let replayed =
            queue::replay_rows::<Inbox>(&self.writer, tenant_id, selection, condition, clear_error)
                .await?;
        if replayed > 0 {
            self.announce(crate::Wakeup::Events).await;
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
        self.queue::<Inbox>().counts(Some(tenant_id), &[]).await
    }

    /// Counts the events not done, over all tenants. Done events are not counted: there are
    /// many and they are not work.
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        self.queue::<Inbox>().backlog(None).await
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
        let oldest_waiting_received_at = self
            .queue::<Inbox>()
            .oldest_waiting(Some(tenant_id))
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
