//! The write-ahead log in front of redb.
//!
//! A durable redb commit rewrites every B-tree page a group touched and
//! fsyncs them: with random keys that is one scattered 4 KiB page per
//! record. The writer instead appends one frame per group commit to this
//! file and fdatasyncs it (one small sequential write), then commits redb
//! without a sync. A checkpoint (a durable redb commit) later makes redb
//! hold everything and empties the log. On open, frames newer than redb's
//! revision are replayed.
//!
//! File layout: frames back to back, each
//! `[payload len u32 le][crc32 of payload u32 le][payload]`, the payload
//! `[format u8 = 1][compacted u64][txn count u32]` then per transaction
//! `[revision u64][op count u32]` ops `[1][key][value]` (put) or `[2][key]`
//! (delete), `[log count u32][entry]*`, where keys, values and entries are
//! `[len u32 le][bytes]`. A crash can leave a torn frame at the end: reading
//! stops at the first frame that is short or fails its checksum, which can
//! only be one that was never acknowledged (an ack follows the fdatasync of
//! its frame and of every byte before it). The writer thread writes frames;
//! the fdatasyncs run on the `pipeline`'s threads, on the same file.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::tables::EngineError;
use crate::{Op, Revision};

const FRAME_FORMAT_V1: u8 = 1;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const HEADER_BYTES: usize = 8;

/// One committed transaction as the log holds it: its checks already
/// passed, so replay applies it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalTxn {
    pub(crate) revision: Revision,
    pub(crate) ops: Vec<Op>,
    pub(crate) log: Vec<Vec<u8>>,
}

/// One group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The change-log compaction point after the group.
    pub(crate) compacted: Revision,
    pub(crate) txns: Vec<WalTxn>,
}

/// Builds the bytes of one frame (header included) from borrowed parts, so
/// the write path does not clone transactions.
pub(crate) struct FrameBuilder {
    bytes: Vec<u8>,
    txns: u32,
}

impl FrameBuilder {
    pub(crate) fn new(compacted: Revision) -> Self {
        let mut bytes = Vec::with_capacity(4096);
        bytes.extend_from_slice(&[0; HEADER_BYTES]);
        bytes.push(FRAME_FORMAT_V1);
        bytes.extend_from_slice(&compacted.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        Self { bytes, txns: 0 }
    }

    pub(crate) fn set_compacted(&mut self, compacted: Revision) {
        let at = HEADER_BYTES + 1;
        self.bytes[at..at + 8].copy_from_slice(&compacted.to_le_bytes());
    }

    pub(crate) fn push(&mut self, revision: Revision, ops: &[Op], log: &[Vec<u8>]) {
        let out = &mut self.bytes;
        out.extend_from_slice(&revision.to_le_bytes());
        out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
        for op in ops {
            match op {
                Op::Put { key, value } => {
                    out.push(OP_PUT);
                    put_bytes(out, key.as_bytes());
                    put_bytes(out, value);
                }
                Op::Delete { key } => {
                    out.push(OP_DELETE);
                    put_bytes(out, key.as_bytes());
                }
            }
        }
        out.extend_from_slice(&(log.len() as u32).to_le_bytes());
        for entry in log {
            put_bytes(out, entry);
        }
        self.txns += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.txns == 0
    }

    /// The finished frame, header filled in.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let count_at = HEADER_BYTES + 1 + 8;
        self.bytes[count_at..count_at + 4].copy_from_slice(&self.txns.to_le_bytes());
        let payload = &self.bytes[HEADER_BYTES..];
        let len = payload.len() as u32;
        let crc = crc32fast::hash(payload);
        self.bytes[..4].copy_from_slice(&len.to_le_bytes());
        self.bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        self.bytes
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The open log file; only the writer thread holds it.
pub(crate) struct Wal {
    file: Arc<File>,
    path: PathBuf,
    len_bytes: u64,
}

impl Wal {
    /// Opens (or creates) the log and reads its frames. A torn tail is cut
    /// off so new frames follow the last good one.
    pub(crate) fn open(path: &Path) -> Result<(Self, Vec<Frame>), EngineError> {
        let io = |what: &str, e: std::io::Error| wal_error(path, what, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| io("cannot open", e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io("cannot read", e))?;
        let (frames, good_bytes) = decode_frames(&bytes);
        if good_bytes < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                kept_bytes = good_bytes,
                dropped_bytes = bytes.len() - good_bytes,
                "store wal ends in a torn frame (a crash during an unacknowledged commit); dropping it"
            );
            file.set_len(good_bytes as u64)
                .and_then(|()| file.sync_data())
                .map_err(|e| io("cannot cut torn tail of", e))?;
        }
        let wal = Self {
            file: Arc::new(file),
            path: path.to_path_buf(),
            len_bytes: good_bytes as u64,
        };
        Ok((wal, frames))
    }

    pub(crate) fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    /// The file, for the threads that sync it.
    pub(crate) fn file(&self) -> Arc<File> {
        self.file.clone()
    }

    /// Writes a frame after the last one, without syncing it (the
    /// pipeline does). On error the file is cut back, so a failed group
    /// leaves no frame behind.
    pub(crate) fn write(&mut self, frame: &[u8]) -> Result<(), EngineError> {
        if let Err(e) = self.file.write_all_at(frame, self.len_bytes) {
            // best effort: the writer stops after this error anyway, and a
            // frame that stays behind only replays writes nobody was told
            // about (the outcome of a failed commit is unknown, as with
            // any remote store)
            if let Err(undo) = self.truncate(self.len_bytes) {
                tracing::error!(error = %undo, "cannot undo a failed wal write");
            }
            return Err(wal_error(&self.path, "cannot write to", e));
        }
        self.len_bytes += frame.len() as u64;
        Ok(())
    }

    /// Cuts the log to `len_bytes` durably (undo of the last append, or
    /// emptying it after a checkpoint).
    pub(crate) fn truncate(&mut self, len_bytes: u64) -> Result<(), EngineError> {
        self.file
            .set_len(len_bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| wal_error(&self.path, "cannot truncate", e))?;
        self.len_bytes = len_bytes;
        Ok(())
    }
}

fn wal_error(path: &Path, what: &str, err: std::io::Error) -> EngineError {
    EngineError::Wal(format!("{what} wal {}: {err}", path.display()))
}

/// Every complete frame, and how many leading bytes they fill.
fn decode_frames(bytes: &[u8]) -> (Vec<Frame>, usize) {
    let mut frames = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER_BYTES) {
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let Some(payload) = bytes.get(at + HEADER_BYTES..at + HEADER_BYTES + len) else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(frame) = decode_payload(payload) else {
            break;
        };
        frames.push(frame);
        at += HEADER_BYTES + len;
    }
    (frames, at)
}

