//! Tenants: who they are (slugs), how their signing secrets are kept (encrypted at rest), and a
//! registry that resolves a slug to its verifier with a lock-free read.

mod api_keys;
mod cipher;
mod destinations;
mod jobs;
mod notifications;
mod presence;
mod rate_limit;
mod registry;
mod service;
mod slug;

pub use api_keys::{
    API_KEY_PREFIX, AdminTokenError, AdminTokens, Credential, KeyOwner, sha256_hex,
};
pub use cipher::{CipherError, SecretCipher, SecretsKey, SecretsKeyError};
pub use presence::Presence;
pub use rate_limit::{RateLimiter, Share};
pub use registry::{
    Loaded, Registry, RegistryError, TenantDefaults, TenantEntry, is_secret_active,
};
// What the HTTP layer needs to verify a delivery with a tenant's verifier.
pub use destinations::{CreatedDestination, DestinationChange, DestinationSpec};
pub use hookgate_clerk::{ClerkSecretKey, ListKind, ListKindError, SecretKeyError};
pub use hookgate_verify::{HeaderError, HeaderLookup, Secret, VerifyError, WebhookHeaders};
pub use jobs::open_clerk_key;
pub use notifications::{NotificationSetup, parse_notification_url};
pub use service::{CreatedTenant, Tenancy, TenancyError};
pub use slug::{TenantSlug, TenantSlugError};
