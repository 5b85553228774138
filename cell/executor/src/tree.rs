//! The top-level step trees for LRPs and tasks (spec §6.2).

use std::sync::Arc;

use crate::container::{Lifecycle, RunRequest};
use crate::steps::{
    build, CheckStep, CodependentStep, MonitorStep, ReadinessStep, SerialStep, Step, StepCtx,
};

pub const APP_SOURCE: &str = "APP";
const HEALTH_SOURCE: &str = "HEALTH";

/// serial([setup], action) for tasks;
/// serial([setup], codependent(action, sidecars, monitor, readiness)) for LRPs.
pub(crate) fn build_tree(req: &RunRequest, ctx: &Arc<StepCtx>) -> Box<dyn Step> {
    let source = if req.log_source.is_empty() {
        APP_SOURCE
    } else {
        req.log_source.as_str()
    };
    let mut serial: Vec<Box<dyn Step>> = Vec::new();
    if let Some(setup) = &req.setup {
        serial.push(build(setup, ctx, source));
    }
    match req.lifecycle {
        Lifecycle::Task => serial.push(build(&req.action, ctx, source)),
        Lifecycle::Lrp => {
            let mut long_lived: Vec<Box<dyn Step>> = vec![build(&req.action, ctx, source)];
            for sidecar in &req.sidecars {
                long_lived.push(build(sidecar, ctx, source));
            }
            let checks = req.check_definition.as_ref();
            let health_source = checks
                .map(|c| c.log_source.as_str())
                .filter(|s| !s.is_empty())
                .unwrap_or(HEALTH_SOURCE);
            match checks {
                Some(def) if !def.checks.is_empty() => long_lived.push(Box::new(CheckStep::new(
                    ctx.clone(),
                    def.checks.clone(),
                    req.start_timeout_ms,
                    health_source,
                ))),
                // The legacy monitor only applies when there is no check definition.
                _ if checks.is_none() => {
                    if let Some(monitor) = &req.monitor {
                        long_lived.push(Box::new(MonitorStep::new(
                            ctx.clone(),
                            monitor.clone(),
                            req.start_timeout_ms,
                        )))
                    }
                }
                _ => {}
            }
            if let Some(def) = checks.filter(|d| !d.readiness_checks.is_empty()) {
                long_lived.push(Box::new(ReadinessStep::new(
                    ctx.clone(),
                    def.readiness_checks.clone(),
                )));
            }
            // With sidecars, any process exiting (even with 0) ends the
            // instance; without, an action exiting 0 leaves the checks running.
            let cancel_others_on_exit = !req.sidecars.is_empty();
            serial.push(Box::new(CodependentStep::long_lived(
                long_lived,
                cancel_others_on_exit,
            )));
        }
    }
    Box::new(SerialStep::new(serial))
}

pub(crate) fn has_readiness(req: &RunRequest) -> bool {
    req.check_definition
        .as_ref()
        .is_some_and(|d| !d.readiness_checks.is_empty())
}
