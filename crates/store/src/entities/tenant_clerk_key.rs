use std::fmt;

use sea_orm::entity::prelude::*;

/// A tenant's Clerk secret key, encrypted: the key itself is never stored.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_clerk_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: Uuid,
    /// Nonce followed by the AEAD ciphertext of the key.
    pub ciphertext: Vec<u8>,
    /// An `sk_live_` key (a production instance).
    pub production: bool,
    pub created_at: DateTimeUtc,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantClerkKey")
            .field("tenant_id", &self.tenant_id)
            .field("production", &self.production)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
