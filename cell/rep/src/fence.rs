//! Work from a deposed auctioneer is refused (ADR 0022): the rep keeps the
//! highest fencing token a `Perform` carried and refuses a lower one. The
//! token is kept in a file, so a restarted rep still refuses the deposed
//! auctioneer it refused before.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

use crate::Rep;

impl Rep {
    /// Admits a `Perform` from an auctioneer holding `token`, or says why not.
    /// The check and the update are one atomic step, so two auctioneers
    /// racing cannot both pass with the older token after the newer.
    pub fn admit_auctioneer(&self, token: i64) -> Result<(), String> {
        let seen = self
            .inner
            .auctioneer_token
            .fetch_max(token, Ordering::SeqCst);
        if token < seen {
            tracing::warn!(
                cell = %self.cell_id(),
                token,
                seen,
                "refusing work from a deposed auctioneer"
            );
            return Err(format!(
                "fenced: auctioneer fencing token {token} is older than {seen} already seen by cell {}; this auctioneer has lost its lock",
                self.cell_id()
            ));
        }
        if token > seen {
            self.keep_token();
        }
        Ok(())
    }

    /// Writes the highest token seen so far. A failure is logged, not
    /// returned: refusing work because a disk is full would stop the cell,
    /// and the BBS's own checks still keep a task from running twice.
    fn keep_token(&self) {
        let Some(path) = self.inner.cfg.fencing_token_file.as_deref() else {
            return;
        };
        let _one_writer = self
            .inner
            .token_file_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // read under the lock: a racing higher token is written, never undone
        let token = self.inner.auctioneer_token.load(Ordering::SeqCst);
        if let Err(e) = store(path, token) {
            tracing::warn!(path = %path.display(), token, error = %e, "cannot keep the auctioneer fencing token");
        }
    }

    /// The highest auctioneer fencing token seen (0: none yet).
    pub fn auctioneer_token(&self) -> i64 {
        self.inner.auctioneer_token.load(Ordering::SeqCst)
    }
}

/// The token a previous run kept; 0 when there is none or it is unreadable
/// (said in the log: the cell then trusts the next auctioneer, as before).
pub(crate) fn load(path: Option<&Path>) -> i64 {
    let Some(path) = path else { return 0 };
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse().unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable auctioneer fencing token");
            0
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the auctioneer fencing token");
            0
        }
    }
}

/// Temp file, fsync, rename: a crash leaves the old token or the new one.
fn store(path: &Path, token: i64) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(token.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    match path.parent() {
        // the rename itself is durable once the directory is synced
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_token_is_read_back_and_a_bad_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cell").join("token");
        assert_eq!(load(Some(&path)), 0, "no file yet");
        store(&path, 41).unwrap();
        store(&path, 42).unwrap();
        assert_eq!(load(Some(&path)), 42);
        assert!(!path.with_extension("tmp").exists(), "no temp file left");
        std::fs::write(&path, "not a number").unwrap();
        assert_eq!(load(Some(&path)), 0);
        assert_eq!(load(None), 0);
    }
}
