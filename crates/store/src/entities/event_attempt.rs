use sea_orm::entity::prelude::*;

/// A failed attempt at applying an inbox event.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub inbox_event_id: Uuid,
    pub attempt: i32,
    pub at: DateTimeUtc,
    /// `retry` or `dead`.
    pub outcome: String,
    pub error: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
