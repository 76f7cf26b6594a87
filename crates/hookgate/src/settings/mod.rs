//! Settings: `config/default.toml`, then `config/{HOOKGATE_ENV}.toml` when present, then
//! `HOOKGATE__SECTION__KEY` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

mod parts;
mod redact;

pub use redact::Redacted;
use redact::url_without_password;

/// The development `secrets.key` from `config/development.toml`: public, so refused in production.
const DEV_SECRETS_KEY: &str = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE=";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip)]
    pub environment: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub ingest: IngestSettings,
    pub tenancy: TenancySettings,
    pub worker: WorkerSection,
    pub forward: ForwardSettings,
    pub notifications: NotificationsSettings,
    pub clerk: ClerkSettings,
    pub jobs: JobsSettings,
    pub reconcile: ReconcileSettings,
    pub retention: RetentionSettings,
    pub admin: AdminSettings,
    pub secrets: SecretsSettings,
    pub log: LogSettings,
    pub telemetry: TelemetrySettings,
    pub metrics: MetricsSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `service.name` of exported spans.
    pub service_name: String,
    pub otlp: OtlpSettings,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpSettings {
    /// Base URL of an OTLP/HTTP receiver; `/v1/traces` is appended. Empty: nothing is exported.
    pub endpoint: String,
    /// Share of traces exported (0.0–1.0), decided by trace id.
    pub sampling_ratio: f64,
    pub timeout_ms: u64,
}

