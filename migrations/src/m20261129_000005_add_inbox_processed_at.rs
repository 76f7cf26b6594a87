use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // When a worker finished with the event (done or dead): processing lag, and retention.
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("inbox_events"))
                    .add_column(
                        ColumnDef::new(Alias::new("processed_at"))
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_inbox_events_status_processed")
                    .table(Alias::new("inbox_events"))
                    .col(Alias::new("status"))
                    .col(Alias::new("processed_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_inbox_events_status_processed")
                    .table(Alias::new("inbox_events"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("inbox_events"))
                    .drop_column(Alias::new("processed_at"))
                    .to_owned(),
            )
            .await
    }
}
