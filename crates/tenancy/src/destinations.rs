//! A tenant's destinations: where its events are forwarded, signed with a secret of the
//! destination's own (encrypted at rest like the tenant's signing secrets).

use hookgate_events::DestinationUrl;
use hookgate_store::{
    Destination, DestinationPatch, NewDestination, SealedKind, SealedRow, StoreError, Uuid,
};
use hookgate_verify::Secret;

use crate::cipher::generate_secret;
use crate::{Tenancy, TenancyError, TenantSlug};

/// What a destination is made of. The event type patterns are validated by the caller
/// (`hookgate_events::EventFilter`); here they are only joined.
#[derive(Debug, Clone)]
pub struct DestinationSpec {
    pub name: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// At most this many sends a second (1 to 10 000); `None` for no limit.
    pub max_per_sec: Option<u32>,
}

/// A destination just created, with its signing secret (shown once).
#[derive(Debug)]
pub struct CreatedDestination {
    pub destination: Destination,
    pub secret: Secret,
}

/// Changes to a destination.
#[derive(Debug, Clone, Default)]
pub struct DestinationChange {
    pub name: Option<String>,
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the rate limit.
    pub max_per_sec: Option<Option<u32>>,
}

impl Tenancy {
    /// Adds a destination with `secret`, or a newly generated one.
    pub async fn create_destination(
        &self,
        slug: &TenantSlug,
        spec: DestinationSpec,
        secret: Option<Secret>,
    ) -> Result<CreatedDestination, TenancyError> {
        check_name(&spec.name)?;
        let url = DestinationUrl::parse(&spec.url)?;
        let event_types = join_patterns(&spec.event_types)?;
        let max_per_sec = spec.max_per_sec.map(check_rate).transpose()?;
        let tenant = self.tenant(slug).await?;
        let secret = match secret {
            Some(secret) => secret,
            None => generate_secret()?,
        };
        // The row id is bound into the ciphertext, so it is chosen before the row exists.
        let id = Uuid::now_v7();
        let sealed_for = SealedRow {
            kind: SealedKind::DestinationSecret,
            tenant_id: tenant.id,
            row_id: id,
        };
        let (url, url_ciphertext) = self.seal_url(tenant.id, id, &url)?;
        let new = NewDestination {
            id,
            name: spec.name,
            url,
            event_types,
            ciphertext: self.cipher().encrypt(sealed_for, &secret)?,
            url_ciphertext,
            max_per_sec,
        };
        let destination = self.store().create_destination(tenant.id, new).await?;
        Ok(CreatedDestination {
            destination,
            secret,
        })
    }

    pub async fn destinations(&self, slug: &TenantSlug) -> Result<Vec<Destination>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().list_destinations(tenant.id).await?)
    }

    pub async fn destination(
        &self,
        slug: &TenantSlug,
        id: Uuid,
    ) -> Result<Option<Destination>, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().find_destination(tenant.id, id).await?)
    }

    /// Changes a destination; `None` when the tenant has no such destination.
    pub async fn update_destination(
        &self,
        slug: &TenantSlug,
        id: Uuid,
        change: DestinationChange,
    ) -> Result<Option<Destination>, TenancyError> {
        if let Some(name) = &change.name {
            check_name(name)?;
        }
        let url = change
            .url
            .as_deref()
            .map(DestinationUrl::parse)
            .transpose()?;
        let event_types = change
            .event_types
            .as_deref()
            .map(join_patterns)
            .transpose()?;
        let max_per_sec = change
            .max_per_sec
            .map(|rate| rate.map(check_rate).transpose())
            .transpose()?;
        let tenant = self.tenant(slug).await?;
        let url = url
            .map(|url| self.seal_url(tenant.id, id, &url))
            .transpose()?;
        let patch = DestinationPatch {
            name: change.name,
            url,
            event_types,
            enabled: change.enabled,
            max_per_sec,
        };
        match self.store().update_destination(tenant.id, id, patch).await {
            Ok(destination) => Ok(Some(destination)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The URL to store in the clear (credentials shown as `***`) and, when it holds
    /// credentials, the full URL sealed to the destination's row.
    fn seal_url(
        &self,
        tenant_id: Uuid,
        id: Uuid,
        url: &DestinationUrl,
    ) -> Result<(String, Option<Vec<u8>>), TenancyError> {
        let sealed = if url.has_credentials() {
            let at = SealedRow {
                kind: SealedKind::DestinationUrl,
                tenant_id,
                row_id: id,
            };
            Some(self.cipher().seal(at, url.expose().as_bytes())?)
        } else {
            None
        };
        Ok((url.redacted().to_owned(), sealed))
    }

    /// Deletes a destination and its deliveries.
    pub async fn delete_destination(
        &self,
        slug: &TenantSlug,
        id: Uuid,
    ) -> Result<bool, TenancyError> {
        let tenant = self.tenant(slug).await?;
        Ok(self.store().delete_destination(tenant.id, id).await?)
    }
}

fn check_name(name: &str) -> Result<(), TenancyError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(TenancyError::InvalidSetting(
            "a destination name must be 1 to 200 characters",
        ));
    }
    Ok(())
}

fn join_patterns(patterns: &[String]) -> Result<String, TenancyError> {
    if patterns.is_empty() || patterns.len() > 100 {
        return Err(TenancyError::InvalidSetting(
            "a destination needs 1 to 100 event type patterns (`*` for every event)",
        ));
    }
    Ok(patterns.join(","))
}

/// Most sends a second a destination's limit may allow: beyond it, the limit would not be felt.
const MAX_RATE: u32 = 10_000;

fn check_rate(rate: u32) -> Result<i32, TenancyError> {
    match i32::try_from(rate) {
        Ok(rate @ 1..) if rate.unsigned_abs() <= MAX_RATE => Ok(rate),
        _ => Err(TenancyError::InvalidSetting(
            "max_per_sec must be between 1 and 10000",
        )),
    }
}
