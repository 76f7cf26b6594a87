//! Adding and dropping one column: what most later migrations do.

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
