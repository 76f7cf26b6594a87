use sea_orm::entity::prelude::*;

pub use super::queue_status::QueueStatus as NotificationStatus;

/// One of hookgate's own events, on its way to the tenant's notification URL and the global one.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `destination.disabled`, `delivery.dead`, …
    pub event_type: String,
    /// The Standard Webhooks body (`type`, `timestamp`, `data`), sent as stored.
    pub payload: String,
    pub status: NotificationStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// Recipients that have it: 1 the tenant's URL, 2 the global one.
    pub sent_to: i32,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
