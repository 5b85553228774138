//! convergence: a pure plan over a snapshot, and the runner that applies it
