use chrono::{DateTime, Utc};
use hookgate_store::{
    NewSecret, NewTenant, SealedKind, SealedRow, Store, StoreError, Tenant, TenantPatch,
    TenantSecret, Uuid,
};
use hookgate_verify::Secret;

use crate::cipher::generate_secret;
use crate::{CipherError, Registry, SecretCipher, TenantSlug};

/// Tenant management: the operations behind the CLI (and later the admin API). Every change
/// reloads the attached registry at once, so this process serves it without waiting.
#[derive(Debug, Clone)]
pub struct Tenancy {
    store: Store,
    cipher: SecretCipher,
    registry: Option<Registry>,
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error("tenant `{0}` does not exist")]
    UnknownTenant(TenantSlug),
    #[error("tenant `{0}` already exists")]
    TenantExists(TenantSlug),
    #[error("a tenant name must be 1 to 200 characters")]
    InvalidName,
    #[error("{0}")]
    InvalidSetting(&'static str),
    #[error(transparent)]
    InvalidDestinationUrl(#[from] hookgate_events::DestinationUrlError),
    #[error("tenant `{0}` has no Clerk secret key: set one with `hookgate tenant clerk-key set`")]
    NoClerkKey(TenantSlug),
    #[error("the tenant already has a job that is not over ({id}): wait for it or cancel it")]
    JobOpen { id: Uuid },
    #[error(transparent)]
    Cipher(#[from] CipherError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for TenancyError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// A tenant just created, with the secret generated for it (shown to the operator once).
#[derive(Debug)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub generated_secret: Option<Secret>,
}

impl Tenancy {
    pub fn new(store: Store, cipher: SecretCipher, registry: Option<Registry>) -> Self {
        Self {
            store,
            cipher,
            registry,
        }
    }

    /// Creates a tenant with `secret`, or with a newly generated one when `None`.
    pub async fn create(
        &self,
        slug: &TenantSlug,
        name: Option<String>,
        secret: Option<Secret>,
    ) -> Result<CreatedTenant, TenancyError> {
        let name = name.unwrap_or_else(|| slug.to_string());
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(TenancyError::InvalidName);
        }
        let (secret, generated) = match secret {
            Some(secret) => (secret, false),
            None => (generate_secret()?, true),
        };
        // The tenant's and the secret's ids are bound into the ciphertext, so they are chosen
        // before the rows exist.
        let tenant_id = Uuid::now_v7();
        let secret_id = Uuid::now_v7();
        let ciphertext = self
            .cipher
            .encrypt(signing_secret(tenant_id, secret_id), &secret)?;
        let new = NewTenant {
            id: tenant_id,
            slug: slug.to_string(),
            name,
        };
        let secret_row = NewSecret {
            id: secret_id,
            ciphertext,
            not_before: None,
            expires_at: None,
        };
        let tenant = match self.store.create_tenant(new, secret_row).await {
            Ok(tenant) => tenant,
            Err(StoreError::Conflict { .. }) => {
                return Err(TenancyError::TenantExists(slug.clone()));
            }
            Err(err) => return Err(err.into()),
        };
        self.changed().await;
        Ok(CreatedTenant {
            tenant,
            generated_secret: generated.then_some(secret),
        })
    }

    pub async fn get(&self, slug: &TenantSlug) -> Result<Tenant, TenancyError> {
        self.tenant(slug).await
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, TenancyError> {
        Ok(self.store.list_tenants().await?)
    }

    /// Adds a signing secret to a tenant. `expires_at` limits the new secret itself;
    /// `retire_others_at` makes the tenant's other secrets stop verifying at that time (a
    /// rotation: the old secret keeps working through the grace period, then never again).
    pub async fn add_secret(
        &self,
        slug: &TenantSlug,
        secret: &Secret,
        expires_at: Option<DateTime<Utc>>,
        retire_others_at: Option<DateTime<Utc>>,
    ) -> Result<Uuid, TenancyError> {
        let tenant = self.tenant(slug).await?;
        let secret_id = Uuid::now_v7();
        let new = NewSecret {
            id: secret_id,
            ciphertext: self
                .cipher
                .encrypt(signing_secret(tenant.id, secret_id), secret)?,
            not_before: None,
            expires_at,
        };
        let id = self
            .store
            .add_secret(tenant.id, new, retire_others_at)
            .await?;
        self.changed().await;
        Ok(id)
    }

    pub async fn set_enabled(&self, slug: &TenantSlug, enabled: bool) -> Result<(), TenancyError> {
        let tenant = self.tenant(slug).await?;
        self.store.set_tenant_enabled(tenant.id, enabled).await?;
        self.changed().await;
        Ok(())
    }

    /// Changes a tenant's settings (name, limits, pinned instance).
    pub async fn update(
        &self,
        slug: &TenantSlug,
        patch: TenantPatch,
    ) -> Result<Tenant, TenancyError> {
        if let Some(name) = &patch.name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            return Err(TenancyError::InvalidName);
        }
        validate(&patch)?;
        let tenant = self.tenant(slug).await?;
        let updated = self.store.update_tenant(tenant.id, patch).await?;
        self.changed().await;
        Ok(updated)
    }

    /// Deletes a tenant with all its data.
    pub async fn delete(&self, slug: &TenantSlug) -> Result<(), TenancyError> {
        let tenant = self.tenant(slug).await?;
        self.store.delete_tenant_with_data(tenant.id).await?;
        self.changed().await;
        Ok(())
    }

    /// A tenant's signing secrets: metadata only.
    pub async fn secrets(&self, slug: &TenantSlug) -> Result<Vec<TenantSecret>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store.tenant_secrets(tenant.id).await?)
    }

    /// Rotation: a new secret valid now (generated when `None`, and then returned), the others
    /// retired at the end of `grace`.
    pub async fn rotate_secret(
        &self,
        slug: &TenantSlug,
        secret: Option<Secret>,
        grace: chrono::Duration,
    ) -> Result<(Uuid, Option<Secret>, DateTime<Utc>), TenancyError> {
        let (secret, generated) = match secret {
            Some(secret) => (secret, false),
            None => (generate_secret()?, true),
        };
        let retire_at = Utc::now() + grace;
        let id = self
            .add_secret(slug, &secret, None, Some(retire_at))
            .await?;
        Ok((id, generated.then_some(secret), retire_at))
    }

    /// Re-encrypts every stored secret under the current secrets key (the end of a key
    /// rotation: afterwards the previous keys can be dropped). All or nothing: a secret that
    /// decrypts under none of the configured keys stops it, and nothing is changed.
    pub async fn rekey(&self) -> Result<u64, TenancyError> {
        let cipher = self.cipher.clone();
        let rekeyed = self
            .store
            .reseal_secrets(move |at, stored| cipher.reencrypt(at, stored))
            .await??;
        self.changed().await;
        Ok(rekeyed)
    }

    /// Ends a secret's validity now.
    pub async fn revoke_secret(&self, slug: &TenantSlug, id: Uuid) -> Result<bool, TenancyError> {
        let tenant = self.tenant(slug).await?;
        let revoked = self.store.revoke_secret(tenant.id, id).await?;
        self.changed().await;
        Ok(revoked)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn cipher(&self) -> &SecretCipher {
        &self.cipher
    }

    pub(crate) async fn tenant(&self, slug: &TenantSlug) -> Result<Tenant, TenancyError> {
        self.store
            .find_tenant_by_slug(slug.as_str())
            .await?
            .ok_or_else(|| TenancyError::UnknownTenant(slug.clone()))
    }

    async fn changed(&self) {
        if let Some(registry) = &self.registry
            && let Err(err) = registry.reload().await
        {
            tracing::warn!(%err, "tenant registry reload after a change failed; the next refresh retries");
        }
    }
}

