//! Shared by the benchmark's binaries: the tenants a run uses, as `slug=whsec_...` pairs.

use hookgate_verify::Secret;

/// Parses `slug=secret,slug=secret`.
pub fn tenants(spec: &str) -> anyhow::Result<Vec<(String, Secret)>> {
    spec.split(',')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (slug, secret) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("`{pair}` is not slug=secret"))?;
            let secret = Secret::parse(secret).map_err(|e| anyhow::anyhow!("{slug}: {e}"))?;
            Ok((slug.to_owned(), secret))
        })
        .collect()
}
