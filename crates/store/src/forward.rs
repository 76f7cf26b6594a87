//! Forwarding: a tenant's destinations, and the deliveries of its events to them. A delivery row
//! is written in the transaction that applies the event (an outbox), then claimed with a lease
//! like inbox events, attempted, and retried or marked dead.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use crate::entities::delivery::{self, DeliveryStatus};
use crate::entities::{destination, inbox_event};
use crate::inbox::storable_text;
use crate::queue::{RetryPolicy, claim_statement};
use crate::{Delivery, Destination, Store, StoreError};

/// A destination to create. The caller encrypts the signing secret.
#[derive(Clone)]
pub struct NewDestination {
    pub name: String,
    pub url: String,
    /// Comma-separated event type globs.
    pub event_types: String,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for NewDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDestination")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .finish_non_exhaustive()
    }
}

/// Changes to a destination; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DestinationPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<String>,
    pub enabled: Option<bool>,
}

/// A claimed delivery with what it takes to attempt it.
#[derive(Clone)]
pub struct DeliveryJob {
    pub delivery: Delivery,
    pub url: String,
    /// The destination's encrypted signing secret.
    pub ciphertext: Vec<u8>,
    pub svix_id: String,
    pub event_type: Option<String>,
    /// The event exactly as Clerk sent it.
    pub body: Vec<u8>,
    pub trace_parent: Option<String>,
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
    /// No 2xx: the status when there was an answer, and why.
    Failed { status: Option<u16>, error: String },
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryBacklog {
    pub pending: u64,
    pub failed: u64,
    pub dead: u64,
}

impl Store {
    pub async fn create_destination(
        &self,
        tenant_id: Uuid,
        new: NewDestination,
    ) -> Result<Destination, StoreError> {
        let now = Utc::now();
        let model = destination::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            name: Set(new.name),
            url: Set(new.url),
            event_types: Set(new.event_types),
            ciphertext: Set(new.ciphertext),
            enabled: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        };
        Ok(destination::Entity::insert(model)
            .exec_with_returning(&self.writer)
            .await?)
    }

    pub async fn list_destinations(&self, tenant_id: Uuid) -> Result<Vec<Destination>, StoreError> {
        Ok(destination::Entity::find()
            .filter(destination::Column::TenantId.eq(tenant_id))
            .order_by_asc(destination::Column::Id)
            .all(&self.reader)
            .await?)
    }

