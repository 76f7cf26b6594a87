use sea_orm_migration::prelude::*;

use crate::m20261129_000001_create_tenants::Tenants;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Destinations {
    Table,
    Id,
    TenantId,
    Name,
    Url,
    EventTypes,
    Ciphertext,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    TenantId,
    DestinationId,
    InboxEventId,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    LastStatus,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum InboxEvents {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Where a tenant's events are forwarded, and the secret hookgate signs them with.
        manager
            .create_table(
                Table::create()
                    .table(Destinations::Table)
                    .col(
                        ColumnDef::new(Destinations::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Destinations::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(Destinations::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Destinations::Url)
                            .string_len(2048)
                            .not_null(),
                    )
                    // Comma-separated event type globs (`user.*,session.created`).
                    .col(ColumnDef::new(Destinations::EventTypes).text().not_null())
                    // Nonce and AEAD ciphertext of the signing secret; the secret is never stored.
                    .col(ColumnDef::new(Destinations::Ciphertext).binary().not_null())
                    .col(ColumnDef::new(Destinations::Enabled).boolean().not_null())
                    .col(
                        ColumnDef::new(Destinations::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Destinations::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Destinations::Table, Destinations::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_destinations_tenant")
                    .table(Destinations::Table)
                    .col(Destinations::TenantId)
                    .to_owned(),
            )
            .await?;

        // One row per (destination, event): an outbox written in the transaction that applies
        // the event, so an event is forwarded once per destination whatever crashes when.
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(
                        ColumnDef::new(Deliveries::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Deliveries::TenantId).uuid().not_null())
                    .col(ColumnDef::new(Deliveries::DestinationId).uuid().not_null())
                    .col(ColumnDef::new(Deliveries::InboxEventId).uuid().not_null())
                    .col(ColumnDef::new(Deliveries::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Deliveries::Attempts).integer().not_null())
                    .col(
                        ColumnDef::new(Deliveries::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Deliveries::LeaseOwner)
                            .string_len(100)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Deliveries::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Deliveries::LastError).text().null())
                    .col(ColumnDef::new(Deliveries::LastStatus).integer().null())
                    .col(
                        ColumnDef::new(Deliveries::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Deliveries::DeliveredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::DestinationId)
                            .to(Destinations::Table, Destinations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Deliveries::Table, Deliveries::InboxEventId)
                            .to(InboxEvents::Table, InboxEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_deliveries_destination_event")
                    .table(Deliveries::Table)
                    .col(Deliveries::DestinationId)
                    .col(Deliveries::InboxEventId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_status_next_attempt")
                    .table(Deliveries::Table)
                    .col(Deliveries::Status)
                    .col(Deliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_inbox_event")
                    .table(Deliveries::Table)
                    .col(Deliveries::InboxEventId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Deliveries::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Destinations::Table).to_owned())
            .await
    }
}
