//! create -> running for N busybox `sleep` containers through the executor on runc,
//! CONCURRENCY at a time; prints p50/p99 latencies, the per-phase breakdown of the
//! backend's create and destroy, and teardown time.
//!
//! Usage: cargo run --release -p diego-backend-oci --example oci_bench --
//!        [N] [CONCURRENCY] [--no-ports] [--hold-s SECONDS]
//!
//! `--hold-s` keeps all N running for SECONDS before the teardown and reports the
//! process's RSS and CPU while idle, the runc exec processes holding the Run actions,
//! the containers' memory (their cgroups) and the cell's disk use: the 250-containers
//! density figures of issue 4 (`-- 250 10 --hold-s 30`).
//!
//! Environment: OCI_BENCH_CNI_CONCURRENCY=N bounds concurrent CNI plugin runs;
//! OCI_BENCH_MASQ_PER_CONTAINER=1 uses the bridge plugin's per-container masquerade;
//! OCI_BENCH_PORTMAP=iptables|nftables forces the portmap backend (default: nftables
//! when scripts/setup.sh built a portmap that has it, ADR 0019); DIEGO_CNI_DIR replaces
//! the diego plugin directory searched before /usr/lib/cni; OCI_BENCH_PORTMAP_DEL=plugin
//! runs the nftables portmap's own DEL instead of the one-transaction delete;
//! OCI_BENCH_RUNTIME=runc|crun chooses the OCI runtime (default: crun when it can run
//! here, ADR 0025); OCI_BENCH_EXEC=attached keeps a runtime `exec` process as the
//! parent of each Run action's process (before ADR 0025) instead of `exec -d`.
//!
//! At the end it prints the load average before the run and the CPU used: user + sys
//! of this process and every child it waited for (CNI plugins, nft, the runtime's run,
//! exec and delete; what `/usr/bin/time` would report), and separately the CPU charged
//! to the containers' cgroups (the runtime's init inside the container and the Run
//! actions; the container inits are reaped by pid 1, not by us).
//!
//! Cell 90 of the test numbering: subnet 10.255.100.0/24, host ports 61000-61249.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diego_backend_oci::{OciBackend, OciConfig, OciRuntime, PhaseTimings, PortmapBackend};
use diego_executor::*;
use diego_model::Action;
use futures::stream::{self, StreamExt};
use tokio::sync::oneshot;

const CELL_NUMBER: u32 = 90;

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    let idx = ((sorted_ms.len() as f64 - 1.0) * p).round() as usize;
    sorted_ms[idx]
}

fn summary(label: &str, mut ms: Vec<f64>) {
    if ms.is_empty() {
        return;
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{label:<28} n={:<4} p50={:>8.1}ms p99={:>8.1}ms max={:>8.1}ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(0.0)
    );
}

/// p50/p99 of every phase, in the order the phases first appeared.
fn phase_table(title: &str, all: &[PhaseTimings]) {
    let (mut order, mut inner): (Vec<&'static str>, Vec<&'static str>) = (Vec::new(), Vec::new());
    let mut by_phase: HashMap<&'static str, Vec<f64>> = HashMap::new();
    for t in all {
        for (name, d) in &t.phases {
            if !order.contains(name) {
                order.push(name);
            }
            by_phase
                .entry(name)
                .or_default()
                .push(d.as_secs_f64() * 1000.0);
        }
        for (name, d) in &t.overlapped {
            if !inner.contains(name) {
                inner.push(name);
            }
            by_phase
                .entry(name)
                .or_default()
                .push(d.as_secs_f64() * 1000.0);
        }
    }
    println!("{title} phases:");
    for name in order {
        summary(
            &format!("  {name}"),
            by_phase.remove(name).unwrap_or_default(),
        );
    }
    for name in inner {
        summary(
            &format!("    inside: {name}"),
            by_phase.remove(name).unwrap_or_default(),
        );
    }
    summary(
        "  sum of phases",
        all.iter()
            .map(|t| t.total().as_secs_f64() * 1000.0)
            .collect(),
    );
}

/// Sends each container's Running instant to whoever registered its guid; a
/// container that completes instead is a benchmark failure.
type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Result<Instant, String>>>>>;

