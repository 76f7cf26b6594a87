use std::fmt;

use sea_orm::entity::prelude::*;

/// Where a tenant's operational notifications go; the signing secret is stored sealed.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_targets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    pub url: String,
    /// Nonce followed by the AEAD ciphertext of the signing secret.
    pub ciphertext: Vec<u8>,
    pub created_at: DateTimeUtc,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationTarget")
            .field("tenant_id", &self.tenant_id)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
