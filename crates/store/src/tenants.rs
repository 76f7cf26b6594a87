use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use uuid::Uuid;

use crate::entities::{tenant, tenant_secret};
use crate::{Store, StoreError, Tenant, TenantSecret};

/// A tenant to create. The slug is validated by the caller (tenancy's `TenantSlug`).
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
}

/// A signing secret to add, already encrypted. Its id is chosen by the caller, which binds it
/// into the ciphertext.
#[derive(Clone)]
pub struct NewSecret {
    pub id: Uuid,
    pub ciphertext: Vec<u8>,
    pub not_before: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for NewSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSecret")
            .field("id", &self.id)
            .field("not_before", &self.not_before)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Creates a tenant with its first signing secret, in one transaction.
    pub async fn create_tenant(
        &self,
        new: NewTenant,
        secret: NewSecret,
    ) -> Result<Tenant, StoreError> {
        use sea_orm::TransactionTrait as _;
        let now = Utc::now();
        let id = new.id;
        let txn = self.writer.begin().await?;
        let inserted = tenant::Entity::insert(tenant::ActiveModel {
            id: Set(id),
            slug: Set(new.slug),
            name: Set(new.name),
            enabled: Set(true),
            tolerance_secs: Set(None),
            max_body_bytes: Set(None),
            rate_limit_per_sec: Set(None),
            rate_limit_burst: Set(None),
            instance_id: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(tenant::Column::Slug)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
        if inserted == 0 {
            return Err(StoreError::Conflict {
                what: "a tenant with this slug",
            });
        }
        insert_secret(&txn, id, secret).await?;
        txn.commit().await?;
        self.find_tenant(id)
            .await?
            .ok_or(StoreError::NotFound { what: "tenant" })
    }

    pub async fn find_tenant(&self, id: Uuid) -> Result<Option<Tenant>, StoreError> {
        Ok(tenant::Entity::find_by_id(id).one(&self.reader).await?)
    }

    pub async fn find_tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        Ok(tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug))
            .one(&self.reader)
            .await?)
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(tenant::Entity::find()
            .order_by_asc(tenant::Column::Slug)
            .all(&self.reader)
            .await?)
    }

    pub async fn set_tenant_enabled(
        &self,
        tenant_id: Uuid,
        enabled: bool,
    ) -> Result<(), StoreError> {
        let res = tenant::Entity::update_many()
            .col_expr(tenant::Column::Enabled, enabled.into())
            .col_expr(tenant::Column::UpdatedAt, Utc::now().into())
            .filter(tenant::Column::Id.eq(tenant_id))
            .exec(&self.writer)
            .await?;
        if res.rows_affected == 0 {
            return Err(StoreError::NotFound { what: "tenant" });
        }
        Ok(())
    }

    /// Adds a secret. With `retire_others_at`, every other secret of the tenant that would
    /// outlive that time expires then instead: the grace period of a rotation. One transaction.
    pub async fn add_secret(
        &self,
        tenant_id: Uuid,
        secret: NewSecret,
        retire_others_at: Option<DateTime<Utc>>,
    ) -> Result<Uuid, StoreError> {
        use sea_orm::TransactionTrait as _;
        use sea_orm::sea_query::Condition;
        let txn = self.writer.begin().await?;
        let id = insert_secret(&txn, tenant_id, secret).await?;
        if let Some(at) = retire_others_at {
            tenant_secret::Entity::update_many()
                .col_expr(tenant_secret::Column::ExpiresAt, Some(at).into())
                .filter(tenant_secret::Column::TenantId.eq(tenant_id))
                .filter(tenant_secret::Column::Id.ne(id))
                .filter(
                    Condition::any()
                        .add(tenant_secret::Column::ExpiresAt.is_null())
                        .add(tenant_secret::Column::ExpiresAt.gt(at)),
                )
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(id)
    }

    /// The secrets of one tenant, oldest first.
    pub async fn tenant_secrets(&self, tenant_id: Uuid) -> Result<Vec<TenantSecret>, StoreError> {
        Ok(tenant_secret::Entity::find()
            .filter(tenant_secret::Column::TenantId.eq(tenant_id))
            .order_by_asc(tenant_secret::Column::CreatedAt)
            .all(&self.reader)
            .await?)
    }

    /// Every secret of every tenant: what the tenant registry loads in one query.
    pub async fn all_tenant_secrets(&self) -> Result<Vec<TenantSecret>, StoreError> {
        Ok(tenant_secret::Entity::find()
            .order_by_asc(tenant_secret::Column::TenantId)
            .order_by_asc(tenant_secret::Column::CreatedAt)
            .all(&self.reader)
            .await?)
    }
}

