//! Operational notifications: hookgate's own events about a tenant (a destination disabled or
//! recovered, an event or a delivery dead, drift a reconcile repaired), queued in the transaction
//! that saw them happen and sent by the notifier to the tenant's notification URL and the global
//! one, in the Standard Webhooks format.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::entities::notification::{self, NotificationStatus};
use crate::entities::{notification_target, tenant};
use crate::queue::{self, Finish, Notifications};
use crate::{Store, StoreError};

pub use notification::Model as Notification;
pub use notification_target::Model as NotificationTarget;

/// The recipients of a notification, as bits of `sent_to`.
pub const TO_TENANT: i32 = 1;
pub const TO_GLOBAL: i32 = 2;

/// A claimed notification with what it takes to send it.
#[derive(Debug, Clone)]
pub struct NotificationJob {
    pub notification: Notification,
    pub tenant_slug: String,
    /// The tenant's notification URL and sealed secret, when it has one.
    pub target: Option<NotificationTarget>,
}

/// Queues a notification in the caller's transaction. `data` gets the tenant's id; the body is
/// built once, so every attempt sends the same bytes.
pub(crate) async fn notify(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    event_type: &str,
    mut data: Value,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if let Some(fields) = data.as_object_mut() {
        fields.insert("tenant_id".into(), json!(tenant_id));
    }
    let payload = json!({
        "type": event_type,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    });
    notification::Entity::insert(notification::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload.to_string()),
        status: Set(NotificationStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        lease_owner: Set(None),
        lease_until: Set(None),
        last_error: Set(None),
        sent_to: Set(0),
        created_at: Set(now),
        delivered_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl Store {
    /// Sets (or replaces) where a tenant's notifications go, with its sealed secret.
    pub async fn set_notification_target(
        &self,
        tenant_id: Uuid,
        url: String,
        ciphertext: Vec<u8>,
    ) -> Result<NotificationTarget, StoreError> {
        let row = notification_target::ActiveModel {
            tenant_id: Set(tenant_id),
            url: Set(url),
            ciphertext: Set(ciphertext),
            created_at: Set(Utc::now()),
        };
        notification_target::Entity::insert(row)
            .on_conflict(
                OnConflict::column(notification_target::Column::TenantId)
                    .update_columns([
                        notification_target::Column::Url,
                        notification_target::Column::Ciphertext,
                        notification_target::Column::CreatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.writer)
            .await?;
        self.notification_target(tenant_id)
            .await?
            .ok_or_else(|| StoreError::from(sea_orm::DbErr::RecordNotInserted))
    }

    pub async fn notification_target(
        &self,
        tenant_id: Uuid,
    ) -> Result<Option<NotificationTarget>, StoreError> {
        Ok(notification_target::Entity::find_by_id(tenant_id)
            .one(&self.writer)
            .await?)
    }

    /// Stops a tenant's notifications; `false` when it had no URL.
    pub async fn clear_notification_target(&self, tenant_id: Uuid) -> Result<bool, StoreError> {
        let res = notification_target::Entity::delete_many()
            .filter(notification_target::Column::TenantId.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Queues a notification about a tenant on its own.
    pub async fn notify(
        &self,
        tenant_id: Uuid,
        event_type: &str,
        data: Value,
    ) -> Result<(), StoreError> {
        notify(&self.writer, tenant_id, event_type, data, Utc::now()).await
    }

    /// Claims up to `limit` due notifications for `lease`, with their tenant's target.
    pub async fn claim_notifications(
        &self,
        owner: &str,
        limit: u64,
        lease: Duration,
    ) -> Result<Vec<NotificationJob>, StoreError> {
        let claimed = self
            .queue::<Notifications>()
            .claim(owner, limit, lease)
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let tenant_ids = || claimed.iter().map(|n| n.tenant_id);
        let slugs: HashMap<Uuid, String> = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(tenant_ids()))
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|t| (t.id, t.slug))
            .collect();
        let targets: HashMap<Uuid, NotificationTarget> = notification_target::Entity::find()
            .filter(notification_target::Column::TenantId.is_in(tenant_ids()))
            .all(&self.reader)
            .await?
            .into_iter()
            .map(|t| (t.tenant_id, t))
            .collect();
        Ok(claimed
            .into_iter()
            .map(|notification| NotificationJob {
                tenant_slug: slugs
                    .get(&notification.tenant_id)
                    .cloned()
                    .unwrap_or_default(),
                target: targets.get(&notification.tenant_id).cloned(),
                notification,
            })
            .collect())
    }

    /// Records an attempt at a notification: the recipients that have it now, and how it ended.
    pub async fn finish_notification(
        &self,
        owner: &str,
        id: Uuid,
        sent_to: i32,
        finish: &Finish,
    ) -> Result<bool, StoreError> {
        let extra = vec![(notification::Column::SentTo, Expr::value(sent_to))];
        queue::finish_row::<Notifications>(&self.writer, owner, id, finish, Utc::now(), extra).await
    }

    /// Gives back the notifications `owner` holds (at shutdown).
    pub async fn release_notifications(&self, owner: &str) -> Result<u64, StoreError> {
        self.queue::<Notifications>().release(owner).await
    }

    /// A tenant's notifications, newest first.
    pub async fn list_notifications(
        &self,
        tenant_id: Uuid,
        limit: u64,
    ) -> Result<Vec<Notification>, StoreError> {
        Ok(notification::Entity::find()
            .filter(notification::Column::TenantId.eq(tenant_id))
            .order_by_desc(notification::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await?)
    }
}
