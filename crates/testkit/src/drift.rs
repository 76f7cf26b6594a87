//! Schema drift: Clerk's event fixtures with one field given a value of another JSON type, the
//! way a sender that changed a field it does not document would send them.

use std::path::Path;

use serde_json::{Value, json};

/// The fields the sync keys on, as object-key paths under `data`, for any kind of object: ids,
/// versions, delete flags and owning ids. Drift there is meant to fail an event.
pub const KEY_FIELDS: &[&[&str]] = &[
    &["id"],
    &["updated_at"],
    &["deleted"],
    &["user_id"],
    &["organization_id"],
    &["organization", "id"],
    &["public_user_data", "user_id"],
    &["public_organization_data", "id"],
    &["payer", "user_id"],
    &["payer", "organization_id"],
];

/// One value of each JSON type.
pub fn replacements() -> [Value; 6] {
    [
        json!("drifted"),
        json!(7),
        json!(true),
        Value::Null,
        json!([1, "two"]),
        json!({"drifted": true}),
    ]
}

/// Every fixture in `crates/events/tests/fixtures`: its event type and body.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tests/fixtures");
    let mut all: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    all.sort();
    all
}

/// A body with one field drifted.
#[derive(Debug, Clone)]
pub struct Drift {
    /// The field, as `data.items[0].interval` (or `object`, `event_attributes...`).
    pub path: String,
    pub replacement: Value,
    pub body: Vec<u8>,
}

/// Every drift of one envelope: each field of `data` (and the envelope's `object` and
/// attributes) that is not a key field and holds no key field, given each value of another JSON
/// type than its own.
pub fn drifts(body: &[u8]) -> Vec<Drift> {
    let envelope: Value = serde_json::from_slice(body).expect("fixtures are JSON");
    let mut places = Vec::new();
    if let Some(data) = envelope.get("data") {
        collect(data, &mut vec![Step::Key("data".into())], true, &mut places);
    }
    for field in ["object", "event_attributes"] {
        if let Some(value) = envelope.get(field) {
            collect(
                value,
                &mut vec![Step::Key(field.into())],
                false,
                &mut places,
            );
        }
    }
    drifted(&envelope, places)
}

/// Every drift of the key fields of one envelope and of the objects that hold them (`data`
/// itself included): what the sync must either refuse or read exactly as before. `null` is left
/// out: for an optional owner it is a value, not drift.
pub fn key_drifts(body: &[u8]) -> Vec<Drift> {
    let envelope: Value = serde_json::from_slice(body).expect("fixtures are JSON");
    let mut places = Vec::new();
    if let Some(data) = envelope.get("data") {
        collect_keys(data, &mut vec![Step::Key("data".into())], &mut places);
    }
    let mut drifts = drifted(&envelope, places);
    drifts.retain(|drift| !drift.replacement.is_null());
    drifts
}

fn drifted(envelope: &Value, places: Vec<(Vec<Step>, Value)>) -> Vec<Drift> {
    let mut drifts = Vec::new();
    for (path, original) in places {
        for replacement in replacements() {
            if same_type(&original, &replacement) {
                continue;
            }
            let mut changed = envelope.clone();
            *at(&mut changed, &path) = replacement.clone();
            drifts.push(Drift {
                path: render(&path),
                replacement,
                body: serde_json::to_vec(&changed).unwrap(),
            });
        }
    }
    drifts
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node below `value` (and `value` itself) that may drift. Under `data`, key fields and
/// their ancestors stay as they are; inside a list, names are no longer key fields.
fn collect(value: &Value, path: &mut Vec<Step>, in_data: bool, out: &mut Vec<(Vec<Step>, Value)>) {
    if !(in_data && holds_key(path)) {
        out.push((path.clone(), value.clone()));
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Step::Key(key.clone()));
                collect(child, path, in_data, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                path.push(Step::Index(index));
                collect(child, path, in_data, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The key fields below `value` and their ancestors, `value` itself included.
fn collect_keys(value: &Value, path: &mut Vec<Step>, out: &mut Vec<(Vec<Step>, Value)>) {
    if !holds_key(path) {
        return;
    }
    out.push((path.clone(), value.clone()));
    if let Value::Object(map) = value {
        for (key, child) in map {
            path.push(Step::Key(key.clone()));
            collect_keys(child, path, out);
            path.pop();
        }
    }
}

/// Whether `path` (starting at `data`) is a key field or an ancestor of one.
fn holds_key(path: &[Step]) -> bool {
    let mut names = Vec::new();
    for step in &path[1..] {
        match step {
            Step::Key(key) => names.push(key.as_str()),
            Step::Index(_) => return false,
        }
    }
    names.is_empty() || KEY_FIELDS.iter().any(|key| key.starts_with(&names))
}

fn at<'a>(mut value: &'a mut Value, path: &[Step]) -> &'a mut Value {
    for step in path {
        value = match step {
            Step::Key(key) => value.get_mut(key.as_str()).unwrap(),
            Step::Index(index) => value.get_mut(*index).unwrap(),
        };
    }
    value
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn render(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Key(key) if text.is_empty() => text.push_str(key),
            Step::Key(key) => {
                text.push('.');
                text.push_str(key);
            }
            Step::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}
