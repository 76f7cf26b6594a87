use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboxBodies {
    Table,
    Id,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Bodies apart from the queue columns: an event's status changes (claimed, applied,
        // retried) rewrite its row, and with a 2–3 KB body in it each change rewrote a page of its
        // own. Without the body, one page holds dozens of events' queue columns.
        manager
            .create_table(
                Table::create()
                    .table(InboxBodies::Table)
                    .col(
                        ColumnDef::new(InboxBodies::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    // The body exactly as received.
                    .col(ColumnDef::new(InboxBodies::Body).binary().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(InboxBodies::Table, InboxBodies::Id)
                            .to(Alias::new("inbox_events"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO inbox_bodies (id, body) SELECT id, body FROM inbox_events",
            )
            .await?;
        crate::columns::drop(manager, "inbox_events", "body").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::columns::add(
            manager,
            "inbox_events",
            ColumnDef::new(Alias::new("body")).binary(),
        )
        .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE inbox_events SET body = \
                 (SELECT body FROM inbox_bodies b WHERE b.id = inbox_events.id)",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(InboxBodies::Table).to_owned())
            .await
    }
}
