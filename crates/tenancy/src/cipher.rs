use std::fmt;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookgate_store::{SealedKind, SealedRow};
use hookgate_verify::Secret;
use zeroize::{ZeroizeOnDrop, Zeroizing};

const NONCE_LEN: usize = 12;

/// Marks a ciphertext bound to its purpose and row: `MAGIC ‖ nonce ‖ AES-256-GCM ciphertext`.
/// Ciphertexts written before (`nonce ‖ ciphertext`, bound to the tenant only) have a random
/// nonce where this stands; they still open until `hookgate secrets rekey` rewrites them.
const MAGIC: &[u8; 4] = b"hgb1";

/// The 32-byte key that encrypts signing secrets at rest (`secrets.key`, base64). Wiped from
/// memory when dropped.
#[derive(Clone, ZeroizeOnDrop)]
pub struct SecretsKey([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsKeyError {
    #[error("secrets.key must be base64")]
    NotBase64,
    #[error("secrets.key must decode to exactly 32 bytes, it decodes to {0}")]
    BadLength(usize),
}

impl SecretsKey {
    pub fn parse(encoded: &str) -> Result<Self, SecretsKeyError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| SecretsKeyError::NotBase64)?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretsKeyError::BadLength(bytes.len()))?;
        Ok(Self(key))
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey([redacted])")
    }
}

/// Encrypts and decrypts stored secrets with AES-256-GCM. The associated data binds each
/// ciphertext to what it is (a tenant's signing secret, a destination's secret), whose (the
/// tenant) and where (its row): copied to another row, of another kind or another tenant, it does
/// not open.
#[derive(Clone)]
pub struct SecretCipher {
    aead: Aes256Gcm,
    /// Keys being rotated out: they still decrypt, they never encrypt.
    previous: Vec<Aes256Gcm>,
    /// Whether ciphertexts from before the binding (tenant only) still open.
    accept_unbound: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the operating system's random source failed")]
    Random,
    #[error("encrypting a secret failed")]
    Encrypt,
    #[error("a stored secret does not decrypt under the configured secrets.key")]
    Decrypt,
    #[error("a stored secret decrypted to an invalid key")]
    InvalidKey,
}

impl SecretCipher {
    pub fn new(key: &SecretsKey) -> Self {
        Self::with_previous(key, &[])
    }

    /// Encrypts with `key`, and decrypts with it or any of `previous`: the state of a key
    /// rotation, until `hookgate secrets rekey` has re-encrypted everything under `key`.
    pub fn with_previous(key: &SecretsKey, previous: &[SecretsKey]) -> Self {
        Self {
            aead: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key.0)),
            previous: previous
                .iter()
                .map(|k| Aes256Gcm::new(&Key::<Aes256Gcm>::from(k.0)))
                .collect(),
            accept_unbound: true,
        }
    }

    /// Whether ciphertexts written before secrets were bound to their kind and row (bound to
    /// the tenant only) still open; [`SecretCipher::reencrypt`] reads them either way, so
    /// `hookgate secrets rekey` can bind them.
    pub fn accepting_unbound(mut self, accept: bool) -> Self {
        self.accept_unbound = accept;
        self
    }

    /// Encrypts `secret` for the row `to`: the magic, the nonce, then the ciphertext.
    pub fn encrypt(&self, to: SealedRow, secret: &Secret) -> Result<Vec<u8>, CipherError> {
        self.seal(to, secret.expose_bytes())
    }

    /// Encrypts any confidential bytes (a URL holding a password) for the row `to`.
    pub fn seal(&self, to: SealedRow, plaintext: &[u8]) -> Result<Vec<u8>, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CipherError::Random)?;
        let payload = Payload {
            msg: plaintext,
            aad: &binding(to),
        };
        let ciphertext = self
            .aead
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| CipherError::Encrypt)?;
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + ciphertext.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Opens the secret stored in the row `at`, with the current key or a previous one.
    pub fn decrypt(&self, at: SealedRow, stored: &[u8]) -> Result<Secret, CipherError> {
        self.open(at, stored, self.accept_unbound)
    }

    /// [`Self::decrypt`] for a kind of secret that was never stored unbound (Clerk keys): a
    /// tenant-only ciphertext is refused whatever `secrets.accept_unbound` says.
    pub fn decrypt_bound(&self, at: SealedRow, stored: &[u8]) -> Result<Secret, CipherError> {
        self.open(at, stored, false)
    }

    fn open(&self, at: SealedRow, stored: &[u8], unbound: bool) -> Result<Secret, CipherError> {
        // The plaintext moves into the `Secret`, which wipes it when dropped (and so does a
        // rejected one).
        let key = std::mem::take(&mut *self.open_raw(at, stored, unbound)?);
        Secret::from_bytes(key).map_err(|_| CipherError::InvalidKey)
    }

    /// Opens what [`Self::seal`] sealed for the row `at` (never stored unbound).
    pub fn unseal(&self, at: SealedRow, stored: &[u8]) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        self.open_raw(at, stored, false)
    }

    fn open_raw(
        &self,
        at: SealedRow,
        stored: &[u8],
        unbound: bool,
    ) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let bound = stored
            .strip_prefix(MAGIC)
            .and_then(|sealed| self.open_with(&binding(at), sealed));
        // An unbound ciphertext whose random nonce happens to begin like the marker is read as
        // unbound too.
        let key = match bound {
            Some(key) => key,
            None if unbound => self
                .open_with(at.tenant_id.as_bytes(), stored)
                .ok_or(CipherError::Decrypt)?,
            None => return Err(CipherError::Decrypt),
        };
        Ok(Zeroizing::new(key))
    }

    /// The plaintext of `nonce ‖ ciphertext` under `aad`, with any of the keys.
    fn open_with(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let nonce = Nonce::from(nonce);
        std::iter::once(&self.aead)
            .chain(&self.previous)
            .find_map(|aead| {
                let payload = Payload {
                    msg: ciphertext,
                    aad,
                };
                aead.decrypt(&nonce, payload).ok()
            })
    }

    /// Whether `stored` predates the binding to purpose and row (`hookgate secrets rekey`
    /// rewrites it bound).
    pub fn is_unbound(stored: &[u8]) -> bool {
        !stored.starts_with(MAGIC)
    }

    /// Opens `stored` (with any key, bound or not, whatever `accept_unbound` says) and encrypts
    /// it again under the current key, bound to `at`.
    pub fn reencrypt(&self, at: SealedRow, stored: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.seal(at, &self.open_raw(at, stored, true)?)
    }
}

