//! The OCI runtime binary: runc (Go) or crun (C). Both take the same bundle, the same
//! `--root`, `run -d --pid-file`, `exec --process --pid-file`, `delete [-f]` and `list`;
//! what differs is their start-up cost (a Go runtime per runc invocation) and the
//! words of their errors (ADR 0025).

use std::path::{Path, PathBuf};

use crate::error::{OciError, Result};

/// Chooses the runtime of a cell: `runc` or `crun`. Unset = automatic (`detect`).
pub const RUNTIME_ENV: &str = "DIEGO_OCI_RUNTIME";

/// Each container records the runtime that made it here, so a cell whose runtime
/// changed still deletes (and execs into) its older containers with theirs.
pub(crate) const RUNTIME_FILE: &str = "runtime";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OciRuntime {
    /// Debian's runc; what every container made before ADR 0025 used.
    #[default]
    Runc,
    /// Debian's crun: no Go runtime start-up per invocation.
    Crun,
}

impl OciRuntime {
    pub fn as_str(self) -> &'static str {
        match self {
            OciRuntime::Runc => "runc",
            OciRuntime::Crun => "crun",
        }
    }

    /// The program run (looked up on PATH).
    pub fn binary(self) -> &'static str {
        self.as_str()
    }

    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "runc" => Ok(OciRuntime::Runc),
            "crun" => Ok(OciRuntime::Crun),
            other => Err(OciError::UnknownRuntime(other.to_string())),
        }
    }

    /// Whether its binary is on PATH.
    pub fn installed(self) -> bool {
        on_path(self.binary()).is_some()
    }

    /// Why it cannot run containers on this host (not installed, or crun on hybrid
    /// cgroups), if so.
    pub fn unusable_reason(self) -> Option<String> {
        if !self.installed() {
            return Some(format!("{} not found on PATH", self.binary()));
        }
        match self {
            OciRuntime::Crun => crun_cgroup_blocker(),
            OciRuntime::Runc => None,
        }
    }

    /// `$DIEGO_OCI_RUNTIME`: None when unset or empty (choose automatically).
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var(RUNTIME_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v).map(Some),
            _ => Ok(None),
        }
    }

    /// crun when it is installed and can manage this host's cgroups, else runc: crun
    /// starts a container in about half runc's time and keeps a far smaller process
    /// per Run action, but refuses hybrid cgroup hosts whose cgroup2 holds controllers.
    pub fn detect() -> Self {
        if OciRuntime::Crun.unusable_reason().is_none() {
            OciRuntime::Crun
        } else {
            OciRuntime::Runc
        }
    }

    /// Whether `stderr` of a `delete` says the container is not there (nothing to do).
    pub(crate) fn says_missing(self, stderr: &str) -> bool {
        match self {
            OciRuntime::Runc => stderr.contains("does not exist"),
            // crun: "cannot open directory `<root>/<id>`: No such file or directory"
            OciRuntime::Crun => {
                stderr.contains("No such file or directory") || stderr.contains("does not exist")
            }
        }
    }

    /// The runtime recorded in a container's bundle; bundles from before ADR 0025
    /// have none and were made by runc.
    pub(crate) fn of_bundle(bundle: &Path) -> Self {
        std::fs::read_to_string(bundle.join(RUNTIME_FILE))
            .ok()
            .and_then(|s| Self::parse(&s).ok())
            .unwrap_or(OciRuntime::Runc)
    }
}

/// The first executable `name` in $PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Why crun cannot create containers here, if it cannot. crun 1.8 does not support
/// hybrid cgroups (v1 hierarchies plus a cgroup2 mount) unless the cgroup2 hierarchy
/// holds no controller; a controller no v1 hierarchy has (often hugetlb) stays there.
pub fn crun_cgroup_blocker() -> Option<String> {
    blocker_in(Path::new("/sys/fs/cgroup"))
}

fn blocker_in(cgroup_root: &Path) -> Option<String> {
    if cgroup_root.join("cgroup.controllers").exists() {
        return None; // cgroup2 only (unified)
    }
    let controllers =
        std::fs::read_to_string(cgroup_root.join("unified/cgroup.controllers")).ok()?;
    let controllers = controllers.trim();
    (!controllers.is_empty()).then(|| {
        format!(
            "hybrid cgroups with controllers on cgroup2 ({controllers}): crun refuses them; \
             scripts/setup.sh mounts them as cgroup v1 hierarchies"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_runtimes_and_names_a_bad_one() {
        assert_eq!(OciRuntime::parse("runc").unwrap(), OciRuntime::Runc);
        assert_eq!(OciRuntime::parse(" crun\n").unwrap(), OciRuntime::Crun);
        let err = OciRuntime::parse("youki").unwrap_err().to_string();
        assert!(
            err.contains("youki") && err.contains("runc or crun"),
            "{err}"
        );
    }

    #[test]
    fn missing_container_words_of_each_runtime() {
        let runc = "time=\"...\" level=error msg=\"container does not exist\"";
        let crun = "cannot open directory `/var/lib/diego/x/crun/g1`: No such file or directory";
        assert!(OciRuntime::Runc.says_missing(runc));
        assert!(OciRuntime::Crun.says_missing(crun));
        assert!(!OciRuntime::Crun
            .says_missing("the container `g1` is not in `created` or `stopped` state"));
    }

    #[test]
    fn a_bundle_without_a_record_is_runc() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(OciRuntime::of_bundle(dir.path()), OciRuntime::Runc);
        std::fs::write(dir.path().join(RUNTIME_FILE), "crun").unwrap();
        assert_eq!(OciRuntime::of_bundle(dir.path()), OciRuntime::Crun);
    }

    #[test]
    fn hybrid_cgroups_with_a_cgroup2_controller_block_crun() {
        let root = tempfile::tempdir().unwrap();
        // cgroup v1 only: no unified mount at all.
        assert_eq!(blocker_in(root.path()), None);
        std::fs::create_dir(root.path().join("unified")).unwrap();
        std::fs::write(root.path().join("unified/cgroup.controllers"), "\n").unwrap();
        assert_eq!(blocker_in(root.path()), None);
        std::fs::write(root.path().join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
        let why = blocker_in(root.path()).unwrap();
        assert!(why.contains("hugetlb"), "{why}");
        // cgroup2 only: crun manages it.
        std::fs::write(root.path().join("cgroup.controllers"), "memory pids").unwrap();
        assert_eq!(blocker_in(root.path()), None);
    }
}
