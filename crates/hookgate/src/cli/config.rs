//! `hookgate config …`: the settings as hookgate reads them.

use clap::Subcommand;

use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the settings (files and `HOOKGATE__*` variables), then print the
    /// effective configuration as TOML with secrets redacted. Exits non-zero, naming the key, when
    /// a setting is invalid or unknown.
    Check,
}

/// By the time this runs the settings have loaded, so they are valid.
pub(super) fn run(command: ConfigCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check => {
            print!("{}", settings.effective_toml()?);
            eprintln!("settings are valid (HOOKGATE_ENV={})", settings.environment);
        }
    }
    Ok(())
}
