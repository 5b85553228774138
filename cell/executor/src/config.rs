//! Executor configuration; defaults follow diego-release.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    pub memory_mb: u64,
    pub disk_mb: u64,
    pub containers: u64,
}

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    pub cell_id: String,
    /// The address the cell advertises (`CF_INSTANCE_IP`), e.g. 127.0.0.1.
    pub external_ip: String,
    pub total: Resources,
    /// Reservations not run within this are completed with `expired container`.
    pub reserved_expiration_ms: u64,
    /// SIGTERM to SIGKILL grace when a Run step is cancelled.
    pub graceful_shutdown_interval_ms: u64,
    pub healthy_monitoring_interval_ms: u64,
    pub unhealthy_monitoring_interval_ms: u64,
    /// The first retry of a failing startup (or not-yet-ready) check comes
    /// this soon, then the pause doubles up to the unhealthy interval.
    /// Diego polls every 2 s from the start, so an app that binds its port
    /// a few ms after spawn waits 2 s to be running; 0 restores that.
    pub startup_first_retry_ms: u64,
    /// How often containers whose backend container vanished are completed.
    pub reap_interval_ms: u64,
    /// Per-container log rate limit; 0 = unlimited.
    pub max_log_lines_per_second: u32,
    /// Lines kept per container for `logs()`.
    pub log_buffer_lines: usize,
    pub max_concurrent_downloads: usize,
    /// Where Downloads with a `cache_key` keep their artifacts (ADR 0031);
    /// `None` downloads everything uncached. The cell sets
    /// `<state dir>/download-cache`.
    pub download_cache_dir: Option<PathBuf>,
    /// The cache's size cap; least recently used entries not in use go first.
    pub download_cache_max_bytes: u64,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            cell_id: "cell".to_string(),
            external_ip: "127.0.0.1".to_string(),
            total: Resources {
                memory_mb: 8192,
                disk_mb: 16384,
                containers: 250,
            },
            reserved_expiration_ms: 60_000,
            graceful_shutdown_interval_ms: 10_000,
            healthy_monitoring_interval_ms: 30_000,
            unhealthy_monitoring_interval_ms: 2_000,
            startup_first_retry_ms: 50,
            reap_interval_ms: 60_000,
            max_log_lines_per_second: 1_000,
            log_buffer_lines: 1_000,
            max_concurrent_downloads: 5,
            download_cache_dir: None,
            download_cache_max_bytes: crate::download_cache::DEFAULT_MAX_BYTES,
        }
    }
}
