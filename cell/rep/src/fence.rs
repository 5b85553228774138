//! Work from a deposed auctioneer is refused (ADR 0022): the rep keeps the
//! highest fencing token a `Perform` carried and refuses a lower one.

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
        Ok(())
    }

    /// The highest auctioneer fencing token seen (0: none yet).
    pub fn auctioneer_token(&self) -> i64 {
        self.inner.auctioneer_token.load(Ordering::SeqCst)
    }
}
