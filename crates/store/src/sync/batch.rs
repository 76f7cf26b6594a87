//! A batch of events applied in a few statements: the rows of one table (and kind of write) go
//! in one guarded multi-row upsert, instead of one statement per event. Each statement names an
//! object at most once (PostgreSQL refuses to update a row twice in one statement): a second
//! event of the same object in the batch goes in a later round. The guard makes the order of
//! rounds irrelevant, as it makes the order of events irrelevant.

use std::collections::{BTreeMap, HashMap, HashSet};

use hookgate_events::{ClerkEvent, EventData};
use sea_orm::ConnectionTrait;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::{Applied, ApplyError, Row, Source, rows::write_group, sync_row};

/// One event of a batch to apply.
pub(crate) struct BatchEvent<'a> {
    pub tenant_id: Uuid,
    pub source: Source<'a>,
    pub event: &'a ClerkEvent,
    pub data: &'a RawValue,
}

/// Rows of one statement: same round, same table, same kind of write.
type GroupKey = (usize, &'static str, bool, bool);

/// Applies every event of `events` in `db`, returning what each did, in order.
pub(crate) async fn apply_batch(
    db: &impl ConnectionTrait,
    events: &[BatchEvent<'_>],
) -> Result<Vec<Applied>, ApplyError> {
    let mut applied = vec![Applied::NoTable; events.len()];
    let mut rounds: HashMap<(Uuid, &'static str, String), usize> = HashMap::new();
    let mut groups: BTreeMap<GroupKey, Vec<(usize, Row, &RawValue)>> = BTreeMap::new();
    for (index, item) in events.iter().enumerate() {
        let Some(row) = sync_row(item.tenant_id, item.source, item.event)? else {
            continue;
        };
        let Some(entity) = item.event.entity() else {
            return Err(ApplyError::NoEntity);
        };
        let table = row.table();
        let round = rounds
            .entry((item.tenant_id, table, entity.id.to_string()))
            .or_default();
        // A delete that carried only the id sets fewer columns than a full row.
        let stub = matches!(item.event.data, EventData::Deleted(_));
        groups
            .entry((*round, table, item.event.is_delete(), stub))
            .or_default()
            .push((index, row, item.data));
        *round += 1;
        applied[index] = Applied::Unchanged;
    }
    for ((_, _, deletes, _), rows) in groups {
        let keys: Vec<(usize, Uuid, String)> = rows
            .iter()
            .map(|(index, _, _)| {
                let item = &events[*index];
                let id = item.event.entity().map(|e| e.id.to_string());
                (*index, item.tenant_id, id.unwrap_or_default())
            })
            .collect();
        let written: HashSet<(Uuid, String)> = write_group(
            db,
            deletes,
            rows.into_iter().map(|(_, row, data)| (row, data)).collect(),
        )
        .await?
        .into_iter()
        .collect();
        for (index, tenant_id, clerk_id) in keys {
            if written.contains(&(tenant_id, clerk_id)) {
                applied[index] = Applied::Written;
            }
        }
    }
    Ok(applied)
}