async fn insert_secret(
    db: &impl sea_orm::ConnectionTrait,
    tenant_id: Uuid,
    secret: NewSecret,
) -> Result<Uuid, StoreError> {
    let id = secret.id;
    tenant_secret::Entity::insert(tenant_secret::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        ciphertext: Set(secret.ciphertext),
        not_before: Set(secret.not_before),
        expires_at: Set(secret.expires_at),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// Which stored secret a ciphertext belongs to: what it is, whose, and its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedRow {
    pub kind: SealedKind,
    pub tenant_id: Uuid,
    pub row_id: Uuid,
}

/// The kinds of stored secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedKind {
    /// A tenant's Clerk signing secret (`tenant_secrets`).
    SigningSecret,
    /// A destination's signing secret (`destinations`).
    DestinationSecret,
    /// A tenant's Clerk secret key (`tenant_clerk_keys`; the row is the tenant's).
    ClerkKey,
    /// A destination's URL holding credentials (`destinations.url_ciphertext`).
    DestinationUrl,
    /// The secret a tenant's notifications are signed with (`notification_targets`; the row is
    /// the tenant's).
    NotificationSecret,
}

/// Changes to a tenant's settings: `None` leaves a setting alone, `Some(None)` clears an override.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub tolerance_secs: Option<Option<i64>>,
    pub max_body_bytes: Option<Option<i64>>,
    pub rate_limit_per_sec: Option<Option<i64>>,
    pub rate_limit_burst: Option<Option<i64>>,
    pub instance_id: Option<Option<String>>,
}

impl Store {
    pub async fn update_tenant(
        &self,
        tenant_id: Uuid,
        patch: TenantPatch,
    ) -> Result<Tenant, StoreError> {
        use sea_orm::ActiveModelTrait as _;
        let mut row: tenant::ActiveModel = self
            .find_tenant(tenant_id)
            .await?
            .ok_or(StoreError::NotFound { what: "tenant" })?
            .into();
        if let Some(name) = patch.name {
            row.name = Set(name);
        }
        if let Some(v) = patch.tolerance_secs {
            row.tolerance_secs = Set(v);
        }
        if let Some(v) = patch.max_body_bytes {
            row.max_body_bytes = Set(v);
        }
        if let Some(v) = patch.rate_limit_per_sec {
            row.rate_limit_per_sec = Set(v);
        }
        if let Some(v) = patch.rate_limit_burst {
            row.rate_limit_burst = Set(v);
        }
        if let Some(v) = patch.instance_id {
            row.instance_id = Set(v);
        }
        row.updated_at = Set(Utc::now());
        Ok(row.update(&self.writer).await?)
    }

