//! Why each piece of work went where it went. A compact tally and the winner's score parts are
//! always recorded; the per-cell verdict list only with `AuctionConfig::explain`.

use std::fmt;

use crate::error::{PlacementError, ResourceProblems};
use crate::filter::Constraint;
use crate::score::ScoreParts;

/// Which piece of work a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WorkId {
    Lrp { process_guid: String, index: i32 },
    Task { task_guid: String },
}

impl fmt::Display for WorkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkId::Lrp {
                process_guid,
                index,
            } => write!(f, "lrp {process_guid}/{index}"),
            WorkId::Task { task_guid } => write!(f, "task {task_guid}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Outcome {
    Placed { cell_id: String, score: ScoreParts },
    Failed(PlacementError),
}

/// What happened to one cell while placing one piece of work.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Verdict {
    /// Failed a placement constraint (the first one, in Diego's order).
    Filtered(Constraint),
    /// Compatible but short of these resources.
    Insufficient(ResourceProblems),
    /// Compatible, fits, and scored; `named` holds the scorer's named contributions.
    Scored {
        parts: ScoreParts,
        named: Vec<(String, f64)>,
    },
    /// Compatible, but in a zone the zone-spreading walk never reached (LRPs only).
    ZoneSkipped,
    /// Compatible and fits, but a scorer (plugin) refused it, with the scorer's reason.
    Rejected(String),
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CellVerdict {
    pub cell_id: String,
    pub verdict: Verdict,
}

/// One line per cell for `diego why`, e.g. `filtered: rootfs`, `insufficient resources:
/// memory` or `score 0.412 = resource 0.162 + starting 0.25 + same process 0 + tasks 0`.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Filtered(constraint) => write!(f, "filtered: {}", constraint.as_str()),
            Verdict::Insufficient(problems) if problems.is_empty() => {
                f.write_str("insufficient resources")
            }
            Verdict::Insufficient(problems) => write!(f, "insufficient resources: {problems}"),
            Verdict::Scored { parts, named } => {
                write!(
                    f,
                    "score {} = resource {} + starting {} + same process {} + tasks {}",
                    Num(parts.total()),
                    Num(parts.resource),
                    Num(parts.starting),
                    Num(parts.same_process),
                    Num(parts.tasks),
                )?;
                // Bin-pack and plugin terms are zero under Diego's defaults; printing them
                // only when they count keeps the common line short.
                if parts.bin_pack != 0.0 {
                    write!(f, " + bin pack {}", Num(parts.bin_pack))?;
                }
                if parts.plugin != 0.0 || !named.is_empty() {
                    write!(f, " + plugins {}", Num(parts.plugin))?;
                }
                if !named.is_empty() {
                    f.write_str(" (")?;
                    for (i, (name, value)) in named.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{name} {}", Num(*value))?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
            Verdict::ZoneSkipped => f.write_str("not scored: its zone has more instances"),
            Verdict::Rejected(reason) => write!(f, "rejected by scorer {reason}"),
        }
    }
}

impl fmt::Display for CellVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.cell_id, self.verdict)
    }
}

/// A score term for people: three decimals, trailing zeros dropped (`0.25`, `1000`, `0`).
struct Num(f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.3}", self.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        // `-0.0001` rounds to `-0.000`, which trims to `-0`.
        f.write_str(if text == "-0" || text.is_empty() {
            "0"
        } else {
            text
        })
    }
}

/// Counts of cell verdicts for one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Tally {
    pub scored: u32,
    pub insufficient: u32,
    pub filtered_rootfs: u32,
    pub filtered_volume_drivers: u32,
    pub filtered_placement_tags: u32,
    pub zone_skipped: u32,
    /// Fitting cells a scorer (plugin) refused.
    pub rejected: u32,
}

impl Tally {
    pub fn filtered(&self) -> u32 {
        self.filtered_rootfs + self.filtered_volume_drivers + self.filtered_placement_tags
    }
}

#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Decision {
    pub work: WorkId,
    pub outcome: Outcome,
    pub tally: Tally,
    /// Per-cell verdicts, in the scheduler's (seeded) cell order; empty unless explaining.
    pub cells: Vec<CellVerdict>,
    /// The winner's score per scorer when several are combined (e.g. `1×diego`, `0.5×spread`),
    /// recorded even without per-cell verdicts; empty for a single scorer.
    pub scorers: Vec<(String, f64)>,
    /// Why this decision was not made as configured, e.g. a plugin that failed and the
    /// default scorer that placed the auction instead. Set by the runner.
    pub notes: Vec<String>,
}

impl Decision {
    pub fn placed_on(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Placed { cell_id, .. } => Some(cell_id),
            Outcome::Failed(_) => None,
        }
    }

    /// One human line, e.g. `lrp web/3: placed on cell-2 (score 0.41; 3 cells scored,
    /// 1 filtered: rootfs)` or `task t1: not placed: insufficient resources: memory (...)`.
    pub fn summary(&self) -> String {
        let counts = self.counts_text();
        let mut line = match &self.outcome {
            Outcome::Placed { cell_id, score } if self.scorers.is_empty() => format!(
                "{}: placed on {cell_id} (score {:.2}; {counts})",
                self.work,
                score.total()
            ),
            Outcome::Placed { cell_id, score } => {
                let terms: Vec<String> = self
                    .scorers
                    .iter()
                    .map(|(name, value)| format!("{name} {}", Num(*value)))
                    .collect();
                format!(
                    "{}: placed on {cell_id} (score {:.2} = {}; {counts})",
                    self.work,
                    score.total(),
                    terms.join(" + ")
                )
            }
            Outcome::Failed(error) if counts.is_empty() => {
                format!("{}: not placed: {error}", self.work)
            }
            Outcome::Failed(error) => format!("{}: not placed: {error} ({counts})", self.work),
        };
        for note in &self.notes {
            line.push_str("; ");
            line.push_str(note);
        }
        line
    }

    fn counts_text(&self) -> String {
        let tally = &self.tally;
        let mut parts = Vec::new();
        if tally.scored > 0 || matches!(self.outcome, Outcome::Placed { .. }) {
            parts.push(format!(
                "{} {} scored",
                tally.scored,
                cells_word(tally.scored)
            ));
        }
        if tally.insufficient > 0 {
            parts.push(format!("{} too full", tally.insufficient));
        }
        let kinds: Vec<(u32, &str)> = [
            (tally.filtered_rootfs, Constraint::Rootfs),
            (tally.filtered_volume_drivers, Constraint::VolumeDrivers),
            (tally.filtered_placement_tags, Constraint::PlacementTags),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| (n, kind.as_str()))
        .collect();
        match kinds.as_slice() {
            [] => {}
            [(n, kind)] => parts.push(format!("{n} filtered: {kind}")),
            many => {
                let detail: Vec<String> = many.iter().map(|(n, k)| format!("{n} {k}")).collect();
                parts.push(format!(
                    "{} filtered: {}",
                    tally.filtered(),
                    detail.join(", ")
                ));
            }
        }
        if tally.rejected > 0 {
            parts.push(format!("{} rejected by scorers", tally.rejected));
        }
        if tally.zone_skipped > 0 {
            parts.push(format!("{} in busier zones", tally.zone_skipped));
        }
        parts.join(", ")
    }
}

fn cells_word(n: u32) -> &'static str {
    if n == 1 {
        "cell"
    } else {
        "cells"
    }
}
