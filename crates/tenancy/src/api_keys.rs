//! Credentials for the APIs: tenant API keys (stored as a hash behind a public prefix) and the
//! operators' admin tokens (configured as hashes). Both are compared in constant time.

use std::fmt;

use hookgate_store::{ApiKey, StoreError, Uuid};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::cipher::random_bytes;
use crate::{CipherError, Tenancy, TenancyError, TenantSlug};

/// Every tenant API key starts with this, so a leaked key is recognisable.
pub const API_KEY_PREFIX: &str = "hgk_";

/// A secret credential as presented or just generated: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential(String);

impl Credential {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential([redacted])")
    }
}

/// The tenant an API key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub tenant_id: Uuid,
    pub slug: TenantSlug,
    pub key_id: Uuid,
}

/// SHA-256 of `text`, lowercase hex.
pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits `hgk_<12 hex>_<64 hex>` into its prefix (`hgk_<12 hex>`); anything else is no key.
fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (public, secret) = rest.split_once('_')?;
    let hex_of = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex_of(public, 12) && hex_of(secret, 64)).then(|| &key[..API_KEY_PREFIX.len() + 12])
}

/// The operators' admin tokens, as SHA-256 hashes (`admin.token_hashes`); several, so they can be
/// rotated.
#[derive(Clone, Default)]
pub struct AdminTokens {
    hashes: Vec<[u8; 32]>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("admin.token_hashes entries must be 64 hex characters (the SHA-256 of a token)")]
pub struct AdminTokenError;

impl AdminTokens {
    pub fn from_hashes<S: AsRef<str>>(hashes: &[S]) -> Result<Self, AdminTokenError> {
        let hashes = hashes
            .iter()
            .map(|h| {
                let h = h.as_ref().trim();
                if h.len() != 64 || !h.is_ascii() {
                    return Err(AdminTokenError);
                }
                let mut out = [0u8; 32];
                for (i, byte) in out.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(&h[2 * i..2 * i + 2], 16)
                        .map_err(|_| AdminTokenError)?;
                }
                Ok(out)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { hashes })
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Whether `token` is one of the configured admin tokens.
    pub fn verify(&self, token: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut ok = subtle::Choice::from(0);
        for hash in &self.hashes {
            ok |= hash.ct_eq(&presented);
        }
        bool::from(ok)
    }

    /// A new random admin token and the hash to put in `admin.token_hashes`.
    pub fn generate() -> Result<(Credential, String), CipherError> {
        let token = format!("hga_{}", hex(&random_bytes(32)?));
        let hash = sha256_hex(&token);
        Ok((Credential(token), hash))
    }
}

impl fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdminTokens({} configured)", self.hashes.len())
    }
}

impl Tenancy {
    /// Creates an API key for a tenant. The key is returned once and only its hash is stored.
    pub async fn create_api_key(
        &self,
        slug: &TenantSlug,
        name: &str,
    ) -> Result<(ApiKey, Credential), TenancyError> {
        let tenant = self.tenant(slug).await?;
        let public = hex(&random_bytes(6)?);
        let secret = hex(&random_bytes(32)?);
        let key = format!("{API_KEY_PREFIX}{public}_{secret}");
        let prefix = &key[..API_KEY_PREFIX.len() + 12];
        let name = if name.trim().is_empty() {
            "default"
        } else {
            name.trim()
        };
        let stored = self
            .store()
            .insert_api_key(tenant.id, prefix, &sha256_hex(&key), name)
            .await?;
        Ok((stored, Credential(key)))
    }

    pub async fn list_api_keys(&self, slug: &TenantSlug) -> Result<Vec<ApiKey>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().list_api_keys(tenant.id).await?)
    }

    /// Revokes a key; it is refused from the next request on.
    pub async fn revoke_api_key(&self, slug: &TenantSlug, id: Uuid) -> Result<bool, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().revoke_api_key(tenant.id, id).await?)
    }

    /// The tenant a presented key belongs to: `None` for anything that is not a live key of an
    /// enabled tenant. Reads the database each time, so a revocation applies at once.
    pub async fn authenticate_api_key(
        &self,
        presented: &str,
    ) -> Result<Option<KeyOwner>, StoreError> {
        let Some(prefix) = prefix_of(presented) else {
            return Ok(None);
        };
        let Some(key) = self.store().find_api_key_by_prefix(prefix).await? else {
            return Ok(None);
        };
        let matches: bool = sha256_hex(presented)
            .as_bytes()
            .ct_eq(key.hash.as_bytes())
            .into();
        if !matches || key.revoked_at.is_some() {
            return Ok(None);
        }
        let Some(tenant) = self.store().find_tenant(key.tenant_id).await? else {
            return Ok(None);
        };
        let Ok(slug) = TenantSlug::parse(&tenant.slug) else {
            return Ok(None);
        };
        Ok(tenant.enabled.then_some(KeyOwner {
            tenant_id: tenant.id,
            slug,
            key_id: key.id,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_a_recognisable_shape() {
        let key = format!("hgk_{}_{}", "a1".repeat(6), "0f".repeat(32));
        assert_eq!(prefix_of(&key), Some(&key[..16]));
        assert_eq!(prefix_of("hgk_short_x"), None);
        assert_eq!(prefix_of(&key.replace("hgk_", "sk_")), None);
        assert_eq!(prefix_of(&format!("{key}0")), None);
    }

    #[test]
    fn admin_tokens_verify_against_their_hashes() {
        let (token, hash) = AdminTokens::generate().unwrap();
        let (other, other_hash) = AdminTokens::generate().unwrap();
        let tokens = AdminTokens::from_hashes(&[hash, other_hash]).unwrap();
        assert!(tokens.verify(token.expose()));
        assert!(tokens.verify(other.expose()));
        assert!(!tokens.verify("hga_guess"));
        assert!(!AdminTokens::default().verify(token.expose()));
        assert_eq!(
            AdminTokens::from_hashes(&["zz"]).unwrap_err(),
            AdminTokenError
        );
        let non_ascii = format!("é{}", "a".repeat(62));
        assert_eq!(
            AdminTokens::from_hashes(&[non_ascii]).unwrap_err(),
            AdminTokenError
        );
        assert!(!format!("{token:?} {tokens:?}").contains(token.expose()));
    }
}
