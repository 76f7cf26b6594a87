use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Claims walk the waiting deliveries in next-attempt order and stop at their limit. With
        // (status, next_attempt_at), SQLite answered `status IN ('pending', 'failed') ORDER BY
        // next_attempt_at` by reading and sorting every waiting row on each claim; this partial
        // index holds the waiting rows alone, in order. It replaces the old one, which SQLite's
        // planner prefers whenever both exist.
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_deliveries_status_next_attempt")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_due ON deliveries (next_attempt_at) \
             WHERE status IN ('pending', 'failed')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_deliveries_due")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_status_next_attempt ON deliveries (status, next_attempt_at)",
        )
        .await?;
        Ok(())
    }
}
