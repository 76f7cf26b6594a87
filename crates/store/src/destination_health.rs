//! Destinations that look after themselves. A run of failures opens a destination's circuit:
//! nothing is sent to it but one probe at growing intervals, and its deliveries wait without
//! using up attempts. A destination failing for `disable_after`, or answering `410 Gone`, is
//! disabled. A `Retry-After` pauses it. `max_per_sec` spaces its sends, over every forwarder.
//!
//! The state lives on the destination's row so that every forwarder, in any process, sees it:
//! claims skip paused destinations, [`gate`] admits one probe and schedules rate-limited sends,
//! and [`record`] folds each batch of attempts into the row in the batch's transaction.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _, TransactionTrait as _,
};
use uuid::Uuid;

use crate::entities::{delivery, destination};
use crate::queue::{self, Deliveries};
use crate::{Delivery, Destination, StoreError};

/// When a failing destination's circuit opens, how it is probed, and when it is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Failed attempts in a row that open the circuit; 0 never opens it.
    pub circuit_after: u32,
    /// Wait before the first probe. Each next probe waits as long as the circuit has been open
    /// (at least this), so the waits double: base, base, 2 × base, 4 × base….
    pub probe_base: Duration,
    /// Longest wait between probes.
    pub probe_cap: Duration,
    /// Failing this long without a success disables the destination.
    pub disable_after: Duration,
}

impl HealthPolicy {
    /// The wait before the next probe of a circuit open since `opened_at`. Counted from the
    /// opening rather than from failures: attempts already in flight when it opened, failing
    /// after, do not grow it (and do not move a pause already set, see `fold_failures`).
    fn probe_wait(&self, opened_at: DateTime<Utc>, now: DateTime<Utc>) -> chrono::Duration {
        let open_for = (now - opened_at).to_std().unwrap_or_default();
        to_chrono(open_for.max(self.probe_base).min(self.probe_cap))
    }
}

/// What became of a destination's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthChange {
    /// Its circuit opened after this many failures in a row.
    CircuitOpened { failures: i32 },
    /// It succeeded again after its circuit had opened.
    Recovered,
    /// hookgate disabled it, for this reason.
    Disabled { reason: String },
}

/// A change of one destination's health, from a batch of recorded attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationEvent {
    pub tenant_id: Uuid,
    pub destination_id: Uuid,
    pub destination_name: String,
    pub change: HealthChange,
    /// The last error, when it failed.
    pub last_error: Option<String>,
}

/// One destination's attempts in a batch, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    /// The deliveries attempted: whether the destination's probe is among them.
    attempted: Vec<Uuid>,
    succeeded: bool,
    /// Failures after the batch's last success (all of them when none succeeded).
    failures: i32,
    gone: bool,
    retry_after: Option<Duration>,
    last_error: Option<String>,
}

impl Tally {
    pub(crate) fn success(&mut self, delivery: Uuid) {
        self.attempted.push(delivery);
        self.succeeded = true;
        self.failures = 0;
        self.gone = false;
        self.retry_after = None;
        self.last_error = None;
    }

    pub(crate) fn failure(
        &mut self,
        delivery: Uuid,
        status: Option<u16>,
        retry_after: Option<Duration>,
        error: &str,
    ) {
        self.attempted.push(delivery);
        self.failures += 1;
        self.gone |= status == Some(410);
        self.retry_after = self.retry_after.max(retry_after);
        self.last_error = Some(error.to_owned());
    }
}

