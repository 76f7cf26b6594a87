//! Decoding the way a long-lived integration must: a `null` where a list, a map or a flag is
//! expected reads as empty or false, and a field of an unexpected type is read as absent and
//! recorded, instead of failing the whole event. Only the fields the sync keys on are strict.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use serde_path_to_error::Segment;

use crate::{ClerkId, DecodeError, EntityKind, EventType};

/// Public, private or unsafe metadata: any JSON object.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An optional id: absent, `null` and `""` are all "none". Clerk fills the payer id that does not
/// apply (user or organization) with an empty string.
pub(crate) fn optional_id<'de, D>(deserializer: D) -> Result<Option<ClerkId>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => ClerkId::parse(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A field of `data` that held a value of an unexpected type and was read as absent (or, inside
/// a list, left out). Clerk changes fields it does not key on without notice (its billing
/// objects are in beta); hookgate records the change instead of refusing the event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DecodeWarning {
    /// Where, as `data.items[0].interval`.
    pub path: String,
    /// What the decoder expected there.
    pub message: String,
}

impl DecodeWarning {
    /// The path without list positions (`data.items[].interval`): the same field in every
    /// element, so a bounded metric label.
    pub fn field(&self) -> String {
        let mut field = String::with_capacity(self.path.len());
        let mut in_index = false;
        for c in self.path.chars() {
            match c {
                '[' => {
                    in_index = true;
                    field.push('[');
                }
                ']' => {
                    in_index = false;
                    field.push(']');
                }
                _ if in_index => {}
                c => field.push(c),
            }
        }
        field
    }
}

/// The most fields one event may have read as absent before hookgate calls it undecodable: a
/// body that is mostly wrong is not drift.
const MAX_REPAIRS: usize = 64;

/// The fields of `data` the sync keys on, by kind: the object's id, its version, whether it
/// deletes, and the ids of its owners (exactly what `ClerkEvent::entity` and `version` read).
/// They are decoded strictly; a value of the wrong type there fails the event.
pub(crate) fn key_fields(kind: EntityKind) -> &'static [&'static [&'static str]] {
    const COMMON: [&[&str]; 3] = [&["id"], &["updated_at"], &["deleted"]];
    match kind {
        EntityKind::User
        | EntityKind::Organization
        | EntityKind::Role
        | EntityKind::Permission
        | EntityKind::WaitlistEntry => &COMMON,
        EntityKind::Session | EntityKind::Email | EntityKind::Sms => {
            &[COMMON[0], COMMON[1], COMMON[2], &["user_id"]]
        }
        EntityKind::OrganizationMembership => &[
            COMMON[0],
            COMMON[1],
            COMMON[2],
            &["organization", "id"],
            &["public_user_data", "user_id"],
        ],
        EntityKind::OrganizationInvitation => &[
            COMMON[0],
            COMMON[1],
            COMMON[2],
            &["organization_id"],
            &["public_organization_data", "id"],
            &["user_id"],
        ],
        EntityKind::OrganizationDomain => &[COMMON[0], COMMON[1], COMMON[2], &["organization_id"]],
        EntityKind::Subscription | EntityKind::SubscriptionItem | EntityKind::PaymentAttempt => &[
            COMMON[0],
            COMMON[1],
            COMMON[2],
            &["payer", "organization_id"],
            &["payer", "user_id"],
        ],
    }
}

/// Decodes a typed object from `data`: strictly and at full speed when it fits; otherwise each
/// field that fails, unless the sync keys on it, is read as absent (set to `null`; left out
/// where `null` is not accepted either) and recorded as a warning.
pub(crate) fn read<T: DeserializeOwned>(
    event_type: &EventType,
    raw: &RawValue,
    keys: &[&[&str]],
) -> Result<(T, Vec<DecodeWarning>), DecodeError> {
    if let Ok(value) = serde_json::from_str::<T>(raw.get()) {
        return Ok((value, Vec::new()));
    }
    let mut tree: Value = serde_json::from_str(raw.get())
        .map_err(|err| data_error(event_type, &[], err.to_string()))?;
    let mut warnings = Vec::new();
    let mut nulled: Option<String> = None;
    for _ in 0..MAX_REPAIRS {
        let err = match serde_path_to_error::deserialize::<_, T>(&tree) {
            Ok(value) => return Ok((value, warnings)),
            Err(err) => err,
        };
        let path: Vec<Segment> = err.path().iter().cloned().collect();
        let message = err.into_inner().to_string();
        if is_key(&path, keys) {
            return Err(data_error(event_type, &path, message));
        }
        let shown = render(&path);
        // `null` first (an absent option, an empty list); the same field failing again is
        // required where it stands, so it goes.
        let remove = nulled.as_deref() == Some(shown.as_str());
        if !repair(&mut tree, &path, remove) {
            return Err(data_error(event_type, &path, message));
        }
        // A field set aside can leave its parent without a required field; the parent then
        // goes too, under the warning that names the field at fault.
        let consequence = warnings
            .last()
            .is_some_and(|w: &DecodeWarning| w.path.starts_with(&shown));
        if !remove && !consequence {
            warnings.push(DecodeWarning {
                path: shown.clone(),
                message,
            });
        }
        nulled = (!remove).then_some(shown);
    }
    Err(data_error(
        event_type,
        &[],
        format!("more than {MAX_REPAIRS} fields have values of unexpected types"),
    ))
}

