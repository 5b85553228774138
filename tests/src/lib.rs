//! end-to-end scenarios on the real stack