    pub async fn find_destination(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Destination>, StoreError> {
        Ok(destination::Entity::find_by_id(id)
            .filter(destination::Column::TenantId.eq(tenant_id))
            .one(&self.reader)
            .await?)
    }

    pub async fn update_destination(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        patch: DestinationPatch,
    ) -> Result<Destination, StoreError> {
        let mut update = destination::Entity::update_many()
            .col_expr(destination::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(destination::Column::Id.eq(id))
            .filter(destination::Column::TenantId.eq(tenant_id));
        if let Some(name) = patch.name {
            update = update.col_expr(destination::Column::Name, Expr::value(name));
        }
        if let Some(url) = patch.url {
            update = update.col_expr(destination::Column::Url, Expr::value(url));
        }
        if let Some(event_types) = patch.event_types {
            update = update.col_expr(destination::Column::EventTypes, Expr::value(event_types));
        }
        if let Some(enabled) = patch.enabled {
            update = update.col_expr(destination::Column::Enabled, Expr::value(enabled));
        }
        if update.exec(&self.writer).await?.rows_affected == 0 {
            return Err(StoreError::NotFound {
                what: "the destination",
            });
        }
        destination::Entity::find_by_id(id)
            .one(&self.writer)
            .await?
            .ok_or(StoreError::NotFound {
                what: "the destination",
            })
    }

    /// Deletes a destination and its deliveries.
    pub async fn delete_destination(&self, tenant_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        delivery::Entity::delete_many()
            .filter(delivery::Column::DestinationId.eq(id))
            .filter(delivery::Column::TenantId.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        let res = destination::Entity::delete_many()
            .filter(destination::Column::Id.eq(id))
            .filter(destination::Column::TenantId.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// The enabled destinations of these tenants, by tenant.
    pub async fn enabled_destinations(
        &self,
        tenant_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Destination>>, StoreError> {
        let mut by_tenant: HashMap<Uuid, Vec<Destination>> = HashMap::new();
        if tenant_ids.is_empty() {
            return Ok(by_tenant);
        }
        let rows = destination::Entity::find()
            .filter(destination::Column::TenantId.is_in(tenant_ids.iter().copied()))
            .filter(destination::Column::Enabled.eq(true))
            .all(&self.reader)
            .await?;
        for row in rows {
            by_tenant.entry(row.tenant_id).or_default().push(row);
        }
        Ok(by_tenant)
    }

    /// Claims up to `limit` due deliveries for `lease`, with their destination and event.
    pub async fn claim_due_deliveries(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<DeliveryJob>, StoreError> {
        let statement = claim_statement(
            self.writer.get_database_backend(),
            "deliveries",
            owner,
            limit,
            lease,
        );
        let claimed = delivery::Entity::find()
            .from_raw_sql(statement)
            .all(&self.writer)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let destinations: HashMap<Uuid, Destination> = destination::Entity::find()
            .filter(destination::Column::Id.is_in(claimed.iter().map(|d| d.destination_id)))
            .all(&self.writer)
            .await?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
        let events: HashMap<Uuid, crate::InboxEvent> = inbox_event::Entity::find()
            .filter(inbox_event::Column::Id.is_in(claimed.iter().map(|d| d.inbox_event_id)))
            .all(&self.writer)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        // Cascading deletes make a missing destination or event impossible; skip rather than
        // fail the others if it happens anyway.
        Ok(claimed
            .into_iter()
            .filter_map(|delivery| {
                let destination = destinations.get(&delivery.destination_id)?;
                let event = events.get(&delivery.inbox_event_id)?;
                Some(DeliveryJob {
                    url: destination.url.clone(),
                    ciphertext: destination.ciphertext.clone(),
                    svix_id: event.svix_id.clone(),
                    event_type: event.event_type.clone(),
                    body: event.body.clone(),
                    trace_parent: event.trace_parent.clone(),
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
        let now = Utc::now();
        let attempts = job.attempts + 1;
        let update = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                delivery::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(delivery::Column::Attempts, Expr::value(attempts))
            .filter(delivery::Column::Id.eq(job.id))
            .filter(delivery::Column::LeaseOwner.eq(owner));
        let (update, outcome) = match attempt {
            Attempt::Delivered { status } => (
                update
                    .col_expr(delivery::Column::Status, Expr::value(DeliveryStatus::Done))
                    .col_expr(delivery::Column::LastStatus, Expr::value(i32::from(status)))
                    .col_expr(
                        delivery::Column::LastError,
                        Expr::value(Option::<String>::None),
                    )
                    .col_expr(delivery::Column::DeliveredAt, Expr::value(Some(now))),
                DeliveryOutcome::Delivered,
            ),
            Attempt::Failed { status, error } => {
                let retry_at = policy.next_attempt(attempts, now);
                let (state, outcome) = match retry_at {
                    Some(at) => (DeliveryStatus::Failed, DeliveryOutcome::Retry(at)),
                    None => (DeliveryStatus::Dead, DeliveryOutcome::Dead),
                };
                (
                    update
                        .col_expr(delivery::Column::Status, Expr::value(state))
                        .col_expr(delivery::Column::NextAttemptAt, Expr::value(retry_at))
                        .col_expr(
                            delivery::Column::LastStatus,
                            Expr::value(status.map(i32::from)),
                        )
                        .col_expr(
                            delivery::Column::LastError,
                            Expr::value(Some(storable_text(&error))),
                        ),
                    outcome,
                )
            }
        };
        if update.exec(&self.writer).await?.rows_affected == 0 {
            return Ok(DeliveryOutcome::LeaseLost);
        }
        Ok(outcome)
    }

    /// Gives back the delivery leases `owner` holds (at shutdown).
    pub async fn release_delivery_leases(&self, owner: &str) -> Result<u64, StoreError> {
        let res = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                delivery::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(delivery::Column::LeaseOwner.eq(owner))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected)
    }

    /// A tenant's deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        tenant_id: Uuid,
        query: &DeliveryQuery,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut select = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(tenant_id))
            .order_by_desc(delivery::Column::Id)
            .limit(query.limit.unwrap_or(100));
        if let Some(destination_id) = query.destination_id {
            select = select.filter(delivery::Column::DestinationId.eq(destination_id));
        }
        if let Some(inbox_event_id) = query.inbox_event_id {
            select = select.filter(delivery::Column::InboxEventId.eq(inbox_event_id));
        }
        if !query.statuses.is_empty() {
            select = select.filter(delivery::Column::Status.is_in(query.statuses.iter().copied()));
        }
        if let Some(before) = query.before_id {
            select = select.filter(delivery::Column::Id.lt(before));
        }
        Ok(select.all(&self.reader).await?)
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
        let chunks: Vec<Option<&[Uuid]>> = if ids.is_empty() {
            vec![None]
        } else {
            ids.chunks(500).map(Some).collect()
        };
        let mut replayed = 0;
        for chunk in chunks {
            let now = Utc::now();
            let mut update = delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::Status,
                    Expr::value(DeliveryStatus::Pending),
                )
                .col_expr(delivery::Column::Attempts, Expr::value(0))
                .col_expr(delivery::Column::NextAttemptAt, Expr::value(Some(now)))
                .filter(delivery::Column::TenantId.eq(tenant_id))
                .filter(
                    delivery::Column::Status.is_in([DeliveryStatus::Failed, DeliveryStatus::Dead]),
                )
                // Taking a delivery from the forwarder attempting it would send it twice.
                .filter(
                    Condition::any()
                        .add(delivery::Column::LeaseUntil.is_null())
                        .add(delivery::Column::LeaseUntil.lt(now)),
                );
            if let Some(destination_id) = destination_id {
                update = update.filter(delivery::Column::DestinationId.eq(destination_id));
            }
            if let Some(chunk) = chunk {
                update = update.filter(delivery::Column::Id.is_in(chunk.iter().copied()));
            }
            replayed += update.exec(&self.writer).await?.rows_affected;
        }
        Ok(replayed)
    }

    /// Counts the deliveries not done, over all tenants.
    pub async fn delivery_backlog(&self) -> Result<DeliveryBacklog, StoreError> {
        let rows: Vec<(DeliveryStatus, i64)> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Status)
            .column_as(Expr::col(Asterisk).count(), "count")
            .filter(delivery::Column::Status.is_in([
                DeliveryStatus::Pending,
                DeliveryStatus::Failed,
                DeliveryStatus::Dead,
            ]))
            .group_by(delivery::Column::Status)
            .into_tuple()
            .all(&self.reader)
            .await?;
        let mut backlog = DeliveryBacklog::default();
        for (status, count) in rows {
            let count = u64::try_from(count).unwrap_or(0);
            match status {
                DeliveryStatus::Pending => backlog.pending = count,
                DeliveryStatus::Failed => backlog.failed = count,
                DeliveryStatus::Dead => backlog.dead = count,
                DeliveryStatus::Done => {}
            }
        }
        Ok(backlog)
    }
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
    if destinations.is_empty() {
        return Ok(());
    }
    let rows = destinations
        .iter()
        .map(|destination_id| delivery::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            destination_id: Set(*destination_id),
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
        });
    delivery::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([
            delivery::Column::DestinationId,
            delivery::Column::InboxEventId,
        ])
        .exec_without_returning(db)
        .await?;
    Ok(())
}