fn watch_running(exec: &Executor) -> Waiters {
    let waiters: Waiters = Arc::default();
    let mut events = exec.subscribe();
    let w = waiters.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            let outcome = match event.kind {
                ContainerEventKind::Running => Ok(Instant::now()),
                ContainerEventKind::Completed => {
                    Err(format!("completed: {:?}", event.container.run_result))
                }
                ContainerEventKind::Reserved => continue,
            };
            if let Some(tx) = w.lock().unwrap().remove(&event.guid) {
                let _ = tx.send(outcome);
            }
        }
    });
    waiters
}

fn proc_field_kb(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of this process in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // fields[0] is the state (field 3): utime and stime are fields 14 and 15.
    fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0u64)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0u64)
}

/// Proportional set size (shared pages split between their users) in KiB.
fn pss_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Pss:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// (count, summed RSS, summed PSS in KiB) of this process's direct children whose
/// command is (`runtime` true) or is not (false) runc or crun: the attached runtime
/// `exec`s, or the processes adopted as a subreaper (container inits, detached Run
/// action processes).
fn children(runtime: bool) -> (usize, u64, u64) {
    let me = std::process::id().to_string();
    let mut count = 0;
    let (mut rss_kb, mut pss_total_kb) = (0, 0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .map(str::trim);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let is_runtime = matches!(comm.trim(), "runc" | "crun");
        if ppid == Some(me.as_str()) && is_runtime == runtime {
            count += 1;
            rss_kb += proc_field_kb(&pid, "VmRSS:");
            pss_total_kb += pss_kb(&pid);
        }
    }
    (count, rss_kb, pss_total_kb)
}

