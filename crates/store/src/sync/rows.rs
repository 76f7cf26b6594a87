//! Sync rows and the guarded upsert that writes them: one row (a webhook) or many rows of one
//! table in one statement (a listed page).

use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DbBackend, EntityName as _, EntityTrait,
    IdenStatic as _, Iterable as _,
};
use serde_json::value::RawValue;

use crate::entities::sync::{
    organization, organization_domain, organization_invitation, organization_membership,
    permission, role, session, user, waitlist_entry,
};

/// A sync row to write, of one table.
pub(crate) enum Row {
    User(user::ActiveModel),
    Organization(organization::ActiveModel),
    OrganizationMembership(organization_membership::ActiveModel),
    OrganizationInvitation(organization_invitation::ActiveModel),
    OrganizationDomain(organization_domain::ActiveModel),
    Session(session::ActiveModel),
    Role(role::ActiveModel),
    Permission(permission::ActiveModel),
    WaitlistEntry(waitlist_entry::ActiveModel),
}

/// Every variant of [`Row`] with its module, for code that is the same for each table.
macro_rules! each_row {
    ($row:expr, $model:ident => $body:expr) => {
        match $row {
            Row::User($model) => $body,
            Row::Organization($model) => $body,
            Row::OrganizationMembership($model) => $body,
            Row::OrganizationInvitation($model) => $body,
            Row::OrganizationDomain($model) => $body,
            Row::Session($model) => $body,
            Row::Role($model) => $body,
            Row::Permission($model) => $body,
            Row::WaitlistEntry($model) => $body,
        }
    };
}

impl Row {
    pub(super) async fn write(
        self,
        db: &impl ConnectionTrait,
        deletes: bool,
        data: &RawValue,
    ) -> Result<bool, sea_orm::DbErr> {
        each_row!(self, model => guarded(db, deletes, data, model).await)
    }
}

impl Row {
    /// The row's table.
    pub(crate) fn table(&self) -> &'static str {
        each_row!(self, model => table_of(model))
    }
}

fn table_of<A: ActiveModelTrait>(_: &A) -> &'static str {
    A::Entity::default().table_name()
}

/// Well under both databases' limits on bound values (SQLite 32 766, PostgreSQL 65 535).
const ROWS_A_STATEMENT: usize = 100;

/// A row a batch wrote: its Clerk id, and on PostgreSQL whether it was inserted (rather than
/// updated), which the database says for free; SQLite callers look for the row beforehand.
pub(crate) type WrittenRow = (String, Option<bool>);

/// Writes listed objects (never deletes) of one table through the guarded upsert, many rows a
/// statement; returns the rows written. Each id at most once in `rows`.
pub(crate) async fn write_listed(
    db: &impl ConnectionTrait,
    rows: Vec<(Row, &RawValue)>,
) -> Result<Vec<WrittenRow>, sea_orm::DbErr> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let mut returning = vec![Expr::col(Alias::new("clerk_id"))];
    if postgres {
        // A row the statement inserted has no deleting transaction yet.
        returning.push(Expr::cust("(xmax = 0)"));
    }
    write_chunks(db, false, &returning, rows, |row| {
        let id = row.try_get_by_index::<String>(0)?;
        let inserted = if postgres {
            Some(row.try_get_by_index::<bool>(1)?)
        } else {
            None
        };
        Ok((id, inserted))
    })
    .await
}

/// Writes rows of one table, all deletes or none, each object at most once, through the
/// guarded upsert, many rows a statement; returns the (tenant, Clerk id) of the rows written.
pub(crate) async fn write_group(
    db: &impl ConnectionTrait,
    deletes: bool,
    rows: Vec<(Row, &RawValue)>,
) -> Result<Vec<(uuid::Uuid, String)>, sea_orm::DbErr> {
    let returning = [
        Expr::col(Alias::new("tenant_id")),
        Expr::col(Alias::new("clerk_id")),
    ];
    write_chunks(db, deletes, &returning, rows, |row| {
        Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
    })
    .await
}

/// `rows` through [`write_chunk`], [`ROWS_A_STATEMENT`] at a time, each row written read by
/// `read`.
async fn write_chunks<T>(
    db: &impl ConnectionTrait,
    deletes: bool,
    returning: &[Expr],
    rows: Vec<(Row, &RawValue)>,
    read: impl Fn(&sea_orm::QueryResult) -> Result<T, sea_orm::DbErr>,
) -> Result<Vec<T>, sea_orm::DbErr> {
    let mut written = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<(Row, &RawValue)> = rows.by_ref().take(ROWS_A_STATEMENT).collect();
        for row in write_chunk(db, deletes, returning, chunk).await? {
            written.push(read(&row)?);
        }
    }
    Ok(written)
}

