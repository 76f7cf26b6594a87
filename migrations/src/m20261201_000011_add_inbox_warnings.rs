use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Fields of `data` the worker read as absent because their values had unexpected types (a
        // JSON array of `{path, message}`), so drift in what Clerk sends is visible. Null when none.
        crate::columns::add(
            manager,
            "inbox_events",
            ColumnDef::new(Alias::new("warnings")).text().null(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(manager, "inbox_events", "warnings").await
    }
}
