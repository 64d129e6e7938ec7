use anyhow::Context;
use clap::{Parser, Subcommand};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use storefront::config::Settings;
use storefront::startup::Application;

/// An e-commerce backend built as an actor system.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file read instead of ./config.toml.
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP (what runs without a command).
    Serve,
    /// Load the demo catalogue; running it again adds nothing.
    Seed {
        /// How many products: the 288 hand-written ones first, then generated
        /// ones, the same on every run.
        #[arg(long, default_value_t = 288, value_name = "N")]
        products: usize,
    },
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
    let env: HashMap<String, String> = std::env::vars().collect();
    let settings = Settings::load(cli.config.as_deref(), &env).context("configuration")?;
    let _log_writer = storefront::telemetry::init(&settings.log);
    if let Some(Command::Seed { products }) = cli.command {
        storefront::files::create_private_dir(&settings.data_dir)
            .context("creating the data folder")?;
        let databases = storefront::system::open_database(&settings)
            .await
            .context("opening the database")?;
        let added = storefront::seed::seed(
            &*databases.catalogue,
            settings.catalogue.currency.as_str(),
            products,
        )
        .await
        .context("seeding the catalogue")?;
        println!("seeded {added} products");
        return Ok(());
    }
    let application = Application::build(settings)
        .await
        .context("starting storefront")?;
    application.run_until_stopped().await?;
    Ok(())
}
