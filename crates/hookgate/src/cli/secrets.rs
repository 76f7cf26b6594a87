//! `hookgate secrets …`: the key that encrypts stored secrets (`secrets.key`).

use anyhow::Context as _;
use clap::Subcommand;

use super::common;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret (tenants' signing secrets, destinations' secrets) under
    /// `secrets.key`, decrypting with it or any of `secrets.previous_keys`. All or nothing. Run it
    /// after deploying a new key with the old one in `previous_keys`; then drop `previous_keys`.
    Rekey,
}

pub(super) async fn run(command: SecretsCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        SecretsCommand::Rekey => {
            common::with_store(settings, async |store| {
                let rekeyed = common::tenancy(store, settings)?
                    .rekey()
                    .await
                    .context("re-encrypting the stored secrets (nothing was changed)")?;
                println!(
                    "{rekeyed} stored secrets re-encrypted under secrets.key; secrets.previous_keys can now be removed"
                );
                Ok(())
            })
            .await
        }
    }
}
