//! Codependent (spec §6.3) and the LRP's long-lived group (spec §6.2).

use async_trait::async_trait;
use futures::stream::{FuturesUnordered, StreamExt};

use super::{CancellationToken, Ready, Step, StepError};

pub const CODEPENDENT_EXITED: &str = "codependent step exited";

pub struct CodependentStep {
    children: Vec<Box<dyn Step>>,
    /// A child exiting successfully is an error (the action form).
    error_on_exit: bool,
    /// A child exiting successfully stops the others (LRPs with sidecars).
    cancel_others_on_exit: bool,
}

impl CodependentStep {
    /// The `codependent` action: the first exit ends the group, always as a failure.
    pub fn new(children: Vec<Box<dyn Step>>) -> Self {
        Self {
            children,
            error_on_exit: true,
            cancel_others_on_exit: true,
        }
    }

    /// The LRP's long-lived group: only a failure ends it early.
    pub fn long_lived(children: Vec<Box<dyn Step>>, cancel_others_on_exit: bool) -> Self {
        Self {
            children,
            error_on_exit: false,
            cancel_others_on_exit,
        }
    }
}

#[async_trait]
impl Step for CodependentStep {
    async fn perform(&self, cancel: CancellationToken, ready: Ready) -> Result<(), StepError> {
        let group = cancel.child_token();
        let (readies, receivers): (Vec<_>, Vec<_>) =
            self.children.iter().map(|_| Ready::new()).unzip();
        let mut runs: FuturesUnordered<_> = self
            .children
            .iter()
            .zip(readies)
            .map(|(child, r)| child.perform(group.clone(), r))
            .collect();
        let collect = async {
            let mut first_error: Option<StepError> = None;
            while let Some(result) = runs.next().await {
                let error = match result {
                    Err(e) => Some(e),
                    Ok(()) if self.error_on_exit => {
                        Some(StepError::Failed(CODEPENDENT_EXITED.to_string()))
                    }
                    Ok(()) => {
                        if self.cancel_others_on_exit {
                            group.cancel();
                        }
                        None
                    }
                };
                if let Some(e) = error {
                    group.cancel();
                    first_error.get_or_insert(e);
                }
            }
            first_error
        };
        let (_, first_error) = futures::join!(ready.when_all(receivers), collect);
        match first_error {
            Some(e) => Err(e),
            None if cancel.is_cancelled() => Err(StepError::Cancelled),
            None => Ok(()),
        }
    }
}
