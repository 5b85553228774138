//! Real containers on runc or crun + CNI; skipped with a printed reason without root or
//! the runtime. Tests that name no runtime use the cell's default (crun when it can run
//! here, ADR 0025; `DIEGO_OCI_RUNTIME=runc` runs them all on runc); the residue and OOM
//! tests run on both.

use std::sync::Arc;
use std::time::Duration;

use diego_backend_oci::{OciBackend, OciConfig, OciRuntime, PortmapBackend, HOSTPORT_TABLE};
use diego_executor::*;
use diego_model::*;

/// Which runtime and portmap backend a test's cell uses (None: the defaults).
#[derive(Debug, Clone, Copy, Default)]
struct Variant {
    portmap: Option<PortmapBackend>,
    runtime: Option<OciRuntime>,
}

fn backend_with(cell: &str, subnet_index: u8, variant: Variant) -> Option<Arc<OciBackend>> {
    if let Err(reason) = OciBackend::available() {
        eprintln!("skipping real runc test: {reason}");
        return None;
    }
    if let Some(reason) = variant.runtime.and_then(|rt| rt.unusable_reason()) {
        eprintln!("skipping real container test on {variant:?}: {reason}");
        return None;
    }
    let mut cfg = OciConfig::new(cell, subnet_index);
    cfg.net.portmap_backend = variant.portmap;
    cfg.runtime = variant.runtime.or(cfg.runtime);
    // Cells 201-207 keep their old 20-port slots; cells 101-104 (test cell numbers
    // 91-94) take the numbering's 250-port slot.
    cfg.net.host_port_range = if (101..=104).contains(&subnet_index) {
        let base = 61000 + (u32::from(subnet_index) - 10) % 18 * 250;
        (base, base + 249)
    } else {
        (
            61000 + subnet_index as u32 * 20,
            61019 + subnet_index as u32 * 20,
        )
    };
    Some(OciBackend::new(cfg))
}

/// A fresh executor; containers an interrupted earlier run left behind are destroyed first.
async fn setup(cell: &str, subnet_index: u8) -> Option<(Executor, Arc<OciBackend>)> {
    setup_with(cell, subnet_index, Variant::default()).await
}

async fn setup_with(
    cell: &str,
    subnet_index: u8,
    variant: Variant,
) -> Option<(Executor, Arc<OciBackend>)> {
    let b = backend_with(cell, subnet_index, variant)?;
    for guid in b.list().await.unwrap() {
        b.destroy(&guid).await.unwrap();
    }
    Some((executor(b.clone()), b))
}

fn executor(backend: Arc<OciBackend>) -> Executor {
    let cfg = ExecutorConfig {
        total: Resources {
            memory_mb: 4096,
            disk_mb: 8192,
            containers: 20,
        },
        graceful_shutdown_interval_ms: 1000,
        unhealthy_monitoring_interval_ms: 100,
        healthy_monitoring_interval_ms: 500,
        ..ExecutorConfig::default()
    };
    Executor::new(backend, cfg)
}

fn sh(script: &str) -> Action {
    Action::run("/bin/sh", &["-c", script])
}

fn alloc(exec: &Executor, guid: &str, memory_mb: u64) {
    let req = AllocationRequest {
        guid: guid.into(),
        memory_mb,
        disk_mb: 100,
        ..Default::default()
    };
    assert!(exec.allocate(vec![req]).is_empty());
}

