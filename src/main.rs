use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` prints the whole cause chain on one line.
            eprintln!("storefront: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref()).context("configuration")?;
    storefront::telemetry::init(&settings.log);
    let application = Application::build(settings)
        .await
        .context("starting storefront")?;
    application.run_until_stopped().await?;
    Ok(())
}
