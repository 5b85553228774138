//! `diego lrp ...` and `diego actual ...`

use std::time::Duration;

use clap::Subcommand;
use diego_model::{ActualLrp, ActualState, DesiredLrp, DesiredLrpUpdate, Presence};
use diego_sdk::ActualFilter;

use super::output::{json_line, read_json, table};
use super::{Cli, Format};

#[derive(Subcommand, Debug)]
pub enum LrpCmd {
    /// Desire an LRP from a JSON file (the original models' JSON), or - for stdin.
    Create {
        #[arg(short = 'f', long = "file")]
        file: String,
        /// Wait until every instance runs; exit 2 if one cannot be placed.
        #[arg(long)]
        wait: bool,
    },
    List {
        #[arg(long, default_value = "")]
        domain: String,
    },
    Get {
        guid: String,
    },
    Scale {
        guid: String,
        instances: i32,
    },
    /// Update instances, routes, annotation or metric tags from a JSON file.
    Update {
        guid: String,
        #[arg(short = 'f', long = "file")]
        file: String,
    },
    Delete {
        guid: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ActualCmd {
    List {
        #[arg(long, default_value = "")]
        process_guid: String,
        #[arg(long, default_value = "")]
        domain: String,
        #[arg(long, default_value = "")]
        cell: String,
    },
}

pub async fn run(cli: &Cli, cmd: &LrpCmd, fmt: Format) -> anyhow::Result<i32> {
    let client = cli.client().await?;
    match cmd {
        LrpCmd::Create { file, wait } => {
            let lrp: DesiredLrp = read_json(file)?;
            diego_model::validate::desired_lrp(&lrp)?;
            client.desire_lrp(lrp.clone()).await?;
            if fmt == Format::Table {
                println!(
                    "lrp {} desired with {} instances",
                    lrp.process_guid, lrp.instances
                );
            }
            if *wait {
                return wait_running(cli, &lrp.process_guid, lrp.instances, fmt).await;
            }
        }
        LrpCmd::List { domain } => {
            let lrps = client.desired_lrps(domain, vec![]).await?;
            match fmt {
                Format::Json => lrps.iter().for_each(json_line),
                Format::Table => table(
                    &["PROCESS GUID", "DOMAIN", "INSTANCES", "MEMORY MB", "ROOTFS"],
                    lrps.iter()
                        .map(|l| {
                            vec![
                                l.process_guid.clone(),
                                l.domain.clone(),
                                l.instances.to_string(),
                                l.memory_mb.to_string(),
                                l.root_fs.clone(),
                            ]
                        })
                        .collect(),
                ),
            }
        }
        LrpCmd::Get { guid } => {
            let l = client.desired_lrp(guid).await?;
            match fmt {
                Format::Json => json_line(&l),
                Format::Table => println!("{}", serde_json::to_string_pretty(&l)?),
            }
        }
        LrpCmd::Scale { guid, instances } => {
            let update = DesiredLrpUpdate {
                instances: Some(*instances),
                ..Default::default()
            };
            client.update_desired_lrp(guid, update).await?;
        }
        LrpCmd::Update { guid, file } => {
            let update: DesiredLrpUpdate = read_json(file)?;
            client.update_desired_lrp(guid, update).await?;
        }
        LrpCmd::Delete { guid } => client.remove_desired_lrp(guid).await?,
    }
    Ok(0)
}

async fn wait_running(cli: &Cli, guid: &str, instances: i32, fmt: Format) -> anyhow::Result<i32> {
    let client = cli.client().await?;
    loop {
        let f = ActualFilter {
            process_guid: guid.into(),
            ..Default::default()
        };
        let rows: Vec<ActualLrp> = client
            .actual_lrps(f)
            .await?
            .into_iter()
            .filter(|a| a.presence == Presence::Ordinary)
            .collect();
        if let Some(bad) = rows.iter().find(|a| !a.placement_error.is_empty()) {
            eprintln!(
                "instance {} cannot be placed: {}",
                bad.key.index, bad.placement_error
            );
            return Ok(2);
        }
        let running = rows
            .iter()
            .filter(|a| a.state == ActualState::Running)
            .count();
        if running as i32 >= instances {
            print_actuals(&rows, fmt);
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn run_actual(cli: &Cli, cmd: &ActualCmd, fmt: Format) -> anyhow::Result<i32> {
    let ActualCmd::List {
        process_guid,
        domain,
        cell,
    } = cmd;
    let f = ActualFilter {
        process_guid: process_guid.clone(),
        domain: domain.clone(),
        cell_id: cell.clone(),
        index: None,
    };
    let rows = cli.client().await?.actual_lrps(f).await?;
    print_actuals(&rows, fmt);
    Ok(0)
}

fn print_actuals(rows: &[ActualLrp], fmt: Format) {
    match fmt {
        Format::Json => rows.iter().for_each(json_line),
        Format::Table => table(
            &[
                "PROCESS GUID",
                "INDEX",
                "STATE",
                "PRESENCE",
                "CELL",
                "ADDRESS",
                "CRASHES",
                "PLACEMENT ERROR",
            ],
            rows.iter()
                .map(|a| {
                    let addr = a
                        .net_info
                        .ports
                        .first()
                        .map(|p| format!("{}:{}", a.net_info.address, p.host_port))
                        .unwrap_or_else(|| a.net_info.address.clone());
                    vec![
                        a.key.process_guid.clone(),
                        a.key.index.to_string(),
                        a.state.name().to_string(),
                        format!("{:?}", a.presence).to_uppercase(),
                        a.instance_key.cell_id.clone(),
                        addr,
                        a.crash_count.to_string(),
                        a.placement_error.clone(),
                    ]
                })
                .collect(),
        ),
    }
}
