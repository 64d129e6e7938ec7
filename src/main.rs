use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;

use storefront::config::Settings;
use storefront::startup::Application;

/// An e-commerce backend built as an actor system.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file read instead of ./config.toml.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref()).context("configuration")?;
    storefront::telemetry::init(&settings.log);
    let application = Application::build(settings)
        .await
        .context("starting storefront")?;
    application.run_until_stopped().await?;
    Ok(())
}
