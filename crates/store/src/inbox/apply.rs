//! Applying claimed inbox events: each event's effect on the sync tables, its deliveries and its
//! new status commit together.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hookgate_events::ClerkEvent;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    TransactionTrait as _,
};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::entities::{event_attempt, inbox_event};
use crate::queue::{self, Finish, Inbox, RetryPolicy};
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

impl Store {
    /// Claims up to `limit` due events for `owner`, leased for `lease`, in the order of their ids.
    pub async fn claim_due_events(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let mut claimed = self.queue::<Inbox>().claim(owner, limit, lease).await?;
        claimed.sort_by_key(|e| e.id);
        // From the reader pool: on SQLite another connection, so the one writer is not held
        // for reading bodies.
        self.fill_bodies(&mut claimed).await?;
        Ok(claimed)
    }

    /// Gives back leases this worker holds without processing the events (at shutdown).
    pub async fn release_leases(&self, owner: &str) -> Result<u64, StoreError> {
        self.queue::<Inbox>().release(owner).await
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
        let forwards = batch.iter().any(|item| !item.forward_to.is_empty());
        if let Some(outcomes) = self.apply_all(owner, &batch).await? {
            if forwards {
                self.announce_soon(crate::Wakeup::Deliveries);
            }
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
        if forwards {
            self.announce_soon(crate::Wakeup::Deliveries);
        }
        Ok(outcomes)
    }

    /// The common case in one transaction without savepoints: every event decodes and applies,
    /// its deliveries queue, and the worker still holds every lease. Then each event costs one
    /// statement (two with destinations) and the batch one status update. Anything else, a
    /// failed statement or a failed commit included, rolls the whole attempt back and returns
    /// `None`, and [`Store::process_batch`] goes event by event (rather than leave the batch
    /// leased until its lease runs out).
    async fn apply_all(
        &self,
        owner: &str,
        batch: &[Prepared],
    ) -> Result<Option<Vec<(Uuid, Outcome)>>, StoreError> {
        let decoded: Option<Vec<_>> = batch.iter().map(|i| i.decoded.as_ref().ok()).collect();
        let Some(decoded) = decoded else {
            return Ok(None);
        };
        let txn = self.writer.begin().await?;
        let outcomes = match apply_in(&txn, owner, batch, &decoded).await {
            Ok(Some(outcomes)) => outcomes,
            Ok(None) => {
                txn.rollback().await?;
                return Ok(None);
            }
            Err(err) => {
                tracing::debug!(%err, "batch falls back to one event at a time");
                // Dropping the transaction rolls it back, whatever state the error left it in.
                drop(txn);
                return Ok(None);
            }
        };
        if let Err(err) = txn.commit().await {
            tracing::warn!(%err, "committing a batch failed; applying it one event at a time");
            return Ok(None);
        }
        for (item, (_, outcome)) in batch.iter().zip(&outcomes) {
            item.span.record("outcome", outcome.label());
        }
        Ok(Some(outcomes))
    }
}

/// The fast path's statements, in `txn`: `None` when an event needs the slow path.
async fn apply_in(
    txn: &sea_orm::DatabaseTransaction,
    owner: &str,
    batch: &[Prepared],
    decoded: &[&(ClerkEvent, Box<serde_json::value::RawValue>)],
) -> Result<Option<Vec<(Uuid, Outcome)>>, StoreError> {
    let now = Utc::now();
    let events: Vec<sync::BatchEvent<'_>> = batch
        .iter()
        .zip(decoded.iter().copied())
        .map(|(item, (event, data))| sync::BatchEvent {
            tenant_id: item.inbox.tenant_id,
            source: sync::Source {
                event_id: item.inbox.id,
                svix_id: &item.inbox.svix_id,
            },
            event,
            data,
        })
        .collect();
    let written = async {
        let applied = sync::apply_batch(txn, &events).await?;
        let deliveries = batch.iter().map(|item| {
            (
                item.inbox.tenant_id,
                item.inbox.id,
                item.forward_to.as_slice(),
            )
        });
        crate::deliveries::enqueue_many(txn, deliveries, now).await?;
        Ok::<_, ApplyError>(applied)
    }
    .await;
    let applied = match written {
        Ok(applied) => applied,
        Err(err) => {
            tracing::debug!(%err, "batch falls back to one event at a time");
            return Ok(None);
        }
    };
    let outcomes: Vec<(Uuid, Outcome)> = batch
        .iter()
        .zip(applied)
        .map(|(item, applied)| (item.inbox.id, Outcome::Done(applied)))
        .collect();
    let ids: Vec<Uuid> = outcomes.iter().map(|(id, _)| *id).collect();
    // Warnings of an earlier application (a replay after a fix) go; this one's are set below.
    let no_warnings = vec![(
        inbox_event::Column::Warnings,
        Expr::value(Option::<String>::None),
    )];
    let finished = queue::finish_done::<Inbox>(txn, owner, ids, now, no_warnings).await?;
    if finished != outcomes.len() as u64 {
        // A lease ran out and another worker holds the event: sort it out one by one.
        return Ok(None);
    }
    for (item, (event, _)) in batch.iter().zip(decoded.iter().copied()) {
        if !event.warnings.is_empty() {
            record_warnings(txn, item.inbox.id, event).await?;
        }
    }
    Ok(Some(outcomes))
}

/// Applies one event of a batch inside its own savepoint (see [`Store::process_batch`]).
async fn process_one(
    txn: &sea_orm::DatabaseTransaction,
    owner: &str,
    item: Prepared,
    policy: &dyn RetryPolicy,
) -> Result<Outcome, StoreError> {
    let inbox = &item.inbox;
    let now = Utc::now();
    let (event, data) = match &item.decoded {
        Ok(decoded) => decoded,
        // Retrying cannot make a body decode.
        Err(reason) => return dead_but_forwarded(txn, owner, &item, reason.clone(), policy).await,
    };
    let savepoint = txn.begin().await?;
    let source = sync::Source {
        event_id: inbox.id,
        svix_id: &inbox.svix_id,
    };
    let applied = match sync::apply_event(&savepoint, inbox.tenant_id, source, event, data).await {
        Ok(applied) => applied,
        Err(err) => {
            savepoint.rollback().await?;
            return match err {
                // A delete that names nothing: retrying cannot help either.
                ApplyError::NoEntity => {
                    dead_but_forwarded(txn, owner, &item, err.to_string(), policy).await
                }
                ApplyError::Store(_) => {
                    fail(txn, owner, inbox, err.to_string(), Some(policy), now).await
                }
            };
        }
    };
    // A destination deleted since the worker routed the event fails this insert: the event is
    // rolled back and retried (routed afresh), alone.
    let queued =
        crate::deliveries::enqueue(&savepoint, inbox.tenant_id, inbox.id, &item.forward_to, now)
            .await;
    if let Err(err) = queued {
        savepoint.rollback().await?;
        let error = format!("queueing its deliveries failed: {err}");
        return fail(txn, owner, inbox, error, Some(policy), now).await;
    }
    let done = Finish::Done { attempts: None };
    let warnings = vec![(
        inbox_event::Column::Warnings,
        Expr::value(warnings_text(event)),
    )];
    if queue::finish_row::<Inbox>(&savepoint, owner, inbox.id, &done, now, warnings).await? {
        savepoint.commit().await?;
        Ok(Outcome::Done(applied))
    } else {
        // Another worker owns the event now: leave its effect to that worker.
        savepoint.rollback().await?;
        Ok(Outcome::LeaseLost)
    }
}

/// An event that can never be applied is dead, and its deliveries go out all the same: routing
/// needs only the envelope's type, and a destination gets what Clerk sent, whatever hookgate
/// makes of it. Both happen in a savepoint of their own.
async fn dead_but_forwarded(
    txn: &sea_orm::DatabaseTransaction,
    owner: &str,
    item: &Prepared,
    reason: String,
    policy: &dyn RetryPolicy,
) -> Result<Outcome, StoreError> {
    let inbox = &item.inbox;
    let now = Utc::now();
    let savepoint = txn.begin().await?;
    let queued =
        crate::deliveries::enqueue(&savepoint, inbox.tenant_id, inbox.id, &item.forward_to, now)
            .await;
    if let Err(err) = queued {
        savepoint.rollback().await?;
        let error = format!("queueing its deliveries failed: {err}");
        return fail(txn, owner, inbox, error, Some(policy), now).await;
    }
    let outcome = fail(&savepoint, owner, inbox, reason, None, now).await?;
    if outcome == Outcome::LeaseLost {
        savepoint.rollback().await?;
    } else {
        savepoint.commit().await?;
    }
    Ok(outcome)
}

/// The event's decode warnings as stored: a JSON array, or `NULL` when there are none.
fn warnings_text(event: &ClerkEvent) -> Option<String> {
    if event.warnings.is_empty() {
        return None;
    }
    serde_json::to_string(&event.warnings).ok()
}

/// Stores an applied event's decode warnings (the fast path finishes the batch in one
/// statement, so the few events with warnings get one more).
async fn record_warnings(
    db: &impl ConnectionTrait,
    id: Uuid,
    event: &ClerkEvent,
) -> Result<(), StoreError> {
    inbox_event::Entity::update_many()
        .col_expr(
            inbox_event::Column::Warnings,
            Expr::value(warnings_text(event)),
        )
        .filter(inbox_event::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt at an event, if `owner` still holds its lease: retried as `policy`
/// says, or dead without one; the failure also goes into the event's attempt history.
async fn fail(
    db: &impl ConnectionTrait,
    owner: &str,
    event: &InboxEvent,
    error: String,
    policy: Option<&dyn RetryPolicy>,
    now: DateTime<Utc>,
) -> Result<Outcome, StoreError> {
    let attempts = event.attempts + 1;
    let error = crate::inbox::storable_text(&error);
    let failed = Finish::failed(attempts, error.clone(), policy, now);
    if !queue::finish_row::<Inbox>(db, owner, event.id, &failed, now, Vec::new()).await? {
        return Ok(Outcome::LeaseLost);
    }
    let (outcome, label) = match failed {
        Finish::Failed {
            retry_at: Some(at), ..
        } => (Outcome::Retry(at), "retry"),
        _ => (Outcome::Dead, "dead"),
    };
    if outcome == Outcome::Dead {
        let data = serde_json::json!({
            "event_id": event.id,
            "svix_id": event.svix_id,
            "event_type": event.event_type,
            "attempts": attempts,
            "error": error,
        });
        crate::notifications::notify(db, event.tenant_id, "event.dead", data, now).await?;
    }
    event_attempt::Entity::insert(event_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(event.tenant_id),
        inbox_event_id: Set(event.id),
        attempt: Set(attempts),
        at: Set(now),
        outcome: Set(label.to_owned()),
        error: Set(error),
    })
    .exec_without_returning(db)
    .await?;
    Ok(outcome)
}