/// One guarded upsert of `chunk` (rows of one table), returning `returning` of each row written.
async fn write_chunk(
    db: &impl ConnectionTrait,
    deletes: bool,
    returning: &[Expr],
    chunk: Vec<(Row, &RawValue)>,
) -> Result<Vec<sea_orm::QueryResult>, sea_orm::DbErr> {
    macro_rules! many {
        ($variant:ident) => {{
            let mut models = Vec::with_capacity(chunk.len());
            for (row, data) in chunk {
                match row {
                    Row::$variant(model) => models.push((model, data)),
                    _ => {
                        return Err(sea_orm::DbErr::Custom(
                            "rows of two tables in one statement".into(),
                        ));
                    }
                }
            }
            let mut insert = guarded_insert(db.get_database_backend(), deletes, models)?;
            insert.returning(Query::returning().exprs(returning.iter().cloned()));
            db.query_all(&insert).await
        }};
    }
    match chunk.first().map(|(row, _)| row) {
        Some(Row::User(_)) => many!(User),
        Some(Row::Organization(_)) => many!(Organization),
        Some(Row::OrganizationMembership(_)) => many!(OrganizationMembership),
        Some(Row::OrganizationInvitation(_)) => many!(OrganizationInvitation),
        Some(Row::OrganizationDomain(_)) => many!(OrganizationDomain),
        Some(Row::Session(_)) => many!(Session),
        Some(Row::Role(_)) => many!(Role),
        Some(Row::Permission(_)) => many!(Permission),
        Some(Row::WaitlistEntry(_)) => many!(WaitlistEntry),
        None => Ok(Vec::new()),
    }
}

/// `INSERT … ON CONFLICT (tenant_id, clerk_id) DO UPDATE SET … WHERE <guard>`: one statement,
/// so the check and the write cannot be separated. Returns whether a row was written. `row`
/// leaves `data` unset: the raw JSON goes in as text (cast to `jsonb` on PostgreSQL), so no JSON
/// tree is built, cloned and serialized again for every event.
pub(super) async fn guarded<A>(
    db: &impl ConnectionTrait,
    deletes: bool,
    data: &RawValue,
    row: A,
) -> Result<bool, sea_orm::DbErr>
where
    A: ActiveModelTrait + Send,
    A::Entity: EntityTrait,
{
    let insert = guarded_insert(db.get_database_backend(), deletes, vec![(row, data)])?;
    let rows = db.execute(&insert).await?.rows_affected();
    Ok(rows > 0)
}

fn guarded_insert<A>(
    backend: DbBackend,
    deletes: bool,
    rows: Vec<(A, &RawValue)>,
) -> Result<sea_orm::sea_query::InsertStatement, sea_orm::DbErr>
where
    A: ActiveModelTrait + Send,
    A::Entity: EntityTrait,
{
    let entity = A::Entity::default();
    let table = Alias::new(entity.table_name());
    let stored = |column: &str| Expr::col((table.clone(), Alias::new(column)));
    let incoming = |column: &str| Expr::col((Alias::new("excluded"), Alias::new(column)));
    let live = stored("deleted_at").is_null();
    // A newer version, or the same one from a later event (timestamp, then svix-id): the row
    // left never depends on arrival order. The same event again is not newer.
    let newer = stored("version")
        .lt(incoming("version"))
        .or(stored("version")
            .eq(incoming("version"))
            .and(stored("tiebreak").lt(incoming("tiebreak"))));
    let guard = if deletes {
        live.or(newer)
    } else {
        live.and(newer)
    };
    let updated = <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| !matches!(c.as_str(), "tenant_id" | "clerk_id"));
    let on_conflict = OnConflict::columns([Alias::new("tenant_id"), Alias::new("clerk_id")])
        .update_columns(updated)
        .action_and_where(guard)
        .to_owned();
    // Every row sets the same columns: the bookkeeping ones and the typed ones of its table.
    let mut columns = Vec::new();
    let mut insert = Query::insert();
    insert.into_table(table.clone());
    for (index, (row, data)) in rows.into_iter().enumerate() {
        let mut values = Vec::new();
        for column in <A::Entity as EntityTrait>::Column::iter() {
            if column.as_str() == "data" {
                continue;
            }
            if let ActiveValue::Set(value) | ActiveValue::Unchanged(value) = row.get(column) {
                if index == 0 {
                    columns.push(Alias::new(column.as_str()));
                }
                values.push(Expr::val(value));
            }
        }
        let text = Expr::val(data.get());
        values.push(match backend {
            DbBackend::Postgres => text.cast_as(Alias::new("jsonb")),
            _ => text,
        });
        if index == 0 {
            columns.push(Alias::new("data"));
            insert.columns(columns.clone());
        }
        insert
            .values(values)
            .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?;
    }
    insert.on_conflict(on_conflict);
    Ok(insert)
}
