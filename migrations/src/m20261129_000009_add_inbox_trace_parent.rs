use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The W3C traceparent of the ingest span, so the worker's apply span joins the same trace
        // however long the event waited. Null when spans are not exported.
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("inbox_events"))
                    .add_column(ColumnDef::new(Alias::new("trace_parent")).string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("inbox_events"))
                    .drop_column(Alias::new("trace_parent"))
                    .to_owned(),
            )
            .await
    }
}
