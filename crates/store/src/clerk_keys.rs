//! A tenant's Clerk secret key, stored sealed: what backfill and reconcile read Clerk with.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::tenant_clerk_key;

pub use tenant_clerk_key::Model as ClerkKey;

impl crate::Store {
    /// Stores (or replaces) a tenant's sealed Clerk key.
    pub async fn set_clerk_key(
        &self,
        tenant_id: Uuid,
        ciphertext: Vec<u8>,
        production: bool,
    ) -> Result<ClerkKey, StoreError> {
        let row = tenant_clerk_key::ActiveModel {
            tenant_id: Set(tenant_id),
            ciphertext: Set(ciphertext),
            production: Set(production),
            created_at: Set(Utc::now()),
        };
        tenant_clerk_key::Entity::insert(row)
            .on_conflict(
                OnConflict::column(tenant_clerk_key::Column::TenantId)
                    .update_columns([
                        tenant_clerk_key::Column::Ciphertext,
                        tenant_clerk_key::Column::Production,
                        tenant_clerk_key::Column::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.writer)
            .await?;
        self.clerk_key(tenant_id)
            .await?
            .ok_or_else(|| StoreError::from(sea_orm::DbErr::RecordNotInserted))
    }

    /// A tenant's sealed Clerk key, if it has one.
    pub async fn clerk_key(&self, tenant_id: Uuid) -> Result<Option<ClerkKey>, StoreError> {
        Ok(tenant_clerk_key::Entity::find_by_id(tenant_id)
            .one(&self.writer)
            .await?)
    }

    /// Removes a tenant's Clerk key; `false` when it had none.
    pub async fn clear_clerk_key(&self, tenant_id: Uuid) -> Result<bool, StoreError> {
        let res = tenant_clerk_key::Entity::delete_many()
            .filter(tenant_clerk_key::Column::TenantId.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected > 0)
    }
}
