//! A tenant's Clerk secret key (sealed like its signing secrets) and its backfill and reconcile
//! jobs: the operations behind `hookgate tenant clerk-key|backfill|reconcile|jobs` and the admin
//! API's equivalents.

use hookgate_clerk::{ClerkSecretKey, ListKind};
use hookgate_store::{Cancelled, ClerkKey, Job, JobType, SealedKind, SealedRow, Uuid};
use hookgate_verify::Secret;

use crate::{CipherError, SecretCipher, Tenancy, TenancyError, TenantSlug};

/// Where a tenant's Clerk key is sealed: bound to the tenant, as its key.
fn sealed_for(tenant_id: Uuid) -> SealedRow {
    SealedRow {
        kind: SealedKind::ClerkKey,
        tenant_id,
        row_id: tenant_id,
    }
}

/// Opens a tenant's stored Clerk key.
pub fn open_clerk_key(
    cipher: &SecretCipher,
    tenant_id: Uuid,
    stored: &[u8],
) -> Result<ClerkSecretKey, CipherError> {
    let secret = cipher.decrypt_bound(sealed_for(tenant_id), stored)?;
    let text = std::str::from_utf8(secret.expose_bytes()).map_err(|_| CipherError::Decrypt)?;
    ClerkSecretKey::parse(text).map_err(|_| CipherError::Decrypt)
}

impl Tenancy {
    /// Stores a tenant's Clerk secret key (replacing any), sealed; it is never shown again.
    pub async fn set_clerk_key(
        &self,
        slug: &TenantSlug,
        key: &ClerkSecretKey,
    ) -> Result<ClerkKey, TenancyError> {
        let tenant = self.tenant(slug).await?;
        let secret = Secret::from_bytes(key.expose().as_bytes().to_vec())
            .map_err(|_| TenancyError::InvalidSetting("a Clerk secret key is too short"))?;
        let ciphertext = self.cipher().encrypt(sealed_for(tenant.id), &secret)?;
        Ok(self
            .store()
            .set_clerk_key(tenant.id, ciphertext, key.is_production())
            .await?)
    }

    /// Removes a tenant's Clerk key; `false` when it had none.
    pub async fn clear_clerk_key(&self, slug: &TenantSlug) -> Result<bool, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().clear_clerk_key(tenant.id).await?)
    }

    /// Whether a tenant has a Clerk key, and of which kind of instance (never the key).
    pub async fn clerk_key(&self, slug: &TenantSlug) -> Result<Option<ClerkKey>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().clerk_key(tenant.id).await?)
    }

    /// Queues a backfill or reconcile of `kinds` (every kind when empty). Refused when the
    /// tenant has no Clerk key, or a job of its own that is not over.
    pub async fn start_job(
        &self,
        slug: &TenantSlug,
        job_type: JobType,
        kinds: &[ListKind],
    ) -> Result<Job, TenancyError> {
        let tenant = self.tenant(slug).await?;
        if self.store().clerk_key(tenant.id).await?.is_none() {
            return Err(TenancyError::NoClerkKey(slug.clone()));
        }
        let kinds = if kinds.is_empty() {
            &ListKind::ALL[..]
        } else {
            kinds
        };
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        match self.store().create_job(tenant.id, job_type, &names).await? {
            Ok(job) => Ok(job),
            Err(open) => Err(TenancyError::JobOpen { id: open.id }),
        }
    }

    /// A tenant's jobs, newest first.
    pub async fn jobs(&self, slug: &TenantSlug, limit: u64) -> Result<Vec<Job>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().list_jobs(tenant.id, limit).await?)
    }

    pub async fn job(&self, slug: &TenantSlug, id: Uuid) -> Result<Option<Job>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().find_job(tenant.id, id).await?)
    }

    /// Cancels a job that is not over; `None` when the tenant has no such job.
    pub async fn cancel_job(
        &self,
        slug: &TenantSlug,
        id: Uuid,
    ) -> Result<Option<Cancelled>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().cancel_job(tenant.id, id).await?)
    }
}
