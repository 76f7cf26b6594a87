use sea_orm::entity::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// The destination answered 2xx.
    #[sea_orm(string_value = "done")]
    Done,
    /// The last attempt failed; it is retried at `next_attempt_at`.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Out of attempts (see `last_error`); kept until replayed or purged.
    #[sea_orm(string_value = "dead")]
    Dead,
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    /// The status by its stored name (`pending`, `done`, `failed`, `dead`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::try_from_value(&text.to_owned())
            .map_err(|_| format!("unknown delivery status {text:?}: pending, done, failed or dead"))
    }
}

/// One event on its way to one destination.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub destination_id: Uuid,
    pub inbox_event_id: Uuid,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// HTTP status of the last answer, when there was one.
    pub last_status: Option<i32>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
