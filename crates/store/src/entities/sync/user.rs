//! Synced Clerk user rows (`users`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub clerk_id: String,
    pub primary_email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub external_id: Option<String>,
    pub banned: Option<bool>,
    pub locked: Option<bool>,
    pub last_sign_in_at: Option<i64>,
    pub last_active_at: Option<i64>,
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
