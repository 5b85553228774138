//! The CNI portmap plugin's two backends and the residue of the nftables one (ADR 0019).
//!
//! Debian's portmap (containernetworking-plugins 1.1.1) programs host ports with about
//! 40 `iptables` runs per container; upstream portmap >= v1.5 can use nftables instead
//! (`"backend": "nftables"`: one `nft` transaction per ADD). scripts/setup.sh builds it
//! into a diego-owned directory and writes the version beside it; a portmap found there
//! with a version of at least [`NFTABLES_SINCE`] gets the nftables backend.
//!
//! The nftables backend keeps every container's rules in one machine-wide table,
//! `ip cni_hostport`, which it never removes. The backend removes it once it holds no
//! container's rule, under a machine-wide lock that portmap ADD and DEL runs share, so
//! a table another cell is adding to is never deleted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cmd;
use crate::error::{OciError, Result};

/// The first upstream release of containernetworking/plugins with the nftables backend.
pub const NFTABLES_SINCE: (u32, u32, u32) = (1, 5, 0);
/// Written by scripts/setup.sh beside the plugins it builds, e.g. `v1.6.2`.
pub const VERSION_FILE: &str = "VERSION";
/// The table the nftables backend keeps its rules in (`tableName` in upstream's
/// portmap_nftables.go).
pub const HOSTPORT_TABLE: &str = "cni_hostport";
/// Held shared around every nftables portmap run and exclusively while the table is
/// checked and removed; flock locks work between processes and between open files of
/// one process, so every cell on the machine takes part.
const LOCK_FILE: &str = "/run/lock/diego-cni-hostport.lock";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PortmapBackend {
    /// What every portmap supports; also what containers made before ADR 0019 used.
    #[default]
    Iptables,
    Nftables,
}

impl PortmapBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            PortmapBackend::Iptables => "iptables",
            PortmapBackend::Nftables => "nftables",
        }
    }
}

/// `v1.6.2` (or `1.6.2`, trailing text ignored) -> (1, 6, 2).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let core = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Whether the portmap binary at `plugin` has the nftables backend: the VERSION file
/// setup.sh writes beside it names a release that has it. Debian's /usr/lib/cni has
/// no such file (and its 1.1.1 silently ignores `backend`), so it stays on iptables.
pub fn supports_nftables(plugin: &Path) -> bool {
    let Some(dir) = plugin.parent() else {
        return false;
    };
    std::fs::read_to_string(dir.join(VERSION_FILE))
        .ok()
        .and_then(|v| parse_version(&v))
        .is_some_and(|v| v >= NFTABLES_SINCE)
}

/// Whether the `nft` tool the nftables backend runs is on PATH.
pub fn nft_available() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("nft").is_file()))
}

