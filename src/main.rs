//! `diego`: every role (`up`, `bbs`, ...) and the client CLI in one binary.
//! Thin by design (architecture invariant 6): parse arguments, start
//! tracing, wire the libraries.

mod cli;
mod roles;
mod telemetry;

use clap::Parser;

#[tokio::main]
async fn main() {
    let args = cli::Cli::parse();
    let code = match cli::run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    telemetry::shutdown();
    std::process::exit(code);
}
