//! The OCI runtime spec (config.json) for a container and for the processes run in it.

use std::path::Path;

use diego_executor::ContainerSpec;
use serde_json::{json, Value};

/// The init keeps the container alive; Run actions are runtime `exec`s beside it.
const INIT_ARGS: [&str; 2] = ["/bin/sleep", "2147483647"];
/// Where a bare command name is looked up when the process sets no `PATH`.
pub(crate) const DEFAULT_SEARCH_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
const DEFAULT_PATH: &str = "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

pub(crate) fn cgroups_path(cell_id: &str, guid: &str) -> String {
    format!("/diego/{cell_id}/{guid}")
}

fn capabilities(privileged: bool) -> Value {
    let mut caps = vec![
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_AUDIT_WRITE",
    ];
    if privileged {
        caps.extend(["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_MKNOD"]);
    }
    json!({ "bounding": caps, "effective": caps, "permitted": caps })
}

pub(crate) fn config(spec: &ContainerSpec, cell_id: &str, netns: &Path) -> Value {
    let mut env: Vec<String> = vec![DEFAULT_PATH.to_string()];
    env.extend(spec.env.iter().map(|v| format!("{}={}", v.name, v.value)));
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}),
    ];
    for m in &spec.bind_mounts {
        let mode = if m.read_only { "ro" } else { "rw" };
        mounts.push(json!({"destination": m.dst_path, "type": "bind", "source": m.src_path, "options": ["rbind", mode]}));
    }
    let mut resources = json!({ "devices": [{"allow": false, "access": "rwm"}] });
    if spec.memory_mb > 0 {
        let bytes = spec.memory_mb * 1024 * 1024;
        // swap == limit: the process cannot escape the limit into swap.
        resources["memory"] = json!({ "limit": bytes, "swap": bytes });
    }
    if spec.max_pids > 0 {
        resources["pids"] = json!({ "limit": spec.max_pids });
    }
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": INIT_ARGS,
            "env": env,
            "cwd": "/",
            "capabilities": capabilities(spec.privileged),
            "noNewPrivileges": !spec.privileged,
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": spec.guid.chars().take(32).collect::<String>(),
        "mounts": mounts,
        "linux": {
            "cgroupsPath": cgroups_path(cell_id, &spec.guid),
            "resources": resources,
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                {"type": "network", "path": netns.to_string_lossy()},
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        }
    })
}

pub(crate) struct ExecProcess<'a> {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: &'a str,
    pub uid: u32,
    pub gid: u32,
    pub nofile: Option<u64>,
    pub privileged: bool,
}

/// The `--process` file for `runc exec` / `crun exec` (the only way to give it rlimits).
pub(crate) fn exec_process(p: &ExecProcess) -> Value {
    let mut env = vec![DEFAULT_PATH.to_string()];
    env.extend(p.env.iter().cloned());
    let mut process = json!({
        "terminal": false,
        "user": {"uid": p.uid, "gid": p.gid},
        "args": p.args,
        "env": env,
        "cwd": p.cwd,
        "capabilities": capabilities(p.privileged),
        "noNewPrivileges": !p.privileged,
    });
    if p.uid != 0 {
        // Like a login as that user: capabilities stay only in the bounding set.
        process["capabilities"]["effective"] = json!([]);
        process["capabilities"]["permitted"] = json!([]);
    }
    if let Some(n) = p.nofile {
        process["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": n, "soft": n}]);
    }
    process
}
