//! The `backup-gateway` binary: parse arguments, start tracing, call the library.

use std::path::PathBuf;

use backup_gateway::config::{Config, Overrides};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Backup APIs of several providers, served through WebAssembly plugins"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configured plugins.
    Serve {
        /// Configuration file (TOML); see examples/gateway.toml.
        #[arg(long, short, env = "BACKUP_GATEWAY_CONFIG")]
        config: Option<PathBuf>,
        /// Listen address, e.g. 127.0.0.1:8080.
        #[arg(long, env = "BACKUP_GATEWAY_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (database, objects, compiled-plugin cache).
        #[arg(long, env = "BACKUP_GATEWAY_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Directory of plugin components (*.wasm).
        #[arg(long, env = "BACKUP_GATEWAY_PLUGINS_DIR")]
        plugins_dir: Option<PathBuf>,
        /// Database URL (sqlite://… or postgres://…).
        #[arg(long, env = "BACKUP_GATEWAY_DATABASE_URL")]
        database_url: Option<String>,
        /// Object storage URL (file://… or memory://).
        #[arg(long, env = "BACKUP_GATEWAY_STORAGE_URL")]
        storage_url: Option<String>,
    },
    /// Load one plugin, validate its manifest and print its routes.
    Check {
        /// The component (*.wasm).
        plugin: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            plugins_dir,
            database_url,
            storage_url,
        } => {
            let overrides = Overrides {
                listen,
                data_dir,
                plugins_dir,
                database_url,
                storage_url,
            };
            let config = Config::load(config.as_deref(), &overrides)?;
            backup_gateway::gateway::serve(config).await
        }
        // The probes call the plugin, which blocks: off the async threads, as every call is.
        Command::Check { plugin } => {
            tokio::task::spawn_blocking(move || backup_gateway::plugins::check(&plugin)).await?
        }
    }
}
