//! Group commit, the pure part: which queued commits go into one etcd
//! transaction, how their checks are judged on a snapshot, and the
//! transaction that writes them under consecutive revisions of our counter.
//!
//! A batch is serialised in queue order: member `j` gets revision
//! `counter + 1 + j`, its records carry that revision and its change-log
//! entries go to `log/<counter + 1 + j>`; the counter is written once, to
//! `counter + n`. A member may only join if no earlier member of the batch
//! writes a key it checks or writes: its checks are then judged on exactly
//! the state it would have seen alone (etcd also refuses a transaction that
//! writes one key twice). The others wait for the next batch.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use diego_store::{Check, Expect, Op, Revision, StoreError};
use etcd_client::{Compare, CompareOp, KeyValue, TxnOp, TxnOpResponse, TxnResponse};
use tokio::sync::oneshot;

use crate::layout::{decode_record, decode_rev, encode_entries, encode_record, encode_rev, Layout};
use crate::read::RevRead;
use crate::Fence;

pub(crate) type CommitId = [u8; crate::layout::COMMIT_ID_BYTES];

/// Bytes we count per key on top of its length: the store prefix, the
/// protobuf framing and the compare or op around it.
const PER_KEY_OVERHEAD_BYTES: usize = 64;

/// One queued commit.
pub(crate) struct Member {
    /// Arrival order; also names the member in attempts whose outcome is
    /// unknown.
    pub(crate) id: u64,
    pub(crate) checks: Vec<Check>,
    /// Already reduced to the last op per key.
    pub(crate) ops: Vec<Op>,
    pub(crate) log: Vec<Vec<u8>>,
    pub(crate) enqueued: Instant,
    /// Set after etcd refused a whole batch holding this member (not a lost
    /// race): it then goes alone, so a refusal it causes is its own.
    pub(crate) solo: bool,
    /// In a transaction that has not been answered yet: not chosen again,
    /// and later batches leave the keys it writes alone.
    pub(crate) in_flight: bool,
    pub(crate) reply: Option<oneshot::Sender<Result<Revision, StoreError>>>,
}

impl Member {
    fn written(&self) -> impl Iterator<Item = &str> {
        self.ops.iter().map(|op| match op {
            Op::Put { key, .. } | Op::Delete { key } => key.as_str(),
        })
    }

    fn touches(&self, written: &HashSet<&str>) -> bool {
        self.checks.iter().any(|c| written.contains(c.key.as_str()))
            || self.written().any(|key| written.contains(key))
    }

    /// Whether every check can be expressed as an etcd compare without
    /// reading the key first (existence only).
    pub(crate) fn blind_checkable(&self) -> bool {
        self.checks
            .iter()
            .all(|c| matches!(c.expect, Expect::Absent | Expect::Present))
    }

    fn cost(&self) -> Cost {
        let op_bytes: usize = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value } => key.len() + value.len() + 8,
                Op::Delete { key } => key.len(),
            })
            .sum();
        let log_bytes: usize = self.log.iter().map(|e| e.len() + 4).sum();
        let check_bytes: usize = self
            .checks
            .iter()
            .map(|c| match &c.expect {
                Expect::ValueEquals(value) => c.key.len() + value.len(),
                _ => c.key.len(),
            })
            .sum();
        // a check costs a compare and, on failure, a read of the key
        let keys = self.ops.len() + usize::from(!self.log.is_empty()) + 2 * self.checks.len();
        Cost {
            writes: self.ops.len() + usize::from(!self.log.is_empty()),
            compares: self.checks.len(),
            bytes: op_bytes + log_bytes + 2 * check_bytes + keys * PER_KEY_OVERHEAD_BYTES,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    writes: usize,
    compares: usize,
    bytes: usize,
}

/// What one etcd transaction may hold (etcd's `--max-txn-ops` and
/// `--max-request-bytes`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_txn_ops: usize,
    pub(crate) max_txn_bytes: usize,
    pub(crate) fenced: bool,
}

