//! The auctioneer's fencing token on the rep API (ADR 0022).
//!
//! An auctioneer that holds its lock on etcd sends the lock's fencing token
//! (an etcd revision, so it grows across lock keys and holders) with every
//! `Perform`. A rep remembers the highest token it has seen and refuses work
//! carrying a lower one: an auctioneer that was paused past its lease and
//! wakes up cannot place work after its successor has. Requests without a
//! token (an auctioneer with in-process locks, whose tokens restart with the
//! process and so cannot be compared) are not fenced.

use tonic::metadata::{MetadataMap, MetadataValue};

/// The gRPC metadata key carrying the token.
pub const FENCING_TOKEN_KEY: &str = "diego-auctioneer-fencing-token";

/// Adds `token` to a request's metadata (0 or less: no token).
pub fn attach(metadata: &mut MetadataMap, token: i64) {
    if token > 0 {
        if let Ok(v) = MetadataValue::try_from(token.to_string()) {
            metadata.insert(FENCING_TOKEN_KEY, v);
        }
    }
}

/// The token a request carries: `Ok(None)` without one, an error naming the
/// key when it is not a positive integer.
pub fn read(metadata: &MetadataMap) -> Result<Option<i64>, String> {
    let Some(v) = metadata.get(FENCING_TOKEN_KEY) else {
        return Ok(None);
    };
    let text = v
        .to_str()
        .map_err(|_| format!("invalid metadata: {FENCING_TOKEN_KEY} is not ascii"))?;
    match text.parse::<i64>() {
        Ok(t) if t > 0 => Ok(Some(t)),
        _ => Err(format!(
            "invalid metadata: {FENCING_TOKEN_KEY} must be a positive integer, got {text:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_none_is_absent() {
        let mut m = MetadataMap::new();
        assert_eq!(read(&m), Ok(None));
        attach(&mut m, 0);
        assert_eq!(read(&m), Ok(None));
        attach(&mut m, 42);
        assert_eq!(read(&m), Ok(Some(42)));
    }

    #[test]
    fn a_malformed_token_is_refused_with_the_key_named() {
        let mut m = MetadataMap::new();
        m.insert(FENCING_TOKEN_KEY, MetadataValue::from_static("-3"));
        let e = read(&m).unwrap_err();
        assert!(e.contains(FENCING_TOKEN_KEY) && e.contains("-3"), "{e}");
        m.insert(FENCING_TOKEN_KEY, MetadataValue::from_static("soon"));
        assert!(read(&m).is_err());
    }
}
