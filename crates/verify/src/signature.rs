use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac as _;

use crate::Secret;
use crate::secret::HmacSha256;

/// Length of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// The `v1` tag of `"{id}.{timestamp}.{body}"`, starting from a keyed MAC.
pub(crate) fn tag(mut mac: HmacSha256, id: &str, timestamp: i64, body: &[u8]) -> [u8; TAG_LEN] {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Signs a delivery: returns the value of a `webhook-signature` / `svix-signature` header
/// (`v1,<base64>`) for message `id` sent at `timestamp` (unix seconds).
pub fn sign(secret: &Secret, id: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        STANDARD.encode(tag(secret.mac(), id, timestamp, body))
    )
}
