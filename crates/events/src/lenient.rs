//! Decoding the way a long-lived integration must: a `null` where a list, a map or a flag is
//! expected reads as empty or false instead of failing the whole event.

use serde::{Deserialize, Deserializer};

use crate::ClerkId;

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
