//! Task operations (spec §4.1).

use diego_model::{validate, Event, ModelError, RejectOutcome, Task, TaskDefinition, TaskState};

use crate::error::Result;
use crate::keys;
use crate::txn::{Change, Versioned};
use crate::Bbs;

impl Bbs {
    async fn task_record(&self, guid: &str) -> Result<Versioned<Task>> {
        validate::guid("task_guid", guid)?;
        self.read(&keys::task(guid))
            .await?
            .ok_or_else(|| ModelError::not_found().into())
    }

    /// `DesireTask`: stores it Pending and asks for an auction.
    pub async fn desire_task(&self, guid: &str, domain: &str, def: TaskDefinition) -> Result<()> {
        validate::desire_task(guid, domain, &def)?;
        let task = Task::desired(guid, domain, def, self.now());
        let mut change = Change::new();
        change
            .create(keys::task(guid), &task)
            .emit(Event::TaskCreated { task: task.clone() });
        match self.commit(change).await {
            Err(crate::BbsError::Store(diego_store::StoreError::Conflict { .. })) => {
                return Err(ModelError::exists().into())
            }
            other => other?,
        };
        self.request_task_auctions(vec![task]).await;
        Ok(())
    }

    pub(crate) async fn request_task_auctions(&self, tasks: Vec<Task>) {
        if tasks.is_empty() {
            return;
        }
        if let Err(e) = self.auctioneer.request_task_auctions(tasks).await {
            tracing::warn!(error = %e, "task auction request failed; convergence will retry");
        }
    }

    /// `Tasks`, filtered by domain and cell (empty = no filter).
    pub async fn tasks(&self, domain: &str, cell_id: &str) -> Result<Vec<Task>> {
        let all: Vec<Versioned<Task>> = self.scan(keys::TASKS).await?;
        Ok(all
            .into_iter()
            .map(|v| v.value)
            .filter(|t| domain.is_empty() || t.domain == domain)
            .filter(|t| cell_id.is_empty() || t.cell_id == cell_id)
            .collect())
    }

    pub async fn task_by_guid(&self, guid: &str) -> Result<Task> {
        Ok(self.task_record(guid).await?.value)
    }

    /// Applies `f` to a task in one CAS transaction, emitting `task_changed`.
    async fn change_task<T>(
        &self,
        guid: &str,
        f: impl Fn(&mut Task, i64) -> std::result::Result<T, ModelError>,
    ) -> Result<(T, Task, Task)> {
        self.with_retries(|| async {
            let rec = self.task_record(guid).await?;
            let before = rec.value.clone();
            let mut after = rec.value.clone();
            let out = f(&mut after, self.now())?;
            if after != before {
                let mut change = Change::new();
                change.update(&rec, &after).emit(Event::TaskChanged {
                    before: before.clone(),
                    after: after.clone(),
                });
                self.commit(change).await?;
            }
            Ok((out, before, after))
        })
        .await
    }

    /// `StartTask`: Pending -> Running on this cell, at most once.
    pub async fn start_task(&self, guid: &str, cell_id: &str) -> Result<bool> {
        validate::non_empty("cell_id", cell_id)?;
        let (decision, _, _) = self
            .change_task(guid, |t, now| t.start(cell_id, now))
            .await?;
        Ok(decision.should_start)
    }

    pub async fn complete_task(
        &self,
        guid: &str,
        cell_id: &str,
        failed: bool,
        failure_reason: &str,
        result: &str,
    ) -> Result<()> {
        validate::non_empty("cell_id", cell_id)?;
        self.change_task(guid, |t, now| {
            t.complete(cell_id, failed, failure_reason, result, now)
        })
        .await?;
        Ok(())
    }

    /// `CancelTask`: failed with "task was cancelled"; the rep running it is told to stop.
    pub async fn cancel_task(&self, guid: &str) -> Result<()> {
        let (cell, _, _) = self.change_task(guid, |t, now| t.cancel(now)).await?;
        if let Some(cell_id) = cell {
            self.tell_cell_cancel(&cell_id, guid).await;
        }
        Ok(())
    }

    async fn tell_cell_cancel(&self, cell_id: &str, guid: &str) {
        // Errors are ignored like the original: the rep's sync cleans up.
        if let Ok(cells) = self.cells.cells().await {
            if let Some(cell) = cells.iter().find(|c| c.cell_id == cell_id) {
                if let Err(e) = self.cells.cancel_task(cell, guid).await {
                    tracing::warn!(error = %e, task_guid = guid, "cancel on cell failed");
                }
            }
        }
    }

    /// Deprecated `FailTask`.
    pub async fn fail_task(&self, guid: &str, reason: &str) -> Result<()> {
        validate::non_empty("failure_reason", reason)?;
        self.change_task(guid, |t, now| t.fail(reason, now)).await?;
        Ok(())
    }

    /// `RejectTask`: back to Pending (and auctioned again) until retries run out.
    pub async fn reject_task(&self, guid: &str, reason: &str) -> Result<()> {
        validate::non_empty("rejection_reason", reason)?;
        let max = self.config.max_task_retries;
        let (outcome, _, after) = self
            .change_task(guid, |t, now| t.reject(reason, max, now))
            .await?;
        if outcome == RejectOutcome::Requeued {
            self.request_task_auctions(vec![after]).await;
        }
        Ok(())
    }

    pub async fn resolving_task(&self, guid: &str) -> Result<()> {
        self.change_task(guid, |t, now| t.resolving(now)).await?;
        Ok(())
    }

    /// `DeleteTask`: only a Resolving task can be deleted.
    pub async fn delete_task(&self, guid: &str) -> Result<()> {
        self.with_retries(|| async {
            let rec = self.task_record(guid).await?;
            rec.value.check_deletable()?;
            let mut change = Change::new();
            change.delete(&rec).emit(Event::TaskRemoved {
                task: rec.value.clone(),
            });
            self.commit(change).await?;
            Ok(())
        })
        .await
    }

    /// Convergence's task writes: replaces a task read at a revision.
    pub async fn converge_task(&self, before: &Task, after: Option<&Task>) -> Result<()> {
        let rec = self.task_record(&before.task_guid).await?;
        if rec.value != *before {
            // Changed under us since the snapshot; the next pass looks again.
            return Ok(());
        }
        let mut change = Change::new();
        match after {
            Some(a) => change.update(&rec, a).emit(Event::TaskChanged {
                before: before.clone(),
                after: a.clone(),
            }),
            None => change.delete(&rec).emit(Event::TaskRemoved {
                task: before.clone(),
            }),
        };
        self.commit(change).await?;
        Ok(())
    }

    /// Re-sends Pending tasks to the auctioneer (convergence).
    pub async fn reauction_tasks(&self, tasks: Vec<Task>) {
        let pending = tasks
            .into_iter()
            .filter(|t| t.state == TaskState::Pending)
            .collect();
        self.request_task_auctions(pending).await;
    }
}
