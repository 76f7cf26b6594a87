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

/// An object: its tenant and Clerk id.
type ObjectKey = (Uuid, String);

/// Applies every event of `events` in `db`, returning what each did, in order.
pub(crate) async fn apply_batch(
    db: &impl ConnectionTrait,
    events: &[BatchEvent<'_>],
) -> Result<Vec<Applied>, ApplyError> {
    let mut applied = vec![Applied::NoTable; events.len()];
    let mut rounds: HashMap<(&'static str, ObjectKey), usize> = HashMap::new();
    let mut groups: BTreeMap<GroupKey, Vec<(usize, ObjectKey, Row, &RawValue)>> = BTreeMap::new();
    for (index, item) in events.iter().enumerate() {
        let Some(row) = sync_row(item.tenant_id, item.source, item.event)? else {
            continue;
        };
        let Some(entity) = item.event.entity() else {
            return Err(ApplyError::NoEntity);
        };
        let table = row.table();
        let key = (item.tenant_id, entity.id.to_string());
        let round = rounds.entry((table, key.clone())).or_default();
        // A delete that carried only the id sets fewer columns than a full row.
        let stub = matches!(item.event.data, EventData::Deleted(_));
        groups
            .entry((*round, table, item.event.is_delete(), stub))
            .or_default()
            .push((index, key, row, item.data));
        *round += 1;
        applied[index] = Applied::Unchanged;
    }
    for ((_, _, deletes, _), group) in groups {
        let mut keys = Vec::with_capacity(group.len());
        let mut rows = Vec::with_capacity(group.len());
        for (index, key, row, data) in group {
            keys.push((index, key));
            rows.push((row, data));
        }
        let written: HashSet<ObjectKey> =
            write_group(db, deletes, rows).await?.into_iter().collect();
        for (index, key) in keys {
            if written.contains(&key) {
                applied[index] = Applied::Written;
            }
        }
    }
    Ok(applied)
}