/// Folds a batch's attempts into their destinations' rows, in the batch's transaction.
pub(crate) async fn record(
    txn: &impl ConnectionTrait,
    tallies: HashMap<Uuid, Tally>,
    policy: &HealthPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<DestinationEvent>, StoreError> {
    let mut events = Vec::new();
    let failing = tallies
        .iter()
        .filter(|(_, t)| t.failures > 0)
        .map(|(id, _)| *id);
    // Only the rows with something to change: the failing ones, and those a success clears (a
    // run of failures, a pause, an open circuit). The common case (nothing was wrong) reads no
    // row and writes nothing. Locked in id order, so two recorders never wait on each other
    // crosswise (PostgreSQL would abort one of them).
    let rows = destination::Entity::find()
        .filter(destination::Column::Id.is_in(tallies.keys().copied()))
        .filter(
            sea_orm::Condition::any()
                .add(destination::Column::Id.is_in(failing))
                .add(destination::Column::ConsecutiveFailures.ne(0))
                .add(destination::Column::PausedUntil.is_not_null())
                .add(destination::Column::CircuitOpenedAt.is_not_null()),
        )
        .order_by_asc(destination::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await?;
    for row in rows {
        let Some(tally) = tallies.get(&row.id) else {
            continue;
        };
        if tally.failures > 0 {
            events.extend(fold_failures(txn, row, tally, policy, now).await?);
            continue;
        }
        cleared()
            .filter(destination::Column::Id.eq(row.id))
            .exec(txn)
            .await?;
        if row.circuit_opened_at.is_some() {
            events.push(DestinationEvent {
                tenant_id: row.tenant_id,
                destination_id: row.id,
                destination_name: row.name,
                change: HealthChange::Recovered,
                last_error: None,
            });
        }
    }
    for event in &events {
        let (event_type, mut data) = match &event.change {
            HealthChange::CircuitOpened { .. } => continue,
            HealthChange::Recovered => ("destination.recovered", serde_json::json!({})),
            HealthChange::Disabled { reason } => (
                "destination.disabled",
                serde_json::json!({"reason": reason, "last_error": event.last_error}),
            ),
        };
        if let Some(fields) = data.as_object_mut() {
            fields.insert(
                "destination_id".into(),
                event.destination_id.to_string().into(),
            );
            fields.insert(
                "destination_name".into(),
                event.destination_name.clone().into(),
            );
        }
        crate::notifications::notify(txn, event.tenant_id, event_type, data, now).await?;
    }
    Ok(events)
}

/// Clears a destination's run of failures and its circuit.
fn cleared() -> sea_orm::UpdateMany<destination::Entity> {
    clear_health(destination::Entity::update_many())
}

/// Adds to `update` what clears a destination's health: its run of failures, its circuit, its
/// pause and its probe. (Enabling a destination does this too.)
pub(crate) fn clear_health(
    update: sea_orm::UpdateMany<destination::Entity>,
) -> sea_orm::UpdateMany<destination::Entity> {
    update
        .col_expr(destination::Column::ConsecutiveFailures, Expr::value(0))
        .col_expr(destination::Column::FailingSince, none_at())
        .col_expr(destination::Column::CircuitOpenedAt, none_at())
        .col_expr(destination::Column::PausedUntil, none_at())
        .col_expr(
            destination::Column::ProbeDeliveryId,
            Expr::value(Option::<Uuid>::None),
        )
}

fn none_at() -> SimpleExpr {
    Expr::value(Option::<DateTime<Utc>>::None)
}

async fn fold_failures(
    txn: &impl ConnectionTrait,
    row: Destination,
    tally: &Tally,
    policy: &HealthPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<DestinationEvent>, StoreError> {
    let (failures, failing_since) = if tally.succeeded {
        (tally.failures, now)
    } else {
        (
            row.consecutive_failures.saturating_add(tally.failures),
            row.failing_since.unwrap_or(now),
        )
    };
    let threshold = i32::try_from(policy.circuit_after).unwrap_or(i32::MAX);
    let opened_at = (policy.circuit_after > 0 && failures >= threshold)
        .then(|| row.circuit_opened_at.unwrap_or(now));
    let open = opened_at.is_some();
    let was_open = row.circuit_opened_at.is_some();
    let probed = row
        .probe_delivery_id
        .is_some_and(|probe| tally.attempted.contains(&probe));
    let mut paused_until = match (opened_at, tally.succeeded) {
        // Opening, or the probe failed: the next probe after the wait.
        (Some(opened_at), _) if !was_open || probed => {
            Some(now + policy.probe_wait(opened_at, now))
        }
        // An attempt that began before the circuit opened, failing now: the probe's hold (or
        // the wait before it) stays as it is.
        (Some(opened_at), _) => Some(
            row.paused_until
                .unwrap_or_else(|| now + policy.probe_wait(opened_at, now)),
        ),
        (None, true) => None,
        (None, false) => row.paused_until,
    };
    if let Some(wait) = tally.retry_after {
        paused_until = paused_until.max(Some(now + to_chrono(wait)));
    }
    let event = |change| DestinationEvent {
        tenant_id: row.tenant_id,
        destination_id: row.id,
        destination_name: row.name.clone(),
        change,
        last_error: tally.last_error.clone(),
    };
    let mut events = Vec::new();
    if open && !was_open {
        events.push(event(HealthChange::CircuitOpened { failures }));
    } else if !open && was_open && tally.succeeded {
        events.push(event(HealthChange::Recovered));
    }
    let mut disabled = None;
    if row.enabled {
        if tally.gone {
            disabled = Some("the destination answered 410 Gone".to_owned());
        } else if now - failing_since >= to_chrono(policy.disable_after) {
            disabled = Some(format!(
                "failing since {} without a success",
                failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
    }
    let mut update = destination::Entity::update_many()
        .col_expr(
            destination::Column::ConsecutiveFailures,
            Expr::value(failures),
        )
        .col_expr(
            destination::Column::FailingSince,
            Expr::value(Some(failing_since)),
        )
        .col_expr(destination::Column::CircuitOpenedAt, Expr::value(opened_at))
        .col_expr(destination::Column::PausedUntil, Expr::value(paused_until))
        .col_expr(
            destination::Column::ProbeDeliveryId,
            Expr::value(row.probe_delivery_id.filter(|_| open && !probed)),
        )
        .filter(destination::Column::Id.eq(row.id));
    if let Some(reason) = disabled {
        update = update
            .col_expr(destination::Column::Enabled, Expr::value(false))
            .col_expr(
                destination::Column::DisabledReason,
                Expr::value(Some(reason.clone())),
            );
        events.push(event(HealthChange::Disabled { reason }));
    }
    update.exec(txn).await?;
    Ok(events)
}

/// A claimed delivery the gate let through, and when it may be sent (rate-limited sends are
/// spaced; `None` for now).
pub(crate) type Admitted = (Delivery, Option<DateTime<Utc>>);

/// Lets claimed deliveries through the gates of their destinations: one probe for an open
/// circuit (the rest go back, their attempts untouched), and sends spaced by `max_per_sec` no
/// further ahead than a second (the rest go back until their turn). Destinations with
/// neither pass untouched, without a write.
pub(crate) async fn gate(
    writer: &DatabaseConnection,
    owner: &str,
    claimed: Vec<Delivery>,
    destinations: &HashMap<Uuid, Destination>,
    lease: Duration,
) -> Result<Vec<Admitted>, StoreError> {
    let gated = |d: &Delivery| {
        destinations
            .get(&d.destination_id)
            .is_some_and(|row| row.circuit_opened_at.is_some() || row.max_per_sec.is_some())
    };
    if !claimed.iter().any(gated) {
        return Ok(claimed.into_iter().map(|d| (d, None)).collect());
    }
    let mut admitted = Vec::with_capacity(claimed.len());
    let mut by_destination: HashMap<Uuid, Vec<Delivery>> = HashMap::new();
    for delivery in claimed {
        if gated(&delivery) {
            by_destination
                .entry(delivery.destination_id)
                .or_default()
                .push(delivery);
        } else {
            admitted.push((delivery, None));
        }
    }
    for (id, deliveries) in by_destination {
        admitted.extend(gate_one(writer, owner, id, deliveries, lease).await?);
    }
    Ok(admitted)
}

async fn gate_one(
    writer: &DatabaseConnection,
    owner: &str,
    id: Uuid,
    mut deliveries: Vec<Delivery>,
    lease: Duration,
) -> Result<Vec<Admitted>, StoreError> {
    let txn = writer.begin().await?;
    let now = Utc::now();
    let Some(row) = destination::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(Vec::new());
    };
    let mut update = destination::Entity::update_many().filter(destination::Column::Id.eq(id));
    // Deliveries held back by the circuit keep their place: the claim skips them while the
    // destination is paused, and they go as soon as a probe succeeds.
    let mut waiting: Vec<Uuid> = Vec::new();
    let mut changed = false;
    if row.circuit_opened_at.is_some() {
        let probing = row.paused_until.is_some_and(|until| until > now);
        let keep = usize::from(!probing).min(deliveries.len());
        waiting.extend(deliveries.drain(keep..).map(|d| d.id));
        if let Some(probe) = deliveries.first().filter(|_| keep == 1) {
            changed = true;
            update = update.col_expr(
                destination::Column::ProbeDeliveryId,
                Expr::value(Some(probe.id)),
            );
            // Held for the probe's lease: if its forwarder dies, the next probe follows.
            update = update.col_expr(
                destination::Column::PausedUntil,
                Expr::value(Some(now + to_chrono(lease))),
            );
        }
    }
    let mut admitted: Vec<Admitted> = Vec::with_capacity(deliveries.len());
    let mut later: Vec<(Uuid, DateTime<Utc>)> = Vec::new();
    match row.max_per_sec.filter(|rate| *rate > 0) {
        Some(rate) if !deliveries.is_empty() => {
            let spacing = chrono::Duration::nanoseconds(1_000_000_000 / i64::from(rate));
            // Sends are let through only a moment ahead: a forwarder sleeps to each one's
            // time holding a slot, and a slow destination must not fill every slot. The claim
            // skips the destination until its next free time.
            let horizon = now + to_chrono(RATE_WINDOW.min(lease / 2));
            let mut slot = row.next_send_at.map_or(now, |next| next.max(now));
            for delivery in deliveries {
                if slot <= horizon {
                    admitted.push((delivery, Some(slot)));
                    slot += spacing;
                } else {
                    later.push((delivery.id, slot));
                }
            }
            changed = true;
            update = update.col_expr(destination::Column::NextSendAt, Expr::value(Some(slot)));
        }
        _ => admitted.extend(deliveries.into_iter().map(|d| (d, None))),
    }
    if changed {
        update.exec(&txn).await?;
    }
    if !waiting.is_empty() {
        queue::release_lease::<Deliveries>()
            .filter(delivery::Column::Id.is_in(waiting))
            .filter(delivery::Column::LeaseOwner.eq(owner))
            .exec(&txn)
            .await?;
    }
    if let Some((_, first)) = later.first() {
        // Each back at the first free slot past the horizon: claimed again then, and spaced anew.
        queue::release_lease::<Deliveries>()
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(Some(*first)))
            .filter(delivery::Column::Id.is_in(later.iter().map(|(id, _)| *id)))
            .filter(delivery::Column::LeaseOwner.eq(owner))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(admitted)
}

/// How far ahead a rate-limited destination's sends are booked by one claim.
const RATE_WINDOW: Duration = Duration::from_secs(1);

fn to_chrono(wait: Duration) -> chrono::Duration {
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(365))
}
