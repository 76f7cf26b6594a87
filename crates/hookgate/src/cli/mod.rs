//! The command line: `hookgate serve`, `hookgate migrate` and tenant management. Each command
//! group has a module of its own: its arguments first, then what it does; listings print through
//! [`output`].

mod admin;
mod common;
mod config;
mod destination;
mod events;
mod jobs;
mod key;
mod notifications;
mod output;
mod secret;
mod secrets;
mod tenant;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::inspect;
use crate::settings::Settings;
use crate::startup::{self, Application, Role};

pub use admin::AdminCommand;
pub use config::ConfigCommand;
pub use destination::DestinationCommand;
pub use events::{EventFilterArgs, EventsCommand};
pub use key::KeyCommand;
pub use notifications::NotificationsCommand;
pub use output::Format;
pub use secret::SecretCommand;
pub use secrets::SecretsCommand;
pub use tenant::TenantCommand;

#[derive(Debug, Parser)]
#[command(
    name = "hookgate",
    version,
    about = "A multi-tenant gateway for Clerk webhooks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve {
        /// `api` takes deliveries, `worker` applies them, `all` does both.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants (one per Clerk application).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Look at and manage stored Clerk events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Operator credentials.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Print the OpenAPI document of the HTTP APIs.
    Openapi,
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the key that encrypts stored secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { role } => {
            let app = Application::build(&settings, role).await?;
            app.run_until_stopped(startup::shutdown_signal()).await
        }
        Command::Migrate => {
            common::with_store(&settings, async |store| {
                store
                    .migrate()
                    .await
                    .context("applying database migrations")?;
                println!("database schema is up to date");
                Ok(())
            })
            .await
        }
        Command::Tenant(command) => tenant::run(command, &settings).await,
        Command::Secrets(command) => secrets::run(command, &settings).await,
        Command::Events(command) => events(command, Some(&settings)).await,
        Command::Openapi => {
            print!("{}", hookgate_http::openapi_document());
            Ok(())
        }
        Command::Config(command) => config::run(command, &settings),
        Command::Admin(command) => admin::run(command, &settings).await,
    }
}

/// `hookgate events …`. `events inspect` reads one body and needs no settings (nor a database),
/// so `settings` may be absent for it.
pub async fn events(command: EventsCommand, settings: Option<&Settings>) -> anyhow::Result<()> {
    if let EventsCommand::Inspect { file } = &command {
        println!("{}", inspect::inspect(file)?);
        return Ok(());
    }
    let settings = settings.context("settings are needed for this command")?;
    common::with_store(settings, async |store| events::run(command, store).await).await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_commands_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_clerk_key_given_as_an_argument_is_never_debug_printed() {
        let key = "sk_test_neverprintedanywhere0123456789";
        let cli = Cli::try_parse_from([
            "hookgate",
            "tenant",
            "clerk-key",
            "set",
            "acme",
            "--key",
            key,
        ])
        .unwrap();
        let printed = format!("{cli:?}");
        assert!(!printed.contains("neverprinted"), "{printed}");
        assert!(printed.contains("acme"), "{printed}");
    }

    #[test]
    fn slugs_are_validated_by_the_parser() {
        assert!(Cli::try_parse_from(["hookgate", "tenant", "create", "Bad_Slug"]).is_err());
        assert!(Cli::try_parse_from(["hookgate", "tenant", "create", "acme"]).is_ok());
    }

    #[test]
    fn every_listing_takes_json() {
        let parses = |args: &[&str]| Cli::try_parse_from([&["hookgate"], args].concat()).is_ok();
        let id = "01a2312d-e1f7-73b2-9d67-9c4ee339c59d";
        for listing in [
            &["tenant", "list"][..],
            &["tenant", "secret", "list", "acme"],
            &["tenant", "key", "list", "acme"],
            &["tenant", "destination", "list", "acme"],
            &["tenant", "destination", "deliveries", "acme", id],
            &["events", "list", "--tenant", "acme"],
            &["events", "stats", "--tenant", "acme"],
            &["tenant", "jobs", "acme"],
        ] {
            assert!(parses(listing), "{listing:?}");
            assert!(parses(&[listing, &["--json"]].concat()), "{listing:?}");
        }
    }
}
