use sea_orm::entity::prelude::*;

/// One Clerk application served by hookgate.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub enabled: bool,
    /// Overrides the configured timestamp tolerance when set.
    pub tolerance_secs: Option<i64>,
    /// Overrides the configured body limit when set.
    pub max_body_bytes: Option<i64>,
    /// Overrides the configured ingest rate (deliveries per second) when set.
    pub rate_limit_per_sec: Option<i64>,
    pub rate_limit_burst: Option<i64>,
    /// The Clerk instance this tenant accepts events from; any when `None`.
    pub instance_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
