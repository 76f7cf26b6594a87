//! `hookgate tenant secret …`: the signing secrets a tenant's deliveries are verified with.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use hookgate_store::{TenantSecret, Uuid};
use hookgate_tenancy::{Tenancy, TenantSlug};
use serde::Serialize;

use super::common::{from_now, parse_duration, parse_secret};
use super::output::{self, Column, Format, Line, Row};

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Add a signing secret, for example Clerk's new one during a rotation.
    Add {
        slug: TenantSlug,
        #[arg(long, env = "HOOKGATE_SIGNING_SECRET", hide_env_values = true)]
        secret: String,
        /// Stop accepting this secret after this long (`90s`, `30m`, `24h`, `7d`).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// Rotation: stop accepting the tenant's other secrets after this long (`24h` matches
        /// the window in which Svix signs with both the old and the new secret).
        #[arg(long, value_parser = parse_duration)]
        retire_others_in: Option<Duration>,
    },
    /// List a tenant's signing secrets (metadata only).
    List {
        slug: TenantSlug,
        #[command(flatten)]
        format: Format,
    },
    /// Rotate: a new secret (given, or generated and printed once) valid now; the others keep
    /// verifying for the grace period.
    Rotate {
        slug: TenantSlug,
        #[arg(long, env = "HOOKGATE_SIGNING_SECRET", hide_env_values = true)]
        secret: Option<String>,
        #[arg(long, value_parser = parse_duration, default_value = "24h")]
        grace: Duration,
    },
    /// Stop accepting one secret now.
    Revoke { slug: TenantSlug, id: Uuid },
}

pub(super) async fn run(command: SecretCommand, tenancy: &Tenancy) -> anyhow::Result<()> {
    match command {
        SecretCommand::Add {
            slug,
            secret,
            expires_in,
            retire_others_in,
        } => {
            let secret = parse_secret(&secret)?;
            let expires_at = from_now(expires_in).context("--expires-in is too long")?;
            let retire_at = from_now(retire_others_in).context("--retire-others-in is too long")?;
            let id = tenancy
                .add_secret(&slug, &secret, expires_at, retire_at)
                .await?;
            match expires_at {
                Some(at) => println!("added signing secret {id} to {slug}, valid until {at}"),
                None => println!("added signing secret {id} to {slug}"),
            }
            if let Some(at) = retire_at {
                println!("the other signing secrets of {slug} stop verifying at {at}");
            }
        }
        SecretCommand::List { slug, format } => {
            let now = Utc::now();
            let secrets = tenancy.secrets(&slug).await?;
            let rows = secrets.iter().map(|s| SecretRow::at(s, now));
            output::print_rows::<SecretRow>(rows, format)?;
        }
        SecretCommand::Rotate {
            slug,
            secret,
            grace,
        } => {
            let secret = secret.as_deref().map(parse_secret).transpose()?;
            let grace = chrono::Duration::from_std(grace).context("--grace is too long")?;
            let (id, generated, retire_at) = tenancy.rotate_secret(&slug, secret, grace).await?;
            println!(
                "added signing secret {id} to {slug}; the previous ones verify until {}",
                retire_at
            );
            if let Some(secret) = generated {
                println!(
                    "signing secret (shown once, store it now): {}",
                    secret.expose_encoded()
                );
            }
        }
        SecretCommand::Revoke { slug, id } => {
            if !tenancy.revoke_secret(&slug, id).await? {
                anyhow::bail!("{slug} has no signing secret {id}");
            }
            println!("signing secret {id} of {slug} revoked");
        }
    }
    Ok(())
}

/// A line of `tenant secret list`: when the secret verifies, never the secret itself.
#[derive(Debug, Serialize)]
struct SecretRow {
    id: Uuid,
    /// Whether it verifies deliveries now, as the gateway decides it.
    active: bool,
    created_at: String,
    not_before: Option<String>,
    /// Null: it never expires.
    expires_at: Option<String>,
}

impl SecretRow {
    fn at(secret: &TenantSecret, now: DateTime<Utc>) -> Self {
        let rfc3339 = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339());
        Self {
            id: secret.id,
            active: hookgate_tenancy::is_secret_active(secret, now),
            created_at: secret.created_at.to_rfc3339(),
            not_before: rfc3339(secret.not_before),
            expires_at: rfc3339(secret.expires_at),
        }
    }
}

impl Row for SecretRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("active", 8),
        Column::left("created", 34),
        Column::last("expires"),
    ];

    fn cells(&self, line: &mut Line) {
        line.cell(self.id)
            .cell(self.active)
            .cell(&self.created_at)
            .cell(self.expires_at.as_deref().unwrap_or("never"));
    }
}
