use sea_orm::entity::prelude::*;

/// Where an inbox event is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum InboxStatus {
    /// Stored, waiting for a worker.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Applied and forwarded.
    #[sea_orm(string_value = "done")]
    Done,
    /// The last attempt failed; it is retried at `next_attempt_at`.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Will not be retried (see `last_error`); kept for inspection and replay.
    #[sea_orm(string_value = "dead")]
    Dead,
}

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
    /// The body exactly as received.
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
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
