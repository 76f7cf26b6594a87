use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Processes {
    Table,
    Id,
    Role,
    Host,
    StartedAt,
    HeartbeatAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Each running hookgate process, kept alive by its heartbeat: `api` processes share each
        // tenant's ingest rate limit by counting the live ones.
        manager
            .create_table(
                Table::create()
                    .table(Processes::Table)
                    .col(
                        ColumnDef::new(Processes::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Processes::Role).string_len(16).not_null())
                    .col(ColumnDef::new(Processes::Host).string_len(255).not_null())
                    .col(
                        ColumnDef::new(Processes::StartedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Processes::HeartbeatAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Processes::Table).to_owned())
            .await
    }
}
