//! Replay of the write-ahead log on open: redb holds everything up to its
//! last checkpoint, the log holds the groups acknowledged since.

use redb::{Database, Durability};

use super::tables::{
    encode_entries, EngineError, LOG, META, META_COMPACTED, META_REVISION, RECORDS,
};
use super::wal::Frame;
use super::writer::apply_ops;
use crate::Revision;

/// Applies every transaction newer than `current` in one durable redb
/// commit and returns the new (current, compacted). Frames at or below
/// `current` are leftovers of a checkpoint whose log truncation did not
/// happen before a crash; they are skipped.
pub(crate) fn replay(
    db: &Database,
    frames: &[Frame],
    current: Revision,
    compacted: Revision,
) -> Result<(Revision, Revision), EngineError> {
    let newer = |frame: &&Frame| frame.txns.iter().any(|t| t.revision > current);
    let Some(first) = frames.iter().find(newer) else {
        return Ok((current, compacted));
    };
    let first_revision = first.txns.iter().map(|t| t.revision).find(|&r| r > current);
    tracing::info!(
        from_revision = first_revision,
        frames = frames.len(),
        "store replays its write-ahead log"
    );
    let mut wtx = db.begin_write()?;
    wtx.set_durability(Durability::Immediate);
    let (mut current, mut compacted) = (current, compacted);
    {
        let mut records = wtx.open_table(RECORDS)?;
        let mut log = wtx.open_table(LOG)?;
        for frame in frames {
            for txn in &frame.txns {
                if txn.revision <= current {
                    continue;
                }
                // a gap means frames are missing: better to refuse to open
                // than to serve a state no one ever committed
                if txn.revision != current + 1 {
                    return Err(EngineError::Wal(format!(
                        "wal skips from revision {current} to {}",
                        txn.revision
                    )));
                }
                current = txn.revision;
                apply_ops(&mut records, &txn.ops, current)?;
                if !txn.log.is_empty() {
                    log.insert(current, encode_entries(&txn.log).as_slice())?;
                }
            }
            let target = frame.compacted.min(current);
            if target > compacted {
                log.retain_in(..=target, |_, _| false)?;
                compacted = target;
            }
        }
        let mut meta = wtx.open_table(META)?;
        meta.insert(META_REVISION, current)?;
        meta.insert(META_COMPACTED, compacted)?;
    }
    wtx.commit()?;
    Ok((current, compacted))
}
