//! the streaming auction runner: batches work, asks cells, performs placements
