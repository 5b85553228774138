//! The store codec: how domain records and events become bytes. This is a
//! deliberate wire boundary (records outlive the code that wrote them), so
//! every record starts with a format byte that a later codec can dispatch on.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{BbsError, Result};

/// Format 1: JSON of the domain model (see docs/adr/0003).
const FORMAT_JSON: u8 = 1;

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_JSON];
    // Serializing our own plain data types cannot fail (no maps with non-string keys).
    serde_json::to_writer(&mut out, value).expect("domain types always serialize");
    out
}

pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_JSON, body)) => serde_json::from_slice(body).map_err(|e| BbsError::Codec {
            key: key.to_string(),
            reason: e.to_string(),
        }),
        Some((other, _)) => Err(BbsError::Codec {
            key: key.to_string(),
            reason: format!("unknown record format {other}"),
        }),
        None => Err(BbsError::Codec {
            key: key.to_string(),
            reason: "empty record".into(),
        }),
    }
}
