//! Domain events as the original's SSE payloads: the event name and the
//! protobuf bytes of its message, for each kind of stream.

use diego_model as m;
use prost::Message;

use super::actual::{group_of, info_of, instance_key_into, key_into};
use super::version::{desired_to_v0, task_to_v0, Version};
use crate::models as w;

/// The three stream families of the original router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `lrp_instances`: desired events, instance events, crashes.
    LrpInstances,
    /// The deprecated `events` stream: desired events, group events, crashes.
    LrpGroups,
    Tasks,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub name: &'static str,
    pub data: Vec<u8>,
}

fn desired(d: &m::DesiredLrp, v: Version) -> w::DesiredLrp {
    let mut out: w::DesiredLrp = d.clone().into();
    if v == Version::V0 {
        desired_to_v0(&mut out);
    }
    out
}

fn task(t: &m::Task, v: Version) -> w::Task {
    let mut out: w::Task = t.clone().into();
    if v == Version::V0 {
        task_to_v0(&mut out);
    }
    out
}

fn ev(name: &'static str, msg: impl Message) -> Option<SseEvent> {
    Some(SseEvent {
        name,
        data: msg.encode_to_vec(),
    })
}

/// The SSE event a domain event becomes on `stream`, or `None` when that
/// stream does not carry it or `cell_id` filters it out. Desired LRP events
/// are never filtered by cell.
pub fn sse_event(
    e: &m::Event,
    stream: Stream,
    version: Version,
    cell_id: &str,
    trace_id: &str,
) -> Option<SseEvent> {
    use m::Event as E;
    let tid = trace_id.to_string();
    let lrp_stream = matches!(stream, Stream::LrpInstances | Stream::LrpGroups);
    if lrp_stream
        && !e.is_task()
        && !e.is_desired()
        && !cell_id.is_empty()
        && !e.cell_ids().contains(&cell_id)
    {
        return None;
    }
    match (e, stream) {
        (E::TaskCreated { task: t }, Stream::Tasks) => ev(
            "task_created",
            w::TaskCreatedEvent {
                task: Some(task(t, version)),
            },
        ),
        (E::TaskChanged { before, after }, Stream::Tasks) => ev(
            "task_changed",
            w::TaskChangedEvent {
                before: Some(task(before, version)),
                after: Some(task(after, version)),
            },
        ),
        (E::TaskRemoved { task: t }, Stream::Tasks) => ev(
            "task_removed",
            w::TaskRemovedEvent {
                task: Some(task(t, version)),
            },
        ),
        (E::DesiredLrpCreated { desired_lrp }, _) if lrp_stream => ev(
            "desired_lrp_created",
            w::DesiredLrpCreatedEvent {
                desired_lrp: Some(desired(desired_lrp, version)),
                trace_id: tid,
            },
        ),
        (E::DesiredLrpChanged { before, after }, _) if lrp_stream => ev(
            "desired_lrp_changed",
            w::DesiredLrpChangedEvent {
                before: Some(desired(before, version)),
                after: Some(desired(after, version)),
                trace_id: tid,
            },
        ),
        (E::DesiredLrpRemoved { desired_lrp }, _) if lrp_stream => ev(
            "desired_lrp_removed",
            w::DesiredLrpRemovedEvent {
                desired_lrp: Some(desired(desired_lrp, version)),
                trace_id: tid,
            },
        ),
        (
            E::ActualLrpCrashed {
                actual_lrp,
                crash_count,
                crash_reason,
                since,
            },
            _,
        ) if lrp_stream => ev(
            "actual_lrp_crashed",
            w::ActualLrpCrashedEvent {
                actual_lrp_key: Some(key_into(actual_lrp.key.clone())),
                actual_lrp_instance_key: Some(instance_key_into(actual_lrp.instance_key.clone())),
                crash_count: *crash_count,
                crash_reason: crash_reason.clone(),
                since: *since,
            },
        ),
        (E::ActualLrpCreated { actual_lrp }, Stream::LrpInstances) => ev(
            "actual_lrp_instance_created",
            w::ActualLrpInstanceCreatedEvent {
                actual_lrp: Some(actual_lrp.clone().into()),
                trace_id: tid,
            },
        ),
        (E::ActualLrpChanged { before, after }, Stream::LrpInstances) => {
            // The keys come from `after` unless it has none (spec §2.7).
            let ik = if after.instance_key.is_empty() {
                &before.instance_key
            } else {
                &after.instance_key
            };
            ev(
                "actual_lrp_instance_changed",
                w::ActualLrpInstanceChangedEvent {
                    actual_lrp_key: Some(key_into(after.key.clone())),
                    actual_lrp_instance_key: Some(instance_key_into(ik.clone())),
                    before: Some(info_of(before)),
                    after: Some(info_of(after)),
                    trace_id: tid,
                },
            )
        }
        (E::ActualLrpRemoved { actual_lrp }, Stream::LrpInstances) => ev(
            "actual_lrp_instance_removed",
            w::ActualLrpInstanceRemovedEvent {
                actual_lrp: Some(actual_lrp.clone().into()),
                trace_id: tid,
            },
        ),
        (E::ActualLrpCreated { actual_lrp }, Stream::LrpGroups) => ev(
            "actual_lrp_created",
            w::ActualLrpCreatedEvent {
                actual_lrp_group: Some(group_of(actual_lrp)),
            },
        ),
        (E::ActualLrpChanged { before, after }, Stream::LrpGroups) => ev(
            "actual_lrp_changed",
            w::ActualLrpChangedEvent {
                before: Some(group_of(before)),
                after: Some(group_of(after)),
            },
        ),
        (E::ActualLrpRemoved { actual_lrp }, Stream::LrpGroups) => ev(
            "actual_lrp_removed",
            w::ActualLrpRemovedEvent {
                actual_lrp_group: Some(group_of(actual_lrp)),
            },
        ),
        _ => None,
    }
}