/// The positions in `queue` of the next batch, in queue order. The first
/// queued commit always goes, even alone over the limits (etcd then judges
/// it, as it did before batching). Members in flight are skipped, and so is
/// every member touching a key one of them writes: it must see that write
/// (or its absence) judged first.
pub(crate) fn choose(queue: &[Member], limits: &Limits) -> Vec<usize> {
    // the counter put; the counter compare and the fence compare
    let mut used = Cost {
        writes: 1,
        compares: 1 + usize::from(limits.fenced),
        bytes: 2 * PER_KEY_OVERHEAD_BYTES,
    };
    let mut written: HashSet<&str> = queue
        .iter()
        .filter(|m| m.in_flight)
        .flat_map(Member::written)
        .collect();
    let mut chosen = Vec::new();
    // a long queue is not searched to its end for small members that
    // still fit: the batch is nearly full by then
    let horizon = limits.max_txn_ops.saturating_mul(4);
    for (at, member) in queue.iter().enumerate().take(horizon.max(1)) {
        if member.in_flight {
            continue;
        }
        if !chosen.is_empty() && member.solo {
            continue;
        }
        if member.touches(&written) {
            continue;
        }
        let cost = member.cost();
        let fits = used.writes + cost.writes <= limits.max_txn_ops
            && used.compares + cost.compares <= limits.max_txn_ops
            && used.bytes + cost.bytes <= limits.max_txn_bytes;
        if !chosen.is_empty() && !fits {
            continue;
        }
        chosen.push(at);
        used.writes += cost.writes;
        used.compares += cost.compares;
        used.bytes += cost.bytes;
        written.extend(member.written());
        if member.solo || used.writes >= limits.max_txn_ops {
            break;
        }
    }
    chosen
}

/// The counter and some record keys as read in one etcd snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) at: RevRead,
    /// Record key -> its etcd key-value, `None` when absent.
    pub(crate) found: HashMap<String, Option<KeyValue>>,
}

impl Snapshot {
    pub(crate) fn covers<'k>(&self, keys: impl IntoIterator<Item = &'k String>) -> bool {
        keys.into_iter().all(|key| self.found.contains_key(key))
    }

    /// The key of the first check that does not hold, if any.
    pub(crate) fn failed_check(&self, checks: &[Check]) -> Result<Option<String>, StoreError> {
        for check in checks {
            let stored = self
                .found
                .get(&check.key)
                .and_then(Option::as_ref)
                .map(|kv| decode_record(kv.value()))
                .transpose()?;
            let holds = match (&check.expect, stored) {
                (Expect::Absent, stored) => stored.is_none(),
                (Expect::Present, stored) => stored.is_some(),
                (Expect::ModRevision(want), Some((mod_revision, _))) => mod_revision == *want,
                (Expect::ValueEquals(want), Some((_, value))) => value == want.as_slice(),
                (Expect::ModRevision(_) | Expect::ValueEquals(_), None) => false,
            };
            if !holds {
                return Ok(Some(check.key.clone()));
            }
        }
        Ok(None)
    }
}

/// The distinct keys the members check, in first-seen order.
pub(crate) fn checked_keys<'m>(members: impl IntoIterator<Item = &'m Member>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for member in members {
        for check in &member.checks {
            if seen.insert(check.key.as_str()) {
                keys.push(check.key.clone());
            }
        }
    }
    keys
}

/// The etcd compare guarding one check. With a snapshot the compare pins
/// what was read (absent -> version 0, present -> version > 0, otherwise
/// the etcd mod revision read), so nothing can change under a check that
/// was judged on the client. Without one ("blind") only existence checks
/// can be expressed; anything else gets a compare that never holds, so the
/// transaction fails and the next attempt reads first.
fn check_compare(layout: &Layout, check: &Check, snapshot: Option<&Snapshot>) -> Compare {
    let key = layout.record(&check.key);
    let Some(snapshot) = snapshot else {
        return match check.expect {
            Expect::Absent => Compare::version(key, CompareOp::Equal, 0),
            Expect::Present => Compare::version(key, CompareOp::Greater, 0),
            _ => Compare::version(key, CompareOp::Less, 0),
        };
    };
    match (
        &check.expect,
        snapshot.found.get(&check.key).and_then(Option::as_ref),
    ) {
        (_, None) => Compare::version(key, CompareOp::Equal, 0),
        (Expect::Present, Some(_)) => Compare::version(key, CompareOp::Greater, 0),
        (_, Some(kv)) => Compare::mod_revision(key, CompareOp::Equal, kv.mod_revision()),
    }
}

pub(crate) fn fence_compare(fence: &Fence) -> Compare {
    Compare::create_revision(fence.key.clone(), CompareOp::Equal, fence.token)
}

