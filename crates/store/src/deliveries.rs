//! Deliveries: one row per event and destination, written in the transaction that applies the
//! event (an outbox), then claimed with a lease on the shared queue, attempted, and retried or
//! marked dead.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use crate::destination_health::{self, DestinationEvent, HealthPolicy, Tally};
use crate::entities::delivery::{self, DeliveryStatus};
use crate::entities::{destination, inbox_event, tenant};
use crate::queue::{self, Backlog, Deliveries, Finish, ReplaySelection, RetryPolicy};
use crate::{Delivery, Destination, Store, StoreError};

/// A claimed delivery with what it takes to attempt it.
#[derive(Clone)]
pub struct DeliveryJob {
    pub delivery: Delivery,
    /// The destination's URL as shown (credentials as `***`).
    pub url: String,
    /// The full URL, sealed, when it holds credentials.
    pub url_ciphertext: Option<Vec<u8>>,
    /// The destination's encrypted signing secret.
    pub ciphertext: Vec<u8>,
    pub tenant_slug: String,
    pub received_at: DateTime<Utc>,
    pub svix_id: String,
    pub event_type: Option<String>,
    /// The event exactly as Clerk sent it.
    pub body: Vec<u8>,
    pub trace_parent: Option<String>,
    /// Not before this: the destination's rate limit spaces its sends.
    pub send_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for DeliveryJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the event (personal data) nor the sealed secret.
        f.debug_struct("DeliveryJob")
            .field("delivery", &self.delivery)
            .field("svix_id", &self.svix_id)
            .field("event_type", &self.event_type)
            .finish_non_exhaustive()
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The destination answered 2xx.
    Delivered { status: u16 },
    /// No 2xx: the status when there was an answer, and why; `retry_after` when the destination
    /// asked for a pause (`Retry-After` on a 429 or 503).
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

/// What a batch of recorded attempts came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// In the order of the attempts.
    pub outcomes: Vec<DeliveryOutcome>,
    /// Destinations whose health changed.
    pub events: Vec<DestinationEvent>,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    Retry(DateTime<Utc>),
    Dead,
    /// Another forwarder took it over after this one's lease ran out.
    LeaseLost,
}

impl DeliveryOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry(_) => "retry",
            Self::Dead => "dead",
            Self::LeaseLost => "lease_lost",
        }
    }
}

/// Which deliveries an operator means.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub destination_id: Option<Uuid>,
    pub inbox_event_id: Option<Uuid>,
    pub statuses: Vec<DeliveryStatus>,
    /// Newest first, from before this id (a page cursor).
    pub before_id: Option<Uuid>,
    pub limit: Option<u64>,
}

/// Deliveries not done, over all tenants: what the gauges on `/metrics` show.
pub type DeliveryBacklog = Backlog;

impl Store {
    /// Claims up to `limit` due deliveries for `lease`, with their destination and event. A
    /// destination whose circuit is open gets one probe; a rate-limited one gets the deliveries
    /// it can take within a second, each with its time. The others go back unattempted.
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<DeliveryJob>, StoreError> {
        let claimed = self
            .queue::<Deliveries>()
            .claim(owner, limit, lease)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        // What a delivery is sent with is read from the reader pool: the event never changes
        // once stored, and the writer (SQLite's only one) stays free for claims and records. The
        // three reads go together (on PostgreSQL each is a round trip to the server); bodies of
        // deliveries the gate then sends back are read for nothing, which is rare.
        let destination_ids = claimed.iter().map(|d| d.destination_id);
        let event_ids = claimed.iter().map(|d| d.inbox_event_id);
        let tenant_ids = claimed.iter().map(|d| d.tenant_id);
        let (destinations, events, slugs) = tokio::try_join!(
            async {
                destination::Entity::find()
                    .filter(destination::Column::Id.is_in(destination_ids))
                    .all(&self.reader)
                    .await
                    .map_err(StoreError::from)
            },
            self.events_to_send(event_ids),
            async {
                tenant::Entity::find()
                    .filter(tenant::Column::Id.is_in(tenant_ids))
                    .all(&self.reader)
                    .await
                    .map_err(StoreError::from)
            },
        )?;
        let destinations: HashMap<Uuid, Destination> =
            destinations.into_iter().map(|d| (d.id, d)).collect();
        let slugs: HashMap<Uuid, String> = slugs.into_iter().map(|t| (t.id, t.slug)).collect();
        let claimed =
            destination_health::gate(&self.writer, owner, claimed, &destinations, lease).await?;
        // Cascading deletes make a missing destination or event impossible; skip rather than
        // fail the others if it happens anyway.
        Ok(claimed
            .into_iter()
            .filter_map(|(delivery, send_at)| {
                let destination = destinations.get(&delivery.destination_id)?;
                let event = events.get(&delivery.inbox_event_id)?;
                let tenant_slug = slugs.get(&delivery.tenant_id)?.clone();
                Some(DeliveryJob {
                    url: destination.url.clone(),
                    url_ciphertext: destination.url_ciphertext.clone(),
                    ciphertext: destination.ciphertext.clone(),
                    tenant_slug,
                    received_at: event.received_at,
                    svix_id: event.svix_id.clone(),
                    event_type: event.event_type.clone(),
                    body: event.body.clone(),
                    trace_parent: event.trace_parent.clone(),
                    send_at,
                    delivery,
                })
            })
            .collect())
    }

