//! Synced Clerk session rows (`sessions`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub clerk_id: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub status: Option<String>,
    pub last_active_at: Option<i64>,
    pub expire_at: Option<i64>,
    pub abandon_at: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub data: Json,
    pub version: i64,
    /// Between two events with this version: `{event timestamp, zero-padded}.{svix-id}`.
    #[serde(skip)]
    pub tiebreak: String,
    pub deleted_at: Option<DateTimeUtc>,
    pub last_event_id: Uuid,
    pub applied_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
