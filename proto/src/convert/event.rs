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
        w::Event { kind: Some(kind) }
    }
}

impl FromWire<w::Event> for m::Event {
    fn from_wire(v: w::Event, path: &str) -> Result<Self, ModelError> {
        let w::Event { kind } = v;
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

/// One event of a watch and the store revision that produced it; a client
/// resumes a watch from the last revision it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchedEvent {
    pub revision: u64,
    pub event: m::Event,
}

impl From<WatchedEvent> for w::WatchEvent {
    fn from(d: WatchedEvent) -> Self {
        let WatchedEvent { revision, event } = d;
        w::WatchEvent {
            revision,
            event: Some(event.into()),
        }
    }
}

impl FromWire<w::WatchEvent> for WatchedEvent {
    fn from_wire(v: w::WatchEvent, path: &str) -> Result<Self, ModelError> {
        let w::WatchEvent { revision, event } = v;
        Ok(WatchedEvent {
            revision,
            event: required_from(event, path, "event")?,
        })
    }
}
try_from_wire!(WatchedEvent, w::WatchEvent, "");
