//! `harness PLUGIN.wasm SCENARIO...`: replay scenario files against one plugin loaded into the
//! real host core in-process, print what differs, exit non-zero on any failure.
//!
//! A directory given as a scenario stands for every `*.toml` in it. Exit status: 0 all passed,
//! 1 a scenario or conformance check failed, 2 bad usage.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// Replay scenario files against one backup-gateway plugin, in-process.
#[derive(Debug, Parser)]
#[command(name = "harness", version)]
struct Cli {
    /// The plugin component (`target/wasm32-wasip2/plugin/NAME.wasm`).
    plugin: PathBuf,
    /// Scenario files (TOML), or directories of them.
    #[arg(required = true)]
    scenarios: Vec<PathBuf>,
    /// Conformance mode: every response (and every render-problem probe) judged by the
    /// plugin's OpenAPI document, or without one kept in its declared error format; every
    /// manifest route hit by a step; manifest and OpenAPI document in agreement.
    #[arg(long)]
    strict: bool,
    /// Run every step even after one failed.
    #[arg(long)]
    keep_going: bool,
    /// Print every step, not only failures.
    #[arg(short, long)]
    verbose: bool,
    /// Compiled-plugin cache directory.
    #[arg(long, env = "HARNESS_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Longest wait for `wait_jobs` steps, in seconds.
    #[arg(long, default_value_t = 30)]
    job_timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut scenarios = Vec::new();
    for path in &cli.scenarios {
        if path.is_dir() {
            match harness::scenarios_in(path) {
                Ok(found) if !found.is_empty() => scenarios.extend(found),
                Ok(_) => {
                    eprintln!("harness: {} holds no *.toml scenario", path.display());
                    return ExitCode::from(2);
                }
                Err(e) => {
                    eprintln!("harness: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
        } else {
            scenarios.push(path.clone());
        }
    }
    if !cli.plugin.is_file() {
        eprintln!(
            "harness: {} is not a file (build it: cargo build --profile plugin --target wasm32-wasip2 -p NAME)",
            cli.plugin.display()
        );
        return ExitCode::from(2);
    }
    let options = harness::Options {
        strict: cli.strict,
        cache_dir: cli.cache_dir,
        job_timeout: Duration::from_secs(cli.job_timeout),
        keep_going: cli.keep_going,
        ..harness::Options::default()
    };
    let suite = harness::run_suite(&cli.plugin, &scenarios, &options);
    if cli.verbose {
        for r in &suite.reports {
            println!("{}", r.title);
            for s in &r.steps {
                println!(
                    "  {} {:>3} {:<40} {:<50} {:>7.1} ms",
                    if s.passed() { "ok  " } else { "FAIL" },
                    s.index,
                    s.label,
                    s.request.as_deref().unwrap_or("-"),
                    s.duration.as_secs_f64() * 1000.0
                );
            }
        }
    }
    print!("{suite}");
    if suite.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
