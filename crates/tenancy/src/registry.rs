use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use hookgate_store::{SealedKind, SealedRow, Store, StoreError, TenantSecret, Uuid};
use hookgate_verify::{SecretSet, Validity, Verifier};

use crate::{RateLimiter, SecretCipher, Share, TenantSlug};

/// Why the registry could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "none of the {0} stored signing secrets decrypts with the configured secrets.key; \
         is it the key they were stored with?"
    )]
    WrongKey(usize),
}

/// Limits that apply to a tenant unless it overrides them.
#[derive(Debug, Clone, Copy)]
pub struct TenantDefaults {
    pub tolerance_secs: i64,
    pub max_body_bytes: usize,
    /// Deliveries per second per tenant; 0: no limit.
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
}

/// What ingest needs to know about one tenant, ready to use.
#[derive(Debug)]
pub struct TenantEntry {
    pub id: Uuid,
    pub slug: TenantSlug,
    pub enabled: bool,
    pub verifier: Verifier,
    pub max_body_bytes: usize,
    /// `None`: no limit. Shared across reloads, so a refresh does not refill the bucket.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// The Clerk instance the tenant accepts events from, when pinned.
    pub instance_id: Option<String>,
}

type Snapshot = HashMap<TenantSlug, Arc<TenantEntry>>;

/// What one reload read.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    pub secrets: usize,
    pub undecryptable: usize,
    /// Signing secrets written before ciphertexts were bound to their purpose and row.
    pub unbound: usize,
}

/// Slug → tenant, read without locks or database round trips.
///
/// The whole map is rebuilt from the database and swapped in atomically: readers see either the
/// old or the new snapshot, never a mix. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    snapshot: Arc<ArcSwap<Snapshot>>,
    // One reload at a time, so an older read can never be swapped in over a newer one.
    reloading: Arc<tokio::sync::Mutex<()>>,
    undecryptable: Arc<AtomicUsize>,
    store: Store,
    cipher: SecretCipher,
    defaults: TenantDefaults,
    share: Share,
}

impl Registry {
    /// A registry loaded from the store. Fails when secrets exist and not one of them decrypts:
    /// that is a wrong `secrets.key`, and serving would answer every delivery 401.
    pub async fn load(
        store: Store,
        cipher: SecretCipher,
        defaults: TenantDefaults,
    ) -> Result<Self, RegistryError> {
        let registry = Self {
            snapshot: Arc::new(ArcSwap::from_pointee(Snapshot::new())),
            reloading: Arc::default(),
            undecryptable: Arc::default(),
            store,
            cipher,
            defaults,
            share: Share::default(),
        };
        let loaded = registry.reload().await?;
        if loaded.secrets > 0 && loaded.undecryptable == loaded.secrets {
            return Err(RegistryError::WrongKey(loaded.secrets));
        }
        if loaded.unbound > 0 {
            tracing::warn!(
                unbound = loaded.unbound,
                "stored signing secrets are bound to their tenant only, not to their kind and row: run `hookgate secrets rekey`, then set secrets.accept_unbound = false"
            );
        }
        Ok(registry)
    }

    /// How many stored secrets the last reload could not decrypt (and so left out).
    pub fn undecryptable_secrets(&self) -> usize {
        self.undecryptable.load(Ordering::Relaxed)
    }

    /// How many processes share each tenant's rate limit with this one.
    pub fn share(&self) -> &Share {
        &self.share
    }

    pub fn get(&self, slug: &TenantSlug) -> Option<Arc<TenantEntry>> {
        self.snapshot.load().get(slug).cloned()
    }

