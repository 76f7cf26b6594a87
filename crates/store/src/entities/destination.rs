use std::fmt;

use sea_orm::entity::prelude::*;

/// Where a tenant's events are forwarded. The signing secret is stored encrypted.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "destinations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub url: String,
    /// Comma-separated event type globs.
    pub event_types: String,
    /// Nonce followed by the AEAD ciphertext of the signing secret.
    pub ciphertext: Vec<u8>,
    /// The full URL, sealed, when it holds credentials (`url` then shows them as `***`).
    pub url_ciphertext: Option<Vec<u8>>,
    pub enabled: bool,
    /// Failed attempts in a row, over all its deliveries.
    pub consecutive_failures: i32,
    /// When the current run of failures began; `None` while it succeeds.
    pub failing_since: Option<DateTimeUtc>,
    /// When too many failures in a row opened its circuit: one probe at a time until one
    /// succeeds. `None` while closed.
    pub circuit_opened_at: Option<DateTimeUtc>,
    /// Nothing is sent before this (the circuit's next probe, a `Retry-After`, a probe in
    /// flight).
    pub paused_until: Option<DateTimeUtc>,
    /// Why hookgate disabled it (an operator's disabling has none).
    pub disabled_reason: Option<String>,
    /// At most this many sends a second, over every forwarder.
    pub max_per_sec: Option<i32>,
    /// The rate limit's schedule: the next free send time.
    pub next_send_at: Option<DateTimeUtc>,
    /// The delivery sent as the open circuit's probe, while it is out.
    pub probe_delivery_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// How it is doing, in one word: `healthy`, `failing` (its last attempt failed),
    /// `circuit_open` (one probe at a time) or `disabled`.
    pub fn health_state(&self) -> &'static str {
        if !self.enabled {
            "disabled"
        } else if self.circuit_opened_at.is_some() {
            "circuit_open"
        } else if self.consecutive_failures > 0 {
            "failing"
        } else {
            "healthy"
        }
    }

    /// The event type globs, as stored.
    pub fn event_type_patterns(&self) -> impl Iterator<Item = &str> {
        self.event_types
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("enabled", &self.enabled)
            .field("consecutive_failures", &self.consecutive_failures)
            .field("circuit_opened_at", &self.circuit_opened_at)
            .field("disabled_reason", &self.disabled_reason)
            .field("max_per_sec", &self.max_per_sec)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