/// A held flock on [`LOCK_FILE`]; released on drop.
pub(crate) struct TableLock(#[allow(dead_code)] std::fs::File);

fn open_lock() -> Result<std::fs::File> {
    let path = PathBuf::from(LOCK_FILE);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(OciError::io(format!("create {}", dir.display())))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(OciError::io(format!("open {LOCK_FILE}")))
}

/// The shared lock a portmap ADD or DEL on the nftables backend runs under.
pub(crate) async fn lock_shared() -> Result<TableLock> {
    crate::sys::blocking(|| {
        let file = open_lock()?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on an open descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH) } != 0 {
            return Err(OciError::io(format!("flock {LOCK_FILE}"))(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(TableLock(file))
    })
    .await
}

/// The exclusive lock, or None when a portmap run holds it shared right now: that
/// run's cell has a container, and removes the table itself once its last one goes.
/// (Waiting instead could starve behind a steady stream of other cells' runs.)
fn try_lock_exclusive() -> Result<Option<TableLock>> {
    let file = open_lock()?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on an open descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(Some(TableLock(file)));
    }
    let err = std::io::Error::last_os_error();
    if err.kind() == std::io::ErrorKind::WouldBlock {
        return Ok(None);
    }
    Err(OciError::io(format!("flock {LOCK_FILE}"))(err))
}

/// Whether `nft --json list table` output holds a container's rule: the plugin
/// comments each of them with the container id; its own jump rules carry none.
fn holds_container_rules(listing: &serde_json::Value) -> bool {
    listing["nftables"].as_array().is_some_and(|objects| {
        objects
            .iter()
            .any(|o| o.get("rule").is_some_and(|r| r.get("comment").is_some()))
    })
}

/// The chains upstream's DEL looks in for a container's rules.
const CONTAINER_CHAINS: [&str; 3] = ["hostports", "hostip_hostports", "masquerading"];

/// `nft --json list table ip cni_hostport`, or None when there is no such table.
async fn list_table() -> Result<Option<serde_json::Value>> {
    let out = match cmd::run("nft", &["--json", "list", "table", "ip", HOSTPORT_TABLE]).await {
        Ok(out) => out,
        Err(OciError::Command { stderr, .. }) if stderr.contains("No such file or directory") => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    serde_json::from_str(&out)
        .map(Some)
        .map_err(|e| OciError::Command {
            cmd: format!("nft --json list table ip {HOSTPORT_TABLE}"),
            stderr: format!("unreadable json: {e}"),
        })
}

/// An nft script deleting, by handle, the rules of container `id` in `listing`: what
/// upstream's nftables DEL deletes (rules commented with the container id in the
/// three chains) for the one family our containers have.
fn delete_script(listing: &serde_json::Value, id: &str) -> String {
    let Some(objects) = listing["nftables"].as_array() else {
        return String::new();
    };
    objects
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter(|r| r["comment"].as_str() == Some(id))
        .filter_map(|r| {
            let chain = r["chain"].as_str()?;
            let handle = r["handle"].as_u64()?;
            CONTAINER_CHAINS
                .contains(&chain)
                .then(|| format!("delete rule ip {HOSTPORT_TABLE} {chain} handle {handle}\n"))
        })
        .collect()
}

/// Removes container `id`'s host-port rules in one nft transaction: two `nft` runs
/// instead of the plugin's DEL, which runs `nft` twelve times (a version check, a
/// dry run and three listings, for IPv4 and again for IPv6). Run under
/// [`lock_shared`]; a missing table or rule is not an error (DEL is idempotent).
pub(crate) async fn delete_container_rules(id: &str) -> Result<()> {
    let Some(listing) = list_table().await? else {
        return Ok(());
    };
    let script = delete_script(&listing, id);
    if script.is_empty() {
        return Ok(());
    }
    cmd::run_with_stdin("nft", &["-f", "-"], &[], Some(script.as_bytes()))
        .await
        .map(|_| ())
}

/// Removes `ip cni_hostport` when no container's rule is left in it; a table in use
/// (by any cell, or anything else using the plugin) or a lock held elsewhere is left.
/// Returns whether it removed the table.
pub(crate) async fn remove_table_if_unused() -> Result<bool> {
    let Some(_lock) = crate::sys::blocking(try_lock_exclusive).await? else {
        return Ok(false);
    };
    let Some(listing) = list_table().await? else {
        return Ok(false);
    };
    if holds_container_rules(&listing) {
        return Ok(false);
    }
    cmd::run("nft", &["delete", "table", "ip", HOSTPORT_TABLE]).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_parse_with_or_without_v() {
        assert_eq!(parse_version("v1.6.2\n"), Some((1, 6, 2)));
        assert_eq!(parse_version("1.5"), Some((1, 5, 0)));
        assert_eq!(parse_version("v1.1.1+debian"), Some((1, 1, 1)));
        assert_eq!(parse_version("unknown"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn nftables_needs_a_version_file_naming_1_5_or_later() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("portmap");
        assert!(!supports_nftables(&plugin), "no VERSION file: debian's");
        std::fs::write(dir.path().join(VERSION_FILE), "v1.4.1\n").unwrap();
        assert!(!supports_nftables(&plugin));
        std::fs::write(dir.path().join(VERSION_FILE), "v1.5.0\n").unwrap();
        assert!(supports_nftables(&plugin));
        std::fs::write(dir.path().join(VERSION_FILE), "v1.6.2\n").unwrap();
        assert!(supports_nftables(&plugin));
        std::fs::write(dir.path().join(VERSION_FILE), "garbage").unwrap();
        assert!(!supports_nftables(&plugin));
    }

    #[test]
    fn only_commented_rules_count_as_a_containers() {
        let empty = json!({"nftables": [
            {"metainfo": {"version": "1.0.6"}},
            {"table": {"family": "ip", "name": "cni_hostport"}},
            {"chain": {"family": "ip", "table": "cni_hostport", "name": "prerouting"}},
            {"rule": {"family": "ip", "table": "cni_hostport", "chain": "prerouting",
                      "handle": 4, "expr": [{"jump": {"target": "hostports"}}]}},
        ]});
        assert!(!holds_container_rules(&empty));
        let mut used = empty.clone();
        used["nftables"].as_array_mut().unwrap().push(json!(
            {"rule": {"family": "ip", "table": "cni_hostport", "chain": "hostports",
                      "handle": 9, "comment": "web-1", "expr": []}}
        ));
        assert!(holds_container_rules(&used));
        assert!(!holds_container_rules(&json!({})));
    }

    #[test]
    fn the_delete_script_names_only_that_containers_rules() {
        let rule = |chain: &str, handle: u64, comment: Option<&str>| {
            let mut r = json!({"family": "ip", "table": "cni_hostport", "chain": chain,
                               "handle": handle, "expr": []});
            if let Some(c) = comment {
                r["comment"] = json!(c);
            }
            json!({ "rule": r })
        };
        let listing = json!({"nftables": [
            {"table": {"family": "ip", "name": "cni_hostport"}},
            rule("prerouting", 3, None),
            rule("hostports", 7, Some("web-1")),
            rule("hostports", 8, Some("web-10")),
            rule("masquerading", 9, Some("web-1")),
            rule("masquerading", 10, Some("web-1")),
            rule("elsewhere", 11, Some("web-1")),
        ]});
        assert_eq!(
            delete_script(&listing, "web-1"),
            "delete rule ip cni_hostport hostports handle 7\n\
             delete rule ip cni_hostport masquerading handle 9\n\
             delete rule ip cni_hostport masquerading handle 10\n"
        );
        assert_eq!(delete_script(&listing, "web-2"), "");
        assert_eq!(delete_script(&json!({}), "web-1"), "");
    }
}
