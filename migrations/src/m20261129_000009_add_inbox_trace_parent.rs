use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The W3C traceparent of the ingest span, so the worker's apply span joins the same trace
        // however long the event waited. Null when spans are not exported.
        crate::columns::add(
            manager,
            "inbox_events",
            ColumnDef::new(Alias::new("trace_parent")).string().null(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(manager, "inbox_events", "trace_parent").await
    }
}
