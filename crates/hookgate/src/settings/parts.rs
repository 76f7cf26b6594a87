//! What the settings build for the rest of the process: the store's options, the workers' and
//! forwarders' settings, the secrets key, the admin tokens and the tenant defaults.

use std::time::Duration;

use anyhow::bail;
use hookgate_clerk::{ClientSettings, RateLimit, RateLimits};
use hookgate_store::{DatabaseOptions, HealthPolicy};
use hookgate_tenancy::{AdminTokens, SecretCipher, SecretsKey, TenantDefaults};
use hookgate_tenancy::{Secret, parse_notification_url};
use hookgate_worker::{
    Backoff, ForwarderSettings, JobSettings, NotificationRecipient, NotifierSettings,
    WorkerSettings,
};

use super::{DEV_SECRETS_KEY, Settings};

impl Settings {
    /// The key that encrypts signing secrets. Required; the public development key is refused
    /// in production.
    pub fn secrets_key(&self) -> anyhow::Result<SecretsKey> {
        let Some(key) = &self.secrets.key else {
            bail!(
                "invalid settings: secrets.key is required (base64 of 32 random bytes; set HOOKGATE__SECRETS__KEY)"
            );
        };
        if self.is_production() && key.expose().trim() == DEV_SECRETS_KEY {
            bail!(
                "invalid settings: secrets.key is the public development key, which production refuses; set a real one"
            );
        }
        SecretsKey::parse(key.expose()).map_err(|err| anyhow::anyhow!("invalid settings: {err}"))
    }

