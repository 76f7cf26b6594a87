use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every sync table.
const TABLES: [&str; 9] = [
    "users",
    "organizations",
    "organization_memberships",
    "organization_invitations",
    "organization_domains",
    "sessions",
    "roles",
    "permissions",
    "waitlist_entries",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // What decides between two events of one object with the same version: the event's
        // timestamp, then its svix-id (`00000001732890000000.msg_...`), so the row left does not
        // depend on which arrived first. Rows written before compare lowest.
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(
                            ColumnDef::new(Alias::new("tiebreak"))
                                .text()
                                .not_null()
                                .default(""),
                        )
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new("tiebreak"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