    pub fn len(&self) -> usize {
        self.snapshot.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rebuilds the snapshot from the database. A secret that does not decrypt is left out
    /// (and logged), so one bad row cannot take every tenant down.
    pub async fn reload(&self) -> Result<Loaded, StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let tenants = self.store.list_tenants().await?;
        let secrets = self.store.all_tenant_secrets().await?;
        let mut loaded = Loaded {
            secrets: secrets.len(),
            undecryptable: 0,
            unbound: secrets
                .iter()
                .filter(|row| SecretCipher::is_unbound(&row.ciphertext))
                .count(),
        };
        let mut sets: HashMap<Uuid, SecretSet> = HashMap::new();
        for row in secrets {
            let at = SealedRow {
                kind: SealedKind::SigningSecret,
                tenant_id: row.tenant_id,
                row_id: row.id,
            };
            match self.cipher.decrypt(at, &row.ciphertext) {
                Ok(secret) => {
                    sets.entry(row.tenant_id)
                        .or_default()
                        .push(&secret, validity(&row));
                }
                Err(err) => {
                    loaded.undecryptable += 1;
                    tracing::error!(tenant_id = %row.tenant_id, secret_id = %row.id, %err, "signing secret skipped");
                }
            }
        }
        let mut next = Snapshot::with_capacity(tenants.len());
        let previous = self.snapshot.load();
        for tenant in tenants {
            let Ok(slug) = TenantSlug::parse(&tenant.slug) else {
                tracing::error!(tenant_id = %tenant.id, "tenant with an invalid slug skipped");
                continue;
            };
            let tolerance = tenant
                .tolerance_secs
                .unwrap_or(self.defaults.tolerance_secs);
            let max_body_bytes = tenant
                .max_body_bytes
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(self.defaults.max_body_bytes);
            let rate = tenant
                .rate_limit_per_sec
                .map_or(self.defaults.rate_limit_per_sec, |r| {
                    u32::try_from(r.max(0)).unwrap_or(u32::MAX)
                });
            let burst = tenant
                .rate_limit_burst
                .map_or(self.defaults.rate_limit_burst, |b| {
                    u32::try_from(b.max(1)).unwrap_or(u32::MAX)
                });
            let rate_limiter = (rate > 0).then(|| {
                match previous.get(&slug).and_then(|e| e.rate_limiter.clone()) {
                    Some(existing) => {
                        existing.reconfigure(rate, burst);
                        existing
                    }
                    None => Arc::new(RateLimiter::new(rate, burst, self.share.clone())),
                }
            });
            let entry = TenantEntry {
                id: tenant.id,
                slug: slug.clone(),
                enabled: tenant.enabled,
                verifier: Verifier::new(sets.remove(&tenant.id).unwrap_or_default(), tolerance),
                max_body_bytes,
                rate_limiter,
                instance_id: tenant.instance_id.clone(),
            };
            next.insert(slug, Arc::new(entry));
        }
        self.snapshot.store(Arc::new(next));
        self.undecryptable
            .store(loaded.undecryptable, Ordering::Relaxed);
        Ok(loaded)
    }

    /// Reloads every `interval`, for as long as the task running it lives (the server aborts
    /// it at shutdown). A failed reload keeps the last snapshot.
    pub async fn refresh_every(&self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            if let Err(err) = self.reload().await {
                tracing::warn!(%err, "tenant registry refresh failed; keeping the last snapshot");
            }
        }
    }
}

/// When a stored signing secret verifies: the one reading of its `not_before`/`expires_at`.
fn validity(secret: &TenantSecret) -> Validity {
    Validity {
        not_before: secret.not_before.map(|t| t.timestamp()),
        expires_at: secret.expires_at.map(|t| t.timestamp()),
    }
}

/// Whether a stored signing secret verifies deliveries at `now`, exactly as the registry's
/// verifiers decide it (what listings show as "active").
pub fn is_secret_active(secret: &TenantSecret, now: chrono::DateTime<chrono::Utc>) -> bool {
    validity(secret).contains(now.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_active_from_not_before_until_just_before_it_expires() {
        let at = |secs| chrono::DateTime::from_timestamp(secs, 0).unwrap();
        let secret = TenantSecret {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            ciphertext: Vec::new(),
            not_before: Some(at(100)),
            expires_at: Some(at(200)),
            created_at: at(0),
        };
        assert!(!is_secret_active(&secret, at(99)));
        assert!(is_secret_active(&secret, at(100)));
        assert!(is_secret_active(&secret, at(199)));
        assert!(!is_secret_active(&secret, at(200)));
        let forever = TenantSecret {
            not_before: None,
            expires_at: None,
            ..secret
        };
        assert!(is_secret_active(&forever, at(i64::from(i32::MAX))));
    }
}
