use serde::{Deserialize, Serialize};

use crate::lenient::{Metadata, null_default};
use crate::{ClerkId, OrganizationMembership};

/// A Clerk user (`user.created`, `user.updated`, and embedded in sessions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: ClerkId,
    pub object: Option<String>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub has_image: bool,
    pub primary_email_address_id: Option<String>,
    pub primary_phone_number_id: Option<String>,
    pub primary_web3_wallet_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub password_enabled: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub two_factor_enabled: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub totp_enabled: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub backup_code_enabled: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub email_addresses: Vec<EmailAddress>,
    #[serde(default, deserialize_with = "null_default")]
    pub phone_numbers: Vec<PhoneNumber>,
    #[serde(default, deserialize_with = "null_default")]
    pub web3_wallets: Vec<Web3Wallet>,
    #[serde(default, deserialize_with = "null_default")]
    pub passkeys: Vec<Passkey>,
    #[serde(default, deserialize_with = "null_default")]
    pub external_accounts: Vec<ExternalAccount>,
    #[serde(default, deserialize_with = "null_default")]
    pub saml_accounts: Vec<SamlAccount>,
    #[serde(default, deserialize_with = "null_default")]
    pub enterprise_accounts: Vec<EnterpriseAccount>,
    #[serde(default, deserialize_with = "null_default")]
    pub organization_memberships: Vec<OrganizationMembership>,
    pub password_last_updated_at: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_metadata: Metadata,
    #[serde(default, deserialize_with = "null_default")]
    pub private_metadata: Metadata,
    #[serde(default, deserialize_with = "null_default")]
    pub unsafe_metadata: Metadata,
    pub external_id: Option<String>,
    pub last_sign_in_at: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub banned: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub locked: bool,
    pub lockout_expires_in_seconds: Option<i64>,
    pub verification_attempts_remaining: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub last_active_at: Option<i64>,
    pub create_organization_enabled: Option<bool>,
    pub create_organizations_limit: Option<i64>,
    pub delete_self_enabled: Option<bool>,
    pub legal_accepted_at: Option<i64>,
    pub mfa_enabled_at: Option<i64>,
    pub mfa_disabled_at: Option<i64>,
    pub locale: Option<String>,
}

impl User {
    /// The address `primary_email_address_id` points at, when it is among `email_addresses`.
    pub fn primary_email_address(&self) -> Option<&str> {
        let primary = self.primary_email_address_id.as_deref()?;
        self.email_addresses
            .iter()
            .find(|e| e.id.as_str() == primary)
            .map(|e| e.email_address.as_str())
            .filter(|address| !address.is_empty())
    }
}

/// How an identification was verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub object: Option<String>,
    pub status: Option<String>,
    pub strategy: Option<String>,
    pub attempts: Option<i64>,
    pub expire_at: Option<i64>,
    pub verified_at_client: Option<String>,
    pub external_verification_redirect_url: Option<String>,
    pub nonce: Option<String>,
    pub message: Option<String>,
}

/// Another identification an email address or phone number is linked to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentificationLink {
    pub id: String,
    #[serde(rename = "type")]
    pub link_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailAddress {
    pub id: ClerkId,
    pub object: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub email_address: String,
    pub reserved: Option<bool>,
    pub verification: Option<Verification>,
    #[serde(default, deserialize_with = "null_default")]
    pub linked_to: Vec<IdentificationLink>,
    pub matches_sso_connection: Option<bool>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhoneNumber {
    pub id: ClerkId,
    pub object: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub phone_number: String,
    #[serde(default, deserialize_with = "null_default")]
    pub reserved_for_second_factor: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub default_second_factor: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub reserved: bool,
    pub verification: Option<Verification>,
    #[serde(default, deserialize_with = "null_default")]
    pub linked_to: Vec<IdentificationLink>,
    #[serde(default, deserialize_with = "null_default")]
    pub backup_codes: Vec<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Web3Wallet {
    pub id: ClerkId,
    pub object: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub web3_wallet: String,
    pub verification: Option<Verification>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Passkey {
    pub id: ClerkId,
    pub object: Option<String>,
    pub name: Option<String>,
    pub last_used_at: Option<i64>,
    pub verification: Option<Verification>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// An OAuth account linked to a user. Older payloads use a provider-specific shape
/// (`object: "google_account"` with `google_id`, `given_name`, `family_name`, `picture`); it is
/// read into the standard fields, with `provider` derived from the object name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ExternalAccountWire")]
pub struct ExternalAccount {
    pub id: ClerkId,
    pub object: Option<String>,
    pub provider: Option<String>,
    pub identification_id: Option<String>,
    pub provider_user_id: Option<String>,
    pub approved_scopes: Option<String>,
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub public_metadata: Metadata,
    pub label: Option<String>,
    pub verification: Option<Verification>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Deserialize)]
struct ExternalAccountWire {
    id: ClerkId,
    object: Option<String>,
    provider: Option<String>,
    identification_id: Option<String>,
    provider_user_id: Option<String>,
    approved_scopes: Option<String>,
    email_address: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    image_url: Option<String>,
    username: Option<String>,
    phone_number: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    public_metadata: Metadata,
    label: Option<String>,
    verification: Option<Verification>,
    created_at: Option<i64>,
    updated_at: Option<i64>,
    // The provider-specific shape.
    google_id: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    picture: Option<String>,
}

impl From<ExternalAccountWire> for ExternalAccount {
    fn from(w: ExternalAccountWire) -> Self {
        // "google_account" → "oauth_google", as the standard shape names providers.
        let legacy_provider = w
            .object
            .as_deref()
            .and_then(|o| o.strip_suffix("_account"))
            .filter(|p| *p != "external")
            .map(|p| format!("oauth_{p}"));
        Self {
            id: w.id,
            object: w.object,
            provider: w.provider.or(legacy_provider),
            identification_id: w.identification_id,
            provider_user_id: w.provider_user_id.or(w.google_id),
            approved_scopes: w.approved_scopes,
            email_address: w.email_address,
            first_name: w.first_name.or(w.given_name),
            last_name: w.last_name.or(w.family_name),
            image_url: w.image_url.or(w.picture),
            username: w.username,
            phone_number: w.phone_number,
            public_metadata: w.public_metadata,
            label: w.label,
            verification: w.verification,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlConnection {
    pub id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub domains: Vec<String>,
    pub active: Option<bool>,
    pub provider: Option<String>,
    pub sync_user_attributes: Option<bool>,
    pub allow_subdomains: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    pub disable_additional_identifications: Option<bool>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamlAccount {
    pub id: ClerkId,
    pub object: Option<String>,
    pub provider: Option<String>,
    pub provider_user_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub active: bool,
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub verification: Option<Verification>,
    pub saml_connection: Option<SamlConnection>,
    pub last_authenticated_at: Option<i64>,
    pub enterprise_connection_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseConnection {
    pub id: String,
    pub name: Option<String>,
    pub domain: Option<String>,
    pub active: Option<bool>,
    pub provider: Option<String>,
    pub protocol: Option<String>,
    pub sync_user_attributes: Option<bool>,
    pub allow_subdomains: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    pub disable_additional_identifications: Option<bool>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

/// A SAML or OIDC enterprise account (the newer form of `saml_accounts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnterpriseAccount {
    pub id: ClerkId,
    pub object: Option<String>,
    pub protocol: Option<String>,
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub active: bool,
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub provider_user_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_metadata: Metadata,
    pub verification: Option<Verification>,
    pub enterprise_connection: Option<EnterpriseConnection>,
    pub last_authenticated_at: Option<i64>,
    pub enterprise_connection_id: Option<String>,
}