    /// Records an attempt, if `owner` still holds the delivery's lease.
    pub async fn finish_delivery(
        &self,
        owner: &str,
        job: &Delivery,
        attempt: Attempt,
        policy: &dyn RetryPolicy,
    ) -> Result<DeliveryOutcome, StoreError> {
        finish_one(&self.writer, owner, job, attempt, policy, Utc::now()).await
    }

    /// Records many attempts in one transaction (one commit, one fsync): deliveries with the same
    /// answer in one statement each, failures one by one, then what they say of their
    /// destinations' health. Each outcome is `LeaseLost` where `owner` no longer held the
    /// delivery.
    pub async fn finish_deliveries(
        &self,
        owner: &str,
        attempts: Vec<(Delivery, Attempt)>,
        policy: &dyn RetryPolicy,
        health: &HealthPolicy,
    ) -> Result<Recorded, StoreError> {
        use sea_orm::TransactionTrait as _;
        use sea_orm::sea_query::ExprTrait as _;
        let now = Utc::now();
        let mut outcomes = vec![DeliveryOutcome::LeaseLost; attempts.len()];
        let mut delivered: HashMap<Option<u16>, Vec<(usize, Uuid)>> = HashMap::new();
        let mut tallies: HashMap<Uuid, Tally> = HashMap::new();
        let txn = self.writer.begin().await?;
        for (at, (job, attempt)) in attempts.into_iter().enumerate() {
            let tally = tallies.entry(job.destination_id).or_default();
            match attempt {
                Attempt::Delivered { status } => {
                    tally.success(job.id);
                    let status = (status != 0).then_some(status);
                    delivered.entry(status).or_default().push((at, job.id));
                }
                Attempt::Failed {
                    status,
                    error,
                    retry_after,
                } => {
                    tally.failure(job.id, status, retry_after, &error);
                    let failed = Attempt::Failed {
                        status,
                        error,
                        retry_after,
                    };
                    outcomes[at] = finish_one(&txn, owner, &job, failed, policy, now).await?;
                }
            }
        }
        for (status, rows) in delivered {
            let extra = vec![
                (
                    delivery::Column::Attempts,
                    Expr::col(delivery::Column::Attempts).add(1),
                ),
                (
                    delivery::Column::LastStatus,
                    Expr::value(status.map(i32::from)),
                ),
            ];
            let held: std::collections::HashSet<Uuid> =
                queue::finish_update::<Deliveries>(&Finish::Done { attempts: None }, now, extra)
                    .filter(delivery::Column::Id.is_in(rows.iter().map(|(_, id)| *id)))
                    .filter(delivery::Column::LeaseOwner.eq(owner))
                    .exec_with_returning(&txn)
                    .await?
                    .into_iter()
                    .map(|row| row.id)
                    .collect();
            for (at, id) in rows {
                if held.contains(&id) {
                    outcomes[at] = DeliveryOutcome::Delivered;
                }
            }
        }
        let events = destination_health::record(&txn, tallies, health, now).await?;
        txn.commit().await?;
        Ok(Recorded { outcomes, events })
    }

    /// Gives back the delivery leases `owner` holds (at shutdown).
    pub async fn release_delivery_leases(&self, owner: &str) -> Result<u64, StoreError> {
        self.queue::<Deliveries>().release(owner).await
    }

    /// A tenant's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        tenant_id: Uuid,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut condition =
            queue::listed::<Deliveries>(tenant_id, &query.statuses, query.before_id);
        if let Some(destination_id) = query.destination_id {
            condition = condition.add(delivery::Column::DestinationId.eq(destination_id));
        }
        if let Some(inbox_event_id) = query.inbox_event_id {
            condition = condition.add(delivery::Column::InboxEventId.eq(inbox_event_id));
        }
        Ok(delivery::Entity::find()
            .filter(condition)
            .order_by_desc(delivery::Column::Id)
            .limit(query.limit.unwrap_or(100))
            .all(&self.reader)
            .await?)
    }

    /// Sends a tenant's failed or dead deliveries (of one destination, or these ids) again now,
    /// with a fresh count of attempts. Delivered ones, and one a forwarder is attempting right
    /// now, are left alone. Returns how many.
    pub async fn replay_deliveries(
        &self,
        tenant_id: Uuid,
        destination_id: Option<Uuid>,
        ids: &[Uuid],
    ) -> Result<u64, StoreError> {
        let selection = ReplaySelection {
            ids: (!ids.is_empty()).then_some(ids),
            statuses: &[DeliveryStatus::Failed, DeliveryStatus::Dead],
        };
        let mut condition = Condition::all();
        if let Some(destination_id) = destination_id {
            condition = condition.add(delivery::Column::DestinationId.eq(destination_id));
        }
        let replayed = queue::replay_rows::<Deliveries>(
            &self.writer,
            tenant_id,
            selection,
            condition,
            Vec::new(),
        )
        .await?;
        if replayed > 0 {
            self.announce(crate::Wakeup::Deliveries).await;
        }
        Ok(replayed)
    }

    /// Counts the deliveries not done, over all tenants.
    pub async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        self.queue::<Deliveries>().backlog(None).await
    }
}

