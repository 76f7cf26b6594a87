//! A tenant's destinations: where its events are forwarded.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use uuid::Uuid;

use crate::entities::{delivery, destination};
use crate::{Destination, Store, StoreError};

/// A destination to create. The caller chooses its id and encrypts the signing secret, bound
/// to that id.
#[derive(Clone)]
pub struct NewDestination {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    /// Comma-separated event type globs.
    pub event_types: String,
    pub ciphertext: Vec<u8>,
    /// The full URL, sealed, when `url` is shown with its credentials redacted.
    pub url_ciphertext: Option<Vec<u8>>,
    /// At most this many sends a second; `None` for no limit.
    pub max_per_sec: Option<i32>,
}

impl std::fmt::Debug for NewDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDestination")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("event_types", &self.event_types)
            .field("max_per_sec", &self.max_per_sec)
            .finish_non_exhaustive()
    }
}

/// Changes to a destination; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DestinationPatch {
    pub name: Option<String>,
    /// The shown URL and, when it holds credentials, the sealed full URL.
    pub url: Option<(String, Option<Vec<u8>>)>,
    pub event_types: Option<String>,
    /// Enabling also forgets its failures: a destination disabled after days of failure starts
    /// afresh rather than being disabled again at its next failure.
    pub enabled: Option<bool>,
    /// `Some(None)` removes the limit.
    pub max_per_sec: Option<Option<i32>>,
}

impl Store {
    pub async fn create_destination(
        &self,
        tenant_id: Uuid,
        new: NewDestination,
    ) -> Result<Destination, StoreError> {
        let now = Utc::now();
        let model = destination::ActiveModel {
            id: Set(new.id),
            tenant_id: Set(tenant_id),
            name: Set(new.name),
            url: Set(new.url),
            event_types: Set(new.event_types),
            ciphertext: Set(new.ciphertext),
            url_ciphertext: Set(new.url_ciphertext),
            enabled: Set(true),
            consecutive_failures: Set(0),
            failing_since: Set(None),
            circuit_opened_at: Set(None),
            paused_until: Set(None),
            disabled_reason: Set(None),
            max_per_sec: Set(new.max_per_sec),
            next_send_at: Set(None),
            probe_delivery_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        };
        Ok(destination::Entity::insert(model)
            .exec_with_returning(&self.writer)
            .await?)
    }

    pub async fn list_destinations(&self, tenant_id: Uuid) -> Result<Vec<Destination>, StoreError> {
        Ok(destination::Entity::find()
            .filter(destination::Column::TenantId.eq(tenant_id))
            .order_by_asc(destination::Column::Id)
            .all(&self.reader)
            .await?)
    }

    pub async fn find_destination(
        &self,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<Destination>, StoreError> {
        Ok(destination::Entity::find_by_id(id)
            .filter(destination::Column::TenantId.eq(tenant_id))
            .one(&self.reader)
            .await?)
    }

    pub async fn update_destination(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        patch: DestinationPatch,
    ) -> Result<Destination, StoreError> {
        let mut update = destination::Entity::update_many()
            .col_expr(destination::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(destination::Column::Id.eq(id))
            .filter(destination::Column::TenantId.eq(tenant_id));
        if let Some(name) = patch.name {
            update = update.col_expr(destination::Column::Name, Expr::value(name));
        }
        if let Some((url, sealed)) = patch.url {
            update = update
                .col_expr(destination::Column::Url, Expr::value(url))
                .col_expr(destination::Column::UrlCiphertext, Expr::value(sealed));
        }
        if let Some(event_types) = patch.event_types {
            update = update.col_expr(destination::Column::EventTypes, Expr::value(event_types));
        }
        if let Some(enabled) = patch.enabled {
            update = update
                .col_expr(destination::Column::Enabled, Expr::value(enabled))
                .col_expr(
                    destination::Column::DisabledReason,
                    Expr::value(Option::<String>::None),
                );
            if enabled {
                update = crate::destination_health::clear_health(update);
            }
        }
        if let Some(max_per_sec) = patch.max_per_sec {
            update = update.col_expr(destination::Column::MaxPerSec, Expr::value(max_per_sec));
        }
        if update.exec(&self.writer).await?.rows_affected == 0 {
            return Err(StoreError::NotFound {
                what: "the destination",
            });
        }
        destination::Entity::find_by_id(id)
            .one(&self.writer)
            .await?
            .ok_or(StoreError::NotFound {
                what: "the destination",
            })
    }

    /// Deletes a destination and its deliveries.
    pub async fn delete_destination(&self, tenant_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        delivery::Entity::delete_many()
            .filter(delivery::Column::DestinationId.eq(id))
            .filter(delivery::Column::TenantId.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        let res = destination::Entity::delete_many()
            .filter(destination::Column::Id.eq(id))
            .filter(destination::Column::TenantId.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// The enabled destinations of these tenants, by tenant.
    pub async fn enabled_destinations(
        &self,
        tenant_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<Destination>>, StoreError> {
        let mut by_tenant: HashMap<Uuid, Vec<Destination>> = HashMap::new();
        if tenant_ids.is_empty() {
            return Ok(by_tenant);
        }
        let rows = destination::Entity::find()
            .filter(destination::Column::TenantId.is_in(tenant_ids.iter().copied()))
            .filter(destination::Column::Enabled.eq(true))
            .all(&self.reader)
            .await?;
        for row in rows {
            by_tenant.entry(row.tenant_id).or_default().push(row);
        }
        Ok(by_tenant)
    }
}
