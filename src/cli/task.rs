//! `diego task ...`

use std::time::Duration;

use clap::Subcommand;
use diego_model::{Task, TaskState};

use super::output::{json_line, read_json, table};
use super::{Cli, Format};

#[derive(Subcommand, Debug)]
pub enum TaskCmd {
    /// Desire a task from a JSON file (the original models' JSON), or - for stdin.
    Create {
        #[arg(short = 'f', long = "file")]
        file: String,
        /// Wait for it to complete; exit 2 if it could not be placed.
        #[arg(long)]
        wait: bool,
    },
    List {
        #[arg(long, default_value = "")]
        domain: String,
        #[arg(long, default_value = "")]
        cell: String,
    },
    Get {
        guid: String,
    },
    Cancel {
        guid: String,
    },
    /// Resolve and delete a completed task.
    Delete {
        guid: String,
    },
}

pub async fn run(cli: &Cli, cmd: &TaskCmd, fmt: Format) -> anyhow::Result<i32> {
    match cmd {
        TaskCmd::Create { file, wait } => {
            let task: Task = read_json(file)?;
            diego_model::validate::desire_task(&task.task_guid, &task.domain, &task.definition)?;
            let client = cli.client().await?;
            client
                .desire_task(&task.task_guid, &task.domain, task.definition.clone())
                .await?;
            if !wait {
                if fmt == Format::Table {
                    println!("task {} desired", task.task_guid);
                }
                return Ok(0);
            }
            wait_for(cli, &task.task_guid, fmt).await
        }
        TaskCmd::List { domain, cell } => {
            let tasks = cli.client().await?.tasks(domain, cell).await?;
            print_tasks(&tasks, fmt);
            Ok(0)
        }
        TaskCmd::Get { guid } => {
            let t = cli.client().await?.task(guid).await?;
            print_task_detail(&t, fmt);
            Ok(0)
        }
        TaskCmd::Cancel { guid } => {
            cli.client().await?.cancel_task(guid).await?;
            Ok(0)
        }
        TaskCmd::Delete { guid } => {
            let client = cli.client().await?;
            let t = client.task(guid).await?;
            if t.state == TaskState::Completed {
                client.resolving_task(guid).await?;
            }
            client.delete_task(guid).await?;
            Ok(0)
        }
    }
}

async fn wait_for(cli: &Cli, guid: &str, fmt: Format) -> anyhow::Result<i32> {
    let client = cli.client().await?;
    loop {
        let t = client.task(guid).await?;
        if matches!(t.state, TaskState::Completed | TaskState::Resolving) {
            print_task_detail(&t, fmt);
            // A task that failed because no cell would take it is "not placed".
            let unplaced = t.failed
                && !t.rejection_reason.is_empty()
                && t.failure_reason == t.rejection_reason;
            return Ok(if unplaced {
                2
            } else if t.failed {
                1
            } else {
                0
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn print_tasks(tasks: &[Task], fmt: Format) {
    match fmt {
        Format::Json => tasks.iter().for_each(json_line),
        Format::Table => table(
            &["TASK GUID", "DOMAIN", "STATE", "CELL", "FAILED", "REASON"],
            tasks
                .iter()
                .map(|t| {
                    vec![
                        t.task_guid.clone(),
                        t.domain.clone(),
                        t.state.name().to_string(),
                        t.cell_id.clone(),
                        t.failed.to_string(),
                        t.failure_reason.clone(),
                    ]
                })
                .collect(),
        ),
    }
}

fn print_task_detail(t: &Task, fmt: Format) {
    match fmt {
        Format::Json => json_line(t),
        Format::Table => {
            println!("task_guid:      {}", t.task_guid);
            println!("domain:         {}", t.domain);
            println!("state:          {}", t.state.name());
            if !t.cell_id.is_empty() {
                println!("cell_id:        {}", t.cell_id);
            }
            println!("failed:         {}", t.failed);
            if !t.failure_reason.is_empty() {
                println!("failure_reason: {}", t.failure_reason);
            }
            if t.rejection_count > 0 {
                println!(
                    "rejections:     {} ({})",
                    t.rejection_count, t.rejection_reason
                );
            }
            println!("result:         {}", t.result.trim_end());
        }
    }
}
