use serde::{Deserialize, Serialize};

use crate::ClerkId;
use crate::lenient::null_default;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    pub id: ClerkId,
    pub object: Option<String>,
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub permission_type: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub id: ClerkId,
    pub object: Option<String>,
    pub key: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub permissions: Vec<Permission>,
    pub is_creator_eligible: Option<bool>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}