fn container_memory_bytes(backend: &OciBackend, guids: &[String]) -> u64 {
    guids
        .iter()
        .filter_map(|g| {
            let rel = backend.cgroups_path(g);
            let v1 = format!("/sys/fs/cgroup/memory{rel}/memory.usage_in_bytes");
            let v2 = format!("/sys/fs/cgroup{rel}/memory.current");
            std::fs::read_to_string(v1)
                .or_else(|_| std::fs::read_to_string(v2))
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn du_kb(path: &std::path::Path) -> u64 {
    // -x: the overlay mounts below are the containers' merged views, not disk.
    let out = std::process::Command::new("du")
        .args(["-skx"])
        .arg(path)
        .output()
        .expect("du");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn hold(backend: &OciBackend, state_dir: &std::path::Path, guids: &[String], secs: u64) {
    let me = std::process::id().to_string();
    let rss_before = proc_field_kb(&me, "VmRSS:");
    // Let the spawn-time work settle before measuring idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let (t0, c0) = (Instant::now(), cpu_ticks());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let cpu_s = (cpu_ticks() - c0) as f64 / ticks_per_s;
    let wall_s = t0.elapsed().as_secs_f64();
    let (n_children, children_kb, children_pss_kb) = children(true);
    let (n_adopted, adopted_kb, adopted_pss_kb) = children(false);
    println!("idle with {} containers running:", guids.len());
    println!(
        "  executor process: RSS {:.1} MiB, PSS {:.1} MiB (RSS at all-running {:.1} MiB), CPU {:.2}% of one core over {:.0}s",
        proc_field_kb(&me, "VmRSS:") as f64 / 1024.0,
        pss_kb(&me) as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        100.0 * cpu_s / wall_s,
        wall_s
    );
    println!(
        "  runtime exec processes (one per Run action when attached): {n_children}, RSS {:.1} MiB total, PSS {:.1} MiB total",
        children_kb as f64 / 1024.0,
        children_pss_kb as f64 / 1024.0
    );
    println!(
        "  other direct children (adopted container inits and detached Run processes): {n_adopted}, RSS {:.1} MiB total, PSS {:.1} MiB total",
        adopted_kb as f64 / 1024.0,
        adopted_pss_kb as f64 / 1024.0
    );
    println!(
        "  containers' cgroup memory: {:.1} MiB total",
        container_memory_bytes(backend, guids) as f64 / (1024.0 * 1024.0)
    );
    println!(
        "  cell state dir on disk: {:.1} MiB",
        du_kb(state_dir) as f64 / 1024.0
    );
}

/// user + sys seconds of this process and of its waited-for children.
fn rusage_cpu_s() -> (f64, f64) {
    let get = |who| {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut ru) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    (get(libc::RUSAGE_SELF), get(libc::RUSAGE_CHILDREN))
}

/// CPU seconds charged so far to the cell's cgroup parent (cgroup v1 cpuacct keeps
/// what its removed children used; cgroup2: cpu.stat usage_usec).
fn cell_cgroup_cpu_s(cell_id: &str) -> Option<f64> {
    let v1 = format!("/sys/fs/cgroup/cpuacct/diego/{cell_id}/cpuacct.usage");
    if let Ok(ns) = std::fs::read_to_string(v1) {
        return ns.trim().parse::<f64>().ok().map(|n| n / 1e9);
    }
    let v2 = format!("/sys/fs/cgroup/diego/{cell_id}/cpu.stat");
    std::fs::read_to_string(v2)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|us| us / 1e6)
}

#[tokio::main]
async fn main() {
    if let Err(reason) = OciBackend::available() {
        eprintln!("oci_bench needs root and runc: {reason}");
        return;
    }
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let with_ports = !raw.iter().any(|a| a == "--no-ports");
    let hold_s: Option<u64> = raw
        .iter()
        .position(|a| a == "--hold-s")
        .and_then(|i| raw.get(i + 1)?.parse().ok());
    let numbers: Vec<usize> = raw
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || raw[i - 1] != "--hold-s")
        .filter_map(|(_, a)| a.parse().ok())
        .collect();
    let (count, concurrency) = (
        numbers.first().copied().unwrap_or(100),
        numbers.get(1).copied().unwrap_or(10),
    );
    let load_before = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string();
    let mut oci = OciConfig::new("bench-90", (10 + CELL_NUMBER) as u8);
    if let Ok(name) = std::env::var("OCI_BENCH_RUNTIME") {
        match OciRuntime::parse(&name) {
            Ok(rt) => oci.runtime = Some(rt),
            Err(e) => {
                eprintln!("OCI_BENCH_RUNTIME: {e}");
                std::process::exit(2);
            }
        }
    }
    let port_base = 61_000 + (CELL_NUMBER % 18) * 250;
    oci.net.host_port_range = (port_base, port_base + 249);
    oci.record_timings = true;
    // Variants for before/after figures in one build.
    if let Some(n) = std::env::var("OCI_BENCH_CNI_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        oci.cni_concurrency = n;
    }
    if std::env::var_os("OCI_BENCH_MASQ_PER_CONTAINER").is_some() {
        oci.net.cell_masquerade = false;
    }
    match std::env::var("OCI_BENCH_PORTMAP").as_deref() {
        Ok("iptables") => oci.net.portmap_backend = Some(PortmapBackend::Iptables),
        Ok("nftables") => oci.net.portmap_backend = Some(PortmapBackend::Nftables),
        Ok(other) => {
            eprintln!("OCI_BENCH_PORTMAP must be iptables or nftables, not {other:?}");
            std::process::exit(2);
        }
        Err(_) => {}
    }
    let variant = format!(
        "cni concurrency {}, {} masquerade",
        match oci.cni_concurrency {
            0 => "unlimited".to_string(),
            n => n.to_string(),
        },
        if oci.net.cell_masquerade {
            "cell-wide"
        } else {
            "per-container"
        }
    );
    if std::env::var("OCI_BENCH_PORTMAP_DEL").as_deref() == Ok("plugin") {
        oci.net.portmap_direct_del = false;
    }
    match std::env::var("OCI_BENCH_EXEC").as_deref() {
        Ok("attached") => oci.exec_detached = false,
        Ok("detached") | Err(_) => {}
        Ok(other) => {
            eprintln!("OCI_BENCH_EXEC must be attached or detached, not {other:?}");
            std::process::exit(2);
        }
    }
    let exec_detached = oci.exec_detached;
    let state_dir = oci.state_dir.clone();
    let search_path = oci.net.cni_search_path.clone();
    let oci_direct_del = oci.net.portmap_direct_del;
    let backend = OciBackend::new(oci);
    let portmap = match backend.portmap() {
        Ok((plugin, b)) => format!(
            "portmap {} ({}{})",
            plugin.display(),
            b.as_str(),
            match (b, oci_direct_del) {
                (PortmapBackend::Nftables, true) => ", one-transaction del",
                (PortmapBackend::Nftables, false) => ", plugin del",
                _ => "",
            }
        ),
        Err(e) => {
            eprintln!("oci_bench: {e}");
            std::process::exit(2);
        }
    };
    let bridge = search_path
        .iter()
        .map(|d| d.join("bridge"))
        .find(|p| p.is_file())
        .map_or("none".to_string(), |p| p.display().to_string());
    if let Some(reason) = backend.runtime().unusable_reason() {
        eprintln!("oci_bench: {}: {reason}", backend.runtime().as_str());
        std::process::exit(2);
    }
    let variant = format!(
        "runtime {} (exec {}), {variant}, {portmap}, bridge {bridge}",
        backend.runtime().as_str(),
        if exec_detached { "-d" } else { "attached" }
    );
    for guid in backend.list().await.unwrap() {
        backend.destroy(&guid).await.unwrap();
    }
    let cfg = ExecutorConfig {
        total: Resources {
            memory_mb: 64 * 1024,
            disk_mb: 64 * 1024,
            containers: 1000,
        },
        graceful_shutdown_interval_ms: 1000,
        ..ExecutorConfig::default()
    };
    let exec = Executor::new(backend.clone() as Arc<dyn Backend>, cfg);
    let waiters = watch_running(&exec);
    let guids: Vec<String> = (0..count).map(|i| format!("bench-{i:04}")).collect();
    let reqs = guids
        .iter()
        .map(|g| AllocationRequest {
            guid: g.clone(),
            memory_mb: 32,
            disk_mb: 64,
            ..Default::default()
        })
        .collect();
    assert!(exec.allocate(reqs).is_empty());

    let cgroup_cpu_before = cell_cgroup_cpu_s("bench-90");
    let started = Instant::now();
    let create_ms: Vec<f64> = stream::iter(guids.clone())
        .map(|guid| {
            let (exec, waiters) = (exec.clone(), waiters.clone());
            async move {
                let (tx, rx) = oneshot::channel();
                waiters.lock().unwrap().insert(guid.clone(), tx);
                let t = Instant::now();
                let mut req = RunRequest::new(Lifecycle::Lrp, Action::run("/bin/sleep", &["3600"]));
                if with_ports {
                    req.ports = vec![8080];
                }
                exec.run(&guid, req).await.unwrap();
                let running_at = rx
                    .await
                    .expect("event watcher alive")
                    .unwrap_or_else(|e| panic!("{guid} {e}"));
                (running_at - t).as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let create_total = started.elapsed();

    if let Some(secs) = hold_s {
        hold(&backend, &state_dir, &guids, secs).await;
    }

    let started = Instant::now();
    let delete_ms: Vec<f64> = stream::iter(guids.clone())
        .map(|guid| {
            let exec = exec.clone();
            async move {
                let t = Instant::now();
                exec.delete(&guid).await.unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let delete_total = started.elapsed();
    let (self_cpu_s, children_cpu_s) = rusage_cpu_s();
    let cgroup_cpu_s = match (cgroup_cpu_before, cell_cgroup_cpu_s("bench-90")) {
        (Some(before), Some(after)) => format!("{:.1}s", after - before),
        (None, Some(after)) => format!("{after:.1}s"),
        _ => "n/a".to_string(),
    };

    let (mut creates, mut destroys) = (Vec::new(), Vec::new());
    for guid in &guids {
        let (c, d) = backend.take_timings(guid);
        creates.extend(c);
        destroys.extend(d);
    }
    backend
        .remove_cell_network()
        .await
        .expect("remove the cell's bridge and masquerade rule");
    println!(
        "oci_bench: {count} busybox sleep containers ({}), concurrency {concurrency}, {variant}",
        if with_ports {
            "one mapped port each"
        } else {
            "no ports"
        }
    );
    summary("create->running", create_ms);
    println!(
        "create->running total: {:.2}s ({:.1} containers/s)",
        create_total.as_secs_f64(),
        count as f64 / create_total.as_secs_f64()
    );
    summary("teardown (stop+destroy)", delete_ms);
    println!("teardown total: {:.2}s", delete_total.as_secs_f64());
    println!(
        "cpu: {:.1}s user+sys (bench {self_cpu_s:.1}s + waited-for children {children_cpu_s:.1}s), in the containers' cgroups {cgroup_cpu_s}; load average before {load_before}",
        self_cpu_s + children_cpu_s
    );
    phase_table("backend create", &creates);
    phase_table("backend destroy", &destroys);
}