/// Whether a failing path is, or holds, a field the sync keys on. The root counts as key, and
/// so does a list position in the root or in an object that holds a key (serde reads a struct
/// from a list by position, so its elements may be the key itself); enum variants cannot be set
/// aside without losing the object. Inside a list of their own (`email_addresses[0].id`), names
/// are no longer the object's keys.
fn is_key(path: &[Segment], keys: &[&[&str]]) -> bool {
    let mut names = Vec::with_capacity(path.len());
    for segment in path {
        match segment {
            Segment::Map { key } => names.push(key.as_str()),
            Segment::Seq { .. } => {
                return names.is_empty() || keys.iter().any(|key| key.starts_with(&names));
            }
            Segment::Enum { .. } | Segment::Unknown => return true,
        }
    }
    names.is_empty() || keys.iter().any(|key| key.starts_with(&names))
}

/// Sets the value at `path` to `null`, or with `remove` takes it out of its object or list.
/// `false` when the path cannot be followed.
fn repair(tree: &mut Value, path: &[Segment], remove: bool) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut node = tree;
    for segment in parents {
        let next = match (segment, node) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        node = next;
    }
    match (last, node) {
        (Segment::Map { key }, Value::Object(map)) if remove => map.remove(key).is_some(),
        (Segment::Seq { index }, Value::Array(items)) if remove && *index < items.len() => {
            items.remove(*index);
            true
        }
        (Segment::Map { key }, Value::Object(map)) => {
            map.get_mut(key).map(|v| *v = Value::Null).is_some()
        }
        (Segment::Seq { index }, Value::Array(items)) => {
            items.get_mut(*index).map(|v| *v = Value::Null).is_some()
        }
        _ => false,
    }
}

/// `data.items[0].interval`, the way errors and warnings name a field.
fn render(path: &[Segment]) -> String {
    let mut text = String::from("data");
    for segment in path {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Enum { variant } => {
                text.push('.');
                text.push_str(variant);
            }
            Segment::Unknown => text.push_str(".?"),
        }
    }
    text
}

/// The error for a field of `data` that cannot be read.
pub(crate) fn data_error(event_type: &EventType, path: &[Segment], message: String) -> DecodeError {
    DecodeError::Data {
        event_type: event_type.to_string(),
        path: render(path),
        message,
    }
}

/// Maps a decoded object and its warnings into the event's data.
pub(crate) fn map<T>(
    (value, warnings): (T, Vec<DecodeWarning>),
    wrap: impl FnOnce(Box<T>) -> crate::EventData,
) -> (crate::EventData, Vec<DecodeWarning>) {
    (wrap(Box::new(value)), warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(key: &str) -> Segment {
        Segment::Map { key: key.into() }
    }

    const KEYS: &[&[&str]] = &[&["id"], &["payer", "user_id"]];

    #[test]
    fn list_positions_are_key_where_a_key_could_stand() {
        let seq = Segment::Seq { index: 0 };
        assert!(is_key(&[], KEYS));
        assert!(is_key(&[map("id")], KEYS));
        assert!(is_key(&[map("payer")], KEYS));
        assert!(!is_key(&[map("payer"), map("email")], KEYS));
        assert!(is_key(std::slice::from_ref(&seq), KEYS));
        assert!(is_key(&[map("payer"), seq.clone()], KEYS));
        assert!(!is_key(&[map("items"), seq.clone()], KEYS));
        assert!(!is_key(&[map("items"), seq, map("id")], KEYS));
        assert!(is_key(&[map("kind"), Segment::Unknown], KEYS));
    }
}
