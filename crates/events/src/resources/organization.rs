use serde::{Deserialize, Serialize};

use crate::ClerkId;
use crate::lenient::{Metadata, null_default};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: ClerkId,
    pub object: Option<String>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub has_image: bool,
    pub members_count: Option<i64>,
    pub pending_invitations_count: Option<i64>,
    pub max_allowed_memberships: Option<i64>,
    pub admin_delete_enabled: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_metadata: Metadata,
    #[serde(default, deserialize_with = "null_default")]
    pub private_metadata: Metadata,
    pub created_by: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// The part of a user an organization's members may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicUserData {
    pub user_id: ClerkId,
    pub identifier: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub has_image: bool,
}

/// A user's membership of an organization, with the organization embedded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationMembership {
    pub id: ClerkId,
    pub object: Option<String>,
    pub role: Option<String>,
    pub role_name: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub permissions: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_metadata: Metadata,
    #[serde(default, deserialize_with = "null_default")]
    pub private_metadata: Metadata,
    pub organization: Organization,
    pub public_user_data: Option<PublicUserData>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// The part of an organization an invitee may see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicOrganizationData {
    pub id: ClerkId,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub has_image: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationInvitation {
    pub id: ClerkId,
    pub object: Option<String>,
    pub email_address: Option<String>,
    pub role: Option<String>,
    pub role_name: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub organization_id: Option<ClerkId>,
    pub public_organization_data: Option<PublicOrganizationData>,
    pub status: Option<String>,
    pub inviter_id: Option<String>,
    /// Set once the invitation is accepted.
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub user_id: Option<ClerkId>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_metadata: Metadata,
    #[serde(default, deserialize_with = "null_default")]
    pub private_metadata: Metadata,
    pub url: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainVerification {
    pub status: Option<String>,
    pub strategy: Option<String>,
    pub attempts: Option<i64>,
    /// Clerk's OpenAPI document says `expire_at`, `@clerk/backend` says `expires_at`: both read.
    pub expire_at: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationDomain {
    pub id: ClerkId,
    pub object: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub organization_id: Option<ClerkId>,
    pub enrollment_mode: Option<String>,
    pub public_organization_data: Option<PublicOrganizationData>,
    pub verification: Option<DomainVerification>,
    pub affiliation_email_address: Option<String>,
    pub total_pending_invitations: Option<i64>,
    pub total_pending_suggestions: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}