    /// Deletes a tenant and everything stored for it: events, synced rows, secrets, keys.
    pub async fn delete_tenant_with_data(&self, tenant_id: Uuid) -> Result<(), StoreError> {
        use sea_orm::{ConnectionTrait as _, Statement, TransactionTrait as _};
        let txn = self.writer.begin().await?;
        let backend = txn.get_database_backend();
        let placeholder = if backend == sea_orm::DbBackend::Postgres {
            "$1"
        } else {
            "?1"
        };
        if backend == sea_orm::DbBackend::Postgres {
            // The tenant's row first: a delivery being stored holds a key-share lock on it, so
            // this waits for that delivery to commit and then deletes it with the rest; one
            // that comes later skips the locked tenant as gone and is not stored. (SQLite's
            // single writer orders the two anyway.)
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM tenants WHERE id = $1 FOR UPDATE",
                [tenant_id.into()],
            ))
            .await?;
        }
        for table in [
            "deliveries",
            "destinations",
            // Events before their attempts: a worker failing one of the events meanwhile
            // writes its attempt with the event's row locked, so it is in by then.
            "inbox_events",
            "event_attempts",
            "users",
            "organizations",
            "organization_memberships",
            "organization_invitations",
            "organization_domains",
            "sessions",
            "roles",
            "permissions",
            "waitlist_entries",
            "api_keys",
            "tenant_secrets",
            "jobs",
            "tenant_clerk_keys",
            "notifications",
            "notification_targets",
        ] {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                format!("DELETE FROM {table} WHERE tenant_id = {placeholder}"),
                [tenant_id.into()],
            ))
            .await?;
        }
        tenant::Entity::delete_by_id(tenant_id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Rewrites every stored secret (tenant signing secrets, destination secrets and Clerk keys) with
    /// `reseal(row, ciphertext)`, in one transaction: all are rewritten, or none when `reseal`
    /// fails for any (its error is returned). Returns how many were rewritten.
    pub async fn reseal_secrets<E>(
        &self,
        reseal: impl Fn(SealedRow, &[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<Result<u64, E>, StoreError> {
        use crate::entities::{destination, notification_target, tenant_clerk_key};
        use sea_orm::TransactionTrait as _;
        let txn = self.writer.begin().await?;
        let mut count = 0;
        for row in tenant_secret::Entity::find().all(&txn).await? {
            let sealed = SealedRow {
                kind: SealedKind::SigningSecret,
                tenant_id: row.tenant_id,
                row_id: row.id,
            };
            let sealed = match reseal(sealed, &row.ciphertext) {
                Ok(sealed) => sealed,
                Err(err) => return Ok(Err(err)),
            };
            tenant_secret::Entity::update_many()
                .col_expr(tenant_secret::Column::Ciphertext, Expr::value(sealed))
                .filter(tenant_secret::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
            count += 1;
        }
        for row in destination::Entity::find().all(&txn).await? {
            let sealed = SealedRow {
                kind: SealedKind::DestinationSecret,
                tenant_id: row.tenant_id,
                row_id: row.id,
            };
            let sealed = match reseal(sealed, &row.ciphertext) {
                Ok(sealed) => sealed,
                Err(err) => return Ok(Err(err)),
            };
            let mut update = destination::Entity::update_many()
                .col_expr(destination::Column::Ciphertext, Expr::value(sealed))
                .filter(destination::Column::Id.eq(row.id));
            if let Some(url) = &row.url_ciphertext {
                let at = SealedRow {
                    kind: SealedKind::DestinationUrl,
                    tenant_id: row.tenant_id,
                    row_id: row.id,
                };
                match reseal(at, url) {
                    Ok(url) => {
                        update =
                            update.col_expr(destination::Column::UrlCiphertext, Expr::value(url));
                        count += 1;
                    }
                    Err(err) => return Ok(Err(err)),
                }
            }
            update.exec(&txn).await?;
            count += 1;
        }
        for row in tenant_clerk_key::Entity::find().all(&txn).await? {
            let sealed = SealedRow {
                kind: SealedKind::ClerkKey,
                tenant_id: row.tenant_id,
                row_id: row.tenant_id,
            };
            let sealed = match reseal(sealed, &row.ciphertext) {
                Ok(sealed) => sealed,
                Err(err) => return Ok(Err(err)),
            };
            tenant_clerk_key::Entity::update_many()
                .col_expr(tenant_clerk_key::Column::Ciphertext, Expr::value(sealed))
                .filter(tenant_clerk_key::Column::TenantId.eq(row.tenant_id))
                .exec(&txn)
                .await?;
            count += 1;
        }
        for row in notification_target::Entity::find().all(&txn).await? {
            let sealed = SealedRow {
                kind: SealedKind::NotificationSecret,
                tenant_id: row.tenant_id,
                row_id: row.tenant_id,
            };
            let sealed = match reseal(sealed, &row.ciphertext) {
                Ok(sealed) => sealed,
                Err(err) => return Ok(Err(err)),
            };
            notification_target::Entity::update_many()
                .col_expr(notification_target::Column::Ciphertext, Expr::value(sealed))
                .filter(notification_target::Column::TenantId.eq(row.tenant_id))
                .exec(&txn)
                .await?;
            count += 1;
        }
        txn.commit().await?;
        Ok(Ok(count))
    }

    /// Ends a secret's validity now (kept, as metadata).
    pub async fn revoke_secret(
        &self,
        tenant_id: Uuid,
        secret_id: Uuid,
    ) -> Result<bool, StoreError> {
        let res = tenant_secret::Entity::update_many()
            .col_expr(
                tenant_secret::Column::ExpiresAt,
                sea_orm::sea_query::Expr::value(Some(Utc::now())),
            )
            .filter(tenant_secret::Column::TenantId.eq(tenant_id))
            .filter(tenant_secret::Column::Id.eq(secret_id))
            // Already over: nothing to revoke (and its expiry stays as it was).
            .filter(
                sea_orm::Condition::any()
                    .add(tenant_secret::Column::ExpiresAt.is_null())
                    .add(tenant_secret::Column::ExpiresAt.gt(Utc::now())),
            )
            .exec(&self.writer)
            .await?;
        Ok(res.rows_affected > 0)
    }
}