/// Where a batch expects the counter: at an etcd mod revision read or
/// written by us, or as the value the batch in flight before it writes
/// (pipelining: the attempt id makes that value unique, so the compare holds
/// only right after that batch landed, with nothing in between).
#[derive(Debug, Clone)]
pub(crate) enum Position {
    ModRevision(i64),
    After { top: Revision, attempt: CommitId },
}

/// The write transaction of a batch taken at `at` (counter value
/// `at.revision`, compared as `position`), and each member's revision. Its failure branch reads the counter, every checked key and
/// the lock, so a failed attempt needs no extra read to be judged.
pub(crate) fn write_txn(
    layout: &Layout,
    fence: Option<&Fence>,
    at: Revision,
    position: &Position,
    members: &[&Member],
    snapshot: Option<&Snapshot>,
    attempt: &CommitId,
) -> (etcd_client::Txn, Vec<Revision>) {
    let revisions: Vec<Revision> = (1..=members.len() as u64).map(|j| at + j).collect();
    let mut compares = vec![match position {
        Position::ModRevision(0) => Compare::version(layout.rev(), CompareOp::Equal, 0),
        Position::ModRevision(key_mod) => {
            Compare::mod_revision(layout.rev(), CompareOp::Equal, *key_mod)
        }
        Position::After { top, attempt } => {
            Compare::value(layout.rev(), CompareOp::Equal, encode_rev(*top, attempt))
        }
    }];
    let mut writes = Vec::new();
    for (member, &revision) in members.iter().zip(&revisions) {
        compares.extend(
            member
                .checks
                .iter()
                .map(|check| check_compare(layout, check, snapshot)),
        );
        writes.extend(member.ops.iter().map(|op| match op {
            Op::Put { key, value } => {
                TxnOp::put(layout.record(key), encode_record(revision, value), None)
            }
            Op::Delete { key } => TxnOp::delete(layout.record(key), None),
        }));
        if !member.log.is_empty() {
            writes.push(TxnOp::put(
                layout.log(revision),
                encode_entries(&member.log),
                None,
            ));
        }
    }
    let top = at + members.len() as u64;
    writes.push(TxnOp::put(layout.rev(), encode_rev(top, attempt), None));
    let mut otherwise = vec![TxnOp::get(layout.rev(), None)];
    otherwise.extend(
        checked_keys(members.iter().copied())
            .iter()
            .map(|key| TxnOp::get(layout.record(key), None)),
    );
    if let Some(fence) = fence {
        compares.push(fence_compare(fence));
        otherwise.push(TxnOp::get(fence.key.clone(), None));
    }
    let txn = etcd_client::Txn::new()
        .when(compares)
        .and_then(writes)
        .or_else(otherwise);
    (txn, revisions)
}

/// Reads of the counter, `keys` and (when fenced) the lock, in that order,
/// as one snapshot: the failure branch of `write_txn`, or a plain read.
pub(crate) fn parse_reads(
    resp: &TxnResponse,
    keys: &[String],
    fenced: bool,
) -> Result<(Snapshot, Option<Option<KeyValue>>), StoreError> {
    let etcd_revision = resp.header().map(|h| h.revision()).unwrap_or_default();
    let mut reads = resp.op_responses().into_iter().map(|op| match op {
        TxnOpResponse::Get(get) => Ok(get.kvs().first().cloned()),
        _ => Err(StoreError::Backend(
            "etcd answered a failed commit with a write, not the reads it was sent".into(),
        )),
    });
    let short = || StoreError::Backend("etcd answered a failed commit with too few reads".into());
    let counter = reads.next().ok_or_else(short)??;
    let at = RevRead::from_counter(counter.as_ref(), etcd_revision)?;
    let mut found = HashMap::with_capacity(keys.len());
    for key in keys {
        found.insert(key.clone(), reads.next().ok_or_else(short)??);
    }
    let lock = if fenced {
        Some(reads.next().ok_or_else(short)??)
    } else {
        None
    };
    Ok((Snapshot { at, found }, lock))
}

/// The attempt id in the counter as the failure branch of `write_txn` read
/// it (`None`: no counter yet, or not such an answer).
pub(crate) fn counter_attempt(resp: &TxnResponse) -> Option<Vec<u8>> {
    match resp.op_responses().first()? {
        TxnOpResponse::Get(get) => {
            let kv = get.kvs().first()?;
            decode_rev(kv.value()).ok().map(|(_, id)| id.to_vec())
        }
        _ => None,
    }
}

