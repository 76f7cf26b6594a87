//! Adding and dropping one column (what most later migrations do), and the parts new tables
//! share.

use sea_orm_migration::prelude::*;

pub(crate) async fn add(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(Alias::new(table))
                .add_column(column)
                .to_owned(),
        )
        .await
}

pub(crate) async fn drop(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(Alias::new(table))
                .drop_column(Alias::new(column))
                .to_owned(),
        )
        .await
}

/// The columns of a leased queue table: status, attempts, next attempt, lease and last error.
pub(crate) fn queue(table: &mut TableCreateStatement) {
    table
        .col(
            ColumnDef::new(Alias::new("status"))
                .string_len(16)
                .not_null(),
        )
        .col(ColumnDef::new(Alias::new("attempts")).integer().not_null())
        .col(ColumnDef::new(Alias::new("next_attempt_at")).timestamp_with_time_zone())
        .col(ColumnDef::new(Alias::new("lease_owner")).string_len(128))
        .col(ColumnDef::new(Alias::new("lease_until")).timestamp_with_time_zone())
        .col(ColumnDef::new(Alias::new("last_error")).text());
}

/// A `tenant_id` referring to its tenant: the table's rows go with the tenant.
pub(crate) fn of_tenant(table: &mut TableCreateStatement, name: &str) {
    table.foreign_key(
        ForeignKey::create()
            .from(Alias::new(name), Alias::new("tenant_id"))
            .to(Alias::new("tenants"), Alias::new("id"))
            .on_delete(ForeignKeyAction::Cascade),
    );
}
