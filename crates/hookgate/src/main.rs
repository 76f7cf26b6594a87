use clap::Parser as _;
use hookgate::cli::{self, Cli, Command, EventsCommand};
use hookgate::{Settings, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Inspecting an event needs neither settings nor logs.
    if let Command::Events(command @ EventsCommand::Inspect { .. }) = cli.command {
        return cli::events(command, None).await;
    }
    let settings = Settings::load()?;
    telemetry::install(telemetry::subscriber(
        &settings.log.level,
        settings.log.format,
        std::io::stderr,
    )?);
    cli::run(cli, settings).await
}
