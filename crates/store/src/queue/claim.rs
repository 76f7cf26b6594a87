//! The claim statement: one `UPDATE … RETURNING *` that leases due rows.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{DbBackend, EntityName as _, IdenStatic as _, Statement};
use uuid::Uuid;

use super::{QueueStatus, QueueTable};

/// `UPDATE <table>` leasing up to `limit` due rows to `owner`, `RETURNING *`. On PostgreSQL
/// concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`); SQLite has one writer,
/// so claims are serial anyway. Written as SQL because sea-query cannot put a locking clause in
/// an `UPDATE`'s subquery.
pub(super) fn claim_statement<T: QueueTable>(
    backend: DbBackend,
    owner: &str,
    limit: u64,
    lease: Duration,
    only: Option<Uuid>,
) -> Statement {
    let table = T::Entity::default().table_name();
    let id = T::ID.as_str();
    let status = T::STATUS.as_str();
    let next_attempt_at = T::NEXT_ATTEMPT_AT.as_str();
    let lease_owner = T::LEASE_OWNER.as_str();
    let lease_until = T::LEASE_UNTIL.as_str();
    let now = Utc::now();
    let leased_until =
        now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
    let (skip_locked, [p1, p2, p3, p4]) = match backend {
        DbBackend::Postgres => ("FOR UPDATE SKIP LOCKED", ["$1", "$2", "$3", "$4"]),
        _ => ("", ["?1", "?2", "?3", "?4"]),
    };
    let (pending, failed) = (QueueStatus::Pending.as_str(), QueueStatus::Failed.as_str());
    let mut claimable = match T::CLAIMABLE_SQL {
        "" => String::new(),
        condition => format!("AND {}", condition.replace(":now", p3)),
    };
    if only.is_some() {
        let p5 = match backend {
            DbBackend::Postgres => "$5",
            _ => "?5",
        };
        claimable.push_str(&format!(" AND {id} = {p5}"));
    }
    let sql = format!(
        "UPDATE {table} SET {lease_owner} = {p1}, {lease_until} = {p2} \
         WHERE {id} IN (SELECT {id} FROM {table} \
           WHERE {status} IN ('{pending}', '{failed}') AND {next_attempt_at} <= {p3} \
             AND ({lease_until} IS NULL OR {lease_until} < {p3}) {claimable} \
           ORDER BY {next_attempt_at} LIMIT {p4} {skip_locked}) \
         RETURNING *"
    );
    let mut values: Vec<sea_orm::Value> = vec![
        owner.into(),
        leased_until.into(),
        now.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    if let Some(only) = only {
        values.push(only.into());
    }
    Statement::from_sql_and_values(backend, sql, values)
}
