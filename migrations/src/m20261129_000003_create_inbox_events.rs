use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboxEvents {
    Table,
    Id,
    TenantId,
    SvixId,
    EventType,
    InstanceId,
    EventTimestampMs,
    ReceivedAt,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InboxEvents::Table)
                    .col(
                        ColumnDef::new(InboxEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    // No foreign key to tenants: deleting a tenant's events is an explicit,
                    // batched operation, never a cascade inside an ingest transaction.
                    .col(ColumnDef::new(InboxEvents::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(InboxEvents::SvixId)
                            .string_len(256)
                            .not_null(),
                    )
                    // NULL when the verified body was not a Clerk envelope (such rows are dead).
                    .col(ColumnDef::new(InboxEvents::EventType).text().null())
                    .col(ColumnDef::new(InboxEvents::InstanceId).text().null())
                    .col(
                        ColumnDef::new(InboxEvents::EventTimestampMs)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InboxEvents::ReceivedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    // The body exactly as received: the bytes the signature covers.
                    .col(ColumnDef::new(InboxEvents::Body).blob().not_null())
                    .col(
                        ColumnDef::new(InboxEvents::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InboxEvents::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(InboxEvents::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InboxEvents::LeaseOwner)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(InboxEvents::LeaseUntil)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(InboxEvents::LastError).text().null())
                    .to_owned(),
            )
            .await?;
        // Deduplication lives in the database, so replicas racing on one delivery store it once.
        manager
            .create_index(
                Index::create()
                    .name("uq_inbox_events_tenant_svix_id")
                    .table(InboxEvents::Table)
                    .col(InboxEvents::TenantId)
                    .col(InboxEvents::SvixId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The workers' claim query: due events by status and time.
        manager
            .create_index(
                Index::create()
                    .name("idx_inbox_events_status_next_attempt")
                    .table(InboxEvents::Table)
                    .col(InboxEvents::Status)
                    .col(InboxEvents::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_inbox_events_tenant_received")
                    .table(InboxEvents::Table)
                    .col(InboxEvents::TenantId)
                    .col(InboxEvents::ReceivedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(InboxEvents::Table).to_owned())
            .await
    }
}
