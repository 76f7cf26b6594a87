//! A tenant's destinations: where its events are forwarded, signed with a secret of the
//! destination's own (encrypted at rest like the tenant's signing secrets).

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
        check_url(&spec.url)?;
        let event_types = join_patterns(&spec.event_types)?;
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
        let new = NewDestination {
            id,
            name: spec.name,
            url: spec.url,
            event_types,
            ciphertext: self.cipher().encrypt(sealed_for, &secret)?,
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
        if let Some(url) = &change.url {
            check_url(url)?;
        }
        let event_types = change
            .event_types
            .as_deref()
            .map(join_patterns)
            .transpose()?;
        let tenant = self.tenant(slug).await?;
        let patch = DestinationPatch {
            name: change.name,
            url: change.url,
            event_types,
            enabled: change.enabled,
        };
        match self.store().update_destination(tenant.id, id, patch).await {
            Ok(destination) => Ok(Some(destination)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
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

/// An absolute `http` or `https` URL with a host, without credentials, at most 2048 bytes.
fn check_url(url: &str) -> Result<(), TenancyError> {
    let invalid = || {
        TenancyError::InvalidSetting(
            "a destination url must be an absolute http:// or https:// URL with a host, without user information, at most 2048 characters",
        )
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // `[::1]:8443` keeps its brackets; otherwise the host ends at the port.
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let ok = url.len() <= 2048
        && !host.is_empty()
        && !authority.contains('@')
        && url.chars().all(|c| c.is_ascii_graphic());
    if ok { Ok(()) } else { Err(invalid()) }
}

fn join_patterns(patterns: &[String]) -> Result<String, TenancyError> {
    if patterns.is_empty() || patterns.len() > 100 {
        return Err(TenancyError::InvalidSetting(
            "a destination needs 1 to 100 event type patterns (`*` for every event)",
        ));
    }
    Ok(patterns.join(","))
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn destination_urls_are_checked() {
        for ok in [
            "https://example.com/hooks",
            "http://127.0.0.1:9000/x?y=1",
            "https://[::1]:8443/",
            "https://api.example.com",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com",
            "example.com",
            "https://",
            "https:///path",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            &format!("https://example.com/{}", "a".repeat(2100)),
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
