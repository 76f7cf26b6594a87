//! The synced Clerk objects, one table per kind, keyed by `(tenant_id, clerk_id)`.
//!
//! Every table has the same bookkeeping columns (`data`, `version`, `deleted_at`,
//! `last_event_id`, `applied_at`) plus typed columns for what people filter and join on. Clerk's
//! own times are kept as Clerk sends them: milliseconds since the epoch. No foreign keys between
//! these tables: events arrive in any order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A typed column of a sync table.
enum Col {
    Text(&'static str),
    Big(&'static str),
    Bool(&'static str),
}

struct SyncTable {
    name: &'static str,
    columns: &'static [Col],
    /// Each entry is one index on `(tenant_id, <column>)`.
    indexed: &'static [&'static str],
}

use Col::{Big, Bool, Text};

const TABLES: &[SyncTable] = &[
    SyncTable {
        name: "users",
        columns: &[
            Text("primary_email"),
            Text("first_name"),
            Text("last_name"),
            Text("username"),
            Text("image_url"),
            Text("external_id"),
            Bool("banned"),
            Bool("locked"),
            Big("last_sign_in_at"),
            Big("last_active_at"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["primary_email", "external_id", "updated_at"],
    },
    SyncTable {
        name: "organizations",
        columns: &[
            Text("name"),
            Text("slug"),
            Text("image_url"),
            Big("members_count"),
            Text("created_by"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["slug", "updated_at"],
    },
    SyncTable {
        name: "organization_memberships",
        columns: &[
            Text("organization_id"),
            Text("user_id"),
            Text("role"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["organization_id", "user_id", "updated_at"],
    },
    SyncTable {
        name: "organization_invitations",
        columns: &[
            Text("organization_id"),
            Text("email_address"),
            Text("role"),
            Text("status"),
            Text("user_id"),
            Big("expires_at"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["organization_id", "email_address", "updated_at"],
    },
    SyncTable {
        name: "organization_domains",
        columns: &[
            Text("organization_id"),
            Text("name"),
            Text("enrollment_mode"),
            Text("verification_status"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["organization_id", "updated_at"],
    },
    SyncTable {
        name: "sessions",
        columns: &[
            Text("user_id"),
            Text("client_id"),
            Text("status"),
            Big("last_active_at"),
            Big("expire_at"),
            Big("abandon_at"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["user_id", "updated_at"],
    },
    SyncTable {
        name: "roles",
        columns: &[
            Text("key"),
            Text("name"),
            Text("description"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["updated_at"],
    },
    SyncTable {
        name: "permissions",
        columns: &[
            Text("key"),
            Text("name"),
            Text("description"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["updated_at"],
    },
    SyncTable {
        name: "waitlist_entries",
        columns: &[
            Text("email_address"),
            Text("status"),
            Big("created_at"),
            Big("updated_at"),
        ],
        indexed: &["email_address", "updated_at"],
    },
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            let name = Alias::new(table.name);
            let mut create = Table::create();
            create
                .table(name.clone())
                .col(ColumnDef::new(Alias::new("tenant_id")).uuid().not_null())
                .col(
                    ColumnDef::new(Alias::new("clerk_id"))
                        .string_len(256)
                        .not_null(),
                );
            for column in table.columns {
                let mut def = match column {
                    Text(c) => ColumnDef::new(Alias::new(*c)).text().to_owned(),
                    Big(c) => ColumnDef::new(Alias::new(*c)).big_integer().to_owned(),
                    Bool(c) => ColumnDef::new(Alias::new(*c)).boolean().to_owned(),
                };
                create.col(def.null());
            }
            create
                // The latest object Clerk sent; for a tombstone, what the delete carried.
                .col(ColumnDef::new(Alias::new("data")).json_binary().not_null())
                // Clerk's updated_at of `data` (ms), or the delete's timestamp for a tombstone.
                .col(
                    ColumnDef::new(Alias::new("version"))
                        .big_integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("deleted_at"))
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Alias::new("last_event_id"))
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Alias::new("applied_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(Alias::new("tenant_id"))
                        .col(Alias::new("clerk_id")),
                );
            manager.create_table(create.to_owned()).await?;
            for column in table.indexed {
                manager
                    .create_index(
                        Index::create()
                            .name(format!("idx_{}_tenant_{column}", table.name))
                            .table(name.clone())
                            .col(Alias::new("tenant_id"))
                            .col(Alias::new(*column))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(table.name)).to_owned())
                .await?;
        }
        Ok(())
    }
}
