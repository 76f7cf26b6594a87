use clap::Parser as _;
use hookgate::cli::{self, Cli, Command, EventsCommand};
use hookgate::{Settings, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Inspecting an event and printing the OpenAPI document need neither settings nor logs.
    match cli.command {
        Command::Events(command @ EventsCommand::Inspect { .. }) => {
            return cli::events(command, None).await;
        }
        Command::Openapi => {
            print!("{}", hookgate_http::openapi_document());
            return Ok(());
        }
        _ => {}
    }
    let settings = Settings::load()?;
    telemetry::install(telemetry::subscriber(
        &settings.log.level,
        settings.log.format,
        std::io::stderr,
    )?);
    cli::run(cli, settings).await
}