/// The associated data of a stored secret: format, kind, tenant and row.
fn binding(row: SealedRow) -> [u8; 38] {
    let mut aad = [0u8; 38];
    aad[..4].copy_from_slice(MAGIC);
    aad[4] = b'/';
    aad[5] = match row.kind {
        SealedKind::SigningSecret => b's',
        SealedKind::DestinationSecret => b'd',
        SealedKind::ClerkKey => b'k',
        SealedKind::DestinationUrl => b'u',
        SealedKind::NotificationSecret => b'n',
    };
    aad[6..22].copy_from_slice(row.tenant_id.as_bytes());
    aad[22..].copy_from_slice(row.row_id.as_bytes());
    aad
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretCipher([redacted])")
    }
}

/// A new random signing secret, as Clerk would generate one.
pub(crate) fn generate_secret() -> Result<Secret, CipherError> {
    Secret::from_bytes(random_bytes(Secret::GENERATED_LEN)?).map_err(|_| CipherError::InvalidKey)
}

/// `n` bytes from the operating system's random source.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, CipherError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|_| CipherError::Random)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(byte: u8) -> SecretsKey {
        SecretsKey::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    fn cipher(byte: u8) -> SecretCipher {
        SecretCipher::new(&key(byte))
    }

    fn row(kind: SealedKind) -> SealedRow {
        SealedRow {
            kind,
            tenant_id: Uuid::now_v7(),
            row_id: Uuid::now_v7(),
        }
    }

    /// A ciphertext as this version wrote it before secrets were bound to their row.
    fn unbound(cipher: &SecretCipher, tenant_id: Uuid, secret: &Secret) -> Vec<u8> {
        unbound_with(cipher, tenant_id, secret, [9u8; NONCE_LEN])
    }

    fn unbound_with(
        cipher: &SecretCipher,
        tenant_id: Uuid,
        secret: &Secret,
        nonce: [u8; NONCE_LEN],
    ) -> Vec<u8> {
        let payload = Payload {
            msg: secret.expose_bytes(),
            aad: tenant_id.as_bytes(),
        };
        let mut out = nonce.to_vec();
        out.extend(cipher.aead.encrypt(&Nonce::from(nonce), payload).unwrap());
        out
    }

    #[test]
    fn previous_keys_decrypt_but_never_encrypt() {
        let secret = generate_secret().unwrap();
        let at = row(SealedKind::SigningSecret);
        let old = cipher(1).encrypt(at, &secret).unwrap();
        let rotating = SecretCipher::with_previous(&key(2), &[key(1)]);
        assert_eq!(rotating.decrypt(at, &old).unwrap(), secret);
        let rekeyed = rotating.reencrypt(at, &old).unwrap();
        assert_eq!(cipher(2).decrypt(at, &rekeyed).unwrap(), secret);
        assert_eq!(cipher(1).decrypt(at, &rekeyed), Err(CipherError::Decrypt));
        assert_eq!(
            SecretCipher::with_previous(&key(3), &[key(4)]).decrypt(at, &old),
            Err(CipherError::Decrypt)
        );
    }

    #[test]
    fn a_ciphertext_opens_only_where_it_was_sealed() {
        let secret = generate_secret().unwrap();
        let at = row(SealedKind::SigningSecret);
        let stored = cipher(1).encrypt(at, &secret).unwrap();
        assert!(
            !stored
                .windows(secret.expose_bytes().len())
                .any(|w| w == secret.expose_bytes())
        );
        assert_eq!(cipher(1).decrypt(at, &stored).unwrap(), secret);
        assert!(!SecretCipher::is_unbound(&stored));
        let elsewhere = [
            // A destination's secret of the same tenant, in a row with the same id.
            SealedRow {
                kind: SealedKind::DestinationSecret,
                ..at
            },
            // Another of the tenant's secrets.
            SealedRow {
                row_id: Uuid::now_v7(),
                ..at
            },
            // Another tenant's.
            SealedRow {
                tenant_id: Uuid::now_v7(),
                ..at
            },
        ];
        for other in elsewhere {
            assert_eq!(
                cipher(1).decrypt(other, &stored),
                Err(CipherError::Decrypt),
                "{other:?}"
            );
        }
        assert_eq!(cipher(2).decrypt(at, &stored), Err(CipherError::Decrypt));
        assert_eq!(
            cipher(1).decrypt(at, &stored[..9]),
            Err(CipherError::Decrypt)
        );
    }

    #[test]
    fn unbound_ciphertexts_open_only_while_accepted_and_rekey_binds_them() {
        let secret = generate_secret().unwrap();
        let at = row(SealedKind::DestinationSecret);
        let old = unbound(&cipher(1), at.tenant_id, &secret);
        assert!(SecretCipher::is_unbound(&old));
        assert_eq!(cipher(1).decrypt(at, &old).unwrap(), secret);
        let strict = cipher(1).accepting_unbound(false);
        assert_eq!(strict.decrypt(at, &old), Err(CipherError::Decrypt));
        // Kinds never stored unbound (Clerk keys) refuse them whatever the setting.
        assert_eq!(cipher(1).decrypt_bound(at, &old), Err(CipherError::Decrypt));
        let sealed = cipher(1).encrypt(at, &secret).unwrap();
        assert_eq!(cipher(1).decrypt_bound(at, &sealed).unwrap(), secret);
        let other_tenant = SealedRow {
            tenant_id: Uuid::now_v7(),
            ..at
        };
        assert_eq!(
            cipher(1).decrypt(other_tenant, &old),
            Err(CipherError::Decrypt)
        );
        // A random nonce that happens to begin like the marker is still read as unbound.
        let mut nonce = [7u8; NONCE_LEN];
        nonce[..4].copy_from_slice(MAGIC);
        let lookalike = unbound_with(&cipher(1), at.tenant_id, &secret, nonce);
        assert_eq!(cipher(1).decrypt(at, &lookalike).unwrap(), secret);
        // Rekeying reads it even where unbound ciphertexts are refused.
        let rekeyed = strict.reencrypt(at, &old).unwrap();
        assert!(!SecretCipher::is_unbound(&rekeyed));
        assert_eq!(strict.decrypt(at, &rekeyed).unwrap(), secret);
        let as_signing_secret = SealedRow {
            kind: SealedKind::SigningSecret,
            ..at
        };
        assert_eq!(
            cipher(1).decrypt(as_signing_secret, &rekeyed),
            Err(CipherError::Decrypt)
        );
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_never_print() {
        assert!(matches!(
            SecretsKey::parse("nope!"),
            Err(SecretsKeyError::NotBase64)
        ));
        assert!(matches!(
            SecretsKey::parse(&STANDARD.encode([0; 16])),
            Err(SecretsKeyError::BadLength(16))
        ));
        let key = SecretsKey::parse(&STANDARD.encode([7; 32])).unwrap();
        assert_eq!(
            format!("{key:?} {:?}", cipher(7)),
            "SecretsKey([redacted]) SecretCipher([redacted])"
        );
    }
}