impl OtlpSettings {
    pub fn traces_url(&self) -> Option<String> {
        let base = self.endpoint.trim().trim_end_matches('/');
        (!base.is_empty()).then(|| {
            if base.ends_with("/v1/traces") {
                base.to_owned()
            } else {
                format!("{base}/v1/traces")
            }
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// An address that serves `/metrics` instead of `server.listen`. Empty: on `server.listen`.
    pub listen: String,
    /// How many tenants get their own `tenant` label on ingest metrics; the rest share `_other`.
    /// 0: no tenant label.
    pub tenant_label_limit: usize,
    /// How often the inbox and pool gauges are sampled.
    pub sample_interval_ms: u64,
}

impl MetricsSettings {
    pub fn listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        let listen = self.listen.trim();
        if listen.is_empty() {
            return Ok(None);
        }
        listen.parse().map(Some).map_err(|err| {
            anyhow::anyhow!("invalid settings: metrics.listen {listen:?} is not an address: {err}")
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Hashes, not tokens: safe to show.
    #[serde(default)]
    pub token_hashes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub request_timeout_ms: u64,
    pub body_idle_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    pub drain_delay_ms: u64,
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    #[serde(serialize_with = "url_without_password")]
    pub url: Redacted,
    pub max_connections: u32,
    pub connect_timeout_ms: u64,
    pub acquire_timeout_ms: u64,
    pub sqlite_busy_timeout_ms: u64,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    pub max_body_bytes: usize,
    pub tolerance_secs: i64,
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
    pub store_timeout_ms: u64,
    pub retry_after_secs: u64,
    pub group_commit_max_batch: usize,
    pub queue_capacity: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSection {
    pub concurrency: u32,
    pub batch_size: u64,
    pub lease_ms: u64,
    pub poll_interval_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub max_attempts: i32,
}

/// Clerk's Backend API, as backfill and reconcile jobs read it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClerkSettings {
    pub api_url: String,
    pub timeout_ms: u64,
    pub page_size: u32,
    pub max_retries: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub max_rate_limited_wait_ms: u64,
    pub rate_limit_production: u32,
    pub rate_limit_development: u32,
    pub rate_limit_window_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobsSettings {
    pub concurrency: u32,
    pub lease_ms: u64,
    pub poll_interval_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub max_attempts: i32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// How often each tenant with a Clerk key is reconciled: `off`, or a duration such as
    /// `24h`, `90m`, `3600s`.
    pub interval: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardSettings {
    pub forwarders: u32,
    pub concurrency: usize,
    pub timeout_ms: u64,
    pub lease_ms: u64,
    pub poll_interval_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub max_attempts: i32,
    /// Failed attempts in a row that open a destination's circuit; 0 never opens it.
    pub circuit_after: u32,
    /// Wait before an open circuit's first probe; doubled after each failed probe, at most
    /// `backoff_cap_ms`.
    pub probe_base_ms: u64,
    /// Failing this long without a success disables a destination: `off`, or a duration such
    /// as `5d`.
    pub disable_after: String,
}

/// The operator's notification URL: hookgate's own events about every tenant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsSettings {
    /// `http://` or `https://`; empty for none.
    pub url: String,
    /// The `whsec_…` secret notifications to `url` are signed with.
    #[serde(default)]
    pub secret: Option<Redacted>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    pub processed_days: u32,
    pub interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TenancySettings {
    pub refresh_interval_ms: u64,
    pub heartbeat_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    #[serde(default)]
    pub key: Option<Redacted>,
    /// Keys being rotated out: they still decrypt stored secrets until `hookgate secrets rekey`
    /// has re-encrypted everything under `key`.
    #[serde(default)]
    pub previous_keys: Vec<Redacted>,
    /// Whether ciphertexts written before secrets were bound to their kind and row still open.
    #[serde(default = "accept_unbound_default")]
    pub accept_unbound: bool,
}

fn accept_unbound_default() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Settings {
    /// Loads from `./config` (or `HOOKGATE_CONFIG_DIR`) and the environment.
    pub fn load() -> anyhow::Result<Self> {
        let dir = std::env::var_os("HOOKGATE_CONFIG_DIR")
            .map_or_else(|| PathBuf::from("config"), PathBuf::from);
        let environment = std::env::var("HOOKGATE_ENV").unwrap_or_else(|_| "development".into());
        Self::load_from(&dir, &environment, true)
    }

    /// Loads from `dir` for `environment`; `with_env` adds the `HOOKGATE__*` variables.
    pub fn load_from(dir: &Path, environment: &str, with_env: bool) -> anyhow::Result<Self> {
        let base = dir.join("default.toml");
        if !base.is_file() {
            bail!(
                "settings file {} not found: run hookgate from the repository root or set HOOKGATE_CONFIG_DIR",
                base.display()
            );
        }
        let mut builder = config::Config::builder()
            .add_source(config::File::from(base))
            .add_source(
                config::File::from(dir.join(format!("{environment}.toml"))).required(false),
            );
        if with_env {
            builder = builder.add_source(
                config::Environment::with_prefix("HOOKGATE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    // HOOKGATE__ADMIN__TOKEN_HASHES=hash1,hash2
                    .list_separator(",")
                    .with_list_parse_key("admin.token_hashes")
                    .with_list_parse_key("secrets.previous_keys"),
            );
        }
        let mut settings: Settings = builder
            .build()
            .and_then(config::Config::try_deserialize)
            .context("invalid settings")?;
        settings.environment = environment.to_owned();
        // An empty variable (a Kubernetes Secret key holding "") reads as one empty entry.
        settings.admin.token_hashes.retain(|h| !h.trim().is_empty());
        settings
            .secrets
            .previous_keys
            .retain(|k| !k.expose().trim().is_empty());
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if hookgate_store::Backend::of_url(self.database.url.expose()).is_none() {
            bail!("invalid settings: database.url must start with sqlite:// or postgres://");
        }
        if self.ingest.group_commit_max_batch == 0 || self.ingest.queue_capacity == 0 {
            bail!(
                "invalid settings: ingest.group_commit_max_batch and ingest.queue_capacity must be positive"
            );
        }
        if self.ingest.max_body_bytes == 0 {
            bail!("invalid settings: ingest.max_body_bytes must be positive");
        }
        if self.ingest.tolerance_secs <= 0 {
            bail!("invalid settings: ingest.tolerance_secs must be positive");
        }
        if self.ingest.store_timeout_ms == 0
            || self.server.request_timeout_ms <= self.ingest.store_timeout_ms
        {
            bail!(
                "invalid settings: server.request_timeout_ms must be greater than ingest.store_timeout_ms (> 0)"
            );
        }
        let w = &self.worker;
        if w.concurrency == 0 || w.batch_size == 0 || w.lease_ms == 0 || w.poll_interval_ms == 0 {
            bail!(
                "invalid settings: worker.concurrency, batch_size, lease_ms and poll_interval_ms must be positive"
            );
        }
        if w.max_attempts < 1 || w.backoff_base_ms == 0 || w.backoff_cap_ms < w.backoff_base_ms {
            bail!(
                "invalid settings: worker.max_attempts must be at least 1 and 0 < backoff_base_ms <= backoff_cap_ms"
            );
        }
        const DAY_MS: u64 = 86_400_000;
        if w.lease_ms > DAY_MS || w.poll_interval_ms > DAY_MS / 24 || w.backoff_cap_ms > 7 * DAY_MS
        {
            bail!(
                "invalid settings: worker.lease_ms is at most a day, poll_interval_ms an hour, backoff_cap_ms a week"
            );
        }
        let j = &self.jobs;
        if j.lease_ms < 3_000 || j.lease_ms > DAY_MS || j.poll_interval_ms == 0 {
            bail!(
                "invalid settings: jobs.lease_ms is 3 s to a day, jobs.poll_interval_ms positive"
            );
        }
        if j.max_attempts < 1 || j.backoff_base_ms == 0 || j.backoff_cap_ms < j.backoff_base_ms {
            bail!(
                "invalid settings: jobs.max_attempts must be at least 1 and 0 < backoff_base_ms <= backoff_cap_ms"
            );
        }
        let c = &self.clerk;
        if !(c.api_url.starts_with("https://") || c.api_url.starts_with("http://")) {
            bail!(
                "invalid settings: clerk.api_url must be an http(s) URL such as https://api.clerk.com"
            );
        }
        if !(1..=hookgate_clerk::MAX_PAGE_SIZE).contains(&c.page_size) {
            bail!("invalid settings: clerk.page_size is 1 to 500");
        }
        if c.timeout_ms == 0
            || c.rate_limit_production == 0
            || c.rate_limit_development == 0
            || c.rate_limit_window_ms == 0
            || c.backoff_cap_ms < c.backoff_base_ms
        {
            bail!(
                "invalid settings: clerk.timeout_ms, the rate limits and their window must be positive, and backoff_base_ms <= backoff_cap_ms"
            );
        }
        // A reconcile lists a whole instance: more often than every minute only hammers Clerk.
        if self
            .reconcile_interval()?
            .is_some_and(|every| every < std::time::Duration::from_secs(60))
        {
            bail!("invalid settings: reconcile.interval is at least 1m");
        }
        self.notification_recipient()?;
        let f = &self.forward;
        self.forward_disable_after()?;
        if f.probe_base_ms == 0 || f.probe_base_ms > f.backoff_cap_ms {
            bail!(
                "invalid settings: forward.probe_base_ms must be positive and at most forward.backoff_cap_ms"
            );
        }
        if f.concurrency == 0 || f.timeout_ms == 0 || f.poll_interval_ms == 0 {
            bail!(
                "invalid settings: forward.concurrency, timeout_ms and poll_interval_ms must be positive"
            );
        }
        if f.timeout_ms > DAY_MS / 24 || f.lease_ms < 2 * f.timeout_ms || f.lease_ms > DAY_MS {
            bail!(
                "invalid settings: forward.timeout_ms is at most an hour, and forward.lease_ms at least twice forward.timeout_ms (an attempt in flight keeps its delivery) and at most a day"
            );
        }
        if f.max_attempts < 1
            || f.backoff_base_ms == 0
            || f.backoff_cap_ms < f.backoff_base_ms
            || f.backoff_cap_ms > 7 * DAY_MS
        {
            bail!(
                "invalid settings: forward.max_attempts must be at least 1 and 0 < backoff_base_ms <= backoff_cap_ms <= a week"
            );
        }
        if self.retention.processed_days > 3650 || self.retention.interval_ms > 7 * DAY_MS {
            bail!(
                "invalid settings: retention.processed_days is at most 3650 and interval_ms a week"
            );
        }
        if self.retention.processed_days < 7 {
            bail!(
                "invalid settings: retention.processed_days must be at least 7 (deduplication must outlive Svix's retries and replays)"
            );
        }
        if self.retention.interval_ms == 0 {
            bail!("invalid settings: retention.interval_ms must be positive");
        }
        if self.server.body_idle_timeout_ms == 0 || self.server.header_read_timeout_ms == 0 {
            bail!(
                "invalid settings: server.body_idle_timeout_ms and header_read_timeout_ms must be positive"
            );
        }
        if self.tenancy.refresh_interval_ms == 0 || self.tenancy.heartbeat_ms == 0 {
            bail!(
                "invalid settings: tenancy.refresh_interval_ms and heartbeat_ms must be positive"
            );
        }
        let otlp = &self.telemetry.otlp;
        if !(0.0..=1.0).contains(&otlp.sampling_ratio) || otlp.timeout_ms == 0 {
            bail!(
                "invalid settings: telemetry.otlp.sampling_ratio must be within 0.0–1.0 and timeout_ms positive"
            );
        }
        // Plain HTTP only: the exporter is built without TLS, and collectors usually run beside
        // the process (sidecar or node agent) and forward over TLS themselves.
        if let Some(url) = otlp.traces_url()
            && !url.starts_with("http://")
        {
            bail!(
                "invalid settings: telemetry.otlp.endpoint must be an http:// URL (an OTLP/HTTP collector nearby; TLS is not built in)"
            );
        }
        // On the API port, which may face the internet, tenant labels would list every
        // tenant's slug to anyone: they need the metrics port of their own.
        if self.metrics.listen_addr()?.is_none() && self.metrics.tenant_label_limit > 0 {
            bail!(
                "invalid settings: metrics.tenant_label_limit needs metrics.listen (a metrics port of its own): on the API port, tenant labels would show every tenant's slug"
            );
        }
        if self.metrics.sample_interval_ms == 0 {
            bail!("invalid settings: metrics.sample_interval_ms must be positive");
        }
        self.admin_tokens()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|err| anyhow::anyhow!("invalid settings: log.level: {err}"))?;
        self.secret_cipher()?;
        Ok(())
    }

    /// The settings in effect, as TOML, with every secret shown as `[redacted]`.
    pub fn effective_toml(&self) -> anyhow::Result<String> {
        toml::to_string(self).context("printing the settings")
    }

    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }
}

#[cfg(test)]
mod tests;
