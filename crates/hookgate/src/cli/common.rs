//! What several command groups share: the database for one command, tenant management over it,
//! and the parsers of durations, times, statuses and secrets given as arguments.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use hookgate_store::{InboxStatus, Store, UnknownStatus};
use hookgate_tenancy::Tenancy;
use hookgate_verify::Secret;

use crate::settings::Settings;
use crate::startup;

/// Runs `work` against the database, then closes the connection whatever `work` returned.
pub(super) async fn with_store<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&Store) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let store = startup::connect(settings).await?;
    let result = work(&store).await;
    store.close().await;
    result
}

/// Tenant management over `store`, with the configured secrets key. No registry of its own: the
/// running gateways reload tenants every `tenancy.refresh_interval_ms`.
pub(super) fn tenancy(store: &Store, settings: &Settings) -> anyhow::Result<Tenancy> {
    Ok(Tenancy::new(store.clone(), settings.secret_cipher()?, None))
}

/// `duration` from now, when given.
pub(super) fn from_now(duration: Option<Duration>) -> anyhow::Result<Option<DateTime<Utc>>> {
    duration
        .map(|d| {
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d))
                .context("the time would be past the year 262143")
        })
        .transpose()
}

pub(super) fn parse_secret(text: &str) -> anyhow::Result<Secret> {
    Secret::parse(text).map_err(|err| anyhow::anyhow!("--secret: {err}"))
}

pub(super) fn parse_status(text: &str) -> Result<InboxStatus, UnknownStatus> {
    text.parse()
}

/// An RFC 3339 time, or an age (`90s`, `30m`, `24h`, `7d`) before now.
pub(super) fn parse_when(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let age = parse_duration(text)
        .map_err(|_| format!("`{text}` is neither an RFC 3339 time nor an age such as 24h"))?;
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| format!("`{text}` reaches too far back"))
}

/// Parses `90s`, `30m`, `24h` or `7d`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 30m, 24h or 7d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` needs a unit: s, m, h or d")),
    };
    number
        .checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