/// Bounds of the per-tenant settings, the same from the CLI and the admin API.
fn validate(patch: &TenantPatch) -> Result<(), TenancyError> {
    let within = |value: Option<Option<i64>>, range: std::ops::RangeInclusive<i64>| {
        value.flatten().is_none_or(|v| range.contains(&v))
    };
    if !within(patch.tolerance_secs, 1..=86_400) {
        return Err(TenancyError::InvalidSetting(
            "tolerance_secs must be 1 to 86400",
        ));
    }
    // Bodies are read before the signature is checked: the limit bounds what anyone can make
    // the server hold.
    if !within(patch.max_body_bytes, 1..=16 * 1024 * 1024) {
        return Err(TenancyError::InvalidSetting(
            "max_body_bytes must be 1 to 16777216",
        ));
    }
    if !within(patch.rate_limit_per_sec, 0..=1_000_000) {
        return Err(TenancyError::InvalidSetting(
            "rate_limit_per_sec must be 0 (no limit) to 1000000",
        ));
    }
    if !within(patch.rate_limit_burst, 1..=1_000_000) {
        return Err(TenancyError::InvalidSetting(
            "rate_limit_burst must be 1 to 1000000",
        ));
    }
    if patch
        .instance_id
        .as_ref()
        .and_then(Option::as_ref)
        .is_some_and(|id| {
            id.is_empty() || id.len() > 200 || !id.bytes().all(|b| b.is_ascii_graphic())
        })
    {
        return Err(TenancyError::InvalidSetting(
            "instance_id must be 1 to 200 printable characters",
        ));
    }
    Ok(())
}

/// Where a tenant's signing secret is stored: what the ciphertext is bound to.
fn signing_secret(tenant_id: Uuid, secret_id: Uuid) -> SealedRow {
    SealedRow {
        kind: SealedKind::SigningSecret,
        tenant_id,
        row_id: secret_id,
    }
}
