use std::sync::Arc;
use std::time::Duration;

use hookgate_events::{ClerkEvent, EntityKind, Envelope, EventFilter, EventType};
use hookgate_store::{InboxEvent, Outcome, Prepared, Store, StoreError, Uuid};
use serde_json::value::RawValue;
use tokio::sync::{Notify, watch};

use crate::Backoff;

#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Most events claimed and applied in one transaction.
    pub batch_size: u64,
    /// How long a claim holds; a crashed worker's events return to the queue after it.
    pub lease: Duration,
    /// How often to look for due events when nothing wakes the worker (retries that come due,
    /// events stored by other processes).
    pub poll_interval: Duration,
    pub backoff: Backoff,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub claimed: usize,
    pub done: usize,
    pub retried: usize,
    pub dead: usize,
    pub lease_lost: usize,
}

/// One worker loop. Several may run, in one process or many, on one queue.
#[derive(Debug, Clone)]
pub struct Worker {
    store: Store,
    settings: WorkerSettings,
    owner: String,
    wake: Arc<Notify>,
    /// Notified when a batch queued deliveries, so the forwarders start at once.
    forward_wake: Option<Arc<Notify>>,
}

impl Worker {
    /// `wake` is notified by ingest when it stores an event, so the worker starts at once.
    pub fn new(store: Store, settings: WorkerSettings, wake: Arc<Notify>) -> Self {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        Self {
            store,
            settings,
            owner,
            wake,
            forward_wake: None,
        }
    }