    /// The cipher for stored secrets: `secrets.key`, with `secrets.previous_keys` for decrypting.
    pub fn secret_cipher(&self) -> anyhow::Result<SecretCipher> {
        let previous = self
            .secrets
            .previous_keys
            .iter()
            .map(|k| SecretsKey::parse(k.expose()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| anyhow::anyhow!("invalid settings: secrets.previous_keys: {err}"))?;
        Ok(SecretCipher::with_previous(&self.secrets_key()?, &previous)
            .accepting_unbound(self.secrets.accept_unbound))
    }

    pub fn admin_tokens(&self) -> anyhow::Result<AdminTokens> {
        AdminTokens::from_hashes(&self.admin.token_hashes)
            .map_err(|err| anyhow::anyhow!("invalid settings: {err}"))
    }

    pub fn database_options(&self) -> DatabaseOptions {
        let db = &self.database;
        DatabaseOptions {
            url: db.url.expose().to_owned(),
            max_connections: db.max_connections.max(1),
            connect_timeout: Duration::from_millis(db.connect_timeout_ms),
            acquire_timeout: Duration::from_millis(db.acquire_timeout_ms),
            sqlite_busy_timeout: Duration::from_millis(db.sqlite_busy_timeout_ms),
        }
    }

    pub fn worker_settings(&self) -> WorkerSettings {
        let w = &self.worker;
        WorkerSettings {
            batch_size: w.batch_size,
            lease: Duration::from_millis(w.lease_ms),
            poll_interval: Duration::from_millis(w.poll_interval_ms),
            backoff: Backoff {
                base: Duration::from_millis(w.backoff_base_ms),
                cap: Duration::from_millis(w.backoff_cap_ms),
                max_attempts: w.max_attempts,
            },
        }
    }

    pub fn forwarder_settings(&self) -> ForwarderSettings {
        let f = &self.forward;
        ForwarderSettings {
            concurrency: f.concurrency,
            timeout: Duration::from_millis(f.timeout_ms),
            lease: Duration::from_millis(f.lease_ms),
            poll_interval: Duration::from_millis(f.poll_interval_ms),
            backoff: Backoff {
                base: Duration::from_millis(f.backoff_base_ms),
                cap: Duration::from_millis(f.backoff_cap_ms),
                max_attempts: f.max_attempts,
            },
            health: HealthPolicy {
                circuit_after: f.circuit_after,
                probe_base: Duration::from_millis(f.probe_base_ms),
                probe_cap: Duration::from_millis(f.backoff_cap_ms),
                // Checked when the settings load; `off` is "never", a century.
                disable_after: self
                    .forward_disable_after()
                    .ok()
                    .flatten()
                    .unwrap_or(Duration::from_secs(100 * 365 * 86_400)),
            },
        }
    }

    /// How backfill and reconcile read Clerk's Backend API.
    pub fn clerk_client_settings(&self) -> ClientSettings {
        let c = &self.clerk;
        let window = Duration::from_millis(c.rate_limit_window_ms);
        ClientSettings {
            api_url: c.api_url.clone(),
            timeout: Duration::from_millis(c.timeout_ms),
            page_size: c.page_size,
            max_retries: c.max_retries,
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_cap: Duration::from_millis(c.backoff_cap_ms),
            max_rate_limited_wait: Duration::from_millis(c.max_rate_limited_wait_ms),
            limits: RateLimits {
                production: RateLimit {
                    requests: c.rate_limit_production,
                    window,
                },
                development: RateLimit {
                    requests: c.rate_limit_development,
                    window,
                },
            },
            ..ClientSettings::default()
        }
    }

    pub fn job_settings(&self) -> JobSettings {
        let j = &self.jobs;
        JobSettings {
            lease: Duration::from_millis(j.lease_ms),
            poll_interval: Duration::from_millis(j.poll_interval_ms),
            backoff: Backoff {
                base: Duration::from_millis(j.backoff_base_ms),
                cap: Duration::from_millis(j.backoff_cap_ms),
                max_attempts: j.max_attempts,
            },
        }
    }

    /// How often every keyed tenant is reconciled; `None` when scheduled reconciles are off.
    pub fn reconcile_interval(&self) -> anyhow::Result<Option<Duration>> {
        duration_setting("reconcile.interval", &self.reconcile.interval)
    }

    /// Where every tenant's notifications also go, with the secret they are signed with; `None`
    /// when `notifications.url` is empty.
    pub fn notification_recipient(&self) -> anyhow::Result<Option<NotificationRecipient>> {
        let n = &self.notifications;
        if n.url.trim().is_empty() {
            return Ok(None);
        }
        let url = parse_notification_url(n.url.trim())
            .map_err(|err| anyhow::anyhow!("invalid settings: notifications.url: {err}"))?;
        let secret = n
            .secret
            .as_ref()
            .map(|secret| Secret::parse(secret.expose()))
            .transpose()
            .map_err(|_| {
                anyhow::anyhow!(
                    "invalid settings: notifications.secret is a whsec_… secret (base64 of at least 24 bytes)"
                )
            })?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid settings: notifications.url needs notifications.secret (a whsec_… secret)"
                )
            })?;
        Ok(Some(NotificationRecipient { url, secret }))
    }

    /// How the notifier sends: the forwarders' timeout, lease, polling and backoff.
    pub fn notifier_settings(&self) -> anyhow::Result<NotifierSettings> {
        let forwarder = self.forwarder_settings();
        Ok(NotifierSettings {
            global: self.notification_recipient()?,
            timeout: forwarder.timeout,
            lease: forwarder.lease,
            poll_interval: forwarder.poll_interval,
            backoff: forwarder.backoff,
        })
    }

    /// How long a destination may fail without a success before it is disabled; `None` never.
    pub fn forward_disable_after(&self) -> anyhow::Result<Option<Duration>> {
        duration_setting("forward.disable_after", &self.forward.disable_after)
    }

    pub fn tenant_defaults(&self) -> TenantDefaults {
        TenantDefaults {
            tolerance_secs: self.ingest.tolerance_secs,
            max_body_bytes: self.ingest.max_body_bytes,
            rate_limit_per_sec: self.ingest.rate_limit_per_sec,
            rate_limit_burst: self.ingest.rate_limit_burst,
        }
    }
}

/// A duration setting: `off`, or a number and a unit (`s`, `m`, `h`, `d`), at most a year.
fn duration_setting(name: &str, text: &str) -> anyhow::Result<Option<Duration>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>().ok().and_then(|n| n.checked_mul(secs)) {
        // A year at most: schedulers subtract it from the clock.
        Some(total) if (1..=365 * 86_400).contains(&total) => Ok(Some(Duration::from_secs(total))),
        _ => bail!(
            "invalid settings: {name} is `off` or a duration of at most 365d such as 24h, 90m or 3600s (got `{text}`)"
        ),
    }
}
