use clap::Parser as _;
use hookgate::cli::{self, Cli, Command, EventsCommand};
use hookgate::{Settings, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    hookgate_worker::install_tls_provider();
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
    let (subscriber, telemetry) =
        telemetry::subscriber(&settings.log, &settings.telemetry, std::io::stderr)?;
    telemetry::install(subscriber);
    let result = cli::run(cli, settings).await;
    // Export the spans still buffered; the exporter blocks, so off the async threads.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result
}
