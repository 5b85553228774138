//! The commit protocol with group commit: one task per store takes the
//! queued commits, writes as many as fit into one etcd transaction guarded
//! by the counter key, and answers each.
//!
//! While a transaction is in flight, new commits queue; the next one takes
//! them all (up to etcd's limits, see `batch`). That is what lifts
//! throughput: commits of one process no longer wait one etcd round trip
//! each on the counter.
//!
//! Up to `max_batches_in_flight` transactions are in flight at once: each
//! one sent while another is in flight compares the counter value that one
//! writes (its attempt id makes the value unique), so they land in the order
//! sent or not at all, and our revisions and log keys stay exactly in order
//! (ADR 0035). Only existence-checked commits touching no key in flight are
//! chained; anything needing a read waits for the flights to drain.
//!
//! Each member is judged exactly as it would be alone:
//! - Checks are judged on a snapshot of the counter and the checked keys
//!   (our mod revision and bytes live in the record value), so a failed
//!   check names its key and only that member gets `Conflict`. When every
//!   check is an existence check and we wrote the counter last, the read is
//!   skipped ("blind"): the checks go straight into etcd compares.
//! - The transaction compares the counter key's etcd mod revision (nothing
//!   committed since the snapshot), each check's key (a stray writer that
//!   bypasses the counter cannot slip under a check) and the fence. If it
//!   fails, its failure branch has read the counter, the checked keys and
//!   the lock: a lost lock fails the batch with `Fenced`, anything else is
//!   judged again on that fresh snapshot, member by member.
//! - A transaction whose outcome is unknown (a dropped connection) carries
//!   a fresh attempt id in the counter value. Before anything else is sent
//!   at another counter position, etcd's history tells whether it landed;
//!   so no member is applied twice and none is lost silently.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use diego_store::{Op, Revision, StoreError, Txn};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use etcd_client::TxnResponse;

use crate::batch::{self, CommitId, Limits, Member, Position, Snapshot};
use crate::history::next_counter_write;
use crate::read::{read_checked, RevRead};
use crate::retry::{backend, is_transient, Backoff};
use crate::Shared;

/// A commit handed to the committer task.
pub(crate) struct Request {
    txn: Txn,
    reply: oneshot::Sender<Result<Revision, StoreError>>,
}

/// Starts the committer task of a store.
pub(crate) fn start(shared: Arc<Shared>) -> (mpsc::UnboundedSender<Request>, JoinHandle<()>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(Committer::new(shared).run(receiver));
    (sender, task)
}

pub(crate) async fn commit(
    committer: &mpsc::UnboundedSender<Request>,
    txn: Txn,
) -> Result<Revision, StoreError> {
    let (reply, answer) = oneshot::channel();
    committer
        .send(Request { txn, reply })
        .map_err(|_| StoreError::Backend("etcd store is closed: commit not sent".into()))?;
    answer.await.map_err(|_| {
        StoreError::Backend(
            "etcd store closed before the commit was answered (outcome unknown)".into(),
        )
    })?
}

/// An attempt whose answer never came: it may still land.
struct Attempt {
    /// The counter key's etcd mod revision it compared (unused while
    /// `after` is set).
    sent_at: i64,
    /// Pipelined behind this attempt, also in doubt: it compared the counter
    /// value that attempt writes, so it can only have landed as the next
    /// counter write after that one's.
    after: Option<CommitId>,
    id: CommitId,
    /// Member id -> the revision it gets if the attempt landed.
    revisions: Vec<(u64, Revision)>,
}

type Outcome = Result<Revision, StoreError>;
type TxnAnswer = Result<TxnResponse, etcd_client::Error>;

/// A transaction sent and not yet answered.
struct Flight {
    ids: Vec<u64>,
    revisions: Vec<Revision>,
    attempt: CommitId,
    /// The etcd mod revision of the counter it compared, or `None` when it
    /// compared the value the flight before it writes.
    sent_at: Option<i64>,
    top: Revision,
    sent_keys: Vec<String>,
    /// The first member id admitted after it was sent: its failure branch
    /// read may not judge those.
    admitted: u64,
    answer: JoinHandle<TxnAnswer>,
}

