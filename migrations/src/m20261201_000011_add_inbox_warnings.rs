use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Fields of `data` the worker read as absent because their values had unexpected types (a
        // JSON array of `{path, message}`), so drift in what Clerk sends is visible. Null when none.
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("inbox_events"))
                    .add_column(ColumnDef::new(Alias::new("warnings")).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("inbox_events"))
                    .drop_column(Alias::new("warnings"))
                    .to_owned(),
            )
            .await
    }
}