    /// Wakes `forwarders` whenever a batch queues deliveries.
    pub fn with_forward_wake(mut self, forwarders: Arc<Notify>) -> Self {
        self.forward_wake = Some(forwarders);
        self
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Claims one batch and applies it.
    pub async fn run_batch(&self) -> Result<BatchReport, StoreError> {
        let claimed = self
            .store
            .claim_due_events(&self.owner, self.settings.batch_size, self.settings.lease)
            .await?;
        let mut report = BatchReport {
            claimed: claimed.len(),
            ..BatchReport::default()
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        // When Clerk emitted each event (its `timestamp`, else when it was stored) and when it
        // was stored: lag end to end, and the part spent waiting in hookgate's queue.
        let times: std::collections::HashMap<_, _> = claimed
            .iter()
            .map(|e| {
                let emitted = e
                    .event_timestamp_ms
                    .and_then(chrono::DateTime::from_timestamp_millis)
                    .unwrap_or(e.received_at);
                (e.id, (emitted, e.received_at))
            })
            .collect();
        metrics::histogram!("hookgate_worker_batch_size").record(claimed.len() as f64);
        let mut tenants: Vec<_> = claimed.iter().map(|e| e.tenant_id).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let destinations = self.store.enabled_destinations(&tenants).await?;
        let mut batch: Vec<Prepared> = claimed
            .into_iter()
            .map(|inbox| {
                let mut prepared = prepare(inbox);
                prepared.forward_to = routes(&prepared, &destinations);
                prepared
            })
            .collect();
        let forwards = batch.iter().any(|p| !p.forward_to.is_empty());
        let warned: std::collections::HashMap<_, _> =
            batch.iter().filter_map(warning_labels).collect();
        batch.sort_by_cached_key(apply_order);
        let outcomes = self
            .store
            .process_batch(&self.owner, batch, &self.settings.backoff)
            .await?;
        if forwards && let Some(forward) = &self.forward_wake {
            forward.notify_one();
        }
        let now = chrono::Utc::now();
        for (id, outcome) in outcomes {
            metrics::counter!("hookgate_apply_total", "outcome" => outcome.label()).increment(1);
            if matches!(outcome, Outcome::Done(_))
                && let Some((emitted, received)) = times.get(&id)
            {
                let seconds = |since: chrono::DateTime<chrono::Utc>| {
                    (now - since).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6
                };
                metrics::histogram!("hookgate_processing_lag_seconds").record(seconds(*emitted));
                metrics::histogram!("hookgate_queue_wait_seconds").record(seconds(*received));
            }
            // Counted once per applied event, not per attempt.
            if matches!(outcome, Outcome::Done(_))
                && let Some((event_type, fields)) = warned.get(&id)
            {
                for field in fields {
                    metrics::counter!(
                        "hookgate_decode_warnings_total",
                        "event_type" => event_type.clone(),
                        "field" => field.clone(),
                    )
                    .increment(1);
                }
            }
            match outcome {
                Outcome::Done(_) => report.done += 1,
                Outcome::Retry(at) => {
                    report.retried += 1;
                    tracing::warn!(inbox_id = %id, retry_at = %at, "event failed; retrying later");
                }
                Outcome::Dead => {
                    report.dead += 1;
                    tracing::error!(inbox_id = %id, "event is dead; see its last_error, replay when fixed");
                }
                Outcome::LeaseLost => report.lease_lost += 1,
            }
        }
        Ok(report)
    }

    /// Works until `stop` turns true: a full batch is followed at once by the next; otherwise the
    /// worker waits for ingest to wake it or for the poll interval. The batch in hand is always
    /// finished; leases still held at the end are released.
    pub async fn run(&self, mut stop: watch::Receiver<bool>) {
        let mut failures = 0u32;
        while !*stop.borrow() {
            let full = match self.run_batch().await {
                Ok(report) => {
                    failures = 0;
                    report.claimed as u64 == self.settings.batch_size
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%err, "worker could not reach the database");
                    false
                }
            };
            if full {
                continue;
            }
            // Back off while the database is down instead of spinning on it.
            let pause = self.settings.poll_interval * failures.clamp(1, 10);
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
        if let Err(err) = self.store.release_leases(&self.owner).await {
            tracing::warn!(%err, "could not release leases; they expire on their own");
        }
    }
}

/// Every worker writes a batch's rows of one table and kind of write in one global order
/// (tenant, kind, Clerk id), so two batches touching the same rows seldom wait on each other
/// crosswise on PostgreSQL (rows are keyed by tenant and Clerk id, and two tenants may hold the
/// same id). Across kinds of write they still can (one batch updates a user another deletes):
/// PostgreSQL then aborts one, and that batch is applied again event by event. Order within one
/// object does not matter: applies are guarded by version.
fn apply_order(prepared: &Prepared) -> (Uuid, Option<(EntityKind, String)>) {
    let entity = prepared
        .decoded
        .as_ref()
        .ok()
        .and_then(|(event, _)| event.entity().map(|e| (e.kind, e.id.to_string())));
    (prepared.inbox.tenant_id, entity)
}

/// The labels of an event's decode warnings: known types and field paths without list
/// positions, a bounded set.
fn warning_labels(prepared: &Prepared) -> Option<(Uuid, (String, Vec<String>))> {
    let (event, _) = prepared.decoded.as_ref().ok()?;
    if event.warnings.is_empty() {
        return None;
    }
    let event_type = match event.event_type.kind() {
        Some(_) => event.event_type.as_str().to_owned(),
        None => "unknown".to_owned(),
    };
    let fields = event.warnings.iter().map(|w| w.field()).collect();
    Some((prepared.inbox.id, (event_type, fields)))
}

fn prepare(inbox: InboxEvent) -> Prepared {
    let decoded = decode(&inbox.body);
    let span = tracing::info_span!(
        "apply",
        tenant_id = %inbox.tenant_id,
        inbox_id = %inbox.id,
        svix_id = %inbox.svix_id,
        event_type = inbox.event_type.as_deref().unwrap_or_default(),
        entity = tracing::field::Empty,
        attempt = inbox.attempts + 1,
        outcome = tracing::field::Empty,
    );
    if let Ok((event, _)) = &decoded
        && !event.warnings.is_empty()
    {
        tracing::warn!(
            inbox_id = %inbox.id,
            warnings = %event.warnings.iter().map(|w| w.path.as_str()).collect::<Vec<_>>().join(", "),
            "fields of unexpected types read as absent"
        );
    }
    if let Ok((event, _)) = &decoded
        && let Some(entity) = event.entity()
    {
        span.record(
            "entity",
            tracing::field::display(format_args!("{:?}:{}", entity.kind, entity.id)),
        );
    }
    if let Some(parent) = &inbox.trace_parent {
        crate::trace_context::adopt_stored_parent(&span, parent);
    }
    Prepared {
        inbox,
        decoded,
        span,
        forward_to: Vec::new(),
    }
}

/// The enabled destinations of the event's tenant whose patterns match its type. Routing needs
/// only the envelope's type (checked at ingest), so an event whose `data` cannot be decoded is
/// forwarded all the same: a destination gets what Clerk sent, whatever hookgate makes of it.
fn routes(
    prepared: &Prepared,
    destinations: &std::collections::HashMap<
        hookgate_store::Uuid,
        Vec<hookgate_store::Destination>,
    >,
) -> Vec<hookgate_store::Uuid> {
    let Some(event_type) = prepared.inbox.event_type.as_deref().map(EventType::parse) else {
        return Vec::new();
    };
    let Some(candidates) = destinations.get(&prepared.inbox.tenant_id) else {
        return Vec::new();
    };
    candidates
        .iter()
        .filter(|d| {
            d.event_type_patterns()
                .any(|pattern| EventFilter::parse(pattern).is_ok_and(|f| f.matches(&event_type)))
        })
        .map(|d| d.id)
        .collect()
}

/// The typed event and the raw `data` Clerk sent (kept whole in the sync row).
fn decode(body: &[u8]) -> Result<(ClerkEvent, Box<RawValue>), String> {
    let envelope = Envelope::parse(body).map_err(|e| e.to_string())?;
    let data = envelope.data.to_owned();
    let event = ClerkEvent::from_envelope(envelope).map_err(|e| e.to_string())?;
    Ok((event, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(tenant: Uuid, user: &str) -> Prepared {
        let body = format!(
            r#"{{"data":{{"id":"{user}","updated_at":1}},"object":"event","type":"user.updated","timestamp":1}}"#
        );
        prepare(InboxEvent {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            svix_id: format!("msg_{user}"),
            event_type: Some("user.updated".into()),
            instance_id: None,
            event_timestamp_ms: Some(1),
            received_at: chrono::Utc::now(),
            body: body.into_bytes(),
            status: hookgate_store::InboxStatus::Pending,
            attempts: 0,
            next_attempt_at: None,
            lease_owner: None,
            lease_until: None,
            last_error: None,
            processed_at: None,
            trace_parent: None,
            warnings: None,
            body_sha256: None,
        })
    }

    #[test]
    fn batches_apply_in_tenant_then_object_order() {
        let (first, second) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // Two tenants may hold the same Clerk id: the tenant decides between them.
        let mut batch = [
            claimed(second, "user_a"),
            claimed(first, "user_b"),
            claimed(first, "user_a"),
        ];
        batch.sort_by_cached_key(apply_order);
        let order: Vec<(Uuid, &str)> = batch
            .iter()
            .map(|p| (p.inbox.tenant_id, p.inbox.svix_id.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (first, "msg_user_a"),
                (first, "msg_user_b"),
                (second, "msg_user_a")
            ]
        );
    }
}