/// What became of the flight answered last, for the one chained behind it.
#[derive(Clone)]
enum Settled {
    /// Landed; its counter write has this etcd mod revision.
    Landed(i64),
    /// Did not land and never will.
    Dead,
    /// Outcome unknown: in `in_doubt` under this attempt id.
    Doubt(CommitId),
}

struct Committer {
    shared: Arc<Shared>,
    /// Waiting commits in arrival order (with those in flight).
    queue: Vec<Member>,
    next_id: u64,
    /// The counter as our last successful write left it; `None` when
    /// another writer may have moved it.
    known: Option<RevRead>,
    /// What the failure branch of the last attempt read, and the first
    /// member id it may not judge: a commit queued later may have been
    /// asked for after the read, and must not get a conflict from it.
    snapshot: Option<(Snapshot, u64)>,
    in_doubt: Vec<Attempt>,
    backoff: Backoff,
    /// Sent and unanswered, oldest first; each after the first is chained
    /// on the one before it.
    flights: VecDeque<Flight>,
    last: Settled,
}

impl Committer {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            queue: Vec::new(),
            next_id: 0,
            known: None,
            snapshot: None,
            in_doubt: Vec::new(),
            backoff: Backoff::new(),
            flights: VecDeque::new(),
            last: Settled::Dead,
        }
    }

    fn unsent(&self) -> bool {
        self.queue.iter().any(|m| !m.in_flight)
    }

    async fn run(mut self, mut receiver: mpsc::UnboundedReceiver<Request>) {
        let mut open = true;
        loop {
            if self.flights.is_empty() && !self.unsent() {
                if !open {
                    return;
                }
                match receiver.recv().await {
                    Some(request) => self.admit(request),
                    None => return,
                }
            }
            // let writers just answered queue their next commit first
            tokio::task::yield_now().await;
            // everything that queued while transactions were in flight
            // joins the next one
            while let Ok(request) = receiver.try_recv() {
                self.admit(request);
            }
            if self.flights.is_empty() {
                if self.unsent() {
                    self.step().await;
                }
                continue;
            }
            if self.flights.len() < self.shared.opts.max_batches_in_flight.max(1)
                && self.unsent()
                && self.chain()
            {
                continue;
            }
            let oldest = self.flights.front_mut().map(|f| &mut f.answer);
            let Some(oldest) = oldest else { continue };
            tokio::select! {
                biased;
                answer = oldest => {
                    let flight = self.flights.pop_front().map(|f| (f, answer));
                    if let Some((flight, answer)) = flight {
                        // the task only ends early if the runtime shuts down:
                        // outcome unknown, like a dropped connection
                        let answer = match answer {
                            Ok(answer) => answer,
                            Err(e) => Err(etcd_client::Error::IoError(std::io::Error::other(
                                format!("commit task ended: {e}"),
                            ))),
                        };
                        self.settle(flight, answer).await;
                    }
                }
                request = receiver.recv(), if open => match request {
                    Some(request) => self.admit(request),
                    None => open = false,
                },
            }
        }
    }

    fn admit(&mut self, request: Request) {
        let Txn { checks, ops, log } = request.txn;
        self.queue.push(Member {
            id: self.next_id,
            checks,
            ops: last_op_per_key(ops),
            log,
            enqueued: std::time::Instant::now(),
            solo: false,
            in_flight: false,
            reply: Some(request.reply),
        });
        self.next_id += 1;
    }

    fn limits(&self) -> Limits {
        Limits {
            max_txn_ops: self.shared.opts.max_txn_ops.max(2),
            max_txn_bytes: self.shared.opts.max_txn_bytes,
            fenced: self.shared.fence.is_some(),
        }
    }

    /// Answers members (wherever they wait) and drops them from the queue.
    fn answer(&mut self, outcomes: HashMap<u64, Outcome>) {
        if outcomes.is_empty() {
            return;
        }
        let mut outcomes = outcomes;
        self.queue
            .retain_mut(|member| match outcomes.remove(&member.id) {
                None => true,
                Some(outcome) => {
                    if let Some(reply) = member.reply.take() {
                        // the caller may have given up waiting; nothing to do
                        let _ = reply.send(outcome);
                    }
                    false
                }
            });
        // an attempt nobody waits for any more needs no settling: its
        // members were told the outcome is unknown and are never sent again
        // (one chained behind it still is settled through it)
        let queue = &self.queue;
        let waited: Vec<bool> = self
            .in_doubt
            .iter()
            .map(|attempt| {
                attempt
                    .revisions
                    .iter()
                    .any(|(id, _)| queue.iter().any(|member| member.id == *id))
            })
            .collect();
        let needed: Vec<CommitId> = self
            .in_doubt
            .iter()
            .zip(&waited)
            .filter(|(_, waited)| **waited)
            .filter_map(|(attempt, _)| attempt.after)
            .collect();
        let mut keep = waited.into_iter();
        self.in_doubt.retain(|attempt| {
            let waited = keep.next().unwrap_or(false);
            waited || needed.contains(&attempt.id)
        });
    }

    fn in_doubt(&self, id: u64) -> bool {
        self.in_doubt
            .iter()
            .any(|a| a.revisions.iter().any(|(member, _)| *member == id))
    }

    /// Fails members with `error`, saying so when an attempt holding one of
    /// them may still have landed.
    fn fail(&mut self, ids: impl IntoIterator<Item = u64>, error: &StoreError) {
        let outcomes = ids
            .into_iter()
            .map(|id| {
                let outcome = if self.in_doubt(id) {
                    StoreError::Backend(format!("commit outcome unknown: {error}"))
                } else {
                    error.clone_for_member()
                };
                (id, Err(outcome))
            })
            .collect();
        self.answer(outcomes);
    }

    /// Members waiting in doubt for longer than the retry budget.
    fn out_of_budget(&self) -> Vec<u64> {
        let budget = self.shared.opts.retry_budget;
        self.queue
            .iter()
            .filter(|m| m.enqueued.elapsed() >= budget && self.in_doubt(m.id))
            .map(|m| m.id)
            .collect()
    }

    /// Back in the queue, to be sent again.
    fn requeue(&mut self, ids: &[u64]) {
        for member in &mut self.queue {
            if ids.contains(&member.id) {
                member.in_flight = false;
            }
        }
    }

    /// One attempt at the next batch, with nothing in flight.
    async fn step(&mut self) {
        // with a snapshot from the last failure pending, the batch is taken
        // from the commits queued before it (a prefix: ids grow), so the
        // same batch is judged on it and a conflicting member cannot keep
        // failing blind batches while new commits arrive
        let eligible = match &self.snapshot {
            Some((_, later)) => self.queue.iter().take_while(|m| m.id < *later).count(),
            None => self.queue.len(),
        };
        let eligible = if eligible == 0 {
            self.snapshot = None;
            self.queue.len()
        } else {
            eligible
        };
        let chosen = batch::choose(&self.queue[..eligible], &self.limits());
        let keys = batch::checked_keys(chosen.iter().map(|&at| &self.queue[at]));
        let blind = self.in_doubt.is_empty()
            && self.known.is_some()
            && chosen.iter().all(|&at| self.queue[at].blind_checkable());
        let snapshot = match self.snapshot.take() {
            Some((snapshot, _)) if snapshot.covers(&keys) => Some(snapshot),
            None if blind => None,
            _ => match read_checked(&self.shared, &keys).await {
                Ok(snapshot) => Some(snapshot),
                Err(e) => {
                    // `read_checked` already retried for the whole budget
                    self.known = None;
                    let ids: Vec<u64> = chosen.iter().map(|&at| self.queue[at].id).collect();
                    self.fail(ids, &e);
                    return;
                }
            },
        };
        let at = match (&snapshot, &self.known) {
            (Some(snapshot), _) => snapshot.at.clone(),
            (None, Some(known)) => known.clone(),
            // not reached: blind needs a known counter
            (None, None) => return,
        };
        if snapshot.is_some() && !self.in_doubt.is_empty() {
            match self.resolve(at.key_mod).await {
                Ok(false) => {}
                // some members landed: choose again on a fresh read
                Ok(true) => return,
                // etcd's history could not be read (a member down): try
                // again later, within each member's budget
                Err(e) => {
                    tracing::debug!(error = %e, "settling a commit in doubt failed; retrying");
                    self.known = None;
                    let late = self.out_of_budget();
                    self.fail(late, &e);
                    self.backoff.wait().await;
                    return;
                }
            }
        }

        // judge checks on the snapshot; a member whose check fails gets its
        // own conflict now (the snapshot is newer than its arrival)
        let mut outcomes = HashMap::new();
        let mut members = Vec::with_capacity(chosen.len());
        for &at in &chosen {
            let member = &self.queue[at];
            let failed = match &snapshot {
                Some(snapshot) => snapshot.failed_check(&member.checks),
                None => Ok(None),
            };
            match failed {
                Ok(None) => members.push(at),
                Ok(Some(key)) => {
                    outcomes.insert(member.id, Err(StoreError::Conflict { key }));
                }
                Err(e) => {
                    outcomes.insert(member.id, Err(e));
                }
            }
        }
        if members.is_empty() {
            if snapshot.is_some() {
                self.known = Some(at);
            }
            self.answer(outcomes);
            return;
        }
        let position = Position::ModRevision(at.key_mod);
        self.send(&members, at.revision, position, snapshot.as_ref());
        self.answer(outcomes);
    }

    /// Sends the next batch chained behind the newest flight, if one can
    /// go: nothing in doubt or pending judgement, and every check an
    /// existence check (judged by etcd when the transaction applies, after
    /// the flights before it). Returns whether one was sent.
    fn chain(&mut self) -> bool {
        if !self.in_doubt.is_empty() || self.snapshot.is_some() {
            return false;
        }
        // a commit that needs a read first (or goes alone) waits for the
        // flights to drain; chaining past it could starve it
        let slow = |m: &Member| !m.in_flight && (m.solo || !m.blind_checkable());
        if self.queue.iter().any(slow) {
            return false;
        }
        let Some(newest) = self.flights.back() else {
            return false;
        };
        let position = Position::After {
            top: newest.top,
            attempt: newest.attempt,
        };
        let at = newest.top;
        let chosen = batch::choose(&self.queue, &self.limits());
        let members = chosen;
        if members.is_empty() {
            return false;
        }
        self.send(&members, at, position, None);
        true
    }

    /// Sends the members at `members` (queue positions) as one transaction
    /// at counter value `at`, in flight until `settle`.
    fn send(
        &mut self,
        members: &[usize],
        at: Revision,
        position: Position,
        snapshot: Option<&Snapshot>,
    ) {
        let attempt: CommitId = rand::random();
        let batch: Vec<&Member> = members.iter().map(|&at| &self.queue[at]).collect();
        let ids: Vec<u64> = batch.iter().map(|m| m.id).collect();
        let sent_keys = batch::checked_keys(batch.iter().copied());
        let layout = &self.shared.layout;
        let fence = self.shared.fence.as_ref();
        let (request, revisions) =
            batch::write_txn(layout, fence, at, &position, &batch, snapshot, &attempt);
        for &at in members {
            self.queue[at].in_flight = true;
        }
        let mut kv = self.shared.kv.clone();
        let answer = tokio::spawn(async move { kv.txn(request).await });
        let sent_at = match position {
            Position::ModRevision(key_mod) => Some(key_mod),
            Position::After { .. } => None,
        };
        self.flights.push_back(Flight {
            top: at + ids.len() as u64,
            ids,
            revisions,
            attempt,
            sent_at,
            sent_keys,
            admitted: self.next_id,
            answer,
        });
    }

    /// Handles the answer of the oldest flight.
    async fn settle(&mut self, flight: Flight, answer: TxnAnswer) {
        let Flight {
            ids,
            revisions,
            attempt,
            sent_at,
            top,
            sent_keys,
            admitted,
            ..
        } = flight;
        // where it was sent, as far as the flight before it tells
        let before = if sent_at.is_some() {
            None
        } else {
            Some(self.last.clone())
        };
        let mut outcomes = HashMap::new();
        let shared = self.shared.clone();
        let fence = shared.fence.as_ref();
        match answer {
            Ok(resp) if resp.succeeded() => {
                // a chained flight landed only right after the one before
                if let Some(Settled::Doubt(before)) = &before {
                    let before = *before;
                    self.landed(&before);
                }
                let etcd_revision = resp.header().map(|h| h.revision()).unwrap_or_default();
                self.known = Some(RevRead {
                    revision: top,
                    key_mod: etcd_revision,
                    etcd_revision,
                });
                // whatever was in doubt compared an older counter: dead now
                self.in_doubt.clear();
                self.backoff = Backoff::new();
                self.shared.publish(top);
                self.last = Settled::Landed(etcd_revision);
                outcomes.extend(ids.into_iter().zip(revisions.into_iter().map(Ok)));
            }
            Ok(resp) => {
                self.last = Settled::Dead;
                if let Some(Settled::Doubt(before)) = &before {
                    // the counter it read may be that flight's write
                    let before = *before;
                    if batch::counter_attempt(&resp).as_deref() == Some(before.as_slice()) {
                        self.landed(&before);
                    }
                }
                match batch::parse_reads(&resp, &sent_keys, fence.is_some()) {
                    Ok((fresh, lock)) => {
                        let fenced = fence
                            .zip(lock)
                            .and_then(|(fence, lock)| batch::fenced_out(fence, lock.as_ref()));
                        if let Some(reason) = fenced {
                            self.known = None;
                            for id in ids {
                                outcomes.insert(id, Err(StoreError::Fenced(reason.clone())));
                            }
                        } else {
                            // a lost race, a failed existence check or a
                            // flight before it that did not land: judge
                            // again on what the failure branch read
                            self.requeue(&ids);
                            self.known = Some(fresh.at.clone());
                            self.snapshot = Some((fresh, admitted));
                        }
                    }
                    Err(e) => {
                        self.known = None;
                        for id in ids {
                            outcomes.insert(id, Err(e.clone_for_member()));
                        }
                    }
                }
            }
            Err(e) if is_transient(&e) => {
                tracing::debug!(error = %e, members = ids.len(), "etcd commit failed; retrying");
                self.known = None;
                match (sent_at, &before) {
                    // chained behind one that did not land: cannot land
                    (None, Some(Settled::Dead)) => {
                        self.requeue(&ids);
                        self.last = Settled::Dead;
                    }
                    (sent_at, before) => {
                        let (sent_at, after) = match before {
                            Some(Settled::Landed(key_mod)) => (*key_mod, None),
                            Some(Settled::Doubt(id)) => (0, Some(*id)),
                            _ => (sent_at.unwrap_or_default(), None),
                        };
                        self.in_doubt.push(Attempt {
                            sent_at,
                            after,
                            id: attempt,
                            revisions: ids.iter().copied().zip(revisions).collect(),
                        });
                        self.requeue(&ids);
                        self.last = Settled::Doubt(attempt);
                    }
                }
                let late = self.out_of_budget();
                self.fail(late, &backend(&self.shared.endpoints, "commit", e));
                if self.flights.is_empty() {
                    self.backoff.wait().await;
                }
                return;
            }
            Err(e) if ids.len() > 1 => {
                // refused as a whole (too large, too many ops): each member
                // goes alone, so a refusal it causes is its own
                tracing::debug!(error = %e, members = ids.len(), "etcd refused a batch; retrying its members alone");
                self.requeue(&ids);
                for member in &mut self.queue {
                    if ids.contains(&member.id) {
                        member.solo = true;
                    }
                }
                self.known = None;
                self.last = Settled::Dead;
            }
            Err(e) => {
                self.known = None;
                self.last = Settled::Dead;
                self.fail(ids, &backend(&self.shared.endpoints, "commit", e));
            }
        }
        self.answer(outcomes);
    }

    /// The attempt `id` in doubt landed: so did every one it was chained
    /// behind. Answers their members; the one chained behind it now waits at
    /// a position only `resolve` can tell (the counter may have moved on).
    fn landed(&mut self, id: &CommitId) {
        let mut outcomes = HashMap::new();
        let mut next = Some(*id);
        while let Some(id) = next.take() {
            let Some(at) = self.in_doubt.iter().position(|a| a.id == id) else {
                break;
            };
            let attempt = self.in_doubt.swap_remove(at);
            if let Some(top) = attempt.revisions.iter().map(|(_, r)| *r).max() {
                self.shared.publish(top);
            }
            outcomes.extend(attempt.revisions.into_iter().map(|(m, r)| (m, Ok(r))));
            next = attempt.after;
        }
        self.answer(outcomes);
    }

    /// Settles attempts in doubt that compared an older counter position
    /// than `now_at`: each such position was followed by exactly one counter
    /// write, and etcd's history says whose. Returns whether one of ours
    /// landed (its members are then answered).
    async fn resolve(&mut self, now_at: i64) -> Result<bool, StoreError> {
        let mut positions: Vec<i64> = self
            .in_doubt
            .iter()
            .filter(|a| a.after.is_none())
            .map(|a| a.sent_at)
            .filter(|&sent_at| sent_at != now_at)
            .collect();
        positions.sort_unstable();
        positions.dedup();
        for sent_at in positions {
            let (top, id, written_at) = next_counter_write(&self.shared, sent_at).await?;
            let landed = self.in_doubt.iter().position(|a| {
                a.after.is_none() && a.sent_at == sent_at && a.id.as_slice() == id.as_slice()
            });
            if let Some(landed) = landed {
                let attempt = self.in_doubt.swap_remove(landed);
                // one attempt landed at that position, so every other one
                // compared a counter that has moved: dead; the one chained
                // behind it now waits at the position its write made
                let mut rest = std::mem::take(&mut self.in_doubt);
                rest.retain(|a| a.after == Some(attempt.id));
                for chained in &mut rest {
                    chained.after = None;
                    chained.sent_at = written_at;
                }
                self.in_doubt = rest;
                self.known = None;
                self.shared.publish(top);
                let outcomes = attempt
                    .revisions
                    .into_iter()
                    .map(|(member, revision)| (member, Ok(revision)))
                    .collect();
                self.answer(outcomes);
                return Ok(true);
            }
            // nothing at that position landed: neither did anything
            // chained behind it
            let mut dead: Vec<CommitId> = self
                .in_doubt
                .iter()
                .filter(|a| a.after.is_none() && a.sent_at == sent_at)
                .map(|a| a.id)
                .collect();
            while !dead.is_empty() {
                self.in_doubt.retain(|a| !dead.contains(&a.id));
                dead = self
                    .in_doubt
                    .iter()
                    .filter(|a| {
                        a.after
                            .is_some_and(|after| !self.in_doubt.iter().any(|b| b.id == after))
                    })
                    .map(|a| a.id)
                    .collect();
            }
        }
        Ok(false)
    }
}

/// `StoreError` is not `Clone`; one failure answers several members.
trait CloneForMember {
    fn clone_for_member(&self) -> StoreError;
}

impl CloneForMember for StoreError {
    fn clone_for_member(&self) -> StoreError {
        match self {
            StoreError::Conflict { key } => StoreError::Conflict { key: key.clone() },
            StoreError::Fenced(reason) => StoreError::Fenced(reason.clone()),
            StoreError::Backend(reason) => StoreError::Backend(reason.clone()),
            StoreError::Compacted { asked, oldest } => StoreError::Compacted {
                asked: *asked,
                oldest: *oldest,
            },
            StoreError::Envelope { key, reason } => StoreError::Envelope {
                key: key.clone(),
                reason: reason.clone(),
            },
        }
    }
}

/// Later ops on a key replace earlier ones (etcd refuses a txn that writes
/// one key twice); the survivors keep their order.
fn last_op_per_key(ops: Vec<Op>) -> Vec<Op> {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<Op> = ops
        .into_iter()
        .rev()
        .filter(|op| {
            let key = match op {
                Op::Put { key, .. } | Op::Delete { key } => key.clone(),
            };
            seen.insert(key)
        })
        .collect();
    kept.reverse();
    kept
}
