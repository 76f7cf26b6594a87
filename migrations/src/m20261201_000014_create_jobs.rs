use sea_orm_migration::prelude::*;

use crate::m20261129_000001_create_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantClerkKeys {
    Table,
    TenantId,
    Ciphertext,
    Production,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    TenantId,
    JobType,
    Kinds,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    Progress,
    CreatedAt,
    StartedAt,
    FinishedAt,
    CancelledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A tenant's Clerk secret key, for reading its instance through the Backend API.
        manager
            .create_table(
                Table::create()
                    .table(TenantClerkKeys::Table)
                    .col(
                        ColumnDef::new(TenantClerkKeys::TenantId)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    // Nonce and AEAD ciphertext of the key, bound to the tenant and its purpose.
                    .col(
                        ColumnDef::new(TenantClerkKeys::Ciphertext)
                            .binary()
                            .not_null(),
                    )
                    // `sk_live_` (a production instance, with its higher rate limit) or `sk_test_`.
                    .col(
                        ColumnDef::new(TenantClerkKeys::Production)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TenantClerkKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantClerkKeys::Table, TenantClerkKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // Backfill and reconcile jobs: a leased queue like the inbox and the deliveries.
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(ColumnDef::new(Jobs::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Jobs::TenantId).uuid().not_null())
                    // `backfill` or `reconcile`.
                    .col(ColumnDef::new(Jobs::JobType).string_len(16).not_null())
                    // Comma-separated resource kinds (`users,organizations`), in listing order.
                    .col(ColumnDef::new(Jobs::Kinds).text().not_null())
                    .col(ColumnDef::new(Jobs::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Jobs::Attempts).integer().not_null())
                    .col(ColumnDef::new(Jobs::NextAttemptAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Jobs::LeaseOwner).string_len(128))
                    .col(ColumnDef::new(Jobs::LeaseUntil).timestamp_with_time_zone())
                    .col(ColumnDef::new(Jobs::LastError).text())
                    // JSON: per kind, the checkpoint (cursor) and the counts so far.
                    .col(ColumnDef::new(Jobs::Progress).text().not_null())
                    .col(
                        ColumnDef::new(Jobs::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Jobs::StartedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Jobs::FinishedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Jobs::CancelledAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from(Jobs::Table, Jobs::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_tenant_created")
                    .table(Jobs::Table)
                    .col(Jobs::TenantId)
                    .col(Jobs::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_due")
                    .table(Jobs::Table)
                    .col(Jobs::Status)
                    .col(Jobs::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        // One unfinished job per tenant: a second is refused by the database itself, whichever
        // process asks.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_jobs_one_open_per_tenant ON jobs (tenant_id) \
                 WHERE finished_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TenantClerkKeys::Table).to_owned())
            .await
    }
}
