use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use uuid::Uuid;

use crate::entities::api_key;
use crate::{ApiKey, Store, StoreError};

impl Store {
    /// Stores a new key for a tenant: its prefix and hash (the caller made both).
    pub async fn insert_api_key(
        &self,
        tenant_id: Uuid,
        prefix: &str,
        hash: &str,
        name: &str,
    ) -> Result<ApiKey, StoreError> {
        let key = api_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            prefix: Set(prefix.to_owned()),
            hash: Set(hash.to_owned()),
            name: Set(name.to_owned()),
            created_at: Set(Utc::now()),
            revoked_at: Set(None),
        };
        Ok(api_key::Entity::insert(key)
            .exec_with_returning(&self.writer)
            .await?)
    }

    /// The key with this prefix, revoked or not; the caller checks the hash and revocation.
    pub async fn find_api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKey>, StoreError> {
        // Read through the writer so a revocation this process just made is seen at once.
        Ok(api_key::Entity::find()
            .filter(api_key::Column::Prefix.eq(prefix))
            .one(&self.writer)
            .await?)
    }

    pub async fn list_api_keys(&self, tenant_id: Uuid) -> Result<Vec<ApiKey>, StoreError> {
        Ok(api_key::Entity::find()
            .filter(api_key::Column::TenantId.eq(tenant_id))
            .order_by_asc(api_key::Column::CreatedAt)
            .all(&self.reader)
            .await?)
    }

    /// Revokes one of a tenant's keys; returns whether it was live.
    pub async fn revoke_api_key(&self, tenant_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let res = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(Utc::now())))
            .filter(api_key::Column::TenantId.eq(tenant_id))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected > 0)
    }
}
