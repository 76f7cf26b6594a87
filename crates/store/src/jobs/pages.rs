//! Writing what a job lists: each page with the checkpoint after it, and reconcile's tombstones.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::Utc;
use hookgate_events::{ClerkEvent, EntityKind};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
use sea_orm::{ConnectionTrait, TransactionTrait as _};
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{JobProgress, progress_column};
use crate::StoreError;
use crate::queue::{self, Jobs};
use crate::sync::{self, ApplyError, Source};

/// What one page of listed objects changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// One page of objects of one kind, to write for a job the caller holds.
#[derive(Debug)]
pub struct ListedPage<'a> {
    pub owner: &'a str,
    pub job_id: Uuid,
    pub tenant_id: Uuid,
    pub kind: EntityKind,
    pub objects: &'a [(ClerkEvent, &'a RawValue)],
    /// The job's progress after this page, written with it once this page's counts are added
    /// to the kind at `kind_index`.
    pub progress: &'a mut JobProgress,
    pub kind_index: usize,
    pub lease: Duration,
}

impl crate::Store {
    /// Writes one page of listed objects through the same guarded upsert as webhooks, and the
    /// job's progress after it, in one transaction; `None` (and nothing written) when `owner`
    /// no longer holds the job.
    pub async fn write_listed_page(
        &self,
        page: ListedPage<'_>,
    ) -> Result<Option<PageCounts>, StoreError> {
        let Some(table) = sync::table_of(page.kind) else {
            return Ok(Some(PageCounts::default()));
        };
        let txn = self.writer.begin().await?;
        // The lease first: a job no longer held writes nothing, and on SQLite the write lock is
        // taken before anything is read, so another process committing meanwhile cannot turn
        // this transaction's snapshot stale.
        if !queue::renew::<Jobs>(&txn, page.owner, page.job_id, page.lease, Vec::new()).await? {
            txn.rollback().await?;
            return Ok(None);
        }
        // PostgreSQL says which rows it inserted; SQLite is asked beforehand (a lookup its
        // planner always makes by index, where PostgreSQL's may scan a table it has no
        // statistics for yet).
        let existing = if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let ids: Vec<String> = page
                .objects
                .iter()
                .filter_map(|(event, _)| event.entity().map(|e| e.id.to_string()))
                .collect();
            existing_ids(&txn, table, page.tenant_id, &ids).await?
        } else {
            HashSet::new()
        };
        let source = Source {
            event_id: page.job_id,
            svix_id: "",
        };
        // One row an object: a page repeating an object (after a gap) keeps its newest version,
        // since one statement may not touch a row twice.
        let mut newest: HashMap<&str, usize> = HashMap::with_capacity(page.objects.len());
        for (at, (event, _)) in page.objects.iter().enumerate() {
            let Some(entity) = event.entity() else {
                continue;
            };
            let kept = newest.entry(entity.id.as_str()).or_insert(at);
            if page.objects[*kept].0.version() < event.version() {
                *kept = at;
            }
        }
        let mut rows = Vec::with_capacity(newest.len());
        let mut chosen: Vec<usize> = newest.into_values().collect();
        chosen.sort_unstable();
        for at in chosen {
            let (event, data) = &page.objects[at];
            match sync::sync_row(page.tenant_id, source, event) {
                Ok(Some(row)) => rows.push((row, *data)),
                Ok(None) | Err(ApplyError::NoEntity) => {}
                Err(ApplyError::Store(err)) => return Err(err),
            }
        }
        let written = sync::write_listed(&txn, rows).await?;
        let mut counts = PageCounts::default();
        for (id, inserted) in &written {
            if inserted.unwrap_or_else(|| !existing.contains(id)) {
                counts.created += 1;
            } else {
                counts.updated += 1;
            }
        }
        counts.unchanged = page.objects.len() as u64 - counts.created - counts.updated;
        if let Some(kind) = page.progress.kinds.get_mut(page.kind_index) {
            kind.created += counts.created;
            kind.updated += counts.updated;
            kind.unchanged += counts.unchanged;
        }
        let held = queue::renew::<Jobs>(
            &txn,
            page.owner,
            page.job_id,
            page.lease,
            progress_column(page.progress),
        )
        .await?;
        if !held {
            txn.rollback().await?;
            return Ok(None);
        }
        txn.commit().await?;
        Ok(Some(counts))
    }

    /// The ids of a tenant's live rows of `kind` whose version is at most `not_after` (ms).
    pub async fn live_ids(
        &self,
        tenant_id: Uuid,
        kind: EntityKind,
        not_after: i64,
    ) -> Result<Vec<String>, StoreError> {
        let Some(table) = sync::table_of(kind) else {
            return Ok(Vec::new());
        };
        let select = Query::select()
            .column(Alias::new("clerk_id"))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant_id))
            .and_where(Expr::col(Alias::new("deleted_at")).is_null())
            .and_where(Expr::col(Alias::new("version")).lte(not_after))
            .to_owned();
        let rows = self.reader.query_all(&select).await?;
        rows.iter()
            .map(|row| row.try_get::<String>("", "clerk_id").map_err(Into::into))
            .collect()
    }

    /// Tombstones the live rows among `ids` whose version is at most `not_after` (a row a
    /// webhook wrote since the listing began is left alone), adds how many to the kind at
    /// `kind_index` of the job's progress, marks that kind done, and writes the progress, all in
    /// one transaction; `None` (nothing written) when the job is no longer `owner`'s. A
    /// tombstone keeps the last object hookgate had, under the listing's start as its version.
    pub async fn tombstone_unlisted(
        &self,
        unlisted: Unlisted<'_>,
    ) -> Result<Option<u64>, StoreError> {
        let txn = self.writer.begin().await?;
        let held = queue::renew::<Jobs>(
            &txn,
            unlisted.owner,
            unlisted.job_id,
            unlisted.lease,
            Vec::new(),
        )
        .await?;
        if !held {
            txn.rollback().await?;
            return Ok(None);
        }
        let now = Utc::now();
        let not_after = unlisted.not_after;
        let mut tombstoned = 0;
        if let Some(table) = sync::table_of(unlisted.kind) {
            for chunk in unlisted.ids.chunks(500) {
                let update = Query::update()
                    .table(Alias::new(table))
                    .value(Alias::new("deleted_at"), now)
                    .value(Alias::new("version"), not_after)
                    .value(Alias::new("tiebreak"), format!("{not_after:020}."))
                    .value(Alias::new("last_event_id"), unlisted.job_id)
                    .value(Alias::new("applied_at"), now)
                    .and_where(Expr::col(Alias::new("tenant_id")).eq(unlisted.tenant_id))
                    .and_where(Expr::col(Alias::new("clerk_id")).is_in(chunk.iter().cloned()))
                    .and_where(Expr::col(Alias::new("deleted_at")).is_null())
                    .and_where(Expr::col(Alias::new("version")).lte(not_after))
                    .to_owned();
                tombstoned += txn.execute(&update).await?.rows_affected();
            }
        }
        if let Some(kind) = unlisted.progress.kinds.get_mut(unlisted.kind_index) {
            kind.tombstoned += tombstoned;
            kind.done = true;
        }
        queue::renew::<Jobs>(
            &txn,
            unlisted.owner,
            unlisted.job_id,
            unlisted.lease,
            progress_column(unlisted.progress),
        )
        .await?;
        txn.commit().await?;
        Ok(Some(tombstoned))
    }
}

/// What a reconcile tombstones once a kind's listing is complete.
#[derive(Debug)]
pub struct Unlisted<'a> {
    pub owner: &'a str,
    pub job_id: Uuid,
    pub tenant_id: Uuid,
    pub kind: EntityKind,
    /// Live rows the listing did not show.
    pub ids: &'a [String],
    /// Rows with a newer version than this (ms) are spared.
    pub not_after: i64,
    /// The job's progress, written with the tombstones once their count is added to the kind
    /// at `kind_index` and the kind is marked done.
    pub progress: &'a mut JobProgress,
    pub kind_index: usize,
    pub lease: Duration,
}

/// Which of `ids` the tenant has a row for (live or tombstone).
async fn existing_ids(
    db: &impl ConnectionTrait,
    table: &str,
    tenant_id: Uuid,
    ids: &[String],
) -> Result<HashSet<String>, StoreError> {
    let mut found = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let select = Query::select()
            .column(Alias::new("clerk_id"))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant_id))
            .and_where(Expr::col(Alias::new("clerk_id")).is_in(chunk.iter().cloned()))
            .to_owned();
        for row in db.query_all(&select).await? {
            found.insert(row.try_get::<String>("", "clerk_id")?);
        }
    }
    Ok(found)
}
