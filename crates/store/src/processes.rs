//! The processes sharing this database, each kept alive by its heartbeat: how `api` processes
//! learn how many of them share each tenant's ingest rate limit.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use uuid::Uuid;

use crate::entities::process;
use crate::{Store, StoreError};

pub use process::Model as Process;

impl Store {
    /// Records that process `id` is alive at `now` (registering it the first time).
    pub async fn heartbeat(
        &self,
        id: Uuid,
        role: &str,
        host: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let row = process::ActiveModel {
            id: Set(id),
            role: Set(role.to_owned()),
            host: Set(host.to_owned()),
            started_at: Set(now),
            heartbeat_at: Set(now),
        };
        process::Entity::insert(row)
            .on_conflict(
                OnConflict::column(process::Column::Id)
                    .update_column(process::Column::HeartbeatAt)
                    .to_owned(),
            )
            .exec_without_returning(&self.writer)
            .await?;
        Ok(())
    }

    /// Processes whose last heartbeat is no older than `since`, oldest first.
    pub async fn live_processes(&self, since: DateTime<Utc>) -> Result<Vec<Process>, StoreError> {
        Ok(process::Entity::find()
            .filter(process::Column::HeartbeatAt.gte(since))
            .order_by_asc(process::Column::StartedAt)
            .order_by_asc(process::Column::Id)
            .all(&self.reader)
            .await?)
    }

    /// Forgets a process that is stopping.
    pub async fn remove_process(&self, id: Uuid) -> Result<(), StoreError> {
        process::Entity::delete_by_id(id).exec(&self.writer).await?;
        Ok(())
    }

    /// Forgets every process last heard of before `before`: killed ones, which nobody else
    /// removes.
    pub async fn remove_stale_processes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(process::Entity::delete_many()
            .filter(process::Column::HeartbeatAt.lt(before))
            .exec(&self.writer)
            .await?
            .rows_affected)
    }
}
