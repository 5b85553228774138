//! The real builder and launcher guests: each app kind stages and launches; bad apps fail with
//! the builder's own message.

mod common;

use std::path::Path;
use std::sync::Arc;

use diego_wasm_host::{
    AppKind, Builder, HostConfig, LaunchSpec, Launcher, StagingResult, WasmError, WasmHost,
};

fn host() -> Arc<WasmHost> {
    common::host(HostConfig::default())
}

fn builder(host: &Arc<WasmHost>) -> Builder {
    Builder::load(host, &common::guest("diego_builder")).expect("load builder")
}

fn launcher(host: &Arc<WasmHost>) -> Launcher {
    Launcher::load(host, &common::guest("diego_launcher")).expect("load launcher")
}

fn write(dir: &Path, name: &str, body: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// Stages `files` with the real builder; returns the outcome and the droplet dir.
fn stage(
    files: &[(&str, &[u8])],
    buildpacks: &[&str],
) -> (Result<StagingResult, String>, tempfile::TempDir) {
    let (app, droplet) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (name, body) in files {
        write(app.path(), name, body);
    }
    let host = host();
    let buildpacks: Vec<String> = buildpacks.iter().map(|s| s.to_string()).collect();
    let outcome = builder(&host)
        .stage(app.path(), droplet.path(), &buildpacks, &[])
        .expect("the builder call itself succeeds");
    (outcome, droplet)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_static_site_is_served_by_busybox_httpd() {
    let (outcome, droplet) = stage(
        &[("index.html", b"<h1>hi</h1>"), ("css/site.css", b"h1{}")],
        &[],
    );
    let staged = outcome.expect("static site stages");
    assert_eq!(staged.kind, AppKind::StaticSite);
    assert_eq!(staged.detected_buildpack, "static");
    assert_eq!(staged.start_command, "httpd -f -p $PORT -h .");
    // The droplet holds a copy of the app, nested directories included.
    let copied = std::fs::read(droplet.path().join("app/css/site.css")).unwrap();
    assert_eq!(copied, b"h1{}");
    assert!(droplet.path().join("app/index.html").is_file());

    let spec = launcher(&host())
        .launch(&staged, "web", &env(&[("PORT", "8080")]))
        .unwrap()
        .expect("launches");
    assert_eq!(
        spec,
        LaunchSpec {
            path: "/bin/sh".into(),
            args: vec!["-c".into(), "httpd -f -p $PORT -h .".into()],
            env: env(&[
                ("HOME", "/home/vcap"),
                ("APP_ROOT", "/home/vcap/app"),
                ("PORT", "8080")
            ]),
            dir: "/home/vcap/app".into(),
        }
    );
}

#[test]
fn a_procfile_app_runs_its_web_process() {
    let procfile = b"# processes\nweb: sh ./serve.sh\nworker: sleep 1000\n";
    let (outcome, _droplet) = stage(
        &[
            ("Procfile", procfile),
            ("serve.sh", b"exec httpd -f -p $PORT"),
            ("index.html", b"the procfile wins over index.html"),
        ],
        &[],
    );
    let staged = outcome.expect("procfile app stages");
    assert_eq!(staged.kind, AppKind::Procfile);
    assert_eq!(staged.start_command, "sh ./serve.sh");
    assert_eq!(
        staged.process_types,
        env(&[("web", "sh ./serve.sh"), ("worker", "sleep 1000")])
    );
    let launcher = launcher(&host());
    let worker = launcher
        .launch(&staged, "worker", &[])
        .unwrap()
        .expect("a worker needs no port");
    assert_eq!(worker.args, vec!["-c".to_string(), "sleep 1000".into()]);
    let missing = launcher.launch(&staged, "clock", &[]).unwrap();
    assert_eq!(
        missing,
        Err("no process type \"clock\" in the staging result (has: web, worker)".into())
    );
    let no_port = launcher.launch(&staged, "web", &[]).unwrap();
    assert_eq!(
        no_port,
        Err("env: PORT is required for the web process".into())
    );
}

#[test]
fn wasm_components_are_told_apart_by_their_exports() {
    // The builder's own command binary is a real wasi:cli command component.
    let command = common::guest("diego-builder-task");
    let (outcome, droplet) = stage(&[("tool.wasm", &command)], &[]);
    let staged = outcome.expect("a command component stages");
    assert_eq!(staged.kind, AppKind::WasmCommand);
    assert_eq!(staged.start_command, "app/tool.wasm");
    assert!(droplet.path().join("app/tool.wasm").is_file());
    let spec = launcher(&host())
        .launch(&staged, "web", &env(&[("PORT", "8080")]))
        .unwrap()
        .expect("launches");
    assert_eq!(spec.path, "/app/tool.wasm");
    assert!(spec.args.is_empty());

    // The example wasm app is a wasi:http proxy.
    let proxy = common::guest("diego_example_http");
    let (outcome, _) = stage(&[("hello.wasm", &proxy), ("README.md", b"docs")], &[]);
    let staged = outcome.expect("an http component stages");
    assert_eq!(staged.kind, AppKind::WasmHttp);
    assert_eq!(staged.detected_buildpack, "wasm");

    // A library component (the launcher) exports neither entry point.
    let library = common::guest("diego_launcher");
    let (outcome, _) = stage(&[("lib.wasm", &library)], &[]);
    assert_eq!(
        outcome,
        Err(
            "lib.wasm: component exports neither wasi:cli/run nor wasi:http/incoming-handler"
                .into()
        )
    );

    // A core module is not a component.
    let core = b"\0asm\x01\0\0\0";
    let (outcome, _) = stage(&[("core.wasm", core)], &[]);
    assert_eq!(
        outcome,
        Err("core.wasm: a core wasm module, not a component (build for wasm32-wasip2)".into())
    );
}

/// App files, buildpacks asked for, the builder's message.
type FailingCase<'a> = (&'a [(&'a str, &'a [u8])], &'a [&'a str], &'a str);

#[test]
fn a_failing_build_reports_the_builders_message() {
    let cases: [FailingCase; 6] = [
        (
            &[("README.md", b"nothing to run")],
            &[],
            "no index.html, Procfile or .wasm found in the app",
        ),
        (
            &[("Procfile", b"worker: sleep 1\n")],
            &[],
            "procfile has no web process",
        ),
        (
            &[("Procfile", b"web sh run.sh\n")],
            &[],
            "procfile line 1: expected \"name: command\"",
        ),
        (
            &[("a.wasm", b"x"), ("b.wasm", b"y")],
            &[],
            "more than one .wasm component in the app: a.wasm, b.wasm",
        ),
        (
            &[("index.html", b"hi")],
            &["ruby"],
            "unknown buildpack \"ruby\" (known: wasm, procfile, static)",
        ),
        (
            &[("index.html", b"hi")],
            &["procfile"],
            "no buildpack of procfile detects the app",
        ),
    ];
    for (files, buildpacks, message) in cases {
        let (outcome, _) = stage(files, buildpacks);
        assert_eq!(outcome, Err(message.to_string()), "files {files:?}");
    }
}

#[test]
fn the_launcher_refuses_a_staging_result_pointing_outside_the_droplet() {
    let staged = StagingResult {
        kind: AppKind::WasmHttp,
        detected_buildpack: "wasm".into(),
        start_command: "../../etc/passwd.wasm".into(),
        process_types: vec![("web".into(), "../../etc/passwd.wasm".into())],
        lifecycle_metadata: vec![],
    };
    let outcome = launcher(&host())
        .launch(&staged, "web", &env(&[("PORT", "8080")]))
        .unwrap();
    assert_eq!(
        outcome,
        Err(
            "staging result: component \"../../etc/passwd.wasm\" is not a relative path inside the droplet"
                .into()
        )
    );
}

#[test]
fn a_builder_out_of_fuel_is_stopped() {
    let (app, droplet) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write(app.path(), "index.html", &vec![b'x'; 1 << 20]);
    let host = host();
    let starved = builder(&host).with_limits(diego_wasm_host::StageLimits {
        fuel: 10_000,
        extra_deadline_ms: 0,
    });
    let outcome = starved.stage(app.path(), droplet.path(), &[], &[]);
    assert_eq!(outcome, Err(WasmError::OutOfFuel));
}

#[test]
fn other_components_are_not_builders_or_launchers() {
    let host = host();
    let healthcheck = common::guest("diego_healthcheck");
    let err = Builder::load(&host, &healthcheck).err().expect("refused");
    assert!(
        matches!(&err, WasmError::Invalid(m) if m.starts_with("not a builder component")),
        "{err}"
    );
    let err = Launcher::load(&host, &healthcheck).err().expect("refused");
    assert!(
        matches!(&err, WasmError::Invalid(m) if m.starts_with("not a launcher component")),
        "{err}"
    );
}
