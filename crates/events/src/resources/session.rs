use serde::{Deserialize, Serialize};

use crate::{ClerkId, User};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionActivity {
    pub id: Option<String>,
    pub object: Option<String>,
    pub device_type: Option<String>,
    pub is_mobile: Option<bool>,
    pub browser_name: Option<String>,
    pub browser_version: Option<String>,
    pub ip_address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
}

/// A session; session events embed the session's user when Clerk has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: ClerkId,
    pub object: Option<String>,
    pub client_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub user_id: Option<ClerkId>,
    pub status: Option<String>,
    pub last_active_organization_id: Option<String>,
    pub actor: Option<serde_json::Value>,
    pub latest_activity: Option<SessionActivity>,
    pub last_active_at: Option<i64>,
    pub expire_at: Option<i64>,
    pub abandon_at: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub user: Option<Box<User>>,
}
