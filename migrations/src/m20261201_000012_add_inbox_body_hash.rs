use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SHA-256 of the body as received: a redelivery under the same svix-id with another body
        // is told from a plain duplicate without reading the stored body. Null for older rows.
        crate::columns::add(
            manager,
            "inbox_events",
            ColumnDef::new(Alias::new("body_sha256")).blob().null(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(manager, "inbox_events", "body_sha256").await
    }
}
