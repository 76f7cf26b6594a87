//! Synced Clerk role rows (`roles`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub clerk_id: String,
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
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
