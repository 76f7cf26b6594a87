use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [&str; 3] = ["rate_limit_per_sec", "rate_limit_burst", "instance_id"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Per-tenant ingest rate limit (NULL: the configured default) and the Clerk instance the
        // tenant is pinned to (NULL: any). One ALTER per column: SQLite adds one at a time.
        for column in COLUMNS {
            let mut def = ColumnDef::new(Alias::new(column));
            if column == "instance_id" {
                def.string_len(200);
            } else {
                def.big_integer();
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("tenants"))
                        .add_column(def.null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("tenants"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
