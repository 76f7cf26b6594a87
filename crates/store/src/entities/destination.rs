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
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
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
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