async fn wait_state(
    exec: &Executor,
    guid: &str,
    state: ContainerState,
    within_ms: u64,
) -> Container {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(within_ms);
    loop {
        let c = exec.get(guid).expect("container exists");
        if c.state == state {
            return c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{guid} stuck in {:?} ({:?}), wanted {state:?}",
            c.state,
            c.run_result
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn failure(c: &Container) -> Option<String> {
    let r = c.run_result.as_ref().expect("completed");
    r.failed.then(|| r.failure_reason.clone())
}

/// A Run of a binary the container does not have fails at spawn, as Garden's
/// does: the instance never counts as running, and the reason names it.
#[tokio::test]
async fn a_missing_binary_fails_the_run_without_running() {
    let Some((exec, b)) = setup("it-missing", 207).await else {
        return;
    };
    let mut events = exec.subscribe();
    alloc(&exec, "missing-1", 64);
    let action = Action::run("/bin/no-such-app", &[]);
    exec.run("missing-1", RunRequest::new(Lifecycle::Lrp, action))
        .await
        .unwrap();
    let c = wait_state(&exec, "missing-1", ContainerState::Completed, 20_000).await;
    assert_eq!(
        failure(&c).as_deref(),
        Some(
            r#"failed to run /bin/no-such-app: backend: exec: "/bin/no-such-app": executable file not found in $PATH"#
        )
    );
    while let Ok(ev) = events.try_recv() {
        assert_ne!(ev.kind, ContainerEventKind::Running, "{ev:?}");
    }
    exec.delete("missing-1").await.unwrap();
    b.remove_cell_network().await.unwrap();
}

#[tokio::test]
async fn task_writes_a_result_file() {
    let Some((exec, b)) = setup("it-task", 201).await else {
        return;
    };
    alloc(&exec, "task-1", 64);
    let mut req = RunRequest::new(
        Lifecycle::Task,
        sh("echo hello from $(whoami) > /tmp/result; echo done"),
    );
    req.result_file = "/tmp/result".into();
    exec.run("task-1", req).await.unwrap();
    let c = wait_state(&exec, "task-1", ContainerState::Completed, 20_000).await;
    assert_eq!(failure(&c), None);
    assert_eq!(c.result.as_deref(), Some("hello from root\n"));
    assert!(exec.logs("task-1").iter().any(|l| l.line == "done"));
    exec.delete("task-1").await.unwrap();
    b.remove_cell_network().await.unwrap();
}

/// On each portmap backend: the default one (nftables after scripts/setup.sh) and
/// iptables, the fallback (ADR 0019).
#[tokio::test]
async fn httpd_lrp_becomes_running_and_answers_on_loopback() {
    httpd_answers(None).await;
    httpd_answers(Some(PortmapBackend::Iptables)).await;
}

async fn httpd_answers(portmap_backend: Option<PortmapBackend>) {
    let variant = Variant {
        portmap: portmap_backend,
        ..Default::default()
    };
    let Some((exec, b)) = setup_with("it-httpd", 202, variant).await else {
        return;
    };
    alloc(&exec, "web-1", 64);
    let mut run = RunAction {
        path: "/bin/sh".into(),
        args: vec!["-c".into(), "mkdir -p /tmp/www && echo hi-$INSTANCE_INDEX > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www".into()],
        user: "vcap".into(),
        ..Default::default()
    };
    run.env = vec![EnvVar {
        name: "INSTANCE_INDEX".into(),
        value: "3".into(),
    }];
    let mut req = RunRequest::new(Lifecycle::Lrp, Action::Run(run));
    req.ports = vec![8080];
    req.start_timeout_ms = 10_000;
    req.check_definition = Some(CheckDefinition {
        checks: vec![Check {
            http_check: Some(HttpCheck {
                port: 8080,
                path: "/".into(),
                ..Default::default()
            }),
            tcp_check: None,
        }],
        ..Default::default()
    });
    exec.run("web-1", req).await.unwrap();
    let c = wait_state(&exec, "web-1", ContainerState::Running, 20_000).await;
    let host_port = c.net.ports[0].host_port;
    let body = http_get(&format!("127.0.0.1:{host_port}")).await;
    assert!(body.contains("hi-3"), "{body}");
    // Hairpin: the container reaches itself through its host port on the bridge's
    // address, which needs portmap's masquerade of container -> own address.
    let url = format!("http://10.255.202.1:{host_port}/");
    let request = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 10.255.202.1 {host_port}");
    let hairpin = run_in(&b, "web-1", &["/bin/sh", "-c", &request]).await;
    assert!(
        hairpin.contains("hi-3"),
        "hairpin through {url} ({portmap_backend:?}): {hairpin}"
    );
    exec.delete("web-1").await.unwrap();
    b.remove_cell_network().await.unwrap();
}

/// Runs `args` in the container as root; its stdout and stderr lines, and the exit code.
async fn run_in(b: &OciBackend, guid: &str, args: &[&str]) -> String {
    let spec = ProcessSpec {
        path: args[0].into(),
        args: args[1..].iter().map(|a| a.to_string()).collect(),
        user: "root".into(),
        ..Default::default()
    };
    let mut spawned = b.spawn(guid, spec).await.unwrap();
    let mut out = String::new();
    while let Some(line) = spawned.output.recv().await {
        out.push_str(&line.line);
        out.push('\n');
    }
    let status = spawned.process.wait().await.unwrap();
    format!("{out}exit {}", status.code)
}

async fn http_get(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to host port");
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// On runc (cell 203) and on crun (cell 101, test cell number 91): the OOM kill is read
/// from the memory cgroup either runtime made.
#[tokio::test]
async fn memory_hog_is_out_of_memory() {
    out_of_memory("it-oom", 203, OciRuntime::Runc).await;
    out_of_memory("it-oom-crun", 101, OciRuntime::Crun).await;
}

async fn out_of_memory(cell: &str, subnet_index: u8, runtime: OciRuntime) {
    let variant = Variant {
        runtime: Some(runtime),
        ..Default::default()
    };
    let Some((exec, b)) = setup_with(cell, subnet_index, variant).await else {
        return;
    };
    alloc(&exec, "oom-1", 16);
    // 64 MiB of zeros held in a shell variable blows a 16 MiB limit.
    let req = RunRequest::new(
        Lifecycle::Task,
        sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#x}"),
    );
    exec.run("oom-1", req).await.unwrap();
    let c = wait_state(&exec, "oom-1", ContainerState::Completed, 30_000).await;
    let reason = failure(&c).expect("failed");
    assert!(reason.ends_with("(out of memory)"), "{runtime:?}: {reason}");
    exec.delete("oom-1").await.unwrap();
    b.remove_cell_network().await.unwrap();
}

#[tokio::test]
async fn never_healthy_instance() {
    let Some((exec, b)) = setup("it-never", 204).await else {
        return;
    };
    alloc(&exec, "nh-1", 32);
    let mut req = RunRequest::new(Lifecycle::Lrp, sh("sleep 1000"));
    req.ports = vec![8080];
    req.start_timeout_ms = 1000;
    req.check_definition = Some(CheckDefinition {
        checks: vec![Check {
            tcp_check: Some(TcpCheck {
                port: 8080,
                ..Default::default()
            }),
            http_check: None,
        }],
        ..Default::default()
    });
    exec.run("nh-1", req).await.unwrap();
    let c = wait_state(&exec, "nh-1", ContainerState::Completed, 20_000).await;
    let reason = failure(&c).unwrap();
    assert!(
        reason.starts_with(
            "Instance never healthy after 1s: Failed to make TCP connection to port 8080"
        ),
        "{reason}"
    );
    exec.delete("nh-1").await.unwrap();
    b.remove_cell_network().await.unwrap();
}

fn output_of(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .expect(cmd);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// On runc: with the portmap backend chosen by default (nftables after
/// scripts/setup.sh), then with the iptables one every portmap has (the fallback, ADR
/// 0019).
#[tokio::test]
async fn teardown_leaves_no_residue_and_sigterm_reaches_the_process() {
    let runc = Some(OciRuntime::Runc);
    leaves_no_residue("it-residue", 205, None, runc).await;
    leaves_no_residue("it-residue", 205, Some(PortmapBackend::Iptables), runc).await;
}

/// The same on crun (ADR 0025), cell 102 (test cell number 92), default portmap.
#[tokio::test]
async fn teardown_on_crun_leaves_no_residue_and_sigterm_reaches_the_process() {
    leaves_no_residue("it-residue-crun", 102, None, Some(OciRuntime::Crun)).await;
}

async fn leaves_no_residue(
    cell: &str,
    subnet_index: u8,
    portmap_backend: Option<PortmapBackend>,
    runtime: Option<OciRuntime>,
) {
    let variant = Variant {
        portmap: portmap_backend,
        runtime,
    };
    let Some((exec, b)) = setup_with(cell, subnet_index, variant).await else {
        return;
    };
    let bridge = format!("diego{subnet_index}");
    // Distinct per cell: the runc and crun tests run at once and look for their guid
    // in machine-wide listings (mounts, rules).
    let guid = &format!("{}-1", cell.trim_start_matches("it-"));
    alloc(&exec, guid, 32);
    let script = "trap 'echo got-term; exit 0' TERM; echo trap-set; while true; do sleep 0.1; done";
    let mut req = RunRequest::new(Lifecycle::Lrp, sh(script));
    req.ports = vec![8080];
    exec.run(guid, req).await.unwrap();
    wait_state(&exec, guid, ContainerState::Running, 20_000).await;
    let netns = b.netns_name(guid);
    assert!(output_of("ip", &["netns", "list"]).contains(&netns));
    let (_, portmap_backend) = b.portmap().unwrap();
    let hostport_rules = match portmap_backend {
        PortmapBackend::Iptables => output_of("iptables-save", &[]),
        PortmapBackend::Nftables => output_of("nft", &["list", "table", "ip", HOSTPORT_TABLE]),
    };
    assert!(
        hostport_rules.contains(guid),
        "portmap rules ({portmap_backend:?}) carry the container id: {hostport_rules}"
    );
    if portmap_backend == PortmapBackend::Nftables {
        // Host ports capture traffic to this host's addresses only, as with iptables.
        assert!(
            hostport_rules.contains("fib daddr type local jump hostports"),
            "{hostport_rules}"
        );
    }
    let masquerade = format!("diego-{cell} masquerade");
    assert!(
        output_of("iptables-save", &[]).contains(&masquerade),
        "the cell's outbound masquerade rule is in place while a container exists"
    );
    // Exit codes and kills come through whether or not a runtime process stays as the
    // parent (detached exec, ADR 0025).
    assert_eq!(
        run_in(&b, guid, &["/bin/sh", "-c", "echo out; exit 3"]).await,
        "out\nexit 3"
    );
    assert_eq!(
        run_in(&b, guid, &["/bin/sh", "-c", "kill -KILL $$"]).await,
        "exit 137"
    );
    // "Running" means spawned; the shell may not have set its trap yet.
    for _ in 0..200 {
        if exec.logs(guid).iter().any(|l| l.line == "trap-set") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    exec.stop(guid).await.unwrap();
    assert!(
        exec.logs(guid).iter().any(|l| l.line == "got-term"),
        "sigterm did not reach the process"
    );
    exec.delete(guid).await.unwrap();

    let rt = b.runtime();
    let root = b.runtime_root(rt).to_string_lossy().to_string();
    assert!(!output_of(rt.binary(), &["--root", &root, "list"]).contains(guid));
    let rel = b.cgroups_path(guid);
    // "unified": crun also makes the container's cgroup in a hybrid host's cgroup2.
    for controller in [
        "memory", "pids", "cpu", "devices", "freezer", "hugetlb", "unified", "",
    ] {
        let path = std::path::Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(rel.trim_start_matches('/'));
        assert!(!path.exists(), "cgroup left: {}", path.display());
    }
    assert!(!std::fs::read_to_string("/proc/self/mounts")
        .unwrap()
        .contains(guid));
    assert!(!output_of("ip", &["netns", "list"]).contains(&netns));
    assert_eq!(
        output_of("ip", &["link", "show", "master", &bridge]).trim(),
        "",
        "veth left on the bridge"
    );
    assert!(
        !output_of("iptables-save", &[]).contains(guid),
        "iptables rule left"
    );
    assert!(
        !output_of("iptables-save", &[]).contains(&masquerade),
        "the masquerade rule goes with the cell's last container"
    );
    let ruleset = output_of("nft", &["list", "ruleset"]);
    assert!(!ruleset.contains(guid), "nftables rule left: {ruleset}");
    assert_hostport_table_gone_or_in_use().await;
    assert_no_stray_zombies().await;
    assert!(b.list().await.unwrap().is_empty());
    b.remove_cell_network().await.unwrap();
    assert!(
        !output_of("ip", &["link", "show", &bridge]).contains(&bridge),
        "bridge left"
    );
}

/// As a subreaper (detached exec, ADR 0025) this process adopts container inits, Run
/// action processes and crun's intermediate process: each must have been reaped. Other
/// tests run at once, so one of theirs may be between exit and reaping: looked at again
/// for up to two seconds.
async fn assert_no_stray_zombies() {
    let me = std::process::id().to_string();
    let stat = |pid: &str| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
    let session_of = |text: &str| {
        text.rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .nth(3)
            .map(str::to_string)
    };
    let our_session = stat(&me).as_deref().and_then(session_of);
    let mut strays = Vec::new();
    for _ in 0..40 {
        strays.clear();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let pid = entry.file_name().to_string_lossy().to_string();
            let Some(text) = stat(&pid) else { continue };
            let comm = text
                .split('(')
                .nth(1)
                .and_then(|t| t.rsplit_once(')'))
                .map(|(c, _)| c.to_string())
                .unwrap_or_default();
            let fields: Vec<&str> = text
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let (state, ppid) = (fields.first().copied(), fields.get(1).copied());
            let container_process = comm == "sleep" || comm == "sh";
            let crun_stray = comm == "crun" && session_of(&text) != our_session;
            if ppid == Some(me.as_str()) && state == Some("Z") && (container_process || crun_stray)
            {
                strays.push(format!("{pid} {comm}"));
            }
        }
        if strays.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("zombie children left: {strays:?}");
}

/// The nftables portmap's table is gone with the cell's last container, unless another
/// cell's container has a rule in it (tests run concurrently). A table without any
/// container's rule may be another cell's that is about to remove it: looked at again
/// for up to two seconds.
async fn assert_hostport_table_gone_or_in_use() {
    let mut table = String::new();
    for _ in 0..40 {
        table = output_of("nft", &["list", "table", "ip", HOSTPORT_TABLE]);
        if table.is_empty() || table.contains("comment \"") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{HOSTPORT_TABLE} left without any container's rule: {table}");
}

/// A one-route HTTP server on loopback: GET /bits.tgz, POST anything (recorded).
async fn bits_server(bits: Vec<u8>) -> (String, Arc<std::sync::Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let posted: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
    let record = posted.clone();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let mut got = 0;
            loop {
                let n = s.read(&mut buf[got..]).await.unwrap_or(0);
                got += n;
                let text = String::from_utf8_lossy(&buf[..got]).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if got >= end + 4 + len || n == 0 {
                        if text.starts_with("POST") {
                            *record.lock().unwrap() = buf[end + 4..got].to_vec();
                            let _ = s
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                                .await;
                        } else {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                                bits.len()
                            );
                            let _ = s.write_all(head.as_bytes()).await;
                            let _ = s.write_all(&bits).await;
                        }
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
        }
    });
    (base, posted)
}

#[tokio::test]
async fn every_action_in_a_real_container() {
    let Some((exec, b)) = setup("it-actions", 206).await else {
        return;
    };
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(9);
    header.set_mode(0o755);
    header.set_cksum();
    tar.append_data(&mut header, "start.sh", &b"echo app\n"[..])
        .unwrap();
    let (base, posted) = bits_server(tar.into_inner().unwrap()).await;
    let actions = vec![
        Action::Download(DownloadAction {
            from: format!("{base}/bits.tgz"),
            to: "/home/vcap/app".into(),
            user: "vcap".into(),
            ..Default::default()
        }),
        Action::EmitProgress(EmitProgressAction {
            action: Box::new(sh("sh /home/vcap/app/start.sh > /home/vcap/out.txt")),
            start_message: "staging".into(),
            success_message: "staged".into(),
            failure_message_prefix: "failed".into(),
            log_source: String::new(),
        }),
        Action::Try(TryAction {
            action: Box::new(sh("exit 3")),
            log_source: String::new(),
        }),
        Action::Parallel(ParallelAction {
            actions: vec![sh("echo p1"), sh("echo p2")],
            ..Default::default()
        }),
        Action::Try(TryAction {
            action: Box::new(Action::Codependent(CodependentAction {
                actions: vec![sh("sleep 100"), sh("echo co")],
                ..Default::default()
            })),
            log_source: String::new(),
        }),
        Action::Try(TryAction {
            action: Box::new(Action::Timeout(TimeoutAction {
                action: Box::new(sh("sleep 100")),
                deprecated_timeout_ns: 0,
                log_source: String::new(),
                timeout_ms: 300,
            })),
            log_source: String::new(),
        }),
        Action::Upload(UploadAction {
            from: "out.txt".into(),
            to: format!("{base}/upload"),
            user: "vcap".into(),
            ..Default::default()
        }),
    ];
    alloc(&exec, "acts-1", 64);
    exec.run(
        "acts-1",
        RunRequest::new(
            Lifecycle::Task,
            Action::Serial(SerialAction {
                actions,
                ..Default::default()
            }),
        ),
    )
    .await
    .unwrap();
    let c = wait_state(&exec, "acts-1", ContainerState::Completed, 30_000).await;
    assert_eq!(failure(&c), None);
    assert_eq!(posted.lock().unwrap().as_slice(), b"app\n");
    let lines: Vec<String> = exec.logs("acts-1").into_iter().map(|l| l.line).collect();
    for want in ["staging", "staged", "p1", "p2", "co"] {
        assert!(
            lines.contains(&want.to_string()),
            "{want} missing from {lines:?}"
        );
    }
    exec.delete("acts-1").await.unwrap();
    b.remove_cell_network().await.unwrap();
}

/// A one-line HTTP server on every host address; a container reaches it at
/// its bridge's gateway.
async fn tiny_http_server() -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let _ = socket.write_all(b"reached\n").await;
            });
        }
    });
    port
}

