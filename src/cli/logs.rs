//! `diego logs GUID [-f]`: the output of a task or of every instance of an
//! LRP, read from the reps of the cells running them.

use clap::Args;
use diego_model::{Presence, TaskState};
use diego_proto::rep::v1 as pb;
use diego_proto::rep::v1::rep_client::RepClient;
use diego_sdk::ActualFilter;
use futures::StreamExt;

use super::Cli;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// A task guid, or a process guid (every instance).
    pub guid: String,
    /// Keep following new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

pub async fn run(cli: &Cli, a: &LogsArgs) -> anyhow::Result<i32> {
    let client = cli.client().await?;
    let cells = client.cells().await?;
    // (label, container guid, cell id) of everything to read.
    let mut targets = Vec::new();
    if let Ok(t) = client.task(&a.guid).await {
        if t.state != TaskState::Running {
            anyhow::bail!(
                "task {} is {}; logs are kept while it runs",
                a.guid,
                t.state.name()
            );
        }
        targets.push((a.guid.clone(), a.guid.clone(), t.cell_id));
    } else {
        let f = ActualFilter {
            process_guid: a.guid.clone(),
            ..Default::default()
        };
        for row in client.actual_lrps(f).await? {
            if row.presence == Presence::Ordinary && !row.instance_key.instance_guid.is_empty() {
                let label = format!("{}/{}", row.key.process_guid, row.key.index);
                targets.push((
                    label,
                    row.instance_key.instance_guid,
                    row.instance_key.cell_id,
                ));
            }
        }
    }
    if targets.is_empty() {
        anyhow::bail!("nothing named {} is running", a.guid);
    }
    let mut streams = Vec::new();
    for (label, guid, cell_id) in targets {
        let Some(cell) = cells.iter().find(|c| c.cell_id == cell_id) else {
            eprintln!("{label}: cell {cell_id} is not reachable");
            continue;
        };
        let mut rep = RepClient::connect(cell.rep_url.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the rep of {cell_id}: {e}"))?;
        let req = pb::LogsRequest {
            guid,
            follow: a.follow,
        };
        let stream = rep
            .logs(req)
            .await
            .map_err(|e| anyhow::anyhow!("{label}: {}", e.message()))?
            .into_inner();
        streams.push(stream.map(move |l| (label.clone(), l)));
    }
    let mut all = futures::stream::select_all(streams);
    while let Some((label, line)) = all.next().await {
        match line {
            Ok(l) => println!("[{label} {}/{}] {}", l.source, l.stream, l.line),
            Err(e) => eprintln!("{label}: {}", e.message()),
        }
    }
    Ok(0)
}
