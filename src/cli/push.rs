//! `diego push DIR [--instances N] [--name NAME]`: stage an app with the builder lifecycle
//! (a Task on the wasm stack), launch it with the launcher lifecycle and run it as an LRP
//! (ADR 0011; the steps are in `diego-staging`). Pushing an app that runs already starts the
//! new version beside the old one and removes the old one once the new one runs.

use std::path::PathBuf;

use clap::Args;
use diego_staging::{Lifecycles, PushError, PushOptions};

use super::Cli;

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The app's directory: a static site (index.html), a Procfile app, or one .wasm component.
    pub dir: PathBuf,
    /// Instances to run; by default as many as the running version has, or 1.
    #[arg(long)]
    pub instances: Option<i32>,
    /// The app's name (and process guid); defaults to the directory's name.
    #[arg(long)]
    pub name: Option<String>,
    /// The file server, as this client and the cells reach it.
    #[arg(
        long,
        env = "DIEGO_FILESERVER",
        default_value = "http://127.0.0.1:8891"
    )]
    pub fileserver: String,
    /// Where the built lifecycle components are (diego-builder-task.wasm, diego_launcher.wasm);
    /// defaults to $CARGO_TARGET_DIR/wasm-guests/wasm32-wasip2/release, else target/wasm-guests/...
    #[arg(long, env = "DIEGO_LIFECYCLES_DIR")]
    pub lifecycles_dir: Option<PathBuf>,
    /// Memory per instance in MB.
    #[arg(long, default_value_t = 64)]
    pub memory_mb: i32,
    /// Desire the LRP and return without waiting for the instances to run.
    #[arg(long)]
    pub no_wait: bool,
}

fn lifecycles_dir(a: &PushArgs) -> PathBuf {
    if let Some(dir) = &a.lifecycles_dir {
        return dir.clone();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("wasm-guests/wasm32-wasip2/release")
}

pub async fn run(cli: &Cli, a: &PushArgs) -> anyhow::Result<i32> {
    let name = match &a.name {
        Some(n) => n.clone(),
        None => std::fs::canonicalize(&a.dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| {
                anyhow::anyhow!("cannot name the app after {}: pass --name", a.dir.display())
            })?,
    };
    let lifecycles = Lifecycles::load(&lifecycles_dir(a))?;
    let client = cli.client().await?;
    let mut options = PushOptions::new(&name, &a.fileserver);
    options.instances = a.instances;
    options.memory_mb = a.memory_mb;
    let mut progress = |line: &str| println!("{line}");
    let pushed =
        match diego_staging::push(&client, &options, &lifecycles, &a.dir, &mut progress).await {
            Ok(p) => p,
            Err(e @ (PushError::Staging(_) | PushError::StagingTask(_))) => {
                eprintln!("error: {e}");
                return Ok(1);
            }
            Err(e) => return Err(e.into()),
        };
    let guid = &pushed.process_guid;
    if pushed.unchanged {
        println!(
            "{guid} already runs droplet {} ({} instances)",
            pushed.staged.droplet, pushed.instances
        );
    } else {
        println!("desired lrp {guid} ({} instances)", pushed.instances);
    }
    if a.no_wait {
        println!("watch it with `diego actual list`");
        for old in &pushed.replaces {
            println!(
                "{old} keeps running: delete it with `diego lrp delete {old}` once {guid} runs"
            );
        }
        return Ok(0);
    }
    let running = diego_staging::wait_running(
        &client,
        guid,
        usize::try_from(pushed.instances).unwrap_or(1),
        options.start_timeout_ms + options.stage_timeout_ms,
    )
    .await?;
    // the new version serves: the old ones can go
    diego_staging::retire(&client, &pushed.replaces).await?;
    for old in &pushed.replaces {
        println!("removed the previous version {old}");
    }
    let mut running = running;
    running.sort_by_key(|r| r.key.index);
    for r in running {
        match r.net_info.ports.first() {
            Some(p) => println!(
                "{guid}/{}: curl http://{}:{}/",
                r.key.index, r.net_info.address, p.host_port
            ),
            None => println!("{guid}/{}: running (no port)", r.key.index),
        }
    }
    println!(
        "droplet {} ({} app); delete with `diego lrp delete {guid}`",
        pushed.staged.droplet,
        pushed.staged.result.kind.name()
    );
    Ok(0)
}
