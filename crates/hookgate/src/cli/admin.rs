//! `hookgate admin …`: operator credentials for the admin API.

use clap::Subcommand;
use hookgate_tenancy::AdminTokens;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make a new admin token: prints the token (keep it secret) and the hash to add to
    /// `admin.token_hashes`.
    Token,
}

pub(super) fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
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
