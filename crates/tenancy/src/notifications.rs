//! Where a tenant's operational notifications go (hookgate's own events about it), and the
//! secret they are signed with, sealed like its other secrets.

use hookgate_events::{DestinationKind, DestinationUrl};
use hookgate_store::{Notification, NotificationTarget, SealedKind, SealedRow, Uuid};
use hookgate_verify::Secret;

use crate::cipher::generate_secret;
use crate::{Tenancy, TenancyError, TenantSlug};

/// A notification URL just set, with its signing secret (shown once).
#[derive(Debug)]
pub struct NotificationSetup {
    pub target: NotificationTarget,
    pub secret: Secret,
}

/// Where a tenant's notification secret is sealed: bound to the tenant, for that purpose.
fn sealed_for(tenant_id: Uuid) -> SealedRow {
    SealedRow {
        kind: SealedKind::NotificationSecret,
        tenant_id,
        row_id: tenant_id,
    }
}

/// Checks a notification URL: `http://` or `https://`, nothing else.
pub fn parse_notification_url(url: &str) -> Result<String, TenancyError> {
    let parsed = DestinationUrl::parse(url)?;
    if parsed.kind() != DestinationKind::Http {
        return Err(TenancyError::InvalidSetting(
            "a notification URL is http:// or https://",
        ));
    }
    Ok(url.to_owned())
}

impl Tenancy {
    /// Sends the tenant's notifications to `url`, signed with `secret` or a new one.
    pub async fn set_notifications(
        &self,
        slug: &TenantSlug,
        url: &str,
        secret: Option<Secret>,
    ) -> Result<NotificationSetup, TenancyError> {
        let url = parse_notification_url(url)?;
        let tenant = self.tenant(slug).await?;
        let secret = match secret {
            Some(secret) => secret,
            None => generate_secret()?,
        };
        let ciphertext = self.cipher().encrypt(sealed_for(tenant.id), &secret)?;
        let target = self
            .store()
            .set_notification_target(tenant.id, url, ciphertext)
            .await?;
        Ok(NotificationSetup { target, secret })
    }

    /// Where the tenant's notifications go (never the secret).
    pub async fn notifications(
        &self,
        slug: &TenantSlug,
    ) -> Result<Option<NotificationTarget>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().notification_target(tenant.id).await?)
    }

    /// Stops the tenant's notifications; `false` when it had none.
    pub async fn clear_notifications(&self, slug: &TenantSlug) -> Result<bool, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().clear_notification_target(tenant.id).await?)
    }

    /// The tenant's latest notifications, newest first.
    pub async fn sent_notifications(
        &self,
        slug: &TenantSlug,
        limit: u64,
    ) -> Result<Vec<Notification>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().list_notifications(tenant.id, limit).await?)
    }

    /// The tenant's notification URL with its secret opened, to send a test with.
    pub async fn notification_recipient(
        &self,
        slug: &TenantSlug,
    ) -> Result<Option<(String, Secret)>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        let Some(target) = self.store().notification_target(tenant.id).await? else {
            return Ok(None);
        };
        let secret = self
            .cipher()
            .decrypt_bound(sealed_for(tenant.id), &target.ciphertext)?;
        Ok(Some((target.url, secret)))
    }
}
