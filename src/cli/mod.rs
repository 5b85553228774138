//! The command line contract of `design/cli.md`.

mod certs;
mod logs;
mod lrp;
mod misc;
mod output;
mod plugin;
mod push;
mod task;

use clap::{Parser, Subcommand};
use diego_sdk::{Client, TlsFiles};

pub use output::Format;

#[derive(Parser, Debug)]
#[command(
    name = "diego",
    version,
    about = "diego-rs: a scheduler for tasks and long-running processes"
)]
pub struct Cli {
    /// The BBS gRPC endpoint.
    #[arg(
        long,
        global = true,
        env = "DIEGO_API",
        default_value = "http://127.0.0.1:8889"
    )]
    pub api: String,
    #[arg(long, global = true, env = "DIEGO_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    #[arg(long, global = true, env = "DIEGO_CERT_FILE")]
    pub cert_file: Option<std::path::PathBuf>,
    #[arg(long, global = true, env = "DIEGO_KEY_FILE")]
    pub key_file: Option<std::path::PathBuf>,
    /// Output: table (default on a terminal) or json (one object per line).
    #[arg(short = 'o', long, global = true, value_enum)]
    pub output: Option<Format>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Every role in one process on the embedded store.
    Up(crate::roles::up::UpArgs),
    /// The control plane alone (BBS API, auctioneer, converger).
    Bbs(crate::roles::bbs::BbsArgs),
    /// One cell reporting to a BBS.
    Cell(crate::roles::cell::CellArgs),
    /// The auctioneer alone, for BBS replicas with `--auctioneer remote` (etcd).
    Auctioneer(crate::roles::auctioneer::AuctioneerArgs),
    /// The compatibility gateway (original BBS HTTP API) in front of a BBS.
    Gateway(crate::roles::gateway::GatewayArgs),
    /// Certificates for mutual TLS.
    #[command(subcommand)]
    Certs(certs::CertsCmd),
    /// Tasks: create, list, get, cancel, delete.
    #[command(subcommand)]
    Task(task::TaskCmd),
    /// Desired LRPs: create, list, get, scale, update, delete.
    #[command(subcommand)]
    Lrp(lrp::LrpCmd),
    /// Actual LRP instances.
    #[command(subcommand)]
    Actual(lrp::ActualCmd),
    /// The live cells.
    Cells,
    /// The fresh domains.
    Domains,
    /// Domain management.
    #[command(subcommand)]
    Domain(misc::DomainCmd),
    /// The output of a task or of an LRP's instances.
    Logs(logs::LogsArgs),
    /// Stream events; resume with --since.
    Events(misc::EventsArgs),
    /// Stage an app directory with the builder and run it as an LRP.
    Push(push::PushArgs),
    /// Placement scorer plugins: build one, test it against a cell snapshot.
    #[command(subcommand)]
    Plugin(plugin::PluginCmd),
    /// Why work was placed where it was (or not at all).
    #[command(subcommand)]
    Why(misc::WhyCmd),
    /// Is the BBS up?
    Ping,
    /// The version of this binary.
    Version,
}

impl Cli {
    pub fn format(&self) -> Format {
        self.output.unwrap_or_else(Format::default_for_stdout)
    }

    pub async fn client(&self) -> anyhow::Result<Client> {
        let read = |p: &Option<std::path::PathBuf>| -> anyhow::Result<Option<Vec<u8>>> {
            match p {
                Some(p) => {
                    Ok(Some(std::fs::read(p).map_err(|e| {
                        anyhow::anyhow!("cannot read {}: {e}", p.display())
                    })?))
                }
                None => Ok(None),
            }
        };
        // With all three files, check them first: an expired certificate or
        // one from another CA is named here rather than as a refused handshake.
        if let (Some(ca), Some(cert), Some(key)) = (&self.ca_file, &self.cert_file, &self.key_file)
        {
            diego_tls::TlsMaterial::load(&diego_tls::TlsPaths::new(ca, cert, key))?;
        }
        let tls = if self.api.starts_with("https://") {
            Some(TlsFiles {
                ca_pem: read(&self.ca_file)?,
                cert_pem: read(&self.cert_file)?,
                key_pem: read(&self.key_file)?,
            })
        } else {
            None
        };
        Ok(Client::connect(&self.api, tls).await?)
    }
}

/// Runs the command; returns the exit code (0 ok, 1 error, 2 unplaceable).
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let fmt = cli.format();
    match &cli.command {
        Command::Up(a) => crate::roles::up::run(a.clone()).await,
        Command::Bbs(a) => crate::roles::bbs::run(a.clone()).await,
        Command::Cell(a) => crate::roles::cell::run(a.clone()).await,
        Command::Auctioneer(a) => crate::roles::auctioneer::run(a.clone()).await,
        Command::Gateway(a) => crate::roles::gateway::run(a.clone()).await,
        Command::Certs(c) => certs::run(c),
        Command::Task(c) => task::run(&cli, c, fmt).await,
        Command::Lrp(c) => lrp::run(&cli, c, fmt).await,
        Command::Actual(c) => lrp::run_actual(&cli, c, fmt).await,
        Command::Cells => misc::cells(&cli, fmt).await,
        Command::Domains => misc::domains(&cli, fmt).await,
        Command::Domain(c) => misc::domain(&cli, c).await,
        Command::Events(a) => misc::events(&cli, a, fmt).await,
        Command::Logs(a) => logs::run(&cli, a).await,
        Command::Why(c) => misc::why(&cli, c).await,
        Command::Plugin(c) => plugin::run(c),
        Command::Push(a) => push::run(&cli, a).await,
        Command::Ping => misc::ping(&cli).await,
        Command::Version => {
            println!("diego {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}
