//! Action tree -> step tree.

use std::sync::Arc;

use diego_model::Action;

use super::{
    source_of, CodependentStep, DownloadStep, EmitProgressStep, ParallelStep, RunStep, SerialStep,
    Step, StepCtx, TimeoutStep, TryStep, UploadStep,
};

/// Builds the step for `action`; `source` is the log source inherited from the parent.
pub fn build(action: &Action, ctx: &Arc<StepCtx>, source: &str) -> Box<dyn Step> {
    let children = |actions: &[Action], src: &str| -> Vec<Box<dyn Step>> {
        actions.iter().map(|a| build(a, ctx, src)).collect()
    };
    match action {
        Action::Run(a) => Box::new(RunStep::new(
            ctx.clone(),
            a.clone(),
            source_of(&a.log_source, source),
        )),
        Action::Download(a) => Box::new(DownloadStep::new(
            ctx.clone(),
            a.clone(),
            source_of(&a.log_source, source),
        )),
        Action::Upload(a) => Box::new(UploadStep::new(
            ctx.clone(),
            a.clone(),
            source_of(&a.log_source, source),
        )),
        Action::EmitProgress(a) => {
            let src = source_of(&a.log_source, source);
            let inner = build(&a.action, ctx, src);
            Box::new(EmitProgressStep::new(ctx.clone(), inner, a, src))
        }
        Action::Timeout(a) => {
            let src = source_of(&a.log_source, source);
            // Old clients only set the nanosecond field.
            let timeout_ms = if a.timeout_ms > 0 {
                a.timeout_ms as u64
            } else {
                (a.deprecated_timeout_ns.max(0) / 1_000_000) as u64
            };
            Box::new(TimeoutStep::new(build(&a.action, ctx, src), timeout_ms))
        }
        Action::Try(a) => {
            let src = source_of(&a.log_source, source);
            Box::new(TryStep::new(ctx.clone(), build(&a.action, ctx, src), src))
        }
        Action::Serial(a) => Box::new(SerialStep::new(children(
            &a.actions,
            source_of(&a.log_source, source),
        ))),
        Action::Parallel(a) => Box::new(ParallelStep::new(children(
            &a.actions,
            source_of(&a.log_source, source),
        ))),
        Action::Codependent(a) => Box::new(CodependentStep::new(children(
            &a.actions,
            source_of(&a.log_source, source),
        ))),
    }
}
