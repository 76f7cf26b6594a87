//! `hookgate admin …`: operator credentials for the admin API, and the operator's notification
//! URL.

use clap::Subcommand;
use hookgate_http::TestRecipient;
use hookgate_tenancy::AdminTokens;

use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make a new admin token: prints the token (keep it secret) and the hash to add to
    /// `admin.token_hashes`.
    Token,
    /// The operator's notification URL (`notifications.url`), told about every tenant.
    #[command(subcommand)]
    Notifications(GlobalNotificationsCommand),
}

#[derive(Debug, Subcommand)]
pub enum GlobalNotificationsCommand {
    /// Send a signed `notification.test` to `notifications.url` and print its answer.
    Test,
}

pub(super) async fn run(command: AdminCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        AdminCommand::Notifications(GlobalNotificationsCommand::Test) => {
            let url = settings.notifications.url.trim();
            if url.is_empty() {
                anyhow::bail!("no global notification URL is configured (notifications.url)");
            }
            super::notifications::test(settings, TestRecipient::Global, url).await?;
        }
        AdminCommand::Token => {
            let (token, hash) = AdminTokens::generate()?;
            println!(
                "admin token (shown once, keep it secret): {}",
                token.expose()
            );
            println!("add its hash to admin.token_hashes: {hash}");
        }
    }
    Ok(())
}