/// Records one attempt in `db`, if `owner` still holds the delivery's lease.
async fn finish_one(
    db: &impl ConnectionTrait,
    owner: &str,
    job: &Delivery,
    attempt: Attempt,
    policy: &dyn RetryPolicy,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome, StoreError> {
    let attempts = job.attempts + 1;
    let (finish, status) = match attempt {
        Attempt::Delivered { status } => (
            Finish::Done {
                attempts: Some(attempts),
            },
            Some(status),
        ),
        Attempt::Failed {
            status,
            error,
            retry_after,
        } => {
            let mut finish = Finish::failed(attempts, error, Some(policy), now);
            // The destination's own word on when to come back wins over the backoff, when later.
            if let (Finish::Failed { retry_at, .. }, Some(wait)) = (&mut finish, retry_after)
                && let Some(at) = retry_at
            {
                *at = (*at).max(now + chrono::Duration::from_std(wait).unwrap_or_default());
            }
            (finish, status)
        }
    };
    let last_status = vec![(
        delivery::Column::LastStatus,
        Expr::value(status.map(i32::from)),
    )];
    let held =
        queue::finish_row::<Deliveries>(db, owner, job.id, &finish, now, last_status).await?;
    if held
        && let Finish::Failed {
            retry_at: None,
            error,
            ..
        } = &finish
    {
        notify_dead(db, job, attempts, status, error, now).await?;
    }
    Ok(match finish {
        _ if !held => DeliveryOutcome::LeaseLost,
        Finish::Done { .. } => DeliveryOutcome::Delivered,
        Finish::Failed {
            retry_at: Some(at), ..
        } => DeliveryOutcome::Retry(at),
        Finish::Failed { retry_at: None, .. } => DeliveryOutcome::Dead,
    })
}

/// Tells the tenant a delivery is dead, in the transaction that made it so.
async fn notify_dead(
    db: &impl ConnectionTrait,
    job: &Delivery,
    attempts: i32,
    status: Option<u16>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let event = inbox_event::Entity::find_by_id(job.inbox_event_id)
        .one(db)
        .await?;
    let data = serde_json::json!({
        "delivery_id": job.id,
        "destination_id": job.destination_id,
        "event_id": job.inbox_event_id,
        "svix_id": event.as_ref().map(|e| e.svix_id.clone()),
        "event_type": event.and_then(|e| e.event_type),
        "attempts": attempts,
        "last_status": status,
        "last_error": error,
    });
    crate::notifications::notify(db, job.tenant_id, "delivery.dead", data, now).await
}

/// Queues the event for each destination, in the caller's transaction. Idempotent: an event
/// already queued for a destination (a replayed event) is not queued twice.
pub(crate) async fn enqueue(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    inbox_event_id: Uuid,
    destinations: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    enqueue_many(db, [(tenant_id, inbox_event_id, destinations)], now).await
}

/// [`enqueue`] for many events at once: a few multi-row inserts for a whole batch.
pub(crate) async fn enqueue_many<'a>(
    db: &impl ConnectionTrait,
    events: impl IntoIterator<Item = (Uuid, Uuid, &'a [Uuid])>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // 13 values a row: well under SQLite's 32 766 bound values a statement.
    const ROWS_A_STATEMENT: usize = 500;
    let rows: Vec<delivery::ActiveModel> = events
        .into_iter()
        .flat_map(|(tenant_id, inbox_event_id, destinations)| {
            destinations
                .iter()
                .map(move |destination_id| (tenant_id, inbox_event_id, *destination_id))
        })
        .map(
            |(tenant_id, inbox_event_id, destination_id)| delivery::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(tenant_id),
                destination_id: Set(destination_id),
                inbox_event_id: Set(inbox_event_id),
                status: Set(DeliveryStatus::Pending),
                attempts: Set(0),
                next_attempt_at: Set(Some(now)),
                lease_owner: Set(None),
                lease_until: Set(None),
                last_error: Set(None),
                last_status: Set(None),
                created_at: Set(now),
                delivered_at: Set(None),
            },
        )
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        delivery::Entity::insert_many(rows.by_ref().take(ROWS_A_STATEMENT))
            .on_conflict_do_nothing_on([
                delivery::Column::DestinationId,
                delivery::Column::InboxEventId,
            ])
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
