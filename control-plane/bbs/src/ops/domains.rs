//! Domains (spec §3.8) and cells.

use diego_model::{validate, CellPresence, Domain, ModelError};

use crate::error::Result;
use crate::keys;
use crate::txn::{Change, Versioned};
use crate::Bbs;

impl Bbs {
    pub async fn upsert_domain(&self, name: &str, ttl_s: u32) -> Result<()> {
        validate::non_empty("domain", name)?;
        let domain = Domain::upsert(name, ttl_s, self.now());
        self.with_retries(|| async {
            let mut change = Change::new();
            match self.read::<Domain>(&keys::domain(name)).await? {
                Some(rec) => change.update(&rec, &domain),
                None => change.create(keys::domain(name), &domain),
            };
            self.commit(change).await?;
            Ok(())
        })
        .await
    }

    /// The fresh domains.
    pub async fn domains(&self) -> Result<Vec<String>> {
        let now = self.now();
        let all: Vec<Versioned<Domain>> = self.scan(keys::DOMAINS).await?;
        Ok(all
            .into_iter()
            .filter(|d| d.value.is_fresh(now))
            .map(|d| d.value.name)
            .collect())
    }

    /// Convergence's first step: forget expired domains.
    pub async fn delete_expired_domains(&self) -> Result<usize> {
        let now = self.now();
        let all: Vec<Versioned<Domain>> = self.scan(keys::DOMAINS).await?;
        let mut n = 0;
        for d in all.iter().filter(|d| !d.value.is_fresh(now)) {
            let mut change = Change::new();
            change.delete(d);
            if self.commit(change).await.is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    pub async fn cells_list(&self) -> Result<Vec<CellPresence>> {
        self.cells
            .cells()
            .await
            .map_err(|e| ModelError::new(diego_model::ErrorCode::UnknownError, e).into())
    }

    /// A cell's presence heartbeat.
    pub async fn report_cell(&self, presence: CellPresence, ttl_ms: u64) -> Result<()> {
        presence.validate()?;
        if ttl_ms == 0 {
            return Err(ModelError::invalid_field("ttl_ms", "must be greater than 0").into());
        }
        self.cells
            .report(presence, ttl_ms)
            .await
            .map_err(|e| ModelError::new(diego_model::ErrorCode::UnknownError, e).into())
    }
}
