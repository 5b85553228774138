//! Task completion callbacks (spec §4.1, wire §1.11): when a task with a
//! `completion_callback_url` completes, the BBS resolves it, POSTs the JSON
//! `TaskCallbackResponse` and deletes it.
//!
//! The worker follows the change log (it sees every completion, whoever
//! caused it) and convergence hands it tasks that stayed Completed past the
//! kick duration (a lost delivery, a failover), so a callback is retried
//! until delivered. Delivery rules are the original's: up to 3 attempts;
//! 503 and 504 and timeouts or dropped connections are retried; any other
//! status, 4xx and 5xx included, counts as delivered and deletes the task;
//! other transport errors give up (convergence kicks the task again later).

use std::sync::Arc;
use std::time::Duration;

use diego_model::{Event, Task, TaskState};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::events::WatchFilter;
use crate::Bbs;

#[derive(Debug, Clone)]
pub struct CallbackConfig {
    /// POST attempts per delivery (Diego: 3).
    pub attempts: u32,
    /// HTTP timeout per attempt (Diego: communication_timeout, 10 s).
    pub timeout_ms: u64,
    /// Deliveries in flight at once (Diego: task_callback_workers, 1000).
    pub workers: usize,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        CallbackConfig {
            attempts: 3,
            timeout_ms: 10_000,
            workers: 1000,
        }
    }
}

/// The JSON body, field names as the original's `TaskCallbackResponse`.
#[derive(Debug, Serialize)]
struct TaskCallbackResponse<'a> {
    task_guid: &'a str,
    failed: bool,
    failure_reason: &'a str,
    result: &'a str,
    annotation: &'a str,
    created_at: i64,
}

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The URL answered (any status but 503/504); the task is deleted.
    Delivered { status: u16 },
    /// Every attempt got 503/504 or timed out; the task stays Resolving.
    GaveUp { reason: String },
    /// Someone else resolved it first, or it is gone.
    NotOurs,
}

/// Hands kicked task guids to a running worker.
#[derive(Clone)]
pub struct CallbackKicks(mpsc::UnboundedSender<String>);

impl CallbackKicks {
    pub fn kick(&self, guids: impl IntoIterator<Item = String>) {
        for g in guids {
            let _ = self.0.send(g);
        }
    }
}

#[derive(Clone)]
struct Deliverer {
    bbs: Bbs,
    http: reqwest::Client,
    cfg: CallbackConfig,
    slots: Arc<Semaphore>,
}

/// Starts the worker; returns its handle and the channel convergence kicks
/// tasks through.
pub fn spawn_callback_worker(bbs: Bbs, cfg: CallbackConfig) -> (JoinHandle<()>, CallbackKicks) {
    let (tx, mut kicked) = mpsc::unbounded_channel::<String>();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(cfg.timeout_ms))
        .build()
        .unwrap_or_default();
    let d = Deliverer {
        slots: Arc::new(Semaphore::new(cfg.workers.max(1))),
        bbs,
        http,
        cfg,
    };
    let handle = tokio::spawn(async move {
        let filter = WatchFilter {
            kinds: vec!["task".into()],
            ..Default::default()
        };
        loop {
            let mut events = match d.bbs.watch(filter.clone(), None, None).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "callback worker cannot watch tasks; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                tokio::select! {
                    item = events.next() => match item {
                        Some(Ok(w)) => {
                            if let Event::TaskChanged { after, .. } = w.event {
                                if after.state == TaskState::Completed {
                                    d.spawn(after);
                                }
                            }
                        }
                        // a gap is covered by convergence's kicks
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "task watch failed; re-watching");
                            break;
                        }
                        None => break,
                    },
                    Some(guid) = kicked.recv() => {
                        if let Ok(task) = d.bbs.task_by_guid(&guid).await {
                            if task.state == TaskState::Completed {
                                d.spawn(task);
                            }
                        }
                    }
                }
            }
        }
    });
    (handle, CallbackKicks(tx))
}

impl Deliverer {
    fn spawn(&self, task: Task) {
        if task.definition.completion_callback_url.is_empty() {
            return;
        }
        let d = self.clone();
        tokio::spawn(async move {
            let Ok(_slot) = d.slots.clone().acquire_owned().await else {
                return;
            };
            let guid = task.task_guid.clone();
            match deliver(&d.bbs, &d.http, &d.cfg, &task).await {
                Delivery::Delivered { status } => {
                    tracing::info!(task_guid = %guid, status, "task callback delivered")
                }
                Delivery::GaveUp { reason } => {
                    tracing::warn!(task_guid = %guid, %reason, "task callback not delivered; convergence retries it")
                }
                Delivery::NotOurs => {}
            }
        });
    }
}

/// One delivery of a Completed task: resolve, POST, delete.
pub async fn deliver(
    bbs: &Bbs,
    http: &reqwest::Client,
    cfg: &CallbackConfig,
    task: &Task,
) -> Delivery {
    // resolving first: if another worker (or the client) got there, stop
    if bbs.resolving_task(&task.task_guid).await.is_err() {
        return Delivery::NotOurs;
    }
    let body = TaskCallbackResponse {
        task_guid: &task.task_guid,
        failed: task.failed,
        failure_reason: &task.failure_reason,
        result: &task.result,
        annotation: &task.definition.annotation,
        created_at: task.created_at,
    };
    let url = &task.definition.completion_callback_url;
    let mut reason = String::from("no attempt made");
    for attempt in 1..=cfg.attempts.max(1) {
        match http.post(url).json(&body).send().await {
            Ok(resp) if matches!(resp.status().as_u16(), 503 | 504) => {
                reason = format!("attempt {attempt}: {}", resp.status());
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                if let Err(e) = bbs.delete_task(&task.task_guid).await {
                    tracing::warn!(task_guid = %task.task_guid, error = %e, "delete after callback failed");
                }
                return Delivery::Delivered { status };
            }
            Err(e) if e.is_timeout() || is_dropped_connection(&e) => {
                reason = format!("attempt {attempt}: {e}");
            }
            Err(e) => {
                return Delivery::GaveUp {
                    reason: format!("{url}: {e}"),
                }
            }
        }
    }
    Delivery::GaveUp { reason }
}

/// The original retries "use of closed network connection": a connection
/// that went away mid-request.
fn is_dropped_connection(e: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return true;
            }
        }
        cause = c.source();
    }
    e.is_request() && e.to_string().contains("connection closed")
}
