use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The id of a Clerk object (`user_…`, `org_…`, `orgmem_…`): how hookgate keys synced rows.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClerkId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a Clerk id is 1 to {} printable ASCII characters without spaces",
    ClerkId::MAX_LEN
)]
pub struct ClerkIdError;

impl ClerkId {
    pub const MAX_LEN: usize = 256;

    pub fn parse(id: &str) -> Result<Self, ClerkIdError> {
        let ok =
            (1..=Self::MAX_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(ClerkIdError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClerkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClerkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Serialize for ClerkId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClerkId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clerk_ids() {
        assert_eq!(ClerkId::parse("user_2pQx").unwrap().as_str(), "user_2pQx");
        assert_eq!(ClerkId::parse(""), Err(ClerkIdError));
        assert_eq!(ClerkId::parse("user 1"), Err(ClerkIdError));
        assert!(serde_json::from_str::<ClerkId>(r#""org_1""#).is_ok());
        assert!(serde_json::from_str::<ClerkId>(r#""""#).is_err());
        assert!(serde_json::from_str::<ClerkId>("42").is_err());
    }
}