/// Egress rules (security groups) hold in a real container: with a rule
/// for one host port, that port answers and another port on the same host
/// does not; a container without rules reaches both.
#[tokio::test]
async fn egress_rules_allow_only_what_they_name() {
    let Some((exec, b)) = setup("it-egress", 103).await else {
        return;
    };
    let (allowed, other) = (tiny_http_server().await, tiny_http_server().await);
    let gateway = "10.255.103.1";
    // busybox nc, not wget: the static wget crashes in the container's minimal rootfs
    let get = |port: u16| format!("[ \"$(echo hi | nc -w 3 {gateway} {port})\" = reached ]");
    let script = format!(
        "{} && echo allowed-reached; if {}; then echo other-reached; else echo other-blocked; fi",
        get(allowed),
        get(other)
    );

    alloc(&exec, "egress-1", 64);
    let mut req = RunRequest::new(Lifecycle::Task, sh(&script));
    req.egress_rules = vec![SecurityGroupRule {
        protocol: "tcp".into(),
        destinations: vec![gateway.into()],
        ports: vec![u32::from(allowed)],
        ..Default::default()
    }];
    exec.run("egress-1", req).await.unwrap();
    let c = wait_state(&exec, "egress-1", ContainerState::Completed, 30_000).await;
    let lines: Vec<String> = exec.logs("egress-1").into_iter().map(|l| l.line).collect();
    assert_eq!(failure(&c), None, "{lines:?}");
    assert!(lines.iter().any(|l| l == "allowed-reached"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "other-blocked"), "{lines:?}");
    exec.delete("egress-1").await.unwrap();

    alloc(&exec, "egress-2", 64);
    exec.run("egress-2", RunRequest::new(Lifecycle::Task, sh(&script)))
        .await
        .unwrap();
    let c = wait_state(&exec, "egress-2", ContainerState::Completed, 30_000).await;
    let lines: Vec<String> = exec.logs("egress-2").into_iter().map(|l| l.line).collect();
    assert_eq!(failure(&c), None, "{lines:?}");
    assert!(lines.iter().any(|l| l == "other-reached"), "{lines:?}");
    exec.delete("egress-2").await.unwrap();
    b.remove_cell_network().await.unwrap();
}
