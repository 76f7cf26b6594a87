use clap::Parser as _;
use hookgate::cli::{self, Cli};
use hookgate::{Settings, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    telemetry::install(telemetry::subscriber(
        &settings.log.level,
        settings.log.format,
        std::io::stderr,
    )?);
    cli::run(cli, settings).await
}
