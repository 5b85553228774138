//! Events and the revisioned events a watch streams.

use diego_model as m;
use diego_model::ModelError;

use super::{field, required, required_from, try_from_wire, FromWire};
use crate::bbs::v1 as w;
use crate::bbs::v1::event::Kind;

impl From<m::Event> for w::Event {
    fn from(d: m::Event) -> Self {
        let kind = match d {
            m::Event::TaskCreated { task } => Kind::TaskCreated(w::TaskCreated {
                task: Some(task.into()),
            }),
            m::Event::TaskChanged { before, after } => Kind::TaskChanged(w::TaskChanged {
                before: Some(before.into()),
                after: Some(after.into()),
            }),
            m::Event::TaskRemoved { task } => Kind::TaskRemoved(w::TaskRemoved {
                task: Some(task.into()),
            }),
            m::Event::DesiredLrpCreated { desired_lrp } => {
                Kind::DesiredLrpCreated(w::DesiredLrpCreated {
                    desired_lrp: Some(desired_lrp.into()),
                })
            }
            m::Event::DesiredLrpChanged { before, after } => {
                Kind::DesiredLrpChanged(w::DesiredLrpChanged {
                    before: Some(before.into()),
                    after: Some(after.into()),
                })
            }
            m::Event::DesiredLrpRemoved { desired_lrp } => {
                Kind::DesiredLrpRemoved(w::DesiredLrpRemoved {
                    desired_lrp: Some(desired_lrp.into()),
                })
            }
            m::Event::ActualLrpCreated { actual_lrp } => {
                Kind::ActualLrpCreated(w::ActualLrpCreated {
                    actual_lrp: Some(actual_lrp.into()),
                })
            }
            m::Event::ActualLrpChanged { before, after } => {
                Kind::ActualLrpChanged(w::ActualLrpChanged {
                    before: Some(before.into()),
                    after: Some(after.into()),
                })
            }
            m::Event::ActualLrpRemoved { actual_lrp } => {
                Kind::ActualLrpRemoved(w::ActualLrpRemoved {
                    actual_lrp: Some(actual_lrp.into()),
                })
            }
            m::Event::ActualLrpCrashed {
                actual_lrp,
                crash_count,
                crash_reason,
                since,
            } => Kind::ActualLrpCrashed(w::ActualLrpCrashed {
                actual_lrp: Some(actual_lrp.into()),
                crash_count,
                crash_reason,
                since,
            }),
        };
        // The trace id is not part of the domain event: it travels beside
        // it (`WatchedEvent`, the store's change log).
        w::Event {
            kind: Some(kind),
            trace_id: String::new(),
        }
    }
}

impl FromWire<w::Event> for m::Event {
    fn from_wire(v: w::Event, path: &str) -> Result<Self, ModelError> {
        let w::Event { kind, trace_id: _ } = v;
        let kind = required(kind, path, "kind")?;
        Ok(match kind {
            Kind::TaskCreated(w::TaskCreated { task }) => {
                let p = field(path, "task_created");
                m::Event::TaskCreated {
                    task: required_from(task, &p, "task")?,
                }
            }
            Kind::TaskChanged(w::TaskChanged { before, after }) => {
                let p = field(path, "task_changed");
                m::Event::TaskChanged {
                    before: required_from(before, &p, "before")?,
                    after: required_from(after, &p, "after")?,
                }
            }
            Kind::TaskRemoved(w::TaskRemoved { task }) => {
                let p = field(path, "task_removed");
                m::Event::TaskRemoved {
                    task: required_from(task, &p, "task")?,
                }
            }
            Kind::DesiredLrpCreated(w::DesiredLrpCreated { desired_lrp }) => {
                let p = field(path, "desired_lrp_created");
                m::Event::DesiredLrpCreated {
                    desired_lrp: required_from(desired_lrp, &p, "desired_lrp")?,
                }
            }
            Kind::DesiredLrpChanged(w::DesiredLrpChanged { before, after }) => {
                let p = field(path, "desired_lrp_changed");
                m::Event::DesiredLrpChanged {
                    before: required_from(before, &p, "before")?,
                    after: required_from(after, &p, "after")?,
                }
            }
            Kind::DesiredLrpRemoved(w::DesiredLrpRemoved { desired_lrp }) => {
                let p = field(path, "desired_lrp_removed");
                m::Event::DesiredLrpRemoved {
                    desired_lrp: required_from(desired_lrp, &p, "desired_lrp")?,
                }
            }
            Kind::ActualLrpCreated(w::ActualLrpCreated { actual_lrp }) => {
                let p = field(path, "actual_lrp_created");
                m::Event::ActualLrpCreated {
                    actual_lrp: required_from(actual_lrp, &p, "actual_lrp")?,
                }
            }
            Kind::ActualLrpChanged(w::ActualLrpChanged { before, after }) => {
                let p = field(path, "actual_lrp_changed");
                m::Event::ActualLrpChanged {
                    before: required_from(before, &p, "before")?,
                    after: required_from(after, &p, "after")?,
                }
            }
            Kind::ActualLrpRemoved(w::ActualLrpRemoved { actual_lrp }) => {
                let p = field(path, "actual_lrp_removed");
                m::Event::ActualLrpRemoved {
                    actual_lrp: required_from(actual_lrp, &p, "actual_lrp")?,
                }
            }
            Kind::ActualLrpCrashed(w::ActualLrpCrashed {
                actual_lrp,
                crash_count,
                crash_reason,
                since,
            }) => {
                let p = field(path, "actual_lrp_crashed");
                m::Event::ActualLrpCrashed {
                    actual_lrp: required_from(actual_lrp, &p, "actual_lrp")?,
                    crash_count,
                    crash_reason,
                    since,
                }
            }
        })
    }
}
try_from_wire!(m::Event, w::Event, "event");

/// The gRPC metadata key (an HTTP/2 header) that carries a call's trace id
/// into the BBS, which records it on the call's events; the original's
/// `X-Vcap-Request-Id`, so one id follows a request through the gateway.
pub const TRACE_ID_METADATA: &str = "x-vcap-request-id";

/// A domain event as the wire event, carrying `trace_id`.
pub fn traced_event(event: m::Event, trace_id: String) -> w::Event {
    let mut out: w::Event = event.into();
    out.trace_id = trace_id;
    out
}

/// One event of a watch and the store revision that produced it; a client
/// resumes a watch from the last revision it saw. `trace_id` is the request
/// id of the call that caused it (empty for the BBS's own changes).
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedEvent {
    pub revision: u64,
    /// The event's place among its revision's events.
    pub position: u32,
    pub event: m::Event,
    pub trace_id: String,
}

impl From<WatchedEvent> for w::WatchEvent {
    fn from(d: WatchedEvent) -> Self {
        let WatchedEvent {
            revision,
            position,
            event,
            trace_id,
        } = d;
        w::WatchEvent {
            revision,
            event: Some(traced_event(event, trace_id)),
            position,
        }
    }
}

impl FromWire<w::WatchEvent> for WatchedEvent {
    fn from_wire(v: w::WatchEvent, path: &str) -> Result<Self, ModelError> {
        let w::WatchEvent {
            revision,
            event,
            position,
        } = v;
        let trace_id = event
            .as_ref()
            .map(|e| e.trace_id.clone())
            .unwrap_or_default();
        Ok(WatchedEvent {
            revision,
            position,
            event: required_from(event, path, "event")?,
            trace_id,
        })
    }
}
try_from_wire!(WatchedEvent, w::WatchEvent, "");
