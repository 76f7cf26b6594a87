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

impl<T> Page<T> {
    /// From the rows of a query asked for `limit + 1`: the extra row only says that another
    /// page follows, whose cursor is the key of this page's last row.
    pub fn from_rows(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> Option<String>) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_cursor = if more {
            rows.last().and_then(key)
        } else {
            None
        };
        Self { rows, next_cursor }
    }
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
        let rows = select
            .order_by_asc(user::Column::ClerkId)
            .limit(limit + 1)
            .all(&self.reader)
            .await?;
        Ok(Page::from_rows(rows, limit, |r| Some(r.clerk_id.clone())))
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

/// The sync tables the tenant API reads generically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTable {
    Users,
    Organizations,
    OrganizationMemberships,
    OrganizationInvitations,
    OrganizationDomains,
    Sessions,
    Roles,
    Permissions,
    WaitlistEntries,
}

/// A generic listing: typed columns that must equal values, tombstones or not, keyset paging.
#[derive(Debug, Clone, Default)]
pub struct SyncQuery {
    /// `(column, value)` pairs; the column must be one of the table's typed columns.
    pub equals: Vec<(&'static str, String)>,
    pub include_deleted: bool,
    pub after: Option<String>,
    pub limit: u64,
}

/// A synced row as JSON: typed columns, `id` (the Clerk id), bookkeeping and Clerk's `data`.
pub type SyncedRow = serde_json::Value;

impl Store {
    pub async fn list_synced(
        &self,
        tenant_id: Uuid,
        table: SyncTable,
        query: &SyncQuery,
    ) -> Result<Page<SyncedRow>, StoreError> {
        use crate::entities::sync::*;
        use sea_orm::Iterable as _;
        macro_rules! list {
            ($m:ident) => {{
                let mut select = $m::Entity::find().filter($m::Column::TenantId.eq(tenant_id));
                for (name, value) in &query.equals {
                    let column = $m::Column::iter()
                        .find(|c| sea_orm::IdenStatic::as_str(c) == *name)
                        .ok_or(StoreError::NotFound { what: "column" })?;
                    select = select.filter(column.eq(value.as_str()));
                }
                if !query.include_deleted {
                    select = select.filter($m::Column::DeletedAt.is_null());
                }
                if let Some(after) = &query.after {
                    select = select.filter($m::Column::ClerkId.gt(after.as_str()));
                }
                select
                    .order_by_asc($m::Column::ClerkId)
                    .limit(query.limit + 1)
                    .all(&self.reader)
                    .await?
                    .into_iter()
                    .map(row_json)
                    .collect::<Vec<_>>()
            }};
        }
        let rows = match table {
            SyncTable::Users => list!(user),
            SyncTable::Organizations => list!(organization),
            SyncTable::OrganizationMemberships => list!(organization_membership),
            SyncTable::OrganizationInvitations => list!(organization_invitation),
            SyncTable::OrganizationDomains => list!(organization_domain),
            SyncTable::Sessions => list!(session),
            SyncTable::Roles => list!(role),
            SyncTable::Permissions => list!(permission),
            SyncTable::WaitlistEntries => list!(waitlist_entry),
        };
        Ok(Page::from_rows(rows, query.limit, |r| {
            r["id"].as_str().map(str::to_owned)
        }))
    }

    pub async fn find_synced(
        &self,
        tenant_id: Uuid,
        table: SyncTable,
        clerk_id: &str,
    ) -> Result<Option<SyncedRow>, StoreError> {
        use crate::entities::sync::*;
        let key = (tenant_id, clerk_id.to_owned());
        macro_rules! find {
            ($m:ident) => {
                $m::Entity::find_by_id(key)
                    .one(&self.reader)
                    .await?
                    .map(row_json)
            };
        }
        Ok(match table {
            SyncTable::Users => find!(user),
            SyncTable::Organizations => find!(organization),
            SyncTable::OrganizationMemberships => find!(organization_membership),
            SyncTable::OrganizationInvitations => find!(organization_invitation),
            SyncTable::OrganizationDomains => find!(organization_domain),
            SyncTable::Sessions => find!(session),
            SyncTable::Roles => find!(role),
            SyncTable::Permissions => find!(permission),
            SyncTable::WaitlistEntries => find!(waitlist_entry),
        })
    }
}

/// A row as the API shows it: `clerk_id` as `id`, without the tenant id.
fn row_json(row: impl serde::Serialize) -> SyncedRow {
    let mut value = serde_json::to_value(row).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("tenant_id");
        if let Some(id) = map.remove("clerk_id") {
            map.insert("id".into(), id);
        }
    }
    value
}
