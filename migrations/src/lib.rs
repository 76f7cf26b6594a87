//! hookgate's schema, one migration per file, for SQLite and PostgreSQL alike.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261129_000001_create_tenants;
mod m20261129_000002_create_tenant_secrets;
mod m20261129_000003_create_inbox_events;
mod m20261129_000004_create_sync_tables;
mod m20261129_000005_add_inbox_processed_at;
mod m20261129_000006_create_api_keys;
mod m20261129_000007_add_tenant_limits;
mod m20261129_000008_create_event_attempts;
mod m20261129_000009_add_inbox_trace_parent;
mod m20261129_000010_create_destinations;
mod m20261201_000011_add_inbox_warnings;
mod m20261201_000012_add_inbox_body_hash;
mod m20261201_000013_add_sync_tiebreak;
mod m20261201_000014_create_jobs;
mod m20261201_000015_add_destination_url_ciphertext;
mod m20261201_000016_add_due_deliveries_index;
mod m20261201_000017_add_destination_health;
mod m20261201_000018_create_notifications;
mod m20261201_000019_create_processes;
mod m20261201_000020_create_inbox_bodies;

#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_tenants::Migration),
            Box::new(m20261129_000002_create_tenant_secrets::Migration),
            Box::new(m20261129_000003_create_inbox_events::Migration),
            Box::new(m20261129_000004_create_sync_tables::Migration),
            Box::new(m20261129_000005_add_inbox_processed_at::Migration),
            Box::new(m20261129_000006_create_api_keys::Migration),
            Box::new(m20261129_000007_add_tenant_limits::Migration),
            Box::new(m20261129_000008_create_event_attempts::Migration),
            Box::new(m20261129_000009_add_inbox_trace_parent::Migration),
            Box::new(m20261129_000010_create_destinations::Migration),
            Box::new(m20261201_000011_add_inbox_warnings::Migration),
            Box::new(m20261201_000012_add_inbox_body_hash::Migration),
            Box::new(m20261201_000013_add_sync_tiebreak::Migration),
            Box::new(m20261201_000014_create_jobs::Migration),
            Box::new(m20261201_000015_add_destination_url_ciphertext::Migration),
            Box::new(m20261201_000016_add_due_deliveries_index::Migration),
            Box::new(m20261201_000017_add_destination_health::Migration),
            Box::new(m20261201_000018_create_notifications::Migration),
            Box::new(m20261201_000019_create_processes::Migration),
            Box::new(m20261201_000020_create_inbox_bodies::Migration),
        ]
    }
}
