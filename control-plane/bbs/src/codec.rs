//! The store codec: how domain records and events become bytes. This is a
//! deliberate wire boundary (records outlive the code that wrote them): a
//! record is a format byte followed by the protobuf encoding of its
//! `diego.bbs.v1` message, so a later format can be read next to this one.

use diego_model::{ActualLrp, DesiredLrp, Domain, Event, ModelError, Task};
use diego_proto::bbs::v1 as pb;
use prost::Message;

use crate::error::{BbsError, Result};

/// Format 2: protobuf of the `diego.bbs.v1` message (see docs/adr/0003).
const FORMAT_PROTOBUF: u8 = 2;

/// A domain type the store holds, with its wire message.
pub trait Record: Sized {
    type Wire: Message + Default + From<Self>;
    fn from_wire(w: Self::Wire) -> std::result::Result<Self, ModelError>;
}

macro_rules! record {
    ($domain:ty, $wire:ty) => {
        impl Record for $domain {
            type Wire = $wire;
            fn from_wire(w: $wire) -> std::result::Result<Self, ModelError> {
                <$domain>::try_from(w).map_err(Into::into)
            }
        }
    };
}

record!(Task, pb::Task);
record!(DesiredLrp, pb::DesiredLrp);
record!(ActualLrp, pb::ActualLrp);
record!(Domain, pb::Domain);
record!(Event, pb::Event);

pub fn encode<T: Record + Clone>(value: &T) -> Vec<u8> {
    let wire: T::Wire = value.clone().into();
    framed(&wire)
}

fn framed<M: Message>(wire: &M) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + wire.encoded_len());
    out.push(FORMAT_PROTOBUF);
    wire.encode(&mut out)
        .expect("a vec grows to fit the message");
    out
}

/// A change-log entry: the event with the trace id of the call that caused
/// it (the wire event's `trace_id`; entries written before it read as empty).
pub fn encode_event(event: &Event, trace_id: &str) -> Vec<u8> {
    framed(&diego_proto::convert::traced_event(
        event.clone(),
        trace_id.to_string(),
    ))
}

/// A change-log entry back: the event and its trace id.
pub fn decode_event(key: &str, bytes: &[u8]) -> Result<(Event, String)> {
    let bad = |reason: String| BbsError::Codec {
        key: key.to_string(),
        reason,
    };
    match bytes.split_first() {
        Some((&FORMAT_PROTOBUF, body)) => {
            let mut wire = pb::Event::decode(body).map_err(|e| bad(e.to_string()))?;
            let trace_id = std::mem::take(&mut wire.trace_id);
            let event = Event::try_from(wire).map_err(|e| bad(e.message))?;
            Ok((event, trace_id))
        }
        Some((other, _)) => Err(bad(format!("unknown record format {other}"))),
        None => Err(bad("empty record".into())),
    }
}

pub fn decode<T: Record>(key: &str, bytes: &[u8]) -> Result<T> {
    let bad = |reason: String| BbsError::Codec {
        key: key.to_string(),
        reason,
    };
    match bytes.split_first() {
        Some((&FORMAT_PROTOBUF, body)) => {
            let wire = T::Wire::decode(body).map_err(|e| bad(e.to_string()))?;
            T::from_wire(wire).map_err(|e| bad(e.message))
        }
        Some((other, _)) => Err(bad(format!("unknown record format {other}"))),
        None => Err(bad("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diego_model::{Action, TaskDefinition};

    #[test]
    fn records_round_trip_and_bad_bytes_are_refused() {
        let def = TaskDefinition {
            root_fs: "preloaded:busybox".into(),
            action: Some(Action::run("/bin/true", &[])),
            ..Default::default()
        };
        let task = Task::desired("t1", "d", def, 42);
        let bytes = encode(&task);
        assert_eq!(bytes[0], FORMAT_PROTOBUF);
        assert_eq!(decode::<Task>("k", &bytes).unwrap(), task);
        assert!(decode::<Task>("k", &[]).is_err());
        assert!(decode::<Task>("k", &[9, 1, 2]).is_err());
        let err = decode::<Task>("tasks/t1", &[FORMAT_PROTOBUF, 0xff, 0xff]).unwrap_err();
        assert!(err.to_string().contains("tasks/t1"));
    }

    #[test]
    fn log_entries_keep_their_trace_id_and_old_entries_read_as_untraced() {
        let def = TaskDefinition {
            root_fs: "preloaded:busybox".into(),
            action: Some(Action::run("/bin/true", &[])),
            ..Default::default()
        };
        let event = Event::TaskCreated {
            task: Task::desired("t1", "d", def, 42),
        };
        let bytes = encode_event(&event, "req-7");
        assert_eq!(
            decode_event("log", &bytes).unwrap(),
            (event.clone(), "req-7".to_string())
        );
        // an entry written by `encode` (no trace id) is still an event
        assert_eq!(
            decode_event("log", &encode(&event)).unwrap(),
            (event.clone(), String::new())
        );
        assert_eq!(decode::<Event>("log", &bytes).unwrap(), event);
        assert!(decode_event("log", &[FORMAT_PROTOBUF, 0xff]).is_err());
    }
}
