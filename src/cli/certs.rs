//! `diego certs init`: a CA and the component certificates for mutual TLS.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum CertsCmd {
    /// Write ca.pem/ca-key.pem and <component>.pem/<component>-key.pem for
    /// bbs, gateway (RSA, for the Go client), auctioneer, cell and client.
    Init(InitArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[arg(long, default_value = "certs")]
    pub dir: PathBuf,
    /// Extra host names or IP addresses for every certificate, comma
    /// separated (127.0.0.1, ::1 and localhost are always in).
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// Validity in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Replace an existing CA (every certificate it signed stops being trusted).
    #[arg(long)]
    pub force: bool,
}

pub fn run(c: &CertsCmd) -> anyhow::Result<i32> {
    match c {
        CertsCmd::Init(a) => {
            let hosts: Vec<String> = a
                .hosts
                .iter()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .collect();
            let files = diego_tls::init_dir(&diego_tls::InitOptions {
                dir: a.dir.clone(),
                extra_hosts: hosts,
                days: a.days,
                force: a.force,
            })?;
            for f in files {
                println!("wrote {}", f.display());
            }
            Ok(0)
        }
    }
}
