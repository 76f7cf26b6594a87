use sea_orm_migration::prelude::*;

use crate::m20261129_000001_create_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantSecrets {
    Table,
    Id,
    TenantId,
    Ciphertext,
    NotBefore,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantSecrets::Table)
                    .col(
                        ColumnDef::new(TenantSecrets::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TenantSecrets::TenantId).uuid().not_null())
                    // Nonce followed by the AEAD ciphertext of the key; the key itself is never stored.
                    .col(ColumnDef::new(TenantSecrets::Ciphertext).blob().not_null())
                    .col(
                        ColumnDef::new(TenantSecrets::NotBefore)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TenantSecrets::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(TenantSecrets::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TenantSecrets::Table, TenantSecrets::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tenant_secrets_tenant")
                    .table(TenantSecrets::Table)
                    .col(TenantSecrets::TenantId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TenantSecrets::Table).to_owned())
            .await
    }
}
