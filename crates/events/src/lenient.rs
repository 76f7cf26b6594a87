//! Decoding the way a long-lived integration must: a `null` where a list, a map or a flag is
//! expected reads as empty or false instead of failing the whole event.

use serde::{Deserialize, Deserializer};

/// Public, private or unsafe metadata: any JSON object.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
