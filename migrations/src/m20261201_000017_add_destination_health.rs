use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A destination's health: how long it has been failing, since when its circuit is open, when it
/// may next be sent to (and which delivery is its probe), why it was disabled, and its rate limit
/// with the schedule that keeps it.
const COLUMNS: [&str; 8] = [
    "consecutive_failures",
    "failing_since",
    "circuit_opened_at",
    "paused_until",
    "disabled_reason",
    "max_per_sec",
    "next_send_at",
    "probe_delivery_id",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let mut defs = [
            ColumnDef::new(Alias::new(COLUMNS[0]))
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[1]))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[2]))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[3]))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[4]))
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[5]))
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[6]))
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Alias::new(COLUMNS[7]))
                .uuid()
                .null()
                .to_owned(),
        ];
        for def in &mut defs {
            crate::columns::add(manager, "destinations", def).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS.iter().rev() {
            crate::columns::drop(manager, "destinations", column).await?;
        }
        Ok(())
    }
}
