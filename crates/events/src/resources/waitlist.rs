use serde::{Deserialize, Serialize};

use crate::ClerkId;
use crate::lenient::{Metadata, null_default};

/// An application invitation (not an organization's), as embedded in waitlist entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: ClerkId,
    pub object: Option<String>,
    pub email_address: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_metadata: Metadata,
    pub revoked: Option<bool>,
    pub status: Option<String>,
    pub url: Option<String>,
    pub expires_at: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitlistEntry {
    pub id: ClerkId,
    pub object: Option<String>,
    pub email_address: Option<String>,
    pub status: Option<String>,
    pub is_locked: Option<bool>,
    pub invitation: Option<Invitation>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}
