use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum NotificationTargets {
    Table,
    TenantId,
    Url,
    Ciphertext,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    TenantId,
    EventType,
    Payload,
    SentTo,
    CreatedAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Where a tenant's operational notifications go, and the secret they are signed with
        // (nonce and AEAD ciphertext, bound to the tenant and its purpose).
        let mut targets = Table::create()
            .table(NotificationTargets::Table)
            .col(
                ColumnDef::new(NotificationTargets::TenantId)
                    .uuid()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(NotificationTargets::Url).text().not_null())
            .col(
                ColumnDef::new(NotificationTargets::Ciphertext)
                    .binary()
                    .not_null(),
            )
            .col(
                ColumnDef::new(NotificationTargets::CreatedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .to_owned();
        crate::columns::of_tenant(&mut targets, "notification_targets");
        manager.create_table(targets).await?;

        // hookgate's own events (a destination disabled, a delivery dead…): an outbox written in
        // the transaction that saw them happen, sent by the notifier like deliveries.
        let mut outbox = Table::create()
            .table(Notifications::Table)
            .col(
                ColumnDef::new(Notifications::Id)
                    .uuid()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(Notifications::TenantId).uuid().not_null())
            .col(
                ColumnDef::new(Notifications::EventType)
                    .string_len(64)
                    .not_null(),
            )
            // The whole Standard Webhooks body, sent as stored on every attempt.
            .col(ColumnDef::new(Notifications::Payload).text().not_null())
            // Which recipients have it (1: the tenant's URL, 2: the global one), so a retry
            // sends only to those that failed.
            .col(
                ColumnDef::new(Notifications::SentTo)
                    .integer()
                    .not_null()
                    .default(0),
            )
            .col(
                ColumnDef::new(Notifications::CreatedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(ColumnDef::new(Notifications::DeliveredAt).timestamp_with_time_zone())
            .to_owned();
        crate::columns::queue(&mut outbox);
        crate::columns::of_tenant(&mut outbox, "notifications");
        manager.create_table(outbox).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_notifications_due ON notifications (next_attempt_at) \
                 WHERE status IN ('pending', 'failed')",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_tenant")
                    .table(Notifications::Table)
                    .col(Notifications::TenantId)
                    .col(Notifications::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationTargets::Table).to_owned())
            .await
    }
}