fn decode_payload(payload: &[u8]) -> Result<Frame, &'static str> {
    let mut r = Reader(payload);
    if r.u8()? != FRAME_FORMAT_V1 {
        return Err("unknown frame format");
    }
    let compacted = r.u64()?;
    let txn_count = r.u32()?;
    let mut txns = Vec::new();
    for _ in 0..txn_count {
        let revision = r.u64()?;
        let op_count = r.u32()?;
        let mut ops = Vec::new();
        for _ in 0..op_count {
            let kind = r.u8()?;
            let key = String::from_utf8(r.bytes()?.to_vec()).map_err(|_| "key not utf-8")?;
            ops.push(match kind {
                OP_PUT => Op::Put {
                    key,
                    value: r.bytes()?.to_vec(),
                },
                OP_DELETE => Op::Delete { key },
                _ => return Err("unknown op kind"),
            });
        }
        let log_count = r.u32()?;
        let mut log = Vec::new();
        for _ in 0..log_count {
            log.push(r.bytes()?.to_vec());
        }
        txns.push(WalTxn { revision, ops, log });
    }
    if !r.0.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Frame { compacted, txns })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("truncated frame");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, &'static str> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, &'static str> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn bytes(&mut self) -> Result<&'a [u8], &'static str> {
        let len = self.u32()? as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &[u8]) -> Op {
        Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
        }
    }

    fn frame(first: Revision) -> (Vec<u8>, Frame) {
        let ops = vec![
            put("a", b"1"),
            Op::Delete {
                key: "b".to_string(),
            },
        ];
        let log = vec![b"event".to_vec(), Vec::new()];
        let mut builder = FrameBuilder::new(0);
        builder.push(first, &ops, &log);
        builder.push(first + 1, &[], &[]);
        builder.set_compacted(first - 1);
        let expected = Frame {
            compacted: first - 1,
            txns: vec![
                WalTxn {
                    revision: first,
                    ops,
                    log,
                },
                WalTxn {
                    revision: first + 1,
                    ops: Vec::new(),
                    log: Vec::new(),
                },
            ],
        };
        (builder.finish(), expected)
    }

    #[test]
    fn frames_round_trip() {
        let (one, first) = frame(5);
        let (two, second) = frame(7);
        let bytes = [one.clone(), two].concat();
        assert_eq!(decode_frames(&bytes), (vec![first, second], bytes.len()));
        assert_eq!(decode_frames(&[]), (Vec::new(), 0));
    }

    #[test]
    fn a_torn_or_corrupt_tail_ends_the_log() {
        let (one, first) = frame(5);
        let (two, _) = frame(7);
        let whole = [one.clone(), two.clone()].concat();
        // cut anywhere inside the second frame
        for cut in one.len() + 1..whole.len() {
            assert_eq!(
                decode_frames(&whole[..cut]),
                (vec![first.clone()], one.len())
            );
        }
        // a flipped bit in the second frame's payload
        let mut flipped = whole.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert_eq!(decode_frames(&flipped), (vec![first], one.len()));
    }

    #[test]
    fn append_truncate_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.wal");
        let (one, first) = frame(5);
        {
            let (mut wal, frames) = Wal::open(&path).unwrap();
            assert!(frames.is_empty());
            wal.write(&one).unwrap();
            wal.write(&one).unwrap();
            assert_eq!(wal.len_bytes(), 2 * one.len() as u64);
            wal.truncate(one.len() as u64).unwrap();
        }
        // garbage after the good frame, as a crash mid-append leaves it
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[9, 0, 0, 0, 1, 2]);
        std::fs::write(&path, &bytes).unwrap();
        let (wal, frames) = Wal::open(&path).unwrap();
        assert_eq!(frames, vec![first]);
        assert_eq!(wal.len_bytes(), one.len() as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), one.len() as u64);
    }
}
