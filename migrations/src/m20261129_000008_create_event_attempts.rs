use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EventAttempts {
    Table,
    Id,
    TenantId,
    InboxEventId,
    Attempt,
    At,
    Outcome,
    Error,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per failed attempt (retried or dead): an event's history for operators.
        // Successes are not recorded here: a done event's processed_at says it all.
        manager
            .create_table(
                Table::create()
                    .table(EventAttempts::Table)
                    .col(
                        ColumnDef::new(EventAttempts::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(EventAttempts::TenantId).uuid().not_null())
                    .col(
                        ColumnDef::new(EventAttempts::InboxEventId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(EventAttempts::Attempt).integer().not_null())
                    .col(
                        ColumnDef::new(EventAttempts::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EventAttempts::Outcome)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(EventAttempts::Error).text().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_attempts_event")
                    .table(EventAttempts::Table)
                    .col(EventAttempts::InboxEventId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EventAttempts::Table).to_owned())
            .await
    }
}