/// Why a failed write was fenced out, if it was: the lock is gone or was
/// created again by another holder.
pub(crate) fn fenced_out(fence: &Fence, lock: Option<&KeyValue>) -> Option<String> {
    let key = String::from_utf8_lossy(&fence.key);
    match lock {
        None => Some(format!(
            "lock {key} is no longer held (our fencing token {} is stale)",
            fence.token
        )),
        Some(kv) if kv.create_revision() != fence.token => Some(format!(
            "lock {key} is held by another leader (token {}, ours {})",
            kv.create_revision(),
            fence.token
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u64, checks: &[(&str, Expect)], puts: &[(&str, usize)]) -> Member {
        Member {
            id,
            checks: checks
                .iter()
                .map(|(key, expect)| Check {
                    key: key.to_string(),
                    expect: expect.clone(),
                })
                .collect(),
            ops: puts
                .iter()
                .map(|(key, bytes)| Op::Put {
                    key: key.to_string(),
                    value: vec![0; *bytes],
                })
                .collect(),
            log: vec![vec![1; 8]],
            enqueued: Instant::now(),
            solo: false,
            in_flight: false,
            reply: None,
        }
    }

    const LIMITS: Limits = Limits {
        max_txn_ops: 128,
        max_txn_bytes: 1024 * 1024,
        fenced: true,
    };

    #[test]
    fn members_touching_a_key_written_earlier_in_the_batch_wait() {
        let queue = vec![
            member(0, &[("z", Expect::Absent)], &[("a", 10)]),
            // checks what member 0 writes: must see member 0's write
            member(1, &[("a", Expect::Present)], &[("b", 10)]),
            // writes what member 0 writes: etcd refuses a key written twice
            member(2, &[], &[("a", 10)]),
            // checks a key member 0 only checked: fine
            member(3, &[("z", Expect::Absent)], &[("c", 10)]),
            member(4, &[], &[("d", 10)]),
        ];
        assert_eq!(choose(&queue, &LIMITS), vec![0, 3, 4]);
    }

    #[test]
    fn batches_stay_within_etcd_txn_ops_and_bytes() {
        // each member: 1 put + 1 log put; 1 counter put per batch
        let queue: Vec<Member> = (0..200)
            .map(|i| member(i, &[], &[(&format!("k{i}"), 10)]))
            .collect();
        let chosen = choose(&queue, &LIMITS);
        assert_eq!(chosen.len(), 63, "1 + 63 * 2 = 127 ops <= 128");
        // 100 KiB values: about ten fit in 1 MiB
        let queue: Vec<Member> = (0..40)
            .map(|i| member(i, &[], &[(&format!("k{i}"), 100 * 1024)]))
            .collect();
        let chosen = choose(&queue, &LIMITS);
        assert!((9..=10).contains(&chosen.len()), "{}", chosen.len());
    }

    #[test]
    fn the_first_commit_goes_even_alone_over_the_limits_and_solo_goes_alone() {
        let mut queue = vec![
            member(0, &[], &[("big", 4 * 1024 * 1024)]),
            member(1, &[], &[("small", 1)]),
        ];
        assert_eq!(choose(&queue, &LIMITS), vec![0]);
        queue[0] = member(0, &[], &[("x", 1)]);
        queue[1].solo = true;
        queue.push(member(2, &[], &[("y", 1)]));
        assert_eq!(choose(&queue, &LIMITS), vec![0, 2], "solo waits its turn");
        queue.remove(0);
        assert_eq!(choose(&queue, &LIMITS), vec![0], "then goes alone");
    }

    #[test]
    fn a_batch_gets_consecutive_revisions_and_one_counter_write() {
        let layout = Layout::new("/t").unwrap();
        let a = member(0, &[("a", Expect::Absent)], &[("a", 1)]);
        let b = member(1, &[], &[("b", 1)]);
        let position = Position::ModRevision(7);
        let (_, revisions) = write_txn(&layout, None, 41, &position, &[&a, &b], None, &[0; 16]);
        assert_eq!(revisions, vec![42, 43]);
    }

    #[test]
    fn later_batches_skip_members_in_flight_and_the_keys_they_write() {
        let mut queue = vec![
            member(0, &[], &[("a", 10)]),
            member(1, &[("a", Expect::Absent)], &[("b", 10)]),
            member(2, &[], &[("a", 10)]),
            member(3, &[("z", Expect::Absent)], &[("c", 10)]),
        ];
        queue[0].in_flight = true;
        assert_eq!(choose(&queue, &LIMITS), vec![3]);
    }
}
