//! cells, domains, events, why, ping.

use clap::{Args, Subcommand};
use diego_sdk::WatchOptions;
use futures::StreamExt;

use super::output::{json_line, table};
use super::{Cli, Format};

#[derive(Subcommand, Debug)]
pub enum DomainCmd {
    /// Mark a domain fresh for --ttl seconds (0 = forever).
    Set {
        name: String,
        #[arg(long, default_value_t = 0)]
        ttl: u32,
    },
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Resume after this revision (0 = only new events).
    #[arg(long, default_value_t = 0)]
    pub since: u64,
    /// With --since: the last position of that revision already seen (a
    /// revision can hold many events; `--output json` prints positions).
    #[arg(long, requires = "since")]
    pub since_position: Option<u32>,
    #[arg(long, default_value = "")]
    pub process_guid: String,
    #[arg(long, default_value = "")]
    pub cell: String,
    /// Only these kinds: task, desired_lrp, actual_lrp (repeatable).
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum WhyCmd {
    Task { guid: String },
    Lrp { guid: String, index: Option<i32> },
}

pub async fn cells(cli: &Cli, fmt: Format) -> anyhow::Result<i32> {
    let cells = cli.client().await?.cells().await?;
    match fmt {
        Format::Json => cells.iter().for_each(json_line),
        Format::Table => table(
            &["CELL", "ZONE", "MEMORY MB", "DISK MB", "CONTAINERS", "REP"],
            cells
                .iter()
                .map(|c| {
                    vec![
                        c.cell_id.clone(),
                        c.zone.clone(),
                        c.capacity.memory_mb.to_string(),
                        c.capacity.disk_mb.to_string(),
                        c.capacity.containers.to_string(),
                        c.rep_url.clone(),
                    ]
                })
                .collect(),
        ),
    }
    Ok(0)
}

pub async fn domains(cli: &Cli, fmt: Format) -> anyhow::Result<i32> {
    let domains = cli.client().await?.domains().await?;
    for d in domains {
        match fmt {
            Format::Json => json_line(&serde_json::json!({ "domain": d })),
            Format::Table => println!("{d}"),
        }
    }
    Ok(0)
}

pub async fn domain(cli: &Cli, cmd: &DomainCmd) -> anyhow::Result<i32> {
    let DomainCmd::Set { name, ttl } = cmd;
    cli.client().await?.upsert_domain(name, *ttl).await?;
    Ok(0)
}

pub async fn events(cli: &Cli, a: &EventsArgs, fmt: Format) -> anyhow::Result<i32> {
    let opts = WatchOptions {
        kinds: a.kinds.clone(),
        process_guid: a.process_guid.clone(),
        cell_id: a.cell.clone(),
        since_revision: a.since,
        since_position: a.since_position,
    };
    let mut stream = Box::pin(cli.client().await?.watch(opts).await?);
    while let Some(item) = stream.next().await {
        let ev = item?;
        match fmt {
            Format::Json => {
                let mut v = serde_json::to_value(&ev.event)?;
                v["revision"] = ev.revision.into();
                v["position"] = ev.position.into();
                json_line(&v);
            }
            Format::Table => println!(
                "{:>8}  {}  {}",
                ev.revision,
                ev.event.kind(),
                summary(&ev.event)
            ),
        }
    }
    Ok(0)
}

fn summary(e: &diego_model::Event) -> String {
    use diego_model::Event::*;
    match e {
        TaskCreated { task } | TaskRemoved { task } => {
            format!("{} {}", task.task_guid, task.state.name())
        }
        TaskChanged { before, after } => {
            format!(
                "{} {} -> {}",
                after.task_guid,
                before.state.name(),
                after.state.name()
            )
        }
        DesiredLrpCreated { desired_lrp } | DesiredLrpRemoved { desired_lrp } => {
            format!(
                "{} instances={}",
                desired_lrp.process_guid, desired_lrp.instances
            )
        }
        DesiredLrpChanged { after, .. } => {
            format!("{} instances={}", after.process_guid, after.instances)
        }
        ActualLrpCreated { actual_lrp } | ActualLrpRemoved { actual_lrp } => format!(
            "{}/{} {} {}",
            actual_lrp.key.process_guid,
            actual_lrp.key.index,
            actual_lrp.state.name(),
            actual_lrp.instance_key.cell_id
        ),
        ActualLrpChanged { before, after } => format!(
            "{}/{} {} -> {} {}",
            after.key.process_guid,
            after.key.index,
            before.state.name(),
            after.state.name(),
            after.instance_key.cell_id
        ),
        ActualLrpCrashed {
            actual_lrp,
            crash_count,
            crash_reason,
            ..
        } => format!(
            "{}/{} crash #{crash_count}: {crash_reason}",
            actual_lrp.key.process_guid, actual_lrp.key.index
        ),
    }
}

pub async fn why(cli: &Cli, cmd: &WhyCmd) -> anyhow::Result<i32> {
    let client = cli.client().await?;
    let decisions = match cmd {
        WhyCmd::Task { guid } => client.placement_decisions("task", guid, None).await?,
        WhyCmd::Lrp { guid, index } => client.placement_decisions("lrp", guid, *index).await?,
    };
    if decisions.is_empty() {
        eprintln!("no placement decision recorded for that work");
        return Ok(1);
    }
    for (_work, summary, lines) in decisions {
        println!("{summary}");
        for l in lines {
            println!("  {l}");
        }
    }
    Ok(0)
}

pub async fn ping(cli: &Cli) -> anyhow::Result<i32> {
    let ok = cli.client().await?.ping().await?;
    println!("{}", if ok { "available" } else { "unavailable" });
    Ok(if ok { 0 } else { 1 })
}
