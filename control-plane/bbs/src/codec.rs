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
    let mut out = Vec::with_capacity(1 + wire.encoded_len());
    out.push(FORMAT_PROTOBUF);
    wire.encode(&mut out)
        .expect("a vec grows to fit the message");
    out
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
}
