use sea_orm::entity::prelude::*;

pub use super::queue_status::QueueStatus as InboxStatus;

/// A verified delivery, stored before hookgate answered 2xx.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub svix_id: String,
    pub event_type: Option<String>,
    pub instance_id: Option<String>,
    pub event_timestamp_ms: Option<i64>,
    pub received_at: DateTimeUtc,
    /// The body exactly as received, kept in `inbox_bodies` (queue updates then rewrite small
    /// rows). Filled by the reads that need it (a claim, one event's lookup); empty in listings.
    #[sea_orm(ignore)]
    pub body: Vec<u8>,
    pub status: InboxStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub processed_at: Option<DateTimeUtc>,
    /// W3C `traceparent` of the ingest span, when spans are exported.
    pub trace_parent: Option<String>,
    /// Fields read as absent when the event was applied (values of unexpected types): a JSON
    /// array of `hookgate_events::DecodeWarning`; see [`Model::decode_warnings`].
    pub warnings: Option<String>,
    /// SHA-256 of `body`; `None` for rows stored before it was kept.
    pub body_sha256: Option<Vec<u8>>,
}

impl Model {
    /// The fields read as absent when the event was applied, oldest application's first.
    pub fn decode_warnings(&self) -> Vec<hookgate_events::DecodeWarning> {
        self.warnings
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
