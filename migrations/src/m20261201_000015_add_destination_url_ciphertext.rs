use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A queue destination's URL may hold a password or token: the full URL is sealed here and
        // `url` keeps the form with the credential replaced by `***`. Null when there is none.
        crate::columns::add(
            manager,
            "destinations",
            ColumnDef::new(Alias::new("url_ciphertext")).blob().null(),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::drop(manager, "destinations", "url_ciphertext").await
    }
}
