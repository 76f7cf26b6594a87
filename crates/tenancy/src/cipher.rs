use std::fmt;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookgate_verify::Secret;
use uuid::Uuid;

const NONCE_LEN: usize = 12;

/// The 32-byte key that encrypts signing secrets at rest (`secrets.key`, base64).
#[derive(Clone)]
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
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| SecretsKeyError::NotBase64)?;
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

/// Encrypts and decrypts signing secrets with AES-256-GCM. The tenant id is the associated
/// data, so a ciphertext copied to another tenant's row does not decrypt.
#[derive(Clone)]
pub struct SecretCipher {
    aead: Aes256Gcm,
    /// Keys being rotated out: they still decrypt, they never encrypt.
    previous: Vec<Aes256Gcm>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("the operating system's random source failed")]
    Random,
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
        }
    }

    /// Returns the nonce followed by the ciphertext.
    pub fn encrypt(&self, tenant_id: Uuid, secret: &Secret) -> Result<Vec<u8>, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CipherError::Random)?;
        let payload = Payload {
            msg: secret.expose_bytes(),
            aad: tenant_id.as_bytes(),
        };
        let ciphertext = self
            .aead
            .encrypt(&Nonce::from(nonce), payload)
            .map_err(|_| CipherError::Random)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    pub fn decrypt(&self, tenant_id: Uuid, stored: &[u8]) -> Result<Secret, CipherError> {
        let (nonce, ciphertext) = stored
            .split_at_checked(NONCE_LEN)
            .ok_or(CipherError::Decrypt)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Decrypt)?;
        let nonce = Nonce::from(nonce);
        let payload = || Payload {
            msg: ciphertext,
            aad: tenant_id.as_bytes(),
        };
        let key = std::iter::once(&self.aead)
            .chain(&self.previous)
            .find_map(|aead| aead.decrypt(&nonce, payload()).ok())
            .ok_or(CipherError::Decrypt)?;
        Secret::from_bytes(key).map_err(|_| CipherError::InvalidKey)
    }

    /// Decrypts `stored` (with any key) and encrypts it again under the current key.
    pub fn reencrypt(&self, tenant_id: Uuid, stored: &[u8]) -> Result<Vec<u8>, CipherError> {
        self.encrypt(tenant_id, &self.decrypt(tenant_id, stored)?)
    }
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

    fn cipher(byte: u8) -> SecretCipher {
        SecretCipher::new(&SecretsKey::parse(&STANDARD.encode([byte; 32])).unwrap())
    }

    #[test]
    fn previous_keys_decrypt_but_never_encrypt() {
        let key = |byte: u8| SecretsKey::parse(&STANDARD.encode([byte; 32])).unwrap();
        let secret = generate_secret().unwrap();
        let tenant = Uuid::now_v7();
        let old = cipher(1).encrypt(tenant, &secret).unwrap();
        let rotating = SecretCipher::with_previous(&key(2), &[key(1)]);
        assert_eq!(rotating.decrypt(tenant, &old).unwrap(), secret);
        let rekeyed = rotating.reencrypt(tenant, &old).unwrap();
        assert_eq!(cipher(2).decrypt(tenant, &rekeyed).unwrap(), secret);
        assert_eq!(
            cipher(1).decrypt(tenant, &rekeyed),
            Err(CipherError::Decrypt)
        );
        assert_eq!(
            SecretCipher::with_previous(&key(3), &[key(4)]).decrypt(tenant, &old),
            Err(CipherError::Decrypt)
        );
    }

    #[test]
    fn round_trips_and_binds_the_tenant() {
        let secret = generate_secret().unwrap();
        let tenant = Uuid::now_v7();
        let stored = cipher(1).encrypt(tenant, &secret).unwrap();
        assert!(
            !stored
                .windows(secret.expose_bytes().len())
                .any(|w| w == secret.expose_bytes())
        );
        assert_eq!(cipher(1).decrypt(tenant, &stored).unwrap(), secret);
        assert_eq!(
            cipher(2).decrypt(tenant, &stored),
            Err(CipherError::Decrypt)
        );
        assert_eq!(
            cipher(1).decrypt(Uuid::now_v7(), &stored),
            Err(CipherError::Decrypt)
        );
        assert_eq!(
            cipher(1).decrypt(tenant, &stored[..5]),
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
