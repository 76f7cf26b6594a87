//! `hookgate tenant key …`: the API keys a tenant's applications call `/v1` with.

use clap::Subcommand;
use hookgate_store::{ApiKey, Uuid};
use hookgate_tenancy::{Tenancy, TenantSlug};
use serde::Serialize;

use super::output::{self, Column, Format, Line, Row};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a tenant API key for the tenant API (`/v1`); the key is shown once.
    Create {
        slug: TenantSlug,
        #[arg(long, default_value = "default")]
        name: String,
    },
    /// List a tenant's API keys (prefixes only).
    List {
        slug: TenantSlug,
        #[command(flatten)]
        format: Format,
    },
    /// Revoke a key: refused from the next request on.
    Revoke { slug: TenantSlug, id: Uuid },
}

pub(super) async fn run(command: KeyCommand, tenancy: &Tenancy) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { slug, name } => {
            let (key, secret) = tenancy.create_api_key(&slug, &name).await?;
            println!("created API key {} ({}) for {slug}", key.id, key.prefix);
            println!("API key (shown once, store it now): {}", secret.expose());
        }
        KeyCommand::List { slug, format } => {
            output::print_rows::<KeyRow>(tenancy.list_api_keys(&slug).await?, format)?;
        }
        KeyCommand::Revoke { slug, id } => {
            if !tenancy.revoke_api_key(&slug, id).await? {
                anyhow::bail!("{slug} has no live API key {id}");
            }
            println!("API key {id} of {slug} revoked");
        }
    }
    Ok(())
}

/// A line of `tenant key list`: the public prefix, never the key or its hash.
#[derive(Debug, Serialize)]
struct KeyRow {
    id: Uuid,
    prefix: String,
    name: String,
    /// `live` or `revoked`.
    state: &'static str,
    created_at: String,
    revoked_at: Option<String>,
}

impl From<ApiKey> for KeyRow {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            prefix: key.prefix,
            name: key.name,
            state: if key.revoked_at.is_some() {
                "revoked"
            } else {
                "live"
            },
            created_at: key.created_at.to_rfc3339(),
            revoked_at: key.revoked_at.map(|t| t.to_rfc3339()),
        }
    }
}

impl Row for KeyRow {
    const COLUMNS: &'static [Column] = &[
        Column::left("id", 38),
        Column::left("prefix", 18),
        Column::left("state", 10),
        Column::last("name"),
    ];

    fn cells(&self, line: &mut Line) {
        line.cell(self.id)
            .cell(&self.prefix)
            .cell(self.state)
            .cell(&self.name);
    }
}
