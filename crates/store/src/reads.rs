//! What the tenant API reads from the sync tables: always one tenant's rows, in pages ordered by
//! Clerk id, so a cursor (the last id seen) returns every row once.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use crate::entities::sync::user;
use crate::{Store, StoreError};

pub use crate::entities::sync::user::Model as SyncedUser;

/// Filters of the users listing.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub email: Option<String>,
    pub external_id: Option<String>,
    /// Clerk `updated_at` at or after this time.
    pub updated_since: Option<DateTime<Utc>>,
    pub include_deleted: bool,
}

/// One page of rows and the cursor of the next page, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub next_cursor: Option<String>,
}

impl Store {
    pub async fn list_synced_users(
        &self,
        tenant_id: Uuid,
        filter: &UserFilter,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Page<SyncedUser>, StoreError> {
        let mut select = user::Entity::find().filter(user::Column::TenantId.eq(tenant_id));
        if let Some(email) = &filter.email {
            select = select.filter(user::Column::PrimaryEmail.eq(email.as_str()));
        }
        if let Some(external_id) = &filter.external_id {
            select = select.filter(user::Column::ExternalId.eq(external_id.as_str()));
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(user::Column::UpdatedAt.gte(since.timestamp_millis()));
        }
        if !filter.include_deleted {
            select = select.filter(user::Column::DeletedAt.is_null());
        }
        if let Some(after) = after {
            select = select.filter(user::Column::ClerkId.gt(after));
        }
        // One row more than asked tells whether another page follows.
        let mut rows = select
            .order_by_asc(user::Column::ClerkId)
            .limit(limit + 1)
            .all(&self.reader)
            .await?;
        let next_cursor = if rows.len() as u64 > limit {
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            rows.last().map(|r| r.clerk_id.clone())
        } else {
            None
        };
        Ok(Page { rows, next_cursor })
    }

    pub async fn find_synced_user(
        &self,
        tenant_id: Uuid,
        clerk_id: &str,
    ) -> Result<Option<SyncedUser>, StoreError> {
        Ok(user::Entity::find_by_id((tenant_id, clerk_id.to_owned()))
            .one(&self.reader)
            .await?)
    }
}
