use sea_orm_migration::prelude::*;

use crate::m20261129_000001_create_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    TenantId,
    Prefix,
    Hash,
    Name,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(ColumnDef::new(ApiKeys::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(ApiKeys::TenantId).uuid().not_null())
                    // The public part of the key, to find its row without scanning hashes.
                    .col(
                        ColumnDef::new(ApiKeys::Prefix)
                            .string_len(32)
                            .not_null()
                            .unique_key(),
                    )
                    // SHA-256 of the whole key, hex; the key itself is shown once and never stored.
                    .col(ColumnDef::new(ApiKeys::Hash).string_len(64).not_null())
                    .col(ColumnDef::new(ApiKeys::Name).string_len(200).not_null())
                    .col(
                        ColumnDef::new(ApiKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ApiKeys::RevokedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_keys_tenant")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::TenantId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKeys::Table).to_owned())
            .await
    }
}
