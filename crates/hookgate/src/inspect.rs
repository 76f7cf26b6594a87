//! `hookgate events inspect`: what hookgate reads from one webhook body.

use std::io::Read as _;

use anyhow::Context as _;
use hookgate_events::{ClerkEvent, EventData};
use serde_json::{Value, json};

/// Reads a body from `source` (a path, or `-` for stdin) and describes it as pretty JSON.
pub fn inspect(source: &str) -> anyhow::Result<String> {
    let body = if source == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .context("reading stdin")?;
        body
    } else {
        std::fs::read(source).with_context(|| format!("reading {source}"))?
    };
    let event = ClerkEvent::decode(&body)?;
    Ok(serde_json::to_string_pretty(&describe(&event))?)
}

pub fn describe(event: &ClerkEvent) -> Value {
    let entity = event.entity();
    json!({
        "type": event.event_type.as_str(),
        "known": event.event_type.kind().is_some(),
        "timestamp_ms": event.timestamp_ms,
        "instance_id": event.instance_id,
        "entity": entity.map(|e| json!({
            "kind": e.kind,
            "id": e.id,
            "organization_id": e.organization_id,
            "user_id": e.user_id,
        })),
        "version": event.version(),
        "deletes": event.is_delete(),
        "data_is_full_object": !matches!(event.data, EventData::Deleted(_) | EventData::Unknown(_)),
        "primary_email": event.primary_email(),
        // Fields read as absent: Clerk sent a value of another type than documented.
        "warnings": event.warnings,
    })
}
