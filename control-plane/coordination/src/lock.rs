//! Locks with fencing tokens. Every acquisition by a new owner gets a larger
//! token; a writer puts its token into each write's precondition, so a
//! deposed holder that wakes up late cannot write.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A strictly increasing number per lock key.
pub type FencingToken = u64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    #[error("lock-collision: {key} is held by {owner}")]
    Collision { key: String, owner: String },
    #[error("invalid-ttl")]
    InvalidTtl,
    #[error("invalid-owner")]
    InvalidOwner,
}

struct Held {
    owner: String,
    token: FencingToken,
    expires_at: Instant,
}

#[derive(Default)]
pub struct LockTable {
    locks: Mutex<BTreeMap<String, Held>>,
    next_token: Mutex<FencingToken>,
}

impl LockTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Acquires or refreshes `key` for `owner`. Re-locking by the holder is
    /// the heartbeat and keeps the token; a new holder gets a new token.
    pub fn lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<FencingToken, LockError> {
        if ttl.is_zero() {
            return Err(LockError::InvalidTtl);
        }
        if owner.is_empty() {
            return Err(LockError::InvalidOwner);
        }
        let now = Instant::now();
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = locks.get_mut(key) {
            if h.owner == owner {
                h.expires_at = now + ttl;
                return Ok(h.token);
            }
            if h.expires_at > now {
                return Err(LockError::Collision {
                    key: key.into(),
                    owner: h.owner.clone(),
                });
            }
        }
        let token = {
            let mut next = self.next_token.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        locks.insert(
            key.into(),
            Held {
                owner: owner.into(),
                token,
                expires_at: now + ttl,
            },
        );
        Ok(token)
    }

    /// Releases `key` if `owner` holds it.
    pub fn release(&self, key: &str, owner: &str) -> Result<(), LockError> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        match locks.get(key) {
            None => Ok(()),
            Some(h) if h.owner == owner => {
                locks.remove(key);
                Ok(())
            }
            Some(h) => Err(LockError::Collision {
                key: key.into(),
                owner: h.owner.clone(),
            }),
        }
    }

    /// Whether `token` is still the live token of `key` (the fencing check).
    pub fn is_current(&self, key: &str, token: FencingToken) -> bool {
        let locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks
            .get(key)
            .is_some_and(|h| h.token == token && h.expires_at > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_owner_collides_until_expiry_then_gets_a_larger_token() {
        let t = LockTable::new();
        let a = t.lock("bbs", "a", Duration::from_millis(30)).unwrap();
        assert_eq!(t.lock("bbs", "a", Duration::from_millis(30)).unwrap(), a);
        assert!(matches!(
            t.lock("bbs", "b", Duration::from_secs(1)),
            Err(LockError::Collision { .. })
        ));
        std::thread::sleep(Duration::from_millis(50));
        let b = t.lock("bbs", "b", Duration::from_secs(1)).unwrap();
        assert!(b > a);
        assert!(
            !t.is_current("bbs", a),
            "a deposed holder's token is fenced off"
        );
        assert!(t.is_current("bbs", b));
    }

    #[test]
    fn bad_arguments_are_refused() {
        let t = LockTable::new();
        assert_eq!(
            t.lock("k", "", Duration::from_secs(1)),
            Err(LockError::InvalidOwner)
        );
        assert_eq!(t.lock("k", "o", Duration::ZERO), Err(LockError::InvalidTtl));
        assert!(t.release("k", "o").is_ok());
    }
}
